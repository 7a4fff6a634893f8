/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: init waits "init_delay_ms" (from the "init_delay_from"th
 * instance made in the process on, default the first); handle sleeps "sleep_ms" in 1 ms
 * steps, returning early once cancelled, then allows.  With
 * "sleep_instances": N, only the first N instances made since the probe was
 * reset sleep (so later instances, after reloads, answer at once).
 * With "ignore_cancel": true, handle sleeps its whole time, cancelled or not.
 * With "signal_fifo": PATH, each call first opens that FIFO and writes a
 * byte, so a test in another process can wait until a call is in flight.
 * Its health reports how many calls it saw, how many were cancelled, and how
 * many arrived after shutdown began (which must stay 0).
 */
#include <fcntl.h>
#include <unistd.h>

#include "hkp-test-probe.h"
#include "test-plugin-util.h"

typedef struct {
  gint64 sleep_ms;
  gboolean ignore_cancel;
  char *signal_fifo;
  gint calls;
  gint cancelled;
  gint after_shutdown;
  gint shutting_down;
} Sleeper;

static int
sleeper_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  Sleeper *sleeper;
  gint64 number;

  if (config == NULL)
    return -1;
  number = hkp_test_probe_next_instance ();
  if (number >= test_plugin_int (config, "init_delay_from", 1))
    g_usleep ((gulong) test_plugin_int (config, "init_delay_ms", 0) * 1000);
  sleeper = g_new0 (Sleeper, 1);
  sleeper->sleep_ms = test_plugin_int (config, "sleep_ms", 0);
  sleeper->ignore_cancel = json_object_get_boolean_member_with_default (config, "ignore_cancel", FALSE);
  sleeper->signal_fifo = g_strdup (test_plugin_string (config, "signal_fifo", NULL));
  if (number > test_plugin_int (config, "sleep_instances", G_MAXINT64))
    sleeper->sleep_ms = 0;
  *instance = sleeper;
  return 0;
}

static hkp_verdict
sleeper_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  Sleeper *sleeper = instance;
  gint64 deadline = g_get_monotonic_time () + sleeper->sleep_ms * 1000;

  if (g_atomic_int_get (&sleeper->shutting_down))
    {
      g_atomic_int_inc (&sleeper->after_shutdown);
      hkp_test_probe_violation ();
    }
  g_atomic_int_inc (&sleeper->calls);
  hkp_test_probe_entered ();
  if (sleeper->signal_fifo != NULL)
    {
      /* Opening blocks until the test opens the other end: then it knows we are here. */
      int fd = open (sleeper->signal_fifo, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          (void) !write (fd, "x", 1);
          close (fd);
        }
    }
  while (g_get_monotonic_time () < deadline)
    {
      if (!sleeper->ignore_cancel && request->cancelled (request))
        {
          g_atomic_int_inc (&sleeper->cancelled);
          hkp_test_probe_cancelled ();
          return HKP_VERDICT_CONTINUE;
        }
      g_usleep (1000);
    }
  return HKP_VERDICT_ALLOW;
}

static hkp_health_status
sleeper_health (void *instance, hkp_health_report *report)
{
  Sleeper *sleeper = instance;

  report->add_check_int (report, "calls", g_atomic_int_get (&sleeper->calls));
  report->add_check_int (report, "cancelled", g_atomic_int_get (&sleeper->cancelled));
  report->add_check_int (report, "after_shutdown", g_atomic_int_get (&sleeper->after_shutdown));
  return HKP_HEALTH_HEALTHY;
}

static void
sleeper_shutdown (void *instance)
{
  Sleeper *sleeper = instance;

  g_atomic_int_set (&sleeper->shutting_down, 1);
  g_clear_pointer (&sleeper->signal_fifo, g_free);
  hkp_test_probe_bury (sleeper);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "sleeper",
  .version = "1.0",
  .description = "Test plugin: slow init and handle, honours cancellation",
  .init = sleeper_init,
  .handle = sleeper_handle,
  .health = sleeper_health,
  .shutdown = sleeper_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
