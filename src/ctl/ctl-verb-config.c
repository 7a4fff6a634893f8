/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config get|set|edit and history: a plugin's configuration and its kept versions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-table.h"

/* What org.hkp.PluginManager1(5) says of GetConfigHistory: it lists configs up to this much together. */
#define HISTORY_LISTED_MAX (8 * 1024 * 1024)
/* The largest config the daemon takes (hkp_manifest_check_config_size()). */
#define CONFIG_MAX (1024 * 1024)

/* ---- reading ------------------------------------------------------------ */

/* Reads the config of name: redacted (the Config property) or with its secrets (GetSecretConfig); NULL after a message. */
static char *
read_config (Ctl *ctl, const char *name, gboolean secrets, guint32 *version, int *status)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autofree char *what = g_strdup_printf (
    secrets ? "read the secret config of plugin %s" : "read the config of plugin %s", name);
  g_autofree char *path = ctl_plugin_path (name);
  sd_bus *bus = ctl_bus_get (ctl);
  const char *json = NULL;

  *status = CTL_EXIT_FAILURE;
  if (bus == NULL)
    return NULL;
  if (version != NULL)
    {
      /* A plugin path that is not there is a plugin that is not there. */
      if (sd_bus_get_property_trivial (bus, CTL_SERVICE, path, CTL_PLUGIN_INTERFACE, "ConfigVersion", &error, 'u',
                                       version) < 0)
        {
          *status = ctl_report_error (ctl, what, name, &error);
          return NULL;
        }
    }
  if (secrets)
    call = ctl_plugin_call_new (ctl, name, "GetSecretConfig");
  else if (sd_bus_message_new_method_call (bus, &call, CTL_SERVICE, path, "org.freedesktop.DBus.Properties", "Get") >=
             0 &&
           sd_bus_message_append (call, "ss", CTL_PLUGIN_INTERFACE, "Config") < 0)
    g_clear_pointer (&call, sd_bus_message_unref);
  if (call == NULL)
    return NULL;
  /* GetSecretConfig is authorized like SetConfig: polkit may want a password. */
  reply = ctl_call (ctl, call, secrets, NULL, NULL, &error);
  if (reply == NULL)
    {
      *status = ctl_report_error (ctl, what, name, &error);
      return NULL;
    }
  if ((secrets ? sd_bus_message_read (reply, "s", &json) : sd_bus_message_read (reply, "v", "s", &json)) < 0)
    {
      fprintf (stderr, "Failed to %s: malformed reply\n", what);
      return NULL;
    }
  *status = CTL_EXIT_SUCCESS;
  return g_strdup (json);
}

/* Returns json re-printed (pretty or on one line); json itself if it does not parse (caller frees). */
static char *
format_json (const char *json, gboolean pretty)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = NULL;

  if (!json_parser_load_from_data (parser, json, -1, NULL))
    return g_strdup (json);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, pretty);
  json_generator_set_root (generator, json_parser_get_root (parser));
  return json_generator_to_data (generator, NULL);
}

static int
config_get (Ctl *ctl, int argc, char **argv)
{
  g_autofree char *json = NULL;
  g_autofree char *text = NULL;
  int status;

  if ((status = ctl_check_names (1, &argv[1])) != CTL_EXIT_SUCCESS)
    return status;
  json = read_config (ctl, argv[1], ctl->options.show_secrets, NULL, &status);
  if (json == NULL)
    return status;
  text = format_json (json, ctl->options.json != CTL_JSON_SHORT);
  ctl_pager_open (ctl);
  printf ("%s\n", text);
  return CTL_EXIT_SUCCESS;
}

/* ---- writing ------------------------------------------------------------ */

/* Sends json as the new config of name; on failure *error says why. */
static gboolean
send_config (Ctl *ctl, const char *name, const char *json, sd_bus_error *error)
{
  g_autoptr (sd_bus_message) call = ctl_plugin_call_new (ctl, name, "SetConfig");
  g_autoptr (sd_bus_message) reply = NULL;
  g_autofree char *progress = g_strdup_printf ("Applying the config of %s", name);

  if (call == NULL)
    {
      sd_bus_error_set_const (error, SD_BUS_ERROR_FAILED, "cannot make the call");
      return FALSE;
    }
  if (sd_bus_message_append (call, "s", json) < 0)
    {
      sd_bus_error_set_const (error, SD_BUS_ERROR_NO_MEMORY, "out of memory");
      return FALSE;
    }
  reply = ctl_call (ctl, call, TRUE, name, progress, error);
  return reply != NULL;
}

static int
config_set (Ctl *ctl, int argc, char **argv)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (GError) read_error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *what = NULL;
  int status;

  if ((status = ctl_check_names (1, &argv[1])) != CTL_EXIT_SUCCESS)
    return status;
  if (g_str_equal (argv[2], "-"))
    {
      GString *text = g_string_new (NULL);
      char buffer[4096];
      size_t n;
      while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
        g_string_append_len (text, buffer, (gssize) n);
      if (ferror (stdin))
        {
          g_string_free (text, TRUE);
          return ctl_fail (CTL_EXIT_FAILURE, "Failed to read the config from stdin: %s", g_strerror (errno));
        }
      json = g_string_free (text, FALSE);
    }
  else if (!g_file_get_contents (argv[2], &json, NULL, &read_error))
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to read the config: %s", read_error->message);
  if (!g_utf8_validate (json, -1, NULL))
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to read the config: %s is not UTF-8 text", argv[2]);
  if (ctl_bus_get (ctl) == NULL)
    return CTL_EXIT_FAILURE;
  what = g_strdup_printf ("set the config of plugin %s", argv[1]);
  if (!send_config (ctl, argv[1], json, &error))
    return ctl_report_error (ctl, what, argv[1], &error);
  return CTL_EXIT_SUCCESS;
}

/* ---- config edit -------------------------------------------------------- */

/*
 * Lines whose first non-blank character is '#' cannot be JSON (a JSON string
 * never spans lines), so they carry our notes and are removed before sending.
 */
static char *
strip_comments (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *kept = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *start = lines[i] + strspn (lines[i], " \t");
      if (*start == '#')
        continue;
      g_string_append (kept, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append_c (kept, '\n');
    }
  return g_strstrip (g_string_free (kept, FALSE));
}

static gboolean
write_edit_file (const char *file, const char *name, guint32 version, const char *refusal, const char *json,
                 GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append_printf (text, "# Config of plugin %s (version %u). Lines starting with '#' are removed.\n", name,
                          version);
  g_string_append (text, "# Save and quit to apply it; an empty file cancels. \"[redacted]\" keeps a stored secret.\n");
  if (refusal != NULL)
    {
      g_auto (GStrv) lines = g_strsplit (refusal, "\n", -1);
      g_string_append (text, "#\n# hkp-plugind refused the last attempt:\n");
      for (guint i = 0; lines[i] != NULL; i++)
        g_string_append_printf (text, "#   %s\n", lines[i]);
    }
  g_string_append_printf (text, "%s\n", json);
  return g_file_set_contents_full (file, text->str, (gssize) text->len, G_FILE_SET_CONTENTS_NONE, 0600, error);
}

/* Runs the admin's editor on file, on our terminal; TRUE if it exited 0. */
static gboolean
run_editor (const char *file)
{
  const char *editor = g_getenv ("VISUAL");
  g_autofree char *command = NULL;
  g_autoptr (GError) error = NULL;
  int wait_status;

  if (editor == NULL || editor[0] == '\0')
    editor = g_getenv ("EDITOR");
  /* As systemctl edit: the admin's choice, else the usual editors in turn. */
  command = editor != NULL && editor[0] != '\0'
    ? g_strdup_printf ("%s \"$1\"", editor)
    : g_strdup ("for e in editor nano vim vi; do command -v $e >/dev/null && exec $e \"$1\"; done; "
                "echo 'no editor found: set $EDITOR' >&2; exit 1");
  fflush (stdout);
  if (!g_spawn_sync (NULL, (char *[]){ "/bin/sh", "-c", command, "sh", (char *) file, NULL }, NULL,
                     G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL, NULL, &wait_status, &error))
    {
      fprintf (stderr, "Failed to run the editor: %s\n", error->message);
      return FALSE;
    }
  return g_spawn_check_wait_status (wait_status, NULL);
}

static int
config_edit (Ctl *ctl, int argc, char **argv)
{
  const char *name = argv[1];
  g_autoptr (GError) file_error = NULL;
  g_autofree char *original = NULL;
  g_autofree char *json = NULL;
  g_autofree char *refused = NULL; /* the text last refused */
  g_autofree char *refusal = NULL; /* and why */
  g_autofree char *file = NULL;
  g_autofree char *template = NULL;
  guint32 version = 0;
  int status, fd;

  if ((status = ctl_check_names (1, &argv[1])) != CTL_EXIT_SUCCESS)
    return status;
  if ((json = read_config (ctl, name, ctl->options.show_secrets, &version, &status)) == NULL)
    return status;
  original = format_json (json, TRUE);

  template = g_strdup_printf ("hkp-pluginctl-%s-XXXXXX.json", name);
  /* A private file (0600): with --show-secrets it holds secrets. */
  if ((fd = g_file_open_tmp (template, &file, &file_error)) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to make a temporary file: %s", file_error->message);
  close (fd);
  g_clear_pointer (&json, g_free);
  json = g_strdup (original);

  for (;;)
    {
      __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
      g_autofree char *edited = NULL;
      g_autofree char *text = NULL;

      if (!write_edit_file (file, name, version, refusal, json, &file_error))
        {
          status = ctl_fail (CTL_EXIT_FAILURE, "Failed to write %s: %s", file, file_error->message);
          break;
        }
      if (!run_editor (file))
        {
          status = ctl_fail (CTL_EXIT_FAILURE, "The editor failed; the config of plugin %s is unchanged.", name);
          break;
        }
      if (!g_file_get_contents (file, &text, NULL, &file_error))
        {
          status = ctl_fail (CTL_EXIT_FAILURE, "Failed to read %s: %s", file, file_error->message);
          break;
        }
      edited = strip_comments (text);
      if (edited[0] == '\0')
        {
          ctl_note (ctl, "The file is empty: edit cancelled, the config of plugin %s is unchanged.", name);
          status = CTL_EXIT_SUCCESS;
          break;
        }
      if (g_str_equal (edited, g_strstrip (original)))
        {
          ctl_note (ctl, "The config of plugin %s is unchanged.", name);
          status = CTL_EXIT_SUCCESS;
          break;
        }
      if (refused != NULL && g_str_equal (edited, refused))
        {
          /* Saved again as refused: the admin gives up; keep the work. */
          status = ctl_fail (CTL_EXIT_FAILURE, "Not applied: the config was refused again. Your edit is kept in %s",
                             file);
          g_clear_pointer (&file, g_free);
          break;
        }
      if (send_config (ctl, name, edited, &error))
        {
          ctl_note (ctl, "Applied the new config of plugin %s.", name);
          status = CTL_EXIT_SUCCESS;
          break;
        }
      if (!sd_bus_error_has_name (&error, "org.hkp.PluginManager1.Error.InvalidConfig") &&
          !sd_bus_error_has_name (&error, "org.hkp.PluginManager1.Error.ReloadFailed"))
        {
          g_autofree char *what = g_strdup_printf ("set the config of plugin %s", name);
          status = ctl_report_error (ctl, what, name, &error);
          fprintf (stderr, "Your edit is kept in %s\n", file);
          g_clear_pointer (&file, g_free);
          break;
        }
      /* The plugin said no: show why, in the file and here, and let the admin try again. */
      fprintf (stderr, "hkp-plugind refused the config of plugin %s: %s\n", name, error.message);
      g_free (refusal);
      refusal = g_strdup (error.message);
      g_free (refused);
      refused = g_strdup (edited);
      g_free (json);
      json = g_strdup (edited);
    }
  if (file != NULL)
    g_unlink (file);
  return status;
}

int
ctl_verb_config (Ctl *ctl, int argc, char **argv)
{
  static const CtlVerb config_verbs[] = {
    { "get", 2, 2, config_get, FALSE },
    { "set", 3, 3, config_set, FALSE },
    { "edit", 2, 2, config_edit, FALSE },
    { NULL },
  };

  return ctl_dispatch (ctl, config_verbs, argc - 1, argv + 1);
}

/* ---- history ------------------------------------------------------------ */

int
ctl_verb_history (Ctl *ctl, int argc, char **argv)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *name = argv[1];
  g_autofree char *what = g_strdup_printf ("read the config history of plugin %s", name);
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (CtlTable) table = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *path = NULL;
  guint32 current = 0;
  uint64_t time;
  uint32_t version;
  const char *who, *config;
  gsize listed = 0;
  int status, r;

  if ((status = ctl_check_names (1, &argv[1])) != CTL_EXIT_SUCCESS)
    return status;
  if (ctl_bus_get (ctl) == NULL)
    return CTL_EXIT_FAILURE;
  path = ctl_plugin_path (name);
  if (sd_bus_get_property_trivial (ctl->bus, CTL_SERVICE, path, CTL_PLUGIN_INTERFACE, "ConfigVersion", &error, 'u',
                                   &current) < 0)
    return ctl_report_error (ctl, what, name, &error);
  if ((call = ctl_plugin_call_new (ctl, name, "GetConfigHistory")) == NULL)
    return CTL_EXIT_FAILURE;
  if ((reply = ctl_call (ctl, call, FALSE, NULL, NULL, &error)) == NULL)
    return ctl_report_error (ctl, what, name, &error);

  table = ctl_table_new ("VERSION", "version", "TIME", "time", "WHO", "who", NULL);
  json_builder_begin_array (builder);
  if ((r = sd_bus_message_enter_container (reply, 'a', "(tuss)")) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to %s: malformed reply", what);
  while ((r = sd_bus_message_read (reply, "(tuss)", &time, &version, &who, &config)) > 0)
    {
      g_autofree char *when = ctl_format_timestamp (time);
      g_autofree char *label = g_strdup_printf (version == current ? "%u (current)" : "%u", version);
      g_autoptr (JsonParser) parser = json_parser_new ();

      listed += strlen (config);
      ctl_table_add (table, g_variant_new_uint32 (version), label,
                     version == current ? CTL_COLOR_BOLD : CTL_COLOR_NONE);
      ctl_table_add (table, g_variant_new_uint64 (time), when, CTL_COLOR_NONE);
      ctl_table_add_string (table, who, CTL_COLOR_NONE);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "version");
      json_builder_add_int_value (builder, version);
      json_builder_set_member_name (builder, "time");
      json_builder_add_int_value (builder, (gint64) time);
      json_builder_set_member_name (builder, "who");
      json_builder_add_string_value (builder, who);
      json_builder_set_member_name (builder, "current");
      json_builder_add_boolean_value (builder, version == current);
      json_builder_set_member_name (builder, "config");
      if (json_parser_load_from_data (parser, config, -1, NULL))
        json_builder_add_value (builder, json_node_copy (json_parser_get_root (parser)));
      else
        json_builder_add_string_value (builder, config);
      json_builder_end_object (builder);
    }
  if (r < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to %s: malformed reply", what);
  json_builder_end_array (builder);

  if (ctl->options.json != CTL_JSON_OFF)
    {
      ctl_print_json (ctl, json_builder_get_root (builder));
      return CTL_EXIT_SUCCESS;
    }
  ctl_pager_open (ctl);
  ctl_table_print (ctl, table);
  if (ctl->options.no_legend)
    return CTL_EXIT_SUCCESS;
  /* The daemon lists configs up to HISTORY_LISTED_MAX together: one more of up to CONFIG_MAX may not have fit. */
  if (listed + CONFIG_MAX > HISTORY_LISTED_MAX)
    printf ("\n%u version%s listed; older ones may be left out, as at most 8 MiB of configs are listed "
            "(\"hkp-pluginctl rollback %s --to VERSION\" still takes them).\n",
            ctl_table_rows (table), ctl_table_rows (table) == 1 ? "" : "s", name);
  else
    printf ("\n%u version%s kept.\n", ctl_table_rows (table), ctl_table_rows (table) == 1 ? "" : "s");
  return CTL_EXIT_SUCCESS;
}
