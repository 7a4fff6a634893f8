/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-drain.h"

#include "hkp-log.h"

typedef struct {
  gint ref; /* the task's side and the gate's drained callback each hold one */
  GMainContext *context;
  GTask *task;
  char *plugin;
  HkpSlot *slot; /* a reference: a stuck gate is counted in it until it empties */
  HkpGate *gate;
  GSource *timer;
  gdouble grace_sec;
  gint64 started;
  HkpDrainResult result;
  gboolean timed_out;
  gboolean completed;
  HkpDrainLate late;
} Drain;

typedef struct {
  HkpGate *gate;
  HkpDrainResult result;
} DrainOutcome;

static void
drain_unref (Drain *drain)
{
  if (!g_atomic_int_dec_and_test (&drain->ref))
    return;
  if (drain->timer != NULL)
    {
      g_source_destroy (drain->timer);
      g_source_unref (drain->timer);
    }
  g_clear_object (&drain->task);
  g_main_context_unref (drain->context);
  hkp_slot_unref (drain->slot);
  g_free (drain->plugin);
  g_free (drain);
}

static void
drain_complete (Drain *drain, HkpGate *gate)
{
  DrainOutcome *outcome = g_new0 (DrainOutcome, 1);

  drain->completed = TRUE;
  if (drain->timer != NULL)
    {
      g_source_destroy (drain->timer);
      g_clear_pointer (&drain->timer, g_source_unref);
    }
  drain->result.duration_usec = g_get_monotonic_time () - drain->started;
  outcome->gate = gate;
  outcome->result = drain->result;
  g_task_return_pointer (drain->task, outcome, g_free);
  g_clear_object (&drain->task);
  drain_unref (drain); /* the task's side */
}

/* Main context: the old gate is empty. */
static gboolean
on_empty (gpointer user_data)
{
  Drain *drain = user_data;

  if (!drain->completed)
    drain_complete (drain, drain->gate);
  else
    {
      hkp_log_plugin (G_LOG_LEVEL_MESSAGE, drain->plugin,
                      "plugin %s: the calls that ignored cancellation have returned; finishing the old instance",
                      drain->plugin);
      hkp_slot_remove_stuck (drain->slot, drain->gate);
      drain->late (drain->gate, drain->plugin);
    }
  return G_SOURCE_REMOVE;
}

/* Any thread: the last request left the retired gate (or none was inside). */
static void
on_drained (HkpGuarded *gate, gpointer user_data)
{
  Drain *drain = user_data;
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, on_empty, drain, (GDestroyNotify) drain_unref);
  g_source_attach (idle, drain->context);
  g_source_unref (idle);
}

static gboolean on_timer (gpointer user_data);

static void
arm_timer (Drain *drain, gdouble seconds)
{
  if (drain->timer != NULL)
    {
      g_source_destroy (drain->timer);
      g_source_unref (drain->timer);
    }
  drain->timer = g_timeout_source_new ((guint) (seconds * 1000));
  g_source_set_callback (drain->timer, on_timer, drain, NULL);
  g_source_attach (drain->timer, drain->context);
}

static gboolean
on_timer (gpointer user_data)
{
  Drain *drain = user_data;

  if (!drain->timed_out)
    {
      drain->timed_out = TRUE;
      drain->result.cancelled = (guint) MAX (hkp_gate_retired_requests (drain->gate), 0);
      g_atomic_int_set (&drain->gate->cancelled, 1);
      /* An isolated instance's calls see it through their host. */
      if (drain->gate->instance != NULL && hkp_instance_get_host (drain->gate->instance) != NULL)
        hkp_host_cancel_all (hkp_instance_get_host (drain->gate->instance));
      hkp_log_plugin (G_LOG_LEVEL_WARNING, drain->plugin,
                      "plugin %s: drain timeout passed with %u requests in flight; cancelling them", drain->plugin,
                      drain->result.cancelled);
      arm_timer (drain, drain->grace_sec);
      return G_SOURCE_REMOVE;
    }
  drain->result.stuck = TRUE;
  /* Still one of the plugin's old instances, until its calls return (on_empty()). */
  hkp_slot_add_stuck (drain->slot, drain->gate);
  hkp_log_plugin (G_LOG_LEVEL_CRITICAL, drain->plugin,
                  "plugin %s: %" G_GINT64_FORMAT " cancelled calls have not returned after %g s; "
                  "the old instance stays loaded until they do",
                  drain->plugin, hkp_gate_retired_requests (drain->gate), drain->grace_sec);
  g_clear_pointer (&drain->timer, g_source_unref);
  drain_complete (drain, NULL);
  return G_SOURCE_REMOVE;
}

void
hkp_drain_swap_async (HkpSlot *slot, HkpGate *new_gate, gdouble timeout_sec, gdouble grace_sec, HkpDrainLate late,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  Drain *drain = g_new0 (Drain, 1);

  drain->ref = 2;
  drain->context = g_main_context_ref_thread_default ();
  drain->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (drain->task, hkp_drain_swap_async);
  drain->plugin = g_strdup (slot->name);
  drain->slot = hkp_slot_ref (slot);
  drain->gate = hkp_slot_peek_gate (slot);
  drain->grace_sec = grace_sec;
  drain->started = g_get_monotonic_time ();
  drain->late = late;
  arm_timer (drain, timeout_sec);
  /* May call on_drained at once when nobody is inside; it only schedules on_empty. */
  hkp_slot_swap_gate (slot, new_gate, on_drained, drain);
}

HkpGate *
hkp_drain_swap_finish (GAsyncResult *result, HkpDrainResult *out)
{
  g_autofree DrainOutcome *outcome = g_task_propagate_pointer (G_TASK (result), NULL);

  *out = outcome->result;
  return outcome->gate;
}
