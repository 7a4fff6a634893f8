/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shipped ratelimit plugin, loaded by the real engine: sane defaults
 * from {"enabled": true}, 429 with Retry-After and X-RateLimit-* once a
 * bucket is empty, separate classes and clients, IPv4 and IPv6 prefixes,
 * refill, LRU eviction bounded by max_clients, health, and every bad config
 * refused with the key named.
 */
#include <string.h>

#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  engine_fixture_setup (f, data);
  engine_fixture_install_shipped (f, "ratelimit.so");
}

static HkpPlugin *
start (Fixture *f, const char *config)
{
  engine_fixture_write_module (f, "rl", "ratelimit.so", config);
  engine_fixture_start (f, NULL);
  g_assert_cmpint (hkp_plugin_get_state (engine_fixture_lookup (f, "rl")), ==, HKP_PLUGIN_STATE_ACTIVE);
  return engine_fixture_lookup (f, "rl");
}

/* Checks one request; returns TRUE if it passed (no plugin decided), filling result. */
static gboolean
request (Fixture *f, const char *method, const char *path, const char *address, HkpCheckResult *result)
{
  g_autoptr (GAsyncResult) async = NULL;

  hkp_engine_check_async (f->engine, method, path, "", address, NULL, NULL, hkp_test_store_result, &async);
  hkp_test_wait_result (&async);
  g_assert_true (hkp_engine_check_finish (f->engine, async, result, NULL));
  return result->plugin == NULL;
}

/* Sends n requests and returns how many passed. */
static guint
burst_of (Fixture *f, guint n, const char *method, const char *path, const char *address)
{
  guint passed = 0;

  for (guint i = 0; i < n; i++)
    {
      g_auto (HkpCheckResult) result = { 0 };
      passed += request (f, method, path, address, &result);
    }
  return passed;
}

static const char *
header (const HkpCheckResult *result, const char *name)
{
  for (guint i = 0; result->headers != NULL && i + 1 < result->headers->len; i += 2)
    if (g_str_equal (result->headers->pdata[i], name))
      return result->headers->pdata[i + 1];
  return NULL;
}

static void
test_defaults_and_headers (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) limited = { 0 };

  start (f, "{\"enabled\": true}");
  /* Lookups: a burst of 20 at 10 a second. */
  g_assert_cmpuint (burst_of (f, 20, "GET", "/pks/lookup", "192.0.2.1"), ==, 20);
  g_assert_false (request (f, "GET", "/pks/lookup", "192.0.2.1", &limited));
  g_assert_false (limited.allowed);
  g_assert_cmpuint (limited.status, ==, 429);
  g_assert_cmpstr (limited.plugin, ==, "rl");
  g_assert_cmpstr (header (&limited, "Retry-After"), ==, "1");
  g_assert_cmpstr (header (&limited, "X-RateLimit-Limit"), ==, "10");
  g_assert_cmpstr (header (&limited, "X-RateLimit-Remaining"), ==, "0");
  g_assert_nonnull (header (&limited, "X-RateLimit-Reset"));
  /* Without an address there is nobody to count. */
  g_assert_cmpuint (burst_of (f, 30, "GET", "/pks/lookup", ""), ==, 30);
}

static void
test_classes_and_clients (Fixture *f, gconstpointer data)
{
  start (f,
         "{\"lookup\": {\"requests_per_second\": 1, \"burst\": 2}, \"submit\": {\"requests_per_second\": 0.01, "
         "\"burst\": 1}, "
         "\"default\": {\"requests_per_second\": 1, \"burst\": 3}}");
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "192.0.2.1"), ==, 2);
  /* Each class has its own bucket. */
  g_assert_cmpuint (burst_of (f, 3, "POST", "/pks/add", "192.0.2.1"), ==, 1);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/", "192.0.2.1"), ==, 3);
  /* A POST to the lookup path is not a lookup. */
  g_assert_cmpuint (burst_of (f, 1, "POST", "/pks/lookup", "192.0.2.1"), ==, 0);
  /* Each client has its own buckets; IPv6 clients are grouped by /64. */
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "192.0.2.2"), ==, 2);
  g_assert_cmpuint (burst_of (f, 1, "GET", "/pks/lookup", "2001:db8:1:2::1"), ==, 1);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "2001:db8:1:2:ffff::9"), ==, 1);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "2001:db8:1:3::1"), ==, 2);
  /*
   * An IPv4 client written IPv4-mapped (nginx on a dual-stack socket) is that
   * client: it shares its bucket, and two of them are not one /64.
   */
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "::ffff:192.0.2.2"), ==, 0);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "::ffff:203.0.113.1"), ==, 2);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "::ffff:198.51.100.7"), ==, 2);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "198.51.100.7"), ==, 0);
}

static void
test_prefixes (Fixture *f, gconstpointer data)
{
  start (f, "{\"lookup\": {\"requests_per_second\": 1, \"burst\": 2}, \"ipv4_prefix\": 24, \"ipv6_prefix\": 128}");
  g_assert_cmpuint (burst_of (f, 1, "GET", "/pks/lookup", "192.0.2.1"), ==, 1);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "192.0.2.200"), ==, 1);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "192.0.3.1"), ==, 2);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "2001:db8::1"), ==, 2);
  g_assert_cmpuint (burst_of (f, 5, "GET", "/pks/lookup", "2001:db8::2"), ==, 2);
}

static void
test_refill (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) limited = { 0 };
  gint64 emptied;

  start (f, "{\"lookup\": {\"requests_per_second\": 20, \"burst\": 1}}");
  g_assert_cmpuint (burst_of (f, 1, "GET", "/pks/lookup", "192.0.2.1"), ==, 1);
  emptied = g_get_monotonic_time ();
  g_assert_false (request (f, "GET", "/pks/lookup", "192.0.2.1", &limited));
  /* Refill is the behaviour under test, so real time has to pass: one token takes 50 ms at 20/s. */
  g_usleep (60000);
  g_assert_cmpint (g_get_monotonic_time () - emptied, >=, 50000);
  g_assert_cmpuint (burst_of (f, 1, "GET", "/pks/lookup", "192.0.2.1"), ==, 1);
  g_assert_cmpuint (burst_of (f, 1, "GET", "/pks/lookup", "192.0.2.1"), ==, 0);
}

static void
test_eviction_and_health (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;
  const HkpHealth *health;
  gint64 clients = -1, evictions = -1, limited = -1, after_traffic;

  /* 32 buckets at most: two in each of the 16 shards. */
  engine_fixture_write_plugin (
    f, "rl",
    "{\"module\": \"ratelimit.so\", \"health_interval_sec\": 0.05, "
    "\"config\": {\"max_clients\": 32, \"default\": {\"requests_per_second\": 1, \"burst\": 1}}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "rl");
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *address = g_strdup_printf ("198.51.100.%u", i);
      g_auto (HkpCheckResult) result = { 0 };
      g_assert_true (request (f, "GET", "/", address, &result));
    }
  /* The newest client keeps its (empty) bucket: it is the last to be evicted. */
  g_assert_cmpuint (burst_of (f, 2, "GET", "/", "198.51.100.199"), ==, 0);
  after_traffic = g_get_real_time ();
  while (hkp_plugin_get_health (plugin)->last_check_usec <= after_traffic)
    g_main_context_iteration (NULL, TRUE);
  health = hkp_plugin_get_health (plugin);
  for (guint i = 0; i < health->checks->len; i++)
    {
      const HkpHealthCheck *check = health->checks->pdata[i];
      if (g_str_equal (check->key, "clients"))
        clients = check->int_value;
      else if (g_str_equal (check->key, "evictions"))
        evictions = check->int_value;
      else if (g_str_equal (check->key, "limited"))
        limited = check->int_value;
    }
  /* Each shard evicts all but its two newest: at least 200 - 32. */
  g_assert_cmpint (clients, >, 0);
  g_assert_cmpint (clients, <=, 32);
  g_assert_cmpint (evictions, >=, 168);
  g_assert_cmpint (evictions + clients, ==, 200);
  g_assert_cmpint (limited, ==, 2);
}

static void
test_bad_configs (Fixture *f, gconstpointer data)
{
  const EngineRefusedConfig cases[] = {
    { "{\"colour\": 1}", "unknown key \"colour\"" },
    { "{\"lookup\": 5}", "key \"lookup\" must be an object" },
    { "{\"lookup\": {\"rate\": 5}}", "unknown key \"lookup.rate\"" },
    { "{\"lookup\": {\"requests_per_second\": 0}}", "key \"lookup.requests_per_second\" must be a number" },
    { "{\"submit\": {\"burst\": 0.5}}", "key \"submit.burst\" must be a number from 1" },
    { "{\"default\": {\"burst\": \"many\"}}", "key \"default.burst\" must be a number" },
    { "{\"ipv4_prefix\": 33}", "key \"ipv4_prefix\" must be a number from 1 to 32" },
    { "{\"ipv6_prefix\": 48.5}", "must be whole numbers" },
    { "{\"max_clients\": 5}", "key \"max_clients\" must be a number from 16" },
  };

  engine_fixture_assert_refused (f, "ratelimit.so", cases, G_N_ELEMENTS (cases));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), engine_fixture_teardown)
  ADD ("/ratelimit/defaults-and-headers", test_defaults_and_headers);
  ADD ("/ratelimit/classes-and-clients", test_classes_and_clients);
  ADD ("/ratelimit/prefixes", test_prefixes);
  ADD ("/ratelimit/refill", test_refill);
  ADD ("/ratelimit/eviction-and-health", test_eviction_and_health);
  ADD ("/ratelimit/bad-configs", test_bad_configs);
#undef ADD
  return g_test_run ();
}
