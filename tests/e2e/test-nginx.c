/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * End to end through real nginx: hkp-plugind (on a private bus) answers
 * nginx's auth_request through our shipped snippet (data/nginx), in front of a
 * stand-in keyserver (a second nginx server block), over the unix socket the
 * snippet names, and over TCP with the proxy secret the snippet shows how to
 * send.  An allowed request reaches the keyserver, a denied address gets 403
 * (so the client's address came through), a client over its rate gets 429
 * with Retry-After, and a steady stream of requests sees no 5xx and no
 * connection error while the ratelimit plugin is reloaded 20 times and
 * reconfigured 5 times.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define PROXY_SECRET "n6inx-pr0ves-it-is-the-proxy"

/* How nginx reaches the check endpoint. */
typedef enum {
  CHECK_OVER_UNIX, /* the snippet as shipped */
  CHECK_OVER_TCP, /* its "Over TCP" lines, with the secret */
} CheckTransport;

#define RATELIMIT_CONFIG \
  "{\"enabled\": true, \"lookup\": {\"requests_per_second\": %u, \"burst\": %u}, " \
  "\"submit\": {\"requests_per_second\": 0.01, \"burst\": 2}}"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  GSubprocess *nginx;
  char *front; /* where nginx takes requests: 127.0.0.1:PORT */
  sd_bus *client;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree char *ratelimit = g_strdup_printf (
    "{\"module\": \"ratelimit.so\", \"priority\": 2, \"config\": " RATELIMIT_CONFIG "}", 100000, 100000);

  hkp_test_tree_init (&f->tree);
  hkp_test_copy_file (HKP_SHIPPED_PLUGIN_DIR "/ipfilter.so", f->tree.plugin_dir, "ipfilter.so");
  hkp_test_copy_file (HKP_SHIPPED_PLUGIN_DIR "/ratelimit.so", f->tree.plugin_dir, "ratelimit.so");
  hkp_test_tree_write_plugin (&f->tree, "ipfilter",
                              "{\"module\": \"ipfilter.so\", \"priority\": 1, \"config\": "
                              "{\"enabled\": true, \"deny\": [\"127.0.0.2/32\"]}}");
  hkp_test_tree_write_plugin (&f->tree, "ratelimit", ratelimit);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->nginx != NULL)
    {
      g_subprocess_send_signal (f->nginx, SIGQUIT);
      g_subprocess_wait (f->nginx, NULL, NULL);
      g_clear_object (&f->nginx);
    }
  g_clear_pointer (&f->client, sd_bus_unref);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  g_free (f->front);
  hkp_test_tree_clear (&f->tree);
}

/* Replaces every occurrence of from in *text with to. */
static void
replace (char **text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (*text, from, -1);

  g_assert_cmpuint (g_strv_length (parts), >, 1);
  g_free (*text);
  *text = g_strjoinv (to, parts);
}

/* A listening socket on 127.0.0.1, port picked by the kernel; nginx inherits it, so nothing races for the port. */
static GSocket *
listen_loopback (void)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);

  g_assert_true (g_socket_bind (socket, any, TRUE, NULL));
  g_socket_set_listen_backlog (socket, 128);
  g_assert_true (g_socket_listen (socket, NULL));
  return g_steal_pointer (&socket);
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr (GSocketAddress) address = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static void
start (Fixture *f, CheckTransport transport)
{
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) front = listen_loopback ();
  g_autoptr (GSocket) backend = listen_loopback ();
  g_autofree char *snippet = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *conf_path = NULL;
  g_autofree char *inherited = NULL;
  g_autofree char *check_address = NULL;
  g_autofree char *backend_address = NULL;
  g_autofree char *front_listen = NULL;
  int front_fd, backend_fd;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  if (transport == CHECK_OVER_UNIX)
    {
      g_autofree char *listen = g_strdup_printf ("--check-listen=unix:%s/check.sock", f->tree.root);
      argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", listen, NULL);
    }
  else
    {
      g_autofree char *secret_file = hkp_test_write_file_path (f->tree.root, "proxy-secret", PROXY_SECRET "\n");
      g_autofree char *secret_arg = g_strdup_printf ("--check-proxy-secret-file=%s", secret_file);
      g_assert_cmpint (g_chmod (secret_file, 0600), ==, 0);
      argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", secret_arg, NULL);
    }
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  check_address = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);

  /* Our snippet, with its three addresses pointed at this test's. */
  g_assert_true (g_file_get_contents (HKP_NGINX_SNIPPET, &snippet, NULL, &error));
  g_assert_no_error (error);
  backend_address = g_strdup_printf ("127.0.0.1:%u", socket_port (backend));
  front_listen = g_strdup_printf ("listen 127.0.0.1:%u;", socket_port (front));
  if (transport == CHECK_OVER_UNIX)
    replace (&snippet, "unix:/run/hkp-plugind/check.sock", check_address);
  else
    {
      /* The snippet's two "Over TCP" lines, as an admin would make them. */
      g_autofree char *server = g_strdup_printf ("server %s;", check_address);
      replace (&snippet, "server unix:/run/hkp-plugind/check.sock;", "");
      replace (&snippet, "# server 127.0.0.1:11381;", server);
      replace (&snippet, "# proxy_set_header X-Hkp-Proxy-Secret \"PASTE-THE-SECRET-HERE\";",
               "proxy_set_header X-Hkp-Proxy-Secret \"" PROXY_SECRET "\";");
    }
  replace (&snippet, "127.0.0.1:11372", backend_address);
  replace (&snippet, "listen 11371;", front_listen);
  hkp_test_write_file (f->tree.root, "hkp-plugind-nginx.conf", snippet);

  conf = g_strdup_printf (
    "%s"
    "worker_processes 2;\n"
    "daemon off;\n"
    "pid %s/nginx.pid;\n"
    "error_log %s/nginx-error.log warn;\n"
    "events { worker_connections 1024; }\n"
    "http {\n"
    "  access_log off;\n"
    "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; fastcgi_temp_path %s/tmp;\n"
    "  uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
    "  include %s/hkp-plugind-nginx.conf;\n"
    "  server {\n"
    "    listen %s;\n"
    "    location / { default_type text/plain; return 200 \"keyserver: $request_method $uri\\n\"; }\n"
    "  }\n"
    "}\n",
    geteuid () == 0 ? "user root;\n" : "", f->tree.root, f->tree.root, f->tree.root, f->tree.root, f->tree.root,
    f->tree.root, f->tree.root, f->tree.root, backend_address);
  conf_path = hkp_test_write_file_path (f->tree.root, "nginx.conf", conf);
  {
    g_autofree char *tmp = g_build_filename (f->tree.root, "tmp", NULL);
    g_assert_cmpint (g_mkdir (tmp, 0700), ==, 0);
  }

  /* nginx takes listening sockets from $NGINX (as in its binary upgrade): they are listening already. */
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  front_fd = dup (g_socket_get_fd (front));
  backend_fd = dup (g_socket_get_fd (backend));
  g_subprocess_launcher_take_fd (launcher, front_fd, 5);
  g_subprocess_launcher_take_fd (launcher, backend_fd, 6);
  g_subprocess_launcher_setenv (launcher, "NGINX", "5;6;", TRUE);
  f->nginx = g_subprocess_launcher_spawn (launcher, &error, "nginx", "-e", "stderr", "-p", f->tree.root, "-c",
                                          conf_path, NULL);
  g_assert_no_error (error);
  f->front = g_strdup_printf ("127.0.0.1:%u", socket_port (front));
}

static HkpTestHttp *
connect_from (Fixture *f, const char *local_ip)
{
  g_autoptr (GError) error = NULL;
  HkpTestHttp *http = hkp_test_http_connect (f->front, local_ip, &error);

  g_assert_no_error (error);
  return http;
}

static void
get (HkpTestHttp *http, const char *method, const char *target, HkpTestHttpResponse *response)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_test_http_request (http, method, target, NULL, NULL, response, &error));
  g_assert_no_error (error);
}

static void
test_allow_deny_and_rate_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) allowed = NULL;
  g_autoptr (HkpTestHttp) denied = NULL;
  g_autoptr (HkpTestHttp) submitter = NULL;

  start (f, GPOINTER_TO_INT (data));

  allowed = connect_from (f, "127.0.0.1");
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    get (allowed, "GET", "/pks/lookup?op=get&search=0x1234", &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpstr (r.body, ==, "keyserver: GET /pks/lookup\n");
  }

  denied = connect_from (f, "127.0.0.2");
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    get (denied, "GET", "/pks/lookup?op=get&search=0x1234", &r);
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_null (strstr (r.body, "keyserver"));
  }

  /* Submissions: a burst of 2, then 429 with Retry-After and the X-RateLimit-* headers. */
  submitter = connect_from (f, "127.0.0.3");
  for (guint i = 0; i < 2; i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      get (submitter, "POST", "/pks/add", &r);
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_cmpstr (r.body, ==, "keyserver: POST /pks/add\n");
    }
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    guint64 retry_after;
    get (submitter, "POST", "/pks/add", &r);
    g_assert_cmpuint (r.status, ==, 429);
    g_assert_nonnull (hkp_test_http_header (&r, "retry-after"));
    retry_after = g_ascii_strtoull (hkp_test_http_header (&r, "retry-after"), NULL, 10);
    g_assert_cmpuint (retry_after, >=, 1);
    g_assert_cmpstr (hkp_test_http_header (&r, "x-ratelimit-limit"), ==, "0.01");
    g_assert_cmpstr (hkp_test_http_header (&r, "x-ratelimit-remaining"), ==, "0");
  }
  /* Lookups from the same client are another class, still allowed. */
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    get (submitter, "GET", "/pks/lookup?op=index&search=alice", &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

typedef struct {
  char *front;
  GMutex lock;
  GCond changed;
  gint stop;
  guint requests;
  guint ok;
  guint limited;
  guint server_errors;
  guint other;
  guint connection_errors;
} Stream;

/* Sends lookups one after another on a kept-alive connection, counting answers, until told to stop. */
static gpointer
stream_thread (gpointer data)
{
  Stream *s = data;
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (s->front, "127.0.0.4", NULL);

  while (!g_atomic_int_get (&s->stop))
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      g_autoptr (GError) error = NULL;

      if (http == NULL ||
          !hkp_test_http_request (http, "GET", "/pks/lookup?op=get&search=0xABCD", NULL, NULL, &r, &error))
        {
          s->connection_errors++;
          g_clear_pointer (&http, hkp_test_http_free);
          http = hkp_test_http_connect (s->front, "127.0.0.4", NULL);
          continue;
        }
      g_mutex_lock (&s->lock);
      s->requests++;
      g_cond_broadcast (&s->changed);
      g_mutex_unlock (&s->lock);
      if (r.status == 200)
        s->ok++;
      else if (r.status == 429)
        s->limited++;
      else if (r.status >= 500)
        s->server_errors++;
      else
        s->other++;
      if (r.closed)
        {
          g_clear_pointer (&http, hkp_test_http_free);
          http = hkp_test_http_connect (s->front, "127.0.0.4", NULL);
        }
    }
  return NULL;
}

/* Waits until the stream has answered n more requests (fails after 60 s). */
static void
stream_wait (Stream *s, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint target;

  g_mutex_lock (&s->lock);
  target = s->requests + n;
  while (s->requests < target)
    if (!g_cond_wait_until (&s->changed, &s->lock, deadline))
      g_error ("the request stream stalled at %u requests", s->requests);
  g_mutex_unlock (&s->lock);
}

static void
test_reload_storm_loses_nothing (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("ratelimit");
  Stream stream = { 0 };
  GThread *thread;

  start (f, CHECK_OVER_UNIX);
  stream.front = f->front;
  thread = g_thread_new ("stream", stream_thread, &stream);

  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *error = NULL;

      stream_wait (&stream, 20); /* some requests between changes */
      if (i % 5 == 4)
        {
          /* A config change: a different, still generous rate. */
          g_autofree char *config = g_strdup_printf (RATELIMIT_CONFIG, 100000 + i, 100000 + i);
          error = hkp_test_call (f->client, path, HKP_TEST_PLUGIN, "SetConfig", config, NULL, NULL);
        }
      else
        error = hkp_test_call (f->client, path, HKP_TEST_PLUGIN, "Reload", NULL, NULL, NULL);
      g_assert_null (error);
    }
  g_assert_cmpuint (hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "ReloadCount", 'u'), >=, 25);

  stream_wait (&stream, 20);
  g_atomic_int_set (&stream.stop, 1);
  g_thread_join (thread);

  g_test_message ("%u requests: %u allowed, %u limited, %u 5xx, %u other, %u connection errors", stream.requests,
                  stream.ok, stream.limited, stream.server_errors, stream.other, stream.connection_errors);
  g_assert_cmpuint (stream.requests, >=, 500);
  g_assert_cmpuint (stream.server_errors, ==, 0);
  g_assert_cmpuint (stream.connection_errors, ==, 0);
  g_assert_cmpuint (stream.other, ==, 0);
  /*
   * The bucket (100,000 a second, burst 100,000 or more) never runs dry for one sequential client, even
   * when a slow reload on a loaded machine lets the stream run on for seconds.
   */
  g_assert_cmpuint (stream.limited, ==, 0);
  g_assert_cmpuint (stream.ok, ==, stream.requests);
}

/* Kills the host of plugin name with SIGKILL and waits until a new host serves it (from the journal). */
static void
kill_host (Fixture *f, const char *name)
{
  g_autofree char *path = hkp_test_plugin_path (name);
  guint pid = (guint) hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, "HostPID", 'u');
  g_autofree char *ended = g_strdup_printf ("plugin %s: its host (pid %u) killed by signal 9 (SIGKILL)", name, pid);
  g_autofree char *active = g_strdup_printf ("plugin %s active", name);
  gint line;

  g_assert_cmpuint (pid, >, 0);
  g_assert_cmpint (kill ((pid_t) pid, SIGKILL), ==, 0);
  line = hkp_test_daemon_wait_line (f->daemon, ended);
  hkp_test_daemon_wait_line_after (f->daemon, active, line);
}

/* Plugin hosts killed again and again under load: with failure_mode open, nginx's clients never see it. */
static void
test_host_kills_lose_nothing (Fixture *f, gconstpointer data)
{
  Stream stream = { 0 };
  GThread *thread;

  if (g_str_equal (hkp_test_isolation (), "none"))
    {
      g_test_skip ("plugins run in the daemon here: there is no plugin host to kill");
      return;
    }
  hkp_test_tree_write_plugin (&f->tree, "ipfilter",
                              "{\"module\": \"ipfilter.so\", \"priority\": 1, \"failure_mode\": \"open\", "
                              "\"config\": {\"enabled\": true, \"deny\": [\"127.0.0.2/32\"]}}");
  hkp_test_tree_write_plugin (&f->tree, "ratelimit",
                              "{\"module\": \"ratelimit.so\", \"priority\": 2, \"failure_mode\": \"open\", "
                              "\"config\": {\"enabled\": true, \"lookup\": {\"requests_per_second\": 100000, "
                              "\"burst\": 100000}}}");
  start (f, CHECK_OVER_UNIX);
  stream.front = f->front;
  thread = g_thread_new ("stream", stream_thread, &stream);
  for (guint i = 0; i < 20; i++)
    {
      stream_wait (&stream, 20); /* requests between the kills */
      kill_host (f, i % 2 == 0 ? "ratelimit" : "ipfilter");
    }
  stream_wait (&stream, 20);
  g_atomic_int_set (&stream.stop, 1);
  g_thread_join (thread);

  g_test_message ("%u requests: %u allowed, %u limited, %u 5xx, %u other, %u connection errors", stream.requests,
                  stream.ok, stream.limited, stream.server_errors, stream.other, stream.connection_errors);
  g_assert_cmpuint (stream.requests, >=, 420);
  g_assert_cmpuint (stream.server_errors, ==, 0);
  g_assert_cmpuint (stream.connection_errors, ==, 0);
  g_assert_cmpuint (stream.ok, ==, stream.requests);
}

#define ADD(path, data, func) g_test_add ((path), Fixture, GINT_TO_POINTER (data), setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_autofree char *nginx = g_find_program_in_path ("nginx");

  g_test_init (&argc, &argv, NULL);
  if (nginx == NULL && !g_file_test ("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("nginx is not installed (Debian package nginx-core)");
      return g_test_run ();
    }
  ADD ("/e2e/nginx/allow-deny-and-rate-limit", CHECK_OVER_UNIX, test_allow_deny_and_rate_limit);
  ADD ("/e2e/nginx/over-tcp-with-the-proxy-secret", CHECK_OVER_TCP, test_allow_deny_and_rate_limit);
  ADD ("/e2e/nginx/reload-storm-loses-nothing", CHECK_OVER_UNIX, test_reload_storm_loses_nothing);
  ADD ("/e2e/nginx/host-kills-lose-nothing", CHECK_OVER_UNIX, test_host_kills_lose_nothing);
  return g_test_run ();
}
