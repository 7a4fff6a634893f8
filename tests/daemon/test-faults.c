/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault containment, against the real daemon and real plugin hosts: a
 * plugin that segfaults, aborts, exits, hangs ignoring cancellation or
 * spins on one request path (tests/plugins/misbehave.c).  For each, while
 * twelve such requests are in flight: the daemon lives, D-Bus answers, other
 * checks are answered promptly, the twelve are answered by the failure mode,
 * the plugin says why and comes back to active, and SIGTERM ends the daemon
 * cleanly.  Also: a health() that never returns adds no thread; an
 * in-process call that never returns is abandoned, and after four the plugin
 * fails and the stop ends the process anyway.  And a plugin host can neither
 * read the daemon's memory nor aim a signal at it.
 */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include <systemd/sd-bus.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define HUNG 12
#define OTHERS 20
/* Generous bounds for a loaded 2-CPU machine: what matters is seconds, never the call's minutes. */
#define PROMPT_USEC (2 * G_USEC_PER_SEC)

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
  char *address; /* the check endpoint */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_flush_close_unref);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
  g_free (f->address);
}

static void
start (Fixture *f, const char *const *extra)
{
  f->bus = hkp_test_bus_start (TRUE, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, extra);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
}

/* One check of path on a connection of its own, timed. */
typedef struct {
  const char *address;
  const char *path;
  guint status;
  char *hkp_status; /* X-Hkp-Status, for a denial */
  char *reason; /* X-Hkp-Reason */
  gint64 usec;
  GError *error;
} Check;

static gpointer
run_check (gpointer data)
{
  Check *c = data;
  g_autofree char *uri = g_strdup_printf ("X-Original-URI: %s", c->path);
  const char *const headers[] = { "X-Original-Method: GET", uri, "X-Real-IP: 192.0.2.1", NULL };
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (c->address, NULL, &c->error);
  g_auto (HkpTestHttpResponse) r = { 0 };
  gint64 start = g_get_monotonic_time ();

  if (http != NULL && hkp_test_http_request (http, "GET", "/check", headers, NULL, &r, &c->error))
    {
      c->status = r.status;
      c->hkp_status = g_strdup (hkp_test_http_header (&r, "x-hkp-status"));
      c->reason = g_strdup (hkp_test_http_header (&r, "x-hkp-reason"));
    }
  c->usec = g_get_monotonic_time () - start;
  return NULL;
}

/* Starts n checks of path at address, each on a thread of its own named name: checks[i] on threads[i]. */
static void
start_checks (const char *address, const char *path, const char *name, Check *checks, GThread **threads, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      checks[i].address = address;
      checks[i].path = path;
      threads[i] = g_thread_new (name, run_check, &checks[i]);
    }
}

static void
check_clear (Check *c)
{
  g_free (c->hkp_status);
  g_free (c->reason);
  g_clear_error (&c->error);
}

/* Asserts c was answered: allowed, or denied by the failed plugin's failure mode (closed: 503). */
static void
assert_answered (const Check *c, gboolean may_be_unavailable)
{
  g_assert_no_error (c->error);
  if (c->status == 200)
    return;
  g_assert_true (may_be_unavailable);
  g_assert_cmpuint (c->status, ==, 403);
  g_assert_cmpstr (c->hkp_status, ==, "503");
}

/* Twelve requests that make the plugin misbehave, and twenty others meanwhile, each answered promptly. */
static void
hammer (Fixture *f)
{
  Check hung[HUNG] = { { 0 } };
  GThread *threads[HUNG];

  start_checks (f->address, "/boom", "hung", hung, threads, HUNG);
  for (guint i = 0; i < OTHERS; i++)
    {
      Check other = { .address = f->address, .path = "/fine" };

      run_check (&other);
      /* Allowed, or 503 while the plugin's new host starts: answered either way, and at once. */
      assert_answered (&other, TRUE);
      g_assert_cmpint (other.usec, <, PROMPT_USEC);
      check_clear (&other);
    }
  for (guint i = 0; i < HUNG; i++)
    {
      g_thread_join (threads[i]);
      /* By the failure mode (closed), at the call's deadline at the latest. */
      g_assert_no_error (hung[i].error);
      g_assert_cmpuint (hung[i].status, ==, 403);
      g_assert_cmpstr (hung[i].hkp_status, ==, "503");
      g_assert_cmpint (hung[i].usec, <, PROMPT_USEC);
      check_clear (&hung[i]);
    }
}

typedef struct {
  const char *mode;
  const char *why; /* how the host ended, as LastError says it after "plugin host " */
} Fault;

static const Fault faults[] = {
  { "segfault", "killed by signal 11 (SIGSEGV)" },
  { "abort", "killed by signal 6 (SIGABRT)" },
  { "exit", "exited with status 3" },
  { "hang-uncancellable", "killed: handle() did not return within " },
  { "spin", "killed: handle() did not return within " },
  { "syscall", "system call socket is not allowed in the plugin host (seccomp)" },
  /* Had it been let through, the daemon would have died of SIGIO. */
  { "signal-daemon", "system call fcntl is not allowed in the plugin host (seccomp)" },
};

static void
test_host_fault (Fixture *f, gconstpointer data)
{
  const Fault *fault = data;
  g_autofree char *json = g_strdup_printf ("{\"module\": \"misbehave.so\", \"isolation\": \"process\", "
                                           "\"call_timeout_ms\": 300, \"config\": {\"mode\": \"%s\"}}",
                                           fault->mode);
  g_autofree char *path = hkp_test_plugin_path ("bad");
  g_autofree char *line = g_strdup_printf ("plugin bad failed: plugin host %s", fault->why);
  g_autofree char *status = NULL, *error = NULL;
  gint failed;

  hkp_test_tree_write_plugin (&f->tree, "bad", json);
  start (f, NULL);
  hammer (f);
  failed = hkp_test_daemon_wait_line (f->daemon, line);
  /* The journal line names the plugin, how its host ended, and what its failure mode answered. */
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "requests in flight were answered by its failure mode (closed)"),
                   >=, 0);
  /* D-Bus answers, and the plugin comes back with a new host. */
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "GetStatus", NULL, NULL, NULL));
  for (guint crashes = 1;; crashes++)
    {
      gint active = hkp_test_daemon_wait_line_after (f->daemon, "plugin bad active", failed);

      g_free (status);
      status = hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, "State");
      if (g_str_equal (status, "active"))
        break;
      /* On a loaded machine a request of the twelve may reach the new host late, and end it too. */
      g_assert_cmpuint (crashes, <, HUNG);
      failed = hkp_test_daemon_wait_line_after (f->daemon, line, active);
    }
  error = hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, "LastError");
  g_assert_cmpstr (error, ==, "");
  g_assert_cmpuint (hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "HostPID", 'u'), >, 0);
  hkp_test_daemon_stop (f->daemon);
}

/* One check of path; asserts it is answered status, with X-Hkp-Reason reason. */
static void
assert_check (Fixture *f, const char *path, guint status, const char *reason)
{
  Check c = { .address = f->address, .path = path };

  run_check (&c);
  g_assert_no_error (c.error);
  g_assert_cmpuint (c.status, ==, status);
  g_assert_cmpstr (c.reason, ==, reason);
  check_clear (&c);
}

/* failure_mode open: the broken plugin is skipped, the next one decides, no 5xx. */
static void
test_host_fault_open (Fixture *f, gconstpointer data)
{

  hkp_test_tree_write_plugin (&f->tree, "bad",
                              "{\"module\": \"misbehave.so\", \"priority\": 1, \"failure_mode\": \"open\", "
                              "\"config\": {\"mode\": \"segfault\"}}");
  hkp_test_tree_write_plugin (&f->tree, "after",
                              "{\"module\": \"answer.so\", \"priority\": 2, \"isolation\": \"none\", "
                              "\"config\": {\"verdict\": \"deny\", \"reason\": \"after\"}}");
  start (f, NULL);
  assert_check (f, "/boom", 403, "after");
  hkp_test_daemon_wait_line (f->daemon, "plugin bad failed: plugin host killed by signal 11 (SIGSEGV)");
  hkp_test_daemon_stop (f->daemon);
}

/* A plugin host cannot read the daemon's memory or environment (its token, its secrets, every plugin's config). */
static void
test_host_cannot_read_daemon (Fixture *f, gconstpointer data)
{
  hkp_test_tree_write_plugin (&f->tree, "nosy",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"process\", "
                              "\"config\": {\"mode\": \"read-daemon\"}}");
  start (f, NULL);
  assert_check (f, "/boom", 403, "mem: Permission denied; environ: Permission denied");
  hkp_test_daemon_stop (f->daemon);
}

/* Threads of process pid, from /proc. */
static guint
threads_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

/* A health() that never returns: unhealthy, its host restarted after 3 checks, and no thread piles up. */
static void
test_health_hang (Fixture *f, gconstpointer data)
{
  GPid pid;
  guint before, after;
  gint first;

  hkp_test_tree_write_plugin (&f->tree, "sick",
                              "{\"module\": \"misbehave.so\", \"health_interval_sec\": 0.1, "
                              "\"config\": {\"mode\": \"health-hang\"}}");
  start (f, (const char *const[]){ "--health-interval=0.1", NULL });
  pid = hkp_test_daemon_get_pid (f->daemon);
  first = hkp_test_daemon_wait_line (f->daemon, "plugin sick health");
  before = threads_of (pid);
  first = hkp_test_daemon_wait_line_after (f->daemon, "health() stuck for 3 checks; killing its host", first);
  first = hkp_test_daemon_wait_line_after (f->daemon, "plugin sick active", first);
  hkp_test_daemon_wait_line_after (f->daemon, "health() stuck for 3 checks; killing its host", first);
  after = threads_of (pid);
  /* Each host has its I/O thread, and a health check its own while it runs: at most a couple more, never a pile. */
  g_assert_cmpuint (after, <=, before + 2);
  hkp_test_daemon_stop (f->daemon);
}

/* Waits for the daemon, sent SIGTERM at stop_started, to exit: within the drain timeout and a margin, failing. */
static void
assert_stop_fails_in_time (Fixture *f, gint64 stop_started)
{
  int status = hkp_test_daemon_wait_exit (f->daemon);

  g_assert_cmpint (g_get_monotonic_time () - stop_started, <, 15 * G_USEC_PER_SEC);
  g_assert_cmpint (status, !=, 0);
}

/* In the daemon, a call that never returns is abandoned at its deadline; four of them fail the plugin. */
static void
test_in_process_stuck (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("bad");
  g_autofree char *state = NULL, *error = NULL;
  gint64 stop_started;

  hkp_test_tree_write_plugin (&f->tree, "bad",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"none\", \"call_timeout_ms\": 300, "
                              "\"config\": {\"mode\": \"hang-uncancellable\"}}");
  start (f, (const char *const[]){ "--drain-timeout=1", NULL });
  hammer (f);
  hkp_test_daemon_wait_line (f->daemon, "plugin bad failed: 4 calls stuck in handle()");
  state = hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, "State");
  g_assert_cmpstr (state, ==, "failed");
  error = hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, "LastError");
  g_assert_true (g_str_has_prefix (error, "4 calls stuck in handle()"));
  /* No longer called: checks are answered by its failure mode at once. */
  {
    Check c = { .address = f->address, .path = "/fine" };
    run_check (&c);
    assert_answered (&c, TRUE);
    g_assert_cmpuint (c.status, ==, 403);
    g_assert_cmpint (c.usec, <, PROMPT_USEC);
    check_clear (&c);
  }
  /* The stop ends the process within the drain timeout and a margin, saying what it abandoned. */
  stop_started = g_get_monotonic_time ();
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  assert_stop_fails_in_time (f, stop_started);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "plugin calls that never returned"), >=, 0);
}

/*
 * A stop while an in-process call hangs past the stop timeout (its deadline
 * is a minute away): the check gets an answer, "shutting down", and the
 * daemon exits by itself, failing, and says why.
 */
static void
test_stop_answers_hung_checks (Fixture *f, gconstpointer data)
{
  Check hung = { .path = "/boom" };
  GThread *thread;
  gint64 stop_started;

  hkp_test_tree_write_plugin (&f->tree, "bad",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"none\", \"call_timeout_ms\": 60000, "
                              "\"failure_mode\": \"open\", \"config\": {\"mode\": \"hang-uncancellable\"}}");
  start (f, (const char *const[]){ "--drain-timeout=1", NULL });
  hung.address = f->address;
  thread = g_thread_new ("hung", run_check, &hung);
  hkp_test_daemon_wait_line (f->daemon, "misbehave: hang-uncancellable on /boom");
  stop_started = g_get_monotonic_time ();
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  g_thread_join (thread);
  g_assert_no_error (hung.error);
  g_assert_cmpuint (hung.status, ==, 503);
  assert_stop_fails_in_time (f, stop_started);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon,
                                         "1 check(s) still running when the stop timeout passed; "
                                         "answered 503 (shutting down)"),
                   >=, 0);
  check_clear (&hung);
}

/*
 * A plugin slow but within its deadline, asked more at once than there are
 * threads for it: checks that wait for a thread are answered by the failure
 * mode at their deadline too, never later.
 */
static void
test_busy_plugin_answered_at_deadline (Fixture *f, gconstpointer data)
{
  /* Twice the 64 threads a host grows to (many times the daemon's): 900 ms each, so most wait past the deadline. */
  const guint busy_n = 128;
  const char *isolation = data;
  g_autofree char *json = g_strdup_printf ("{\"module\": \"misbehave.so\", \"isolation\": \"%s\", "
                                           "\"call_timeout_ms\": 1000, \"config\": {}}",
                                           isolation);
  g_autofree Check *busy = g_new0 (Check, busy_n);
  g_autofree GThread **threads = g_new0 (GThread *, busy_n);
  guint allowed = 0;

  hkp_test_tree_write_plugin (&f->tree, "busy", json);
  start (f, NULL);
  start_checks (f->address, "/slow?sleep_ms=900", "busy", busy, threads, busy_n);
  for (guint i = 0; i < busy_n; i++)
    {
      g_thread_join (threads[i]);
      assert_answered (&busy[i], TRUE);
      allowed += busy[i].status == 200;
      /* The deadline, and a margin for a loaded machine. */
      g_assert_cmpint (busy[i].usec, <, G_USEC_PER_SEC + PROMPT_USEC / 2);
      check_clear (&busy[i]);
    }
  g_test_message ("%u of %u allowed by the plugin, the rest by its failure mode at the deadline", allowed, busy_n);
  g_assert_cmpuint (allowed, >, 0);
  g_assert_cmpuint (allowed, <, busy_n);
}

/*
 * A plugin slow on some requests, more of them at once than it has threads:
 * a quick request of the same plugin is answered at once, not after the slow
 * ones queued ahead of it, nor by the failure mode at its deadline.  The
 * threads (a host's, or the daemon's for plugins in process) grow for it.
 */
static void
test_slow_calls_do_not_starve (Fixture *f, gconstpointer data)
{
  const guint slow_n = 20;
  const char *isolation = data;
  g_autofree char *json = g_strdup_printf ("{\"module\": \"misbehave.so\", \"isolation\": \"%s\", \"config\": {}}",
                                           isolation);
  g_autofree char *path = hkp_test_plugin_path ("p");
  g_autofree Check *slow = g_new0 (Check, slow_n);
  g_autofree GThread **threads = g_new0 (GThread *, slow_n);
  gint64 limit;

  hkp_test_tree_write_plugin (&f->tree, "p", json);
  start (f, NULL);
  start_checks (f->address, "/slow?sleep_ms=2500", "slow", slow, threads, slow_n);
  /* All of them in the plugin, running or waiting for a thread: ActiveRequests says so, looked at every 20 ms. */
  limit = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "ActiveRequests", 'u') < slow_n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, limit);
      g_usleep (20000);
    }
  {
    Check quick = { .address = f->address, .path = "/quick" };

    run_check (&quick);
    g_assert_no_error (quick.error);
    if (quick.status != 200)
      g_error ("the quick check was answered %u after %" G_GINT64_FORMAT " µs: %s %s", quick.status, quick.usec,
               quick.hkp_status, quick.reason);
    g_assert_cmpint (quick.usec, <, G_USEC_PER_SEC);
    check_clear (&quick);
  }
  for (guint i = 0; i < slow_n; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (slow[i].status, ==, 200);
      check_clear (&slow[i]);
    }
}

/*
 * Asks the misbehave plugin at path for a config whose init() never
 * returns, and waits until the new instance's init() runs.  The reply comes
 * when that init() returns (never) or is given up on; nobody reads it.
 */
static void
set_config_hanging_init (Fixture *f, const char *path)
{
  g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, HKP_TEST_SERVICE, path, HKP_TEST_PLUGIN, "SetConfig",
                                             NULL, NULL, "s", "{\"init_hang\": true}"),
                   >=, 0);
  g_assert_cmpint (sd_bus_flush (f->client), >=, 0);
  hkp_test_daemon_wait_line (f->daemon, "misbehave: init hangs in process");
}

/* A change whose init() never returns outlasts the stop: the process ends anyway, naming the plugin and its state. */
static void
test_stop_overdue_names_unfinished (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("slow");
  gint64 stop_started;

  hkp_test_tree_write_plugin (&f->tree, "slow",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"none\", \"init_timeout_sec\": 60, "
                              "\"config\": {}}");
  start (f, (const char *const[]){ "--drain-timeout=1", NULL });
  set_config_hanging_init (f, path);
  stop_started = g_get_monotonic_time ();
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  assert_stop_fails_in_time (f, stop_started);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon,
                                         "stopping took longer than the drain timeout and 10 s more; "
                                         "exiting, abandoning 0 plugin calls that never returned and the "
                                         "unfinished work of plugins slow (reloading)"),
                   >=, 0);
}

/* Waits (bounded) until plugin name is active with a live host other than not_pid; returns that host's pid. */
static GPid
wait_new_host (Fixture *f, const char *name, GPid not_pid)
{
  g_autofree char *path = hkp_test_plugin_path (name);
  gint64 limit = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *state = hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, "State");
      GPid pid = (GPid) hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "HostPID", 'u');

      if (g_str_equal (state, "active") && pid != 0 && pid != not_pid && kill (pid, 0) == 0)
        return pid;
      /* Nothing says "a new host serves" but the properties: looked at every 20 ms. */
      g_assert_cmpint (g_get_monotonic_time (), <, limit);
      g_usleep (20000);
    }
}

/* Writes plugin p's file (json), starts the daemon and returns the pid of p's host. */
static GPid
start_with_p (Fixture *f, const char *json)
{
  g_autofree char *path = hkp_test_plugin_path ("p");
  GPid pid;

  hkp_test_tree_write_plugin (&f->tree, "p", json);
  start (f, NULL);
  pid = (GPid) hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "HostPID", 'u');
  g_assert_cmpint (pid, >, 0);
  return pid;
}

/*
 * The serving host is killed while a change's new instance starts, and the
 * change then fails: the rollback keeps an instance whose host is dead.  The
 * plugin must not stay "active" on it (every request answered by its
 * failure mode): it fails and gets a new host, as if the host died now.
 */
static void
test_host_dies_during_failed_change (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("p");
  GPid old_pid;

  old_pid = start_with_p (f,
                          "{\"module\": \"misbehave.so\", \"isolation\": \"process\", \"init_timeout_sec\": 1, "
                          "\"config\": {}}");
  set_config_hanging_init (f, path);
  g_assert_cmpint (kill (old_pid, SIGKILL), ==, 0);
  hkp_test_daemon_wait_line (f->daemon, "reload failed, the previous instance keeps serving");
  wait_new_host (f, "p", old_pid);
  assert_check (f, "/fine", 200, NULL);
  hkp_test_daemon_stop (f->daemon);
}

/* A new host that fails to start after a crash is not the end: the policy tries again, and the plugin comes back. */
static void
test_restart_after_failed_start (Fixture *f, gconstpointer data)
{
  g_autofree char *blocker = g_build_filename (f->tree.root, "no-start", NULL);
  g_autofree char *json = g_strdup_printf ("{\"module\": \"misbehave.so\", \"isolation\": \"process\", "
                                           "\"config\": {\"mode\": \"segfault\", \"init_fails_while\": \"%s\"}}",
                                           blocker);
  g_autofree char *path = hkp_test_plugin_path ("p");
  GPid old_pid;

  old_pid = start_with_p (f, json);
  g_assert_true (g_file_set_contents (blocker, "", 0, NULL));
  {
    Check boom = { .address = f->address, .path = "/boom" };

    run_check (&boom);
    assert_answered (&boom, TRUE);
    g_assert_cmpuint (boom.status, ==, 403);
    check_clear (&boom);
  }
  hkp_test_daemon_wait_line (f->daemon, "its new host did not start");
  g_assert_cmpint (g_unlink (blocker), ==, 0);
  wait_new_host (f, "p", old_pid);
  assert_check (f, "/fine", 200, NULL);
  hkp_test_daemon_stop (f->daemon);
}

/*
 * A host that crashes while its module file is being replaced (a package
 * upgrade's cp, here caught cut short) comes back with the module it ran:
 * a crash restart loads the dead host's module copy, not the file anew.
 * Only a change asked for (Reload) takes the file.
 */
static void
test_restart_loads_what_ran (Fixture *f, gconstpointer data)
{
  g_autofree char *module = g_build_filename (f->tree.plugin_dir, "answer.so", NULL);
  g_autofree char *whole = NULL;
  g_autofree char *path = hkp_test_plugin_path ("p");
  gsize size = 0;
  GPid old_pid;

  old_pid = start_with_p (f,
                          "{\"module\": \"answer.so\", \"isolation\": \"process\", \"config\": {\"verdict\": "
                          "\"deny\", \"reason\": \"ran\"}}");
  g_assert_true (g_file_get_contents (module, &whole, &size, NULL));
  g_assert_true (g_file_set_contents (module, whole, 1000, NULL));
  g_assert_cmpint (kill (old_pid, SIGKILL), ==, 0);
  wait_new_host (f, "p", old_pid);
  assert_check (f, "/x", 403, "ran");
  {
    g_autofree char *error = hkp_test_call (f->client, path, HKP_TEST_PLUGIN, "Reload", NULL, NULL, NULL);
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error, "cut short"));
  }
  assert_check (f, "/x", 403, "ran");
  hkp_test_daemon_stop (f->daemon);
}

/*
 * The state directory emptied by hand, then the host crashes: its module
 * copy is gone with it, so the new host loads the module file again rather
 * than never coming back.
 */
static void
test_restart_after_state_emptied (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("p");
  GPid old_pid;

  old_pid = start_with_p (f,
                          "{\"module\": \"answer.so\", \"isolation\": \"process\", \"config\": {\"verdict\": "
                          "\"deny\", \"reason\": \"back\"}}");
  hkp_test_empty_dir (f->tree.state_dir);
  g_assert_cmpint (kill (old_pid, SIGKILL), ==, 0);
  wait_new_host (f, "p", old_pid);
  assert_check (f, "/x", 403, "back");
  hkp_test_daemon_wait_line (f->daemon, "loading ");
  hkp_test_daemon_stop (f->daemon);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (faults); i++)
    {
      g_autofree char *name = g_strdup_printf ("/faults/host/%s", faults[i].mode);
      g_test_add (name, Fixture, &faults[i], setup, test_host_fault, teardown);
    }
  g_test_add ("/faults/busy-plugin-answered-at-deadline/in-process", Fixture, "none", setup,
              test_busy_plugin_answered_at_deadline, teardown);
  g_test_add ("/faults/busy-plugin-answered-at-deadline/isolated", Fixture, "process", setup,
              test_busy_plugin_answered_at_deadline, teardown);
  g_test_add ("/faults/slow-calls-do-not-starve/in-process", Fixture, "none", setup, test_slow_calls_do_not_starve,
              teardown);
  g_test_add ("/faults/slow-calls-do-not-starve/isolated", Fixture, "process", setup, test_slow_calls_do_not_starve,
              teardown);
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)
  ADD ("/faults/host/failure-mode-open", test_host_fault_open);
  ADD ("/faults/host/cannot-read-daemon", test_host_cannot_read_daemon);
  ADD ("/faults/host/dies-during-failed-change", test_host_dies_during_failed_change);
  ADD ("/faults/host/restart-after-failed-start", test_restart_after_failed_start);
  ADD ("/faults/host/restart-loads-what-ran", test_restart_loads_what_ran);
  ADD ("/faults/host/restart-after-state-emptied", test_restart_after_state_emptied);
  ADD ("/faults/health-hang", test_health_hang);
  ADD ("/faults/in-process-stuck", test_in_process_stuck);
  ADD ("/faults/stop-answers-hung-checks", test_stop_answers_hung_checks);
  ADD ("/faults/stop-overdue-names-unfinished", test_stop_overdue_names_unfinished);
#undef ADD
  return g_test_run ();
}
