/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-guard.h"
#include "hkp-instance.h"
#include "hkp-manifest.h"
#include "hkp-sharded-stats.h"

G_BEGIN_DECLS

/* What the request path does with a plugin, decided by its current gate. */
typedef enum {
  HKP_GATE_SERVE, /* call the gate's instance */
  HKP_GATE_SKIP, /* disabled or gone: skip the plugin */
  HKP_GATE_FAILED, /* failed: the failure mode decides */
  HKP_GATE_PAUSED, /* exclusive reload: wait, bounded, for the next gate */
} HkpGateMode;

/*
 * One instance's admission to the request path.  A gate is entered through
 * its slot; once replaced it drains, and its drained callback runs when the
 * last request inside has left.  Owned by the engine's main thread except
 * for the atomics.
 */
typedef struct {
  HkpGuarded guard;
  HkpGateMode mode;
  HkpInstance *instance; /* HKP_GATE_SERVE only (owned reference) */
  gint cancelled; /* set once a drain gives up waiting: calls inside see request->cancelled */
  gboolean keep_instance; /* the instance serves on through another gate: do not shut it down */
} HkpGate;

/* Outcomes counted per plugin for metrics. */
typedef enum {
  HKP_OUTCOME_CONTINUE,
  HKP_OUTCOME_ALLOW,
  HKP_OUTCOME_DENY,
  HKP_OUTCOME_ERROR, /* invalid verdict, or failed plugin under failure_mode closed */
  HKP_OUTCOME_CANCELLED,
  HKP_N_OUTCOMES,
} HkpOutcome;

/* A check waiting for a paused plugin's next gate; resume() runs (on the swapping thread) once it comes. */
typedef struct _HkpParked HkpParked;
struct _HkpParked {
  HkpParked *next;
  void (*resume) (HkpParked *parked);
};

/*
 * The request path's view of one plugin, shared by all threads and
 * atomically reference-counted: its name, its current gate, its failure mode
 * and call timeout, and its counters.
 */
typedef struct {
  gint ref;
  char *name;
  HkpGuardBox gate;
  gint failure_mode; /* HkpFailureMode, atomic */
  gint64 call_timeout_usec; /* how long one handle() may take, atomic */
  gint64 pause_limit_usec; /* how long a request waits for a paused plugin, atomic */
  GMutex lock; /* guards generation and parked */
  HkpParked *parked; /* checks waiting for the next gate (paused plugin) */
  gpointer parked_deadlines; /* HkpTimedQueue of their waits, made by the check path on first use */
  gint health_checks; /* health() calls inside one of this slot's gates (not requests), atomic */
  gint generation; /* bumped (atomically, under lock) at every gate swap */
  gint64 outcomes[HKP_N_OUTCOMES];
  gint64 timed_out; /* calls answered by the failure mode because the plugin did not answer in time */
  HkpLatency *call_durations; /* every call, answered or timed out (then counted at its deadline) */
  GPtrArray *stuck; /* retired gates whose drain gave up with calls inside, until they empty (under lock) */
} HkpSlot;

/* Creates a gate of mode; for HKP_GATE_SERVE takes a reference to instance.  Caller owns it. */
HkpGate *hkp_gate_new (HkpGateMode mode, HkpInstance *instance);

/* Frees a gate nobody reads (never in a box, or retired and drained), dropping its instance reference. */
void hkp_gate_free (HkpGate *gate);

/* Creates a slot for plugin name holding a gate of mode (no instance); returns a new reference. */
HkpSlot *hkp_slot_new (const char *name, HkpGateMode mode, HkpFailureMode failure_mode);

/* Returns a new reference to slot. */
HkpSlot *hkp_slot_ref (HkpSlot *slot);

/* Drops a reference; the last one frees the slot and the gate it holds. */
void hkp_slot_unref (HkpSlot *slot);

/*
 * Installs gate (main thread) and resumes the checks parked on a paused gate.
 * The previous gate is retired: drained(previous, user_data) runs once the
 * last request inside it has left — on that request's thread, or in this
 * call if none was inside.  drained owns the previous gate.
 */
void hkp_slot_swap_gate (HkpSlot *slot, HkpGate *gate, HkpGuardRetired drained, gpointer user_data);

/* A drained callback that just frees the gate (for gates without an instance). */
void hkp_gate_free_drained (HkpGuarded *gate, gpointer user_data);

/* Returns the slot's current gate (main thread only). */
HkpGate *hkp_slot_peek_gate (HkpSlot *slot);

/*
 * Records one call into the plugin that is over for its check: answered
 * after duration_usec, or given up at its deadline (timed_out, duration_usec
 * the timeout).  Any thread, no lock.
 */
void hkp_slot_record_call (HkpSlot *slot, gint64 duration_usec, gboolean timed_out);

/* Returns the number of requests inside the slot's current gate. */
guint64 hkp_slot_current_requests (HkpSlot *slot);

/* Returns the number of requests still inside a retired gate. */
gint64 hkp_gate_retired_requests (HkpGate *gate);

/* Counts gate, retired from slot, as stuck: its drain gave up with calls inside (any thread). */
void hkp_slot_add_stuck (HkpSlot *slot, HkpGate *gate);

/* Stops counting gate as stuck: its last call returned (any thread). */
void hkp_slot_remove_stuck (HkpSlot *slot, HkpGate *gate);

/* Returns how many retired gates of slot are stuck, and (if requests is not NULL) the calls inside them. */
guint hkp_slot_count_stuck (HkpSlot *slot, guint64 *requests);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpSlot, hkp_slot_unref)

G_END_DECLS
