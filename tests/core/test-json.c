/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict JSON, the one parser of text from outside: exactly one RFC 8259
 * value, no \u0000, no key twice, bounded nesting; every refusal names the
 * problem, its line and column, and the key.
 */
#include <string.h>

#include "hkp-json.h"

static void
assert_refused (const char *text, gssize len, HkpJsonError code, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = hkp_json_parse_strict (text, len < 0 ? strlen (text) : (gsize) len, 8, &error);

  g_assert_null (node);
  g_assert_error (error, HKP_JSON_ERROR, (gint) code);
  if (!g_str_equal (error->message, message))
    g_error ("%s: \"%s\", expected \"%s\"", text, error->message, message);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = hkp_json_parse_strict (text, strlen (text), 8, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
test_accepted (void)
{
  const char *texts[] = {
    "{}",
    "[]",
    " \t\r\n{\"a\": [1, -2.5e+3, 0, 0.5, 1E2, true, false, null, \"\"]} \n",
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00\"",
    "{\"a\": {\"a\": {\"a\": 1}}, \"b\": {\"a\": 2}}", /* the same key in different objects */
    "{\"é\": \"ü\", \"e\\u0301\": 1}", /* different keys, however alike they look */
    "42",
    "[9223372036854775807, -9223372036854775808, 1.7976931348623157e308, 4.9e-324, 1e-400]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (JsonNode) node = parse (texts[i]);
    }
  {
    g_autoptr (JsonNode) node = parse ("{\"s\": \"a\\u00e9\\ud83d\\ude00\"}");
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "s"), ==, "aé😀");
    /* The tree is the caller's to change. */
    json_object_set_int_member (json_node_get_object (node), "n", 1);
  }
}

static void
test_trailing (void)
{
  assert_refused ("{\"enabled\":true} {\"x\":1}", -1, HKP_JSON_ERROR_TRAILING,
                  "1:18: unexpected data after the JSON value");
  assert_refused ("{}\n{}", -1, HKP_JSON_ERROR_TRAILING, "2:1: unexpected data after the JSON value");
  assert_refused ("[1] x", -1, HKP_JSON_ERROR_TRAILING, "1:5: unexpected data after the JSON value");
  assert_refused ("1 2", -1, HKP_JSON_ERROR_TRAILING, "1:3: unexpected data after the JSON value");
}

static void
test_nul (void)
{
  assert_refused ("\"a\\u0000b\"", -1, HKP_JSON_ERROR_NUL, "1:3: NUL character (\\u0000) in a string");
  assert_refused ("{\"k\\u0000\": 1}", -1, HKP_JSON_ERROR_NUL, "1:4: NUL character (\\u0000) in a string");
  /* A raw NUL byte, in a string or outside. */
  assert_refused ("\"a\0b\"", 5, HKP_JSON_ERROR_NUL, "1:3: NUL byte in the text");
  assert_refused ("{}\0", 3, HKP_JSON_ERROR_NUL, "1:3: NUL byte in the text");
}

static void
test_duplicate_keys (void)
{
  assert_refused ("{\"a\": 1, \"a\": 2}", -1, HKP_JSON_ERROR_DUPLICATE_KEY, "1:10: duplicate key \"a\" in an object");
  assert_refused ("{\"x\": {\"b\": 1,\n \"b\": 1}}", -1, HKP_JSON_ERROR_DUPLICATE_KEY,
                  "2:2: duplicate key \"b\" in an object");
  /* Keys are compared as read: escapes do not hide a duplicate. */
  assert_refused ("{\"ab\": 1, \"a\\u0062\": 2}", -1, HKP_JSON_ERROR_DUPLICATE_KEY,
                  "1:11: duplicate key \"ab\" in an object");
  assert_refused ("[{\"a\": 1}, {\"c\": 1, \"c\": 1}]", -1, HKP_JSON_ERROR_DUPLICATE_KEY,
                  "1:21: duplicate key \"c\" in an object");
}

static void
test_syntax (void)
{
  const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "{\"a\": }", "1:7: unexpected '}', expected a value" },
    { "{\"a\" 1}", "1:6: unexpected '1', expected ':' after a key" },
    { "{\"a\": 1,}", "1:9: unexpected '}', expected a key (a string)" },
    { "[1,]", "1:4: unexpected ']', expected a value" },
    { "[1 2]", "1:4: unexpected '2', expected ',' or ']'" },
    { "{'a': 1}", "1:2: unexpected ''', expected a key (a string)" },
    { "{a: 1}", "1:2: unexpected 'a', expected a key (a string)" },
    { "01", "1:2: unexpected data after the JSON value" },
    { "1.", "1:3: unexpected end of the data, expected a digit after '.'" },
    { "-", "1:2: unexpected end of the data, expected a digit" },
    { "1e", "1:3: unexpected end of the data, expected a digit in the exponent" },
    { "NaN", "1:1: unexpected 'N', expected a value" },
    { "tru", "1:1: unexpected 't', expected a value" },
    { "\"abc", "1:1: string never ends" },
    { "\"a\tb\"", "1:3: control character 0x09 in a string (escape it)" },
    { "\"\\x\"", "1:2: invalid escape \\x in a string" },
    { "\"\\u12\"", "1:2: invalid \\u escape: four hex digits must follow" },
    { "\"\\ud800\"", "1:2: invalid \\u escape: a lone high surrogate" },
    { "\"\\udc00\"", "1:2: invalid \\u escape: a lone low surrogate" },
    { "/* c */ {}", "1:1: unexpected '/', expected a value" },
    { "[1] // c", "1:5: unexpected data after the JSON value" },
    /* Numbers json-glib would change (or write out as "inf"). */
    { "[1e400]", "1:2: number out of range (numbers are double precision)" },
    { "{\"n\": -1E+999}", "1:7: number out of range (numbers are double precision)" },
    { "9223372036854775808", "1:1: number out of range (integers are 64-bit)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      HkpJsonError code = strstr (cases[i].message, "after the JSON value") != NULL ? HKP_JSON_ERROR_TRAILING
                                                                                    : HKP_JSON_ERROR_SYNTAX;
      assert_refused (cases[i].text, -1, code, cases[i].message);
    }
  assert_refused ("", -1, HKP_JSON_ERROR_EMPTY, "no JSON value: the text is empty");
  assert_refused (" \n ", -1, HKP_JSON_ERROR_EMPTY, "no JSON value: the text is empty");
  assert_refused ("\"\xc3\"", -1, HKP_JSON_ERROR_UTF8, "1:2: not valid UTF-8");
  /* Columns count characters, not bytes. */
  assert_refused ("\"é\" x", -1, HKP_JSON_ERROR_TRAILING, "1:5: unexpected data after the JSON value");
}

static void
test_depth (void)
{
  g_autoptr (GString) deep = g_string_new (NULL);
  g_autoptr (JsonNode) eight = parse ("[[[[[[[{\"a\": 1}]]]]]]]");

  /* Far deeper than the bound: refused at the first level too many, without recursing further. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  assert_refused (deep->str, -1, HKP_JSON_ERROR_DEPTH, "1:9: nested deeper than 8 levels");
  assert_refused ("[[[[[[[[[]]]]]]]]]", -1, HKP_JSON_ERROR_DEPTH, "1:9: nested deeper than 8 levels");
}

/* What we write reads back, strictly, to the same values: json-glib 1.6 writes 1e-73 as "1e-73.0". */
static void
test_write (void)
{
  g_autoptr (JsonNode) node = parse ("{\"small\": 1e-73, \"big\": 2e22, \"three\": 3.0, \"int\": -42, \"half\": 0.5, "
                                     "\"s\": \"q\\\" b\\\\ \\u0001\\u007f \\n\\t\\b\\f\\r é/\", \"e\": {}, \"a\": [], "
                                     "\"n\": [null, true, false, {\"x\": [1]}]}");
  g_autofree char *compact = hkp_json_to_string (node);
  g_autofree char *pretty = hkp_json_to_pretty_string (node);
  g_autoptr (JsonNode) back = parse (compact);
  g_autoptr (JsonNode) back_pretty = parse (pretty);
  g_autofree char *again = hkp_json_to_string (back);
  g_autofree char *again_pretty = hkp_json_to_string (back_pretty);
  JsonObject *object = json_node_get_object (back);

  g_assert_cmpstr (compact, ==,
                   "{\"small\":1e-73,\"big\":2e+22,\"three\":3.0,\"int\":-42,\"half\":0.5,"
                   "\"s\":\"q\\\" b\\\\ \\u0001\\u007f \\n\\t\\b\\f\\r é/\",\"e\":{},\"a\":[],"
                   "\"n\":[null,true,false,{\"x\":[1]}]}");
  g_assert_cmpstr (again, ==, compact);
  g_assert_cmpstr (again_pretty, ==, compact);
  g_assert_cmpfloat (json_object_get_double_member (object, "small"), ==, 1e-73);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, "three")), ==, G_TYPE_DOUBLE);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, "int")), ==, G_TYPE_INT64);
  g_assert_true (g_str_has_prefix (pretty, "{\n  \"small\" : 1e-73,\n  \"big\" : 2e+22,"));
  g_assert_true (g_str_has_suffix (
    pretty, "\"n\" : [\n    null,\n    true,\n    false,\n    {\n      \"x\" : [\n        1\n      ]\n    }\n  ]\n}"));
  g_assert_nonnull (strstr (pretty, "\"e\" : {},\n  \"a\" : [],"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/accepted", test_accepted);
  g_test_add_func ("/json/trailing", test_trailing);
  g_test_add_func ("/json/nul", test_nul);
  g_test_add_func ("/json/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/json/syntax", test_syntax);
  g_test_add_func ("/json/depth", test_depth);
  g_test_add_func ("/json/write", test_write);
  return g_test_run ();
}
