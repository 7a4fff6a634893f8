/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-output.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

char *
ctl_printable (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\n' || c == '\r' || c == '\t')
        g_string_append_c (out, ' ');
      else if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

const char *
ctl_color_on (Ctl *ctl, CtlColor color)
{
  static const char *const sequences[] = {
    [CTL_COLOR_NONE] = "",          [CTL_COLOR_GOOD] = "\033[0;32m", [CTL_COLOR_WARN] = "\033[0;33m",
    [CTL_COLOR_BAD] = "\033[0;31m", [CTL_COLOR_DIM] = "\033[0;90m",  [CTL_COLOR_BOLD] = "\033[1m",
  };

  return ctl->color ? sequences[color] : "";
}

const char *
ctl_color_off (Ctl *ctl, CtlColor color)
{
  return ctl->color && color != CTL_COLOR_NONE ? "\033[0m" : "";
}

CtlColor
ctl_state_color (const char *state)
{
  if (g_str_equal (state, "active"))
    return CTL_COLOR_GOOD;
  if (g_str_equal (state, "failed"))
    return CTL_COLOR_BAD;
  if (g_str_equal (state, "disabled"))
    return CTL_COLOR_DIM;
  return CTL_COLOR_WARN; /* loading, reloading, unloading: on the way somewhere */
}

CtlColor
ctl_health_color (const char *health)
{
  if (g_str_equal (health, "healthy"))
    return CTL_COLOR_GOOD;
  if (g_str_equal (health, "unhealthy"))
    return CTL_COLOR_BAD;
  return CTL_COLOR_WARN;
}

void
ctl_print_json (Ctl *ctl, JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (generator, ctl->options.json == CTL_JSON_PRETTY);
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  json_node_unref (node);
  fputs (text, stdout);
  fputc ('\n', stdout);
}

JsonNode *
ctl_variant_to_json (GVariant *value)
{
  JsonNode *node;

  if (value == NULL)
    return json_node_new (JSON_NODE_NULL);
  node = json_node_new (JSON_NODE_VALUE);
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      json_node_set_boolean (node, g_variant_get_boolean (value));
      break;
    case G_VARIANT_CLASS_BYTE:
      json_node_set_int (node, g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      json_node_set_int (node, g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      json_node_set_int (node, g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      json_node_set_int (node, g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      json_node_set_int (node, g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_INT64:
      json_node_set_int (node, g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      /* JSON numbers are int64 here; the largest values (UINT64_MAX: "none") become -1. */
      json_node_set_int (node, (gint64) g_variant_get_uint64 (value));
      break;
    case G_VARIANT_CLASS_DOUBLE:
      json_node_set_double (node, g_variant_get_double (value));
      break;
    default:
      json_node_set_string (node, g_variant_get_string (value, NULL));
      break;
    }
  return node;
}

char *
ctl_format_timestamp (guint64 usec)
{
  g_autoptr (GDateTime) time = NULL;

  if (usec == 0)
    return g_strdup ("n/a");
  time = g_date_time_new_from_unix_local (usec / G_USEC_PER_SEC);
  return time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S %Z") : g_strdup ("n/a");
}

char *
ctl_format_timespan (guint64 usec)
{
  static const struct {
    const char *suffix;
    guint64 usec;
  } units[] = {
    { "d", (guint64) G_USEC_PER_SEC * 86400 },
    { "h", (guint64) G_USEC_PER_SEC * 3600 },
    { "min", (guint64) G_USEC_PER_SEC * 60 },
    { "s", G_USEC_PER_SEC },
  };
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (usec >= units[i].usec)
      {
        g_string_append_printf (text, "%s%" G_GUINT64_FORMAT "%s", text->len > 0 ? " " : "", usec / units[i].usec,
                                units[i].suffix);
        usec %= units[i].usec;
      }
  if (text->len == 0)
    g_string_append_printf (text, "%" G_GUINT64_FORMAT "ms", usec / 1000);
  return g_string_free (text, FALSE);
}

void
ctl_pager_open (Ctl *ctl)
{
  const char *pager = g_getenv ("HKP_PAGER");
  int fds[2];
  pid_t pid;

  if (ctl->pager_pid > 0 || ctl->options.no_pager || ctl->options.json != CTL_JSON_OFF || !isatty (STDOUT_FILENO))
    return;
  if (pager == NULL)
    pager = g_getenv ("PAGER");
  if (pager != NULL && (pager[0] == '\0' || g_str_equal (pager, "cat")))
    return;
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return;
  fflush (stdout);

  pid = fork ();
  if (pid < 0)
    {
      close (fds[0]);
      close (fds[1]);
      return;
    }
  if (pid == 0)
    {
      /* The pager reads what we print; it is ended if we die. */
      prctl (PR_SET_PDEATHSIG, SIGTERM);
      if (dup2 (fds[0], STDIN_FILENO) < 0)
        _exit (127);
      /* F: leave at once if it fits one screen, R: colours, X: keep the screen, K: quit on ^C. */
      setenv ("LESS", "FRXK", 0);
      if (pager != NULL)
        execl ("/bin/sh", "sh", "-c", pager, (char *) NULL);
      else
        {
          execlp ("less", "less", (char *) NULL);
          execlp ("more", "more", (char *) NULL);
        }
      /* No pager at all: print as we would have. */
      execlp ("cat", "cat", (char *) NULL);
      _exit (127);
    }

  if (dup2 (fds[1], STDOUT_FILENO) < 0)
    {
      close (fds[0]);
      close (fds[1]);
      kill (pid, SIGTERM);
      waitpid (pid, NULL, 0);
      return;
    }
  close (fds[0]);
  close (fds[1]);
  ctl->pager_pid = pid;
  /* ^C belongs to the pager (less quits on it): we only wait for it.  If it is left before we are
   * done, our writes fail quietly rather than killing us with SIGPIPE. */
  signal (SIGINT, SIG_IGN);
  signal (SIGQUIT, SIG_IGN);
  signal (SIGPIPE, SIG_IGN);
}

void
ctl_pager_close (Ctl *ctl)
{
  if (ctl->pager_pid <= 0)
    return;
  fflush (stdout);
  fclose (stdout);
  while (waitpid (ctl->pager_pid, NULL, 0) < 0 && errno == EINTR)
    ;
  ctl->pager_pid = 0;
}
