/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

/*
 * Everything the management bridge serves on reads, serialised once on the
 * main thread and then shared, immutable, by the server threads.  The plugin
 * collections are never built per request.
 */
typedef struct {
  guint64 generation;
  gint64 built_usec;      /* real time the documents are stamped with */
  GBytes *status;         /* GET /plugins/status */
  GBytes *list;           /* GET /plugins/list */
  GBytes *health;         /* GET /plugins/health */
  GBytes *metrics;        /* GET /metrics */
  GHashTable *configs;    /* plugin name → GET /plugins/config body (redacted) */
  gboolean ready;         /* GET /readyz */
  char *not_ready;        /* why not, when not */
} HttpSnapshot;

/* Adds a reference to snapshot (any thread); returns it. */
HttpSnapshot *http_snapshot_ref (HttpSnapshot *snapshot);

/* Drops a reference (any thread). */
void http_snapshot_unref (HttpSnapshot *snapshot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpSnapshot, http_snapshot_unref)

/* Keeps a current snapshot of engine: rebuilt when the engine reports a change, and once a second for the clocks. */
typedef struct _HttpSnapshotFeed HttpSnapshotFeed;

/* Starts feeding from engine (main thread); required names plugins /readyz waits for (may be NULL). */
HttpSnapshotFeed *http_snapshot_feed_new (HkpEngine *engine, const char *const *required, const char *version);

/* Returns the current snapshot, a new reference (any thread). */
HttpSnapshot *http_snapshot_feed_get (HttpSnapshotFeed *feed);

/* Rebuilds the snapshot now (main thread), as after a change whose answer must see it. */
void http_snapshot_feed_refresh (HttpSnapshotFeed *feed);

/* Stops feeding and frees feed (main thread); snapshots handed out stay valid. */
void http_snapshot_feed_free (HttpSnapshotFeed *feed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpSnapshotFeed, http_snapshot_feed_free)

G_END_DECLS
