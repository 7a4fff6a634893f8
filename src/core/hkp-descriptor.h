/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The checks every loader makes on a plugin's descriptor: plain C, shared by the daemon and hkp-plugin-host. */

#include <stddef.h>

#include "hkp-plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  HKP_DESCRIPTOR_OK,
  HKP_DESCRIPTOR_BAD, /* no descriptor, or one lacking a required field */
  HKP_DESCRIPTOR_ABI_MISMATCH, /* another ABI version, or too small for this one */
} HkpDescriptorCheck;

/*
 * Checks d, returned by the entry of the module at path (for messages):
 * abi_version and struct_size before anything else, then the strings and
 * required functions.  On failure writes a message to error.
 */
HkpDescriptorCheck hkp_descriptor_check (const hkp_plugin_descriptor *d, const char *path, char *error,
                                         size_t error_size);

#ifdef __cplusplus
}
#endif
