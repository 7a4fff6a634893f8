/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-rate-limit.h"

void
hkp_rate_limit_init (HkpRateLimit *limit, gdouble burst, gdouble rate)
{
  *limit = (HkpRateLimit){ .burst = burst, .rate = rate };
}

gboolean
hkp_rate_limit_take (HkpRateLimit *limit, gint64 now)
{
  limit->tokens = limit->refilled == 0
    ? limit->burst
    : MIN (limit->burst, limit->tokens + (gdouble) (now - limit->refilled) * limit->rate / G_USEC_PER_SEC);
  limit->refilled = now;
  if (limit->tokens < 1)
    {
      limit->dropped++;
      return FALSE;
    }
  limit->tokens -= 1;
  return TRUE;
}

guint64
hkp_rate_limit_take_dropped (HkpRateLimit *limit)
{
  guint64 dropped = limit->dropped;

  limit->dropped = 0;
  return dropped;
}
