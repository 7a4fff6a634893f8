/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "hkp-slot.h"

G_BEGIN_DECLS

/* How a drain ended. */
typedef struct {
  guint cancelled; /* requests still inside when the timeout passed, then cancelled */
  gboolean stuck; /* cancelled calls had not returned after the grace period */
  gint64 duration_usec;
} HkpDrainResult;

/* Called on the main context with a retired gate whose drain was reported stuck, once it finally empties; owns gate. */
typedef void (*HkpDrainLate) (HkpGate *gate, const char *plugin_name);

/*
 * Installs new_gate in slot and drains the gate it replaces, without
 * blocking: completes on the calling thread's main context once no request
 * is inside the old gate.  If timeout_sec passes first, the calls inside are
 * cancelled (they see request->cancelled) and counted, and the drain waits
 * up to grace_sec more for them to return; if they have not, it completes
 * as stuck and hands the gate to late when it empties.
 */
void hkp_drain_swap_async (HkpSlot *slot, HkpGate *new_gate, gdouble timeout_sec, gdouble grace_sec, HkpDrainLate late,
                           GAsyncReadyCallback callback, gpointer user_data);

/*
 * Finishes a drain: fills result and returns the drained old gate (caller
 * owns it, to shut its instance down), or NULL if the drain was stuck.
 */
HkpGate *hkp_drain_swap_finish (GAsyncResult *result, HkpDrainResult *out);

G_END_DECLS
