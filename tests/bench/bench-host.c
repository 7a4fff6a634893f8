/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Plugin host figures (printed, not pass/fail), with real hkp-plugin-host processes:
 *   handle() round trips per second one at a time and pipelined (32 in flight), with the latency
 *   distribution, beside the same call made in process;
 *   how long until a SIGKILLed host is noticed (its calls answered GONE);
 *   how long a fresh host takes from start to its first answer;
 *   RSS and PSS of a host with a plain C plugin, answer.so (GLib, json-glib), ipfilter and ratelimit.
 * Run: meson configure build -Dbenchmarks=true && ninja -C build && build/tests/bench/bench-host
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hkp-host.h"
#include "hkp-plugin.h"

#define SEQUENTIAL 20000
#define PIPELINED 200000
#define IN_FLIGHT 32
#define STARTS 20
#define KILLS 20

typedef struct Run Run;

/* One call of a run: what its callback gets. */
typedef struct {
  Run *run;
  guint index;
} Slot;

struct Run {
  GMutex lock;
  GCond cond;
  HkpHost *host;
  gboolean refill; /* each answer sends the next call */
  guint sent;
  guint done;
  guint total;
  Slot *slots;
  gint64 *latencies; /* ns, per call */
  gint64 *started; /* µs, per call */
  gint64 last_answer; /* µs */
};

static const HkpHostRequest request = {
  .method = "GET",
  .path = "/pks/lookup",
  .query = "op=get&search=0x1234",
  .client_address = "192.0.2.1",
  .headers = (const char *const[]){ "Host", "keys.example", "User-Agent", "bench", NULL },
};

static char *
module (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static HkpHost *
start (const char *name, const char *path, const char *config)
{
  g_autoptr (GError) error = NULL;
  HkpHostSettings settings = {
    .program = HKP_PLUGIN_HOST_BUILD_PATH,
    .plugin_name = name,
    .module_path = path,
    .config_json = config,
    .memory_max_mb = 512,
    .init_timeout_ms = 30000,
  };
  HkpHost *host = hkp_host_start (&settings, &error);

  if (host == NULL)
    g_error ("cannot start a host of %s: %s", path, error->message);
  return host;
}

static void send_one (Run *run);

static void
on_answer (const HkpHostAnswer *answer, gpointer user_data)
{
  Slot *slot = user_data;
  Run *run = slot->run;
  gint64 now = g_get_monotonic_time ();
  gboolean more;

  if (answer->outcome != HKP_HOST_ANSWERED)
    g_error ("call %u: the host did not answer", slot->index);
  g_mutex_lock (&run->lock);
  run->latencies[slot->index] = (now - run->started[slot->index]) * 1000;
  run->done++;
  run->last_answer = now;
  more = run->refill && run->sent < run->total;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
  /* Keep the pipeline full from the I/O thread itself. */
  if (more)
    send_one (run);
}

static void
send_one (Run *run)
{
  guint index;

  g_mutex_lock (&run->lock);
  index = run->sent++;
  run->started[index] = g_get_monotonic_time ();
  g_mutex_unlock (&run->lock);
  hkp_host_handle (run->host, &request, 0, on_answer, &run->slots[index]);
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
print_latencies (gint64 *ns, guint n)
{
  qsort (ns, n, sizeof *ns, compare_gint64);
  printf ("    latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", ns[n / 2] / 1e3, ns[n * 9 / 10] / 1e3,
          ns[n * 99 / 100] / 1e3, ns[n * 999 / 1000] / 1e3, ns[n - 1] / 1e3);
}

/* Sends total requests, in_flight at a time; prints requests/s and latencies. */
static void
bench_round_trips (HkpHost *host, const char *label, guint total, guint in_flight)
{
  Run run = { .host = host, .total = total, .refill = in_flight > 1 };
  gint64 begin;

  g_mutex_init (&run.lock);
  g_cond_init (&run.cond);
  run.latencies = g_new0 (gint64, total);
  run.started = g_new0 (gint64, total);
  run.slots = g_new0 (Slot, total);
  for (guint i = 0; i < total; i++)
    run.slots[i] = (Slot){ &run, i };
  begin = g_get_monotonic_time ();
  if (in_flight == 1)
    for (guint i = 0; i < total; i++)
      {
        send_one (&run);
        g_mutex_lock (&run.lock);
        while (run.done <= i)
          g_cond_wait (&run.cond, &run.lock);
        g_mutex_unlock (&run.lock);
      }
  else
    {
      for (guint i = 0; i < in_flight; i++)
        send_one (&run);
      g_mutex_lock (&run.lock);
      while (run.done < total)
        g_cond_wait (&run.cond, &run.lock);
      g_mutex_unlock (&run.lock);
    }
  printf ("  %s: %.0f round trips/s (%u calls, %u in flight)\n", label, total / ((run.last_answer - begin) / 1e6),
          total, in_flight);
  print_latencies (run.latencies, total);
  g_free (run.latencies);
  g_free (run.started);
  g_free (run.slots);
  g_mutex_clear (&run.lock);
  g_cond_clear (&run.cond);
}

/* The same handle() called in this process, for comparison. */
static void
bench_in_process (const char *path, const char *config)
{
  void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  const hkp_plugin_descriptor *(*entry) (void);
  const hkp_plugin_descriptor *d;
  char error[HKP_PLUGIN_ERROR_SIZE];
  void *instance = NULL;
  hkp_request view = {
    .struct_size = sizeof view, .method = "GET", .path = "/pks/lookup", .query = "", .client_address = "192.0.2.1"
  };
  hkp_response response = { .struct_size = sizeof response };
  const guint calls = 10000000;
  gint64 begin;

  g_assert_nonnull (handle);
  *(void **) &entry = dlsym (handle, HKP_PLUGIN_ENTRY_SYMBOL);
  d = entry ();
  g_assert_cmpint (d->init (config, &instance, error, sizeof error), ==, 0);
  begin = g_get_monotonic_time ();
  for (guint i = 0; i < calls; i++)
    d->handle (instance, &view, &response);
  printf ("  in process, the same handle(): %.1f ns a call\n", (g_get_monotonic_time () - begin) * 1e3 / calls);
  d->shutdown (instance);
}

typedef struct {
  GMutex lock;
  GCond cond;
  gint64 when;
} Ended;

static void
on_gone (const HkpHostAnswer *answer, gpointer user_data)
{
  Ended *ended = user_data;

  g_mutex_lock (&ended->lock);
  ended->when = g_get_monotonic_time ();
  g_cond_signal (&ended->cond);
  g_mutex_unlock (&ended->lock);
}

/* Sends asked to host, its answer (or its end) to come into ended, which this initialises. */
static void
ended_ask (Ended *ended, HkpHost *host, const HkpHostRequest *asked)
{
  memset (ended, 0, sizeof *ended);
  g_mutex_init (&ended->lock);
  g_cond_init (&ended->cond);
  hkp_host_handle (host, asked, 0, on_gone, ended);
}

/* Waits for the answer ended_ask() asked for, clears ended, and returns when it came (monotonic µs). */
static gint64
ended_wait (Ended *ended)
{
  gint64 when;

  g_mutex_lock (&ended->lock);
  while (ended->when == 0)
    g_cond_wait (&ended->cond, &ended->lock);
  when = ended->when;
  g_mutex_unlock (&ended->lock);
  g_mutex_clear (&ended->lock);
  g_cond_clear (&ended->cond);
  return when;
}

static void
print_spread (const char *label, gint64 *us, guint n)
{
  qsort (us, n, sizeof *us, compare_gint64);
  printf ("  %s: median %.2f ms, min %.2f ms, max %.2f ms (%u runs)\n", label, us[n / 2] / 1e3, us[0] / 1e3,
          us[n - 1] / 1e3, n);
}

/* SIGKILL a host with a call in flight: how long until the call is answered GONE. */
static void
bench_kill (const char *path)
{
  gint64 spans[KILLS];

  for (guint i = 0; i < KILLS; i++)
    {
      g_autoptr (HkpHost) host = start ("bench", path, "{}");
      Ended ended;
      HkpHostRequest slow = { .method = "GET", .path = "/slow", .query = "sleep_ms=600000" };
      gint64 killed;

      ended_ask (&ended, host, &slow);
      killed = g_get_monotonic_time ();
      kill (hkp_host_get_pid (host), SIGKILL);
      spans[i] = ended_wait (&ended) - killed;
    }
  print_spread ("SIGKILLed host noticed (call answered GONE)", spans, KILLS);
}

/* A fresh host: from hkp_host_start() to its first answer. */
static void
bench_start (const char *label, const char *path, const char *config)
{
  gint64 spans[STARTS];

  for (guint i = 0; i < STARTS; i++)
    {
      gint64 begin = g_get_monotonic_time ();
      g_autoptr (HkpHost) host = start ("bench", path, config);
      Ended ended;

      ended_ask (&ended, host, &request);
      spans[i] = ended_wait (&ended) - begin;
      hkp_host_stop (host, 5000);
    }
  print_spread (label, spans, STARTS);
}

/* Returns a value in kB from a /proc/PID file ("VmRSS:" in status, "Pss:" in smaps_rollup). */
static gint64
proc_kb (GPid pid, const char *file, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", pid, file);
  g_autofree char *contents = NULL;
  g_autofree char *needle = g_strdup_printf ("\n%s", key);
  const char *at;

  if (!g_file_get_contents (path, &contents, NULL, NULL) || (at = strstr (contents, needle)) == NULL)
    return -1;
  return g_ascii_strtoll (at + strlen (needle), NULL, 10);
}

static void
bench_rss (const char *label, const char *path, const char *config)
{
  g_autoptr (HkpHost) host = start ("bench", path, config);
  Ended ended;

  /* One answered call, so the worker threads have run. */
  ended_ask (&ended, host, &request);
  ended_wait (&ended);
  printf ("  %-34s RSS %5.2f MiB  PSS %5.2f MiB\n", label,
          proc_kb (hkp_host_get_pid (host), "status", "VmRSS:") / 1024.0,
          proc_kb (hkp_host_get_pid (host), "smaps_rollup", "Pss:") / 1024.0);
  hkp_host_stop (host, 5000);
}

int
main (void)
{
  g_autofree char *answer = module (HKP_TEST_PLUGIN_BUILD_DIR, "answer.so");
  g_autofree char *misbehave = module (HKP_TEST_PLUGIN_BUILD_DIR, "misbehave.so");
  g_autofree char *plain = module (HKP_TEST_PLUGIN_BUILD_DIR, "manpage-example.so");
  g_autofree char *ipfilter = module (HKP_SHIPPED_PLUGIN_DIR, "ipfilter.so");
  g_autofree char *ratelimit = module (HKP_SHIPPED_PLUGIN_DIR, "ratelimit.so");
  const char *ratelimit_config = "{\"enabled\": true, \"lookup\": {\"requests_per_second\": 1000000, \"burst\": "
                                 "1000000}}";
  HkpHost *host;

  printf ("handle() through a host (answer.so, verdict continue):\n");
  host = start ("bench", answer, "{}");
  bench_round_trips (host, "one at a time", SEQUENTIAL, 1);
  bench_round_trips (host, "pipelined", PIPELINED, IN_FLIGHT);
  hkp_host_stop (host, 5000);
  hkp_host_unref (host);
  bench_in_process (answer, "{}");

  printf ("handle() through a host (ratelimit.so, every call counted):\n");
  host = start ("bench", ratelimit, ratelimit_config);
  bench_round_trips (host, "one at a time", SEQUENTIAL, 1);
  bench_round_trips (host, "pipelined", PIPELINED, IN_FLIGHT);
  hkp_host_stop (host, 5000);
  hkp_host_unref (host);

  printf ("crash and start:\n");
  bench_kill (misbehave);
  bench_start ("fresh host answering, answer.so", answer, "{}");
  bench_start ("fresh host answering, ratelimit.so", ratelimit, ratelimit_config);

  printf ("memory of a host (after one call):\n");
  bench_rss ("plain C plugin (manpage-example)", plain, "{}");
  bench_rss ("answer.so (GLib, json-glib)", answer, "{}");
  bench_rss ("ipfilter.so", ipfilter, "{\"enabled\": true}");
  bench_rss ("ratelimit.so", ratelimit, ratelimit_config);
  return 0;
}
