/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check endpoint over real sockets: what the plugins see of the original
 * request (never the proxy's secret), how verdicts map to nginx
 * auth_request answers, clear 400s for malformed proxy headers and
 * ambiguous framing (never an allow), whom it believes about the client
 * address (a loopback peer only with the proxy secret), keep-alive, the unix
 * socket and its mode, the longest-idle connection closed at the limit, and
 * an orderly stop that lets running checks finish while refusing new ones.
 */
#include <grp.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gunixsocketaddress.h>

#include "hkp-test-engine.h"
#include "hkp-test-http.h"
#include "hkp-test-probe.h"
#include "http-check.h"

#define SECRET "s3cret-for-tests"

typedef struct {
  EngineFixture e;
  HttpCheck *check;
  ListenAddress listen;
  HttpCheckSettings settings; /* serve() fills in listen and the engine */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree char *secret_file = NULL;

  engine_fixture_setup (&f->e, data);
  f->listen.kind = LISTEN_TCP;
  f->listen.host = g_strdup ("127.0.0.1");
  secret_file = hkp_test_write_file_path (f->e.root, "proxy-secret", SECRET "\n");
  g_assert_cmpint (chmod (secret_file, 0600), ==, 0);
  /* As the shipped nginx snippet over TCP: the proxy proves itself. */
  f->settings.proxy_secret_file = g_steal_pointer (&secret_file);
  f->settings.threads = 2;
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->check, http_check_free);
  listen_address_clear (&f->listen);
  g_free ((char *) f->settings.proxy_secret_file);
  engine_fixture_teardown (&f->e, data);
}

/* Loads the plugins written so far and serves checks with f->settings, believing trusted (NULL: loopback). */
static void
serve (Fixture *f, const char *const *trusted)
{
  g_autoptr (GError) error = NULL;
  HttpCheckSettings settings = f->settings;

  settings.listen = &f->listen;
  settings.trusted_proxies = trusted;
  engine_fixture_start (&f->e, NULL);
  f->check = http_check_new (f->e.engine, &settings, &error);
  g_assert_no_error (error);
  g_assert_true (http_check_start (f->check, &error));
  g_assert_no_error (error);
}

/* A plugin that allows and tells, in X-Seen-* headers, what it saw of the request. */
static void
write_echo_plugin (Fixture *f)
{
  engine_fixture_write_plugin (&f->e, "echo",
                               "{\"module\": \"answer.so\", \"config\": "
                               "{\"enabled\": true, \"verdict\": \"allow\", \"echo\": true, "
                               "\"echo_header\": \"X-Hkp-Proxy-Secret\"}}");
}

static HkpTestHttp *
connect_to (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  HkpTestHttp *http = hkp_test_http_connect (http_check_get_address (f->check), NULL, &error);

  g_assert_no_error (error);
  return http;
}

/* One check on http with the usual nginx headers plus extra (NULL-terminated, may be NULL). */
static void
ask (HkpTestHttp *http, const char *const *headers, HkpTestHttpResponse *response)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_test_http_request (http, "GET", "/check", headers, NULL, response, &error));
  g_assert_no_error (error);
}

static const char *const nginx_headers[] = { "X-Original-Method: POST",     "X-Original-URI: /pks/add?options=mr",
                                             "X-Real-IP: 192.0.2.7",        "X-Test: hello",
                                             "X-Hkp-Proxy-Secret: " SECRET, NULL };

static void
test_plugins_see_the_original_request (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };

  write_echo_plugin (f);
  serve (f, NULL);
  http = connect_to (f);
  ask (http, nginx_headers, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-method"), ==, "POST");
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-path"), ==, "/pks/add");
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-query"), ==, "options=mr");
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-client"), ==, "192.0.2.7");
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-test"), ==, "hello");
  /* The proxy's secret is for the check endpoint alone. */
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-header"), ==, "(none)");
  g_assert_false (r.closed);
}

static void
test_no_plugin_allows (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };

  serve (f, NULL);
  http = connect_to (f);
  ask (http, nginx_headers, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpstr (r.body, ==, "");
}

static void
test_denials_speak_auth_request (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;
  const char *const limited[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=a",
                                  "X-Real-IP: 192.0.2.8", NULL };
  const char *const unauthorised[] = { "X-Original-Method: GET", "X-Original-URI: /private", "X-Real-IP: 192.0.2.8",
                                       NULL };

  engine_fixture_write_plugin (&f->e, "auth",
                               "{\"module\": \"answer.so\", \"priority\": 1, \"config\": "
                               "{\"enabled\": true, \"verdict\": \"continue\"}}");
  engine_fixture_write_plugin (&f->e, "limit",
                               "{\"module\": \"answer.so\", \"priority\": 2, \"config\": "
                               "{\"enabled\": true, \"verdict\": \"deny\", \"status\": 429, \"reason\": "
                               "\"slow down\", \"headers\": {\"Retry-After\": \"7\"}}}");
  serve (f, NULL);
  http = connect_to (f);

  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    ask (http, limited, &r);
    /* auth_request knows 2xx, 401 and 403 only: the real status travels beside. */
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_cmpstr (hkp_test_http_header (&r, "x-hkp-status"), ==, "429");
    g_assert_cmpstr (hkp_test_http_header (&r, "x-hkp-plugin"), ==, "limit");
    g_assert_cmpstr (hkp_test_http_header (&r, "x-hkp-reason"), ==, "slow down");
    g_assert_cmpstr (hkp_test_http_header (&r, "retry-after"), ==, "7");
    g_assert_cmpstr (r.body, ==, "slow down\n");
    g_assert_false (r.closed);
  }

  /* A 401 stays a 401. */
  {
    g_autoptr (GAsyncResult) async = NULL;
    g_autoptr (GError) error = NULL;
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autofree char *config = g_strdup ("{\"enabled\": true, \"verdict\": \"deny\", \"status\": 401, "
                                        "\"reason\": \"who are you\"}");

    hkp_engine_set_config_async (f->e.engine, "auth", config, "test", hkp_test_store_result, &async);
    hkp_test_wait_result (&async);
    g_assert_true (hkp_engine_change_finish (f->e.engine, async, &error));
    g_assert_no_error (error);
    ask (http, unauthorised, &r);
    g_assert_cmpuint (r.status, ==, 401);
    g_assert_cmpstr (hkp_test_http_header (&r, "x-hkp-plugin"), ==, "auth");
  }
}

/*
 * A plugin's headers go to nginx, and Retry-After on to the client as it is:
 * a value with a control character (an escape sequence, BEL) is dropped,
 * as RFC 9110 wants; HTAB is allowed.  For plugins in hosts and in process.
 */
static void
test_plugin_headers_without_controls (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };
  const char *const request[] = { "X-Original-Method: GET", "X-Original-URI: /", "X-Real-IP: 192.0.2.8", NULL };

  engine_fixture_write_plugin (&f->e, "limit",
                               "{\"module\": \"answer.so\", \"config\": {\"enabled\": true, \"verdict\": \"deny\", "
                               "\"status\": 429, \"headers\": {\"Retry-After\": \"5\\u001b[31m\\u0007\", \"X-Tab\": "
                               "\"a\\tb\", \"X-Del\": \"a\\u007fb\"}}}");
  serve (f, NULL);
  http = connect_to (f);
  ask (http, request, &r);
  g_assert_cmpuint (r.status, ==, 403);
  g_assert_cmpstr (hkp_test_http_header (&r, "x-hkp-status"), ==, "429");
  g_assert_null (hkp_test_http_header (&r, "retry-after"));
  g_assert_null (hkp_test_http_header (&r, "x-del"));
  g_assert_cmpstr (hkp_test_http_header (&r, "x-tab"), ==, "a\tb");
}

static void
test_malformed_requests_are_400 (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *headers[6];
    const char *says;
  } bad[] = {
    { { "X-Original-URI: /pks/lookup", "X-Real-IP: 192.0.2.1" }, "missing X-Original-Method" },
    { { "X-Original-Method: GET", "X-Real-IP: 192.0.2.1" }, "missing X-Original-URI" },
    { { "X-Original-Method: GET", "X-Original-URI: /pks/lookup" }, "missing X-Real-IP" },
    { { "X-Original-Method: GET", "X-Original-URI: pks/lookup", "X-Real-IP: 192.0.2.1" }, "X-Original-URI" },
    { { "X-Original-Method: G(T", "X-Original-URI: /", "X-Real-IP: 192.0.2.1" }, "X-Original-Method" },
    { { "X-Original-Method: GET", "X-Original-URI: /", "X-Real-IP: 192.0.2.300" }, "X-Real-IP" },
    { { "X-Original-Method: GET", "X-Original-URI: /", "X-Forwarded-For: 192.0.2.1, nonsense" }, "nonsense" },
    { { "X-Original-Method: GET", "X-Original-URI: /a", "X-Original-URI: /b", "X-Real-IP: 192.0.2.1" }, "only once" },
  };
  g_autoptr (HkpTestHttp) http = NULL;

  /* The plugin would deny everything: a 400 must come before it is asked, and never turn into an allow. */
  engine_fixture_write_plugin (&f->e, "slow", "{\"module\": \"sleeper.so\", \"config\": {\"enabled\": true}}");
  serve (f, NULL);
  http = connect_to (f);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      const char *headers[G_N_ELEMENTS (bad[i].headers) + 1] = { "X-Hkp-Proxy-Secret: " SECRET };

      /* From the proxy, proven: its headers are read, and must make sense. */
      memcpy (headers + 1, bad[i].headers, sizeof bad[i].headers);
      ask (http, headers, &r);
      g_assert_cmpuint (r.status, ==, 400);
      if (strstr (r.body, bad[i].says) == NULL)
        g_error ("case %u: \"%s\" does not say %s", i, r.body, bad[i].says);
    }
  g_assert_cmpint (hkp_test_probe_entered_count (), ==, 0);

  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_true (hkp_test_http_request (http, "GET", "/other", nginx_headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 404);
  }
}

static void
test_whom_it_believes (Fixture *f, gconstpointer data)
{
  const char *const trusted[] = { "127.0.0.0/8", "10.0.0.0/8", NULL };
  g_autoptr (HkpTestHttp) http = NULL;
  static const struct {
    const char *header;
    const char *client;
  } cases[] = {
    { "X-Real-IP: 2001:db8::7", "2001:db8::7" },
    { "X-Forwarded-For: 198.51.100.1, 203.0.113.5, 10.1.2.3", "203.0.113.5" },
    { "X-Forwarded-For: 10.9.9.9, 10.1.2.3", "10.9.9.9" },
  };

  write_echo_plugin (f);
  serve (f, trusted);
  http = connect_to (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *headers[] = { "X-Original-Method: GET", "X-Original-URI: /", cases[i].header,
                                "X-Hkp-Proxy-Secret: " SECRET, NULL };
      g_auto (HkpTestHttpResponse) r = { 0 };
      ask (http, headers, &r);
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-client"), ==, cases[i].client);
    }
}

static void
test_untrusted_peer_speaks_for_itself (Fixture *f, gconstpointer data)
{
  const char *const trusted[] = { "10.0.0.0/8", NULL };
  g_autoptr (HkpTestHttp) http = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };

  write_echo_plugin (f);
  serve (f, trusted);
  http = connect_to (f);
  ask (http, nginx_headers, &r);
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-client"), ==, "127.0.0.1");
}

static void
test_keep_alive (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;

  engine_fixture_write_plugin (&f->e, "allow",
                               "{\"module\": \"answer.so\", \"config\": "
                               "{\"enabled\": true, \"verdict\": \"allow\"}}");
  serve (f, NULL);
  http = connect_to (f);
  for (guint i = 0; i < 200; i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      ask (http, nginx_headers, &r);
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_false (r.closed);
    }
}

static void
test_unix_socket (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) http = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autofree char *expected = NULL;

  listen_address_clear (&f->listen);
  f->listen.kind = LISTEN_UNIX;
  f->listen.path = g_build_filename (f->e.root, "check.sock", NULL);
  /* A socket file left by an earlier run does not stop us. */
  {
    g_autoptr (GSocket) stale = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
    g_autoptr (GSocketAddress) path = g_unix_socket_address_new (f->listen.path);
    g_assert_true (g_socket_bind (stale, path, FALSE, NULL));
    g_assert_true (g_file_test (f->listen.path, G_FILE_TEST_EXISTS));
  }
  write_echo_plugin (f);
  serve (f, NULL);
  expected = g_strdup_printf ("unix:%s", f->listen.path);
  g_assert_cmpstr (http_check_get_address (f->check), ==, expected);
  http = connect_to (f);
  ask (http, nginx_headers, &r);
  g_assert_cmpuint (r.status, ==, 200);
  /* A unix peer is a local proxy: its X-Real-IP counts. */
  g_assert_cmpstr (hkp_test_http_header (&r, "x-seen-client"), ==, "192.0.2.7");
}

static void
test_listen_errors_name_the_address (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HttpCheck) second = NULL;
  ListenAddress taken = { 0 };
  g_autofree char *address = NULL;
  HttpCheckSettings settings = { .listen = &taken };

  serve (f, NULL);
  address = g_strdup (http_check_get_address (f->check));
  g_assert_true (listen_address_parse (address, &taken, NULL));
  second = http_check_new (f->e.engine, &settings, &error);
  g_assert_null (second);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, address));
  listen_address_clear (&taken);
}

/* The client a check from a loopback peer is taken to be for, with the given secret header (NULL: none). */
static char *
client_seen (Fixture *f, const char *secret_header)
{
  g_autoptr (HkpTestHttp) http = connect_to (f);
  g_auto (HkpTestHttpResponse) r = { 0 };
  const char *headers[] = { "X-Original-Method: GET", "X-Original-URI: /", "X-Real-IP: 192.0.2.7", secret_header,
                            NULL };

  ask (http, headers, &r);
  g_assert_cmpuint (r.status, ==, 200);
  return g_strdup (hkp_test_http_header (&r, "x-seen-client"));
}

/* Any local user can connect from loopback: only the proxy's secret makes its word on the client count. */
static void
test_loopback_believed_only_with_the_secret (Fixture *f, gconstpointer data)
{
  write_echo_plugin (f);
  serve (f, NULL);
  {
    g_autofree char *none = client_seen (f, NULL);
    g_autofree char *wrong = client_seen (f, "X-Hkp-Proxy-Secret: " SECRET "x");
    g_autofree char *empty = client_seen (f, "X-Hkp-Proxy-Secret: ");
    g_autofree char *right = client_seen (f, "X-Hkp-Proxy-Secret: " SECRET);

    g_assert_cmpstr (none, ==, "127.0.0.1");
    g_assert_cmpstr (wrong, ==, "127.0.0.1");
    g_assert_cmpstr (empty, ==, "127.0.0.1");
    g_assert_cmpstr (right, ==, "192.0.2.7");
  }
  g_assert_true (hkp_test_log_contains ("without the right X-Hkp-Proxy-Secret: it is taken as the client itself"));
}

static void
test_loopback_without_a_secret_speaks_for_itself (Fixture *f, gconstpointer data)
{
  g_autofree char *seen = NULL;

  g_clear_pointer ((char **) &f->settings.proxy_secret_file, g_free);
  write_echo_plugin (f);
  serve (f, NULL);
  g_assert_true (hkp_test_log_contains ("of a peer on this machine (loopback or one of its own addresses) are not "
                                        "believed"));
  seen = client_seen (f, NULL);
  g_assert_cmpstr (seen, ==, "127.0.0.1");
  g_assert_true (hkp_test_log_contains ("a peer on this machine (loopback or one of its own addresses) on TCP is "
                                        "believed only with --check-proxy-secret-file"));
}

/*
 * A local user connecting to the machine's own LAN address is no more the
 * proxy than one on loopback, even with that address among the trusted
 * proxies: without the secret, it is the client itself.
 */
static void
test_own_address_without_a_secret_speaks_for_itself (Fixture *f, gconstpointer data)
{
  g_autofree char *own = hkp_test_own_address ();
  g_autofree char *trusted = NULL;
  g_autofree char *seen = NULL;

  if (own == NULL)
    {
      g_test_skip ("this machine has no address but loopback");
      return;
    }
  trusted = g_strdup_printf ("%s/32", own);
  g_clear_pointer ((char **) &f->settings.proxy_secret_file, g_free);
  g_free (f->listen.host);
  f->listen.host = g_strdup (own);
  write_echo_plugin (f);
  serve (f, (const char *const[]){ trusted, NULL });
  g_assert_true (hkp_test_log_contains ("of a peer on this machine (loopback or one of its own addresses) are not "
                                        "believed"));
  seen = client_seen (f, NULL);
  g_assert_cmpstr (seen, ==, own);
  g_assert_true (hkp_test_log_contains ("(loopback or one of its own addresses) on TCP is believed only with "
                                        "--check-proxy-secret-file"));
}

/* The unix socket is never world-writable: 0660, with the group given (here, the web server's). */
static void
test_unix_socket_mode_and_group (Fixture *f, gconstpointer data)
{
  struct group *web = getgrnam ("www-data");
  struct stat st;

  g_assert_nonnull (web);
  listen_address_clear (&f->listen);
  f->listen.kind = LISTEN_UNIX;
  f->listen.path = g_build_filename (f->e.root, "check.sock", NULL);
  f->settings.socket_group = "www-data";
  serve (f, NULL);
  g_assert_cmpint (stat (f->listen.path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0660);
  g_assert_cmpuint (st.st_gid, ==, web->gr_gid);
}

static void
test_unknown_socket_group_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  HttpCheckSettings settings = { .listen = &f->listen, .socket_group = "no-such-group-here" };

  engine_fixture_start (&f->e, NULL);
  g_assert_null (http_check_new (f->e.engine, &settings, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-group-here"));
}

typedef struct {
  HkpTestHttp *http;
  HkpTestHttpResponse response;
  GError *error;
} BusyCheck;

static gpointer
busy_check_thread (gpointer data)
{
  BusyCheck *busy = data;

  hkp_test_http_request (busy->http, "GET", "/check", nginx_headers, NULL, &busy->response, &busy->error);
  return NULL;
}

/* At the limit, the longest-idle connection is closed for a new one; one whose check runs is not. */
static void
test_limit_closes_the_longest_idle (Fixture *f, gconstpointer data)
{
  BusyCheck busy = { 0 };
  g_autoptr (HkpTestHttp) idle = NULL;
  g_autoptr (HkpTestHttp) newer = NULL;
  GThread *thread;

  engine_fixture_write_plugin (&f->e, "slow",
                               "{\"module\": \"sleeper.so\", \"config\": {\"enabled\": true, \"sleep_ms\": 1500}}");
  f->settings.connection_limit = 2;
  serve (f, NULL);
  busy.http = connect_to (f);
  thread = g_thread_new ("busy-check", busy_check_thread, &busy);
  hkp_test_probe_wait_entered (1);
  idle = connect_to (f);
  /* The busy connection came first, but its check runs: the idle one makes room. */
  newer = connect_to (f);
  g_assert_true (hkp_test_http_peer_closed (idle));
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_true (hkp_test_http_request (newer, "GET", "/other", NULL, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 404);
  }
  g_thread_join (thread);
  g_assert_no_error (busy.error);
  g_assert_cmpuint (busy.response.status, ==, 200);
  hkp_test_http_response_clear (&busy.response);
  hkp_test_http_free (busy.http);
  g_assert_true (hkp_test_log_contains ("check endpoint: 2 connections held, the most it takes"));
}

/*
 * Sends a check whose head ends with extra header lines, method METHOD, and
 * then tail, on a connection of its own; asserts it is answered status with
 * a body that says says, and closed.  Returns the connection (caller frees).
 */
static HkpTestHttp *
assert_head_refused (Fixture *f, const char *method, const char *extra, const char *tail, guint status,
                     const char *says)
{
  HkpTestHttp *http = connect_to (f);
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *request = g_strdup_printf ("%s /check HTTP/1.1\r\nHost: h\r\nX-Original-Method: GET\r\n"
                                              "X-Original-URI: /\r\nX-Real-IP: 192.0.2.7\r\n%s\r\n%s",
                                              method, extra, tail);

  g_assert_true (hkp_test_http_send (http, request, &error));
  g_assert_true (hkp_test_http_read_response (http, method, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.status, ==, status);
  g_assert_nonnull (strstr (r.body, says));
  g_assert_true (hkp_test_http_peer_closed (http));
  return http;
}

/* A body that could be read two ways: 400 before it is read, and the connection closes. */
static void
test_ambiguous_framing_refused (Fixture *f, gconstpointer data)
{
  static const char *const framings[] = {
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "Content-Length: 5\r\nContent-Length: 6\r\n",
  };

  write_echo_plugin (f);
  serve (f, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (framings); i++)
    hkp_test_http_free (assert_head_refused (f, "POST", framings[i], "0\r\n\r\n", 400, "could be read two ways"));
}

/*
 * A head that announces a body is answered 413 before any of it is read,
 * and the connection closes: a client that never sends the body cannot
 * hold connections that are never evicted.  With a limit of 2, three such
 * heads (a billion bytes announced, none sent) leave room for a check.
 */
static void
test_body_refused_before_it_is_read (Fixture *f, gconstpointer data)
{
  static const char *const bodies[] = {
    "Content-Length: 1000000000\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Content-Length: 1000000000\r\n",
  };

  HkpTestHttp *held[G_N_ELEMENTS (bodies)];

  write_echo_plugin (f);
  f->settings.connection_limit = 2;
  serve (f, NULL);
  /* Kept open by the client until the end. */
  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    held[i] = assert_head_refused (f, "GET", bodies[i], "", 413, "a check takes no request body");
  {
    g_autoptr (HkpTestHttp) http = connect_to (f);
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autoptr (GError) error = NULL;

    g_assert_true (hkp_test_http_request (http, "GET", "/check", nginx_headers, NULL, &r, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 200);
  }
  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    hkp_test_http_free (held[i]);
}

typedef struct {
  Fixture *f;
  HkpTestHttp *http;
  HkpTestHttpResponse response;
  GError *error;
} SlowCheck;

static gpointer
slow_check_thread (gpointer data)
{
  SlowCheck *slow = data;

  hkp_test_http_request (slow->http, "GET", "/check", nginx_headers, NULL, &slow->response, &slow->error);
  return NULL;
}

static void
test_stop_finishes_running_checks_and_refuses_new_ones (Fixture *f, gconstpointer data)
{
  SlowCheck slow = { f };
  g_autoptr (HkpTestHttp) idle = NULL;
  g_autoptr (GAsyncResult) stopped = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  GThread *thread;

  engine_fixture_write_plugin (&f->e, "slow",
                               "{\"module\": \"sleeper.so\", \"config\": "
                               "{\"enabled\": true, \"sleep_ms\": 2000}}");
  serve (f, NULL);
  address = g_strdup (http_check_get_address (f->check));
  slow.http = connect_to (f);
  idle = connect_to (f);
  thread = g_thread_new ("slow-check", slow_check_thread, &slow);
  hkp_test_probe_wait_entered (1);

  http_check_stop_async (f->check, 30, hkp_test_store_result, &stopped);
  /* The running check is still sleeping, so the stop has not completed. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (stopped);

  /* A request on a connection that was open before: 503, and the connection closes.  (It may share
   * the sleeping check's thread, so it can be answered only after that check: assert nothing on timing.) */
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    ask (idle, nginx_headers, &r);
    g_assert_cmpuint (r.status, ==, 503);
    g_assert_true (r.closed);
    g_assert_true (hkp_test_http_peer_closed (idle));
  }
  /* No new connections. */
  {
    g_autoptr (GError) refused = NULL;
    g_autoptr (HkpTestHttp) late = hkp_test_http_connect (address, NULL, &refused);
    g_assert_null (late);
    g_assert_error (refused, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  }

  hkp_test_wait_result (&stopped);
  g_assert_true (http_check_stop_finish (f->check, stopped, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_no_error (slow.error);
  g_assert_cmpuint (slow.response.status, ==, 200);
  hkp_test_http_response_clear (&slow.response);
  hkp_test_http_free (slow.http);
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
}

/*
 * Clients that close their connection while their check runs (nginx giving
 * up, a load generator stopping) are never answered; a stop must not wait for
 * them.  Many send a request and close at once, so that some close between
 * their check's decision and its answer, whichever way libmicrohttpd sees it.
 */
static void
test_stop_forgets_clients_that_left (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) stopped = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) request = g_string_new ("GET /check HTTP/1.1\r\nHost: check\r\n");

  engine_fixture_write_plugin (&f->e, "fast", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"allow\"}}");
  engine_fixture_write_plugin (&f->e, "slow",
                               "{\"module\": \"sleeper.so\", \"config\": "
                               "{\"enabled\": true, \"sleep_ms\": 1}}");
  serve (f, NULL);
  for (guint i = 0; nginx_headers[i] != NULL; i++)
    g_string_append_printf (request, "%s\r\n", nginx_headers[i]);
  g_string_append (request, "\r\n");
  for (guint i = 0; i < 400; i++)
    {
      HkpTestHttp *http = connect_to (f);
      g_assert_true (hkp_test_http_send (http, request->str, &error));
      g_assert_no_error (error);
      if (i % 4 == 0)
        g_usleep (i % 7 * 100); /* close at various moments of the check */
      hkp_test_http_free (http); /* gone before its answer */
    }

  /* Every check ends on its own within milliseconds: the stop finds nothing to wait for, well before 20 s. */
  http_check_stop_async (f->check, 20, hkp_test_store_result, &stopped);
  hkp_test_wait_result (&stopped);
  g_assert_true (http_check_stop_finish (f->check, stopped, &error));
  g_assert_no_error (error);
}

/*
 * Clients that go while the plugins decide (nginx does, when its own client
 * gives up): once the plugins have decided, their checks are over, so a stop
 * finds nothing in flight and ends at once, not at its timeout.
 */
static void
test_client_gone_while_deciding (Fixture *f, gconstpointer data)
{
  static const char request[] = "GET /check HTTP/1.1\r\nHost: check\r\nX-Original-Method: GET\r\n"
                                "X-Original-URI: /pks/lookup\r\nX-Real-IP: 192.0.2.1\r\n\r\n";
  g_autoptr (GAsyncResult) stopped = NULL;
  g_autoptr (GError) error = NULL;

  engine_fixture_write_plugin (&f->e, "slow",
                               "{\"module\": \"sleeper.so\", \"config\": {\"enabled\": true, \"sleep_ms\": 300}}");
  serve (f, NULL);
  /* A few rounds: whether the answer finds the connection gone is a race, lost or won per check. */
  for (guint round = 1; round <= 3; round++)
    {
      HkpTestHttp *clients[4];
      for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
        {
          clients[i] = connect_to (f);
          g_assert_true (hkp_test_http_send (clients[i], request, &error));
          g_assert_no_error (error);
        }
      hkp_test_probe_wait_entered (round * G_N_ELEMENTS (clients));
      for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
        hkp_test_http_free (clients[i]);
    }

  /* The stop waits only for the last decisions (300 ms), far within its 10 s. */
  http_check_stop_async (f->check, 10, hkp_test_store_result, &stopped);
  hkp_test_wait_result (&stopped);
  g_assert_true (http_check_stop_finish (f->check, stopped, &error));
  g_assert_no_error (error);
}

#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();

  ADD ("/check/plugins-see-the-original-request", test_plugins_see_the_original_request);
  ADD ("/check/no-plugin-allows", test_no_plugin_allows);
  ADD ("/check/denials-speak-auth-request", test_denials_speak_auth_request);
  ADD ("/check/malformed-requests-are-400", test_malformed_requests_are_400);
  ADD ("/check/plugin-headers-without-controls", test_plugin_headers_without_controls);
  ADD ("/check/whom-it-believes", test_whom_it_believes);
  ADD ("/check/untrusted-peer-speaks-for-itself", test_untrusted_peer_speaks_for_itself);
  ADD ("/check/keep-alive", test_keep_alive);
  ADD ("/check/unix-socket", test_unix_socket);
  ADD ("/check/client-gone-while-deciding", test_client_gone_while_deciding);
  ADD ("/check/loopback-believed-only-with-the-secret", test_loopback_believed_only_with_the_secret);
  ADD ("/check/loopback-without-a-secret-speaks-for-itself", test_loopback_without_a_secret_speaks_for_itself);
  ADD ("/check/own-address-without-a-secret-speaks-for-itself", test_own_address_without_a_secret_speaks_for_itself);
  ADD ("/check/unix-socket-mode-and-group", test_unix_socket_mode_and_group);
  ADD ("/check/unknown-socket-group-refused", test_unknown_socket_group_refused);
  ADD ("/check/limit-closes-the-longest-idle", test_limit_closes_the_longest_idle);
  ADD ("/check/ambiguous-framing-refused", test_ambiguous_framing_refused);
  ADD ("/check/body-refused-before-it-is-read", test_body_refused_before_it_is_read);
  ADD ("/check/listen-errors-name-the-address", test_listen_errors_name_the_address);
  ADD ("/check/stop-forgets-clients-that-left", test_stop_forgets_clients_that_left);
  ADD ("/check/stop-finishes-running-checks-and-refuses-new-ones",
       test_stop_finishes_running_checks_and_refuses_new_ones);
  return g_test_run ();
}
