/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The management bridge of the running daemon through a real libsoup client:
 * every endpoint's shape with field types, every error code, GET never
 * changing anything, a config change the plugin then runs with, concurrent
 * reloads, /metrics through promtool, /livez and /readyz, the unix socket.
 * (Who may ask, and how: test-bridge-security.)
 */
#include <unistd.h>

#include "config.h"

#include <string.h>

#include "bridge-fixture.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

static void
assert_health_object (JsonObject *health)
{
  JsonObject *checks;

  bridge_member (health, "status", G_TYPE_STRING);
  bridge_member (health, "state", G_TYPE_STRING);
  bridge_member (health, "last_check", G_TYPE_INT64);
  bridge_member (health, "message", G_TYPE_STRING);
  checks = json_node_get_object (bridge_member (health, "checks", JSON_TYPE_OBJECT));
  bridge_member (checks, "active_requests", G_TYPE_INT64);
}

/*
 * GETs path until its body holds needle (the documents are rebuilt on the
 * main loop after each change, so a change logged may not be served yet);
 * fails after 30 s.
 */
static void
bridge_get_until (BridgeFixture *f, const char *path, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_auto (BridgeReply) r = { 0 };
      bridge_call (f, "GET", path, NULL, NULL, &r);
      if (r.status == 200 && strstr (r.body, needle) != NULL)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("GET %s never held %s: %s", path, needle, r.body);
      g_usleep (10 * 1000);
    }
}

static void
test_read_shapes (BridgeFixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  bridge_start (f);
  /* Once alpha and beta have had their first health check. */
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  hkp_test_daemon_wait_line (f->daemon, "plugin beta health transitioning -> healthy");
  bridge_get_until (f, "/plugins/status", "\"healthy_count\":2");
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonObject) o = NULL;
    JsonObject *system, *health, *states;

    bridge_call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpstr (soup_message_headers_get_content_type (r.headers, NULL), ==, "application/json");
    o = bridge_parse_object (r.body);
    system = json_node_get_object (bridge_member (o, "plugin_system", JSON_TYPE_OBJECT));
    g_assert_true (json_node_get_boolean (bridge_member (system, "enabled", G_TYPE_BOOLEAN)));
    g_assert_cmpint (json_node_get_int (bridge_member (system, "total_plugins", G_TYPE_INT64)), ==, 3);
    g_assert_cmpint (json_node_get_int (bridge_member (system, "active_plugins", G_TYPE_INT64)), ==, 2);
    g_assert_cmpstr (json_node_get_string (bridge_member (system, "plugin_dir", G_TYPE_STRING)), ==,
                     f->tree.plugin_dir);
    bridge_member (system, "active_requests", G_TYPE_INT64);
    states = json_node_get_object (bridge_member (system, "plugin_states", JSON_TYPE_OBJECT));
    g_assert_cmpstr (json_object_get_string_member (states, "alpha"), ==, "active");
    g_assert_cmpstr (json_object_get_string_member (states, "broken"), ==, "failed");
    health = json_node_get_object (bridge_member (o, "health_status", JSON_TYPE_OBJECT));
    /* Counts add up; broken has failed, but with failure_mode open traffic flows: degraded. */
    g_assert_cmpint (json_node_get_int (bridge_member (health, "healthy_count", G_TYPE_INT64)), ==, 2);
    g_assert_cmpint (json_node_get_int (bridge_member (health, "unhealthy_count", G_TYPE_INT64)), ==, 1);
    g_assert_cmpint (json_node_get_int (bridge_member (health, "total_count", G_TYPE_INT64)), ==, 3);
    g_assert_cmpstr (json_node_get_string (bridge_member (health, "overall_status", G_TYPE_STRING)), ==, "degraded");
    g_assert_true (g_regex_match_simple ("^([0-9]+h)?([0-9]+m)?[0-9]+s$",
                                         json_node_get_string (bridge_member (o, "uptime", G_TYPE_STRING)), 0, 0));
    g_assert_cmpint (json_node_get_int (bridge_member (o, "timestamp", G_TYPE_INT64)), >=, now - 2);
  }
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonObject) o = NULL;
    JsonArray *plugins;

    bridge_call (f, "GET", "/plugins/list", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = bridge_parse_object (r.body);
    plugins = json_node_get_array (bridge_member (o, "plugins", JSON_TYPE_ARRAY));
    g_assert_cmpuint (json_array_get_length (plugins), ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        JsonObject *p = json_array_get_object_element (plugins, i);
        const char *name = json_node_get_string (bridge_member (p, "name", G_TYPE_STRING));
        bridge_member (p, "status", G_TYPE_STRING);
        bridge_member (p, "message", G_TYPE_STRING);
        assert_health_object (json_node_get_object (bridge_member (p, "health", JSON_TYPE_OBJECT)));
        /* Why broken failed, said remotely; the others have no last error. */
        if (g_str_equal (name, "broken"))
          g_assert_nonnull (strstr (json_node_get_string (bridge_member (p, "last_error", G_TYPE_STRING)),
                                    "failinit refuses to start"));
        else
          g_assert_false (json_object_has_member (p, "last_error"));
      }
    g_assert_cmpint (json_node_get_int (bridge_member (o, "total_count", G_TYPE_INT64)), ==, 3);
    bridge_member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonObject) o = NULL;
    JsonObject *plugins;

    bridge_call (f, "GET", "/plugins/health", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = bridge_parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (bridge_member (o, "overall_status", G_TYPE_STRING)), ==, "degraded");
    plugins = json_node_get_object (bridge_member (o, "plugins", JSON_TYPE_OBJECT));
    assert_health_object (json_object_get_object_member (plugins, "alpha"));
    assert_health_object (json_object_get_object_member (plugins, "broken"));
    g_assert_nonnull (strstr (json_node_get_string (bridge_member (json_object_get_object_member (plugins, "broken"),
                                                                   "last_error", G_TYPE_STRING)),
                              "failinit refuses to start"));
    g_assert_nonnull (strstr (json_node_get_string (bridge_member (json_object_get_object_member (plugins, "broken"),
                                                                   "message", G_TYPE_STRING)),
                              "failinit refuses to start"));
    bridge_member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonObject) o = NULL;

    bridge_call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = bridge_parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (bridge_member (o, "plugin", G_TYPE_STRING)), ==, "beta");
    g_assert_cmpstr (
      json_object_get_string_member (json_node_get_object (bridge_member (o, "config", JSON_TYPE_OBJECT)), "reason"),
      ==, "first");
    bridge_member (o, "timestamp", G_TYPE_INT64);
  }
  {
    g_auto (BridgeReply) live = { 0 };
    g_auto (BridgeReply) ready = { 0 };
    bridge_call (f, "GET", "/livez", NULL, NULL, &live);
    g_assert_cmpuint (live.status, ==, 200);
    bridge_call (f, "GET", "/readyz", NULL, NULL, &ready);
    g_assert_cmpuint (ready.status, ==, 200);
  }
}

static void
test_reload_and_config_change (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (HkpTestHttp) check = NULL;
  const char *const check_headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup", "X-Real-IP: 192.0.2.1",
                                        NULL };

  bridge_start (f);
  {
    g_auto (BridgeReply) r = { 0 };
    g_autoptr (JsonObject) o = NULL;

    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = bridge_parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (bridge_member (o, "plugin", G_TYPE_STRING)), ==, "beta");
    g_assert_cmpstr (json_node_get_string (bridge_member (o, "status", G_TYPE_STRING)), ==, "success");
    bridge_member (o, "message", G_TYPE_STRING);
    bridge_member (o, "timestamp", G_TYPE_INT64);
    g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 1); /* the first load is not a reload */
  }
  {
    g_auto (BridgeReply) r = { 0 };
    g_auto (BridgeReply) get = { 0 };
    g_autoptr (JsonObject) o = NULL;
    g_auto (HkpTestHttpResponse) answer = { 0 };
    g_autoptr (GError) error = NULL;

    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN,
                 "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"second\"}", &r);
    g_assert_cmpuint (r.status, ==, 200);
    o = bridge_parse_object (r.body);
    g_assert_cmpstr (json_node_get_string (bridge_member (o, "status", G_TYPE_STRING)), ==, "success");
    bridge_call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &get);
    g_assert_nonnull (strstr (get.body, "\"reason\":\"second\""));
    /* The plugin runs with it. */
    check = hkp_test_http_connect (f->check, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (hkp_test_http_request (check, "GET", "/check", check_headers, NULL, &answer, &error));
    g_assert_cmpstr (hkp_test_http_header (&answer, "x-hkp-reason"), ==, "second");
  }
  /* Changes are logged with who asked and how it went. */
  {
    g_autofree char *logged = g_strdup_printf (
      "config change of plugin beta by HTTP from 127.0.0.1 (uid %u) with the token: done", getuid ());
    hkp_test_daemon_wait_line (f->daemon, logged);
  }
}

static void
test_error_codes (BridgeFixture *f, gconstpointer data)
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
    { "POST", "/plugins/reload?plugin=nosuch", NULL, 404, "no plugin named \"nosuch\"" },
    { "PUT", "/plugins/config?plugin=nosuch", "{}", 404, "no plugin named \"nosuch\"" },
    { "GET", "/plugins/nosuch", NULL, 404, "no such endpoint" },
    { "PUT", "/plugins/config?plugin=beta", "{\"enabled\": true,", 400, "not valid JSON" },
    { "PUT", "/plugins/config?plugin=beta", "[1, 2]", 400, "must be a JSON object" },
  };

  bridge_start (f);
  for (guint i = 0; i < G_N_ELEMENTS (simple); i++)
    {
      g_auto (BridgeReply) r = { 0 };
      bridge_call (f, simple[i].method, simple[i].path, TOKEN, simple[i].body, &r);
      bridge_assert_error (&r, simple[i].status, simple[i].says);
    }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "DELETE", "/plugins/config?plugin=beta", TOKEN, NULL, &r);
    bridge_assert_error (&r, 405, "takes GET, HEAD, PUT");
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==, "GET, HEAD, PUT");
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call_full (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "text/plain", "{\"enabled\": true}", &r);
    bridge_assert_error (&r, 415, "application/json");
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"verdict\": \"maybe\"}", &r);
    bridge_assert_error (&r, 422, "verdict");
  }
  {
    /* Valid for validate_config, refused by init: the reload fails and is rolled back. */
    g_auto (BridgeReply) r = { 0 };
    g_auto (BridgeReply) get = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"fail_init\": \"no thanks\"}",
                 &r);
    bridge_assert_error (&r, 500, "rolled back");
    bridge_call (f, "GET", "/plugins/config?plugin=beta", NULL, NULL, &get);
    g_assert_nonnull (strstr (get.body, "\"reason\":\"first\""));
  }
  {
    /* 2 MiB announced: refused on the headers alone, before any of the body is read. */
    g_autoptr (HkpTestHttp) raw = NULL;
    g_auto (HkpTestHttpResponse) r = { 0 };
    g_autoptr (GError) error = NULL;
    const char *const headers[] = { "Authorization: Bearer " TOKEN, "Content-Type: application/json",
                                    "Content-Length: 2097152", NULL };

    raw = bridge_connect_raw (f);
    g_assert_true (hkp_test_http_request (raw, "PUT", "/plugins/config?plugin=beta", headers, NULL, &r, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r.status, ==, 413);
    g_assert_nonnull (strstr (r.body, "larger than 1048576 bytes"));
  }
  {
    GString *deep = g_string_new ("{\"enabled\": true, \"deep\": ");
    g_auto (BridgeReply) r = { 0 };
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, '[');
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, deep->str, &r);
    bridge_assert_error (&r, 400, "nests deeper than 32");
    g_string_free (deep, TRUE);
  }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
}

static void
test_get_never_changes (BridgeFixture *f, gconstpointer data)
{
  bridge_start (f);
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    bridge_assert_error (&r, 405, "takes POST");
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==, "POST");
  }
  for (guint i = 0; i < 3; i++)
    {
      g_auto (BridgeReply) r = { 0 };
      bridge_call (f, "GET", "/plugins/config?plugin=beta", TOKEN, NULL, &r);
      g_assert_cmpuint (r.status, ==, 200);
    }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
}

typedef struct {
  guint done;
  guint status[2];
} Concurrent;

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Concurrent *c = user_data;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  c->status[c->done++] = soup_message_get_status (msg);
}

static void
test_concurrent_reloads_one_busy (BridgeFixture *f, gconstpointer data)
{
  Concurrent c = { 0 };
  g_autoptr (SoupMessage) a = NULL;
  g_autoptr (SoupMessage) b = NULL;

  /* Reloads of this plugin take a while (every instance after the first sleeps in init). */
  hkp_test_tree_write_plugin (&f->tree, "slow",
                              "{\"module\": \"sleeper.so\", \"priority\": 9, \"config\": "
                              "{\"enabled\": true, \"init_delay_ms\": 500, \"init_delay_from\": 2}}");
  bridge_start (f);
  a = bridge_new_message (f, "POST", "/plugins/reload?plugin=slow");
  b = bridge_new_message (f, "POST", "/plugins/reload?plugin=slow");
  soup_message_headers_replace (soup_message_get_request_headers (a), "Authorization", "Bearer " TOKEN);
  soup_message_headers_replace (soup_message_get_request_headers (b), "Authorization", "Bearer " TOKEN);
  soup_session_send_and_read_async (f->session, a, G_PRIORITY_DEFAULT, NULL, on_sent, &c);
  soup_session_send_and_read_async (f->session, b, G_PRIORITY_DEFAULT, NULL, on_sent, &c);
  while (c.done < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true ((c.status[0] == 200 && c.status[1] == 409) || (c.status[0] == 409 && c.status[1] == 200));
}

static gint64
metric (const char *text, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && lines[i][strlen (prefix)] == ' ')
      return g_ascii_strtoll (lines[i] + strlen (prefix) + 1, NULL, 10);
  return -1;
}

/* One request to the check endpoint; returns its status. */
static guint
check_request (BridgeFixture *f, const char *target, const char *const *headers)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (f->check, NULL, &error);
  g_auto (HkpTestHttpResponse) r = { 0 };

  g_assert_no_error (error);
  g_assert_true (hkp_test_http_request (http, "GET", target, headers, NULL, &r, &error));
  g_assert_no_error (error);
  return r.status;
}

/* The value of the sample whose line starts with prefix and a space, as a double; fails the test if there is none. */
static gdouble
metric_value (const char *text, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) && lines[i][strlen (prefix)] == ' ')
      return g_ascii_strtod (lines[i] + strlen (prefix) + 1, NULL);
  g_error ("no sample %s in /metrics", prefix);
}

static void
test_metrics (BridgeFixture *f, gconstpointer data)
{
  static const char *const original[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=0x1",
                                          "X-Real-IP: 192.0.2.1", NULL };
  g_auto (BridgeReply) before = { 0 };
  g_auto (BridgeReply) after = { 0 };
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  gdouble now = g_get_real_time () / (gdouble) G_USEC_PER_SEC;

  bridge_start (f);
  /* The bridge's documents are rebuilt once the main loop is idle after a change, later than the log line: wait on
   * a document that counts both healthy, and every later one does too. */
  bridge_get_until (f, "/plugins/status", "\"healthy_count\":2");
  bridge_get_until (f, "/metrics", "hkp_plugind_overall_health{status=\"degraded\"} 1");
  bridge_call (f, "GET", "/metrics", NULL, NULL, &before);
  g_assert_cmpuint (before.status, ==, 200);
  g_assert_true (
    g_str_has_prefix (soup_message_headers_get_one (before.headers, "Content-Type"), "text/plain; version=0.0.4"));
  /* Every series is there from the bridge_start, at zero. */
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_state{plugin=\"beta\",state=\"active\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_state{plugin=\"broken\",state=\"failed\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_healthy{plugin=\"broken\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_requests_in_flight{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_requests_total{plugin=\"beta\",verdict=\"deny\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"success\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"rolled_back\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_reloads_total{plugin=\"broken\",result=\"failed\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_drain_cancelled_requests_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_health_checks_total{plugin=\"beta\",result=\"unhealthy\"}"), ==,
                   0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_restarts_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_start_time_seconds"), >, 1700000000);
  g_assert_cmpint (metric (before.body, "hkp_plugind_build_info{version=\"" PACKAGE_VERSION "\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_drain_duration_seconds_count"), ==, 0);
  /* The overall health and the per-plugin figures that go with it, by the one rule. */
  g_assert_cmpint (metric (before.body, "hkp_plugind_overall_health{status=\"healthy\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_overall_health{status=\"unhealthy\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_healthy{plugin=\"alpha\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_required{plugin=\"alpha\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_config_version{plugin=\"beta\"}"), ==, 1);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_calls_timed_out_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_host_restarts_total{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_plugin_call_duration_seconds_count{plugin=\"beta\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_check_requests_total{result=\"deny\"}"), ==, 0);
  g_assert_cmpint (metric (before.body, "hkp_plugind_check_duration_seconds_count"), ==, 0);
  /* The process figures every Prometheus client exports. */
  g_assert_cmpfloat (metric_value (before.body, "process_cpu_seconds_total"), >=, 0);
  g_assert_cmpfloat (metric_value (before.body, "process_resident_memory_bytes"), >, 1024 * 1024);
  g_assert_cmpfloat (metric_value (before.body, "process_virtual_memory_bytes"), >=,
                     metric_value (before.body, "process_resident_memory_bytes"));
  g_assert_cmpfloat (metric_value (before.body, "process_open_fds"), >=, 5);
  g_assert_cmpfloat (metric_value (before.body, "process_max_fds"), >=, metric_value (before.body, "process_open_fds"));
  g_assert_cmpfloat (metric_value (before.body, "process_start_time_seconds"), >, now - 60);
  g_assert_cmpfloat (metric_value (before.body, "process_start_time_seconds"), <=, now + 2);

  /* Three checks: alpha continues and beta denies; a request without its headers; a wrong path. */
  g_assert_cmpuint (check_request (f, "/check", original), ==, 403);
  g_assert_cmpuint (check_request (f, "/check", NULL), ==, 400);
  g_assert_cmpuint (check_request (f, "/elsewhere", original), ==, 404);

  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "POST", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true, \"fail_init\": \"no\"}", &r);
    g_assert_cmpuint (r.status, ==, 500);
  }
  /* The changes rebuilt the documents: the checks before them are in. */
  bridge_call (f, "GET", "/metrics", NULL, NULL, &after);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_requests_total{result=\"deny\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_requests_total{result=\"malformed\"}"), ==, 2);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_requests_total{result=\"allow\"}"), ==, 0);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_duration_seconds_count"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_duration_seconds_bucket{le=\"+Inf\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_check_duration_seconds_bucket{le=\"10\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_plugin_call_duration_seconds_count{plugin=\"alpha\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_plugin_call_duration_seconds_count{plugin=\"beta\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_plugin_call_duration_seconds_bucket{plugin=\"beta\",le=\"+Inf\"}"),
                   ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_plugin_call_duration_seconds_count{plugin=\"broken\"}"), ==, 0);
  /* The refused change left the config as it was: version 1 still. */
  g_assert_cmpint (metric (after.body, "hkp_plugind_plugin_config_version{plugin=\"beta\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"success\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reloads_total{plugin=\"beta\",result=\"rolled_back\"}"), ==, 1);
  g_assert_cmpint (metric (after.body, "hkp_plugind_reload_duration_seconds_count"), ==,
                   metric (before.body, "hkp_plugind_reload_duration_seconds_count") + 2);
  g_assert_cmpint (metric (after.body, "hkp_plugind_drain_duration_seconds_count"), >=, 1);

  if (promtool == NULL)
    {
      g_test_message ("promtool (Debian package prometheus) is not installed: format not checked");
      return;
    }
  {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr (GSubprocess) p = NULL;
    g_autoptr (GError) error = NULL;

    p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &error, promtool, "check", "metrics", NULL);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_communicate_utf8 (p, after.body, NULL, &out, &err, &error));
    if (!g_subprocess_get_successful (p) || (err != NULL && err[0] != '\0') || (out != NULL && out[0] != '\0'))
      g_error ("promtool check metrics: %s%s", out, err);
  }
}

static void
test_readyz_waits_for_required (BridgeFixture *f, gconstpointer data)
{
  bridge_start_with (f, (const char *const[]){ "--required-plugins=alpha,broken", NULL });
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/readyz", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 503);
    g_assert_nonnull (strstr (r.body, "required plugin broken is failed"));
  }
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/livez", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
  }
}

static void
test_readyz_required_in_plugin_file (BridgeFixture *f, gconstpointer data)
{
  hkp_test_tree_write_plugin (&f->tree, "broken",
                              "{\"module\": \"failinit.so\", \"priority\": 3, "
                              "\"required\": true}");
  bridge_start (f);
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "GET", "/readyz", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 503);
    g_assert_nonnull (strstr (r.body, "required plugin broken is failed"));
  }
}

static void
test_unix_socket (BridgeFixture *f, gconstpointer data)
{
  g_autofree char *socket = g_build_filename (f->tree.root, "bridge.sock", NULL);
  g_autofree char *listen = g_strdup_printf ("--http-listen=unix:%s", socket);
  g_autofree char *expected = g_strdup_printf ("unix:%s", socket);
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (HkpTestHttp) raw = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (HkpTestHttpResponse) r = { 0 };

  f->bus = hkp_test_bus_start (TRUE, NULL);
  /* Worker processes share TCP ports only: the daemon serves a unix socket alone, and says so. */
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", listen, "--http-processes=2", NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  hkp_test_daemon_wait_line (f->daemon, "worker processes share a TCP port only");
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  g_assert_cmpstr (f->address, ==, expected);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "HTTP worker 1 started"), <, 0);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  raw = bridge_connect_raw (f);
  g_assert_true (hkp_test_http_request (raw, "GET", "/plugins/list", NULL, NULL, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.status, ==, 200);
  if (strstr (r.body, "\"total_count\":3") == NULL)
    g_error ("unexpected list: %s", r.body);
}

static void
test_head_answers_like_get (BridgeFixture *f, gconstpointer data)
{
  /* Bodies that do not change between two calls. */
  static const char *const paths[] = { "/plugins/config?plugin=alpha", "/livez", "/readyz" };

  bridge_start (f);
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_auto (BridgeReply) get = { 0 };
      g_auto (BridgeReply) head = { 0 };

      bridge_call (f, "GET", paths[i], NULL, NULL, &get);
      bridge_call (f, "HEAD", paths[i], NULL, NULL, &head);
      g_assert_cmpuint (head.status, ==, get.status);
      g_assert_cmpstr (soup_message_headers_get_content_type (head.headers, NULL), ==,
                       soup_message_headers_get_content_type (get.headers, NULL));
      g_assert_cmpint (soup_message_headers_get_content_length (head.headers), ==, (goffset) strlen (get.body));
      g_assert_true (head.body == NULL || head.body[0] == '\0'); /* no body came */
    }
  /* The connection goes on after an answer without a body. */
  {
    g_auto (BridgeReply) r = { 0 };
    bridge_call (f, "HEAD", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    g_assert_cmpint (soup_message_headers_get_content_length (r.headers), >, 0);
    bridge_reply_clear (&r);
    bridge_call (f, "GET", "/plugins/status", NULL, NULL, &r);
    g_assert_cmpuint (r.status, ==, 200);
    bridge_reply_clear (&r);
    /* HEAD changes nothing. */
    bridge_call (f, "HEAD", "/plugins/reload?plugin=beta", TOKEN, NULL, &r);
    g_assert_cmpuint (r.status, ==, 405);
    g_assert_cmpstr (soup_message_headers_get_one (r.headers, "Allow"), ==, "POST");
  }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
}

#define ADD(path, func) g_test_add ((path), BridgeFixture, NULL, bridge_fixture_setup, (func), bridge_fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/bridge/read-shapes", test_read_shapes);
  ADD ("/bridge/reload-and-config-change", test_reload_and_config_change);
  ADD ("/bridge/error-codes", test_error_codes);
  ADD ("/bridge/get-never-changes", test_get_never_changes);
  ADD ("/bridge/head-answers-like-get", test_head_answers_like_get);
  ADD ("/bridge/concurrent-reloads-one-busy", test_concurrent_reloads_one_busy);
  ADD ("/bridge/metrics", test_metrics);
  ADD ("/bridge/readyz-waits-for-required", test_readyz_waits_for_required);
  ADD ("/bridge/readyz-required-in-plugin-file", test_readyz_required_in_plugin_file);
  ADD ("/bridge/unix-socket", test_unix_socket);
  return g_test_run ();
}
