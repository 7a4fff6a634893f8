/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* The management endpoints: exact routes, who may do what, and the answers; no HTTP library here. */

#include "http-api.h"

#include <string.h>

#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-log.h"
#include "http-guard-stream.h"
#include "http-redact.h"
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
  MUTATION_RELOAD,
  MUTATION_SET_CONFIG,
} MutationKind;

struct _HttpMutation {
  MutationKind kind;
  char *plugin;
  char *config; /* MUTATION_SET_CONFIG */
  char *peer;
};

typedef enum {
  ROUTE_NONE,
  ROUTE_STATUS,
  ROUTE_LIST,
  ROUTE_HEALTH,
  ROUTE_RELOAD,
  ROUTE_CONFIG,
  ROUTE_METRICS,
  ROUTE_LIVEZ,
  ROUTE_READYZ,
} Route;

static const struct {
  const char *path;
  Route route;
  const char *allow;
} routes[] = {
  /* HEAD is answered as GET; libsoup leaves the body out. */
  { "/plugins/status", ROUTE_STATUS, "GET, HEAD" },
  { "/plugins/list", ROUTE_LIST, "GET, HEAD" },
  { "/plugins/health", ROUTE_HEALTH, "GET, HEAD" },
  { "/plugins/reload", ROUTE_RELOAD, "POST" },
  { "/plugins/config", ROUTE_CONFIG, "GET, HEAD, PUT" },
  { "/metrics", ROUTE_METRICS, "GET, HEAD" },
  { "/livez", ROUTE_LIVEZ, "GET, HEAD" },
  { "/readyz", ROUTE_READYZ, "GET, HEAD" },
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
  g_free (mutation->peer);
  g_free (mutation);
}

HttpApi *
http_api_new (HttpSnapshotFeed *feed, const char *token, const char *const *hosts)
{
  HttpApi *api = g_new0 (HttpApi, 1);

  api->feed = feed;
  api->token = g_strdup (token);
  api->hosts = hosts != NULL ? g_strdupv ((char **) hosts) : NULL;
  api->throttle = http_throttle_new (WRONG_TOKEN_DELAY_USEC, WRONG_TOKENS_WAITING_MAX);
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
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin");
  json_builder_add_string_value (b, plugin != NULL ? plugin : "");
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

static Route
find_route (const char *path, const char **allow)
{
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    if (g_str_equal (path, routes[i].path))
      {
        *allow = routes[i].allow;
        return routes[i].route;
      }
  return ROUTE_NONE;
}

/* TRUE if method is one of allow's comma-separated methods. */
static gboolean
method_allowed (const char *method, const char *allow)
{
  gsize n = strlen (method);

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

static gboolean
check_token (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out)
{
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
  /* Refused without a look at the token: an answer at once would tell whether it was right. */
  if (!http_throttle_admits (api->throttle, request->peer))
    {
      http_api_error (out, 429, NULL,
                      "too many wrong bearer tokens from this address are waiting for their answer: try again later");
      return FALSE;
    }
  if (!http_secret_equal (given + 7, api->token))
    {
      http_api_error (out, 401, NULL, "wrong bearer token");
      out->authenticate = TRUE;
      out->not_before_usec = http_throttle_wrong (api->throttle, request->peer);
      out->throttled_peer = g_strdup (request->peer);
      g_message ("HTTP %s %s from %s: wrong bearer token, answered in %.1f s", request->method, request->path,
                 request->peer, (double) (out->not_before_usec - g_get_monotonic_time ()) / G_USEC_PER_SEC);
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

/* Everything decided before the body: FALSE with out filled, or TRUE to go on (then *plugin for mutations). */
static gboolean
route_request (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, Route *route_out, char **plugin)
{
  g_autoptr (HttpSnapshot) snapshot = NULL;
  const char *allow = NULL;
  Route route;

  route = find_route (request->path, &allow);
  if (g_str_equal (request->path, HTTP_GUARD_REFUSED_HEAD_TARGET))
    {
      http_api_error (out, 400, NULL, "%s", http_guard_refusal_message (request->query));
      return FALSE;
    }
  if (g_str_equal (request->path, HTTP_GUARD_REFUSED_TARGET))
    {
      http_api_error (out, 400, NULL,
                      "the request target must be a plain path: no \"..\" or \".\" segments, "
                      "no \"//\", no percent-encoding");
      return FALSE;
    }
  if (route == ROUTE_NONE)
    {
      http_api_error (out, 404, NULL, "no such endpoint: %s", request->path);
      return FALSE;
    }
  if (!check_caller (api, request, out))
    return FALSE;
  if (!method_allowed (request->method, allow))
    {
      http_api_error (out, 405, NULL, "%s takes %s, not %s", request->path, allow, request->method);
      out->allow = allow;
      return FALSE;
    }
  *route_out = route;
  snapshot = http_snapshot_feed_get (api->feed);
  switch (route)
    {
    case ROUTE_STATUS:
      answer (out, 200, snapshot->status, CONTENT_JSON);
      return FALSE;
    case ROUTE_LIST:
      answer (out, 200, snapshot->list, CONTENT_JSON);
      return FALSE;
    case ROUTE_HEALTH:
      answer (out, 200, snapshot->health, CONTENT_JSON);
      return FALSE;
    case ROUTE_METRICS:
      answer (out, 200, snapshot->metrics, CONTENT_METRICS);
      return FALSE;
    case ROUTE_LIVEZ:
      /* Answered from a snapshot the main loop built: a stuck loop shows as a stale one. */
      if (g_get_real_time () - snapshot->built_usec > 10 * G_USEC_PER_SEC)
        answer_text (out, 503, "the main loop has not answered for over 10 s\n");
      else
        answer_text (out, 200, "ok\n");
      return FALSE;
    case ROUTE_READYZ:
      if (snapshot->ready)
        answer_text (out, 200, "ready\n");
      else
        {
          g_autofree char *text = g_strdup_printf ("not ready: %s\n", snapshot->not_ready);
          answer_text (out, 503, text);
        }
      return FALSE;
    case ROUTE_CONFIG:
    case ROUTE_RELOAD:
    case ROUTE_NONE:
    default:
      break;
    }

  /* The plugin endpoints. */
  if (route == ROUTE_RELOAD || g_str_equal (request->method, "PUT"))
    {
      if (!check_token (api, request, out))
        return FALSE;
    }
  *plugin = plugin_parameter (request->query, out);
  if (*plugin == NULL)
    return FALSE;
  if (!g_hash_table_contains (snapshot->configs, *plugin))
    {
      http_api_error (out, 404, *plugin, "no such plugin: %s", *plugin);
      g_clear_pointer (plugin, g_free);
      return FALSE;
    }
  if (route == ROUTE_CONFIG && !g_str_equal (request->method, "PUT"))
    {
      answer (out, 200, g_hash_table_lookup (snapshot->configs, *plugin), CONTENT_JSON);
      g_clear_pointer (plugin, g_free);
      return FALSE;
    }
  if (route == ROUTE_CONFIG)
    {
      if (!is_json_content_type (request->content_type))
        {
          http_api_error (out, 415, *plugin, "the config must be sent as application/json");
          g_clear_pointer (plugin, g_free);
          return FALSE;
        }
      if (request->content_length > HTTP_API_BODY_MAX)
        {
          http_api_error (out, 413, *plugin, "the body is larger than %d bytes", HTTP_API_BODY_MAX);
          g_clear_pointer (plugin, g_free);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
http_api_precheck (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out)
{
  g_autofree char *plugin = NULL;
  Route route = ROUTE_NONE;

  return !route_request (api, request, out, &route, &plugin);
}

/* The PUT body: a JSON object within the bounds; FALSE with a 400 (or 413) in out otherwise. */
static gboolean
check_config_body (const HttpApiRequest *request, const char *plugin, HttpApiResponse *out)
{
  g_autoptr (JsonParser) parser = NULL;
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
  parser = json_parser_new_immutable ();
  if (!g_utf8_validate (request->body, request->body_length, NULL) ||
      !json_parser_load_from_data (parser, request->body, request->body_length, &error))
    {
      http_api_error (out, 400, plugin, "the body is not valid JSON: %s", error != NULL ? error->message : "not UTF-8");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      http_api_error (out, 400, plugin, "the config must be a JSON object, not %s",
                      hkp_json_type_name (json_parser_get_root (parser)));
      return FALSE;
    }
  return TRUE;
}

gboolean
http_api_handle (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, HttpMutation **mutation)
{
  g_autofree char *plugin = NULL;
  HttpMutation *m;
  Route route = ROUTE_NONE;

  *mutation = NULL;
  if (!route_request (api, request, out, &route, &plugin))
    return TRUE;
  if (route != ROUTE_RELOAD && !check_config_body (request, plugin, out))
    return TRUE;

  m = g_new0 (HttpMutation, 1);
  m->kind = route == ROUTE_RELOAD ? MUTATION_RELOAD : MUTATION_SET_CONFIG;
  m->plugin = g_steal_pointer (&plugin);
  m->peer = g_strdup (request->peer);
  if (m->kind == MUTATION_SET_CONFIG)
    m->config = g_strndup (request->body, request->body_length);
  *mutation = m;
  return FALSE;
}

/* ---- mutations between processes ------------------------------------------- */

#define MUTATION_TYPE "(usss)"
#define ANSWER_TYPE "(uay)"

GVariant *
http_mutation_serialize (const HttpMutation *mutation)
{
  return g_variant_ref_sink (g_variant_new (MUTATION_TYPE, (guint32) mutation->kind, mutation->plugin,
                                            mutation->config != NULL ? mutation->config : "", mutation->peer));
}

HttpMutation *
http_mutation_deserialize (GVariant *variant, const char *via)
{
  HttpMutation *m;
  guint32 kind = 0;
  const char *plugin, *config, *peer;

  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE (MUTATION_TYPE)))
    return NULL;
  g_variant_get (variant, "(u&s&s&s)", &kind, &plugin, &config, &peer);
  if (kind != MUTATION_RELOAD && kind != MUTATION_SET_CONFIG)
    return NULL;
  m = g_new0 (HttpMutation, 1);
  m->kind = (MutationKind) kind;
  m->plugin = g_strdup (plugin);
  m->config = kind == MUTATION_SET_CONFIG ? g_strdup (config) : NULL;
  m->peer = g_strdup_printf ("%s via %s", peer, via);
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

static void
on_mutation_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  MutationRun *run = g_task_get_task_data (task);
  HttpMutation *m = run->mutation;
  HkpEngine *engine = HKP_ENGINE (source);
  g_autoptr (GError) error = NULL;
  const char *what = m->kind == MUTATION_RELOAD ? "reload" : "config change";
  gboolean ok;

  ok = m->kind == MUTATION_RELOAD ? hkp_engine_reload_finish (engine, result, &error)
                                  : hkp_engine_change_finish (engine, result, &error);
  if (ok)
    {
      success (&run->response, m->plugin,
               m->kind == MUTATION_RELOAD ? "Plugin reloaded successfully with graceful draining"
                                          : "Configuration updated and plugin reloaded");
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, HKP_LOG_FIELD_PLUGIN, m->plugin, HKP_LOG_FIELD_RESULT,
                        "success", "PEER", m->peer, "MESSAGE", "HTTP %s of plugin %s from %s: done", what, m->plugin,
                        m->peer);
    }
  else
    {
      guint status = error->domain == HKP_ERROR ? hkp_error_code_to_http_status (error->code) : 500;
      http_api_error (&run->response, status, m->plugin, "%s", error->message);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, m->plugin, HKP_LOG_FIELD_RESULT,
                        "failed", "PEER", m->peer, "MESSAGE", "HTTP %s of plugin %s from %s failed (%u): %s", what,
                        m->plugin, m->peer, status, error->message);
    }
  /* The answer's readers should see the change at once. */
  http_snapshot_feed_refresh (run->api->feed);
  g_task_return_boolean (task, TRUE);
}

/*
 * A config read over HTTP shows HTTP_REDACTED for its secrets: sent back as
 * they were, they keep their stored values.  FALSE with error if a redacted
 * key has no stored value.
 */
static gboolean
keep_redacted_secrets (HkpEngine *engine, HttpMutation *m, GError **error)
{
  g_autoptr (JsonNode) config = NULL;
  g_autoptr (JsonNode) stored = NULL;
  g_autofree char *stored_text = NULL;
  g_autofree char *missing = NULL;

  if (strstr (m->config, HTTP_REDACTED) == NULL)
    return TRUE; /* nothing to put back: the common case, and no parse */
  config = json_from_string (m->config, error);
  if (config == NULL)
    return FALSE;
  stored_text = hkp_engine_get_config (engine, m->plugin, NULL);
  if (stored_text != NULL)
    stored = json_from_string (stored_text, NULL);
  if (!http_redact_restore (config, stored, &missing))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG,
                   "\"%s\" is \"%s\", but plugin %s has no stored value for it to keep", missing, HTTP_REDACTED,
                   m->plugin);
      return FALSE;
    }
  g_free (m->config);
  m->config = json_to_string (config, FALSE);
  return TRUE;
}

void
http_api_run_mutation_async (HttpApi *api, HkpEngine *engine, HttpMutation *mutation, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  MutationRun *run = g_new0 (MutationRun, 1);

  run->api = api;
  run->mutation = mutation;
  g_task_set_task_data (task, run, (GDestroyNotify) mutation_run_free);
  g_message ("HTTP %s of plugin %s asked from %s", mutation->kind == MUTATION_RELOAD ? "reload" : "config change",
             mutation->plugin, mutation->peer);
  if (mutation->kind == MUTATION_RELOAD)
    hkp_engine_reload_async (engine, mutation->plugin, on_mutation_done, task);
  else
    {
      g_autoptr (GError) error = NULL;

      if (keep_redacted_secrets (engine, mutation, &error))
        {
          hkp_engine_set_config_async (engine, mutation->plugin, mutation->config, on_mutation_done, task);
          return;
        }
      http_api_error (&run->response, 400, mutation->plugin, "%s", error->message);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, mutation->plugin, HKP_LOG_FIELD_RESULT,
                        "failed", "PEER", mutation->peer, "MESSAGE",
                        "HTTP config change of plugin %s from %s failed (400): %s", mutation->plugin, mutation->peer,
                        error->message);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

void
http_api_run_mutation_finish (GAsyncResult *result, HttpApiResponse *out)
{
  MutationRun *run = g_task_get_task_data (G_TASK (result));

  *out = run->response;
  memset (&run->response, 0, sizeof run->response);
}
