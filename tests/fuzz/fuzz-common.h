/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the fuzz targets share: quiet logs, and an input read as fields. */

#include <stdlib.h>
#include <string.h>

#include <glib.h>

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  /* A critical is a broken precondition (g_return_if_fail): as much a finding as a crash. */
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

/* Drops the messages the code under test logs (millions of runs), but aborts on a critical. */
static inline void
fuzz_quiet_logs (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      g_once_init_leave (&once, 1);
    }
}

/* Reads input as fields separated by '\n'; each call returns the next one (caller frees), NULL at the end. */
typedef struct {
  const char *next;
  const char *end;
} FuzzFields;

static inline void
fuzz_fields_init (FuzzFields *fields, const void *data, size_t size)
{
  fields->next = data;
  fields->end = (const char *) data + size;
}

static inline char *
fuzz_fields_take (FuzzFields *fields)
{
  const char *newline;
  char *field;

  if (fields->next == NULL || fields->next > fields->end)
    return NULL;
  newline = memchr (fields->next, '\n', (size_t) (fields->end - fields->next));
  if (newline == NULL)
    {
      field = g_strndup (fields->next, (gsize) (fields->end - fields->next));
      fields->next = NULL;
      return field;
    }
  field = g_strndup (fields->next, (gsize) (newline - fields->next));
  fields->next = newline + 1;
  return field;
}

/* Returns what is left after the fields taken (not a copy), with its length in *length. */
static inline const char *
fuzz_fields_rest (FuzzFields *fields, gsize *length)
{
  if (fields->next == NULL)
    {
      *length = 0;
      return "";
    }
  *length = (gsize) (fields->end - fields->next);
  return fields->next;
}
