/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon-log.h"

#include <string.h>
#include <unistd.h>

#include "hkp-log.h"

static const char *
level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR:
      return "error";
    case G_LOG_LEVEL_CRITICAL:
      return "critical";
    case G_LOG_LEVEL_WARNING:
      return "warning";
    case G_LOG_LEVEL_MESSAGE:
      return "notice";
    case G_LOG_LEVEL_INFO:
      return "info";
    case G_LOG_LEVEL_DEBUG:
    default:
      return "debug";
    }
}

/* Returns the value of a text field, or NULL. */
static const char *
field_value (const GLogField *fields, gsize n_fields, const char *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key) && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

/*
 * Appends message to line as one line: control characters (C0 but tab, DEL,
 * C1) are written as escapes, and a backslash as two, so that no text (a plugin's log line, a
 * client's input in an error) can start a line of its own and pass for
 * another plugin's or the daemon's.
 */
static void
append_one_line (GString *line, const char *message)
{
  for (const guchar *p = (const guchar *) message; *p != '\0'; p++)
    if (*p == '\\')
      g_string_append (line, "\\\\");
    else if (*p == '\n')
      g_string_append (line, "\\n");
    else if (*p == '\r')
      g_string_append (line, "\\r");
    else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
      g_string_append_printf (line, "\\x%02x", *p);
    else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
      g_string_append_printf (line, "\\u%04x", *++p);
    else
      g_string_append_c (line, (char) *p);
}

char *
daemon_log_escape (const char *text)
{
  GString *line = g_string_new (NULL);

  append_one_line (line, text);
  return g_string_free (line, FALSE);
}

char *
daemon_log_format_line (GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  const char *message = field_value (fields, n_fields, "MESSAGE");
  const char *plugin = field_value (fields, n_fields, HKP_LOG_FIELD_PLUGIN);
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, "%02d:%02d:%02d.%03d %-8s ", g_date_time_get_hour (now), g_date_time_get_minute (now),
                          g_date_time_get_second (now), g_date_time_get_microsecond (now) / 1000, level_name (level));
  if (plugin != NULL)
    {
      /* A refused file's name is a plugin's name here too, and anyone who can write the directory chooses it. */
      g_string_append_c (line, '[');
      append_one_line (line, plugin);
      g_string_append (line, "] ");
    }
  append_one_line (line, message != NULL ? message : "(no message)");
  g_string_append_c (line, '\n');
  return g_string_free (line, FALSE);
}

static GLogWriterOutput
daemon_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  gboolean journal = GPOINTER_TO_INT (user_data);
  const char *domain = field_value (fields, n_fields, "GLIB_DOMAIN");
  g_autofree char *line = NULL;
  gsize len, done = 0;

  if (g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  if (journal && g_log_writer_journald (level, fields, n_fields, NULL) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;

  /* One write per line, so lines from several threads never interleave. */
  line = daemon_log_format_line (level, fields, n_fields);
  len = strlen (line);
  while (done < len)
    {
      ssize_t n = write (STDERR_FILENO, line + done, len - done);
      if (n <= 0)
        return G_LOG_WRITER_UNHANDLED;
      done += (gsize) n;
    }
  return G_LOG_WRITER_HANDLED;
}

void
daemon_log_setup (void)
{
  gboolean journal = g_log_writer_is_journald (STDERR_FILENO);

  g_log_set_writer_func (daemon_log_writer, GINT_TO_POINTER (journal), NULL);
}
