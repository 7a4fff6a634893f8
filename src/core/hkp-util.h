/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sorts an array of strings in strcmp() order (g_ptr_array_sort hands out pointers to elements). */
void hkp_strv_array_sort (GPtrArray *strings);

G_END_DECLS

G_BEGIN_DECLS

/* Returns a copy of valid UTF-8 text cut to at most max_bytes at a character boundary (caller frees). */
char *hkp_utf8_truncate (const char *text, gsize max_bytes);

G_END_DECLS
