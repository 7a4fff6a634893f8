/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon with its HTTP bridge, and a libsoup client for it: what the bridge tests share. */

#include "bridge-fixture.h"

#include <string.h>
#include <sys/stat.h>

#include "hkp-test-util.h"

void
bridge_fixture_setup (BridgeFixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  f->token_file = hkp_test_write_file_path (f->tree.root, "token", TOKEN "\n");
  g_assert_cmpint (chmod (f->token_file, 0600), ==, 0);
  f->session = soup_session_new ();
  f->scheme = g_strdup ("http");
  hkp_test_tree_write_plugin (&f->tree, "alpha",
                              "{\"module\": \"answer.so\", \"priority\": 1, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"continue\", \"password\": \"hunter2\", "
                              "\"api_token\": \"abc\", \"key_path\": \"/etc/alpha.key\", "
                              "\"nested\": {\"secret_value\": 1, \"plain\": 2}}}");
  hkp_test_tree_write_plugin (&f->tree, "beta",
                              "{\"module\": \"answer.so\", \"priority\": 2, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"first\"}}");
  hkp_test_tree_write_plugin (&f->tree, "broken",
                              "{\"module\": \"failinit.so\", \"priority\": 3, "
                              "\"failure_mode\": \"open\"}");
}

void
bridge_fixture_teardown (BridgeFixture *f, gconstpointer data)
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
void
bridge_start_with (BridgeFixture *f, const char *const *extra)
{
  g_autofree char *token = g_strdup_printf ("--http-token-file=%s", f->token_file);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  f->bus = hkp_test_bus_start (TRUE, NULL);
  g_ptr_array_add (args, (gpointer) "--http-listen=127.0.0.1:0");
  g_ptr_array_add (args, token);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, (const char *const *) args->pdata);
  f->address = hkp_test_daemon_wait_listening (f->daemon, "HTTP bridge");
  f->check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
}

void
bridge_start (BridgeFixture *f)
{
  bridge_start_with (f, NULL);
}

void
bridge_reply_clear (BridgeReply *r)
{
  g_free (r->body);
  g_clear_pointer (&r->headers, soup_message_headers_unref);
  memset (r, 0, sizeof *r);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *certificate, GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;
}

SoupMessage *
bridge_new_message (BridgeFixture *f, const char *method, const char *path_and_query)
{
  g_autofree char *url = g_strdup_printf ("%s://%s%s", f->scheme, f->address, path_and_query);
  SoupMessage *msg = soup_message_new (method, url);

  g_assert_nonnull (msg);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  return msg;
}

/* One request through libsoup; token NULL for none; body sent as application/json unless content_type says otherwise. */
gboolean
bridge_make_certificate (BridgeFixture *f, char *args[2])
{
  g_autofree char *cert = g_build_filename (f->tree.root, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (f->tree.root, "key.pem", NULL);
  g_autoptr (GSubprocess) openssl = NULL;
  g_autoptr (GError) error = NULL;

  openssl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, "openssl",
                              "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                              "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", NULL);
  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed: no certificate to test TLS with");
      return FALSE;
    }
  g_assert_true (g_subprocess_wait_check (openssl, NULL, &error));
  args[0] = g_strdup_printf ("--http-tls-certificate=%s", cert);
  args[1] = g_strdup_printf ("--http-tls-key=%s", key);
  return TRUE;
}

void
bridge_call_full (BridgeFixture *f, const char *method, const char *path, const char *token, const char *content_type,
                  const char *body, BridgeReply *r)
{
  g_autoptr (SoupMessage) msg = bridge_new_message (f, method, path);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  if (token != NULL)
    {
      g_autofree char *value = g_strdup_printf ("Bearer %s", token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  if (body != NULL)
    {
      g_autoptr (GBytes) request_body = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, content_type, request_body);
    }
  bytes = soup_session_send_and_read (f->session, msg, NULL, &error);
  g_assert_no_error (error);
  memset (r, 0, sizeof *r);
  r->status = soup_message_get_status (msg);
  r->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  r->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
}

void
bridge_call (BridgeFixture *f, const char *method, const char *path, const char *token, const char *body,
             BridgeReply *r)
{
  bridge_call_full (f, method, path, token, "application/json", body, r);
}

HkpTestHttp *
bridge_connect_raw (BridgeFixture *f)
{
  g_autoptr (GError) error = NULL;
  HkpTestHttp *http = hkp_test_http_connect (f->address, NULL, &error);

  g_assert_no_error (error);
  return http;
}

JsonObject *
bridge_parse_object (const char *text)
{
  g_autoptr (JsonNode) node = json_from_string (text, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    g_error ("not a JSON object: %s", text);
  return json_object_ref (json_node_get_object (node));
}

/* Asserts object has bridge_member name of JSON type (G_TYPE_INT64, G_TYPE_STRING, G_TYPE_BOOLEAN, JSON_TYPE_OBJECT…). */
JsonNode *
bridge_member (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    g_error ("no bridge_member \"%s\"", name);
  if (type == JSON_TYPE_OBJECT)
    g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  else if (type == JSON_TYPE_ARRAY)
    g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  else
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
        g_error ("bridge_member \"%s\" is not a %s", name, g_type_name (type));
    }
  return node;
}

void
bridge_assert_error (const BridgeReply *r, guint status, const char *message_part)
{
  g_autoptr (JsonObject) o = NULL;

  if (r->status != status)
    g_error ("expected %u, got %u: %s", status, r->status, r->body);
  o = bridge_parse_object (r->body);
  g_assert_cmpstr (json_node_get_string (bridge_member (o, "status", G_TYPE_STRING)), ==, "error");
  bridge_member (o, "plugin", G_TYPE_STRING);
  bridge_member (o, "timestamp", G_TYPE_INT64);
  if (strstr (json_node_get_string (bridge_member (o, "message", G_TYPE_STRING)), message_part) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", json_object_get_string_member (o, "message"), message_part);
}

guint64
bridge_reload_count (BridgeFixture *f, const char *name)
{
  g_autoptr (sd_bus) client = hkp_test_client_new (f->bus->address);
  g_autofree char *path = hkp_test_plugin_path (name);

  return hkp_test_get_uint (client, path, HKP_TEST_PLUGIN, "ReloadCount", 'u');
}
