/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shipped ipfilter plugin, loaded by the real engine: defaults that let
 * everything through, deny wins, allow lists, IPv6 and IPv4-mapped
 * addresses, prefix edge cases, list files, health, and every bad config
 * refused with the offending key or entry named.
 */
#include <string.h>
#include <sys/stat.h>

#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  engine_fixture_setup (f, data);
  engine_fixture_install_shipped (f, "ipfilter.so");
}

/* Loads ipfilter with config (a JSON object) as plugin "ip". */
static HkpPlugin *
start (Fixture *f, const char *config)
{
  engine_fixture_write_module (f, "ip", "ipfilter.so", config);
  engine_fixture_start (f, NULL);
  return engine_fixture_lookup (f, "ip");
}

/* Returns "allow", "continue" (no plugin decided) or "deny STATUS" for a request from address. */
static char *
verdict (Fixture *f, const char *address)
{
  g_auto (HkpCheckResult) result = { 0 };
  g_autoptr (GAsyncResult) async = NULL;

  hkp_engine_check_async (f->engine, "GET", "/pks/lookup", "op=get", address, NULL, NULL, hkp_test_store_result,
                          &async);
  hkp_test_wait_result (&async);
  g_assert_true (hkp_engine_check_finish (f->engine, async, &result, NULL));
  if (result.plugin == NULL)
    return g_strdup ("continue");
  return result.allowed ? g_strdup ("allow") : g_strdup_printf ("deny %u %s", result.status, result.reason);
}

static void
assert_verdict (Fixture *f, const char *address, const char *expected)
{
  g_autofree char *got = verdict (f, address);

  if (!g_str_has_prefix (got, expected))
    g_error ("%s: got \"%s\", expected \"%s\"", address, got, expected);
}

static void
test_defaults_let_everything_through (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin = start (f, "{\"enabled\": true}");

  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  assert_verdict (f, "192.0.2.1", "continue");
  assert_verdict (f, "2001:db8::1", "continue");
  assert_verdict (f, "", "continue");
}

static void
test_deny_wins (Fixture *f, gconstpointer data)
{
  start (f, "{\"allow\": [\"10.0.0.0/8\"], \"deny\": [\"10.1.0.0/16\", \"10.2.3.4\"]}");
  assert_verdict (f, "10.9.8.7", "continue");
  assert_verdict (f, "10.1.200.3", "deny 403 your address is not allowed");
  assert_verdict (f, "10.2.3.4", "deny 403");
  assert_verdict (f, "10.2.3.5", "continue");
  /* Outside the allow list. */
  assert_verdict (f, "192.0.2.1", "deny 403");
  assert_verdict (f, "2001:db8::1", "deny 403");
  /* No address cannot be proved to be in the allow list. */
  assert_verdict (f, "", "deny 403");
  assert_verdict (f, "not-an-address", "deny 403");
}

static void
test_ipv6_and_mapped (Fixture *f, gconstpointer data)
{
  start (f,
         "{\"allow\": [\"2001:db8::/32\", \"192.0.2.0/24\"], \"deny\": [\"2001:db8:bad::/48\", "
         "\"::ffff:192.0.2.128/121\"]}");
  assert_verdict (f, "2001:db8:1::5", "continue");
  assert_verdict (f, "2001:DB8:2::5", "continue");
  assert_verdict (f, "2001:db8:bad:1::1", "deny");
  assert_verdict (f, "2001:db9::1", "deny");
  /* IPv4-mapped IPv6 addresses and ranges are IPv4. */
  assert_verdict (f, "::ffff:192.0.2.1", "continue");
  assert_verdict (f, "192.0.2.130", "deny");
  assert_verdict (f, "::ffff:192.0.2.200", "deny");
}

static void
test_prefix_edges (Fixture *f, gconstpointer data)
{
  /* /0 of one family leaves the other alone; /32 and /128 are single addresses. */
  start (f, "{\"deny\": [\"0.0.0.0/0\", \"2001:db8::1/128\"], \"allow\": [\"::/0\", \"198.51.100.7/32\"]}");
  assert_verdict (f, "198.51.100.7", "deny");
  assert_verdict (f, "203.0.113.1", "deny");
  assert_verdict (f, "2001:db8::1", "deny");
  assert_verdict (f, "2001:db8::2", "continue");
  assert_verdict (f, "::1", "continue");
}

static void
test_list_files_and_health (Fixture *f, gconstpointer data)
{
  g_autofree char *allow = hkp_test_write_file_path (
    f->root, "allow.txt", "# partners\n192.0.2.0/24   # office\n\n2001:db8::/32\n198.51.100.7\n");
  g_autofree char *deny = hkp_test_write_file_path (f->root, "deny.txt", "192.0.2.66\n");
  g_autofree char *config = g_strdup_printf ("{\"allow_files\": [\"%s\"], \"deny_files\": [\"%s\"], \"status\": 401, "
                                             "\"reason\": \"ask the operator\"}",
                                             allow, deny);
  HkpPlugin *plugin = start (f, config);
  const HkpHealth *health;
  guint found = 0;

  assert_verdict (f, "192.0.2.5", "continue");
  assert_verdict (f, "192.0.2.66", "deny 401 ask the operator");
  assert_verdict (f, "203.0.113.9", "deny 401");
  while (hkp_plugin_get_health (plugin)->status != HKP_HEALTH_STATUS_HEALTHY)
    g_main_context_iteration (NULL, TRUE);
  health = hkp_plugin_get_health (plugin);
  for (guint i = 0; i < health->checks->len; i++)
    {
      const HkpHealthCheck *check = health->checks->pdata[i];
      const struct {
        const char *key;
        gint64 value;
      } expected[] = {
        { "allow_ipv4_ranges", 2 },
        { "allow_ipv6_ranges", 1 },
        { "deny_ipv4_ranges", 1 },
        { "deny_ipv6_ranges", 0 },
      };
      for (guint e = 0; e < G_N_ELEMENTS (expected); e++)
        if (g_str_equal (check->key, expected[e].key))
          {
            g_assert_cmpint (check->int_value, ==, expected[e].value);
            found++;
          }
    }
  g_assert_cmpuint (found, ==, 4);
}

static void
test_bad_configs (Fixture *f, gconstpointer data)
{
  g_autofree char *bad_file = hkp_test_write_file_path (f->root, "bad.txt", "192.0.2.1\n\n10.0.0.0/99\n");
  g_autofree char *bad_file_config = g_strdup_printf ("{\"deny_files\": [\"%s\"]}", bad_file);
  g_autofree char *bad_file_message = g_strdup_printf ("%s: line 3: \"10.0.0.0/99\" is not an IP address or CIDR range",
                                                       bad_file);
  /* Only regular files are read: a FIFO would block init for ever, a device could never end. */
  g_autofree char *fifo = g_build_filename (f->root, "allow.fifo", NULL);
  g_autofree char *fifo_config = g_strdup_printf ("{\"allow_files\": [\"%s\"]}", fifo);
  g_autofree char *fifo_message = g_strdup_printf ("allow_files[0]: %s is a FIFO, not a regular file", fifo);
  g_autofree char *dir_config = g_strdup_printf ("{\"deny_files\": [\"%s\"]}", f->root);
  g_autofree char *dir_message = g_strdup_printf ("deny_files[0]: %s is a directory, not a regular file", f->root);
  const EngineRefusedConfig cases[] = {
    { "{\"deny\": [\"192.0.2.1\", \"300.1.1.1/8\"]}", "deny[1]: \"300.1.1.1/8\" is not an IP address or CIDR range" },
    { "{\"allow\": [\"10.0.0.0/33\"]}", "allow[0]: \"10.0.0.0/33\" is not" },
    { "{\"allow\": [\"2001:db8::/129\"]}", "allow[0]: \"2001:db8::/129\" is not" },
    { "{\"allow\": [\"10.0.0.0/\"]}", "allow[0]: \"10.0.0.0/\" is not" },
    { "{\"allow\": [\"::ffff:10.0.0.0/8\"]}", "allow[0]: \"::ffff:10.0.0.0/8\" is not" },
    { "{\"allow\": \"10.0.0.0/8\"}", "key \"allow\" must be an array of strings" },
    { "{\"deny\": [1]}", "deny[0] must be a string" },
    { "{\"deny_files\": [\"/nonexistent/deny.txt\"]}",
      "deny_files[0]: cannot read /nonexistent/deny.txt: No such file or directory" },
    { fifo_config, fifo_message },
    { dir_config, dir_message },
    { "{\"status\": 500}", "key \"status\" must be 401 or 403" },
    { "{\"reason\": 5}", "key \"reason\" must be a string" },
    { "{\"colour\": \"red\"}", "unknown key \"colour\"" },
    { bad_file_config, bad_file_message },
  };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  engine_fixture_assert_refused (f, "ipfilter.so", cases, G_N_ELEMENTS (cases));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), engine_fixture_teardown)
  ADD ("/ipfilter/defaults-let-everything-through", test_defaults_let_everything_through);
  ADD ("/ipfilter/deny-wins", test_deny_wins);
  ADD ("/ipfilter/ipv6-and-mapped", test_ipv6_and_mapped);
  ADD ("/ipfilter/prefix-edges", test_prefix_edges);
  ADD ("/ipfilter/list-files-and-health", test_list_files_and_health);
  ADD ("/ipfilter/bad-configs", test_bad_configs);
#undef ADD
  return g_test_run ();
}
