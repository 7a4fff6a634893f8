/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-descriptor.h"

#include <stdio.h>

HkpDescriptorCheck
hkp_descriptor_check (const hkp_plugin_descriptor *d, const char *path, char *error, size_t error_size)
{
  if (d == NULL)
    {
      snprintf (error, error_size, "module %s: %s() returned no descriptor", path, HKP_PLUGIN_ENTRY_SYMBOL);
      return HKP_DESCRIPTOR_BAD;
    }
  if (d->abi_version != HKP_PLUGIN_ABI_VERSION)
    {
      snprintf (error, error_size,
                "module %s was built for plugin ABI version %u; this hkp-plugind supports version %u", path,
                d->abi_version, HKP_PLUGIN_ABI_VERSION);
      return HKP_DESCRIPTOR_ABI_MISMATCH;
    }
  if (d->struct_size < sizeof (hkp_plugin_descriptor))
    {
      snprintf (error, error_size, "module %s has a descriptor of %u bytes; ABI version %u needs at least %zu", path,
                d->struct_size, HKP_PLUGIN_ABI_VERSION, sizeof (hkp_plugin_descriptor));
      return HKP_DESCRIPTOR_ABI_MISMATCH;
    }
  if (d->name == NULL || d->version == NULL || d->description == NULL)
    {
      snprintf (error, error_size, "module %s: descriptor lacks its name, version or description", path);
      return HKP_DESCRIPTOR_BAD;
    }
  if (d->init == NULL || d->handle == NULL || d->shutdown == NULL)
    {
      snprintf (error, error_size, "module %s: descriptor lacks init, handle or shutdown", path);
      return HKP_DESCRIPTOR_BAD;
    }
  return HKP_DESCRIPTOR_OK;
}
