/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plugin host with real hkp-plugin-host processes and real modules:
 * answers, pipelining, cancellation, health and validation; each kind of
 * misbehaviour (crash, exit, hang, spin, stuck health, a forbidden system
 * call, too much memory) reported with the right reason; the confinement seen
 * from /proc; death with the parent; log lines; clean stops; protocol
 * version mismatches on both sides.
 */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hkp-error.h"
#include "hkp-host-protocol.h"
#include "hkp-host.h"
#include "hkp-plugin.h"
#include "hkp-test-util.h"

#define WAIT_LIMIT_USEC (60 * G_USEC_PER_SEC)
/* "At once" for a test on a loaded 2-core machine: far below any timeout involved, far above a scheduling hiccup. */
#define PROMPT_USEC (2 * G_USEC_PER_SEC)
/* The longest error a host's message may make: the message kept, and what the daemon says around it. */
#define HOST_MESSAGE_BOUND (HKP_HOST_MESSAGE_MAX + 64)

/* ---- helpers --------------------------------------------------------------------------------------------------- */

static const char *
host_program (void)
{
  const char *program = g_getenv ("HKP_PLUGIN_HOST");

  g_assert_nonnull (program);
  return program;
}

static char *
module_path (const char *module)
{
  const char *dir = g_str_has_prefix (module, "shipped:") ? g_getenv ("HKP_SHIPPED_PLUGIN_DIR")
                                                          : hkp_test_plugin_build_dir ();

  if (g_str_has_prefix (module, "shipped:"))
    module += strlen ("shipped:");
  return g_build_filename (dir, module, NULL);
}

/* The sanitizers' settings, passed on so a host under ASan is leak-checked with the suite's suppressions. */
static GStrv
sanitizer_environment (void)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (g_getenv ("LSAN_OPTIONS") != NULL)
    {
      g_autofree char *entry = g_strdup_printf ("LSAN_OPTIONS=%s", g_getenv ("LSAN_OPTIONS"));
      g_strv_builder_add (builder, entry);
    }
  return g_strv_builder_end (builder);
}

/* Starts a host of plugin name from module with config; settings, if given, adds memory, grace and environment. */
static HkpHost *
start_host_full (const char *name, const char *module, const char *config, const HkpHostSettings *extra, GError **error)
{
  g_autofree char *path = module_path (module);
  g_auto (GStrv) environment = sanitizer_environment ();
  HkpHostSettings settings = {
    .program = host_program (),
    .plugin_name = name,
    .module_path = path,
    .config_json = config,
    .init_timeout_ms = 30000,
    .environment = (const char *const *) environment,
  };

  if (extra != NULL)
    {
      settings.memory_max_mb = extra->memory_max_mb;
      settings.grace_ms = extra->grace_ms;
      if (extra->init_timeout_ms != 0)
        settings.init_timeout_ms = extra->init_timeout_ms;
      if (extra->environment != NULL)
        settings.environment = extra->environment[0] != NULL ? extra->environment : NULL;
      if (extra->program != NULL)
        settings.program = extra->program;
    }
  return hkp_host_start (&settings, error);
}

static HkpHost *
start_host (const char *name, const char *module, const char *config)
{
  g_autoptr (GError) error = NULL;
  HkpHost *host = start_host_full (name, module, config, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (host);
  return host;
}

/* One call's outcome, filled on the I/O thread. */
typedef struct Calls Calls;

typedef struct {
  Calls *calls;
  gboolean done;
  guint order; /* 1 for the first call answered */
  gint64 when;
  HkpHostOutcome outcome;
  int verdict;
  int status;
  char *reason;
  GStrv headers;
} Result;

/* The calls a test makes and the host's end, waited for with a condition variable. */
struct Calls {
  GMutex lock;
  GCond cond;
  Result *results;
  guint n;
  guint answered;
  char *why;
  guint in_flight;
  gint64 ended;
};

static Calls *
calls_new (guint n)
{
  Calls *calls = g_new0 (Calls, 1);

  g_mutex_init (&calls->lock);
  g_cond_init (&calls->cond);
  calls->results = g_new0 (Result, n);
  calls->n = n;
  for (guint i = 0; i < n; i++)
    calls->results[i].calls = calls;
  return calls;
}

static void
calls_free (Calls *calls)
{
  for (guint i = 0; i < calls->n; i++)
    {
      g_free (calls->results[i].reason);
      g_strfreev (calls->results[i].headers);
    }
  g_free (calls->results);
  g_free (calls->why);
  g_mutex_clear (&calls->lock);
  g_cond_clear (&calls->cond);
  g_free (calls);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Calls, calls_free)

static void
on_answer (const HkpHostAnswer *answer, gpointer user_data)
{
  Result *result = user_data;
  Calls *calls = result->calls;

  g_mutex_lock (&calls->lock);
  g_assert_false (result->done); /* exactly once */
  result->done = TRUE;
  result->order = ++calls->answered;
  result->when = g_get_monotonic_time ();
  result->outcome = answer->outcome;
  result->verdict = answer->verdict;
  result->status = answer->status;
  result->reason = g_strdup (answer->reason);
  result->headers = g_strdupv ((GStrv) answer->headers);
  g_cond_broadcast (&calls->cond);
  g_mutex_unlock (&calls->lock);
}

static void
on_host_exit (HkpHost *host, const char *why, guint in_flight, gpointer user_data)
{
  Calls *calls = user_data;

  g_mutex_lock (&calls->lock);
  g_assert_null (calls->why); /* once */
  calls->why = g_strdup (why);
  calls->in_flight = in_flight;
  calls->ended = g_get_monotonic_time ();
  g_cond_broadcast (&calls->cond);
  g_mutex_unlock (&calls->lock);
}

/* Waits until n calls are answered. */
static void
calls_wait (Calls *calls, guint n)
{
  gint64 limit = g_get_monotonic_time () + WAIT_LIMIT_USEC;

  g_mutex_lock (&calls->lock);
  while (calls->answered < n)
    g_assert_true (g_cond_wait_until (&calls->cond, &calls->lock, limit));
  g_mutex_unlock (&calls->lock);
}

/* Waits until the exit handler ran. */
static void
calls_wait_exit (Calls *calls)
{
  gint64 limit = g_get_monotonic_time () + WAIT_LIMIT_USEC;

  g_mutex_lock (&calls->lock);
  while (calls->why == NULL)
    g_assert_true (g_cond_wait_until (&calls->cond, &calls->lock, limit));
  g_mutex_unlock (&calls->lock);
}

static const char *
result_header (const Result *result, const char *name)
{
  for (guint i = 0; result->headers != NULL && result->headers[i] != NULL; i += 2)
    if (g_ascii_strcasecmp (result->headers[i], name) == 0)
      return result->headers[i + 1];
  return NULL;
}

/* Sends GET path?query with X-Id: index, answered into calls->results[index]. */
static guint64
send_request (HkpHost *host, Calls *calls, guint index, const char *path, const char *query, gint64 deadline)
{
  g_autofree char *id = g_strdup_printf ("%u", index);
  const char *headers[] = { "X-Id", id, NULL };
  HkpHostRequest request = {
    .method = "GET", .path = path, .query = query, .client_address = "192.0.2.1", .headers = headers
  };

  g_assert_cmpuint (index, <, calls->n);
  return hkp_host_handle (host, &request, deadline, on_answer, &calls->results[index]);
}

/* ---- answers ------------------------------------------------------------------------------------------------------ */

static void
test_answer (void)
{
  g_autoptr (HkpHost) host = start_host (
    "answer", "answer.so",
    "{\"verdict\": \"deny\", \"status\": 429, \"reason\": \"slow down\", \"headers\": {\"Retry-After\": \"7\"}, "
    "\"echo\": true}");
  g_autoptr (Calls) calls = calls_new (1);
  const char *headers[] = { "Accept", "*/*", "x-test", "hello", NULL };
  HkpHostRequest request = {
    .method = "POST", .path = "/pks/add", .query = "a=b", .client_address = "2001:db8::1", .headers = headers
  };
  const Result *r = &calls->results[0];

  g_assert_cmpstr (hkp_host_get_module_name (host), ==, "answer");
  g_assert_cmpstr (hkp_host_get_module_version (host), ==, "1.0");
  g_assert_cmpstr (hkp_host_get_module_description (host), ==, "Test plugin: answers every request as its config says");
  g_assert_cmpint (hkp_host_get_pid (host), >, 0);

  hkp_host_handle (host, &request, 0, on_answer, &calls->results[0]);
  calls_wait (calls, 1);
  g_assert_cmpint (r->outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpint (r->verdict, ==, HKP_VERDICT_DENY);
  g_assert_cmpint (r->status, ==, 429);
  g_assert_cmpstr (r->reason, ==, "slow down");
  g_assert_cmpstr (result_header (r, "Retry-After"), ==, "7");
  g_assert_cmpstr (result_header (r, "X-Seen-Method"), ==, "POST");
  g_assert_cmpstr (result_header (r, "X-Seen-Path"), ==, "/pks/add");
  g_assert_cmpstr (result_header (r, "X-Seen-Query"), ==, "a=b");
  g_assert_cmpstr (result_header (r, "X-Seen-Client"), ==, "2001:db8::1");
  /* The header lookup is case-insensitive, as in process. */
  g_assert_cmpstr (result_header (r, "X-Seen-Test"), ==, "hello");
  g_assert_true (hkp_host_stop (host, 5000));
}

/* Many requests in flight at once, answered out of order, each with its own answer. */
static void
test_pipelined (void)
{
  const guint n = 200;
  g_autoptr (HkpHost) host = start_host ("pipelined", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (n);

  /* The first is slow; the rest overtake it. */
  send_request (host, calls, 0, "/slow", "sleep_ms=300", 0);
  for (guint i = 1; i < n; i++)
    send_request (host, calls, i, "/fast", "", 0);
  calls_wait (calls, n);
  for (guint i = 0; i < n; i++)
    {
      const Result *r = &calls->results[i];
      g_autofree char *id = g_strdup_printf ("%u", i);
      g_assert_cmpint (r->outcome, ==, HKP_HOST_ANSWERED);
      g_assert_cmpint (r->verdict, ==, HKP_VERDICT_ALLOW);
      g_assert_cmpstr (r->reason, ==, "fine");
      g_assert_cmpstr (result_header (r, "X-Echo"), ==, id);
    }
  g_assert_cmpuint (calls->results[0].order, ==, n);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* A host of misbehave.so spawned by hand on a socket pair, HELLO sent and READY read: the test speaks for the daemon. */
typedef struct {
  GSubprocess *child;
  int fd;
  GByteArray *in; /* read, not yet decoded */
} RawHost;

static void
raw_host_send (RawHost *raw, const HkpHostRecord *const *records, guint n)
{
  HkpHostBuf buf = { 0 };

  for (guint i = 0; i < n; i++)
    g_assert_cmpint (hkp_host_record_encode (&buf, records[i]), ==, 0);
  /* One write: the host reads them together. */
  g_assert_cmpint (write (raw->fd, buf.data, buf.len), ==, (gssize) buf.len);
  hkp_host_buf_clear (&buf);
}

/* Returns the next record other than LOG, its first string copied into *reason if not NULL; fails past limit
 * (monotonic µs).  Its strings are not to be read. */
static HkpHostRecord
raw_host_receive (RawHost *raw, gint64 limit, char **reason)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = raw->fd, .events = POLLIN };
      HkpHostRecord record;
      size_t size = 0;
      guint8 buf[4096];
      ssize_t n;

      if (hkp_host_record_decode (raw->in->data, raw->in->len, &record, &size, NULL) == HKP_HOST_DECODE_OK)
        {
          if (record.type != HKP_HOST_MSG_LOG && reason != NULL)
            *reason = g_strdup (record.strs[0].str);
          g_byte_array_remove_range (raw->in, 0, (guint) size);
          if (record.type != HKP_HOST_MSG_LOG)
            return record;
        }
      g_assert_cmpint (poll (&pfd, 1, (int) MAX (0, (limit - g_get_monotonic_time ()) / 1000)), ==, 1);
      n = read (raw->fd, buf, sizeof buf);
      g_assert_cmpint (n, >, 0);
      g_byte_array_append (raw->in, buf, (guint) n);
    }
}

/* Spawns a host with environment on a socket pair, the test's end in raw->fd; only the host holds the other end. */
static void
raw_host_spawn (RawHost *raw, char **environment)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;
  int pair[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  g_subprocess_launcher_take_fd (launcher, pair[1], 3);
  g_subprocess_launcher_set_environ (launcher, environment);
  raw->child = g_subprocess_launcher_spawn (launcher, &error, host_program (), "raw", NULL);
  g_assert_no_error (error);
  raw->fd = pair[0];
  raw->in = g_byte_array_new ();
  /* The launcher holds the host's end until it goes, here: no end of file before that. */
}

static void
raw_host_start (RawHost *raw, const char *module, const char *config)
{
  g_autofree char *path = module_path (module);
  g_auto (GStrv) environment = sanitizer_environment ();
  gint64 limit = g_get_monotonic_time () + WAIT_LIMIT_USEC;
  HkpHostRecord hello, record;

  raw_host_spawn (raw, environment);
  hkp_host_record_init (&hello, HKP_HOST_MSG_HELLO);
  hello.nums[HKP_HOST_HELLO_VERSION] = HKP_HOST_PROTOCOL_VERSION;
  hello.nums[HKP_HOST_HELLO_DAEMON_PID] = (guint32) getpid ();
  hello.strs[HKP_HOST_HELLO_PLUGIN] = hkp_host_string ("raw");
  hello.strs[HKP_HOST_HELLO_MODULE_PATH] = hkp_host_string (path);
  hello.strs[HKP_HOST_HELLO_DISPLAY_PATH] = hkp_host_string (path);
  hello.strs[HKP_HOST_HELLO_CONFIG] = hkp_host_string (config);
  raw_host_send (raw, (const HkpHostRecord *[]){ &hello }, 1);
  record = raw_host_receive (raw, limit, NULL);
  g_assert_cmpint (record.type, ==, HKP_HOST_MSG_HOST_HELLO);
  record = raw_host_receive (raw, limit, NULL);
  g_assert_cmpint (record.type, ==, HKP_HOST_MSG_READY);
}

/* Closes the host's socket: it exits. */
static void
raw_host_stop (RawHost *raw)
{
  g_autoptr (GError) error = NULL;

  close (raw->fd);
  g_assert_true (g_subprocess_wait (raw->child, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&raw->child);
  g_byte_array_unref (raw->in);
}

static HkpHostRecord
raw_request (guint64 id, const char *path, const char *query)
{
  HkpHostRecord record;

  hkp_host_record_init (&record, HKP_HOST_MSG_REQUEST);
  record.id = id;
  record.strs[HKP_HOST_REQUEST_METHOD] = hkp_host_string ("GET");
  record.strs[HKP_HOST_REQUEST_PATH] = hkp_host_string (path);
  record.strs[HKP_HOST_REQUEST_QUERY] = hkp_host_string (query);
  record.strs[HKP_HOST_REQUEST_CLIENT] = hkp_host_string ("192.0.2.1");
  return record;
}

/*
 * Requests read together are answered together: the host holds back an
 * answer until it reads again.  Not behind a slow call: a quick request, a
 * slow one (10 minutes) and a record that asks no answer (a CANCEL of
 * nothing), in one write; the quick one is answered at once, the slow one
 * when cancelled.
 */
static void
test_held_answers_not_behind_slow (void)
{
  HkpHostRecord quick = raw_request (1, "/quick", ""), slow = raw_request (2, "/slow", "sleep_ms=600000"), cancel;
  HkpHostRecord nothing;
  g_autofree char *reason = NULL;
  RawHost raw = { 0 };
  HkpHostRecord record;

  raw_host_start (&raw, "misbehave.so", "{}");
  hkp_host_record_init (&nothing, HKP_HOST_MSG_CANCEL);
  nothing.id = 99;
  raw_host_send (&raw, (const HkpHostRecord *[]){ &quick, &slow, &nothing }, 3);
  record = raw_host_receive (&raw, g_get_monotonic_time () + PROMPT_USEC, &reason);
  g_assert_cmpint (record.type, ==, HKP_HOST_MSG_ANSWER);
  g_assert_cmpuint (record.id, ==, 1);
  g_assert_cmpstr (reason, ==, "fine");
  hkp_host_record_init (&cancel, HKP_HOST_MSG_CANCEL);
  cancel.id = 2;
  raw_host_send (&raw, (const HkpHostRecord *[]){ &cancel }, 1);
  g_assert_cmpuint (raw_host_receive (&raw, g_get_monotonic_time () + WAIT_LIMIT_USEC, NULL).id, ==, 2);
  raw_host_stop (&raw);
}

/*
 * A plugin that crashes without a word on a request read together with a
 * quick one: the quick one was answered, and its answer reaches the daemon
 * before the host's end, as if it had not been held back.  Else the daemon
 * answers it GONE, like the calls that were in flight.
 */
static void
test_held_answers_survive_crash (gconstpointer data)
{
  const char *mode = data;
  g_autofree char *config = g_strdup_printf ("{\"mode\": \"%s\", \"quiet\": true}", mode);
  HkpHostRecord warm = raw_request (3, "/warm", ""), quick = raw_request (1, "/quick", "");
  HkpHostRecord boom = raw_request (2, "/boom", "");
  gint64 limit = g_get_monotonic_time () + WAIT_LIMIT_USEC;
  gboolean answered = FALSE;
  RawHost raw = { 0 };

  raw_host_start (&raw, "misbehave.so", config);
  /* Every thread of the host idle, so that it runs both calls itself, one after the other. */
  raw_host_send (&raw, (const HkpHostRecord *[]){ &warm }, 1);
  g_assert_cmpuint (raw_host_receive (&raw, limit, NULL).id, ==, 3);
  g_usleep (G_USEC_PER_SEC / 10);
  raw_host_send (&raw, (const HkpHostRecord *[]){ &quick, &boom }, 2);
  /* Everything up to the end of the socket. */
  for (;;)
    {
      struct pollfd pfd = { .fd = raw.fd, .events = POLLIN };
      HkpHostRecord record;
      size_t size = 0;
      guint8 buf[4096];
      ssize_t n;

      while (hkp_host_record_decode (raw.in->data, raw.in->len, &record, &size, NULL) == HKP_HOST_DECODE_OK)
        {
          if (record.type == HKP_HOST_MSG_ANSWER && record.id == 1)
            answered = TRUE;
          g_assert_false (record.type == HKP_HOST_MSG_ANSWER && record.id == 2);
          g_byte_array_remove_range (raw.in, 0, (guint) size);
        }
      g_assert_cmpint (poll (&pfd, 1, (int) MAX (0, (limit - g_get_monotonic_time ()) / 1000)), ==, 1);
      n = read (raw.fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_byte_array_append (raw.in, buf, (guint) n);
    }
  g_assert_true (answered);
  /* It still dies of the crash. */
  g_assert_true (g_subprocess_wait (raw.child, NULL, NULL));
  g_assert_true (g_subprocess_get_if_signaled (raw.child));
  g_assert_cmpint (g_subprocess_get_term_sig (raw.child), ==, g_str_equal (mode, "abort") ? SIGABRT : SIGSEGV);
  raw_host_stop (&raw);
}

/*
 * More slow calls in flight than the host has threads, then a quick one: the
 * host grows threads for calls waiting behind slow ones, so the quick call
 * is answered at once rather than after the slow ones ahead of it (its
 * deadline running meanwhile).
 */
static void
test_slow_calls_do_not_starve (void)
{
  const guint slow = 40;
  g_autoptr (HkpHost) host = start_host ("slow", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (slow + 1);
  gint64 asked;

  for (guint i = 0; i < slow; i++)
    send_request (host, calls, i, "/slow", "sleep_ms=3000", 0);
  asked = g_get_monotonic_time ();
  send_request (host, calls, slow, "/quick", "", 0);
  calls_wait (calls, 1);
  g_assert_true (calls->results[slow].done);
  g_assert_cmpuint (calls->results[slow].order, ==, 1);
  g_assert_cmpint (calls->results[slow].when - asked, <, 1500 * 1000);
  hkp_host_cancel_all (host);
  calls_wait (calls, slow + 1);
  g_assert_true (hkp_host_stop (host, 5000));
}

/*
 * The threads a host grew for slow calls leave again once they have had no
 * work for 10 s: a burst of slow calls long ago holds no threads (each with
 * its stack within memory_max_mb) for the rest of the host's life.
 */
static void
test_grown_threads_leave (void)
{
  const guint slow = 16;
  g_autoptr (HkpHost) host = start_host ("slow", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (slow + 1);
  GPid pid = hkp_host_get_pid (host);
  gint64 idle_since, limit;
  guint base, grown;

  send_request (host, calls, slow, "/quick", "", 0);
  calls_wait (calls, 1);
  base = hkp_test_count_threads (pid);
  for (guint i = 0; i < slow; i++)
    send_request (host, calls, i, "/slow", "sleep_ms=500", 0);
  calls_wait (calls, slow + 1);
  idle_since = g_get_monotonic_time ();
  grown = hkp_test_count_threads (pid);
  g_assert_cmpuint (grown, >, base);
  /* Nothing to await: the threads leave quietly.  Looked at every 100 ms, for at most 30 s. */
  limit = idle_since + 30 * G_USEC_PER_SEC;
  while (hkp_test_count_threads (pid) > base && g_get_monotonic_time () < limit)
    g_usleep (G_USEC_PER_SEC / 10);
  g_assert_cmpuint (hkp_test_count_threads (pid), ==, base);
  g_assert_cmpint (g_get_monotonic_time () - idle_since, >=, 9 * G_USEC_PER_SEC);
  g_assert_true (hkp_host_stop (host, 5000));
}

static void
test_sleeper (void)
{
  g_autoptr (HkpHost) host = start_host ("sleeper", "sleeper.so", "{\"sleep_ms\": 100}");
  g_autoptr (Calls) calls = calls_new (2);
  gint64 start = g_get_monotonic_time ();

  send_request (host, calls, 0, "/a", "", 0);
  send_request (host, calls, 1, "/b", "", 0);
  calls_wait (calls, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_ANSWERED);
      g_assert_cmpint (calls->results[i].verdict, ==, HKP_VERDICT_ALLOW);
      g_assert_cmpint (calls->results[i].when - start, >=, 100 * 1000);
    }
  g_assert_true (hkp_host_stop (host, 5000));
}

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  HkpHostOutcome outcome;
  HkpHealth health;
} HealthResult;

static void
on_health (HkpHostOutcome outcome, const HkpHealth *health, gpointer user_data)
{
  HealthResult *result = user_data;

  g_mutex_lock (&result->lock);
  g_assert_false (result->done);
  result->done = TRUE;
  result->outcome = outcome;
  if (health != NULL)
    hkp_health_copy (&result->health, health);
  g_cond_broadcast (&result->cond);
  g_mutex_unlock (&result->lock);
}

static void
health_wait (HealthResult *result)
{
  gint64 limit = g_get_monotonic_time () + WAIT_LIMIT_USEC;

  g_mutex_lock (&result->lock);
  while (!result->done)
    g_assert_true (g_cond_wait_until (&result->cond, &result->lock, limit));
  g_mutex_unlock (&result->lock);
}

static void
health_result_clear (HealthResult *result)
{
  hkp_health_clear (&result->health);
  g_mutex_clear (&result->lock);
  g_cond_clear (&result->cond);
}

static const HkpHealthCheck *
find_check (const HkpHealth *health, const char *key)
{
  for (guint i = 0; i < health->checks->len; i++)
    if (g_str_equal (((HkpHealthCheck *) health->checks->pdata[i])->key, key))
      return health->checks->pdata[i];
  return NULL;
}

static void
test_health (void)
{
  g_autoptr (HkpHost) host = start_host ("health", "health.so",
                                         "{\"health\": \"degraded\", \"message\": \"cache cold\"}");
  g_autoptr (HkpHost) misbehave = start_host ("misbehave", "misbehave.so", "{}");
  HealthResult result = { 0 }, second = { 0 };
  const HkpHealthCheck *check;
  gint64 before = g_get_real_time ();

  g_assert_true (hkp_host_health (host, g_get_monotonic_time () + 10 * G_USEC_PER_SEC, on_health, &result));
  health_wait (&result);
  g_assert_cmpint (result.outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpint (result.health.status, ==, HKP_HEALTH_STATUS_DEGRADED);
  g_assert_cmpstr (result.health.message, ==, "cache cold");
  g_assert_cmpint (result.health.last_check_usec, >=, before);
  check = find_check (&result.health, "checks");
  g_assert_nonnull (check);
  g_assert_true (check->is_int);
  g_assert_cmpint (check->int_value, ==, 1);

  /* Text checks too, and the next call once the first returned. */
  g_assert_true (hkp_host_health (misbehave, 0, on_health, &second));
  health_wait (&second);
  g_assert_cmpint (second.health.status, ==, HKP_HEALTH_STATUS_DEGRADED);
  g_assert_cmpstr (second.health.message, ==, "misbehaving on request");
  check = find_check (&second.health, "mode");
  g_assert_nonnull (check);
  g_assert_false (check->is_int);
  g_assert_cmpstr (check->text, ==, "none");

  g_assert_true (hkp_host_stop (host, 5000));
  g_assert_true (hkp_host_stop (misbehave, 5000));
  health_result_clear (&result);
  health_result_clear (&second);
}

static void
test_validate (void)
{
  g_autoptr (HkpHost) host = start_host ("validate", "answer.so", "{}");
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_host_validate_config (host, "{\"verdict\": \"allow\"}", 10000, &error));
  g_assert_no_error (error);
  g_assert_false (hkp_host_validate_config (host, "{\"verdict\": \"maybe\"}", 10000, &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (error->message, ==, "config rejected: key \"verdict\" must be \"continue\", \"allow\" or \"deny\"");
  g_assert_true (hkp_host_stop (host, 5000));
}

/* Cancelling a call in the plugin makes its cancelled() true; the call is still answered once. */
static void
test_cancel (void)
{
  g_autoptr (HkpHost) host = start_host ("cancel", "misbehave.so", "{\"mode\": \"hang\"}");
  g_autoptr (Calls) calls = calls_new (3);
  guint64 id;

  hkp_test_log_clear ();
  id = send_request (host, calls, 0, "/boom", "", 0);
  hkp_test_wait_log ("misbehave: hang on /boom");
  hkp_host_cancel (host, id);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpint (calls->results[0].verdict, ==, HKP_VERDICT_CONTINUE);

  send_request (host, calls, 1, "/other", "sleep_ms=600000", 0);
  send_request (host, calls, 2, "/another", "sleep_ms=600000", 0);
  hkp_host_cancel_all (host);
  calls_wait (calls, 3);
  g_assert_cmpint (calls->results[1].verdict, ==, HKP_VERDICT_CONTINUE);
  g_assert_cmpint (calls->results[2].verdict, ==, HKP_VERDICT_CONTINUE);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* ---- misbehaviour ------------------------------------------------------------------------------------------------- */

typedef struct {
  const char *mode;
  const char *why;
} Crash;

static const Crash crashes[] = {
  { "segfault", "killed by signal 11 (SIGSEGV)" },
  { "abort", "killed by signal 6 (SIGABRT)" },
  { "exit", "exited with status 3" },
  { "syscall", "system call socket is not allowed in the plugin host (seccomp)" },
};

/*
 * The host dies on one request: every call in flight is answered GONE at
 * once, and the end says why.  What the plugin said last, just before, is
 * in the log by then.
 */
static void
test_crash (gconstpointer data)
{
  const Crash *crash = data;
  g_autofree char *config = g_strdup_printf ("{\"mode\": \"%s\"}", crash->mode);
  g_autofree char *last_words = g_strdup_printf ("misbehave: %s on /boom", crash->mode);
  g_autoptr (HkpHost) host = NULL;
  g_autoptr (Calls) calls = calls_new (4);
  g_autoptr (Calls) after = calls_new (1);
  gint64 boom;

  hkp_test_log_clear ();
  host = start_host ("crash", "misbehave.so", config);

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  /* Two calls that would take ten minutes, then the one that kills the host. */
  send_request (host, calls, 0, "/slow", "sleep_ms=600000", 0);
  send_request (host, calls, 1, "/slow", "sleep_ms=600000", 0);
  boom = g_get_monotonic_time ();
  send_request (host, calls, 2, "/boom", "", 0);
  calls_wait (calls, 3);
  calls_wait_exit (calls);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_GONE);
      g_assert_cmpint (calls->results[i].when - boom, <, PROMPT_USEC);
    }
  g_assert_cmpstr (calls->why, ==, crash->why);
  g_assert_cmpuint (calls->in_flight, ==, 3);
  g_assert_cmpint (calls->ended - boom, <, PROMPT_USEC);
  g_assert_true (hkp_test_log_contains_for_plugin ("crash", last_words));

  /* A call on a dead host is answered in the call itself. */
  send_request (host, after, 0, "/late", "", 0);
  g_assert_true (after->results[0].done);
  g_assert_cmpint (after->results[0].outcome, ==, HKP_HOST_GONE);
  g_autofree char *end = hkp_host_dup_end (host);
  g_assert_cmpstr (end, ==, crash->why);
}

/* hkp_host_kill() ends the host like a crash would: calls GONE, the exit handler told why. */
static void
test_kill (void)
{
  g_autoptr (HkpHost) host = start_host ("killed", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (1);

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  send_request (host, calls, 0, "/slow", "sleep_ms=600000", 0);
  hkp_host_kill (host);
  calls_wait (calls, 1);
  calls_wait_exit (calls);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_GONE);
  g_assert_cmpstr (calls->why, ==, "killed by signal 9 (SIGKILL)");
  g_assert_cmpuint (calls->in_flight, ==, 1);
}

/* A host that stops reading (here: stopped): the daemon queues at most HKP_HOST_BACKLOG_MAX for it, then refuses. */
static void
test_backlog (void)
{
  enum { BIG = 60000, MAX_CALLS = 2 * (HKP_HOST_BACKLOG_MAX / BIG) };
  g_autoptr (HkpHost) host = start_host ("deaf", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (MAX_CALLS);
  g_autofree char *big = g_strnfill (BIG, 'x');
  const char *headers[] = { "X-Big", big, NULL };
  HkpHostRequest request = {
    .method = "GET", .path = "/queued", .query = "", .client_address = "192.0.2.1", .headers = headers
  };
  guint sent = 0;
  gboolean refused = FALSE;

  siginfo_t info = { 0 };

  /* Stopped, and seen to be (it is our child), before anything is sent. */
  g_assert_cmpint (kill (hkp_host_get_pid (host), SIGSTOP), ==, 0);
  g_assert_cmpint (waitid (P_PID, (id_t) hkp_host_get_pid (host), &info, WSTOPPED | WNOWAIT), ==, 0);
  /* None has a deadline: only the backlog limit answers them. */
  while (!refused && sent < MAX_CALLS)
    {
      /* A refusal is answered in the call itself. */
      hkp_host_handle (host, &request, 0, on_answer, &calls->results[sent]);
      g_mutex_lock (&calls->lock);
      refused = calls->results[sent].done;
      g_mutex_unlock (&calls->lock);
      sent++;
    }
  g_test_message ("refused after %u requests of %u bytes", sent - 1, BIG);
  g_assert_true (refused);
  g_assert_cmpint (calls->results[sent - 1].outcome, ==, HKP_HOST_BACKLOGGED);
  g_assert_cmpuint (calls->answered, ==, 1);
  /* At the limit, give or take what the socket took in before it was full. */
  g_assert_cmpuint ((guint64) (sent - 1) * BIG, >=, HKP_HOST_BACKLOG_MAX - BIG);
  g_assert_cmpuint ((guint64) (sent - 1) * BIG, <=, HKP_HOST_BACKLOG_MAX + (4u << 20));
  hkp_host_kill (host);
  calls_wait (calls, sent);
}

/* A handler set after the host ended still hears of it, once, at once. */
static void
test_exit_handler_late (void)
{
  g_autoptr (HkpHost) host = start_host ("late", "misbehave.so", "{\"mode\": \"exit\"}");
  g_autoptr (Calls) calls = calls_new (2);

  send_request (host, calls, 0, "/slow", "sleep_ms=600000", 0);
  send_request (host, calls, 1, "/boom", "", 0);
  calls_wait (calls, 2);
  hkp_host_set_exit_handler (host, on_host_exit, calls);
  g_assert_cmpstr (calls->why, ==, "exited with status 3");
  g_assert_cmpuint (calls->in_flight, ==, 2);
  /* Setting it again reports nothing more (on_host_exit asserts it runs once). */
  hkp_host_set_exit_handler (host, on_host_exit, calls);
}

/* An answer whose callback lets go of the host: the last reference, perhaps before hkp_host_handle() returns. */
typedef struct {
  HkpHost *host;
  Calls *calls;
} LetGo;

static void
on_answer_let_go (const HkpHostAnswer *answer, gpointer user_data)
{
  LetGo *let_go = user_data;

  g_clear_pointer (&let_go->host, hkp_host_unref);
  on_answer (answer, &let_go->calls->results[0]);
}

/*
 * The host dies on the call, and its I/O thread answers GONE and frees it
 * while the caller may still be sending (the check endpoint once locked a
 * freed host that way).  The race is narrow: many rounds, and ASan's eyes.
 */
static void
test_answer_lets_go (void)
{
  for (guint round = 0; round < 100; round++)
    {
      g_autoptr (Calls) calls = calls_new (1);
      LetGo let_go = { start_host ("let-go", "misbehave.so", "{\"mode\": \"exit\"}"), calls };
      const char *headers[] = { NULL };
      HkpHostRequest request = { .method = "GET", .path = "/boom", .client_address = "192.0.2.1", .headers = headers };

      hkp_host_handle (let_go.host, &request, 0, on_answer_let_go, &let_go);
      calls_wait (calls, 1);
      g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_GONE);
      g_assert_null (let_go.host);
    }
}

/*
 * The thread reading the socket runs a call itself while another thread is
 * idle; a call that takes long is left to it, and another thread reads on:
 * calls behind a slow one are answered at once, one after another.
 */
static void
test_slow_holds_up_none (void)
{
  const guint n = 8;
  g_autoptr (HkpHost) host = start_host ("slow", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (n + 1);
  gint64 start = g_get_monotonic_time ();

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  send_request (host, calls, 0, "/slow", "sleep_ms=600000", 0);
  for (guint i = 1; i <= n; i++)
    {
      send_request (host, calls, i, "/fine", "", 0);
      calls_wait (calls, i);
      g_assert_false (calls->results[0].done);
      g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_ANSWERED);
      g_assert_cmpstr (calls->results[i].reason, ==, "fine");
    }
  g_assert_cmpint (g_get_monotonic_time () - start, <, PROMPT_USEC);
  hkp_host_cancel_all (host);
  calls_wait (calls, n + 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_null (calls->why);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* A call that overruns its deadline but honours cancellation: TIMED_OUT on time, and the host lives on. */
static void
test_hang (void)
{
  HkpHostSettings extra = { .grace_ms = 300 };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = start_host_full ("hang", "misbehave.so", "{\"mode\": \"hang\"}", &extra, &error);
  g_autoptr (Calls) calls = calls_new (3);
  gint64 deadline = g_get_monotonic_time () + 200 * 1000;

  g_assert_no_error (error);
  hkp_host_set_exit_handler (host, on_host_exit, calls);
  send_request (host, calls, 0, "/boom", "", deadline);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_TIMED_OUT);
  g_assert_cmpint (calls->results[0].when, >=, deadline);
  g_assert_cmpint (calls->results[0].when - deadline, <, PROMPT_USEC);
  /* Past the grace (300 ms) the host still serves: the cancelled call returned in time. */
  send_request (host, calls, 1, "/wait", "sleep_ms=600", 0);
  calls_wait (calls, 2);
  send_request (host, calls, 2, "/fine", "", 0);
  calls_wait (calls, 3);
  g_assert_cmpint (calls->results[1].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpint (calls->results[2].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_null (calls->why);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* More hanging calls than the host has threads: the socket is still read, so every one is cancelled in time. */
static void
test_hang_many (void)
{
  const guint n = 40;
  g_autoptr (HkpHost) host = start_host ("hang-many", "misbehave.so", "{\"mode\": \"hang\"}");
  g_autoptr (Calls) calls = calls_new (n + 1);
  gint64 deadline = g_get_monotonic_time () + 300 * 1000;

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  for (guint i = 0; i < n; i++)
    send_request (host, calls, i, "/boom", "", deadline);
  calls_wait (calls, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_TIMED_OUT);
  /* A request queued behind them all is answered once the cancelled ones have returned. */
  send_request (host, calls, n, "/fine", "", 0);
  calls_wait (calls, n + 1);
  g_assert_cmpint (calls->results[n].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpstr (calls->results[n].reason, ==, "fine");
  g_assert_null (calls->why);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* A call that never returns: TIMED_OUT at its deadline, the host killed after the grace, others GONE. */
static void
test_stuck (gconstpointer data)
{
  const char *mode = data;
  g_autofree char *config = g_strdup_printf ("{\"mode\": \"%s\"}", mode);
  g_autoptr (HkpHost) host = start_host ("stuck", "misbehave.so", config);
  g_autoptr (Calls) calls = calls_new (2);
  gint64 deadline = g_get_monotonic_time () + 200 * 1000;

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  send_request (host, calls, 0, "/boom", "", deadline);
  send_request (host, calls, 1, "/slow", "sleep_ms=600000", 0);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_TIMED_OUT);
  g_assert_cmpint (calls->results[0].when, >=, deadline);
  g_assert_cmpint (calls->results[0].when - deadline, <, PROMPT_USEC);
  calls_wait_exit (calls);
  /* The call's own timeout is 200 ms, so the grace is the minimum, 1 s. */
  g_assert_cmpstr (calls->why, ==, "killed: handle() did not return within 1000 ms of its deadline");
  g_assert_cmpint (calls->ended - deadline, >=, 1000 * 1000);
  g_assert_cmpint (calls->ended - deadline, <, 1000 * 1000 + PROMPT_USEC);
  g_assert_cmpuint (calls->in_flight, ==, 1);
  calls_wait (calls, 2);
  g_assert_cmpint (calls->results[1].outcome, ==, HKP_HOST_GONE);
}

/* A health() that never returns: TIMED_OUT, no second call while it hangs, requests unaffected. */
static void
test_health_hang (void)
{
  g_autoptr (HkpHost) host = start_host ("health-hang", "misbehave.so", "{\"mode\": \"health-hang\"}");
  g_autoptr (Calls) calls = calls_new (1);
  HealthResult result = { 0 };
  gint64 deadline = g_get_monotonic_time () + 200 * 1000;
  gint64 stop_started;
  g_autofree char *end = NULL;

  g_assert_true (hkp_host_health (host, deadline, on_health, &result));
  health_wait (&result);
  g_assert_cmpint (result.outcome, ==, HKP_HOST_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);
  /* Still in flight in the host: a second call is refused, and its callback never runs. */
  g_assert_false (hkp_host_health (host, 0, on_health, &result));
  send_request (host, calls, 0, "/fine", "", 0);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_ANSWERED);
  /* shutdown() would wait for health(), which never returns: the stop kills the host at once, not at its bound. */
  stop_started = g_get_monotonic_time ();
  g_assert_false (hkp_host_stop (host, 10 * 1000));
  g_assert_cmpint (g_get_monotonic_time () - stop_started, <, PROMPT_USEC);
  end = hkp_host_dup_end (host);
  g_assert_cmpstr (end, ==, "killed at its stop: health() had not returned past its deadline");
  health_result_clear (&result);
}

static void
test_memory_limit (void)
{
  HkpHostSettings small = { .memory_max_mb = 64 }, large = { .memory_max_mb = 1024 };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) refused = start_host_full ("memory", "misbehave.so", "{\"init_alloc_mb\": 256}", &small, &error);
  g_autoptr (HkpHost) host = NULL;

  g_assert_null (refused);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INIT_FAILED);
  g_assert_cmpstr (error->message, ==, "init failed: cannot allocate 256 MiB");
  g_clear_error (&error);
  /* The same within the limit works: it was the limit. */
  host = start_host_full ("memory", "misbehave.so", "{\"init_alloc_mb\": 256}", &large, &error);
  g_assert_no_error (error);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* ---- confinement ---------------------------------------------------------------------------------------------------- */

static char *
proc_file (GPid pid, const char *name, gsize *len)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", pid, name);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, len, &error);
  g_assert_no_error (error);
  return contents;
}

/*
 * Asserts that host runs confined: no new privileges, its seccomp filter in
 * every thread (a filter binds only the threads started after it), no
 * capability even as root, and few descriptors.
 */
static void
assert_confined (HkpHost *host)
{
  g_autofree char *task_dir = g_strdup_printf ("/proc/%d/task", hkp_host_get_pid (host));
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) tasks = g_dir_open (task_dir, 0, &error);
  g_autofree char *limits = NULL, *expected = NULL;
  struct rlimit ours;
  const char *task;
  guint n_tasks = 0;
  gsize len;

  g_assert_no_error (error);
  while ((task = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *name = g_strdup_printf ("task/%s/status", task);
      g_autofree char *status = proc_file (hkp_host_get_pid (host), name, &len);

      g_assert_nonnull (strstr (status, "\nNoNewPrivs:\t1\n"));
      g_assert_nonnull (strstr (status, "\nSeccomp:\t2\n"));
      g_assert_nonnull (strstr (status, "\nCapPrm:\t0000000000000000\n"));
      g_assert_nonnull (strstr (status, "\nCapEff:\t0000000000000000\n"));
      n_tasks++;
    }
  /* The main thread, the log thread and the request, health and validation threads at least. */
  g_assert_cmpuint (n_tasks, >=, 4);
  /* Soft and hard limits alike: 1024, or less if the daemon (here, this test) had less. */
  limits = proc_file (hkp_host_get_pid (host), "limits", &len);
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &ours), ==, 0);
  expected = g_strdup_printf ("^Max open files +%" G_GUINT64_FORMAT " +%" G_GUINT64_FORMAT " +files *$",
                              (guint64) MIN (ours.rlim_max, 1024), (guint64) MIN (ours.rlim_max, 1024));
  g_assert_true (g_regex_match_simple (expected, limits, G_REGEX_MULTILINE, 0));
}

static void
test_confinement (void)
{
  HkpHostSettings extra = { .environment = (const char *const[]){ NULL } };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = NULL;
  g_autofree char *fd_dir = NULL, *environ = NULL, *cmdline = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *entry;
  gboolean socket_seen = FALSE;
  guint n_fds = 0;
  gsize len;
  /* An fd the test leaves inheritable: the host must not have it. */
  int leak = open ("/dev/zero", O_RDONLY);

  g_assert_cmpint (leak, >=, 0);
  host = start_host_full ("confined", "misbehave.so", "{}", &extra, &error);
  g_assert_no_error (error);
  close (leak);

  fd_dir = g_strdup_printf ("/proc/%d/fd", hkp_host_get_pid (host));
  dir = g_dir_open (fd_dir, 0, &error);
  g_assert_no_error (error);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename (fd_dir, entry, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);
      int fd = atoi (entry);
      n_fds++;
      g_test_message ("fd %d -> %s", fd, target);
      g_assert_nonnull (target);
      if (fd == 3)
        {
          g_assert_true (g_str_has_prefix (target, "socket:"));
          socket_seen = TRUE;
        }
      else
        /* stdin is /dev/null; stdout, stderr and the host's reading end are the pipe of its log thread. */
        g_assert_true (g_str_equal (target, "/dev/null") || g_str_has_prefix (target, "pipe:"));
    }
  g_assert_true (socket_seen);
  g_assert_cmpuint (n_fds, ==, 5);

  environ = proc_file (hkp_host_get_pid (host), "environ", &len);
  g_assert_cmpuint (len, ==, 0);
  assert_confined (host);
  cmdline = proc_file (hkp_host_get_pid (host), "cmdline", &len);
  g_assert_cmpmem (cmdline, len, "hkp-plugin-host\0confined\0", sizeof "hkp-plugin-host\0confined\0" - 1);
  g_assert_true (hkp_host_stop (host, 5000));
}

/*
 * The host as the packaged unit starts it (tests/host/host-as-unit.c): no
 * capability to drop, and capset refused.  It starts, confined, and serves.
 */
static void
test_as_packaged_unit (void)
{
  HkpHostSettings extra = { .program = g_getenv ("HKP_TEST_HOST_AS_UNIT") };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = NULL;
  g_autoptr (Calls) calls = calls_new (1);

  g_assert_nonnull (extra.program);
  host = start_host_full ("unit", "misbehave.so", "{}", &extra, &error);
  g_assert_no_error (error);
  assert_confined (host);
  send_request (host, calls, 0, "/fine", "", 0);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_ANSWERED);
  g_assert_cmpint (calls->results[0].verdict, ==, HKP_VERDICT_ALLOW);
  g_assert_true (hkp_host_stop (host, 5000));
  g_clear_pointer (&host, hkp_host_unref);

  /* Its allow-list holds there too, and says which call it refused. */
  {
    g_autoptr (Calls) boom = calls_new (1);
    g_autofree char *end = NULL;

    host = start_host_full ("unit", "misbehave.so", "{\"mode\": \"syscall\"}", &extra, &error);
    g_assert_no_error (error);
    hkp_host_set_exit_handler (host, on_host_exit, boom);
    send_request (host, boom, 0, "/boom", "", 0);
    calls_wait (boom, 1);
    calls_wait_exit (boom);
    g_assert_cmpstr (boom->why, ==, "system call socket is not allowed in the plugin host (seccomp)");
  }
}

/*
 * The packaged unit runs the daemon under SCHED_BATCH (CPUSchedulingPolicy=batch)
 * for its hosts as well: a host, and every thread it starts, runs under the
 * policy of the thread that started it.
 */
static void
test_inherits_scheduling (void)
{
  struct sched_param param = { 0 };
  int before = sched_getscheduler (0);
  g_autoptr (Calls) calls = calls_new (1);
  g_autoptr (HkpHost) host = NULL;
  g_autofree char *task_dir = NULL;
  g_autoptr (GDir) tasks = NULL;
  const char *task;
  guint seen = 0;

  g_assert_cmpint (before, ==, SCHED_OTHER);
  g_assert_cmpint (sched_setscheduler (0, SCHED_BATCH, &param), ==, 0);
  host = start_host ("batch", "misbehave.so", "{}");
  g_assert_cmpint (sched_setscheduler (0, before, &param), ==, 0);
  /* A request answered: the threads that serve requests have started. */
  send_request (host, calls, 0, "/fine", "", 0);
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_ANSWERED);
  task_dir = g_strdup_printf ("/proc/%d/task", hkp_host_get_pid (host));
  tasks = g_dir_open (task_dir, 0, NULL);
  g_assert_nonnull (tasks);
  while ((task = g_dir_read_name (tasks)) != NULL)
    {
      g_assert_cmpint (sched_getscheduler ((pid_t) g_ascii_strtoll (task, NULL, 10)), ==, SCHED_BATCH);
      seen++;
    }
  g_assert_cmpuint (seen, >, 1);
  g_assert_true (hkp_host_stop (host, 5000));
}

/*
 * A compromised plugin writes records of its own to the daemon: what the
 * daemon keeps of their texts is bounded, and a validation is answered once.
 */
static void
test_rogue_texts (void)
{
  g_autoptr (HkpHost) host = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *domain = g_strnfill (256, 'D');
  g_autofree char *domain_field = g_strconcat ("PLUGIN_LOG_DOMAIN=", domain, NULL);

  hkp_test_log_clear ();
  host = start_host ("rogue", "rogue.so", "{\"mode\": \"log-long-domain\"}");
  /* Its descriptor's description is 1 MiB long. */
  g_assert_cmpuint (strlen (hkp_host_get_module_description (host)), ==, 1024);
  hkp_test_wait_log ("rogue: long domain");
  g_assert_true (hkp_test_log_has_fields ((const char *const[]){ "PLUGIN=rogue", domain_field, NULL }));

  /* Refusals of 1 MiB, each sent twice for the first ids: one is taken, and kept short. */
  g_assert_false (hkp_host_validate_config (host, "{\"mode\": \"validated-long\"}", 10000, &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "config rejected: VVVV"));
  g_assert_cmpuint (strlen (error->message), <=, HOST_MESSAGE_BOUND);
  g_assert_true (hkp_host_stop (host, 5000));
}

/* Requests sent to the host of test_rogue_stops_reading at most, one every ROGUE_SEND_EVERY_MS. */
#define ROGUE_REQUESTS 1000
#define ROGUE_SEND_EVERY_MS 20

/*
 * A host that shuts its socket's reading side, its threads kept from
 * noticing: the daemon's next send fails for good, and the host is killed
 * at once, saying why (the daemon once retried that send in a busy loop).
 * When it shuts it is not said: requests are sent until it is killed (the
 * test once waited for the host to say so after it parked its threads, one
 * of which could be holding what it needed to say it).
 */
static void
test_rogue_stops_reading (void)
{
  g_autoptr (Calls) calls = calls_new (ROGUE_REQUESTS);
  g_autoptr (HkpHost) host = NULL;
  guint sent = 0;

  host = start_host ("rogue", "rogue.so", "{\"mode\": \"stop-reading\"}");
  hkp_host_set_exit_handler (host, on_host_exit, calls);
  g_mutex_lock (&calls->lock);
  while (calls->why == NULL)
    {
      g_assert_cmpuint (sent, <, ROGUE_REQUESTS);
      g_mutex_unlock (&calls->lock);
      send_request (host, calls, sent, sent == 0 ? "/first" : "/next", "", 0);
      sent++;
      g_mutex_lock (&calls->lock);
      g_cond_wait_until (&calls->cond, &calls->lock, g_get_monotonic_time () + ROGUE_SEND_EVERY_MS * 1000);
    }
  g_mutex_unlock (&calls->lock);
  g_assert_cmpstr (calls->why, ==, "killed: it stopped reading what the daemon sends it");
  calls_wait (calls, sent);
  for (guint i = 0; i < sent; i++)
    g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_GONE);
}

/*
 * A host that answers a request it was not asked (a forged id, or one
 * answered already) breaks the protocol: it is killed, saying so, instead of
 * the daemon reading such answers for ever.
 */
static void
test_rogue_answers_unasked (void)
{
  g_autoptr (Calls) calls = calls_new (1);
  g_autoptr (HkpHost) host = NULL;

  host = start_host ("rogue", "rogue.so", "{\"mode\": \"answer-unasked\"}");
  hkp_host_set_exit_handler (host, on_host_exit, calls);
  send_request (host, calls, 0, "/", "", 0);
  calls_wait_exit (calls);
  g_assert_cmpstr (calls->why, ==,
                   "killed: it broke the protocol (an answer to request 1000000, which it was not asked or has "
                   "answered already)");
  calls_wait (calls, 1);
  g_assert_cmpint (calls->results[0].outcome, ==, HKP_HOST_GONE);
}

/* The helper process of test_parent_death: starts a host whose init never returns, and waits to be killed. */
static int
spawn_host_and_wait (void)
{
  HkpHostSettings extra = { .init_timeout_ms = 600000 };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = start_host_full ("orphan", "misbehave.so", "{\"init_hang\": true}", &extra, &error);

  fprintf (stderr, "start returned: %s\n", error != NULL ? error->message : "a host");
  return 1;
}

/* A host whose parent dies is killed (PR_SET_PDEATHSIG), even while it is busy and cannot notice on its own. */
static void
test_parent_death (void)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GSubprocess) parent = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GError) error = NULL;
  const char *self = g_getenv ("HKP_TEST_HOST_SELF");
  const char *marker = "misbehave: init hangs in process ";
  int status = 0;
  pid_t host_pid = 0;

  g_assert_nonnull (self);
  /* The host becomes ours when its parent dies, so the test can reap it. */
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  parent = g_subprocess_launcher_spawn (launcher, &error, self, "--spawn-host-and-wait", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (parent));
  /* The plugin's message, relayed by the parent's log: the host is in init, its reader not reading. */
  while (host_pid == 0)
    {
      g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_test_message ("parent: %s", line);
      if (strstr (line, marker) != NULL)
        host_pid = atoi (strstr (line, marker) + strlen (marker));
    }
  g_assert_cmpint (kill (host_pid, 0), ==, 0);

  g_subprocess_force_exit (parent);
  g_assert_true (g_subprocess_wait (parent, NULL, &error));
  g_assert_no_error (error);
  while (waitpid (host_pid, &status, 0) < 0)
    g_assert_cmpint (errno, ==, EINTR);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  prctl (PR_SET_CHILD_SUBREAPER, 0);
}

/* ---- logs and stopping ----------------------------------------------------------------------------------------------- */

static void
test_logs (void)
{
  g_autoptr (HkpHost) host = NULL;

  hkp_test_log_clear ();
  host = start_host ("chatty", "misbehave.so",
                     "{\"log\": \"a warning from init\", \"stderr\": \"<5>a line on stderr\"}");
  /* GLib's g_warning() through the host's log writer, with its level. */
  hkp_test_wait_log ("a warning from init");
  g_assert_true (hkp_test_log_has_fields ((const char *const[]){
    "PLUGIN=chatty", "MESSAGE=a warning from init", "PRIORITY=4", "PLUGIN_LOG_DOMAIN=hkp-test-misbehave", NULL }));
  /* A line on stderr, with its sd-daemon priority prefix. */
  hkp_test_wait_log ("a line on stderr");
  g_assert_true (
    hkp_test_log_has_fields ((const char *const[]){ "PLUGIN=chatty", "MESSAGE=a line on stderr", "PRIORITY=5", NULL }));
  /* Stopping runs shutdown(), whose message arrives before the stop returns. */
  g_assert_true (hkp_host_stop (host, 5000));
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ "PLUGIN=chatty", "MESSAGE=misbehave: shutdown", "PRIORITY=5", NULL }));
}

/* A plugin that floods its log: past a burst and a rate, lines are dropped, and how many is said. */
static void
test_log_flood (void)
{
  gint64 started = g_get_monotonic_time ();
  g_autoptr (HkpHost) host = NULL;
  gdouble seconds;
  guint passed;

  hkp_test_log_clear ();
  host = start_host ("flood", "misbehave.so", "{\"log\": \"flood line\", \"log_lines\": 20000}");
  /* The stop waits for the host's last record, and for what is said of the dropped lines. */
  g_assert_true (hkp_host_stop (host, 10000));
  seconds = (gdouble) (g_get_monotonic_time () - started) / G_USEC_PER_SEC;
  passed = hkp_test_log_count ("flood line");
  g_test_message ("%u of 20000 lines passed in %.2f s", passed, seconds);
  /* The burst (1000) at once, then at most 200 a second. */
  g_assert_cmpuint (passed, >=, 1000);
  g_assert_cmpuint (passed, <=, 1001 + (guint) (200 * seconds));
  g_assert_true (hkp_test_log_has_fields ((const char *const[]){ "PLUGIN=flood", "PRIORITY=4", NULL }));
  g_assert_cmpuint (hkp_test_log_count ("log lines dropped (more than 1000 at once, or 200 a second)"), >=, 1);
}

/* A flood of chatter drops chatter only: a warning after it still reaches the journal. */
static void
test_log_flood_keeps_warnings (void)
{
  g_autoptr (HkpHost) host = NULL;

  hkp_test_log_clear ();
  host = start_host ("chatty", "misbehave.so", "{\"chatter_lines\": 5000, \"log\": \"a warning after the chatter\"}");
  g_assert_true (hkp_host_stop (host, 10000));
  g_assert_cmpuint (hkp_test_log_count ("misbehave: chatter"), <, 5000);
  g_assert_cmpuint (hkp_test_log_count ("log lines dropped"), >=, 1);
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ "PLUGIN=chatty", "MESSAGE=a warning after the chatter", "PRIORITY=4", NULL }));
}

/* A flood followed by silence: how many lines were dropped is said within about a second, not when the host ends. */
static void
test_log_flood_said_in_silence (void)
{
  g_autoptr (HkpHost) host = NULL;
  gint64 started;
  gdouble seconds;

  hkp_test_log_clear ();
  started = g_get_monotonic_time ();
  host = start_host ("flood", "misbehave.so", "{\"log\": \"flood line\", \"log_lines\": 5000}");
  hkp_test_wait_log ("log lines dropped");
  seconds = (gdouble) (g_get_monotonic_time () - started) / G_USEC_PER_SEC;
  g_test_message ("the dropped lines were said %.2f s after the host started", seconds);
  /* Said by the timer: the host is still running, and its last line was long before. */
  g_assert_null (hkp_host_dup_end (host));
  g_assert_cmpfloat (seconds, <, 10);
  g_assert_cmpuint (hkp_test_log_count ("flood line"), <, 5000);
  g_assert_true (hkp_host_stop (host, 10000));
  g_assert_cmpuint (hkp_test_log_count ("log lines dropped"), ==, 1);
}

/* Stopping waits for the calls in flight, runs shutdown() and the host exits 0; nothing is reported as a crash. */
static void
test_stop (void)
{
  g_autoptr (HkpHost) host = start_host ("stopping", "misbehave.so", "{}");
  g_autoptr (Calls) calls = calls_new (4);
  g_autofree char *end = NULL;

  hkp_host_set_exit_handler (host, on_host_exit, calls);
  for (guint i = 0; i < 3; i++)
    send_request (host, calls, i, "/slow", "sleep_ms=200", 0);
  g_assert_null (hkp_host_dup_end (host));
  g_assert_true (hkp_host_stop (host, 10000));
  g_assert_cmpuint (calls->answered, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      /* Run to their end, not cancelled. */
      g_assert_cmpint (calls->results[i].outcome, ==, HKP_HOST_ANSWERED);
      g_assert_cmpint (calls->results[i].verdict, ==, HKP_VERDICT_ALLOW);
    }
  end = hkp_host_dup_end (host);
  g_assert_cmpstr (end, ==, "exited with status 0");
  g_assert_null (calls->why);
  send_request (host, calls, 3, "/late", "", 0);
  g_assert_cmpint (calls->results[3].outcome, ==, HKP_HOST_GONE);
}

/* Under ASan a host stopped cleanly is leak-checked like the daemon: a plugin's leak is its exit status. */
static void
test_leak_check (void)
{
  g_autoptr (HkpHost) host = start_host ("leaky", "misbehave.so", "{\"leak\": true}");
  g_autofree char *end = NULL;
#if defined(__SANITIZE_ADDRESS__)
  const gboolean sanitized = TRUE;
#else
  const gboolean sanitized = FALSE;
#endif

  g_assert_cmpint (hkp_host_stop (host, 30000), ==, !sanitized);
  end = hkp_host_dup_end (host);
  g_assert_cmpstr (end, ==, sanitized ? "exited with status 23" : "exited with status 0");
}

/* ---- starting ------------------------------------------------------------------------------------------------------ */

typedef struct {
  const char *module;
  const char *config;
  guint init_timeout_ms;
  HkpErrorCode code;
  const char *message; /* a part of it */
  const char *name; /* of the test, if not its module's */
} StartError;

static const StartError start_errors[] = {
  { "failinit.so", "{\"message\": \"no key\"}", 0, HKP_ERROR_INIT_FAILED, "init failed: no key" },
  { "answer.so", "{\"verdict\": \"maybe\"}", 0, HKP_ERROR_INVALID_CONFIG, "config rejected: key \"verdict\"" },
  { "badabi.so", "{}", 0, HKP_ERROR_ABI_MISMATCH, "was built for plugin ABI version 999" },
  { "noentry.so", "{}", 0, HKP_ERROR_MODULE, "has no entry symbol hkp_plugin_entry()" },
  { "missing.so", "{}", 0, HKP_ERROR_MODULE, "is not a loadable shared object" },
  { "sleeper.so", "{\"init_delay_ms\": 60000}", 300, HKP_ERROR_TIMED_OUT, "did not finish within 300 ms" },
  /* Plugin code is confined from its first instruction: its constructor runs under the filter. */
  { "rogue-ctor.so", "{}", 0, HKP_ERROR_FAILED, "system call socket is not allowed in the plugin host (seccomp)" },
  /* A plugin may not catch SIGSYS (refused calls would merely fail, unreported): trying ends its host. */
  { "rogue.so", "{\"mode\": \"catch-sigsys\"}", 0, HKP_ERROR_FAILED, "killed by signal 31 (SIGSYS)",
    "rogue-catches-sigsys" },
  /* A message the plugin wrote itself, 1 MiB long: what the daemon keeps of it is short. */
  { "rogue.so", "{\"mode\": \"fail-long\"}", 0, HKP_ERROR_INIT_FAILED, "FFFFFFFF", "rogue-fails-long" },
};

static void
test_start_error (gconstpointer data)
{
  const StartError *expected = data;
  HkpHostSettings extra = { .init_timeout_ms = expected->init_timeout_ms };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = start_host_full ("broken", expected->module, expected->config, &extra, &error);

  g_assert_null (host);
  g_assert_error (error, HKP_ERROR, (gint) expected->code);
  g_test_message ("%.200s", error->message);
  g_assert_nonnull (strstr (error->message, expected->message));
  g_assert_cmpuint (strlen (error->message), <=, HOST_MESSAGE_BOUND);
}

static void
test_no_program (void)
{
  HkpHostSettings extra = { .program = "/nonexistent/hkp-plugin-host" };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = start_host_full ("broken", "answer.so", "{}", &extra, &error);

  g_assert_null (host);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "cannot start plugin host /nonexistent/hkp-plugin-host: No such file or directory");
}

/* A host of another protocol version is refused, with both versions named. */
static void
test_version_mismatch_daemon_side (void)
{
  HkpHostSettings extra = { .environment = (const char *const[]){ "HKP_PLUGIN_HOST_PROTOCOL_VERSION=99", NULL } };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpHost) host = start_host_full ("other-version", "answer.so", "{}", &extra, &error);
  g_autofree char *expected = g_strdup_printf ("plugin host %s speaks protocol version 99; this daemon speaks %u",
                                               host_program (), HKP_HOST_PROTOCOL_VERSION);

  g_assert_null (host);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, expected);
}

/* The host refuses a daemon of another version: it says so and exits. */
static void
test_version_mismatch_host_side (void)
{
  g_autoptr (GError) error = NULL;
  /* A HELLO of version 7 and nothing else: only the version is read, whatever another version's layout. */
  static const guint8 hello[] = { 5, 0, 0, 0, HKP_HOST_MSG_HELLO, 7, 0, 0, 0 };
  g_autofree char *expected = g_strdup_printf ("the daemon speaks protocol version 7; this hkp-plugin-host speaks %u",
                                               HKP_HOST_PROTOCOL_VERSION);
  RawHost raw = { 0 };
  HkpHostRecord record;
  size_t size = 0;
  guint8 buf[4096];
  ssize_t n;
  int child_pid;

  raw_host_spawn (&raw, (char *[]){ NULL });
  /* Read now: GLib forgets it once it has reaped the child. */
  child_pid = atoi (g_subprocess_get_identifier (raw.child));
  g_assert_cmpint (write (raw.fd, hello, sizeof hello), ==, sizeof hello);
  /* Everything until the host exits: its HELLO, then FAILED. */
  while ((n = read (raw.fd, buf, sizeof buf)) > 0)
    g_byte_array_append (raw.in, buf, (guint) n);

  g_assert_cmpint (hkp_host_record_decode (raw.in->data, raw.in->len, &record, &size, NULL), ==, HKP_HOST_DECODE_OK);
  g_assert_cmpint (record.type, ==, HKP_HOST_MSG_HOST_HELLO);
  g_assert_cmpuint (record.nums[HKP_HOST_HELLO_VERSION], ==, HKP_HOST_PROTOCOL_VERSION);
  g_assert_cmpuint (record.nums[HKP_HOST_HOST_HELLO_PID], ==, child_pid);
  g_byte_array_remove_range (raw.in, 0, (guint) size);
  g_assert_cmpint (hkp_host_record_decode (raw.in->data, raw.in->len, &record, &size, NULL), ==, HKP_HOST_DECODE_OK);
  g_assert_cmpint (record.type, ==, HKP_HOST_MSG_FAILED);
  g_assert_cmpuint (record.nums[0], ==, HKP_HOST_FAILURE_PROTOCOL);
  g_assert_cmpstr (record.strs[0].str, ==, expected);
  g_assert_cmpuint (size, ==, raw.in->len);
  g_assert_true (g_subprocess_wait (raw.child, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (raw.child));
  g_assert_cmpint (g_subprocess_get_exit_status (raw.child), ==, 1);
  raw_host_stop (&raw);
}

/* ---- the shipped plugins ------------------------------------------------------------------------------------------- */

/* ipfilter reads its list files in init, under the host's allow-list. */
static void
test_shipped (void)
{
  g_autofree char *dir = hkp_test_make_tmpdir ();
  g_autofree char *list = hkp_test_write_file_path (dir, "deny.txt", "# bad\n198.51.100.7\n");
  g_autofree char *config = g_strdup_printf ("{\"enabled\": true, \"deny_files\": [\"%s\"]}", list);
  g_autoptr (HkpHost) ipfilter = start_host ("ipfilter", "shipped:ipfilter.so", config);
  g_autoptr (HkpHost) ratelimit = start_host ("ratelimit", "shipped:ratelimit.so",
                                              "{\"enabled\": true, \"lookup\": {\"requests_per_second\": 1, "
                                              "\"burst\": 1}}");
  g_autoptr (Calls) calls = calls_new (4);
  HkpHostRequest denied = { .method = "GET", .path = "/pks/lookup", .client_address = "198.51.100.7" };
  HkpHostRequest passed = { .method = "GET", .path = "/pks/lookup", .client_address = "192.0.2.1" };

  hkp_host_handle (ipfilter, &denied, 0, on_answer, &calls->results[0]);
  hkp_host_handle (ipfilter, &passed, 0, on_answer, &calls->results[1]);
  calls_wait (calls, 2);
  g_assert_cmpint (calls->results[0].verdict, ==, HKP_VERDICT_DENY);
  g_assert_cmpint (calls->results[1].verdict, ==, HKP_VERDICT_CONTINUE);

  /* One lookup a second with a burst of one: the second at once is refused with 429. */
  hkp_host_handle (ratelimit, &passed, 0, on_answer, &calls->results[2]);
  calls_wait (calls, 3);
  hkp_host_handle (ratelimit, &passed, 0, on_answer, &calls->results[3]);
  calls_wait (calls, 4);
  g_assert_cmpint (calls->results[2].verdict, ==, HKP_VERDICT_CONTINUE);
  g_assert_cmpint (calls->results[3].verdict, ==, HKP_VERDICT_DENY);
  g_assert_cmpint (calls->results[3].status, ==, 429);
  g_assert_nonnull (result_header (&calls->results[3], "Retry-After"));

  g_assert_true (hkp_host_stop (ipfilter, 5000));
  g_assert_true (hkp_host_stop (ratelimit, 5000));
  hkp_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  if (argc == 2 && g_str_equal (argv[1], "--spawn-host-and-wait"))
    return spawn_host_and_wait ();
  g_setenv ("HKP_TEST_HOST_SELF", self, TRUE);
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();

  g_test_add_func ("/host/answer", test_answer);
  g_test_add_func ("/host/pipelined", test_pipelined);
  g_test_add_func ("/host/held-answers-not-behind-slow", test_held_answers_not_behind_slow);
  g_test_add_data_func ("/host/held-answers-survive-crash/segfault", "segfault", test_held_answers_survive_crash);
  g_test_add_data_func ("/host/held-answers-survive-crash/abort", "abort", test_held_answers_survive_crash);
  g_test_add_func ("/host/sleeper", test_sleeper);
  g_test_add_func ("/host/health", test_health);
  g_test_add_func ("/host/validate", test_validate);
  g_test_add_func ("/host/cancel", test_cancel);
  for (guint i = 0; i < G_N_ELEMENTS (crashes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/host/crash/%s", crashes[i].mode);
      g_test_add_data_func (path, &crashes[i], test_crash);
    }
  g_test_add_func ("/host/kill", test_kill);
  g_test_add_func ("/host/exit-handler-late", test_exit_handler_late);
  g_test_add_func ("/host/answer-lets-go", test_answer_lets_go);
  g_test_add_func ("/host/hang", test_hang);
  g_test_add_func ("/host/hang-many", test_hang_many);
  g_test_add_func ("/host/slow-holds-up-none", test_slow_holds_up_none);
  g_test_add_data_func ("/host/stuck/hang-uncancellable", "hang-uncancellable", test_stuck);
  g_test_add_data_func ("/host/stuck/spin", "spin", test_stuck);
  g_test_add_func ("/host/health-hang", test_health_hang);
  g_test_add_func ("/host/memory-limit", test_memory_limit);
  g_test_add_func ("/host/confinement", test_confinement);
  g_test_add_func ("/host/as-packaged-unit", test_as_packaged_unit);
  g_test_add_func ("/host/inherits-scheduling", test_inherits_scheduling);
  g_test_add_func ("/host/rogue-texts", test_rogue_texts);
  g_test_add_func ("/host/rogue-stops-reading", test_rogue_stops_reading);
  g_test_add_func ("/host/rogue-answers-unasked", test_rogue_answers_unasked);
  g_test_add_func ("/host/slow-calls-do-not-starve", test_slow_calls_do_not_starve);
  g_test_add_func ("/host/grown-threads-leave", test_grown_threads_leave);
  g_test_add_func ("/host/parent-death", test_parent_death);
  g_test_add_func ("/host/logs", test_logs);
  g_test_add_func ("/host/log-flood", test_log_flood);
  g_test_add_func ("/host/log-flood-keeps-warnings", test_log_flood_keeps_warnings);
  g_test_add_func ("/host/log-flood-said-in-silence", test_log_flood_said_in_silence);
  g_test_add_func ("/host/backlog", test_backlog);
  g_test_add_func ("/host/stop", test_stop);
  g_test_add_func ("/host/leak-check", test_leak_check);
  for (guint i = 0; i < G_N_ELEMENTS (start_errors); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/host/start-error/%s", start_errors[i].name != NULL ? start_errors[i].name : start_errors[i].module);
      g_test_add_data_func (path, &start_errors[i], test_start_error);
    }
  g_test_add_func ("/host/start-error/no-program", test_no_program);
  g_test_add_func ("/host/version-mismatch/daemon-side", test_version_mismatch_daemon_side);
  g_test_add_func ("/host/version-mismatch/host-side", test_version_mismatch_host_side);
  g_test_add_func ("/host/shipped", test_shipped);
  return g_test_run ();
}
