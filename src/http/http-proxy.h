/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "http-listen.h"

G_BEGIN_DECLS

/* The name of the header a TCP proxy proves itself with (see http_trusted_proxies_set_secret()). */
#define HTTP_PROXY_SECRET_HEADER "X-Hkp-Proxy-Secret"

/*
 * The proxies whose forwarding headers we believe: a list of address masks,
 * and the secret a proxy on TCP must send to be believed.
 */
typedef struct _HttpTrustedProxies HttpTrustedProxies;

/* Parses CIDRs or addresses ("127.0.0.0/8", "::1"); NULL with an error naming the bad entry. */
HttpTrustedProxies *http_trusted_proxies_new (const char *const *cidrs, GError **error);

/*
 * Sets the secret (copied) a TCP peer must send in HTTP_PROXY_SECRET_HEADER,
 * besides being one of the proxies, for its word on the client to count.
 * Without one, the word of a peer on this machine (loopback or one of its
 * interfaces' addresses) never counts: any local user can be one.
 */
void http_trusted_proxies_set_secret (HttpTrustedProxies *proxies, const char *secret);

/* TRUE if some address of this machine (loopback, or one its interfaces have now) is one of the proxies. */
gboolean http_trusted_proxies_have_own_address (HttpTrustedProxies *proxies);

/* Frees proxies. */
void http_trusted_proxies_free (HttpTrustedProxies *proxies);

/* TRUE if ip is one of the proxies. */
gboolean http_trusted_proxies_contain (const HttpTrustedProxies *proxies, const HttpIp *ip);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpTrustedProxies, http_trusted_proxies_free)

/* What a proxy told us about the request it is asking about. */
typedef struct {
  const char *original_method; /* X-Original-Method */
  const char *original_uri; /* X-Original-URI */
  const char *real_ip; /* X-Real-IP */
  const char *forwarded_for; /* X-Forwarded-For, several headers joined with "," */
  gboolean duplicated; /* X-Original-Method, -URI or X-Real-IP came twice */
  const char *proxy_secret; /* HTTP_PROXY_SECRET_HEADER */
} HttpProxyHeaders;

/* The original request, as the plugins will see it. */
typedef struct {
  char *method;
  char *path;
  char *query; /* NULL when the URI has none */
  char *client_address; /* canonical text form */
} HttpOriginalRequest;

/* Frees what request holds. */
void http_original_request_clear (HttpOriginalRequest *request);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HttpOriginalRequest, http_original_request_clear)

/*
 * Works out the original request from the proxy's headers.  peer is the
 * connection's address (NULL or AF_UNIX for a unix socket peer, which is
 * believed: the socket's mode says who may connect).  A TCP peer is
 * believed if it is one of proxies and, with a secret set, sends it; with
 * none, if it is not a loopback address.  The client address comes from
 * X-Real-IP, else the right-most untrusted entry of X-Forwarded-For, when
 * the peer is believed; else it is the peer (logged, now and then, when it
 * did name a client).  FALSE with a one-line reason (for a 400) when a header
 * is missing or malformed.
 */
gboolean http_proxy_parse (const HttpProxyHeaders *headers, const struct sockaddr *peer, HttpTrustedProxies *proxies,
                           HttpOriginalRequest *out, char **reason);

G_END_DECLS
