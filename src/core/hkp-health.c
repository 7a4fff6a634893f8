/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-health.h"

#include <string.h>

static const char *const status_names[] = {
  [HKP_HEALTH_STATUS_UNKNOWN] = "unknown",
  [HKP_HEALTH_STATUS_HEALTHY] = "healthy",
  [HKP_HEALTH_STATUS_DEGRADED] = "degraded",
  [HKP_HEALTH_STATUS_UNHEALTHY] = "unhealthy",
  [HKP_HEALTH_STATUS_TRANSITIONING] = "transitioning",
};
G_STATIC_ASSERT (G_N_ELEMENTS (status_names) == HKP_HEALTH_N_STATUSES);

const char *
hkp_health_status_to_string (HkpHealthStatus status)
{
  return (guint) status < HKP_HEALTH_N_STATUSES ? status_names[status] : "unhealthy";
}

static void
check_free (HkpHealthCheck *check)
{
  g_free (check->key);
  g_free (check->text);
  g_free (check);
}

void
hkp_health_init (HkpHealth *health)
{
  health->status = HKP_HEALTH_STATUS_UNKNOWN;
  health->message = g_strdup ("");
  health->checks = g_ptr_array_new_with_free_func ((GDestroyNotify) check_free);
  health->last_check_usec = 0;
  health->consecutive_failures = 0;
}

void
hkp_health_clear (HkpHealth *health)
{
  g_clear_pointer (&health->message, g_free);
  g_clear_pointer (&health->checks, g_ptr_array_unref);
  memset (health, 0, sizeof *health);
}

void
hkp_health_copy (HkpHealth *dest, const HkpHealth *src)
{
  hkp_health_clear (dest);
  hkp_health_init (dest);
  dest->status = src->status;
  g_free (dest->message);
  dest->message = g_strdup (src->message);
  for (guint i = 0; i < src->checks->len; i++)
    {
      const HkpHealthCheck *from = src->checks->pdata[i];
      HkpHealthCheck *to = g_new0 (HkpHealthCheck, 1);
      to->key = g_strdup (from->key);
      to->is_int = from->is_int;
      to->int_value = from->int_value;
      to->text = g_strdup (from->text);
      g_ptr_array_add (dest->checks, to);
    }
  dest->last_check_usec = src->last_check_usec;
  dest->consecutive_failures = src->consecutive_failures;
}
