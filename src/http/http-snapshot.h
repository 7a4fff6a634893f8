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
  gint64 built_usec; /* real time the documents are stamped with */
  GBytes *status; /* GET /plugins/status */
  GBytes *list; /* GET /plugins/list */
  GBytes *health; /* GET /plugins/health */
  GBytes *metrics; /* GET /metrics */
  GHashTable *configs; /* plugin name → GET /plugins/config body (redacted) */
  gboolean ready; /* GET /readyz */
  char *not_ready; /* why not, when not */
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

/* Called on the main thread with each snapshot the feed builds (borrowed). */
typedef void (*HttpSnapshotListener) (HttpSnapshot *snapshot, gpointer data);

/* Sets the one listener of feed's rebuilds (NULL for none). */
void http_snapshot_feed_set_listener (HttpSnapshotFeed *feed, HttpSnapshotListener listener, gpointer data);

/* Makes snapshot (a reference is taken) the one feed hands out, from now on (any thread). */
void http_snapshot_feed_publish (HttpSnapshotFeed *feed, HttpSnapshot *snapshot);

/* A feed that builds nothing: it hands out first, then what is published to it (another process builds them). */
HttpSnapshotFeed *http_snapshot_feed_new_published (HttpSnapshot *first);

/* Returns snapshot as one GVariant, to send to another process (caller unrefs). */
GVariant *http_snapshot_serialize (HttpSnapshot *snapshot);

/* Returns the snapshot variant holds (a new reference), or NULL if it is not one. */
HttpSnapshot *http_snapshot_deserialize (GVariant *variant);

/* Stops feeding and frees feed (main thread); snapshots handed out stay valid. */
void http_snapshot_feed_free (HttpSnapshotFeed *feed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpSnapshotFeed, http_snapshot_feed_free)

G_END_DECLS
