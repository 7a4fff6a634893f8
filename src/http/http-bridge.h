/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"
#include "http-listen.h"

G_BEGIN_DECLS

/* Where and how the management bridge serves. */
typedef struct {
  const ListenAddress *listen;
  const char *token_file;               /* NULL: changes over HTTP answer 403 */
  const char *tls_certificate;          /* both or neither: HTTPS */
  const char *tls_key;
  const char *const *allowed_hosts;     /* Host names accepted besides the listening address */
  const char *const *required_plugins;  /* /readyz waits for these */
  const char *version;                  /* for hkp_plugind_build_info */
  guint threads;                        /* 0: 4 per CPU up to 8 on TCP (sharing the port), 1 on a unix socket */
  gdouble idle_timeout_sec;             /* a connection idle, or sending one request, this long is closed */
  guint max_connections;                /* more are closed as they come */
} HttpBridgeSettings;

/*
 * The management bridge: libsoup servers on threads of their own, serving
 * reads from snapshots the main thread publishes and handing changes to the
 * main thread, so the engine and D-Bus never leave it.
 */
typedef struct _HttpBridge HttpBridge;

/* Starts serving engine (main thread); NULL with an error naming the file or address at fault. */
HttpBridge *http_bridge_new (HkpEngine *engine, const HttpBridgeSettings *settings, GError **error);

/* Republishes what the bridge serves now (main thread), e.g. once the initial load is done. */
void http_bridge_refresh (HttpBridge *bridge);

/* Stops the server threads and frees bridge (main thread). */
void http_bridge_free (HttpBridge *bridge);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpBridge, http_bridge_free)

G_END_DECLS
