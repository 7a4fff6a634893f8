/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* The management endpoints: exact routes, who may do what, and the answers; no HTTP library here. */

#include "http-api.h"

#include <string.h>

#include "hkp-audit.h"
#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-manifest.h"
#include "hkp-log.h"
#include "http-secret.h"
#include "http-throttle.h"

#define CONTENT_JSON "application/json"
#define CONTENT_TEXT "text/plain; charset=utf-8"
#define CONTENT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define WRONG_TOKEN_DELAY_USEC G_USEC_PER_SEC
#define WRONG_TOKENS_WAITING_MAX 16

struct _HttpApi {
  HttpSnapshotFeed *feed;
  char *token;
  char **hosts;
  HttpThrottle *throttle; /* of wrong tokens */
};

typedef enum {
  MUTATION_NONE,
  MUTATION_RELOAD,
  MUTATION_SET_CONFIG,
} MutationKind;

struct _HttpMutation {
  MutationKind kind;
  char *plugin;
  char *config; /* MUTATION_SET_CONFIG */
  char *who; /* "HTTP from 192.0.2.1 with the token", for the journal */
};

/*
 * One endpoint: its exact path, the methods it takes, and what answers it
 * from the headers alone (TRUE with out filled; FALSE when a change needs
 * the body, with *plugin set).  A route that changes something names the
 * mutation of each method that does.
 */
typedef struct {
  const char *path;
  const char *allow;
  gboolean (*answer) (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out,
                      char **plugin);
  MutationKind post;
  MutationKind put;
} Route;

struct _HttpApiTicket {
  MutationKind kind;
  char *plugin;
};

void
http_api_response_clear (HttpApiResponse *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_free (response->throttled_peer);
  memset (response, 0, sizeof *response);
}

void
http_api_response_sent (HttpApi *api, HttpApiResponse *response)
{
  if (response->throttled_peer != NULL)
    http_throttle_answered (api->throttle, response->throttled_peer);
  g_clear_pointer (&response->throttled_peer, g_free);
}

void
http_mutation_free (HttpMutation *mutation)
{
  if (mutation == NULL)
    return;
  g_free (mutation->plugin);
  g_free (mutation->config);
  g_free (mutation->who);
  g_free (mutation);
}

HttpApi *
http_api_new (HttpSnapshotFeed *feed, const char *token, const char *const *hosts, guint processes)
{
  HttpApi *api = g_new0 (HttpApi, 1);

  api->feed = feed;
  api->token = g_strdup (token);
  api->hosts = hosts != NULL ? g_strdupv ((char **) hosts) : NULL;
  /* Each process throttles on its own: together, they still answer one wrong token a delay. */
  api->throttle = http_throttle_new (WRONG_TOKEN_DELAY_USEC * MAX (processes, 1), WRONG_TOKENS_WAITING_MAX);
  return api;
}

void
http_api_free (HttpApi *api)
{
  if (api == NULL)
    return;
  http_secret_free (api->token);
  http_throttle_free (api->throttle);
  g_strfreev (api->hosts);
  g_free (api);
}

static GBytes *
json_bytes (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  char *text = hkp_json_to_string (root);

  return g_bytes_new_take (text, strlen (text));
}

void
http_api_error (HttpApiResponse *out, guint status, const char *plugin, const char *format, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *text = NULL, *message = NULL, *valid_plugin = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* Both may echo what the client sent (a Host, a plugin parameter): JSON is UTF-8, whatever came in. */
  message = g_utf8_make_valid (text, -1);
  valid_plugin = g_utf8_make_valid (plugin != NULL ? plugin : "", -1);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin");
  json_builder_add_string_value (b, valid_plugin);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_end_object (b);
  http_api_response_clear (out);
  out->status = status;
  out->body = json_bytes (b);
  out->content_type = CONTENT_JSON;
}

static void
success (HttpApiResponse *out, const char *plugin, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin");
  json_builder_add_string_value (b, plugin);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "success");
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_end_object (b);
  http_api_response_clear (out);
  out->status = 200;
  out->body = json_bytes (b);
  out->content_type = CONTENT_JSON;
}

static void
answer (HttpApiResponse *out, guint status, GBytes *body, const char *content_type)
{
  http_api_response_clear (out);
  out->status = status;
  out->body = g_bytes_ref (body);
  out->content_type = content_type;
}

static void
answer_text (HttpApiResponse *out, guint status, const char *text)
{
  http_api_response_clear (out);
  out->status = status;
  out->body = g_bytes_new (text, strlen (text));
  out->content_type = CONTENT_TEXT;
}

/* TRUE if method is one of allow's comma-separated methods. */
static gboolean
method_allowed (const char *method, const char *allow)
{
  gsize n = strlen (method);

  /* An empty method is found everywhere and never moves the search on: it would spin for ever. */
  if (n == 0)
    return FALSE;
  for (const char *p = allow; (p = strstr (p, method)) != NULL; p += n)
    if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
      return TRUE;
  return FALSE;
}

static gboolean
host_allowed (HttpApi *api, const char *host)
{
  if (api->hosts == NULL)
    return TRUE;
  if (host == NULL)
    return FALSE;
  for (guint i = 0; api->hosts[i] != NULL; i++)
    if (g_ascii_strcasecmp (api->hosts[i], host) == 0)
      return TRUE;
  return FALSE;
}

/* The one "plugin" parameter of query, decoded; NULL with a 400 in out otherwise. */
static char *
plugin_parameter (const char *query, HttpApiResponse *out)
{
  g_auto (GStrv) pairs = query != NULL ? g_strsplit (query, "&", -1) : NULL;
  g_autofree char *found = NULL;

  for (guint i = 0; pairs != NULL && pairs[i] != NULL; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;
      const char *equals = strchr (pairs[i], '=');

      name = g_uri_unescape_segment (pairs[i], equals, NULL);
      if (name == NULL || !g_str_equal (name, "plugin"))
        continue;
      value = equals != NULL ? g_uri_unescape_string (equals + 1, NULL) : g_strdup ("");
      if (value == NULL)
        {
          http_api_error (out, 400, NULL, "the plugin parameter is not valid percent-encoding");
          return NULL;
        }
      if (found != NULL)
        {
          http_api_error (out, 400, value, "the plugin parameter is given more than once");
          return NULL;
        }
      found = g_steal_pointer (&value);
    }
  if (found == NULL || found[0] == '\0')
    {
      http_api_error (out, 400, NULL, "missing the plugin parameter (?plugin=NAME)");
      return NULL;
    }
  return g_steal_pointer (&found);
}

/* Who may ask anything at all: no browser origin, a Host we answer to. */
static gboolean
check_caller (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out)
{
  if (request->origin != NULL)
    {
      http_api_error (out, 403, NULL, "requests from web pages (with an Origin header) are refused");
      return FALSE;
    }
  if (!host_allowed (api, request->host))
    {
      http_api_error (out, 403, NULL, "Host \"%s\" is not an address or name this bridge answers to",
                      request->host != NULL ? request->host : "");
      return FALSE;
    }
  return TRUE;
}

/* Who sent request, for the log: its address, and the local user when known (caller frees). */
static char *
describe_peer (const HttpApiRequest *request)
{
  if (request->peer_uid >= 0)
    return g_strdup_printf ("%s (uid %" G_GINT64_FORMAT ")", request->peer, request->peer_uid);
  return g_strdup (request->peer);
}

static gboolean
check_token (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out)
{
  g_autofree char *key = NULL;

  const char *given = request->authorization;

  if (api->token == NULL)
    {
      http_api_error (out, 403, NULL,
                      "changes over HTTP are disabled: no token file is configured "
                      "(--http-token-file)");
      return FALSE;
    }
  if (given == NULL || g_ascii_strncasecmp (given, "Bearer ", 7) != 0)
    {
      http_api_error (out, 401, NULL, "missing bearer token (Authorization: Bearer TOKEN)");
      out->authenticate = TRUE;
      return FALSE;
    }
  key = http_throttle_key (request->peer, request->peer_uid);
  /* Refused without a look at the token: an answer at once would tell whether it was right. */
  if (!http_throttle_admits (api->throttle, key))
    {
      http_api_error (out, 429, NULL,
                      "too many wrong bearer tokens from this address are waiting for their answer: try again later");
      return FALSE;
    }
  if (!http_secret_equal (given + 7, api->token))
    {
      http_api_error (out, 401, NULL, "wrong bearer token");
      out->authenticate = TRUE;
      out->not_before_usec = http_throttle_wrong (api->throttle, key);
      g_autofree char *who = describe_peer (request);

      out->throttled_peer = g_steal_pointer (&key);
      g_message ("HTTP %s %s from %s: wrong bearer token, answered in %.1f s", request->method, request->path, who,
                 (double) (out->not_before_usec - g_get_monotonic_time ()) / G_USEC_PER_SEC);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_json_content_type (const char *content_type)
{
  g_autofree char *media = NULL;

  if (content_type == NULL)
    return FALSE;
  media = g_strstrip (g_strndup (content_type, strcspn (content_type, ";")));
  return g_ascii_strcasecmp (media, "application/json") == 0;
}

/* ---- the endpoints --------------------------------------------------------- */

static gboolean
answer_status (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  answer (out, 200, snapshot->status, CONTENT_JSON);
  return TRUE;
}

static gboolean
answer_list (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  answer (out, 200, snapshot->list, CONTENT_JSON);
  return TRUE;
}

static gboolean
answer_health (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  answer (out, 200, snapshot->health, CONTENT_JSON);
  return TRUE;
}

static gboolean
answer_metrics (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out,
                char **plugin)
{
  answer (out, 200, snapshot->metrics, CONTENT_METRICS);
  return TRUE;
}

/* Answered from a snapshot the main loop built: a stuck loop shows as a stale one. */
static gboolean
answer_livez (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  if (g_get_real_time () - snapshot->built_usec > 10 * G_USEC_PER_SEC)
    answer_text (out, 503, "the main loop has not answered for over 10 s\n");
  else
    answer_text (out, 200, "ok\n");
  return TRUE;
}

static gboolean
answer_readyz (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  g_autofree char *text = NULL;

  if (snapshot->ready)
    {
      answer_text (out, 200, "ready\n");
      return TRUE;
    }
  text = g_strdup_printf ("not ready: %s\n", snapshot->not_ready);
  answer_text (out, 503, text);
  return TRUE;
}

/*
 * The plugin a plugin endpoint is about, named by the query: known to the
 * snapshot, or, for a change, any valid name (the engine, not a snapshot
 * that may lag behind it, says whether it exists).  NULL with a 400 or 404
 * in out otherwise.
 */
static char *
named_plugin (const HttpApiRequest *request, HttpSnapshot *snapshot, gboolean change, HttpApiResponse *out)
{
  g_autofree char *plugin = plugin_parameter (request->query, out);
  gboolean valid;

  if (plugin == NULL)
    return NULL;
  valid = hkp_plugin_name_is_valid (plugin);
  if (g_hash_table_contains (snapshot->configs, plugin) || (change && valid))
    return g_steal_pointer (&plugin);
  {
    g_autofree char *why = hkp_plugin_name_describe_unknown (plugin);
    http_api_error (out, valid ? 404 : 400, plugin, "%s", why);
  }
  return NULL;
}

static gboolean
answer_reload (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  if (!check_token (api, request, out))
    return TRUE;
  *plugin = named_plugin (request, snapshot, TRUE, out);
  return *plugin == NULL;
}

static gboolean
answer_config (HttpApi *api, const HttpApiRequest *request, HttpSnapshot *snapshot, HttpApiResponse *out, char **plugin)
{
  gboolean put = g_str_equal (request->method, "PUT");
  g_autofree char *name = NULL;

  if (put && !check_token (api, request, out))
    return TRUE;
  if ((name = named_plugin (request, snapshot, put, out)) == NULL)
    return TRUE;
  if (!put)
    answer (out, 200, g_hash_table_lookup (snapshot->configs, name), CONTENT_JSON);
  else if (!is_json_content_type (request->content_type))
    http_api_error (out, 415, name, "the config must be sent as application/json");
  else if (request->content_length > HTTP_API_BODY_MAX)
    http_api_error (out, 413, name, "the body is larger than %d bytes", HTTP_API_BODY_MAX);
  else
    {
      *plugin = g_steal_pointer (&name);
      return FALSE;
    }
  return TRUE;
}

/* HEAD is answered as GET; the HTTP layer leaves the body out. */
static const Route routes[] = {
  { "/plugins/status", "GET, HEAD", answer_status },
  { "/plugins/list", "GET, HEAD", answer_list },
  { "/plugins/health", "GET, HEAD", answer_health },
  { "/plugins/reload", "POST", answer_reload, .post = MUTATION_RELOAD },
  { "/plugins/config", "GET, HEAD, PUT", answer_config, .put = MUTATION_SET_CONFIG },
  { "/metrics", "GET, HEAD", answer_metrics },
  { "/livez", "GET, HEAD", answer_livez },
  { "/readyz", "GET, HEAD", answer_readyz },
};

static const Route *
find_route (const char *path)
{
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    if (g_str_equal (path, routes[i].path))
      return &routes[i];
  return NULL;
}

void
http_api_ticket_free (HttpApiTicket *ticket)
{
  if (ticket == NULL)
    return;
  g_free (ticket->plugin);
  g_free (ticket);
}

gboolean
http_api_precheck (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, HttpApiTicket **ticket)
{
  const Route *route = find_route (request->path);
  g_autoptr (HttpSnapshot) snapshot = NULL;
  char *plugin = NULL;

  *ticket = NULL;
  if (route == NULL)
    {
      http_api_error (out, 404, NULL, "no such endpoint: %s", request->path);
      return TRUE;
    }
  if (!check_caller (api, request, out))
    return TRUE;
  if (!method_allowed (request->method, route->allow))
    {
      http_api_error (out, 405, NULL, "%s takes %s, not %s", request->path, route->allow, request->method);
      out->allow = route->allow;
      return TRUE;
    }
  snapshot = http_snapshot_feed_get (api->feed);
  if (route->answer (api, request, snapshot, out, &plugin))
    return TRUE;
  *ticket = g_new0 (HttpApiTicket, 1);
  (*ticket)->kind = g_str_equal (request->method, "PUT") ? route->put : route->post;
  (*ticket)->plugin = plugin;
  return FALSE;
}

/* The PUT body: a JSON object within the bounds; FALSE with a 400 (or 413) in out otherwise. */
static gboolean
check_config_body (const HttpApiRequest *request, const char *plugin, HttpApiResponse *out)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  if (request->body_length > HTTP_API_BODY_MAX)
    {
      http_api_error (out, 413, plugin, "the body is larger than %d bytes", HTTP_API_BODY_MAX);
      return FALSE;
    }
  if (request->body == NULL || request->body_length == 0)
    {
      http_api_error (out, 400, plugin, "the body must be the new config, a JSON object");
      return FALSE;
    }
  if (!hkp_json_depth_within (request->body, request->body_length, HTTP_API_JSON_DEPTH_MAX))
    {
      http_api_error (out, 400, plugin, "the body nests deeper than %d levels", HTTP_API_JSON_DEPTH_MAX);
      return FALSE;
    }
  /* Strict: a second document, \u0000 or a key twice is refused here, not half-applied. */
  root = hkp_json_parse_strict (request->body, request->body_length, HTTP_API_JSON_DEPTH_MAX, &error);
  if (root == NULL)
    {
      http_api_error (out, 400, plugin, "the body is not valid JSON: %s", error->message);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      http_api_error (out, 400, plugin, "the config must be a JSON object, not %s", hkp_json_type_name (root));
      return FALSE;
    }
  return TRUE;
}

gboolean
http_api_handle_body (HttpApi *api, HttpApiTicket *ticket, const HttpApiRequest *request, HttpApiResponse *out,
                      HttpMutation **mutation)
{
  g_autoptr (HttpApiTicket) owned = ticket;
  HttpMutation *m;

  *mutation = NULL;
  if (ticket->kind == MUTATION_SET_CONFIG && !check_config_body (request, ticket->plugin, out))
    return TRUE;
  m = g_new0 (HttpMutation, 1);
  m->kind = ticket->kind;
  m->plugin = g_steal_pointer (&ticket->plugin);
  {
    g_autofree char *who = describe_peer (request);
    m->who = g_strdup_printf ("HTTP from %s with the token", who);
  }
  if (m->kind == MUTATION_SET_CONFIG)
    m->config = g_strndup (request->body, request->body_length);
  *mutation = m;
  return FALSE;
}

gboolean
http_api_handle (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, HttpMutation **mutation)
{
  HttpApiTicket *ticket = NULL;

  *mutation = NULL;
  if (http_api_precheck (api, request, out, &ticket))
    return TRUE;
  return http_api_handle_body (api, ticket, request, out, mutation);
}

/* ---- mutations between processes ------------------------------------------- */

#define MUTATION_TYPE "(usss)"
#define ANSWER_TYPE "(uay)"

GVariant *
http_mutation_serialize (const HttpMutation *mutation)
{
  return g_variant_ref_sink (g_variant_new (MUTATION_TYPE, (guint32) mutation->kind, mutation->plugin,
                                            mutation->config != NULL ? mutation->config : "", mutation->who));
}

HttpMutation *
http_mutation_deserialize (GVariant *variant, const char *via)
{
  HttpMutation *m;
  guint32 kind = 0;
  const char *plugin, *config, *who;

  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE (MUTATION_TYPE)))
    return NULL;
  g_variant_get (variant, "(u&s&s&s)", &kind, &plugin, &config, &who);
  if (kind != MUTATION_RELOAD && kind != MUTATION_SET_CONFIG)
    return NULL;
  m = g_new0 (HttpMutation, 1);
  m->kind = (MutationKind) kind;
  m->plugin = g_strdup (plugin);
  m->config = kind == MUTATION_SET_CONFIG ? g_strdup (config) : NULL;
  m->who = g_strdup_printf ("%s via %s", who, via);
  return m;
}

GVariant *
http_api_answer_serialize (const HttpApiResponse *answer)
{
  return g_variant_ref_sink (
    g_variant_new ("(u@ay)", answer->status, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, answer->body, TRUE)));
}

gboolean
http_api_answer_deserialize (GVariant *variant, HttpApiResponse *out)
{
  g_autoptr (GVariant) body = NULL;
  guint32 status = 0;

  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE (ANSWER_TYPE)))
    return FALSE;
  g_variant_get (variant, "(u@ay)", &status, &body);
  memset (out, 0, sizeof *out);
  out->status = status;
  out->body = g_variant_get_data_as_bytes (body);
  out->content_type = CONTENT_JSON;
  return TRUE;
}

/* ---- mutations, on the main thread ---------------------------------------- */

/* Every GTask here is owned by whoever holds it now: a callback takes it over with g_autoptr. */

typedef struct {
  HttpApi *api;
  HttpMutation *mutation;
  HttpApiResponse response;
} MutationRun;

static void
mutation_run_free (MutationRun *run)
{
  http_mutation_free (run->mutation);
  http_api_response_clear (&run->response);
  g_free (run);
}

static const char *
mutation_verb (const HttpMutation *m)
{
  return m->kind == MUTATION_RELOAD ? "reload" : "config change";
}

/*
 * Ends a mutation: the answer for error (NULL: done) with status (0: the
 * error's own), one journal line, and fresh snapshots for its readers.
 */
static void
mutation_done (GTask *task, const GError *error, guint status)
{
  MutationRun *run = g_task_get_task_data (task);
  HttpMutation *m = run->mutation;

  if (error == NULL)
    success (&run->response, m->plugin,
             m->kind == MUTATION_RELOAD ? "Plugin reloaded successfully with graceful draining"
                                        : "Configuration updated and plugin reloaded");
  else
    http_api_error (&run->response,
                    status != 0                    ? status
                      : error->domain == HKP_ERROR ? hkp_error_code_to_http_status ((HkpErrorCode) error->code)
                                                   : 500,
                    m->plugin, "%s", error->message);
  hkp_audit_change (mutation_verb (m), m->plugin, m->who, error);
  /* The answer's readers should see the change at once. */
  http_snapshot_feed_refresh (run->api->feed);
  g_task_return_boolean (task, TRUE);
}

static void
on_mutation_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  MutationRun *run = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (run->mutation->kind == MUTATION_RELOAD)
    hkp_engine_reload_finish (HKP_ENGINE (source), result, &error);
  else
    hkp_engine_change_finish (HKP_ENGINE (source), result, &error);
  mutation_done (task, error, 0);
}

void
http_api_run_mutation_async (HttpApi *api, HkpEngine *engine, HttpMutation *mutation, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, callback, user_data);
  MutationRun *run = g_new0 (MutationRun, 1);

  run->api = api;
  run->mutation = mutation;
  g_task_set_task_data (task, run, (GDestroyNotify) mutation_run_free);
  if (mutation->kind == MUTATION_RELOAD)
    hkp_engine_reload_async (engine, mutation->plugin, on_mutation_done, g_steal_pointer (&task));
  else /* who goes to the config history; a redacted secret sent back is kept by the engine */
    hkp_engine_set_config_async (engine, mutation->plugin, mutation->config, mutation->who, on_mutation_done,
                                 g_steal_pointer (&task));
}

void
http_api_run_mutation_finish (GAsyncResult *result, HttpApiResponse *out)
{
  MutationRun *run = g_task_get_task_data (G_TASK (result));

  *out = run->response;
  memset (&run->response, 0, sizeof run->response);
}
