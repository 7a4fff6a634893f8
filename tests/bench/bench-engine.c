/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Engine figures (printed, not pass/fail):
 *   gate enter+leave ns/op on 1 and 2 threads       (target ≤ 50 ns single-threaded)
 *   recording a plugin call's duration ns/op on 1 and 2 threads (target ≤ 20 ns single-threaded)
 *   request through 0, 1 and 3 no-op plugins ns/op  (0: the walk alone, target ≤ 300 ns.  1 and 3: one request
 *                                                    at a time, each waited for on a condition variable: about
 *                                                    27 µs here for 1 and for 3, in hosts or with
 *                                                    HKP_TEST_ISOLATION=none: a cost per request, not per plugin.
 *                                                    No target: under load, bench-isolation.sh has the figures)
 *   reload of an idle plugin, median µs             (target ≤ 2 ms)
 *   1000 plugins: load time and RSS growth          (targets ≤ 1 s, ≤ 64 MiB)
 * Run: meson configure build -Dbenchmarks=true && ninja -C build && build/tests/bench/bench-engine
 */
#include <stdio.h>
#include <string.h>

#include "hkp-engine.h"
#include "hkp-slot.h"
#include "hkp-test-engine.h"

#define GATE_OPS 20000000
#define CHAIN_OPS 2000000 /* through no plugin; through plugins, a hundredth: each call is a thread hand-off */
#define RECORD_OPS 20000000
#define RELOADS 200

/* One thread's share of a benchmark on one slot. */
typedef struct {
  HkpSlot *slot;
  guint64 ops;
  gint64 elapsed_ns;
} SlotRun;

/*
 * Runs func (each thread's loop stays its own, so no indirect call is
 * timed) on threads threads sharing a new slot, total ops among them;
 * returns the slowest thread's ns per op.
 */
static double
run_on_slot (GThreadFunc func, guint64 total, guint threads)
{
  g_autoptr (HkpSlot) slot = hkp_slot_new ("bench", HKP_GATE_SKIP, HKP_FAILURE_CLOSED);
  SlotRun runs[2];
  GThread *handles[2];
  gint64 worst = 0;

  g_assert_cmpuint (threads, <=, G_N_ELEMENTS (runs));
  for (guint i = 0; i < threads; i++)
    {
      runs[i] = (SlotRun){ .slot = slot, .ops = total / threads };
      handles[i] = g_thread_new ("bench", func, &runs[i]);
    }
  for (guint i = 0; i < threads; i++)
    {
      g_thread_join (handles[i]);
      worst = MAX (worst, runs[i].elapsed_ns);
    }
  return (double) worst / (total / threads);
}

static gpointer
gate_thread (gpointer data)
{
  SlotRun *run = data;
  gint64 start = g_get_monotonic_time ();

  for (guint64 i = 0; i < run->ops; i++)
    {
      HkpGuarded *gate = hkp_guard_enter (&run->slot->gate);
      hkp_guard_leave (&run->slot->gate, gate);
    }
  run->elapsed_ns = (g_get_monotonic_time () - start) * 1000;
  return NULL;
}

static void
bench_gate (guint threads)
{
  double ns = run_on_slot (gate_thread, GATE_OPS, threads);

  printf ("gate enter+leave, %u thread%s: %.1f ns/op per thread (%.1f M ops/s in all)\n", threads,
          threads > 1 ? "s" : "", ns, threads / ns * 1e3);
}

typedef struct {
  HkpEngine *engine;
  guint ops;
  gint64 elapsed_ns;
} ChainRun;

static gpointer
chain_thread (gpointer data)
{
  ChainRun *run = data;
  HkpCheckRequest request = {
    .method = "GET", .path = "/pks/lookup", .query = "op=get&search=0x1234", .client_address = "192.0.2.1"
  };
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < run->ops; i++)
    {
      HkpCheckResult result;
      hkp_engine_check (run->engine, &request, &result);
      hkp_check_result_clear (&result);
    }
  run->elapsed_ns = (g_get_monotonic_time () - start) * 1000;
  return NULL;
}

static void
bench_chain (guint n_plugins)
{
  EngineFixture f = { 0 };
  ChainRun run = { 0 };

  engine_fixture_setup (&f, NULL);
  for (guint i = 0; i < n_plugins; i++)
    {
      g_autofree char *name = g_strdup_printf ("noop%u", i);
      engine_fixture_write_plugin (&f, name, "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"continue\"}}");
    }
  engine_fixture_start (&f, NULL);
  run.engine = f.engine;
  run.ops = n_plugins == 0 ? CHAIN_OPS : CHAIN_OPS / 100;
  /* Requests never run on the engine's main thread. */
  g_thread_join (g_thread_new ("chain", chain_thread, &run));
  printf ("request through %u no-op plugin%s: %.1f ns/op\n", n_plugins, n_plugins == 1 ? "" : "s",
          (double) run.elapsed_ns / run.ops);
  engine_fixture_teardown (&f, NULL);
}

static gpointer
record_thread (gpointer data)
{
  SlotRun *run = data;
  gint64 start = g_get_monotonic_time ();

  for (guint64 i = 0; i < run->ops; i++)
    hkp_slot_record_call (run->slot, (gint64) (i & 1023), FALSE);
  run->elapsed_ns = (g_get_monotonic_time () - start) * 1000;
  return NULL;
}

/* What recording its duration costs each plugin call, on threads recording into one slot at once. */
static void
bench_record (guint threads)
{
  printf ("call duration recorded, %u thread%s: %.1f ns/op per thread\n", threads, threads > 1 ? "s" : "",
          run_on_slot (record_thread, RECORD_OPS, threads));
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
bench_reload (void)
{
  EngineFixture f = { 0 };
  gint64 times[RELOADS];

  engine_fixture_setup (&f, NULL);
  engine_fixture_write_plugin (&f, "idle", "{\"module\": \"answer.so\"}");
  engine_fixture_start (&f, NULL);
  for (guint i = 0; i < RELOADS; i++)
    {
      g_autoptr (GAsyncResult) result = NULL;
      gint64 start = g_get_monotonic_time ();
      hkp_engine_reload_async (f.engine, "idle", hkp_test_store_result, &result);
      hkp_test_wait_result (&result);
      g_assert_true (hkp_engine_reload_finish (f.engine, result, NULL));
      times[i] = g_get_monotonic_time () - start;
      engine_fixture_wait_idle (&f);
    }
  qsort (times, RELOADS, sizeof times[0], (int (*) (const void *, const void *)) compare_gint64);
  printf ("reload of an idle plugin (overlap): median %" G_GINT64_FORMAT " µs, p90 %" G_GINT64_FORMAT " µs over %d\n",
          times[RELOADS / 2], times[RELOADS * 9 / 10], RELOADS);
  engine_fixture_teardown (&f, NULL);
}

static gint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) || (line = strstr (status, "VmRSS:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("VmRSS:"), NULL, 10);
}

static void
bench_many (guint n)
{
  EngineFixture f = { 0 };
  gint64 rss_before, start, elapsed;
  g_autoptr (GPtrArray) list = NULL;
  guint active = 0;

  engine_fixture_setup (&f, NULL);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("p%04u", i);
      engine_fixture_write_plugin (&f, name, "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"continue\"}}");
    }
  rss_before = rss_kib ();
  start = g_get_monotonic_time ();
  engine_fixture_start (&f, NULL);
  elapsed = g_get_monotonic_time () - start;
  list = hkp_engine_list_plugins (f.engine);
  for (guint i = 0; i < list->len; i++)
    active += hkp_plugin_get_state (list->pdata[i]) == HKP_PLUGIN_STATE_ACTIVE;
  printf ("%u plugins: loaded (%u active) in %.3f s, RSS grew by %.1f MiB\n", n, active, elapsed / 1e6,
          (rss_kib () - rss_before) / 1024.0);
  engine_fixture_teardown (&f, NULL);
}

int
main (int argc, char **argv)
{
  /* Quiet: only warnings and worse reach the terminal. */
  g_setenv ("HKP_TEST_QUIET", "1", TRUE);
  /* The engine's own costs: plugins in process unless asked (bench-host and bench-isolation.sh measure hosts). */
  g_setenv ("HKP_TEST_ISOLATION", "none", FALSE);
  hkp_test_log_capture_install ();

  bench_gate (1);
  bench_gate (2);
  bench_record (1);
  bench_record (2);
  bench_chain (0);
  bench_chain (1);
  bench_chain (3);
  bench_reload ();
  bench_many (1000);
  return 0;
}
