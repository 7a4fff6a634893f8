/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: answers every request from its config ("verdict", "status",
 * "reason", "headers"); init fails with "fail_init" when that is set.
 * With "echo": true it adds what it saw as headers X-Seen-Method, -Path,
 * -Query, -Client and -Test (the request's X-Test header), and X-Seen-Header
 * with the value of the header its "echo_header" names.
 */
#include <string.h>

#include "hkp-test-probe.h"
#include "test-plugin-util.h"

#ifndef ANSWER_VERSION
#define ANSWER_VERSION "1.0"
#endif

typedef struct {
  gint dead; /* shutdown began: any later call is a violation */
  hkp_verdict verdict;
  int status;
  char *reason;
  GPtrArray *headers; /* name, value, name, value… */
  gboolean echo;
  char *echo_header;
} Answer;

static gboolean
parse_verdict (const char *text, hkp_verdict *out)
{
  if (g_str_equal (text, "continue"))
    *out = HKP_VERDICT_CONTINUE;
  else if (g_str_equal (text, "allow"))
    *out = HKP_VERDICT_ALLOW;
  else if (g_str_equal (text, "deny"))
    *out = HKP_VERDICT_DENY;
  else
    return FALSE;
  return TRUE;
}

static int
answer_validate (const char *config_json, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  hkp_verdict verdict;

  if (config == NULL)
    return -1;
  if (!parse_verdict (test_plugin_string (config, "verdict", "continue"), &verdict))
    {
      snprintf (error, error_size, "key \"verdict\" must be \"continue\", \"allow\" or \"deny\"");
      return -1;
    }
  return 0;
}

static int
answer_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  Answer *answer;
  JsonNode *headers;

  if (config == NULL)
    return -1;
  if (test_plugin_string (config, "fail_init", NULL) != NULL)
    {
      snprintf (error, error_size, "%s", test_plugin_string (config, "fail_init", NULL));
      return -1;
    }
  answer = g_new0 (Answer, 1);
  parse_verdict (test_plugin_string (config, "verdict", "continue"), &answer->verdict);
  answer->status = (int) test_plugin_int (config, "status", 0);
  answer->reason = g_strdup (test_plugin_string (config, "reason", ""));
  answer->echo = json_object_has_member (config, "echo") && json_object_get_boolean_member (config, "echo");
  answer->echo_header = g_strdup (test_plugin_string (config, "echo_header", "X-Test"));
  answer->headers = g_ptr_array_new_with_free_func (g_free);
  headers = json_object_get_member (config, "headers");
  if (headers != NULL && JSON_NODE_HOLDS_OBJECT (headers))
    {
      JsonObject *object = json_node_get_object (headers);
      g_autoptr (GList) names = json_object_get_members (object);
      for (GList *l = names; l != NULL; l = l->next)
        {
          g_ptr_array_add (answer->headers, g_strdup (l->data));
          g_ptr_array_add (answer->headers, g_strdup (json_object_get_string_member (object, l->data)));
        }
    }
  *instance = answer;
  return 0;
}

static hkp_verdict
answer_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  Answer *answer = instance;

  if (g_atomic_int_get (&answer->dead))
    hkp_test_probe_violation ();
  if (answer->status != 0)
    response->status = answer->status;
  if (answer->reason[0] != '\0')
    response->set_reason (response, answer->reason);
  for (guint i = 0; i + 1 < answer->headers->len; i += 2)
    response->add_header (response, answer->headers->pdata[i], answer->headers->pdata[i + 1]);
  if (answer->echo)
    {
      const char *test = request->header (request, "X-Test");
      const char *named = request->header (request, answer->echo_header);
      response->add_header (response, "X-Seen-Method", request->method);
      response->add_header (response, "X-Seen-Path", request->path);
      response->add_header (response, "X-Seen-Query", request->query);
      response->add_header (response, "X-Seen-Client", request->client_address);
      response->add_header (response, "X-Seen-Test", test != NULL ? test : "(none)");
      response->add_header (response, "X-Seen-Header", named != NULL ? named : "(none)");
    }
  return answer->verdict;
}

static void
answer_shutdown (void *instance)
{
  Answer *answer = instance;

  g_atomic_int_set (&answer->dead, 1);
  g_clear_pointer (&answer->reason, g_free);
  g_clear_pointer (&answer->echo_header, g_free);
  g_clear_pointer (&answer->headers, g_ptr_array_unref);
  hkp_test_probe_bury (answer);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "answer",
  .version = ANSWER_VERSION,
  .description = "Test plugin: answers every request as its config says",
  .init = answer_init,
  .validate_config = answer_validate,
  .handle = answer_handle,
  .shutdown = answer_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
