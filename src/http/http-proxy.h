/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "http-listen.h"

G_BEGIN_DECLS

/* The proxies whose forwarding headers we believe: a list of address masks. */
typedef struct _HttpTrustedProxies HttpTrustedProxies;

/* Parses CIDRs or addresses ("127.0.0.0/8", "::1"); NULL with an error naming the bad entry. */
HttpTrustedProxies *http_trusted_proxies_new (const char *const *cidrs, GError **error);

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
 * connection's address (NULL or AF_UNIX for a unix socket peer, which is trusted); the
 * client address comes from X-Real-IP, else the right-most untrusted entry of
 * X-Forwarded-For, and only when the peer is trusted, else it is the peer.
 * FALSE with a one-line reason (for a 400) when a header is missing or malformed.
 */
gboolean http_proxy_parse (const HttpProxyHeaders *headers, const struct sockaddr *peer,
                           const HttpTrustedProxies *proxies, HttpOriginalRequest *out, char **reason);

G_END_DECLS
