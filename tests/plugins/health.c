/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: health answers as configured: "health" is healthy, degraded,
 * unhealthy or hang (sleep "hang_ms", default 60000, then healthy; each hang
 * counts as an entry for the probe), with "message".
 */
#include "hkp-test-probe.h"
#include "test-plugin-util.h"

typedef enum { ANSWER_HEALTHY, ANSWER_DEGRADED, ANSWER_UNHEALTHY, ANSWER_HANG } HealthAnswer;

typedef struct {
  HealthAnswer answer;
  char *message;
  gint64 hang_ms;
  gint checks;
} Health;

static gboolean
parse_answer (const char *text, HealthAnswer *out)
{
  static const char *const names[] = { "healthy", "degraded", "unhealthy", "hang" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (text, names[i]))
      {
        *out = (HealthAnswer) i;
        return TRUE;
      }
  return FALSE;
}

static int
health_validate (const char *config_json, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  HealthAnswer answer;

  if (config == NULL)
    return -1;
  if (!parse_answer (test_plugin_string (config, "health", "healthy"), &answer))
    {
      snprintf (error, error_size, "key \"health\" must be healthy, degraded, unhealthy or hang");
      return -1;
    }
  return 0;
}

static int
health_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  Health *health;

  if (config == NULL)
    return -1;
  health = g_new0 (Health, 1);
  parse_answer (test_plugin_string (config, "health", "healthy"), &health->answer);
  health->message = g_strdup (test_plugin_string (config, "message", ""));
  health->hang_ms = test_plugin_int (config, "hang_ms", 60000);
  *instance = health;
  return 0;
}

static hkp_verdict
health_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  return HKP_VERDICT_CONTINUE;
}

static hkp_health_status
health_health (void *instance, hkp_health_report *report)
{
  Health *health = instance;

  report->add_check_int (report, "checks", g_atomic_int_add (&health->checks, 1) + 1);
  if (health->message[0] != '\0')
    report->set_message (report, health->message);
  switch (health->answer)
    {
    case ANSWER_DEGRADED:
      return HKP_HEALTH_DEGRADED;
    case ANSWER_UNHEALTHY:
      return HKP_HEALTH_UNHEALTHY;
    case ANSWER_HANG:
      hkp_test_probe_entered ();
      g_usleep ((gulong) health->hang_ms * 1000);
      return HKP_HEALTH_HEALTHY;
    case ANSWER_HEALTHY:
    default:
      return HKP_HEALTH_HEALTHY;
    }
}

static void
health_shutdown (void *instance)
{
  Health *health = instance;

  g_free (health->message);
  g_free (health);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "health",
  .version = "1.0",
  .description = "Test plugin: configurable health",
  .init = health_init,
  .validate_config = health_validate,
  .handle = health_handle,
  .health = health_health,
  .shutdown = health_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
