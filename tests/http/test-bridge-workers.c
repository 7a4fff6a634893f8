/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge served by worker processes too (--http-processes): reads and
 * changes through whichever process the kernel hands a connection to, every
 * process serving a change before it is answered, wrong tokens no faster
 * for the processes there are, a killed worker started
 * again with its connections waiting meanwhile, and no worker left behind.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <poll.h>
#include <unistd.h>

#include "bridge-fixture.h"
#include "hkp-test-http.h"

#define WORKERS 2
#define ROUNDS 12

/* Fresh connections spread over the processes: many, so each process gets some. */
#define CONNECTIONS 8

/* One request on a new connection; returns the answer's status, with its body in *answer if not NULL. */
static guint
request_once (BridgeFixture *f, const char *method, const char *target, const char *const *headers, const char *body,
              char **answer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpTestHttp) http = bridge_connect_raw (f);
  g_auto (HkpTestHttpResponse) r = { 0 };

  g_assert_true (hkp_test_http_request (http, method, target, headers, body, &r, &error));
  g_assert_no_error (error);
  if (answer != NULL)
    *answer = g_steal_pointer (&r.body);
  return r.status;
}

/* The pid in the daemon's line index, which reads "… (pid N)…". */
static pid_t
pid_in_line (BridgeFixture *f, gint index)
{
  const char *at = strstr (f->daemon->lines->pdata[index], "(pid ");
  int pid = 0;

  g_assert_nonnull (at);
  g_assert_cmpint (sscanf (at, "(pid %d)", &pid), ==, 1);
  return (pid_t) pid;
}

/* Waits until process pid has ended (it is not our child: a pidfd tells). */
static void
wait_gone (pid_t pid)
{
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);
  struct pollfd p;

  if (fd < 0)
    return; /* already gone */
  p.fd = fd;
  p.events = POLLIN;
  g_assert_cmpint (poll (&p, 1, 10000), ==, 1);
  close (fd);
}

static void
test_workers (BridgeFixture *f, gconstpointer data)
{
  const char *const put_headers[] = { "Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL };
  g_autofree char *processes = g_strdup_printf ("--http-processes=%d", WORKERS + 1);
  pid_t pids[WORKERS];
  gint ended, started;

  bridge_start_with (f, (const char *const[]){ processes, NULL });
  for (guint w = 0; w < WORKERS; w++)
    {
      g_autofree char *ready = g_strdup_printf ("HTTP worker %u ready (pid ", w + 1);
      pids[w] = pid_in_line (f, hkp_test_daemon_wait_line (f->daemon, ready));
    }

  /* Each change, whichever process takes it, is what every process serves next. */
  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autofree char *body = g_strdup_printf ("{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"r%u\"}",
                                               round);
      g_autofree char *expected = g_strdup_printf ("\"reason\":\"r%u\"", round);

      g_assert_cmpuint (request_once (f, "PUT", "/plugins/config?plugin=beta", put_headers, body, NULL), ==, 200);
      for (guint c = 0; c < CONNECTIONS; c++)
        {
          g_autofree char *config = NULL;
          g_assert_cmpuint (request_once (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &config), ==, 200);
          if (strstr (config, expected) == NULL)
            g_error ("round %u: a process serves %s", round, config);
        }
    }
  /* Some went through a worker (all 12 missing them: (1/3)^12), and are logged so. */
  {
    g_autofree char *logged = g_strdup_printf (
      "config change of plugin beta by HTTP from 127.0.0.1 (uid %u) with the token via HTTP worker ", getuid ());
    hkp_test_daemon_wait_line (f->daemon, logged);
  }

  /*
   * A wrong token waits as many seconds as there are processes, in whichever
   * it comes to: each throttles on its own, so together they still answer
   * about one wrong token a second, not one a second each.
   */
  {
    const char *const wrong[] = { "Authorization: Bearer guess", NULL };
    gint64 asked = g_get_monotonic_time ();

    g_assert_cmpuint (request_once (f, "POST", "/plugins/reload?plugin=beta", wrong, NULL, NULL), ==, 401);
    g_assert_cmpint (g_get_monotonic_time () - asked, >=, (WORKERS + 1) * G_USEC_PER_SEC - 50 * 1000);
  }

  /* A worker killed is started again; meanwhile its connections wait, and none fails. */
  g_assert_cmpint (kill (pids[0], SIGKILL), ==, 0);
  {
    g_autofree char *line = g_strdup_printf ("HTTP worker 1 (pid %d) ended: killed by signal 9", (int) pids[0]);
    ended = hkp_test_daemon_wait_line (f->daemon, line);
  }
  for (guint c = 0; c < 3 * CONNECTIONS; c++)
    g_assert_cmpuint (request_once (f, "GET", "/livez", NULL, NULL, NULL), ==, 200);
  started = hkp_test_daemon_wait_line_after (f->daemon, "HTTP worker 1 ready (pid ", ended);
  pids[0] = pid_in_line (f, started);

  /* The daemon stops: no worker is left behind. */
  hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  for (guint w = 0; w < WORKERS; w++)
    wait_gone (pids[w]);
}

/* Workers speak HTTPS with the daemon's certificate, and take changes over it. */
static void
test_workers_tls (BridgeFixture *f, gconstpointer data)
{
  char *tls[2] = { NULL, NULL };
  g_autofree char *processes = g_strdup_printf ("--http-processes=%d", WORKERS + 1);

  if (!bridge_make_certificate (f, tls))
    return;
  bridge_start_with (f, (const char *const[]){ tls[0], tls[1], processes, NULL });
  g_free (tls[0]);
  g_free (tls[1]);
  for (guint w = 0; w < WORKERS; w++)
    {
      g_autofree char *ready = g_strdup_printf ("HTTP worker %u ready (pid ", w + 1);
      hkp_test_daemon_wait_line (f->daemon, ready);
    }
  g_free (f->scheme);
  f->scheme = g_strdup ("https");
  for (guint round = 0; round < ROUNDS; round++)
    {
      g_auto (BridgeReply) r = { 0 };
      /* A new connection each time (the session drops its idle ones), to whichever process the kernel picks. */
      soup_session_abort (f->session);
      bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
      g_assert_cmpuint (r.status, ==, 200);
    }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, ROUNDS);
  {
    g_autofree char *logged = g_strdup_printf (
      "reload of plugin beta by HTTP from 127.0.0.1 (uid %u) with the token via HTTP worker ", getuid ());
    hkp_test_daemon_wait_line (f->daemon, logged);
  }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add ("/bridge/workers", BridgeFixture, NULL, bridge_fixture_setup, test_workers, bridge_fixture_teardown);
  g_test_add ("/bridge/workers-tls", BridgeFixture, NULL, bridge_fixture_setup, test_workers_tls,
              bridge_fixture_teardown);
  /*
   * Out without the exit handlers: under ASan, LeakSanitizer's tracer now
   * and then crashed ("Tracer caught signal 11") stopping this program's
   * client threads at exit, twice in some twenty CI runs, always here.  The
   * daemons and workers it started were checked for leaks as they stopped;
   * only this test program's own memory goes unchecked.
   */
  status = g_test_run ();
  fflush (NULL);
  _exit (status);
}
