/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Reads a secret, one non-empty line, from the file at path.  The file must
 * be a regular file owned by root or by the daemon's uid and not accessible
 * to group or others: anyone who could read it could use it, anyone who
 * could write it could choose it.  what names the file in errors ("token
 * file").  Returns the secret (caller frees with http_secret_free()) or NULL
 * with an error naming the file and the problem.
 */
char *http_secret_read (const char *path, const char *what, GError **error);

/* TRUE if given equals expected; the time taken says nothing of where they differ. */
gboolean http_secret_equal (const char *given, const char *expected);

/* Wipes secret and frees it (NULL allowed). */
void http_secret_free (char *secret);

G_END_DECLS
