/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Addresses: where listeners bind (parsed from options, opened, described in logs) and IP addresses of peers. */

#include "http-listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

gboolean
listen_address_parse (const char *text, ListenAddress *address, GError **error)
{
  const char *colon;
  g_autofree char *host = NULL;
  char *end = NULL;
  guint64 port;

  memset (address, 0, sizeof *address);
  if (g_str_equal (text, "none"))
    {
      address->kind = LISTEN_NONE;
      return TRUE;
    }
  if (g_str_has_prefix (text, "unix:"))
    {
      const char *path = text + strlen ("unix:");
      if (!g_path_is_absolute (path))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "\"%s\": a unix socket needs an absolute path (unix:/run/hkp-plugind/http.sock)", text);
          return FALSE;
        }
      address->kind = LISTEN_UNIX;
      address->path = g_strdup (path);
      return TRUE;
    }
  colon = strrchr (text, ':');
  if (colon == NULL || colon == text)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "\"%s\" is not HOST:PORT, unix:PATH or none", text);
      return FALSE;
    }
  host = g_strndup (text, (gsize) (colon - text));
  if (host[0] == '[')
    {
      gsize len = strlen (host);
      if (len < 3 || host[len - 1] != ']')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "\"%s\": an IPv6 host goes in brackets, as in [::1]:11380", text);
          return FALSE;
        }
      memmove (host, host + 1, len - 2);
      host[len - 2] = '\0';
    }
  else if (strchr (host, ':') != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "\"%s\": an IPv6 host goes in brackets, as in [::1]:11380", text);
      return FALSE;
    }
  errno = 0;
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535 || !g_ascii_isdigit (colon[1]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "\"%s\": the port must be a number from 0 to 65535",
                   text);
      return FALSE;
    }
  address->kind = LISTEN_TCP;
  address->host = g_steal_pointer (&host);
  address->port = (guint16) port;
  return TRUE;
}

char *
listen_address_to_string (const ListenAddress *address)
{
  switch (address->kind)
    {
    case LISTEN_UNIX:
      return g_strdup_printf ("unix:%s", address->path);
    case LISTEN_TCP:
      if (strchr (address->host, ':') != NULL)
        return g_strdup_printf ("[%s]:%u", address->host, address->port);
      return g_strdup_printf ("%s:%u", address->host, address->port);
    case LISTEN_NONE:
    default:
      return g_strdup ("none");
    }
}

void
listen_address_clear (ListenAddress *address)
{
  g_free (address->host);
  g_free (address->path);
  memset (address, 0, sizeof *address);
}

/* TRUE if a process accepts connections on the unix socket at path (a stale file refuses them). */
static gboolean
unix_socket_is_live (const struct sockaddr_un *sa)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  gboolean live;

  if (fd < 0)
    return FALSE;
  /* EAGAIN: its backlog is full, so someone listens. */
  live = connect (fd, (const struct sockaddr *) sa, sizeof *sa) == 0 || errno == EAGAIN || errno == EINPROGRESS;
  close (fd);
  return live;
}

static int
open_unix (const char *path, const HttpListenOptions *options, GError **error)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct stat st;
  int fd, saved;

  if (strlen (path) >= sizeof sa.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unix:%s: the path is too long", path);
      return -1;
    }
  strcpy (sa.sun_path, path);
  /* A socket file left by an earlier run is ours to replace; a live one, or anything else, is not. */
  if (lstat (path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "unix:%s: exists and is not a socket", path);
          return -1;
        }
      if (unix_socket_is_live (&sa))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                       "cannot listen on unix:%s: another process listens there (another hkp-plugind?)", path);
          return -1;
        }
      unlink (path);
    }
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  /*
   * The file bind() makes takes the socket's own mode (less the umask): made
   * 0600 first, it is never more open than that until its group and mode are
   * set.
   */
  if (fd < 0 || fchmod (fd, 0600) < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    goto failed;
  if (options->unix_group != (gid_t) -1 && chown (path, (uid_t) -1, options->unix_group) < 0)
    {
      saved = errno;
      unlink (path);
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot give unix:%s to group %u: %s (the daemon must belong to that group, or hold CAP_CHOWN)",
                   path, (unsigned) options->unix_group, g_strerror (saved));
      return -1;
    }
  if (chmod (path, options->unix_mode) < 0 || listen (fd, options->backlog) < 0)
    {
      saved = errno;
      unlink (path);
      errno = saved;
      goto failed;
    }
  return fd;

failed:
  saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot listen on unix:%s: %s", path,
               g_strerror (saved));
  if (fd >= 0)
    close (fd);
  return -1;
}

/*
 * Neither SO_REUSEPORT nor anything like it: a second process asking for
 * the same address gets EADDRINUSE, so two daemons never split one port's
 * requests between them.
 */
static int
open_tcp (const char *host, guint16 port, int backlog, GError **error)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *found = NULL;
  char service[8];
  int rc, fd = -1, saved = 0, one = 1;

  g_snprintf (service, sizeof service, "%u", port);
  rc = getaddrinfo (host, service, &hints, &found);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "cannot listen on %s:%u: %s", host, port,
                   gai_strerror (rc));
      return -1;
    }
  for (struct addrinfo *ai = found; ai != NULL; ai = ai->ai_next)
    {
      fd = socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0)
        {
          saved = errno;
          continue;
        }
      /* SO_REUSEADDR only lets us bind while old connections linger in TIME_WAIT. */
      if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
          (ai->ai_family != AF_INET6 || setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0) &&
          bind (fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen (fd, backlog) == 0)
        break;
      saved = errno;
      close (fd);
      fd = -1;
    }
  freeaddrinfo (found);
  if (fd < 0)
    {
      g_autofree char *where = strchr (host, ':') != NULL ? g_strdup_printf ("[%s]:%u", host, port)
                                                          : g_strdup_printf ("%s:%u", host, port);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot listen on %s: %s%s", where,
                   g_strerror (saved),
                   saved == EADDRINUSE ? " (another process listens there: another hkp-plugind?)" : "");
    }
  return fd;
}

gboolean
http_listen_parse_group (const char *group, gid_t *gid, GError **error)
{
  struct group *found = getgrnam (group);
  guint64 number;

  if (found == NULL && g_ascii_string_to_unsigned (group, 10, 0, G_MAXUINT32 - 1, &number, NULL))
    found = getgrgid ((gid_t) number);
  if (found == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no group \"%s\" in the group database", group);
      return FALSE;
    }
  *gid = found->gr_gid;
  return TRUE;
}

int
http_listen_open (const ListenAddress *address, const HttpListenOptions *options, GError **error)
{
  switch (address->kind)
    {
    case LISTEN_TCP:
      return open_tcp (address->host, address->port, options->backlog, error);
    case LISTEN_UNIX:
      return open_unix (address->path, options, error);
    case LISTEN_NONE:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no address to listen on");
      return -1;
    }
}

gboolean
http_ip_parse (const char *text, HttpIp *ip)
{
  char buffer[INET6_ADDRSTRLEN + 8];
  gsize start = 0, end = strlen (text);

  while (start < end && g_ascii_isspace (text[start]))
    start++;
  while (end > start && g_ascii_isspace (text[end - 1]))
    end--;
  if (end - start >= sizeof buffer)
    return FALSE;
  memcpy (buffer, text + start, end - start);
  buffer[end - start] = '\0';
  memset (ip, 0, sizeof *ip);
  if (inet_pton (AF_INET, buffer, ip->bytes) == 1)
    ip->family = AF_INET;
  else if (inet_pton (AF_INET6, buffer, ip->bytes) == 1)
    ip->family = AF_INET6;
  else
    return FALSE;
  return TRUE;
}

gboolean
http_ip_from_sockaddr (const struct sockaddr *sa, HttpIp *ip)
{
  memset (ip, 0, sizeof *ip);
  if (sa == NULL)
    return FALSE;
  if (sa->sa_family == AF_INET)
    {
      ip->family = AF_INET;
      memcpy (ip->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
      return TRUE;
    }
  if (sa->sa_family == AF_INET6)
    {
      ip->family = AF_INET6;
      memcpy (ip->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
      http_ip_unmap (ip);
      return TRUE;
    }
  return FALSE;
}

void
http_ip_unmap (HttpIp *ip)
{
  static const guint8 mapped[12] = { [10] = 0xff, [11] = 0xff };

  if (ip->family != AF_INET6 || memcmp (ip->bytes, mapped, sizeof mapped) != 0)
    return;
  ip->family = AF_INET;
  memmove (ip->bytes, ip->bytes + 12, 4);
  memset (ip->bytes + 4, 0, sizeof ip->bytes - 4);
}

char *
http_ip_to_string (const HttpIp *ip)
{
  char text[INET6_ADDRSTRLEN];

  return g_strdup (inet_ntop (ip->family, ip->bytes, text, sizeof text));
}

char *
http_listen_describe (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  g_autofree char *host = NULL;
  HttpIp ip;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return g_strdup ("unknown");
  if (ss.ss_family == AF_UNIX)
    return g_strdup_printf ("unix:%s", ((struct sockaddr_un *) &ss)->sun_path);
  if (!http_ip_from_sockaddr ((struct sockaddr *) &ss, &ip))
    return g_strdup ("unknown");
  host = http_ip_to_string (&ip);
  if (ip.family == AF_INET6)
    return g_strdup_printf ("[%s]:%u", host, http_listen_get_port (fd));
  return g_strdup_printf ("%s:%u", host, http_listen_get_port (fd));
}

guint16
http_listen_get_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs (((struct sockaddr_in *) &ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
  return 0;
}
