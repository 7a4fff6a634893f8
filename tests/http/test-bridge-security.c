/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* setresuid() */
/*
 * Who may ask the management bridge what, and how: the bearer token (missing,
 * wrong, right, no token file, a token file others can read or another user
 * owns), Origin and Host,
 * request-target tricks on the wire, redaction of secrets (and keeping them
 * when a redacted config comes back), HTTPS with a certificate made at test
 * time, connections the client closes, idle ones we close, and the limit.
 */
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge-fixture.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

/* Asserts GET /livez on http is answered 200 and the connection stays open. */
static void
assert_livez (HkpTestHttp *http)
{
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_test_http_request (http, "GET", "/livez", NULL, NULL, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_false (r.closed);
}

static void
test_token (BridgeFixture *f, gconstpointer data)
{
  bridge_start (f);
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", NULL, NULL, &r);
    bridge_assert_error (&r, 401, "missing bearer token");
    g_assert_nonnull (soup_message_headers_get_one (r.headers, "WWW-Authenticate"));
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", "t0ken-for-testz", NULL, &r);
    bridge_assert_error (&r, 401, "wrong bearer token");
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN "x", NULL, &r);
    bridge_assert_error (&r, 401, "wrong bearer token");
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", "wrong", "{\"enabled\": false}", &r);
    bridge_assert_error (&r, 401, "wrong bearer token");
  }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

/* Sends a reload of beta with token on a new raw connection, not waiting for the answer. */
static HkpTestHttp *
ask_reload (BridgeFixture *f, const char *token)
{
  g_autoptr (GError) error = NULL;
  HkpTestHttp *http = bridge_connect_raw (f);
  g_autofree char *request = g_strdup_printf ("POST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\n"
                                              "Authorization: Bearer %s\r\nContent-Length: 0\r\n\r\n",
                                              f->address, token);

  g_assert_true (hkp_test_http_send (http, request, &error));
  g_assert_no_error (error);
  return http;
}

/* Reads the answer on http; returns its status, and the time it took since started in *took_usec. */
static guint
answer_status (HkpTestHttp *http, gint64 started, gint64 *took_usec)
{
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_test_http_read_response (http, "POST", &r, &error));
  g_assert_no_error (error);
  if (took_usec != NULL)
    *took_usec = g_get_monotonic_time () - started;
  return r.status;
}

/*
 * Wrong tokens from one address are answered a second apart, however many
 * connections they come on, and no thread waits for them: /livez and a
 * right token, on the same single server thread, are answered meanwhile.
 */
static void
test_wrong_tokens_throttled (BridgeFixture *f, gconstpointer data)
{
  HkpTestHttp *wrong[3];
  gint64 started, took = 0;

  bridge_start_with (f, (const char *const[]){ "--http-threads=1", NULL });
  started = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
    wrong[i] = ask_reload (f, "guess");
  /* The third is due 3 s on: all of this comes before it. */
  {
    g_autoptr (HkpTestHttp) other = bridge_connect_raw (f);
    assert_livez (other);
  }
  {
    g_autoptr (HkpTestHttp) right = ask_reload (f, TOKEN);
    g_assert_cmpuint (answer_status (right, started, NULL), ==, 200);
  }
  g_assert_false (hkp_test_http_readable (wrong[2]));
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
    {
      g_assert_cmpuint (answer_status (wrong[i], started, &took), ==, 401);
      /* The i-th is answered (i + 1) s after they were asked, at the soonest. */
      g_assert_cmpint (took, >=, (gint64) (i + 1) * G_USEC_PER_SEC - 50 * 1000);
      hkp_test_http_free (wrong[i]);
    }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 1);
}

/* Past 16 wrong answers waiting for one address, the next is refused at once, its token not even looked at. */
static void
test_wrong_tokens_waiting_are_bounded (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) hkp_test_http_free);

  bridge_start (f);
  for (guint i = 0; i < 16; i++)
    g_ptr_array_add (waiting, ask_reload (f, "guess"));
  /* The bridge has read all 16. */
  {
    g_autofree char *logged = g_strdup_printf ("from 127.0.0.1 (uid %u): wrong bearer token, answered in", getuid ());
    gint line = -1;
    for (guint i = 0; i < 16; i++)
      line = hkp_test_daemon_wait_line_after (f->daemon, logged, line);
  }
  {
    g_autoptr (HkpTestHttp) more = ask_reload (f, "guess");
    gint64 took = 0;

    g_assert_cmpuint (answer_status (more, g_get_monotonic_time (), &took), ==, 429);
    g_assert_cmpint (took, <, G_USEC_PER_SEC);
  }
  /* The daemon stops with answers still held: they go nowhere, and nothing leaks. */
}

/*
 * Every local user connects from loopback: one user's wrong tokens, as many
 * as may wait, hold back that user only.  Another's right token is answered
 * at once, and its wrong one is throttled on its own.  With data, the
 * guesser closes each connection as soon as it has sent: a socket closed
 * already says nothing of its user (the kernel calls it root's), so those
 * are counted by address, never as root.
 */
static void
test_wrong_tokens_of_another_user (BridgeFixture *f, gconstpointer data)
{
  gboolean close_at_once = data != NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autofree char *request = NULL;
  struct sockaddr_storage native;
  int go[2];
  pid_t guesser;

  if (getuid () != 0)
    {
      g_test_skip ("sending as another user needs root");
      return;
    }
  bridge_start (f);
  g_assert_true (g_str_has_prefix (f->address, "127.0.0.1:"));
  address = g_inet_socket_address_new_from_string ("127.0.0.1", (guint) atoi (strrchr (f->address, ':') + 1));
  g_assert_true (g_socket_address_to_native (address, &native, sizeof native, NULL));
  request = g_strdup_printf ("POST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\n"
                             "Authorization: Bearer guess\r\nContent-Length: 0\r\n\r\n",
                             f->address);
  g_assert_cmpint (pipe (go), ==, 0);
  /* As nobody: 16 wrong tokens on 16 connections, held open until the test is done (async-signal-safe calls only). */
  guesser = fork ();
  g_assert_cmpint (guesser, >=, 0);
  if (guesser == 0)
    {
      char done;

      close (go[1]);
      if (setresgid (65534, 65534, 65534) < 0 || setresuid (65534, 65534, 65534) < 0)
        _exit (1);
      for (guint i = 0; i < 16; i++)
        {
          int fd = socket (AF_INET, SOCK_STREAM, 0);
          if (fd < 0 || connect (fd, (struct sockaddr *) &native, sizeof (struct sockaddr_in)) < 0 ||
              write (fd, request, strlen (request)) != (ssize_t) strlen (request))
            _exit (1);
          if (close_at_once)
            close (fd);
        }
      while (read (go[0], &done, 1) < 0)
        ;
      _exit (0);
    }
  close (go[0]);
  {
    gint line = -1;
    for (guint i = 0; i < 16; i++)
      {
        const char *text;

        line = hkp_test_daemon_wait_line_after (f->daemon, ": wrong bearer token, answered in", line);
        text = f->daemon->lines->pdata[line];
        if (close_at_once)
          g_assert_null (strstr (text, "(uid 0)"));
        else
          g_assert_nonnull (strstr (text, "from 127.0.0.1 (uid 65534): wrong bearer token"));
      }
  }
  {
    g_autoptr (HkpTestHttp) right = ask_reload (f, TOKEN);
    gint64 took = 0;

    g_assert_cmpuint (answer_status (right, g_get_monotonic_time (), &took), ==, 200);
    g_assert_cmpint (took, <, G_USEC_PER_SEC);
  }
  {
    g_autoptr (HkpTestHttp) wrong = ask_reload (f, "guess");
    g_assert_cmpuint (answer_status (wrong, g_get_monotonic_time (), NULL), ==, 401);
  }
  close (go[1]);
  {
    int status = 0;
    g_assert_cmpint (waitpid (guesser, &status, 0), ==, guesser);
    g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  }
}

static void
test_no_token_file_means_no_changes (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) argv = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    bridge_assert_error (&r, 403, "no token file");
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_loose_token_file_refused (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) argv = NULL;
  g_autofree char *token = g_strdup_printf ("--http-token-file=%s", f->token_file);

  g_assert_cmpint (chmod (f->token_file, 0640), ==, 0);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", token, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  g_assert_cmpint (hkp_test_daemon_wait_exit (f->daemon), ==, 1);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "is accessible to group or others (mode 0640)"), >=, 0);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

/* A 0600 token file owned by another user (who could write a token of their choosing) stops the start too. */
static void
test_foreign_token_file_refused (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) argv = NULL;
  g_autofree char *token = g_strdup_printf ("--http-token-file=%s", f->token_file);
  g_autofree char *says = NULL;
  struct passwd *nobody = getpwnam ("nobody");

  g_assert_nonnull (nobody);
  g_assert_cmpint (chown (f->token_file, nobody->pw_uid, nobody->pw_gid), ==, 0);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", token, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  g_assert_cmpint (hkp_test_daemon_wait_exit (f->daemon), ==, 1);
  says = g_strdup_printf ("token file %s is owned by uid %u, not by root or the daemon's uid 0", f->token_file,
                          (unsigned) nobody->pw_uid);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, says), >=, 0);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

static void
test_origin_and_host (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) raw = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *own_host = NULL;

  bridge_start_with (f, (const char *const[]){ "--http-allowed-hosts=keys.example.org", NULL });
  raw = bridge_connect_raw (f);
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Origin: http://evil.example", NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_nonnull (strstr (r.body, "Origin"));
    g_assert_null (hkp_test_http_header (&r, "access-control-allow-origin"));
  }
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Host: evil.example", NULL };
    hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_nonnull (strstr (r.body, "evil.example"));
  }
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Host: keys.example.org", NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autofree char *host = g_strdup_printf ("Host: %s", f->address);
    const char *const headers[] = { host, NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_path_tricks_do_not_reach_reload (BridgeFixture *f, gconstpointer data)
{
  static const char *const tricks[] = {
    "/plugins/../plugins/reload?plugin=beta",
    "//plugins/reload?plugin=beta",
    "/plugins%2Freload?plugin=beta",
    "/plugins/./reload?plugin=beta",
    "/plugins/%2e%2e/plugins/reload?plugin=beta",
    "/x/../plugins/reload?plugin=beta",
  };
  g_autoptr (HkpTestHttp) raw = NULL;
  g_autoptr (GError) error = NULL;
  const char *const headers[] = { "Authorization: Bearer " TOKEN, NULL };

  bridge_start (f);
  raw = bridge_connect_raw (f);
  for (guint i = 0; i < G_N_ELEMENTS (tricks); i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      g_assert_true (hkp_test_http_request (raw, "POST", tricks[i], headers, "", &r, &error));
      g_assert_no_error (error);
      if (r.status != 400)
        g_error ("%s: %u %s", tricks[i], r.status, r.body);
    }
  /* A body that looks like a request line is a body, not a request. */
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    const char *const put_headers[] = { "Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL };
    g_assert_true (hkp_test_http_request (raw, "PUT", "/plugins/config?plugin=beta", put_headers,
                                          "POST /plugins/../x HTTP/1.1\r\n", &r, &error));
    g_assert_cmpuint (r.status, ==, 400);
    g_assert_nonnull (strstr (r.body, "not valid JSON"));
  }
  /* The same connection still serves plain requests. */
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", NULL, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
}

static void
test_redaction (BridgeFixture *f, gconstpointer data)
{
  g_auto (BridgeReply) r = { 0 };
  g_autoptr (JsonObject) o = NULL;
  JsonObject *config, *nested;

  bridge_start (f);
  bridge_call (f, "GET", "/plugins/config?plugin=alpha", NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_null (strstr (r.body, "hunter2"));
  o = bridge_parse_object (r.body);
  config = json_object_get_object_member (o, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "password"), ==, "[redacted]");
  g_assert_cmpstr (json_object_get_string_member (config, "api_token"), ==, "[redacted]");
  g_assert_cmpstr (json_object_get_string_member (config, "key_path"), ==, "/etc/alpha.key");
  nested = json_object_get_object_member (config, "nested");
  g_assert_cmpstr (json_object_get_string_member (nested, "secret_value"), ==, "[redacted]");
  g_assert_cmpint (json_object_get_int_member (nested, "plain"), ==, 2);
}

/* A config read over HTTP and sent back with a change keeps the secrets the read hid. */
static void
test_redacted_secrets_kept (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (sd_bus) client = NULL;
  g_autofree char *path = hkp_test_plugin_path ("alpha");
  g_autofree char *body = NULL;
  g_autofree char *stored = NULL;
  g_autoptr (JsonObject) o = NULL;
  JsonObject *config;

  bridge_start (f);
  client = hkp_test_client_new (f->bus->address);
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

    bridge_call (f, "GET", "/plugins/config?plugin=alpha", NULL, NULL, &r);
    o = bridge_parse_object (r.body);
    config = json_object_get_object_member (o, "config");
    json_object_set_int_member (json_object_get_object_member (config, "nested"), "plain", 3);
    json_node_set_object (node, config);
    body = json_to_string (node, FALSE);
  }
  g_assert_nonnull (strstr (body, "\"password\":\"[redacted]\""));
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=alpha", TOKEN, body, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
  /* What is stored (read with D-Bus GetSecretConfig, which shows it whole): the change, and the secrets as they were. */
  {
    g_autoptr (sd_bus_message) reply = NULL;
    g_assert_null (hkp_test_call (client, path, HKP_TEST_PLUGIN, "GetSecretConfig", NULL, NULL, &reply));
    stored = hkp_test_reply_string (reply);
  }
  {
    g_autoptr (JsonObject) c = bridge_parse_object (stored);
    g_assert_cmpstr (json_object_get_string_member (c, "password"), ==, "hunter2");
    g_assert_cmpstr (json_object_get_string_member (c, "api_token"), ==, "abc");
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (c, "nested"), "secret_value"), ==, 1);
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (c, "nested"), "plain"), ==, 3);
  }
  /* A redacted secret with nothing stored to keep is refused, and nothing changes. */
  {
    g_auto (BridgeReply) r = { 0 };
    g_autofree char *after = NULL;
    bridge_call (f, "PUT", "/plugins/config?plugin=alpha", TOKEN,
                 "{\"enabled\": true, \"verdict\": \"continue\", \"new_secret\": \"[redacted]\"}", &r);
    /* The engine refuses it, as it does over D-Bus: a config rejected, 422. */
    bridge_assert_error (&r, 422, "key \"new_secret\" is \"[redacted]\", but plugin alpha has no stored value");
    g_autoptr (sd_bus_message) reply = NULL;
    g_assert_null (hkp_test_call (client, path, HKP_TEST_PLUGIN, "GetSecretConfig", NULL, NULL, &reply));
    after = hkp_test_reply_string (reply);
    g_assert_cmpstr (after, ==, stored);
  }
}

/* Connections that hold on to nothing are closed; one waiting for a slow answer is not. */
static void
test_idle_connections_closed (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) idle = NULL;
  g_autoptr (HkpTestHttp) partial = NULL;
  g_autoptr (HkpTestHttp) used = NULL;
  g_autoptr (HkpTestHttp) slow = NULL;
  g_autoptr (GError) error = NULL;

  /* Its reload takes 2.5 s, longer than the idle timeout. */
  hkp_test_tree_write_plugin (&f->tree, "slow",
                              "{\"module\": \"sleeper.so\", \"priority\": 9, "
                              "\"config\": {\"init_delay_ms\": 2500}}");
  bridge_start_with (f, (const char *const[]){ "--http-idle-timeout=1", NULL });

  idle = bridge_connect_raw (f);
  partial = bridge_connect_raw (f);
  g_assert_true (hkp_test_http_send (partial, "GET /plugins/status HTTP/1.1\r\nHo", &error));
  g_assert_no_error (error);
  used = bridge_connect_raw (f);
  assert_livez (used);
  g_assert_true (hkp_test_http_peer_closed (idle));
  g_assert_true (hkp_test_http_peer_closed (partial));
  g_assert_true (hkp_test_http_peer_closed (used));

  slow = bridge_connect_raw (f);
  {
    g_auto (HkpTestHttpResponse) r = { 0 };
    gint64 start = g_get_monotonic_time ();
    g_assert_true (hkp_test_http_request (slow, "POST", "/plugins/reload?plugin=slow",
                                          (const char *const[]){ "Authorization: Bearer " TOKEN, NULL }, NULL, &r,
                                          &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 200);
    /* It did outlast the timeout. */
    g_assert_cmpint (g_get_monotonic_time () - start, >, 2 * G_USEC_PER_SEC);
  }
}

typedef struct {
  HkpTestHttp *http;
  const char *target;
  HkpTestHttpResponse response;
  GError *error;
} SlowReload;

static gpointer
slow_reload_thread (gpointer data)
{
  SlowReload *slow = data;

  hkp_test_http_request (slow->http, "POST", slow->target,
                         (const char *const[]){ "Authorization: Bearer " TOKEN, NULL }, NULL, &slow->response,
                         &slow->error);
  return NULL;
}

/*
 * At the most connections it holds, the bridge closes the longest-idle one
 * to admit a new one; only while every connection is being answered
 * does it refuse new ones.
 */
static void
test_connection_limit (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) first = NULL;
  g_autoptr (HkpTestHttp) second = NULL;
  g_autoptr (HkpTestHttp) third = NULL;
  g_autoptr (HkpTestHttp) refused = NULL;
  SlowReload slow[2] = { { NULL, "/plugins/reload?plugin=slow1" }, { NULL, "/plugins/reload?plugin=slow2" } };
  GThread *threads[2];

  /* Their reloads take 2 s: long enough to find both connections busy. */
  for (guint i = 1; i <= 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("slow%u", i);
      hkp_test_tree_write_plugin (
        &f->tree, name, "{\"module\": \"sleeper.so\", \"priority\": 9, \"config\": {\"init_delay_ms\": 2000}}");
    }
  bridge_start_with (f, (const char *const[]){ "--http-max-connections=2", "--http-threads=1", NULL });
  first = bridge_connect_raw (f);
  second = bridge_connect_raw (f);
  /* An answer on each, first's first: both are held, and first has been idle the longest. */
  assert_livez (first);
  assert_livez (second);
  third = bridge_connect_raw (f);
  assert_livez (third);
  hkp_test_daemon_wait_line (f->daemon, "HTTP bridge: 2 connections held, the most it takes");
  g_assert_true (hkp_test_http_peer_closed (first));
  assert_livez (second);

  /* Both held connections busy with a slow reload each: a new one is refused, and nothing is cut. */
  slow[0].http = g_steal_pointer (&second);
  slow[1].http = g_steal_pointer (&third);
  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new ("slow-reload", slow_reload_thread, &slow[i]);
  hkp_test_daemon_wait_line (f->daemon, "plugin slow1 active -> reloading");
  hkp_test_daemon_wait_line (f->daemon, "plugin slow2 active -> reloading");
  refused = bridge_connect_raw (f);
  g_assert_true (hkp_test_http_peer_closed (refused));
  hkp_test_daemon_wait_line (f->daemon, "every connection held is being answered: refusing new ones");
  for (guint i = 0; i < 2; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (slow[i].error);
      g_assert_cmpuint (slow[i].response.status, ==, 200);
      hkp_test_http_response_clear (&slow[i].response);
    }
  /* Once their answers are out they are idle again, and make room. */
  {
    g_autoptr (HkpTestHttp) later = bridge_connect_raw (f);
    assert_livez (later);
  }
  for (guint i = 0; i < 2; i++)
    hkp_test_http_free (slow[i].http);
}

static void
test_tls (BridgeFixture *f, gconstpointer data)
{
  char *tls[2] = { NULL, NULL };

  if (!bridge_make_certificate (f, tls))
    return;
  bridge_start_with (f, (const char *const[]){ tls[0], tls[1], NULL });
  g_free (tls[0]);
  g_free (tls[1]);
  g_free (f->scheme);
  f->scheme = g_strdup ("https");
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_nonnull (strstr (r.body, "plugin_system"));
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
  /* Plain HTTP on the TLS port gets nowhere. */
  {
    g_autoptr (HkpTestHttp) raw = bridge_connect_raw (f);
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_false (hkp_test_http_request (raw, "GET", "/plugins/status", NULL, NULL, &r, &error));
  }
}

static void
test_client_closed_connections_are_released (BridgeFixture *f, gconstpointer data)
{
  guint before, after = 0;
  gint64 deadline;
  GPid pid;

  bridge_start (f);
  pid = hkp_test_daemon_get_pid (f->daemon);
  before = hkp_test_count_fds (pid);
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (HkpTestHttp) raw = bridge_connect_raw (f);
      g_auto (HkpTestHttpResponse) r = { 0 };

      g_assert_true (hkp_test_http_request (raw, "GET", "/livez", NULL, NULL, &r, &error));
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_false (r.closed); /* kept alive: the client closes it */
    }
  /* The daemon notices each close on its own threads; nothing else tells us when, so look until it has. */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while ((after = hkp_test_count_fds (pid)) > before + 5 && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_cmpuint (after, <=, before + 5);
}

#define ADD(path, func) g_test_add ((path), BridgeFixture, NULL, bridge_fixture_setup, (func), bridge_fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/bridge/token", test_token);
  ADD ("/bridge/wrong-tokens-throttled", test_wrong_tokens_throttled);
  ADD ("/bridge/wrong-tokens-waiting-are-bounded", test_wrong_tokens_waiting_are_bounded);
  ADD ("/bridge/wrong-tokens-of-another-user", test_wrong_tokens_of_another_user);
  g_test_add ("/bridge/wrong-tokens-of-another-user-closed-at-once", BridgeFixture, "closed", bridge_fixture_setup,
              test_wrong_tokens_of_another_user, bridge_fixture_teardown);
  ADD ("/bridge/no-token-file-means-no-changes", test_no_token_file_means_no_changes);
  ADD ("/bridge/loose-token-file-refused", test_loose_token_file_refused);
  ADD ("/bridge/foreign-token-file-refused", test_foreign_token_file_refused);
  ADD ("/bridge/origin-and-host", test_origin_and_host);
  ADD ("/bridge/path-tricks-do-not-reach-reload", test_path_tricks_do_not_reach_reload);
  ADD ("/bridge/redaction", test_redaction);
  ADD ("/bridge/redacted-secrets-kept", test_redacted_secrets_kept);
  ADD ("/bridge/tls", test_tls);
  ADD ("/bridge/idle-connections-closed", test_idle_connections_closed);
  ADD ("/bridge/connection-limit", test_connection_limit);
  ADD ("/bridge/client-closed-connections-are-released", test_client_closed_connections_are_released);
  return g_test_run ();
}
