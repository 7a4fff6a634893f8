/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a regular file safely: shared by the core and the shipped plugins (hence its own small library). */

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/* Why hkp_read_regular_file() returned NULL: exactly one field is non-zero. */
typedef struct {
  int errno_value; /* stat(), open() or read() failed */
  mode_t mode; /* not a regular file: its type bits (see hkp_file_type_name()) */
  guint64 size; /* larger than allowed: its size, or as much as was read when it grew meanwhile */
} HkpReadProblem;

/*
 * Reads the file at path if it is a regular file (or a symlink to one) of
 * at most max_size bytes, without ever blocking: a FIFO, socket, device or
 * directory of that name is refused before anything is read.  Returns the
 * contents, NUL-terminated, with their length in *len (may be NULL), caller
 * frees; or NULL with *problem saying why.
 */
char *hkp_read_regular_file (const char *path, gsize max_size, gsize *len, HkpReadProblem *problem);

/* What a file of type mode is, for a message ("a FIFO", "a directory", …); a static string. */
const char *hkp_file_type_name (mode_t mode);

G_END_DECLS
