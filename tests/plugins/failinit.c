/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: init always fails with the config's "message". */
#include "test-plugin-util.h"

static int
failinit_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);

  if (config == NULL)
    return -1;
  snprintf (error, error_size, "%s", test_plugin_string (config, "message", "failinit refuses to start"));
  return -1;
}

static hkp_verdict
failinit_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  return HKP_VERDICT_CONTINUE;
}

static void
failinit_shutdown (void *instance)
{
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "failinit",
  .version = "1.0",
  .description = "Test plugin: init fails with the text it is given",
  .init = failinit_init,
  .handle = failinit_handle,
  .shutdown = failinit_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
