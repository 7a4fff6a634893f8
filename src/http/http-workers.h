/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _HttpBridge HttpBridge;

/*
 * The management bridge's worker processes, seen from the daemon: each is
 * this program again (--http-worker=N), serving the bridge's port with one
 * thread from the snapshots we send it and sending changes back to run
 * here.  Threads of one process contend for GLib's process-wide locks;
 * processes do not.  Every process accepts from the bridge's one listening
 * socket; a worker that ends is started again a second later, and
 * meanwhile the others take the connections it would have.
 */
typedef struct _HttpWorkers HttpWorkers;

/* Starts count workers for bridge (main thread); NULL with an error. */
HttpWorkers *http_workers_new (HttpBridge *bridge, guint count, GError **error);

/* Called once the workers serve what was published before (main thread). */
typedef void (*HttpWorkersSynced) (gpointer data);

/*
 * Calls done with data once every worker serves every snapshot published
 * so far (main thread): a change is answered only then, wherever it came
 * in, so its answer is never followed by an older read.
 */
void http_workers_sync (HttpWorkers *workers, HttpWorkersSynced done, gpointer data);

/* Stops the workers, waits for them to end, and frees workers (main thread). */
void http_workers_free (HttpWorkers *workers);

G_END_DECLS
