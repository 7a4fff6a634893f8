/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The management bridge of the running daemon, through a real libsoup
 * client (and a raw one where the wire matters): every endpoint's shape with
 * field types, every error code, the token, Origin and Host, GET never
 * changing anything, path tricks, redaction, a config change the plugin then
 * runs with, concurrent reloads, TLS, /metrics through promtool, /livez and
 * /readyz.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define TOKEN "t0ken-for-tests"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  SoupSession *session;
  char *address;       /* the bridge: 127.0.0.1:PORT */
  char *check;         /* the check endpoint */
  char *scheme;
  char *token_file;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  f->token_file = hkp_test_write_file_path (f->tree.root, "token", TOKEN "\n");
  g_assert_cmpint (chmod (f->token_file, 0600), ==, 0);
  f->session = soup_session_new ();
  f->scheme = g_strdup ("http");
  hkp_test_tree_write_plugin (&f->tree, "alpha", "{\"module\": \"answer.so\", \"priority\": 1, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"continue\", \"password\": \"hunter2\", "
                              "\"api_token\": \"abc\", \"key_path\": \"/etc/alpha.key\", "
                              "\"nested\": {\"secret_value\": 1, \"plain\": 2}}}");
  hkp_test_tree_write_plugin (&f->tree, "beta", "{\"module\": \"answer.so\", \"priority\": 2, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"first\"}}");
  hkp_test_tree_write_plugin (&f->tree, "broken", "{\"module\": \"failinit.so\", \"priority\": 3, "
                              "\"failure_mode\": \"open\"}");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  g_free (f->address);
  g_free (f->check);
  g_free (f->scheme);
  g_free (f->token_file);
  hkp_test_tree_clear (&f->tree);
}

/* Starts the daemon with the bridge on port 0, the token file, and extra (NULL-terminated) arguments. */
static void
start_with (Fixture *f, const char *const *extra)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *token = g_strdup_printf ("--http-token-file=%s", f->token_file);

  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", token, NULL);
  g_ptr_array_remove_index (argv, argv->len - 1);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  f->check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
}

static void
start (Fixture *f)
{
  start_with (f, NULL);
}

typedef struct {
  guint status;
  char *body;
  SoupMessageHeaders *headers;
} Reply;

static void
reply_clear (Reply *r)
{
  g_free (r->body);
  g_clear_pointer (&r->headers, soup_message_headers_unref);
  memset (r, 0, sizeof *r);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reply, reply_clear)

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *certificate, GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;
}

static SoupMessage *
new_message (Fixture *f, const char *method, const char *path_and_query)
{
  g_autofree char *url = g_strdup_printf ("%s://%s%s", f->scheme, f->address, path_and_query);
  SoupMessage *msg = soup_message_new (method, url);

  g_assert_nonnull (msg);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  return msg;
}

/* One request through libsoup; token NULL for none; body sent as application/json unless content_type says otherwise. */
static void
call_full (Fixture *f, const char *method, const char *path, const char *token, const char *content_type,
           const char *body, Reply *r)
{
  g_autoptr(SoupMessage) msg = new_message (f, method, path);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  if (token != NULL)
    {
      g_autofree char *value = g_strdup_printf ("Bearer %s", token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  if (body != NULL)
    {
      g_autoptr(GBytes) request_body = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, content_type, request_body);
    }
  bytes = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  memset (r, 0, sizeof *r);
  r->status = soup_message_get_status (msg);
  r->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  r->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
}

static void
call (Fixture *f, const char *method, const char *path, const char *token, const char *body, Reply *r)
{
  call_full (f, method, path, token, "application/json", body, r);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    g_error ("not a JSON object: %s", text);
  return json_object_ref (json_node_get_object (node));
}

/* Asserts object has member name of JSON type (G_TYPE_INT64, G_TYPE_STRING, G_TYPE_BOOLEAN, JSON_TYPE_OBJECT…). */
static JsonNode *
member (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    g_error ("no member \"%s\"", name);
  if (type == JSON_TYPE_OBJECT)
    g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  else if (type == JSON_TYPE_ARRAY)
    g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  else
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
        g_error ("member \"%s\" is not a %s", name, g_type_name (type));
    }
  return node;
}

static void
assert_error (const Reply *r, guint status, const char *message_part)
{
  g_autoptr(JsonObject) o = NULL;

  if (r->status != status)
    g_error ("expected %u, got %u: %s", status, r->status, r->body);
  o = parse_object (r->body);
  g_assert_cmpstr (json_node_get_string (member (o, "status", G_TYPE_STRING)), ==, "error");
  member (o, "plugin", G_TYPE_STRING);
  member (o, "timestamp", G_TYPE_INT64);
  if (strstr (json_node_get_string (member (o, "message", G_TYPE_STRING)), message_part) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", json_object_get_string_member (o, "message"), message_part);
}

static void
assert_health_object (JsonObject *health)
{
  JsonObject *checks;

  member (health, "status", G_TYPE_STRING);
  member (health, "state", G_TYPE_STRING);
  member (health, "last_check", G_TYPE_INT64);
  checks = json_node_get_object (member (health, "checks", JSON_TYPE_OBJECT));
  member (checks, "active_requests", G_TYPE_INT64);
}

static void
test_read_shapes (Fixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  start (f);
  {
    g_auto(Reply) r = { 0 };
    g_autoptr(JsonObject) o = NULL;
    JsonObject *system, *health, *states;

    call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpstr (soup_message_headers_get_content_type (r.headers, NULL), ==, "application/json");
    o = parse_object (r.body);
    system = json_node_get_object (member (o, "plugin_system", JSON_TYPE_OBJECT));
    g_assert_true (json_node_get_boolean (member (system, "enabled", G_TYPE_BOOLEAN)));
    g_assert_cmpint (json_node_get_int (member (system, "total_plugins", G_TYPE_INT64)), ==, 3);
    g_assert_cmpint (json_node_get_int (member (system, "active_plugins", G_TYPE_INT64)), ==, 2);
    g_assert_cmpstr (json_node_get_string (member (system, "plugin_dir", G_TYPE_STRING)), ==, f->tree.plugin_dir);
    member (system, "active_requests", G_TYPE_INT64);
    states = json_node_get_object (member (system, "plugin_states", JSON_TYPE_OBJECT));
    g_assert_cmpstr (json_object_get_string_member (states, "alpha"), ==, "active");
    g_assert_cmpstr (json_object_get_string_member (states, "broken"), ==, "failed");
    health = json_node_get_object (member (o, "health_status", JSON_TYPE_OBJECT));
    member (health, "healthy_count", G_TYPE_INT64);
    g_assert_cmpint (json_node_get_int (member (health, "unhealthy_count", G_TYPE_INT64)), ==, 1);
    g_assert_cmpint (json_node_get_int (member (health, "total_count", G_TYPE_INT64)), ==, 3);
    g_assert_cmpstr (json_node_get_string (member (health, "overall_status", G_TYPE_STRING)), ==, "unhealthy");
    g_assert_true (g_regex_match_simple ("^([0-9]+h)?([0-9]+m)?[0-9]+s$",
                                         json_node_get_string (member (o, "uptime", G_TYPE_STRING)), 0, 0));
    g_assert_cmpint (json_node_get_int (member (o, "timestamp", G_TYPE_INT64)), >=, now - 2);
  }
  {
    g_auto(Reply) r = { 0 };
    g_autoptr(JsonObject) o = NULL;
    JsonArray *plugins;

    call (f, "GET", "/plugins/list", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = parse_object (r.body);
    plugins = json_node_get_array (member (o, "plugins", JSON_TYPE_ARRAY));
    g_assert_cmpuint (json_array_get_length (plugins), ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        JsonObject *p = json_array_get_object_element (plugins, i);
        member (p, "name", G_TYPE_STRING);
        member (p, "status", G_TYPE_STRING);
        assert_health_object (json_node_get_object (member (p, "health", JSON_TYPE_OBJECT)));
      }
    g_assert_cmpint (json_node_get_int (member (o, "total_count", G_TYPE_INT64)), ==, 3);
    member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto(Reply) r = { 0 };
    g_autoptr(JsonObject) o = NULL;
    JsonObject *plugins;

    call (f, "GET", "/plugins/health", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = parse_object (r.body);
    member (o, "overall_status", G_TYPE_STRING);
    plugins = json_node_get_object (member (o, "plugins", JSON_TYPE_OBJECT));
    assert_health_object (json_object_get_object_member (plugins, "alpha"));
    assert_health_object (json_object_get_object_member (plugins, "broken"));
    member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto(Reply) r = { 0 };
    g_autoptr(JsonObject) o = NULL;

    call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (member (o, "plugin", G_TYPE_STRING)), ==, "beta");
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (member (o, "config", JSON_TYPE_OBJECT)),
                                                    "reason"), ==, "first");
    member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto(Reply) live = { 0 };
    g_auto(Reply) ready = { 0 };
    call (f, "GET", "/livez", NULL, NULL, &live);
    g_assert_cmpuint (live.status, ==, 200);
    call (f, "GET", "/readyz", NULL, NULL, &ready);
    g_assert_cmpuint (ready.status, ==, 200);
  }
}

static guint64
reload_count (Fixture *f, const char *name)
{
  g_autoptr(sd_bus) client = hkp_test_client_new (f->bus->address);
  g_autofree char *path = hkp_test_plugin_path (name);

  return hkp_test_get_uint (client, path, HKP_TEST_PLUGIN, "ReloadCount", 'u');
}

static void
test_reload_and_config_change (Fixture *f, gconstpointer data)
{
  g_autoptr(HkpTestHttp) check = NULL;
  const char *const check_headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup",
                                        "X-Real-IP: 192.0.2.1", NULL };

  start (f);
  {
    g_auto(Reply) r = { 0 };
    g_autoptr(JsonObject) o = NULL;

    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (member (o, "plugin", G_TYPE_STRING)), ==, "beta");
    g_assert_cmpstr (json_node_get_string (member (o, "status", G_TYPE_STRING)), ==, "success");
    member (o, "message", G_TYPE_STRING);
    member (o, "timestamp", G_TYPE_INT64);
    g_assert_cmpuint (reload_count (f, "beta"), ==, 1);  /* the first load is not a reload */
  }
  {
    g_auto(Reply) r = { 0 };
    g_auto(Reply) get = { 0 };
    g_autoptr(JsonObject) o = NULL;
    g_auto(HkpTestHttpResponse) answer = { 0 };
    g_autoptr(GError) error = NULL;

    call (f, "PUT", "/plugins/config?plugin=beta", TOKEN,
          "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"second\"}", &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (member (o, "status", G_TYPE_STRING)), ==, "success");
    call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &get);
    g_assert_nonnull (strstr (get.body, "\"reason\":\"second\""));
    /* The plugin runs with it. */
    check = hkp_test_http_connect (f->check, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (hkp_test_http_request (check, "GET", "/check", check_headers, NULL, &answer, &error));
    g_assert_cmpstr (hkp_test_http_header (&answer, "x-hkp-reason"), ==, "second");
  }
  /* Changes are logged with who asked and how it went. */
  hkp_test_daemon_wait_line (f->daemon, "HTTP config change of plugin beta from 127.0.0.1: done");
}

static void
test_error_codes (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *method;
    const char *path;
    const char *body;
    guint status;
    const char *says;
  } simple[] = {
    { "POST", "/plugins/reload", NULL, 400, "missing the plugin parameter" },
    { "POST", "/plugins/reload?plugin=", NULL, 400, "missing the plugin parameter" },
    { "POST", "/plugins/reload?plugin=a&plugin=b", NULL, 400, "more than once" },
    { "POST", "/plugins/reload?plugin=nosuch", NULL, 404, "no such plugin: nosuch" },
    { "GET", "/plugins/nosuch", NULL, 404, "no such endpoint" },
    { "PUT", "/plugins/config?plugin=beta", "{\"enabled\": true,", 400, "not valid JSON" },
    { "PUT", "/plugins/config?plugin=beta", "[1, 2]", 400, "must be a JSON object" },
  };

  start (f);
  for (guint i = 0; i < G_N_ELEMENTS (simple); i++)
    {
      g_auto(Reply) r = { 0 };
      call (f, simple[i].method, simple[i].path, TOKEN, simple[i].body, &r);
      assert_error (&r, simple[i].status, simple[i].says);
    }
  {
    g_auto(Reply) r = { 0 };
    call (f, "DELETE", "/plugins/config?plugin=beta", TOKEN, NULL, &r);
    assert_error (&r, 405, "takes GET, PUT");
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==, "GET, PUT");
  }
  {
    g_auto(Reply) r = { 0 };
    call_full (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "text/plain", "{\"enabled\": true}", &r);
    assert_error (&r, 415, "application/json");
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"verdict\": \"maybe\"}", &r);
    assert_error (&r, 422, "verdict");
  }
  {
    /* Valid for validate_config, refused by init: the reload fails and is rolled back. */
    g_auto(Reply) r = { 0 };
    g_auto(Reply) get = { 0 };
    call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"fail_init\": \"no thanks\"}", &r);
    assert_error (&r, 500, "rolled back");
    call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &get);
    g_assert_nonnull (strstr (get.body, "\"reason\":\"first\""));
  }
  {
    /* 2 MiB announced: refused on the headers alone, before any of the body is read. */
    g_autoptr(HkpTestHttp) raw = NULL;
    g_auto(HkpTestHttpResponse) r = { 0 };
    g_autoptr(GError) error = NULL;
    const char *const headers[] = { "Authorization: Bearer " TOKEN, "Content-Type: application/json",
                                    "Content-Length: 2097152", NULL };

    raw = hkp_test_http_connect (f->address, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (hkp_test_http_request (raw, "PUT", "/plugins/config?plugin=beta", headers, NULL, &r, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 413);
    g_assert_nonnull (strstr (r.body, "larger than 1048576 bytes"));
  }
  {
    GString *deep = g_string_new ("{\"enabled\": true, \"deep\": ");
    g_auto(Reply) r = { 0 };
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, '[');
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, deep->str, &r);
    assert_error (&r, 400, "nests deeper than 32");
    g_string_free (deep, TRUE);
  }
  g_assert_cmpuint (reload_count (f, "beta"), ==, 0);
}

static void
test_token (Fixture *f, gconstpointer data)
{
  start (f);
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", NULL, NULL, &r);
    assert_error (&r, 401, "missing bearer token");
    g_assert_nonnull (soup_message_headers_get_one (r.headers, "WWW-Authenticate"));
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", "t0ken-for-testz", NULL, &r);
    assert_error (&r, 401, "wrong bearer token");
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN "x", NULL, &r);
    assert_error (&r, 401, "wrong bearer token");
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "PUT", "/plugins/config?plugin=beta", "wrong", "{\"enabled\": false}", &r);
    assert_error (&r, 401, "wrong bearer token");
  }
  g_assert_cmpuint (reload_count (f, "beta"), ==, 0);
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_no_token_file_means_no_changes (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) argv = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    assert_error (&r, 403, "no token file");
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_loose_token_file_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) argv = NULL;
  g_autofree char *token = g_strdup_printf ("--http-token-file=%s", f->token_file);

  g_assert_cmpint (chmod (f->token_file, 0640), ==, 0);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", "--http-listen=127.0.0.1:0", token, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  g_assert_cmpint (hkp_test_daemon_wait_exit (f->daemon), ==, 1);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "is accessible to group or others (mode 0640)"), >=, 0);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

static void
test_get_never_changes (Fixture *f, gconstpointer data)
{
  start (f);
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    assert_error (&r, 405, "takes POST");
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==, "POST");
  }
  for (guint i = 0; i < 3; i++)
    {
      g_auto(Reply) r = { 0 };
      call (f, "GET", "/plugins/config?plugin=beta", TOKEN, NULL, &r);
      g_assert_cmpuint (r.status, ==, 200);
    }
  g_assert_cmpuint (reload_count (f, "beta"), ==, 0);
}

static void
test_origin_and_host (Fixture *f, gconstpointer data)
{
  g_autoptr(HkpTestHttp) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *own_host = NULL;

  start_with (f, (const char *const[]) { "--http-allowed-hosts=keys.example.org", NULL });
  raw = hkp_test_http_connect (f->address, NULL, &error);
  g_assert_no_error (error);
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Origin: http://evil.example", NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_nonnull (strstr (r.body, "Origin"));
    g_assert_null (hkp_test_http_header (&r, "access-control-allow-origin"));
  }
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Host: evil.example", NULL };
    hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 403);
    g_assert_nonnull (strstr (r.body, "evil.example"));
  }
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    const char *const headers[] = { "Host: keys.example.org", NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    g_autofree char *host = g_strdup_printf ("Host: %s", f->address);
    const char *const headers[] = { host, NULL };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", headers, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_path_tricks_do_not_reach_reload (Fixture *f, gconstpointer data)
{
  static const char *const tricks[] = {
    "/plugins/../plugins/reload?plugin=beta", "//plugins/reload?plugin=beta", "/plugins%2Freload?plugin=beta",
    "/plugins/./reload?plugin=beta", "/plugins/%2e%2e/plugins/reload?plugin=beta", "/x/../plugins/reload?plugin=beta",
  };
  g_autoptr(HkpTestHttp) raw = NULL;
  g_autoptr(GError) error = NULL;
  const char *const headers[] = { "Authorization: Bearer " TOKEN, NULL };

  start (f);
  raw = hkp_test_http_connect (f->address, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (tricks); i++)
    {
      g_auto(HkpTestHttpResponse) r = { 0 };
      g_assert_true (hkp_test_http_request (raw, "POST", tricks[i], headers, "", &r, &error));
      g_assert_no_error (error);
      if (r.status != 400)
        g_error ("%s: %u %s", tricks[i], r.status, r.body);
    }
  /* A body that looks like a request line is a body, not a request. */
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    const char *const put_headers[] = { "Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL };
    g_assert_true (hkp_test_http_request (raw, "PUT", "/plugins/config?plugin=beta", put_headers,
                                          "POST /plugins/../x HTTP/1.1\r\n", &r, &error));
    g_assert_cmpuint (r.status, ==, 400);
    g_assert_nonnull (strstr (r.body, "not valid JSON"));
  }
  /* The same connection still serves plain requests. */
  {
    g_auto(HkpTestHttpResponse) r = { 0 };
    g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/status", NULL, NULL, &r, &error));
    g_assert_cmpuint (r.status, ==, 200);
  }
  g_assert_cmpuint (reload_count (f, "beta"), ==, 0);
}

static void
test_redaction (Fixture *f, gconstpointer data)
{
  g_auto(Reply) r = { 0 };
  g_autoptr(JsonObject) o = NULL;
  JsonObject *config, *nested;

  start (f);
  call (f, "GET", "/plugins/config?plugin=alpha", NULL, NULL, &r);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_null (strstr (r.body, "hunter2"));
  o = parse_object (r.body);
  config = json_object_get_object_member (o, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "password"), ==, "[redacted]");
  g_assert_cmpstr (json_object_get_string_member (config, "api_token"), ==, "[redacted]");
  g_assert_cmpstr (json_object_get_string_member (config, "key_path"), ==, "/etc/alpha.key");
  nested = json_object_get_object_member (config, "nested");
  g_assert_cmpstr (json_object_get_string_member (nested, "secret_value"), ==, "[redacted]");
  g_assert_cmpint (json_object_get_int_member (nested, "plain"), ==, 2);
}

typedef struct {
  guint done;
  guint status[2];
} Concurrent;

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Concurrent *c = user_data;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  c->status[c->done++] = soup_message_get_status (msg);
}

static void
test_concurrent_reloads_one_busy (Fixture *f, gconstpointer data)
{
  Concurrent c = { 0 };
  g_autoptr(SoupMessage) a = NULL;
  g_autoptr(SoupMessage) b = NULL;

  /* Reloads of this plugin take a while (every instance after the first sleeps in init). */
  hkp_test_tree_write_plugin (&f->tree, "slow", "{\"module\": \"sleeper.so\", \"priority\": 9, \"config\": "
                              "{\"enabled\": true, \"init_delay_ms\": 500, \"init_delay_from\": 2}}");
  start (f);
  a = new_message (f, "POST", "/plugins/reload?plugin=slow");
  b = new_message (f, "POST", "/plugins/reload?plugin=slow");
  soup_message_headers_replace (soup_message_get_request_headers (a), "Authorization", "Bearer " TOKEN);
  soup_message_headers_replace (soup_message_get_request_headers (b), "Authorization", "Bearer " TOKEN);
  soup_session_send_and_read_async (f->session, a, G_PRIORITY_DEFAULT, NULL, on_sent, &c);
  soup_session_send_and_read_async (f->session, b, G_PRIORITY_DEFAULT, NULL, on_sent, &c);
  while (c.done < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true ((c.status[0] == 200 && c.status[1] == 409) || (c.status[0] == 409 && c.status[1] == 200));
}

static void
test_tls (Fixture *f, gconstpointer data)
{
  g_autofree char *cert = g_build_filename (f->tree.root, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (f->tree.root, "key.pem", NULL);
  g_autofree char *cert_arg = g_strdup_printf ("--http-tls-certificate=%s", cert);
  g_autofree char *key_arg = g_strdup_printf ("--http-tls-key=%s", key);
  g_autoptr(GSubprocess) openssl = NULL;
  g_autoptr(GError) error = NULL;

  openssl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", NULL);
  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed: no certificate to test TLS with");
      return;
    }
  g_assert_true (g_subprocess_wait_check (openssl, NULL, &error));
  start_with (f, (const char *const[]) { cert_arg, key_arg, NULL });
  g_free (f->scheme);
  f->scheme = g_strdup ("https");
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_nonnull (strstr (r.body, "plugin_system"));
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
  /* Plain HTTP on the TLS port gets nowhere. */
  {
    g_autoptr(HkpTestHttp) raw = hkp_test_http_connect (f->address, NULL, &error);
    g_auto(HkpTestHttpResponse) r = { 0 };
    g_autoptr(GError) plain_error = NULL;
    g_assert_no_error (error);
    g_assert_false (hkp_test_http_request (raw, "GET", "/plugins/status", NULL, NULL, &r, &plain_error));
  }
}

/* Returns the value of the sample whose line starts with prefix, or -1. */
static gint64
metric (const char *text, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && lines[i][strlen (prefix)] == ' ')
      return g_ascii_strtoll (lines[i] + strlen (prefix) + 1, NULL, 10);
  return -1;
}

static void
test_metrics (Fixture *f, gconstpointer data)
{
  g_auto(Reply) before = { 0 };
  g_auto(Reply) after = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *promtool = g_find_program_in_path ("promtool");

  start (f);
  call (f, "GET", "/metrics", NULL, NULL, &before);
  g_assert_cmpuint (before.status, ==, 200);
  g_assert_true (g_str_has_prefix (soup_message_headers_get_one (before.headers, "Content-Type"), "text/plain; version=0.0.4"));
  /* Every series is there from the start, at zero. */
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_state{plugin=\"beta\",state=\"active\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_state{plugin=\"broken\",state=\"failed\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_healthy{plugin=\"broken\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_requests_in_flight{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_requests_total{plugin=\"beta\",verdict=\"deny\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"success\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"rolled_back\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"broken\",result=\"failed\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_drain_cancelled_requests_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_health_checks_total{plugin=\"beta\",result=\"unhealthy\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_restarts_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_start_time_seconds"), >, 1700000000);
  g_assert_cmpint (metric (before.body, "hkp_plugind_build_info{version=\"" PACKAGE_VERSION "\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_drain_duration_seconds_count"), ==, 0);

  {
    g_auto(Reply) r = { 0 };
    call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"fail_init\": \"no\"}", &r);
    g_assert_cmpuint (r.status, ==, 500);
  }
  call (f, "GET", "/metrics", NULL, NULL, &after);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"success\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"rolled_back\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reload_duration_seconds_count"),
                   ==, metric (before.body, "hkp_plugind_reload_duration_seconds_count") + 2);
  g_assert_cmpint (metric (after.body, "hkp_plugind_drain_duration_seconds_count"), >=, 1);

  if (promtool == NULL)
    {
      g_test_message ("promtool (Debian package prometheus) is not installed: format not checked");
      return;
    }
  path = hkp_test_write_file_path (f->tree.root, "metrics.txt", after.body);
  {
    g_autofree char *command = g_strdup_printf ("%s check metrics", promtool);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) error = NULL;

    p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &error, promtool, "check", "metrics", NULL);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_communicate_utf8 (p, after.body, NULL, &out, &err, &error));
    if (!g_subprocess_get_successful (p) || (err != NULL && err[0] != '\0') || (out != NULL && out[0] != '\0'))
      g_error ("promtool check metrics: %s%s", out, err);
    (void) command;
  }
}

static void
test_readyz_waits_for_required (Fixture *f, gconstpointer data)
{
  start_with (f, (const char *const[]) { "--required-plugins=alpha,broken", NULL });
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/readyz", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 503);
    g_assert_nonnull (strstr (r.body, "required plugin broken is failed"));
  }
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/livez", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_readyz_required_in_plugin_file (Fixture *f, gconstpointer data)
{
  hkp_test_tree_write_plugin (&f->tree, "broken", "{\"module\": \"failinit.so\", \"priority\": 3, "
                              "\"required\": true}");
  start (f);
  {
    g_auto(Reply) r = { 0 };
    call (f, "GET", "/readyz", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 503);
    g_assert_nonnull (strstr (r.body, "required plugin broken is failed"));
  }
}

static void
test_unix_socket (Fixture *f, gconstpointer data)
{
  g_autofree char *socket = g_build_filename (f->tree.root, "bridge.sock", NULL);
  g_autofree char *listen = g_strdup_printf ("--http-listen=unix:%s", socket);
  g_autofree char *expected = g_strdup_printf ("unix:%s", socket);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(HkpTestHttp) raw = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(HkpTestHttpResponse) r = { 0 };

  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", listen, NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  g_assert_cmpstr (f->address, ==, expected);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  raw = hkp_test_http_connect (f->address, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/list", NULL, NULL, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.status, ==, 200);
  if (strstr (r.body, "\"total_count\":3") == NULL)
    g_error ("unexpected list: %s", r.body);
}

static guint
open_fds (Fixture *f)
{
  g_autofree char *dir = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (f->daemon->process));
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (listing);
  while (g_dir_read_name (listing) != NULL)
    n++;
  return n;
}

static void
test_client_closed_connections_are_released (Fixture *f, gconstpointer data)
{
  guint before, after = 0;
  gint64 deadline;

  start (f);
  before = open_fds (f);
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HkpTestHttp) raw = hkp_test_http_connect (f->address, NULL, &error);
      g_auto(HkpTestHttpResponse) r = { 0 };

      g_assert_no_error (error);
      g_assert_true (hkp_test_http_request (raw, "GET", "/livez", NULL, NULL, &r, &error));
      g_assert_cmpuint (r.status, ==, 200);
      g_assert_false (r.closed);  /* kept alive: the client closes it */
    }
  /* The daemon notices each close on its own threads; nothing else tells us when, so look until it has. */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while ((after = open_fds (f)) > before + 5 && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_cmpuint (after, <=, before + 5);
}

#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/bridge/read-shapes", test_read_shapes);
  ADD ("/bridge/reload-and-config-change", test_reload_and_config_change);
  ADD ("/bridge/error-codes", test_error_codes);
  ADD ("/bridge/token", test_token);
  ADD ("/bridge/no-token-file-means-no-changes", test_no_token_file_means_no_changes);
  ADD ("/bridge/loose-token-file-refused", test_loose_token_file_refused);
  ADD ("/bridge/get-never-changes", test_get_never_changes);
  ADD ("/bridge/origin-and-host", test_origin_and_host);
  ADD ("/bridge/path-tricks-do-not-reach-reload", test_path_tricks_do_not_reach_reload);
  ADD ("/bridge/redaction", test_redaction);
  ADD ("/bridge/concurrent-reloads-one-busy", test_concurrent_reloads_one_busy);
  ADD ("/bridge/tls", test_tls);
  ADD ("/bridge/metrics", test_metrics);
  ADD ("/bridge/readyz-waits-for-required", test_readyz_waits_for_required);
  ADD ("/bridge/readyz-required-in-plugin-file", test_readyz_required_in_plugin_file);
  ADD ("/bridge/unix-socket", test_unix_socket);
  ADD ("/bridge/client-closed-connections-are-released", test_client_closed_connections_are_released);
  return g_test_run ();
}
