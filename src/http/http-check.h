/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"
#include "http-listen.h"

G_BEGIN_DECLS

/* How the check endpoint listens and whom it believes. */
typedef struct {
  const ListenAddress *listen;
  const char *const *trusted_proxies; /* CIDRs whose X-Real-IP / X-Forwarded-For count; NULL: loopback */
  const char *proxy_secret_file; /* the secret a TCP proxy sends in X-Hkp-Proxy-Secret; NULL: none */
  guint threads; /* 0: one per CPU, at least 2 */
  guint connection_limit; /* 0: from RLIMIT_NOFILE */
  guint idle_timeout_sec; /* 0: 75 s */
  const char *socket_group; /* a unix socket is made 0660 with this group (name or number); NULL: the daemon's own */
} HttpCheckSettings;

/*
 * The data plane: "/check" for nginx auth_request, served by libmicrohttpd
 * on its own threads.  Each request runs through the engine's chain on the
 * thread that read it; the main loop is never involved.
 */
typedef struct _HttpCheck HttpCheck;

/* Binds settings->listen for engine's chain, not answering yet; NULL with an error naming the address. */
HttpCheck *http_check_new (HkpEngine *engine, const HttpCheckSettings *settings, GError **error);

/* Starts the threads that answer checks (connections waiting in the backlog are served). */
gboolean http_check_start (HttpCheck *check, GError **error);

/* Returns the address actually bound ("127.0.0.1:40123", "unix:/run/x"), owned by check. */
const char *http_check_get_address (HttpCheck *check);

/*
 * Stops taking checks (the listening socket closes; a request on a kept-alive
 * connection gets 503 and the connection closes) and completes, in the
 * caller's thread-default context, once no check is in flight or after
 * timeout_sec.  The caller then shuts the engine down and frees check.
 */
void http_check_stop_async (HttpCheck *check, gdouble timeout_sec, GAsyncReadyCallback callback, gpointer user_data);

/* Finishes http_check_stop_async(): TRUE if every check finished, FALSE (with an error) if some were still running. */
gboolean http_check_stop_finish (HttpCheck *check, GAsyncResult *result, GError **error);

/* Stops the threads (waiting for any request still running) and frees check. */
void http_check_free (HttpCheck *check);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpCheck, http_check_free)

G_END_DECLS
