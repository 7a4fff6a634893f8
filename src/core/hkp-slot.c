/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-slot.h"

#include "hkp-watchdog.h"

HkpGate *
hkp_gate_new (HkpGateMode mode, HkpInstance *instance)
{
  HkpGate *gate = g_new0 (HkpGate, 1);

  g_assert ((mode == HKP_GATE_SERVE) == (instance != NULL));
  gate->mode = mode;
  gate->instance = instance != NULL ? hkp_instance_ref (instance) : NULL;
  return gate;
}

void
hkp_gate_free (HkpGate *gate)
{
  if (gate == NULL)
    return;
  g_clear_pointer (&gate->instance, hkp_instance_unref);
  g_free (gate);
}

HkpSlot *
hkp_slot_new (const char *name, HkpGateMode mode, HkpFailureMode failure_mode)
{
  HkpSlot *slot = g_new0 (HkpSlot, 1);

  slot->ref = 1;
  slot->name = g_strdup (name);
  slot->failure_mode = failure_mode;
  slot->pause_limit_usec = 90 * G_USEC_PER_SEC;
  slot->call_timeout_usec = HKP_CALL_TIMEOUT_DEFAULT_MS * 1000;
  slot->call_durations = hkp_latency_new ();
  slot->stuck = g_ptr_array_new ();
  g_mutex_init (&slot->lock);
  hkp_guard_swap (&slot->gate, &hkp_gate_new (mode, NULL)->guard);
  return slot;
}

HkpSlot *
hkp_slot_ref (HkpSlot *slot)
{
  g_atomic_int_inc (&slot->ref);
  return slot;
}

void
hkp_slot_unref (HkpSlot *slot)
{
  if (!g_atomic_int_dec_and_test (&slot->ref))
    return;
  /* No chain holds the slot any more, so nobody can be inside its gate. */
  hkp_gate_free ((HkpGate *) hkp_guard_swap (&slot->gate, NULL));
  g_clear_pointer ((HkpTimedQueue **) &slot->parked_deadlines, hkp_timed_queue_free);
  g_mutex_clear (&slot->lock);
  g_ptr_array_unref (slot->stuck);
  hkp_latency_free (slot->call_durations);
  g_free (slot->name);
  g_free (slot);
}

void
hkp_slot_record_call (HkpSlot *slot, gint64 duration_usec, gboolean timed_out)
{
  hkp_latency_observe (slot->call_durations, duration_usec);
  if (timed_out)
    __atomic_fetch_add (&slot->timed_out, 1, __ATOMIC_RELAXED);
}

void
hkp_slot_add_stuck (HkpSlot *slot, HkpGate *gate)
{
  g_mutex_lock (&slot->lock);
  g_ptr_array_add (slot->stuck, gate);
  g_mutex_unlock (&slot->lock);
}

void
hkp_slot_remove_stuck (HkpSlot *slot, HkpGate *gate)
{
  g_mutex_lock (&slot->lock);
  g_ptr_array_remove_fast (slot->stuck, gate);
  g_mutex_unlock (&slot->lock);
}

guint
hkp_slot_count_stuck (HkpSlot *slot, guint64 *requests)
{
  guint n;

  g_mutex_lock (&slot->lock);
  n = slot->stuck->len;
  if (requests != NULL)
    {
      *requests = 0;
      for (guint i = 0; i < n; i++)
        *requests += (guint64) MAX (hkp_gate_retired_requests (slot->stuck->pdata[i]), 0);
    }
  g_mutex_unlock (&slot->lock);
  return n;
}

void
hkp_gate_free_drained (HkpGuarded *gate, gpointer user_data)
{
  hkp_gate_free ((HkpGate *) gate);
}

void
hkp_slot_swap_gate (HkpSlot *slot, HkpGate *gate, HkpGuardRetired drained, gpointer user_data)
{
  HkpGate *previous = hkp_slot_peek_gate (slot);
  HkpParked *parked;

  /* Only this thread swaps, so previous is still current: arm it before it can retire. */
  previous->guard.retired = drained;
  previous->guard.retired_data = user_data;
  hkp_guard_swap (&slot->gate, &gate->guard);
  g_mutex_lock (&slot->lock);
  g_atomic_int_inc (&slot->generation);
  parked = g_steal_pointer (&slot->parked);
  g_mutex_unlock (&slot->lock);
  while (parked != NULL)
    {
      HkpParked *next = parked->next;
      parked->resume (parked);
      parked = next;
    }
}

HkpGate *
hkp_slot_peek_gate (HkpSlot *slot)
{
  return (HkpGate *) hkp_guard_peek (&slot->gate);
}

guint64
hkp_slot_current_requests (HkpSlot *slot)
{
  return hkp_guard_current_readers (&slot->gate);
}

gint64
hkp_gate_retired_requests (HkpGate *gate)
{
  return hkp_guard_retired_readers (&gate->guard);
}
