/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: misbehaves as "mode" says, only on requests whose path is
 * "path" (default "/boom"), or in health() for health-hang; every other
 * request is allowed with reason "fine", X-Echo (the request's X-Id header)
 * and X-Path.  Before misbehaving it logs "misbehave: MODE on PATH".  A query "sleep_ms=N" makes a request take N ms, or until it is
 * cancelled.
 *
 * quiet: misbehaves without saying so first (as a plugin that crashes does).
 *
 * mode: segfault (NULL write), abort, exit (_exit(3)), hang (until
 *       cancelled), hang-uncancellable, spin (a busy loop), health-hang
 *       (health() never returns), syscall (socket(), which the plugin host
 *       does not allow), signal-daemon (asks for SIGIO to the daemon on a
 *       pipe, which the plugin host does not allow), read-daemon (denies,
 *       the reason saying whether the daemon's /proc/PID/mem and environ
 *       opened: "mem: opened" or "mem: Permission denied; environ: …"), or none.
 * init_alloc_mb: init allocates and touches that much, and fails if it cannot.
 * init_hang: init logs "misbehave: init hangs in process PID" and never returns.
 * init_fails_while: init fails ("PATH exists") while the file at that path exists.
 * leak: init leaks a little memory (for the leak checker to find).
 * chatter_lines: init first logs "misbehave: chatter" with g_message() that many times.
 * log, stderr: init logs that text with g_warning() (log_lines times, default 1), or writes it to stderr.
 * Shutdown logs "misbehave: shutdown" with g_message().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-plugin-util.h"

typedef struct {
  char *mode;
  char *path;
  gboolean quiet;
  gint calls;
} Misbehave;

static int
misbehave_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  Misbehave *misbehave;
  gint64 alloc_mb;

  if (config == NULL)
    return -1;
  if (test_plugin_string (config, "init_fails_while", NULL) != NULL &&
      access (test_plugin_string (config, "init_fails_while", NULL), F_OK) == 0)
    {
      snprintf (error, error_size, "%s exists", test_plugin_string (config, "init_fails_while", NULL));
      return -1;
    }
  alloc_mb = test_plugin_int (config, "init_alloc_mb", 0);
  if (alloc_mb > 0)
    {
      /* malloc, not g_malloc: running out must be an error to report, not an abort. */
      char *memory = malloc ((size_t) alloc_mb << 20);
      if (memory == NULL)
        {
          snprintf (error, error_size, "cannot allocate %" G_GINT64_FORMAT " MiB", alloc_mb);
          return -1;
        }
      memset (memory, 1, (size_t) alloc_mb << 20);
      free (memory);
    }
  for (gint64 i = 0; i < test_plugin_int (config, "chatter_lines", 0); i++)
    g_message ("misbehave: chatter");
  if (test_plugin_string (config, "log", NULL) != NULL)
    for (gint64 i = 0; i < MAX (test_plugin_int (config, "log_lines", 1), 1); i++)
      g_warning ("%s", test_plugin_string (config, "log", NULL));
  if (test_plugin_string (config, "stderr", NULL) != NULL)
    {
      fprintf (stderr, "%s\n", test_plugin_string (config, "stderr", NULL));
      fflush (stderr);
    }
  if (json_object_has_member (config, "leak") && json_object_get_boolean_member (config, "leak"))
    {
      /* volatile: the compiler must not drop an allocation whose pointer nobody keeps. */
      char *volatile lost = malloc (64);
      memset (lost, 1, 64);
      lost = NULL;
    }
  if (json_object_has_member (config, "init_hang") && json_object_get_boolean_member (config, "init_hang"))
    {
      g_message ("misbehave: init hangs in process %d", (int) getpid ());
      for (;;)
        pause ();
    }
  misbehave = g_new0 (Misbehave, 1);
  misbehave->mode = g_strdup (test_plugin_string (config, "mode", "none"));
  misbehave->path = g_strdup (test_plugin_string (config, "path", "/boom"));
  misbehave->quiet = json_object_has_member (config, "quiet") && json_object_get_boolean_member (config, "quiet");
  *instance = misbehave;
  return 0;
}

/* Sleeps ms milliseconds, or until the call is cancelled; returns TRUE if it was. */
static gboolean
sleep_cancellable (const hkp_request *request, gint64 ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      if (request->cancelled (request))
        return TRUE;
      g_usleep (1000);
    }
  return FALSE;
}

/* A store through NULL: a real SIGSEGV, which UBSan (in sanitizer builds) must not turn into an exit first. */
__attribute__ ((no_sanitize ("undefined"))) static void
store_through_null (void)
{
  volatile int *volatile nowhere = NULL;
  *nowhere = 1;
}

static void
misbehave_now (const char *mode, const hkp_request *request)
{
  if (g_str_equal (mode, "segfault"))
    store_through_null ();
  else if (g_str_equal (mode, "abort"))
    abort ();
  else if (g_str_equal (mode, "exit"))
    _exit (3);
  else if (g_str_equal (mode, "hang"))
    sleep_cancellable (request, G_MAXINT32);
  else if (g_str_equal (mode, "hang-uncancellable"))
    for (;;)
      pause ();
  else if (g_str_equal (mode, "spin"))
    {
      volatile guint64 spins = 0;
      for (;;)
        spins++;
    }
  else if (g_str_equal (mode, "syscall"))
    {
      /* Without the host's allow-list (in process) it works: then it is closed again. */
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      if (fd >= 0)
        close (fd);
    }
}

/* Says whether the daemon's /proc file name opens, appended to reason. */
static void
try_daemon_file (GString *reason, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) getppid (), name);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_string_append_printf (reason, "%s%s: %s", reason->len > 0 ? "; " : "", name,
                          fd >= 0 ? "opened" : g_strerror (errno));
  if (fd >= 0)
    close (fd);
}

/* SIGIO for a pipe, owned by the daemon (which it would kill), then a byte to raise it. */
static void
signal_daemon (void)
{
  int fds[2];

  if (pipe (fds) < 0)
    return;
  fcntl (fds[0], F_SETOWN, (int) getppid ());
  fcntl (fds[0], F_SETFL, fcntl (fds[0], F_GETFL) | O_ASYNC);
  (void) !write (fds[1], "x", 1);
  close (fds[0]);
  close (fds[1]);
}

static hkp_verdict
misbehave_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  Misbehave *misbehave = instance;
  const char *id = request->header (request, "X-Id");

  g_atomic_int_inc (&misbehave->calls);
  if (g_str_equal (request->path, misbehave->path))
    {
      /* Said first, so a test knows the call is here. */
      if (!misbehave->quiet)
        g_message ("misbehave: %s on %s", misbehave->mode, request->path);
      if (g_str_equal (misbehave->mode, "read-daemon"))
        {
          g_autoptr (GString) reason = g_string_new (NULL);
          try_daemon_file (reason, "mem");
          try_daemon_file (reason, "environ");
          response->set_reason (response, reason->str);
          return HKP_VERDICT_DENY;
        }
      if (g_str_equal (misbehave->mode, "signal-daemon"))
        signal_daemon ();
      misbehave_now (misbehave->mode, request);
      return HKP_VERDICT_CONTINUE;
    }
  if (g_str_has_prefix (request->query, "sleep_ms=") &&
      sleep_cancellable (request, g_ascii_strtoll (request->query + strlen ("sleep_ms="), NULL, 10)))
    return HKP_VERDICT_CONTINUE;
  response->set_reason (response, "fine");
  response->add_header (response, "X-Echo", id != NULL ? id : "");
  response->add_header (response, "X-Path", request->path);
  return HKP_VERDICT_ALLOW;
}

static hkp_health_status
misbehave_health (void *instance, hkp_health_report *report)
{
  Misbehave *misbehave = instance;

  if (g_str_equal (misbehave->mode, "health-hang"))
    for (;;)
      pause ();
  report->set_message (report, "misbehaving on request");
  report->add_check_int (report, "calls", g_atomic_int_get (&misbehave->calls));
  report->add_check (report, "mode", misbehave->mode);
  return HKP_HEALTH_DEGRADED;
}

static void
misbehave_shutdown (void *instance)
{
  Misbehave *misbehave = instance;

  g_message ("misbehave: shutdown");
  g_free (misbehave->mode);
  g_free (misbehave->path);
  g_free (misbehave);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "misbehave",
  .version = "1.0",
  .description = "Test plugin: crashes, hangs, spins or breaks the rules on one request path",
  .init = misbehave_init,
  .handle = misbehave_handle,
  .health = misbehave_health,
  .shutdown = misbehave_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
