/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  HKP_HEALTH_STATUS_UNKNOWN, /* not checked (yet), or not loaded */
  HKP_HEALTH_STATUS_HEALTHY,
  HKP_HEALTH_STATUS_DEGRADED,
  HKP_HEALTH_STATUS_UNHEALTHY,
  HKP_HEALTH_STATUS_TRANSITIONING, /* loading or reloading */
  HKP_HEALTH_N_STATUSES,
} HkpHealthStatus;

/* One of a plugin's own checks: an integer or a text value. */
typedef struct {
  char *key;
  gboolean is_int;
  gint64 int_value;
  char *text;
} HkpHealthCheck;

/* The result of a plugin's last health check. */
typedef struct {
  HkpHealthStatus status;
  char *message; /* "" if none */
  GPtrArray *checks; /* HkpHealthCheck, the plugin's own */
  gint64 last_check_usec; /* real time of the check, 0 if never */
  guint consecutive_failures; /* unhealthy (or timed-out) checks in a row */
} HkpHealth;

/* Returns the lowercase name of status ("healthy"); static string. */
const char *hkp_health_status_to_string (HkpHealthStatus status);

/* Initialises health as unknown and empty. */
void hkp_health_init (HkpHealth *health);

/* Frees what health holds and zeroes it (clearing a zeroed HkpHealth is harmless). */
void hkp_health_clear (HkpHealth *health);

/* Makes dest a deep copy of src; dest's previous contents, if any, are freed. */
void hkp_health_copy (HkpHealth *dest, const HkpHealth *src);

G_END_DECLS
