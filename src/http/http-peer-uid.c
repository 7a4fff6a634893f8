/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* struct ucred */
#define G_LOG_DOMAIN "hkp-http"

/* Which local user is at the other end of a connection: so one user's wrong tokens do not throttle another's. */

#include "http-peer-uid.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http-listen.h"

/* An address and port as the kernel's diag id holds them; an IPv4-mapped IPv6 one as IPv4 (the peer's socket is). */
static gboolean
put_address (const struct sockaddr_storage *ss, guint8 *family, guint16 *port, __be32 out[4])
{
  HttpIp ip;

  if (!http_ip_from_sockaddr ((const struct sockaddr *) ss, &ip))
    return FALSE;
  *family = (guint8) ip.family;
  *port = ss->ss_family == AF_INET ? ((const struct sockaddr_in *) ss)->sin_port
                                   : ((const struct sockaddr_in6 *) ss)->sin6_port;
  memcpy (out, ip.bytes, ip.family == AF_INET ? 4 : 16);
  return TRUE;
}

/*
 * uid if it has a passwd entry, else -1: users without one (a range of
 * subordinate uids, say) are not told apart, so that one user owning many
 * uids does not count as many.
 */
static gint64
named (uid_t uid)
{
  long size = sysconf (_SC_GETPW_R_SIZE_MAX);
  gsize length = size > 0 ? (gsize) size : 16384;
  g_autofree char *buffer = g_malloc (length);
  struct passwd entry, *found = NULL;

  if (getpwuid_r (uid, &entry, buffer, length, &found) != 0 || found == NULL)
    return -1;
  return uid;
}

gint64
http_peer_uid_of_diag (const struct inet_diag_req_v2 *asked, const struct inet_diag_msg *found)
{
  if (found->idiag_family != asked->sdiag_family || found->id.idiag_sport != asked->id.idiag_sport ||
      found->id.idiag_dport != asked->id.idiag_dport ||
      memcmp (found->id.idiag_src, asked->id.idiag_src, sizeof asked->id.idiag_src) != 0 ||
      memcmp (found->id.idiag_dst, asked->id.idiag_dst, sizeof asked->id.idiag_dst) != 0)
    return -1;
  /* A request socket (SYN received) has no inode either. */
  if (found->idiag_state == TCP_LISTEN || found->idiag_state == TCP_TIME_WAIT || found->idiag_inode == 0)
    return -1;
  return named (found->idiag_uid);
}

/* The uid of the local TCP socket connected from remote to local, or -1. */
static gint64
tcp_peer_uid (const struct sockaddr_storage *local, const struct sockaddr_storage *remote)
{
  struct {
    struct nlmsghdr header;
    struct inet_diag_req_v2 request;
  } ask = { 0 };
  union {
    struct nlmsghdr header;
    char bytes[1024];
  } answer;
  guint8 local_family = 0;
  int fd;
  ssize_t n;
  gint64 uid = -1;

  /* The peer's socket is seen from its side: its source is our remote, its destination our local end. */
  if (!put_address (remote, &ask.request.sdiag_family, &ask.request.id.idiag_sport, ask.request.id.idiag_src) ||
      !put_address (local, &local_family, &ask.request.id.idiag_dport, ask.request.id.idiag_dst) ||
      local_family != ask.request.sdiag_family)
    return -1;
  ask.header.nlmsg_len = sizeof ask;
  ask.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.header.nlmsg_flags = NLM_F_REQUEST;
  ask.request.sdiag_protocol = IPPROTO_TCP;
  ask.request.idiag_states = ~0u;
  ask.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  ask.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return -1;
  if (send (fd, &ask, sizeof ask, 0) == (ssize_t) sizeof ask)
    {
      do
        n = recv (fd, &answer, sizeof answer, 0);
      while (n < 0 && errno == EINTR);
      /* One message: the socket (its inet_diag_msg), or an error (none such: the peer is elsewhere). */
      if (n >= (ssize_t) NLMSG_LENGTH (sizeof (struct inet_diag_msg)) && NLMSG_OK (&answer.header, (guint) n) &&
          answer.header.nlmsg_type == SOCK_DIAG_BY_FAMILY)
        uid = http_peer_uid_of_diag (&ask.request, NLMSG_DATA (&answer.header));
    }
  close (fd);
  return uid;
}

gint64
http_peer_uid (int fd)
{
  struct sockaddr_storage local, remote;
  socklen_t local_length = sizeof local, remote_length = sizeof remote;

  if (fd < 0 || getsockname (fd, (struct sockaddr *) &local, &local_length) < 0)
    return -1;
  if (local.ss_family == AF_UNIX)
    {
      struct ucred credentials;
      socklen_t length = sizeof credentials;

      if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0 || length != sizeof credentials)
        return -1;
      return named (credentials.uid);
    }
  if (getpeername (fd, (struct sockaddr *) &remote, &remote_length) < 0)
    return -1;
  return tcp_peer_uid (&local, &remote);
}
