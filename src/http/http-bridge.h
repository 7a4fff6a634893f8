/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"
#include "http-api.h"
#include "http-listen.h"
#include "http-snapshot.h"

G_BEGIN_DECLS

/* Where and how the management bridge serves. */
typedef struct {
  const ListenAddress *listen;
  const char *token_file; /* NULL: changes over HTTP answer 403 */
  const char *tls_certificate; /* both or neither: HTTPS */
  const char *tls_key;
  const char *const *allowed_hosts; /* Host names accepted besides the listening address */
  const char *const *required_plugins; /* /readyz waits for these */
  const char *version; /* for hkp_plugind_build_info */
  guint threads; /* 0: 4 per CPU up to 8 on TCP (sharing its socket), 1 on a unix socket */
  gdouble idle_timeout_sec; /* a connection idle, or sending one request, this long is closed; heads due within 10 s */
  guint max_connections; /* at this many, the longest-idle is closed for a new one */
  guint processes; /* TCP: with more than 1, worker processes share the socket, one thread each */
} HttpBridgeSettings;

/*
 * The management bridge: libsoup servers on threads of their own, serving
 * reads from snapshots the main thread publishes and handing changes to the
 * main thread, so the engine and D-Bus never leave it.
 */
typedef struct _HttpBridge HttpBridge;

/* Starts serving engine (main thread); NULL with an error naming the file or address at fault. */
HttpBridge *http_bridge_new (HkpEngine *engine, const HttpBridgeSettings *settings, GError **error);

/*
 * How a worker process's bridge hands a change on (its main thread): to the
 * daemon, which answers through callback; the answer comes with an
 * HttpBridgeForwardFinish.
 */
typedef void (*HttpBridgeForward) (HttpMutation *mutation, GAsyncReadyCallback callback, gpointer user_data,
                                   gpointer data);

/* Fills out (caller clears) with the daemon's answer to a forwarded change. */
typedef void (*HttpBridgeForwardFinish) (GAsyncResult *result, HttpApiResponse *out);

/*
 * In a worker process: serves on listening socket fd (taken) with one thread, reads from
 * first and what is published after it, and forwards changes (forward, then
 * forward_finish for the answer, with data).  settings
 * come from http_bridge_worker_settings().  NULL with an error.
 */
HttpBridge *http_bridge_new_worker (int fd, HttpSnapshot *first, GVariant *settings, HttpBridgeForward forward,
                                    HttpBridgeForwardFinish forward_finish, gpointer data, GError **error);

/* What a worker process needs to serve as bridge does (token, hosts, TLS, limits); caller unrefs. */
GVariant *http_bridge_worker_settings (HttpBridge *bridge);

/* Returns the bridge's listening socket (owned by bridge), which worker processes share. */
int http_bridge_get_listen_fd (HttpBridge *bridge);

/* Returns the feed bridge serves from (owned by bridge). */
HttpSnapshotFeed *http_bridge_get_feed (HttpBridge *bridge);

/* Runs mutation (taken) as the bridge does (main thread): on the engine, or forwarded; finish with the next. */
void http_bridge_run_change_async (HttpBridge *bridge, HttpMutation *mutation, GAsyncReadyCallback callback,
                                   gpointer user_data);

/* Fills out (caller clears) with a change's answer. */
void http_bridge_run_change_finish (HttpBridge *bridge, GAsyncResult *result, HttpApiResponse *out);

/* Republishes what the bridge serves now (main thread), e.g. once the initial load is done. */
void http_bridge_refresh (HttpBridge *bridge);

/* Stops the server threads and frees bridge (main thread). */
void http_bridge_free (HttpBridge *bridge);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpBridge, http_bridge_free)

G_END_DECLS
