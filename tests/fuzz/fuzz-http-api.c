/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the management endpoints, http_api_handle(), with any
 * method, path, query, headers and body, over a snapshot that knows two
 * plugins; and the messages between the bridge's worker processes and the
 * daemon (a mutation, an answer, a snapshot), read from untrusted bytes.
 * The input is eight lines (method, path, query, Host, Origin,
 * Authorization, Content-Type, Content-Length; an empty line is an absent
 * header) and then the body.  Each request is put to an API with a token
 * and a Host list and to one with neither.  Nothing crashes or leaks; every
 * answer has an honest status and a body of its content type; only a POST
 * to /plugins/reload or a PUT to /plugins/config with the token, from an
 * allowed Host and no Origin, for a known plugin, becomes a change, and a
 * change crosses to the daemon and back unaltered.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "hkp-json.h"
#include "http-api.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define TOKEN "s3cret-token"
#define FIELDS 8

static const char *const hosts[] = { "127.0.0.1:8080", "keys.example.org", NULL };
static const char *const plugins[] = { "alpha", "beta-2" };

static GVariant *
bytes_variant (const char *text)
{
  return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, text, strlen (text), TRUE, NULL, NULL);
}

/* A snapshot as the daemon builds it, made just now (so /livez is fresh). */
static HttpSnapshot *
snapshot_new (void)
{
  g_autoptr (GVariantBuilder) configs = g_variant_builder_new (G_VARIANT_TYPE ("a{say}"));
  g_autoptr (GVariant) variant = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (plugins); i++)
    g_variant_builder_add (configs, "{s@ay}", plugins[i],
                           bytes_variant ("{\"enabled\":true,\"secret\":\"[redacted]\"}"));
  variant = g_variant_ref_sink (
    g_variant_new ("(xx@ay@ay@ay@aya{say}bs)", (gint64) 1, g_get_real_time (), bytes_variant ("{\"status\":\"ok\"}"),
                   bytes_variant ("{\"plugins\":[]}"), bytes_variant ("{\"overall_status\":\"healthy\"}"),
                   bytes_variant ("# metrics\n"), configs, FALSE, "plugin alpha is down"));
  return http_snapshot_deserialize (variant);
}

static gboolean
is_known_plugin (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (plugins); i++)
    if (g_str_equal (name, plugins[i]))
      return TRUE;
  return FALSE;
}

/* An answer the endpoints gave: an honest status, a body of the type it claims. */
static void
assert_answer (const HttpApiRequest *request, const HttpApiResponse *out)
{
  static const guint statuses[] = { 200, 400, 401, 403, 404, 405, 413, 415, 503 };
  gboolean known = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    known |= out->status == statuses[i];
  g_assert_true (known);
  g_assert_nonnull (out->body);
  g_assert_nonnull (out->content_type);
  g_assert_true ((out->status == 405) == (out->allow != NULL));
  g_assert_true (out->status == 401 || !out->authenticate);
  if (g_str_has_prefix (out->content_type, "application/json"))
    {
      g_autoptr (GError) error = NULL;
      gsize length = 0;
      const char *body = g_bytes_get_data (out->body, &length);
      g_autoptr (JsonNode) node = hkp_json_parse_strict (body, length, 64, &error);
      g_assert_no_error (error);
      g_assert_nonnull (node);
    }
  /* Sent on to a worker and back, an answer is the same answer. */
  {
    g_autoptr (GVariant) variant = http_api_answer_serialize (out);
    g_auto (HttpApiResponse) back = { 0 };
    g_assert_true (http_api_answer_deserialize (variant, &back));
    g_assert_cmpuint (back.status, ==, out->status);
    g_assert_true (g_bytes_equal (back.body, out->body));
  }
}

/* A change the endpoints let through: only the right request could make it, and it crosses processes intact. */
static void
assert_mutation (const HttpApiRequest *request, gboolean with_token, HttpMutation *mutation)
{
  g_autoptr (GVariant) variant = http_mutation_serialize (mutation);
  g_autoptr (HttpMutation) back = http_mutation_deserialize (variant, "worker");
  g_autoptr (GVariant) again = NULL;
  guint32 kind, kind_again;
  const char *plugin, *config, *who, *plugin_again, *config_again, *who_again;
  g_autofree char *expected_who = NULL;

  g_assert_true (with_token);
  g_assert_null (request->origin);
  g_assert_nonnull (request->authorization);
  g_assert_true (g_ascii_strncasecmp (request->authorization, "Bearer ", 7) == 0);
  g_assert_cmpstr (request->authorization + 7, ==, TOKEN);
  g_assert_nonnull (request->host);
  g_assert_true (g_ascii_strcasecmp (request->host, hosts[0]) == 0 ||
                 g_ascii_strcasecmp (request->host, hosts[1]) == 0);
  g_assert_true ((g_str_equal (request->method, "POST") && g_str_equal (request->path, "/plugins/reload")) ||
                 (g_str_equal (request->method, "PUT") && g_str_equal (request->path, "/plugins/config")));

  g_assert_nonnull (back);
  again = http_mutation_serialize (back);
  g_variant_get (variant, "(u&s&s&s)", &kind, &plugin, &config, &who);
  g_variant_get (again, "(u&s&s&s)", &kind_again, &plugin_again, &config_again, &who_again);
  g_assert_true (is_known_plugin (plugin));
  g_assert_cmpuint (kind, ==, kind_again);
  g_assert_cmpstr (plugin, ==, plugin_again);
  g_assert_cmpstr (config, ==, config_again);
  expected_who = g_strdup_printf ("%s via worker", who);
  g_assert_cmpstr (who_again, ==, expected_who);
}

/* What a worker or the daemon may receive, as untrusted bytes: read it, or refuse it, without harm. */
static void
read_untrusted (const char *bytes, gsize length)
{
  g_autoptr (GVariant) mutation_variant = g_variant_ref_sink (
    g_variant_new_from_data (G_VARIANT_TYPE ("(usss)"), bytes, length, FALSE, NULL, NULL));
  g_autoptr (GVariant) answer_variant = g_variant_ref_sink (
    g_variant_new_from_data (G_VARIANT_TYPE ("(uay)"), bytes, length, FALSE, NULL, NULL));
  g_autoptr (GVariant) snapshot_variant = g_variant_ref_sink (
    g_variant_new_from_data (G_VARIANT_TYPE ("(xxayayayaya{say}bs)"), bytes, length, FALSE, NULL, NULL));
  g_autoptr (HttpMutation) mutation = http_mutation_deserialize (mutation_variant, "worker");
  g_auto (HttpApiResponse) answer = { 0 };
  g_autoptr (HttpSnapshot) snapshot = http_snapshot_deserialize (snapshot_variant);

  if (mutation != NULL)
    {
      g_autoptr (GVariant) again = http_mutation_serialize (mutation);
      guint32 kind;
      const char *plugin, *config, *who;
      g_variant_get (again, "(u&s&s&s)", &kind, &plugin, &config, &who);
      g_assert_true (g_str_has_suffix (who, " via worker"));
    }
  if (http_api_answer_deserialize (answer_variant, &answer))
    g_assert_nonnull (answer.body);
  if (snapshot != NULL)
    g_assert_nonnull (snapshot->configs);
}

static void
handle (HttpApi *api, const HttpApiRequest *request, gboolean with_token)
{
  g_auto (HttpApiResponse) out = { 0 };
  g_autoptr (HttpMutation) mutation = NULL;

  if (http_api_handle (api, request, &out, &mutation))
    {
      g_assert_null (mutation);
      assert_answer (request, &out);
    }
  else
    {
      g_assert_nonnull (mutation);
      assert_mutation (request, with_token, mutation);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (HttpSnapshot) snapshot = NULL;
  g_autoptr (HttpSnapshotFeed) feed = NULL;
  g_autoptr (HttpApi) guarded = NULL, open = NULL;
  char *field[FIELDS] = { NULL };
  HttpApiRequest request = { .peer = "192.0.2.1", .peer_uid = -1, .content_length = -1 };
  FuzzFields fields;
  gsize body_length = 0;
  const char *body;

  fuzz_quiet_logs ();
  fuzz_fields_init (&fields, data, size);
  for (guint i = 0; i < FIELDS; i++)
    field[i] = fuzz_fields_take (&fields);
  body = fuzz_fields_rest (&fields, &body_length);
  read_untrusted (body, body_length);
  if (field[0] == NULL || field[1] == NULL)
    goto out;

  request.method = field[0];
  request.path = field[1];
  /* An empty line is an absent header. */
  request.query = field[2] != NULL && field[2][0] != '\0' ? field[2] : NULL;
  request.host = field[3] != NULL && field[3][0] != '\0' ? field[3] : NULL;
  request.origin = field[4] != NULL && field[4][0] != '\0' ? field[4] : NULL;
  request.authorization = field[5] != NULL && field[5][0] != '\0' ? field[5] : NULL;
  request.content_type = field[6] != NULL && field[6][0] != '\0' ? field[6] : NULL;
  if (field[7] != NULL && field[7][0] != '\0')
    request.content_length = g_ascii_strtoll (field[7], NULL, 10);
  request.body = body_length > 0 ? body : NULL;
  request.body_length = body_length;

  snapshot = snapshot_new ();
  feed = http_snapshot_feed_new_published (snapshot);
  guarded = http_api_new (feed, TOKEN, hosts, 1);
  open = http_api_new (feed, NULL, NULL, 1);
  handle (guarded, &request, TRUE);
  handle (open, &request, FALSE);

out:
  for (guint i = 0; i < FIELDS; i++)
    g_free (field[i]);
  return 0;
}
