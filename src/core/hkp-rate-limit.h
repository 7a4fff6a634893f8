/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A token bucket for lines a peer makes us log: burst at once, then rate a
 * second; what it refuses is counted until said.  Not locked: its owner keeps
 * it to one thread, or under a lock of its own.
 */
typedef struct {
  gdouble burst, rate;
  gdouble tokens;
  gint64 refilled; /* monotonic µs, 0 before the first line */
  guint64 dropped; /* refused since hkp_rate_limit_take_dropped() */
} HkpRateLimit;

/* Sets limit to let burst lines through at once, then rate a second. */
void hkp_rate_limit_init (HkpRateLimit *limit, gdouble burst, gdouble rate);

/* Takes a token at now (monotonic µs): TRUE if the line may pass; otherwise counts it as dropped. */
gboolean hkp_rate_limit_take (HkpRateLimit *limit, gint64 now);

/* Returns how many lines were dropped since this was last asked, and forgets them. */
guint64 hkp_rate_limit_take_dropped (HkpRateLimit *limit);

G_END_DECLS
