/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-call-pool.h"
#include "hkp-guard.h"
#include "hkp-slot.h"
#include "hkp-watchdog.h"

G_BEGIN_DECLS

/* The most request headers a check passes on to plugins. */
#define HKP_CHECK_HEADERS_MAX 64

/*
 * A request to check.  Checks and the plugin calls they make hold it by
 * reference (a call that overran may read it long after its check was
 * decided), so it is made once with hkp_check_request_new(), in one block.
 */
typedef struct {
  const char *method;
  const char *path;
  const char *query;
  const char *client_address;
  const char *const *headers; /* name, value, name, value…, NULL */
  gint cancelled; /* non-zero once the caller gave up (atomic): plugins see request->cancelled */
  /* The check path's own: the host call in flight, told when the caller gives up. */
  GMutex lock;
  gpointer host; /* HkpHost, a reference */
  guint64 host_call;
  guint host_calls; /* calls made so far (atomic): a late word from an earlier one is not taken */
  guint host_call_number; /* which of them host and host_call are */
} HkpCheckRequest;

/*
 * Copies a request into one reference-counted block; headers is NULL or
 * name, value, …, NULL (at most HKP_CHECK_HEADERS_MAX pairs are kept).  NULL
 * strings become "".  Returns a new reference.
 */
HkpCheckRequest *hkp_check_request_new (const char *method, const char *path, const char *query,
                                        const char *client_address, const char *const *headers);

/* Returns a new reference to request. */
HkpCheckRequest *hkp_check_request_ref (HkpCheckRequest *request);

/* Drops a reference to request. */
void hkp_check_request_unref (HkpCheckRequest *request);

/* Tells the plugins still asked about request that the caller gave up on it (any thread). */
void hkp_check_request_cancel (HkpCheckRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpCheckRequest, hkp_check_request_unref)

/* The verdict of the enabled plugins on one request.  Clear with hkp_check_result_clear(). */
typedef struct {
  gboolean allowed;
  gboolean cancelled; /* the caller cancelled: nothing was decided */
  guint status; /* HTTP status: 2xx allowed, 4xx/5xx denied */
  char *reason; /* "" if none */
  char *plugin; /* the plugin that decided, or NULL if all continued */
  GPtrArray *headers; /* name, value, name, value… to send with the answer */
} HkpCheckResult;

/* Frees what result holds and zeroes it. */
void hkp_check_result_clear (HkpCheckResult *result);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HkpCheckResult, hkp_check_result_clear)

/* An immutable snapshot of the plugins in priority order, published through an HkpGuardBox. */
typedef struct {
  HkpGuarded guard;
  guint n_slots;
  HkpSlot *slots[];
} HkpChain;

/* Creates a chain over slots (each referenced); caller owns it. */
HkpChain *hkp_chain_new (HkpSlot *const *slots, guint n_slots);

/* A drained callback that frees a retired chain, from whichever thread left it last. */
void hkp_chain_free_drained (HkpGuarded *chain, gpointer user_data);

/* Frees a chain nobody reads. */
void hkp_chain_free (HkpChain *chain);

/* Called once, on any thread, when a check that did not finish at once is decided. */
typedef void (*HkpCheckDone) (gpointer user_data);

/*
 * Called on the watchdog's thread when calls into an in-process instance
 * have been stuck (past their deadline and its grace) so many times:
 * stuck is how many are stuck now.
 */
typedef void (*HkpCheckStuckFunc) (HkpSlot *slot, HkpInstance *instance, guint stuck, gpointer user_data);

/*
 * What checks run on: the chain, the threads of in-process calls, and the
 * deadlines.  Checks and the calls they make keep a pointer to it: it must
 * outlive every call, even one stuck in a plugin for ever.
 */
typedef struct {
  HkpGuardBox *chain;
  HkpCallPool *pool;
  HkpWatchdog *watchdog;
  HkpTimedQueue *late_calls; /* calls past their deadline, until their grace ends */
  HkpCheckStuckFunc stuck;
  gpointer stuck_data;
} HkpCheckEnv;

/*
 * Runs request through the chain, from any thread but the main one: the
 * first plugin whose verdict is not "continue" decides; if all continue the
 * request is allowed.  A failed plugin denies with 503 (failure_mode closed)
 * or is skipped (open); so does one that does not answer within its call
 * timeout.  A plugin in an exclusive reload is waited for, bounded.  A call
 * cut short by a drain is asked again of the plugin's next instance, so
 * reloads lose no request.  Plugin code runs on the pool's threads (in
 * process) or in the instance's host process, never on the calling thread,
 * which never waits for a plugin.  Returns TRUE with result filled if the
 * check is decided at once; otherwise FALSE, and done(user_data) is called
 * once from another thread when result is filled.  result must stay valid
 * until then; the caller clears it.  The check takes its own reference to
 * request.
 */
gboolean hkp_check_start (const HkpCheckEnv *env, HkpCheckRequest *request, HkpCheckResult *result, HkpCheckDone done,
                          gpointer user_data);

/* Returns TRUE on a thread of a check pool (where an in-process call may run at once). */
gboolean hkp_check_on_pool_thread (void);

G_END_DECLS
