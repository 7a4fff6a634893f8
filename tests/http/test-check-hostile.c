/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check endpoint of the running daemon against hostile local clients:
 * 11,000 idle connections lock no real check out; the unix socket is
 * opened only by the proxy's group (nobody cannot, www-data can, through
 * curl); over TCP, a request without the proxy secret cannot spend another
 * client's rate limit (the real ratelimit plugin); a second daemon on the
 * check endpoint's port exits 1 naming it; and a client's bad requests get
 * a bounded share of the journal.
 */
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define FLOOD 11000
#define SECRET "only-the-proxy-knows"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  char *check; /* where the check endpoint listens */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  g_free (f->check);
  hkp_test_tree_clear (&f->tree);
}

/* Starts the daemon on the tree with the extra (NULL-terminated) arguments and waits until it checks. */
static void
start (Fixture *f, const char *const *extra)
{
  f->bus = hkp_test_bus_start (TRUE, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, extra);
  f->check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
}

static void
write_allow_plugin (Fixture *f)
{
  hkp_test_tree_write_plugin (&f->tree, "allow",
                              "{\"module\": \"answer.so\", \"priority\": 10, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"allow\", \"echo\": true}}");
}

/* One check on a new connection, with headers (NULL-terminated); returns its answer in r. */
static void
check_once (Fixture *f, const char *const *headers, HkpTestHttpResponse *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (f->check, NULL, &error);

  g_assert_no_error (error);
  hkp_test_http_request (http, "GET", "/check", headers, NULL, r, &error);
  g_assert_no_error (error);
}

/* A blocking TCP connection to "127.0.0.1:PORT" that sends nothing. */
static int
idle_connect (const char *address)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sa.sin_port = htons ((guint16) g_ascii_strtoull (strrchr (address, ':') + 1, NULL, 10));
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    g_error ("connect to %s: %s", address, g_strerror (errno));
  return fd;
}

/*
 * 11,000 idle connections against the 10,000 the daemon holds here (half
 * its raised file limit): each past the limit closes the longest-idle, and
 * real checks on new connections are answered, promptly, while the flood
 * holds every other slot.
 */
static void
test_idle_flood_locks_nobody_out (Fixture *f, gconstpointer data)
{
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=0x1",
                                  "X-Real-IP: 192.0.2.1", NULL };
  g_autofree int *flood = g_new (int, FLOOD);
  g_autofree char *pid_text = NULL;
  GPid pid;
  guint closed = 0;

  g_assert_cmpuint (hkp_test_raise_fd_limit (), >, FLOOD + 100);
  write_allow_plugin (f);
  start (f, NULL);
  pid = hkp_test_daemon_get_pid (f->daemon);
  for (guint i = 0; i < FLOOD; i++)
    flood[i] = idle_connect (f->check);
  hkp_test_daemon_wait_line (f->daemon, "check endpoint: 10000 connections held, the most it takes");
  /* Counted from /proc while it closes some and accepts others: maybe a few short. */
  g_assert_cmpuint (hkp_test_count_fds (pid), >=, 9900);

  for (guint i = 0; i < 20; i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      gint64 started = g_get_monotonic_time ();

      check_once (f, headers, &r);
      g_assert_cmpuint (r.status, ==, 200);
      /* A bound with a wide margin: on an idle machine this takes well under a millisecond. */
      g_assert_cmpint (g_get_monotonic_time () - started, <, 5 * G_USEC_PER_SEC);
    }

  /* The room came from the flood: its oldest connections were closed, and only as many as needed. */
  for (guint i = 0; i < FLOOD; i++)
    {
      struct pollfd p = { flood[i], POLLIN, 0 };
      struct linger reset = { 1, 0 };
      if (poll (&p, 1, 0) == 1)
        closed++;
      /* A reset leaves no TIME_WAIT behind: 11,000 of those would crowd the other tests' ports. */
      setsockopt (flood[i], SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close (flood[i]);
    }
  g_assert_cmpuint (closed, >, FLOOD - 10000);
  g_assert_cmpuint (closed, <, FLOOD - 10000 + 20 + 256);
}

/* Runs curl for one check on the unix socket at path as user:group; returns curl's exit status and the status seen. */
static int
curl_as (const char *user, const char *group, const char *path, char **status)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) curl = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *reuid = g_strdup_printf ("--reuid=%s", user);
  g_autofree char *regid = g_strdup_printf ("--regid=%s", group);

  curl = g_subprocess_launcher_spawn (launcher, &error, "setpriv", reuid, regid, "--clear-groups", "curl", "-s", "-o",
                                      "/dev/null", "-w", "%{http_code}", "--unix-socket", path, "-H",
                                      "X-Original-Method: GET", "-H", "X-Original-URI: /", "-H", "X-Real-IP: 192.0.2.1",
                                      "http://localhost/check", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (curl, NULL, NULL, status, NULL, &error));
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (curl);
}

/* Only the proxy's group may open the unix socket: 0660, never world-writable. */
static void
test_unix_socket_only_for_the_proxy_group (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->tree.root, "check.sock", NULL);
  g_autofree char *listen = g_strdup_printf ("--check-listen=unix:%s", path);
  struct group *web = getgrnam ("www-data");
  struct stat st;

  g_assert_nonnull (web);
  write_allow_plugin (f);
  start (f, (const char *const[]){ listen, "--check-socket-group=www-data", NULL });
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0660);
  g_assert_cmpuint (st.st_gid, ==, web->gr_gid);
  {
    g_autofree char *status = NULL;
    /* curl: exit 7, "failed to connect": the socket refuses nobody. */
    g_assert_cmpint (curl_as ("nobody", "nogroup", path, &status), ==, 7);
    g_assert_cmpstr (status, ==, "000");
  }
  {
    g_autofree char *status = NULL;
    g_assert_cmpint (curl_as ("www-data", "www-data", path, &status), ==, 0);
    g_assert_cmpstr (status, ==, "200");
  }
}

/*
 * As the packaged unit runs it: root with no capability (CapabilityBoundingSet=)
 * may give the socket to www-data only as a member of that group
 * (SupplementaryGroups=www-data); without, it says so and exits 1.
 */
static void
test_socket_group_without_capabilities (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->tree.root, "check.sock", NULL);
  g_autofree char *listen = g_strdup_printf ("--check-listen=unix:%s", path);
  struct group *web = getgrnam ("www-data");
  g_autofree char *says = NULL;
  struct stat st;

  g_assert_nonnull (web);
  says = g_strdup_printf ("cannot give unix:%s to group %u: Operation not permitted (the daemon must belong to that "
                          "group, or hold CAP_CHOWN)",
                          path, (unsigned) web->gr_gid);
  write_allow_plugin (f);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  {
    const char *const prefix[] = { "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--clear-groups", NULL };
    g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", listen,
                                                     "--check-socket-group=www-data", NULL);
    g_autoptr (HkpTestDaemon) daemon = hkp_test_daemon_start_under (prefix, (const char *const *) argv->pdata);

    g_assert_cmpint (hkp_test_daemon_wait_exit (daemon), ==, 1);
    g_assert_cmpint (hkp_test_daemon_find (daemon, says), >=, 0);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }
  {
    const char *const prefix[] = { "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--groups=www-data", NULL };
    g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", listen,
                                                     "--check-socket-group=www-data", NULL);

    f->daemon = hkp_test_daemon_start_under (prefix, (const char *const *) argv->pdata);
    hkp_test_daemon_wait_line (f->daemon, "ready");
    g_assert_cmpint (stat (path, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0660);
    g_assert_cmpuint (st.st_gid, ==, web->gr_gid);
  }
}

/* The real ratelimit plugin: lookups, a burst of 2, refilled once in 1000 s. */
static void
write_ratelimit_plugin (Fixture *f)
{
  hkp_test_copy_file (HKP_SHIPPED_PLUGIN_DIR "/ratelimit.so", f->tree.plugin_dir, "ratelimit.so");
  hkp_test_tree_write_plugin (&f->tree, "ratelimit",
                              "{\"module\": \"ratelimit.so\", \"priority\": 1, \"config\": "
                              "{\"enabled\": true, \"lookup\": {\"requests_per_second\": 0.001, \"burst\": 2}}}");
  write_allow_plugin (f);
}

/* Asks for a lookup by client (with secret_header, or none); returns the status the client would get. */
static guint
lookup_for (Fixture *f, const char *client, const char *secret_header)
{
  g_autofree char *real_ip = g_strdup_printf ("X-Real-IP: %s", client);
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=0x1", real_ip,
                                  secret_header, NULL };
  g_auto (HkpTestHttpResponse) r = { 0 };

  check_once (f, headers, &r);
  /* auth_request knows 2xx, 401 and 403: the real status travels beside. */
  if (r.status == 403 && hkp_test_http_header (&r, "x-hkp-status") != NULL)
    return (guint) g_ascii_strtoull (hkp_test_http_header (&r, "x-hkp-status"), NULL, 10);
  return r.status;
}

/*
 * Over TCP with a proxy secret, a local user who names a victim in
 * X-Real-IP, without the secret or with a wrong one, spends only its own
 * bucket: the victim is still allowed afterwards.
 */
static void
test_no_secret_no_spending_for_others (Fixture *f, gconstpointer data)
{
  g_autofree char *secret_file = hkp_test_write_file_path (f->tree.root, "proxy-secret", SECRET "\n");
  g_autofree char *secret_arg = g_strdup_printf ("--check-proxy-secret-file=%s", secret_file);
  const char *victim = "198.51.100.66";

  g_assert_cmpint (g_chmod (secret_file, 0600), ==, 0);
  write_ratelimit_plugin (f);
  start (f, (const char *const[]){ secret_arg, NULL });

  /* The attacker's requests count against its own address, 127.0.0.1: its bucket runs dry. */
  g_assert_cmpuint (lookup_for (f, victim, NULL), ==, 200);
  g_assert_cmpuint (lookup_for (f, victim, "X-Hkp-Proxy-Secret: guess"), ==, 200);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (lookup_for (f, victim, i % 2 == 0 ? NULL : "X-Hkp-Proxy-Secret: " SECRET "!"), ==, 429);
  hkp_test_daemon_wait_line (f->daemon, "without the right X-Hkp-Proxy-Secret: it is taken as the client itself");

  /* The victim's bucket is full: the proxy, with the secret, gets its burst of 2, then 429. */
  g_assert_cmpuint (lookup_for (f, victim, "X-Hkp-Proxy-Secret: " SECRET), ==, 200);
  g_assert_cmpuint (lookup_for (f, victim, "X-Hkp-Proxy-Secret: " SECRET), ==, 200);
  g_assert_cmpuint (lookup_for (f, victim, "X-Hkp-Proxy-Secret: " SECRET), ==, 429);
}

/* The proxy secret file is refused like the token file when others could read it. */
static void
test_loose_secret_file_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *secret_file = hkp_test_write_file_path (f->tree.root, "proxy-secret", SECRET "\n");
  g_autofree char *secret_arg = g_strdup_printf ("--check-proxy-secret-file=%s", secret_file);
  g_autofree char *says = g_strdup_printf ("proxy secret file %s is accessible to group or others (mode 0644)",
                                           secret_file);
  g_autoptr (GPtrArray) argv = NULL;

  g_assert_cmpint (g_chmod (secret_file, 0644), ==, 0);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", secret_arg, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  g_assert_cmpint (hkp_test_daemon_wait_exit (f->daemon), ==, 1);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, says), >=, 0);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

/* Runs script with sh -c in dir, asserting it succeeds; returns what it printed (caller frees). */
static char *
run_shell (const char *dir, const char *script)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) sh = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_set_cwd (launcher, dir);
  sh = g_subprocess_launcher_spawn (launcher, &error, "sh", "-c", script, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (sh, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (sh))
    g_error ("sh -c '%s' failed: %s", script, out);
  return out;
}

/*
 * The README's tour and the man page, as written: a secret made with the
 * documented commands, and the two curl lines that ask what nginx would
 * (with the secret) for an allowed client and one the demo's ipfilter
 * denies.
 */
static void
test_documented_examples (Fixture *f, gconstpointer data)
{
  g_autofree char *demo = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "data", "demo", "plugins.d", NULL);
  g_autofree char *secret_arg = g_strdup_printf ("--check-proxy-secret-file=%s/build/demo/proxy-secret", f->tree.root);
  g_autofree char *made = NULL;

  for (guint i = 0; i < 2; i++)
    {
      const char *name = i == 0 ? "ipfilter" : "ratelimit";
      g_autofree char *module = g_strdup_printf ("%s/%s.so", HKP_SHIPPED_PLUGIN_DIR, name);
      g_autofree char *file = g_strdup_printf ("%s.json", name);
      g_autofree char *path = g_build_filename (demo, file, NULL);
      g_autofree char *json = NULL;

      hkp_test_copy_file (module, f->tree.plugin_dir, strrchr (module, '/') + 1);
      g_assert_true (g_file_get_contents (path, &json, NULL, NULL));
      hkp_test_tree_write_plugin (&f->tree, name, json);
    }
  /* hkp-plugind(8), "A secret, made once", with the tour's file name. */
  made = run_shell (f->tree.root,
                    "mkdir -p build/demo && install -m 600 /dev/null build/demo/proxy-secret && "
                    "head -c 32 /dev/urandom | base64 > build/demo/proxy-secret");
  start (f, (const char *const[]){ secret_arg, NULL });
  {
    g_autofree char *allowed = NULL;
    g_autofree char *denied = NULL;
    g_autofree char *url = g_strdup_printf ("http://%s/check", f->check);
    g_autofree char *line = NULL;

    /* The README's two lines, run where the demo runs, with the port this test got. */
    line = g_strdup_printf ("curl -si -H \"X-Hkp-Proxy-Secret: $(cat build/demo/proxy-secret)\" "
                            "-H 'X-Original-Method: GET' -H 'X-Original-URI: /pks/lookup?op=get&search=0x1234' "
                            "-H 'X-Real-IP: 192.0.2.1' %s",
                            url);
    allowed = run_shell (f->tree.root, line);
    g_free (line);
    line = g_strdup_printf ("curl -si -H \"X-Hkp-Proxy-Secret: $(cat build/demo/proxy-secret)\" "
                            "-H 'X-Original-Method: GET' -H 'X-Original-URI: /pks/lookup?op=get&search=0x1234' "
                            "-H 'X-Real-IP: 198.51.100.7' %s",
                            url);
    denied = run_shell (f->tree.root, line);
    g_assert_true (g_str_has_prefix (allowed, "HTTP/1.1 200 "));
    g_assert_true (g_str_has_prefix (denied, "HTTP/1.1 403 "));
    g_assert_nonnull (strstr (denied, "X-Hkp-Plugin: ipfilter"));
  }
}

/* A second daemon on the check endpoint's TCP address exits 1 naming it; the first keeps answering. */
static void
test_second_daemon_refused (Fixture *f, gconstpointer data)
{
  write_allow_plugin (f);
  start (f, NULL);
  {
    g_autofree char *check_listen = g_strdup_printf ("--check-listen=%s", f->check);
    g_autofree char *says = g_strdup_printf ("cannot listen on %s: Address already in use", f->check);
    g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", check_listen, NULL);
    g_autoptr (HkpTestDaemon) second = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);

    g_assert_cmpint (hkp_test_daemon_wait_exit (second), ==, 1);
    g_assert_cmpint (hkp_test_daemon_find (second, says), >=, 0);
  }
  for (guint i = 0; i < 10; i++)
    {
      const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /", NULL };
      g_auto (HkpTestHttpResponse) r = { 0 };
      check_once (f, headers, &r);
      g_assert_cmpuint (r.status, ==, 200);
    }
}

/*
 * libmicrohttpd complains of every request it cannot take (or answer: a
 * client that left first), so any local client can make it speak.  The
 * journal takes 50 such lines at once and 10 a second, then how many more
 * were dropped, said within a second; checks are answered meanwhile.
 */
static void
test_complaints_bounded_in_the_journal (Fixture *f, gconstpointer data)
{
  enum { BAD = 300 };
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /fine", "X-Real-IP: 192.0.2.1", NULL };
  const char *dropped = "messages of libmicrohttpd dropped (more than 50 at once, or 10 a second)";
  g_auto (HkpTestHttpResponse) r = { 0 };
  gint64 started, asked;
  gdouble seconds;
  guint complaints;

  write_allow_plugin (f);
  start (f, NULL);
  started = g_get_monotonic_time ();
  for (guint i = 0; i < BAD; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (HkpTestHttp) http = hkp_test_http_connect (f->check, NULL, &error);
      g_auto (HkpTestHttpResponse) answer = { 0 };

      g_assert_no_error (error);
      hkp_test_http_send (http, "GET /check HTTP/9.9\r\nHost: x\r\n\r\n", &error);
      g_assert_no_error (error);
      hkp_test_http_read_response (http, "GET", &answer, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (answer.status, ==, 505);
    }
  hkp_test_daemon_wait_line (f->daemon, dropped);
  seconds = (gdouble) (g_get_monotonic_time () - started) / G_USEC_PER_SEC;
  complaints = hkp_test_daemon_count (f->daemon, "check endpoint: Error processing request");
  g_test_message ("%u requests refused in %.2f s: %u complaints in the journal", BAD, seconds, complaints);
  g_assert_cmpuint (complaints, >=, 50);
  g_assert_cmpuint (complaints, <=, 50 + 10 * seconds + 1);
  asked = g_get_monotonic_time ();
  check_once (f, headers, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpint (g_get_monotonic_time () - asked, <, 2 * G_USEC_PER_SEC);
}

/* Returns hkp_plugind_check_requests_total{result="client_gone"} as the bridge at address serves it now. */
static guint64
client_gone_count (const char *address)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (address, NULL, &error);
  g_auto (HkpTestHttpResponse) r = { 0 };
  const char *sample = "hkp_plugind_check_requests_total{result=\"client_gone\"} ";
  const char *at;

  g_assert_no_error (error);
  hkp_test_http_request (http, "GET", "/metrics", NULL, NULL, &r, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r.status, ==, 200);
  at = strstr (r.body, sample);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (sample), NULL, 10);
}

/*
 * Clients that leave while their checks wait in a plugin: the checks are
 * cancelled within a moment (the plugin's cancelled() turns true, and a
 * check still waiting for a thread is never handed to it), so a real
 * check behind them is answered by the plugin, promptly; each counts as
 * client_gone.
 */
static void
test_left_checks_cancelled (Fixture *f, gconstpointer data)
{
  enum { LEFT = 64 };
  static const char request[] = "GET /check HTTP/1.1\r\nHost: x\r\nX-Original-Method: GET\r\n"
                                "X-Original-URI: /boom\r\nX-Real-IP: 192.0.2.1\r\n\r\n";
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /fine", "X-Real-IP: 192.0.2.1", NULL };
  g_autofree char *json = g_strdup_printf ("{\"module\": \"misbehave.so\", \"isolation\": \"%s\", "
                                           "\"config\": {\"mode\": \"hang\"}}",
                                           (const char *) data);
  g_autofree char *bridge = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };
  sd_bus *client;
  int fds[LEFT];
  gint64 asked, limit;

  hkp_test_tree_write_plugin (&f->tree, "slow", json);
  start (f, (const char *const[]){ "--http-listen=127.0.0.1:0", NULL });
  bridge = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  client = hkp_test_client_new (f->bus->address);
  for (guint i = 0; i < LEFT; i++)
    {
      fds[i] = idle_connect (f->check);
      g_assert_cmpint (send (fds[i], request, sizeof request - 1, MSG_NOSIGNAL), ==, sizeof request - 1);
    }
  /* Every one is in the plugin, or waits for a thread of it; then their clients leave. */
  limit = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (hkp_test_get_uint (client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ActiveRequests", 't') < LEFT)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, limit);
      g_usleep (10000);
    }
  for (guint i = 0; i < LEFT; i++)
    close (fds[i]);
  asked = g_get_monotonic_time ();
  check_once (f, headers, &r);
  g_test_message ("a check after them was answered %u in %.2f s", r.status,
                  (gdouble) (g_get_monotonic_time () - asked) / G_USEC_PER_SEC);
  /* Not by the failure mode at its deadline (5 s): by the plugin, once the threads were free again. */
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpint (g_get_monotonic_time () - asked, <, 2 * G_USEC_PER_SEC);
  /* Each counts once it is over; the bridge's documents follow within a second. */
  limit = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (client_gone_count (bridge) < LEFT)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, limit);
      g_usleep (50000);
    }
  g_assert_cmpuint (client_gone_count (bridge), ==, LEFT);
  sd_bus_flush_close_unref (client);
}

#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/check/hostile/idle-flood-locks-nobody-out", test_idle_flood_locks_nobody_out);
  ADD ("/check/hostile/unix-socket-only-for-the-proxy-group", test_unix_socket_only_for_the_proxy_group);
  ADD ("/check/hostile/socket-group-without-capabilities", test_socket_group_without_capabilities);
  ADD ("/check/hostile/no-secret-no-spending-for-others", test_no_secret_no_spending_for_others);
  ADD ("/check/hostile/loose-secret-file-refused", test_loose_secret_file_refused);
  ADD ("/check/hostile/second-daemon-refused", test_second_daemon_refused);
  ADD ("/check/hostile/documented-examples", test_documented_examples);
  ADD ("/check/hostile/complaints-bounded-in-the-journal", test_complaints_bounded_in_the_journal);
  g_test_add ("/check/hostile/left-checks-cancelled/in-process", Fixture, "none", setup, test_left_checks_cancelled,
              teardown);
  g_test_add ("/check/hostile/left-checks-cancelled/isolated", Fixture, "process", setup, test_left_checks_cancelled,
              teardown);
  return g_test_run ();
}
