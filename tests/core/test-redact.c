/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one redaction rule shared by D-Bus and HTTP: which keys look secret
 * (each pattern, any case, *_path and *_file excepted), redaction at any
 * depth, and the keep rule for "[redacted]" sent back.
 */
#include <string.h>

#include "hkp-json.h"
#include "hkp-redact.h"

static void
test_keys (void)
{
  const char *secret[] = {
    "password",     "db_password", "PASSWORD",   "passwd",     "ldap_passwd", "secret",       "client_secret",
    "Secret_Value", "token",       "api_token",  "tokens",     "credential",  "credentials",  "aws_Credentials",
    "auth",         "basic_auth",  "AuthHeader", "author",     "bearer",      "bearer_value", "private",
    "private_data", "dsn",         "DSN",        "sentry_dsn", "key",         "api_key",      "KEYRING",
    "monkey",
  };
  const char *plain[] = {
    "enabled",
    "verdict",
    "reason",
    "lookup",
    "requests_per_second",
    "key_file",
    "private_key_file",
    "token_path",
    "credentials_file",
    "password_file",
    "SECRET_PATH",
    "auth_FILE",
    "dsn_path",
    "burst",
    "allow",
  };

  for (guint i = 0; i < G_N_ELEMENTS (secret); i++)
    if (!hkp_redact_key_is_secret (secret[i]))
      g_error ("\"%s\" should look secret", secret[i]);
  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    if (hkp_redact_key_is_secret (plain[i]))
      g_error ("\"%s\" should not look secret", plain[i]);
}

static void
test_config_json (void)
{
  g_autofree char *redacted = hkp_redact_config_json (
    "{\"enabled\": true, \"Password\": \"hunter2\", \"nested\": {\"passwd\": 1, \"plain\": 2, "
    "\"credentials\": {\"user\": \"u\", \"pass\": \"p\"}}, \"list\": [{\"dsn\": \"pg://\"}, {\"x\": \"y\"}], "
    "\"key_file\": \"/etc/k\", \"bearer\": null, \"auth\": [1, 2]}");
  g_autofree char *not_json = hkp_redact_config_json ("{\"password\": ");
  g_autofree char *none = hkp_redact_config_json (NULL);

  g_assert_cmpstr (redacted, ==,
                   "{\"enabled\":true,\"Password\":\"[redacted]\",\"nested\":{\"passwd\":\"[redacted]\",\"plain\":2,"
                   "\"credentials\":\"[redacted]\"},\"list\":[{\"dsn\":\"[redacted]\"},{\"x\":\"y\"}],"
                   "\"key_file\":\"/etc/k\",\"bearer\":\"[redacted]\",\"auth\":\"[redacted]\"}");
  g_assert_null (strstr (redacted, "hunter2"));
  /* Never the text itself when it cannot be read: it might hold a secret. */
  g_assert_cmpstr (not_json, ==, "null");
  g_assert_cmpstr (none, ==, "null");
}

static JsonNode *
parse (const char *text)
{
  JsonNode *node = hkp_json_parse_strict (text, strlen (text), 16, NULL);

  g_assert_nonnull (node);
  return node;
}

static void
test_restore (void)
{
  g_autoptr (JsonNode) stored = parse ("{\"password\": \"hunter2\", \"db\": {\"secret\": {\"k\": 1}}, "
                                       "\"list\": [{\"token\": \"t0\"}, {\"token\": \"t1\"}]}");
  g_autoptr (JsonNode) sent = parse ("{\"password\": \"[redacted]\", \"db\": {\"secret\": \"[redacted]\"}, "
                                     "\"list\": [{\"token\": \"[redacted]\"}, {\"token\": \"new\"}], "
                                     "\"reason\": \"[redacted]\"}");
  g_autoptr (JsonNode) missing_node = parse ("{\"api_key\": \"[redacted]\"}");
  g_autoptr (JsonNode) beyond = parse ("{\"list\": [{}, {}, {\"token\": \"[redacted]\"}]}");
  g_autofree char *missing = NULL;
  g_autofree char *beyond_key = NULL;
  g_autofree char *result = NULL;

  g_assert_true (hkp_redact_restore (sent, stored, &missing));
  result = hkp_json_to_string (sent);
  /* Secrets come back from where they were; a new secret and a plain "[redacted]" stay as sent. */
  g_assert_cmpstr (result, ==,
                   "{\"password\":\"hunter2\",\"db\":{\"secret\":{\"k\":1}},\"list\":[{\"token\":\"t0\"},"
                   "{\"token\":\"new\"}],\"reason\":\"[redacted]\"}");
  g_assert_false (hkp_redact_restore (missing_node, stored, &missing));
  g_assert_cmpstr (missing, ==, "api_key");
  g_assert_false (hkp_redact_restore (beyond, stored, &beyond_key));
  g_assert_cmpstr (beyond_key, ==, "token");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/redact/keys", test_keys);
  g_test_add_func ("/redact/config-json", test_config_json);
  g_test_add_func ("/redact/restore", test_restore);
  return g_test_run ();
}
