/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test module: a valid shared object without the entry symbol. */
#include "hkp-plugin.h"

HKP_PLUGIN_EXPORT int noentry_something (void);

int
noentry_something (void)
{
  return 42;
}
