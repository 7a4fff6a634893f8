/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plugin file parser: names, keys, types, ranges and limits, each with its message. */
#include <string.h>

#include "hkp-error.h"
#include "hkp-manifest.h"

static HkpManifest *
parse (const char *text, GError **error)
{
  return hkp_manifest_new_from_data ("demo", "/etc/p/demo.json", text, strlen (text), error);
}

/* Asserts that text is refused with code and a message holding every needle. */
static void
assert_refused (const char *text, HkpErrorCode code, const char *const *needles)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) manifest = parse (text, &error);

  g_assert_null (manifest);
  g_assert_error (error, HKP_ERROR, (gint) code);
  g_assert_true (g_str_has_prefix (error->message, "/etc/p/demo.json:"));
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (error->message, needles[i]) == NULL)
      g_error ("message \"%s\" lacks \"%s\"", error->message, needles[i]);
}

#define REFUSED(text, code, ...) assert_refused ((text), (code), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_names (void)
{
  const char *valid[] = { "a", "0", "ratelimit", "rate-limit_2",
                          "a234567890123456789012345678901234567890123456789012345678901234" };
  const char *invalid[] = {
    "",    "-a",  "_a", "A",   "rateLimit",
    "a.b", "a b", "é",  "a/b", "a2345678901234567890123456789012345678901234567890123456789012345"
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    g_assert_true (hkp_plugin_name_is_valid (valid[i]));
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    g_assert_false (hkp_plugin_name_is_valid (invalid[i]));
  g_assert_false (hkp_plugin_name_is_valid (NULL));
}

static void
test_filenames (void)
{
  g_autofree char *a = hkp_manifest_name_from_filename ("/x/ratelimit.json");
  g_autofree char *b = hkp_manifest_name_from_filename ("Bad Name.json");

  g_assert_cmpstr (a, ==, "ratelimit");
  g_assert_cmpstr (b, ==, "Bad Name");
  g_assert_null (hkp_manifest_name_from_filename ("/x/.hidden.json"));
  g_assert_null (hkp_manifest_name_from_filename ("/x/ratelimit.json~"));
  g_assert_null (hkp_manifest_name_from_filename ("/x/.json"));
  g_assert_null (hkp_manifest_name_from_filename ("/x/readme.txt"));
}

static void
test_full (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) m = parse ("{ \"module\": \"ratelimit.so\", \"priority\": 10, "
                                     "\"reload_strategy\": \"exclusive\", \"drain_timeout_sec\": 1.5, "
                                     "\"failure_mode\": \"open\", \"init_timeout_sec\": 2, "
                                     "\"health_interval_sec\": 5, \"required\": true, "
                                     "\"config\": { \"enabled\": true, \"requests_per_second\": 5 } }",
                                     &error);

  g_assert_no_error (error);
  g_assert_cmpstr (m->name, ==, "demo");
  g_assert_cmpstr (m->path, ==, "/etc/p/demo.json");
  g_assert_cmpstr (m->module, ==, "ratelimit.so");
  g_assert_cmpint (m->priority, ==, 10);
  g_assert_cmpint (m->reload_strategy, ==, HKP_RELOAD_EXCLUSIVE);
  g_assert_cmpint (m->failure_mode, ==, HKP_FAILURE_OPEN);
  g_assert_cmpfloat (m->drain_timeout_sec, ==, 1.5);
  g_assert_cmpfloat (m->init_timeout_sec, ==, 2);
  g_assert_cmpfloat (m->health_interval_sec, ==, 5);
  g_assert_true (m->required);
  g_assert_true (m->enabled);
  g_assert_cmpstr (m->config_json, ==, "{\"enabled\":true,\"requests_per_second\":5}");
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) m = parse ("{\"module\": \"x.so\"}", &error);

  g_assert_no_error (error);
  g_assert_cmpint (m->priority, ==, HKP_PRIORITY_DEFAULT);
  g_assert_cmpint (m->reload_strategy, ==, HKP_RELOAD_OVERLAP);
  g_assert_cmpint (m->failure_mode, ==, HKP_FAILURE_CLOSED);
  g_assert_cmpfloat (m->drain_timeout_sec, ==, 0);
  g_assert_false (m->required);
  g_assert_true (m->enabled);
  g_assert_cmpstr (m->config_json, ==, "{}");
}

static void
test_disabled (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) m = parse ("{\"module\": \"x.so\", \"config\": {\"enabled\": false}}", &error);

  g_assert_no_error (error);
  g_assert_false (m->enabled);
}

static void
test_syntax (void)
{
  REFUSED ("{\n  \"module\": \"x.so\",\n  \"priority\": x\n}", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:3:15: unexpected 'x', expected a value");
  REFUSED ("{\"module\": \"x.so\"", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:1:18: unexpected end of the data, expected ',' or '}'");
  REFUSED ("", HKP_ERROR_INVALID_MANIFEST, "/etc/p/demo.json: file is empty");
  REFUSED (" \n\t", HKP_ERROR_INVALID_MANIFEST, "/etc/p/demo.json: file is empty");
  REFUSED ("{\"module\": \"\xff\"}", HKP_ERROR_INVALID_MANIFEST, "/etc/p/demo.json:1:13: not valid UTF-8");
}

/* Strict JSON: what json-glib alone accepts and half-reads is refused, with the place and the key. */
static void
test_strict (void)
{
  REFUSED ("{\"module\": \"x.so\"}\n{\"module\": \"y.so\"}", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:2:1: unexpected data after the JSON value");
  REFUSED ("{\"module\": \"x.so\"} garbage", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:1:20: unexpected data after the JSON value");
  REFUSED ("{\"module\": \"x\\u0000.so\"}", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:1:14: NUL character (\\u0000) in a string");
  REFUSED ("{\"module\": \"x.so\", \"config\": {\"a\": 1, \"a\": 2}}", HKP_ERROR_INVALID_MANIFEST,
           "/etc/p/demo.json:1:39: duplicate key \"a\" in an object");
  /* Equal once the escapes are read: the same key. */
  REFUSED ("{\"module\": \"x.so\", \"modul\\u0065\": \"y.so\"}", HKP_ERROR_INVALID_MANIFEST,
           "duplicate key \"module\"");
}

static void
test_not_object (void)
{
  REFUSED ("[1, 2]", HKP_ERROR_INVALID_MANIFEST, "top level must be a JSON object, not array");
  REFUSED ("\"x.so\"", HKP_ERROR_INVALID_MANIFEST, "top level must be a JSON object, not string");
}

static void
test_keys (void)
{
  REFUSED ("{\"module\": \"x.so\", \"colour\": \"red\"}", HKP_ERROR_INVALID_MANIFEST, "unknown key \"colour\"");
  REFUSED ("{\"priority\": 1}", HKP_ERROR_INVALID_MANIFEST, "key \"module\" is missing");
  REFUSED ("{\"module\": \"\"}", HKP_ERROR_INVALID_MANIFEST, "key \"module\" is missing");
  REFUSED ("{\"module\": 5}", HKP_ERROR_INVALID_MANIFEST, "key \"module\" must be a string, not integer");
  REFUSED ("{\"module\": \"x.so\", \"priority\": \"high\"}", HKP_ERROR_INVALID_MANIFEST,
           "key \"priority\" must be an integer, not string");
  REFUSED ("{\"module\": \"x.so\", \"priority\": 1.5}", HKP_ERROR_INVALID_MANIFEST,
           "key \"priority\" must be an integer, not number");
  REFUSED ("{\"module\": \"x.so\", \"priority\": -1}", HKP_ERROR_INVALID_MANIFEST,
           "key \"priority\" must be between 0 and 10000, not -1");
  REFUSED ("{\"module\": \"x.so\", \"reload_strategy\": \"fast\"}", HKP_ERROR_INVALID_MANIFEST,
           "key \"reload_strategy\" must be \"overlap\" or \"exclusive\", not \"fast\"");
  REFUSED ("{\"module\": \"x.so\", \"failure_mode\": true}", HKP_ERROR_INVALID_MANIFEST,
           "key \"failure_mode\" must be a string, not boolean");
  REFUSED ("{\"module\": \"x.so\", \"drain_timeout_sec\": 0}", HKP_ERROR_INVALID_MANIFEST,
           "key \"drain_timeout_sec\" must be more than 0");
  REFUSED ("{\"module\": \"x.so\", \"init_timeout_sec\": \"5\"}", HKP_ERROR_INVALID_MANIFEST,
           "key \"init_timeout_sec\" must be a number of seconds, not string");
  REFUSED ("{\"module\": \"x.so\", \"health_interval_sec\": 100000}", HKP_ERROR_INVALID_MANIFEST,
           "key \"health_interval_sec\" must be more than 0 and at most 86400");
  REFUSED ("{\"module\": \"x.so\", \"required\": \"yes\"}", HKP_ERROR_INVALID_MANIFEST,
           "key \"required\" must be true or false, not string");
  REFUSED ("{\"module\": \"x.so\", \"config\": [1]}", HKP_ERROR_INVALID_MANIFEST,
           "key \"config\" must be an object, not array");
  REFUSED ("{\"module\": \"x.so\", \"config\": {\"enabled\": \"no\"}}", HKP_ERROR_INVALID_MANIFEST,
           "key \"config.enabled\" must be true or false, not string");
  REFUSED ("{\"module\": null}", HKP_ERROR_INVALID_MANIFEST, "key \"module\" must be a string, not null");
}

static void
test_bad_name (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) m = hkp_manifest_new_from_data ("Bad_Name", "/etc/p/Bad_Name.json", "{\"module\": \"x.so\"}",
                                                          17, &error);

  g_assert_null (m);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_NAME);
  g_assert_nonnull (strstr (error->message, "/etc/p/Bad_Name.json: invalid plugin name \"Bad_Name\""));
}

static void
test_limits (void)
{
  g_autoptr (GString) deep = g_string_new ("{\"module\": \"x.so\", \"config\": {\"a\": ");
  g_autoptr (GString) big = g_string_new ("{\"module\": \"x.so\", \"config\": {\"a\": \"");
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) m = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  REFUSED (deep->str, HKP_ERROR_INVALID_MANIFEST, "nested deeper than 32 levels");

  /* Brackets inside strings do not count as nesting. */
  m = parse ("{\"module\": \"x.so\", \"config\": {\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}}",
             &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);

  while (big->len <= HKP_MANIFEST_MAX_SIZE)
    g_string_append (big, "aaaaaaaaaaaaaaaa");
  g_string_append (big, "\"}}");
  REFUSED (big->str, HKP_ERROR_INVALID_MANIFEST, "more than the 1048576 allowed");
}

static void
test_refcount_shared (void)
{
  g_autoptr (GError) error = NULL;
  HkpManifest *m = parse ("{\"module\": \"x.so\"}", &error);
  HkpManifest *again = hkp_manifest_ref (m);

  g_assert_true (m == again);
  hkp_manifest_unref (m);
  g_assert_cmpstr (again->module, ==, "x.so");
  hkp_manifest_unref (again);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/manifest/names", test_names);
  g_test_add_func ("/manifest/filenames", test_filenames);
  g_test_add_func ("/manifest/full", test_full);
  g_test_add_func ("/manifest/defaults", test_defaults);
  g_test_add_func ("/manifest/disabled", test_disabled);
  g_test_add_func ("/manifest/syntax", test_syntax);
  g_test_add_func ("/manifest/strict", test_strict);
  g_test_add_func ("/manifest/not-object", test_not_object);
  g_test_add_func ("/manifest/keys", test_keys);
  g_test_add_func ("/manifest/bad-name", test_bad_name);
  g_test_add_func ("/manifest/limits", test_limits);
  g_test_add_func ("/manifest/refcount", test_refcount_shared);
  return g_test_run ();
}
