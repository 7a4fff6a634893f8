/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: a shipped plugin (its source is built into this program:
 * fuzz-ipfilter, fuzz-ratelimit), through its ABI as the daemon calls it.
 * The input is the plugin's config on one line, then up to eight requests
 * of five lines each: method, path, query, client address, and headers as
 * "Name: value" pairs separated by tabs.  The config reaches the plugin as
 * the daemon passes it (strict JSON, an object, written out compactly).
 * Nothing crashes or leaks; validate_config and init agree (and say why in
 * their error buffer, NUL-terminated); every verdict is
 * one of the three with a status of 0 or 100-599; every reason is UTF-8 and
 * every header one the host would take; health answers, shutdown frees all.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "hkp-json.h"
#include "hkp-manifest.h"
#include "hkp-plugin.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define REQUESTS_MAX 8
#define HEADERS_MAX 16

typedef struct {
  hkp_request request;
  char **headers; /* "Name: value" */
} FuzzRequest;

typedef struct {
  hkp_response response;
  gboolean reason_set;
  guint n_headers;
} FuzzResponse;

static const char *
request_header (const hkp_request *request, const char *name)
{
  const FuzzRequest *r = (const FuzzRequest *) request;
  gsize n = strlen (name);

  for (guint i = 0; r->headers[i] != NULL; i++)
    if (g_ascii_strncasecmp (r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
      return r->headers[i] + n + 1 + (r->headers[i][n + 1] == ' ');
  return NULL;
}

static int
request_cancelled (const hkp_request *request)
{
  return 0;
}

/* As the host checks them: valid UTF-8 reasons, header names that are tokens, values without CR, LF. */
static int
response_set_reason (hkp_response *response, const char *reason)
{
  g_assert_nonnull (reason);
  g_assert_true (g_utf8_validate (reason, -1, NULL));
  ((FuzzResponse *) response)->reason_set = TRUE;
  return 0;
}

static int
response_add_header (hkp_response *response, const char *name, const char *value)
{
  static const char token_extra[] = "!#$%&'*+-.^_`|~";

  g_assert_true (name[0] != '\0');
  for (const char *p = name; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || strchr (token_extra, *p) != NULL);
  g_assert_null (strpbrk (value, "\r\n"));
  ((FuzzResponse *) response)->n_headers++;
  return 0;
}

static int
report_set_message (hkp_health_report *report, const char *message)
{
  g_assert_true (g_utf8_validate (message, -1, NULL));
  return 0;
}

static int
report_add_check (hkp_health_report *report, const char *key, const char *value)
{
  g_assert_true (g_utf8_validate (key, -1, NULL) && g_utf8_validate (value, -1, NULL));
  return 0;
}

static int
report_add_check_int (hkp_health_report *report, const char *key, int64_t value)
{
  g_assert_true (g_utf8_validate (key, -1, NULL));
  return 0;
}

/* The config as the daemon hands it to a plugin, or NULL if the daemon would refuse it first. */
static char *
config_as_passed (const char *line)
{
  g_autoptr (JsonNode) node = hkp_json_parse_strict (line, strlen (line), HKP_MANIFEST_MAX_DEPTH - 1, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return hkp_json_to_string (node);
}

static void
run_request (const hkp_plugin_descriptor *plugin, void *instance, FuzzFields *fields)
{
  g_autofree char *method = fuzz_fields_take (fields);
  g_autofree char *path = fuzz_fields_take (fields);
  g_autofree char *query = fuzz_fields_take (fields);
  g_autofree char *client = fuzz_fields_take (fields);
  g_autofree char *header_line = fuzz_fields_take (fields);
  g_auto (GStrv) headers = g_strsplit (header_line != NULL ? header_line : "", "\t", HEADERS_MAX);
  FuzzRequest request = {
    .request = {
      .struct_size = sizeof (hkp_request),
      .method = method != NULL ? method : "",
      .path = path != NULL ? path : "",
      .query = query != NULL ? query : "",
      .client_address = client != NULL ? client : "",
      .header = request_header,
      .cancelled = request_cancelled,
    },
    .headers = headers,
  };
  FuzzResponse response = {
    .response = {
      .struct_size = sizeof (hkp_response),
      .set_reason = response_set_reason,
      .add_header = response_add_header,
    },
  };
  hkp_verdict verdict = plugin->handle (instance, &request.request, &response.response);

  g_assert_true (verdict == HKP_VERDICT_CONTINUE || verdict == HKP_VERDICT_ALLOW || verdict == HKP_VERDICT_DENY);
  g_assert_true (response.response.status == 0 || (response.response.status >= 100 && response.response.status <= 599));
  if (verdict == HKP_VERDICT_CONTINUE)
    g_assert_cmpint (response.response.status, ==, 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const hkp_plugin_descriptor *plugin = hkp_plugin_entry ();
  g_autofree char *line = NULL;
  g_autofree char *config = NULL;
  char error[HKP_PLUGIN_ERROR_SIZE] = "";
  char init_error[HKP_PLUGIN_ERROR_SIZE] = "";
  hkp_health_report report = {
    .struct_size = sizeof (hkp_health_report),
    .set_message = report_set_message,
    .add_check = report_add_check,
    .add_check_int = report_add_check_int,
  };
  void *instance = NULL;
  FuzzFields fields;
  int valid, started;

  fuzz_quiet_logs ();
  fuzz_fields_init (&fields, data, size);
  line = fuzz_fields_take (&fields);
  if (line == NULL || (config = config_as_passed (line)) == NULL)
    return 0;

  valid = plugin->validate_config (config, error, sizeof error);
  /* NUL-terminated within the buffer; cut at its end it may split a character, which the host mends. */
  g_assert_true (valid == 0 || (error[0] != '\0' && memchr (error, '\0', sizeof error) != NULL));
  started = plugin->init (config, &instance, init_error, sizeof init_error);
  /* What validate_config accepts, init starts; what it refuses, init refuses with the same words. */
  g_assert_cmpint (valid == 0, ==, started == 0);
  if (started != 0)
    {
      g_assert_cmpstr (error, ==, init_error);
      return 0;
    }
  for (guint i = 0; i < REQUESTS_MAX && fields.next != NULL; i++)
    run_request (plugin, instance, &fields);
  if (plugin->health != NULL)
    {
      hkp_health_status status = plugin->health (instance, &report);
      g_assert_true (status == HKP_HEALTH_HEALTHY || status == HKP_HEALTH_DEGRADED || status == HKP_HEALTH_UNHEALTHY);
    }
  plugin->shutdown (instance);
  return 0;
}
