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

char *
hkp_utf8_truncate (const char *text, gsize max_bytes)
{
  gsize len = strlen (text);
  const char *end;

  if (len <= max_bytes)
    return g_strndup (text, len);
  /* The character that starts at or before text[max_bytes] is the first one left out. */
  end = text + max_bytes;
  while (end > text && (*end & 0xC0) == 0x80)
    end--;
  return g_strndup (text, (gsize) (end - text));
}
