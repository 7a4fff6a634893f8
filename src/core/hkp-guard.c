/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-guard.h"

/* Linux keeps user-space addresses below 2^47 on every 64-bit architecture it runs us on. */
#define READER_SHIFT 48
#define READER_ONE (G_GUINT64_CONSTANT (1) << READER_SHIFT)
#define POINTER_MASK (READER_ONE - 1)

G_STATIC_ASSERT (sizeof (guintptr) == 8);

static inline HkpGuarded *
word_pointer (guint64 word)
{
  return (HkpGuarded *) (guintptr) (word & POINTER_MASK);
}

HkpGuarded *
hkp_guard_enter (HkpGuardBox *box)
{
  return word_pointer (__atomic_fetch_add (&box->word, READER_ONE, __ATOMIC_SEQ_CST));
}

void
hkp_guard_leave (HkpGuardBox *box, HkpGuarded *object)
{
  guint64 current = __atomic_load_n (&box->word, __ATOMIC_SEQ_CST);

  /* Still current: give the count back to the box. */
  while (word_pointer (current) == object)
    if (__atomic_compare_exchange_n (&box->word, &current, current - READER_ONE, FALSE, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST))
      return;

  /* Replaced: the swapper moved our count onto the object; the last one out retires it. */
  if (object != NULL && __atomic_sub_fetch (&object->readers, 1, __ATOMIC_SEQ_CST) == 0 && object->retired != NULL)
    object->retired (object, object->retired_data);
}

HkpGuarded *
hkp_guard_swap (HkpGuardBox *box, HkpGuarded *object)
{
  guint64 old;
  HkpGuarded *previous;
  gint64 readers;

  g_assert (((guintptr) object & ~POINTER_MASK) == 0);
  old = __atomic_exchange_n (&box->word, (guint64) (guintptr) object, __ATOMIC_SEQ_CST);
  previous = word_pointer (old);
  readers = (gint64) (old >> READER_SHIFT);
  if (previous != NULL && __atomic_add_fetch (&previous->readers, readers, __ATOMIC_SEQ_CST) == 0 &&
      previous->retired != NULL)
    previous->retired (previous, previous->retired_data);
  return previous;
}

HkpGuarded *
hkp_guard_peek (HkpGuardBox *box)
{
  return word_pointer (__atomic_load_n (&box->word, __ATOMIC_SEQ_CST));
}

guint64
hkp_guard_current_readers (HkpGuardBox *box)
{
  return __atomic_load_n (&box->word, __ATOMIC_SEQ_CST) >> READER_SHIFT;
}

gint64
hkp_guard_retired_readers (HkpGuarded *object)
{
  return __atomic_load_n (&object->readers, __ATOMIC_SEQ_CST);
}
