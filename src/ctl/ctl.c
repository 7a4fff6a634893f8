/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl: the admin CLI of hkp-plugind, an sd-bus client.  Options
 * are parsed once into Ctl; one verb table, dispatched by ctl_dispatch().
 */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-agent.h"
#include "ctl-output.h"

static const CtlVerb verbs[] = {
  { "status", 1, 1, ctl_verb_status, TRUE },
  { "list", 1, 1, ctl_verb_list, FALSE },
  { "show", 1, 2, ctl_verb_show, FALSE },
  { "reload", 2, CTL_ARGS_ANY, ctl_verb_change, FALSE },
  { "enable", 2, CTL_ARGS_ANY, ctl_verb_change, FALSE },
  { "disable", 2, CTL_ARGS_ANY, ctl_verb_change, FALSE },
  { "config", 2, CTL_ARGS_ANY, ctl_verb_config, FALSE },
  { "history", 2, 2, ctl_verb_history, FALSE },
  { "rollback", 2, 2, ctl_verb_rollback, FALSE },
  { "rescan", 1, 1, ctl_verb_rescan, FALSE },
  { "monitor", 1, 1, ctl_verb_monitor, FALSE },
  { "check-config", 1, CTL_ARGS_ANY, ctl_verb_check_config, FALSE },
  { NULL },
};

static void
print_help (void)
{
  printf ("%s",
          "hkp-pluginctl [OPTIONS…] COMMAND …\n"
          "\n"
          "Manage the plugins of hkp-plugind.\n"
          "\n"
          "Commands:\n"
          "  status                   Show the daemon and a table of its plugins (the default)\n"
          "  list                     List the plugins\n"
          "  show [NAME]              Show every property of a plugin (or of the daemon)\n"
          "  reload NAME…             Reload plugins, waiting for the outcome\n"
          "  enable NAME…             Enable plugins\n"
          "  disable NAME…            Disable plugins\n"
          "  config get NAME          Print a plugin's config (secrets redacted)\n"
          "  config set NAME FILE|-   Replace a plugin's config from a file or stdin\n"
          "  config edit NAME         Edit a plugin's config in $EDITOR\n"
          "  history NAME             List the kept versions of a plugin's config\n"
          "  rollback NAME            Go back to the previous config (--to=VERSION: to that one)\n"
          "  rescan                   Pick up added, removed and edited plugin files\n"
          "  monitor                  Follow state, health and config changes as they happen\n"
          "  check-config [-- OPTS…]  Check the main config and every plugin file (hkp-plugind --check-config)\n"
          "\n"
          "Options:\n"
          "  -h --help                Show this help\n"
          "     --version             Show the version\n"
          "     --json[=pretty|short] Print JSON (pretty on a terminal, else short)\n"
          "  -H --host=[USER@]HOST    Manage the daemon on HOST, over ssh\n"
          "     --address=ADDRESS     Use the bus at ADDRESS instead of the system bus\n"
          "     --no-ask-password     Do not ask for a password when polkit wants one\n"
          "     --no-legend           Print no column headers and no footer\n"
          "     --no-pager            Do not send long output through a pager\n"
          "  -q --quiet               Print no progress and no notes\n"
          "     --show-secrets        config get/edit: the config with its secrets\n"
          "     --to=VERSION          rollback: the config version to go back to\n"
          "\n"
          "See the hkp-pluginctl(1) man page for details.\n");
}

int
ctl_usage_error (const char *format, ...)
{
  va_list ap;

  fputs ("hkp-pluginctl: ", stderr);
  va_start (ap, format);
  vfprintf (stderr, format, ap);
  va_end (ap);
  fputs ("\n", stderr);
  return CTL_EXIT_USAGE;
}

int
ctl_fail (int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  g_autofree char *shown = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  /* Errors quote the daemon, and through it plugins and files: nothing in them may drive the terminal. */
  shown = ctl_printable (message);
  fprintf (stderr, "%s\n", shown);
  return status;
}

void
ctl_note (Ctl *ctl, const char *format, ...)
{
  g_autofree char *message = NULL;
  g_autofree char *shown = NULL;
  va_list ap;

  if (ctl->options.quiet)
    return;
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  shown = ctl_printable (message);
  fprintf (stderr, "%s\n", shown);
}

gboolean
ctl_plugin_name_is_valid (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > 64 || !(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0])))
    return FALSE;
  for (gsize i = 1; i < length; i++)
    if (!(g_ascii_islower (name[i]) || g_ascii_isdigit (name[i]) || name[i] == '_' || name[i] == '-'))
      return FALSE;
  return TRUE;
}

int
ctl_check_names (int n, char **names)
{
  for (int i = 0; i < n; i++)
    if (!ctl_plugin_name_is_valid (names[i]))
      return ctl_usage_error ("\"%s\" is not a plugin name: names are 1 to 64 of a-z, 0-9, '_' and '-', "
                              "starting with a letter or digit",
                              names[i]);
  return CTL_EXIT_SUCCESS;
}

int
ctl_dispatch (Ctl *ctl, const CtlVerb *table, int argc, char **argv)
{
  const CtlVerb *verb = NULL;
  char *fallback[] = { NULL, NULL };

  if (argc == 0)
    {
      for (const CtlVerb *v = table; v->name != NULL; v++)
        if (v->is_default)
          verb = v;
      if (verb == NULL)
        return ctl_usage_error ("a command is missing (see --help)");
      fallback[0] = (char *) verb->name;
      argc = 1;
      argv = fallback;
    }
  else
    for (const CtlVerb *v = table; v->name != NULL && verb == NULL; v++)
      if (g_str_equal (v->name, argv[0]))
        verb = v;
  if (verb == NULL)
    return ctl_usage_error ("unknown command \"%s\" (see --help)", argv[0]);
  if (argc < verb->min_args)
    return ctl_usage_error ("%s: too few arguments (see --help)", verb->name);
  if (verb->max_args != CTL_ARGS_ANY && argc > verb->max_args)
    return ctl_usage_error ("%s: too many arguments (see --help)", verb->name);
  return verb->run (ctl, argc, argv);
}

enum {
  OPTION_VERSION = 0x100,
  OPTION_JSON,
  OPTION_ADDRESS,
  OPTION_NO_ASK_PASSWORD,
  OPTION_NO_LEGEND,
  OPTION_NO_PAGER,
  OPTION_SHOW_SECRETS,
  OPTION_TO,
};

/* Parses the options into ctl; returns -1 to go on, else the exit status (after --help, --version or an error). */
static int
parse_options (Ctl *ctl, int argc, char **argv)
{
  static const struct option options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPTION_VERSION },
    { "json", optional_argument, NULL, OPTION_JSON },
    { "host", required_argument, NULL, 'H' },
    { "address", required_argument, NULL, OPTION_ADDRESS },
    { "no-ask-password", no_argument, NULL, OPTION_NO_ASK_PASSWORD },
    { "no-legend", no_argument, NULL, OPTION_NO_LEGEND },
    { "no-pager", no_argument, NULL, OPTION_NO_PAGER },
    { "quiet", no_argument, NULL, 'q' },
    { "show-secrets", no_argument, NULL, OPTION_SHOW_SECRETS },
    { "to", required_argument, NULL, OPTION_TO },
    { NULL },
  };
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":hH:q", options, NULL)) >= 0)
    switch (c)
      {
      case 'h':
        print_help ();
        return CTL_EXIT_SUCCESS;
      case OPTION_VERSION:
        printf ("hkp-pluginctl %s\n", PACKAGE_VERSION);
        return CTL_EXIT_SUCCESS;
      case OPTION_JSON:
        if (optarg == NULL)
          ctl->options.json = isatty (STDOUT_FILENO) ? CTL_JSON_PRETTY : CTL_JSON_SHORT;
        else if (g_str_equal (optarg, "pretty"))
          ctl->options.json = CTL_JSON_PRETTY;
        else if (g_str_equal (optarg, "short"))
          ctl->options.json = CTL_JSON_SHORT;
        else if (g_str_equal (optarg, "off"))
          ctl->options.json = CTL_JSON_OFF;
        else
          return ctl_usage_error ("--json=%s: expected pretty, short or off", optarg);
        break;
      case 'H':
        g_free (ctl->options.host);
        ctl->options.host = g_strdup (optarg);
        break;
      case OPTION_ADDRESS:
        g_free (ctl->options.address);
        ctl->options.address = g_strdup (optarg);
        break;
      case OPTION_NO_ASK_PASSWORD:
        ctl->options.no_ask_password = TRUE;
        break;
      case OPTION_NO_LEGEND:
        ctl->options.no_legend = TRUE;
        break;
      case OPTION_NO_PAGER:
        ctl->options.no_pager = TRUE;
        break;
      case 'q':
        ctl->options.quiet = TRUE;
        break;
      case OPTION_SHOW_SECRETS:
        ctl->options.show_secrets = TRUE;
        break;
      case OPTION_TO:
        {
          guint64 version;
          if (!g_ascii_string_to_unsigned (optarg, 10, 1, G_MAXUINT32, &version, NULL))
            return ctl_usage_error ("--to=%s: expected a config version (a number from 1)", optarg);
          ctl->options.has_to = TRUE;
          ctl->options.to_version = (guint32) version;
        }
        break;
      case ':':
        return ctl_usage_error ("option %s needs a value", argv[optind - 1]);
      default:
        return ctl_usage_error ("unknown option %s (see --help)", argv[optind - 1]);
      }
  if (ctl->options.host != NULL && ctl->options.address != NULL)
    return ctl_usage_error ("--host and --address cannot be used together");
  return -1;
}

/* Options that belong to one command are refused elsewhere, rather than silently ignored. */
static int
check_command_options (Ctl *ctl, int argc, char **argv)
{
  const char *verb = argc > 0 ? argv[0] : "status";
  const char *sub = argc > 1 ? argv[1] : "";

  if (ctl->options.has_to && !g_str_equal (verb, "rollback"))
    return ctl_usage_error ("--to= is an option of rollback only");
  if (ctl->options.show_secrets &&
      !(g_str_equal (verb, "config") && (g_str_equal (sub, "get") || g_str_equal (sub, "edit"))))
    return ctl_usage_error ("--show-secrets is an option of config get and config edit only");
  return -1;
}

int
main (int argc, char **argv)
{
  Ctl ctl = { 0 };
  const char *no_color = g_getenv ("NO_COLOR");
  const char *term = g_getenv ("TERM");
  int status;

  setlocale (LC_ALL, "");
  status = parse_options (&ctl, argc, argv);
  if (status < 0)
    status = check_command_options (&ctl, argc - optind, argv + optind);
  if (status < 0)
    {
      ctl.color = isatty (STDOUT_FILENO) && (no_color == NULL || no_color[0] == '\0') &&
        (term == NULL || !g_str_equal (term, "dumb"));
      ctl.progress = isatty (STDERR_FILENO) && !ctl.options.quiet;
      status = ctl_dispatch (&ctl, verbs, argc - optind, argv + optind);
    }

  fflush (stdout);
  ctl_pager_close (&ctl);
  ctl_agent_close (&ctl);
  g_clear_pointer (&ctl.bus, sd_bus_flush_close_unref);
  g_free (ctl.options.host);
  g_free (ctl.options.address);
  return status;
}
