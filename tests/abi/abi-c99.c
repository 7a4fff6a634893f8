/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Compiled alone with -std=c99 -pedantic -Werror and no GLib: the ABI header must stand on its own. */
#include "hkp-plugin.h"

static int
demo_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  (void) config_json;
  (void) error;
  (void) error_size;
  *instance = 0;
  return 0;
}

static hkp_verdict
demo_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  (void) instance;
  if (request->cancelled (request))
    return HKP_VERDICT_CONTINUE;
  if (request->header (request, "X-Demo") != 0)
    {
      response->status = 403;
      response->set_reason (response, "demo");
      response->add_header (response, "X-Demo", "seen");
      return HKP_VERDICT_DENY;
    }
  return HKP_VERDICT_ALLOW;
}

static void
demo_shutdown (void *instance)
{
  (void) instance;
}

static const hkp_plugin_descriptor descriptor = { HKP_PLUGIN_ABI_VERSION,
                                                  sizeof (hkp_plugin_descriptor),
                                                  "demo",
                                                  "1.0",
                                                  "C99 check of the ABI header",
                                                  demo_init,
                                                  0,
                                                  demo_handle,
                                                  0,
                                                  demo_shutdown };

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
