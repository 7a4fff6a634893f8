/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Reading nginx auth_request's forwarding headers: the original method, URI and client. */

#include "http-proxy.h"

#include <ifaddrs.h>
#include <string.h>

#include "http-secret.h"

#define METHOD_MAX 32
#define URI_MAX 8192
#define WARN_INTERVAL_USEC (60 * G_USEC_PER_SEC)
/* How long this machine's list of its own addresses is used before it is read again. */
#define OWN_ADDRESSES_USEC G_USEC_PER_SEC

typedef struct {
  HttpIp ip;
  guint length; /* prefix length in bits */
} Mask;

struct _HttpTrustedProxies {
  GArray *masks; /* Mask */
  char *secret; /* NULL: none */
  GMutex warn_lock;
  gint64 warned_usec; /* the last warning about a peer not believed */
  GMutex own_lock;
  GArray *own; /* HttpIp: the addresses of this machine's interfaces, NULL until read */
  gint64 own_read_usec; /* monotonic µs they were read */
};

static gboolean
mask_matches (const Mask *mask, const HttpIp *ip)
{
  guint full = mask->length / 8, rest = mask->length % 8;

  if (mask->ip.family != ip->family || memcmp (mask->ip.bytes, ip->bytes, full) != 0)
    return FALSE;
  return rest == 0 || ((mask->ip.bytes[full] ^ ip->bytes[full]) & (0xff << (8 - rest))) == 0;
}

HttpTrustedProxies *
http_trusted_proxies_new (const char *const *cidrs, GError **error)
{
  g_autoptr (GArray) masks = g_array_new (FALSE, TRUE, sizeof (Mask));
  HttpTrustedProxies *proxies;

  for (guint i = 0; cidrs != NULL && cidrs[i] != NULL; i++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GInetAddressMask) parsed = g_inet_address_mask_new_from_string (cidrs[i], &local_error);
      g_autofree char *text = NULL;
      Mask mask = { { 0 } };

      if (parsed == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "\"%s\" is not an address or CIDR such as 10.0.0.0/8 (%s)", cidrs[i], local_error->message);
          return NULL;
        }
      text = g_inet_address_to_string (g_inet_address_mask_get_address (parsed));
      if (!http_ip_parse (text, &mask.ip))
        g_assert_not_reached ();
      mask.length = g_inet_address_mask_get_length (parsed);
      g_array_append_val (masks, mask);
    }
  proxies = g_new0 (HttpTrustedProxies, 1);
  proxies->masks = g_steal_pointer (&masks);
  g_mutex_init (&proxies->warn_lock);
  g_mutex_init (&proxies->own_lock);
  return proxies;
}

void
http_trusted_proxies_set_secret (HttpTrustedProxies *proxies, const char *secret)
{
  http_secret_free (proxies->secret);
  proxies->secret = g_strdup (secret);
}

void
http_trusted_proxies_free (HttpTrustedProxies *proxies)
{
  if (proxies == NULL)
    return;
  g_array_unref (proxies->masks);
  http_secret_free (proxies->secret);
  g_mutex_clear (&proxies->warn_lock);
  g_clear_pointer (&proxies->own, g_array_unref);
  g_mutex_clear (&proxies->own_lock);
  g_free (proxies);
}

static gboolean
ip_is_loopback (const HttpIp *ip)
{
  static const guint8 v6_loopback[16] = { [15] = 1 };

  if (ip->family == AF_INET)
    return ip->bytes[0] == 127;
  return memcmp (ip->bytes, v6_loopback, 16) == 0;
}

/* The addresses of this machine's interfaces now (NULL with errno set if they cannot be read); caller frees. */
static GArray *
read_own_addresses (void)
{
  struct ifaddrs *list = NULL;
  GArray *own;

  if (getifaddrs (&list) < 0)
    return NULL;
  own = g_array_new (FALSE, TRUE, sizeof (HttpIp));
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
    {
      HttpIp ip;
      if (http_ip_from_sockaddr (i->ifa_addr, &ip))
        g_array_append_val (own, ip);
    }
  freeifaddrs (list);
  return own;
}

/*
 * Whether ip is this machine's own: loopback, or an address of one of its
 * interfaces (read again once a second at most).  Any local user can
 * connect from any of them, so none tells the proxy from that user.  If
 * the addresses cannot be read, every address counts as own.
 */
/* This machine's addresses, read again if older than OWN_ADDRESSES_USEC (own_lock held); NULL if they cannot be read. */
static GArray *
own_addresses_locked (HttpTrustedProxies *proxies)
{
  gint64 now = g_get_monotonic_time ();

  if (proxies->own == NULL || now - proxies->own_read_usec >= OWN_ADDRESSES_USEC)
    {
      g_clear_pointer (&proxies->own, g_array_unref);
      proxies->own = read_own_addresses ();
      proxies->own_read_usec = now;
    }
  return proxies->own;
}

static gboolean
ip_is_own (HttpTrustedProxies *proxies, const HttpIp *ip)
{
  g_autoptr (GMutexLocker) locker = NULL;

  if (ip_is_loopback (ip))
    return TRUE;
  locker = g_mutex_locker_new (&proxies->own_lock);
  if (own_addresses_locked (proxies) == NULL)
    return TRUE;
  for (guint i = 0; i < proxies->own->len; i++)
    {
      const HttpIp *own = &g_array_index (proxies->own, HttpIp, i);
      if (own->family == ip->family && memcmp (own->bytes, ip->bytes, sizeof own->bytes) == 0)
        return TRUE;
    }
  return FALSE;
}

gboolean
http_trusted_proxies_have_own_address (HttpTrustedProxies *proxies)
{
  HttpIp v4, v6;
  gboolean found;

  http_ip_parse ("127.0.0.1", &v4);
  http_ip_parse ("::1", &v6);
  if (http_trusted_proxies_contain (proxies, &v4) || http_trusted_proxies_contain (proxies, &v6))
    return TRUE;
  g_mutex_lock (&proxies->own_lock);
  found = own_addresses_locked (proxies) == NULL;
  for (guint i = 0; !found && i < proxies->own->len; i++)
    found = http_trusted_proxies_contain (proxies, &g_array_index (proxies->own, HttpIp, i));
  g_mutex_unlock (&proxies->own_lock);
  return found;
}

/* Whether a TCP peer's word on the client counts. */
static gboolean
believe (HttpTrustedProxies *proxies, const HttpIp *peer, const char *secret)
{
  if (!http_trusted_proxies_contain (proxies, peer))
    return FALSE;
  if (proxies->secret != NULL)
    return secret != NULL && http_secret_equal (secret, proxies->secret);
  /* No proof possible: on this machine, any local user is as much "the proxy" as nginx. */
  return !ip_is_own (proxies, peer);
}

/* A peer named a client and was not believed: worth a word now and then (from any thread). */
static void
warn_not_believed (HttpTrustedProxies *proxies, const HttpIp *peer, gboolean one_of_them)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree char *address = NULL;

  {
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&proxies->warn_lock);
    if (proxies->warned_usec != 0 && now - proxies->warned_usec < WARN_INTERVAL_USEC)
      return;
    proxies->warned_usec = now;
  }
  address = http_ip_to_string (peer);
  if (!one_of_them)
    g_warning ("check endpoint: %s named a client in X-Real-IP/X-Forwarded-For but is not one of "
               "--trusted-proxies: it is taken as the client itself",
               address);
  else if (proxies->secret != NULL)
    g_warning (
      "check endpoint: %s named a client in X-Real-IP/X-Forwarded-For without the right " HTTP_PROXY_SECRET_HEADER
      ": it is taken as the client itself",
      address);
  else
    g_warning ("check endpoint: %s named a client in X-Real-IP/X-Forwarded-For, but a peer on this machine "
               "(loopback or one of its own addresses) on TCP is believed only with --check-proxy-secret-file (or "
               "over a unix socket): it is taken as the client itself",
               address);
}

gboolean
http_trusted_proxies_contain (const HttpTrustedProxies *proxies, const HttpIp *ip)
{
  for (guint i = 0; i < proxies->masks->len; i++)
    if (mask_matches (&g_array_index (proxies->masks, Mask, i), ip))
      return TRUE;
  return FALSE;
}

void
http_original_request_clear (HttpOriginalRequest *request)
{
  g_free (request->method);
  g_free (request->path);
  g_free (request->query);
  g_free (request->client_address);
  memset (request, 0, sizeof *request);
}

static gboolean
is_method (const char *text)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";
  gsize n = 0;

  for (; text[n] != '\0'; n++)
    if (!g_ascii_isalnum (text[n]) && strchr (extra, text[n]) == NULL)
      return FALSE;
  return n > 0 && n <= METHOD_MAX;
}

/* An origin-form request target: "/" then visible ASCII, no spaces or controls (its length is checked apart). */
static gboolean
is_origin_uri (const char *text)
{
  gsize n = 0;

  if (text[0] != '/')
    return FALSE;
  for (; text[n] != '\0'; n++)
    if ((guchar) text[n] <= 0x20 || (guchar) text[n] >= 0x7f)
      return FALSE;
  return TRUE;
}

/* The client is the right-most address a trusted proxy did not add. */
static gboolean
client_from_forwarded_for (const char *list, const HttpTrustedProxies *proxies, HttpIp *client, char **reason)
{
  g_auto (GStrv) entries = g_strsplit (list, ",", -1);
  guint n = g_strv_length (entries);
  gboolean found = FALSE;

  for (guint i = n; i-- > 0;)
    {
      HttpIp ip;
      if (!http_ip_parse (entries[i], &ip))
        {
          *reason = g_strdup_printf ("X-Forwarded-For entry \"%s\" is not an IP address", g_strstrip (entries[i]));
          return FALSE;
        }
      /* nginx on a dual-stack socket names IPv4 clients so: one client, whichever way it is written. */
      http_ip_unmap (&ip);
      *client = ip;
      found = TRUE;
      if (!http_trusted_proxies_contain (proxies, &ip))
        return TRUE;
    }
  if (!found)
    *reason = g_strdup ("X-Forwarded-For is empty");
  return found; /* all trusted: the left-most */
}

gboolean
http_proxy_parse (const HttpProxyHeaders *headers, const struct sockaddr *peer, HttpTrustedProxies *proxies,
                  HttpOriginalRequest *out, char **reason)
{
  HttpIp peer_ip, client;
  const char *question;

  memset (out, 0, sizeof *out);
  if (headers->duplicated)
    {
      *reason = g_strdup ("X-Original-Method, X-Original-URI and X-Real-IP may each come only once");
      return FALSE;
    }
  if (headers->original_method == NULL || headers->original_uri == NULL)
    {
      *reason = g_strdup_printf ("missing %s: the proxy must send the original request "
                                 "(proxy_set_header X-Original-Method $request_method; "
                                 "proxy_set_header X-Original-URI $request_uri;)",
                                 headers->original_method == NULL ? "X-Original-Method" : "X-Original-URI");
      return FALSE;
    }
  if (!is_method (headers->original_method))
    {
      *reason = g_strdup ("X-Original-Method is not an HTTP method");
      return FALSE;
    }
  if (strlen (headers->original_uri) > URI_MAX)
    {
      *reason = g_strdup_printf ("X-Original-URI is longer than %d bytes", URI_MAX);
      return FALSE;
    }
  if (!is_origin_uri (headers->original_uri))
    {
      *reason = g_strdup ("X-Original-URI is not a request target starting with \"/\"");
      return FALSE;
    }

  if (http_ip_from_sockaddr (peer, &peer_ip) && !believe (proxies, &peer_ip, headers->proxy_secret))
    {
      client = peer_ip; /* a peer not believed speaks for itself only */
      if (headers->real_ip != NULL || headers->forwarded_for != NULL)
        warn_not_believed (proxies, &peer_ip, http_trusted_proxies_contain (proxies, &peer_ip));
    }
  else if (headers->real_ip != NULL)
    {
      if (!http_ip_parse (headers->real_ip, &client))
        {
          *reason = g_strdup ("X-Real-IP is not an IP address");
          return FALSE;
        }
      http_ip_unmap (&client);
    }
  else if (headers->forwarded_for != NULL)
    {
      if (!client_from_forwarded_for (headers->forwarded_for, proxies, &client, reason))
        return FALSE;
    }
  else
    {
      *reason = g_strdup ("missing X-Real-IP (or X-Forwarded-For): the proxy must name the client "
                          "(proxy_set_header X-Real-IP $remote_addr;)");
      return FALSE;
    }

  out->method = g_strdup (headers->original_method);
  question = strchr (headers->original_uri, '?');
  if (question != NULL)
    {
      out->path = g_strndup (headers->original_uri, (gsize) (question - headers->original_uri));
      out->query = g_strdup (question + 1);
    }
  else
    out->path = g_strdup (headers->original_uri);
  out->client_address = http_ip_to_string (&client);
  return TRUE;
}
