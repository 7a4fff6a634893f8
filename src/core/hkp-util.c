/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-util.h"

#include <string.h>

static gint
compare_string_elements (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

void
hkp_strv_array_sort (GPtrArray *strings)
{
  g_ptr_array_sort (strings, compare_string_elements);
}
