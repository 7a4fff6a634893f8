/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A pointer that many threads read without locks while one thread replaces
 * it, and whose old values are known to be unused before they are freed
 * (a split reference count).  The box packs the pointer and the number of
 * readers that entered through it into one 64-bit word: entering is one
 * atomic add; leaving is one compare-and-swap while the pointer is current,
 * or one atomic subtract on the object once it has been replaced.  When the
 * last reader of a replaced object leaves, its retired callback runs — on
 * that reader's thread, or inside hkp_guard_swap() if nobody was reading.
 *
 * Guarded objects embed HkpGuarded as their first member.  An object is put
 * in a box at most once.
 */
typedef struct _HkpGuarded HkpGuarded;
typedef void (*HkpGuardRetired) (HkpGuarded *object, gpointer user_data);

struct _HkpGuarded {
  gint64 readers; /* readers left after retirement (transferred count minus early leavers) */
  HkpGuardRetired retired; /* called once, when retired and unread; may be NULL */
  gpointer retired_data;
};

typedef struct {
  guint64 word; /* object pointer | readers << 48 */
} HkpGuardBox;

/* Enters box: returns its current object (may be NULL), which stays valid until hkp_guard_leave(). */
HkpGuarded *hkp_guard_enter (HkpGuardBox *box);

/* Leaves object, entered through box. */
void hkp_guard_leave (HkpGuardBox *box, HkpGuarded *object);

/* Puts object in box and returns the previous object, now retired (its callback pending or already run). */
HkpGuarded *hkp_guard_swap (HkpGuardBox *box, HkpGuarded *object);

/* Returns the box's current object without entering it: only for the thread that swaps. */
HkpGuarded *hkp_guard_peek (HkpGuardBox *box);

/* Returns how many readers are inside the box's current object now. */
guint64 hkp_guard_current_readers (HkpGuardBox *box);

/* Returns how many readers are still inside a retired object. */
gint64 hkp_guard_retired_readers (HkpGuarded *object);

G_END_DECLS
