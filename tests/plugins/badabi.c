/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: claims an ABI version this host does not speak; nothing but the entry may be called. */
#include <stdlib.h>

#include "hkp-plugin.h"

static int
badabi_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  abort (); /* the host must refuse the module before calling anything */
}

static hkp_verdict
badabi_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  abort ();
}

static void
badabi_shutdown (void *instance)
{
  abort ();
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = 999,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "badabi",
  .version = "1.0",
  .description = "Test plugin: wrong ABI version",
  .init = badabi_init,
  .handle = badabi_handle,
  .shutdown = badabi_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
