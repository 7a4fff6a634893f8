/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* reload, enable, disable, rollback and rescan: changes that wait for their outcome. */
#include <stdio.h>

#include "ctl-bus.h"

/* The worse of two exit statuses: an unknown plugin (4) says more than a failure (1). */
static int
worse (int a, int b)
{
  if (a == CTL_EXIT_NO_SUCH_PLUGIN || b == CTL_EXIT_NO_SUCH_PLUGIN)
    return CTL_EXIT_NO_SUCH_PLUGIN;
  return MAX (a, b);
}

/* Calls member (no arguments, or version if not 0) on plugin name and reports a failure as "Failed to <verb> plugin NAME". */
static int
change_plugin (Ctl *ctl, const char *name, const char *member, const char *what, const char *doing, guint32 version)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) call = ctl_plugin_call_new (ctl, name, member);
  g_autoptr (sd_bus_message) reply = NULL;

  if (call == NULL)
    return CTL_EXIT_FAILURE;
  if (version != 0 && sd_bus_message_append (call, "u", version) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to %s: out of memory", what);
  reply = ctl_call (ctl, call, TRUE, name, doing, &error);
  if (reply == NULL)
    return ctl_report_error (ctl, what, name, &error);
  return CTL_EXIT_SUCCESS;
}

int
ctl_verb_change (Ctl *ctl, int argc, char **argv)
{
  const char *verb = argv[0];
  const char *member = g_str_equal (verb, "reload") ? "Reload" : g_str_equal (verb, "enable") ? "Enable" : "Disable";
  const char *doing = g_str_equal (verb, "reload") ? "Reloading"
    : g_str_equal (verb, "enable")                 ? "Enabling"
                                                   : "Disabling";
  int status = ctl_check_names (argc - 1, argv + 1);

  if (status != CTL_EXIT_SUCCESS)
    return status;
  if (ctl_bus_get (ctl) == NULL)
    return CTL_EXIT_FAILURE;
  /* Each plugin in turn, as systemctl does with units: one failure does not stop the others. */
  for (int i = 1; i < argc; i++)
    {
      g_autofree char *what = g_strdup_printf ("%s plugin %s", verb, argv[i]);
      g_autofree char *progress = g_strdup_printf ("%s %s", doing, argv[i]);
      status = worse (status, change_plugin (ctl, argv[i], member, what, progress, 0));
    }
  return status;
}

int
ctl_verb_rollback (Ctl *ctl, int argc, char **argv)
{
  const char *name = argv[1];
  g_autofree char *what = NULL;
  g_autofree char *progress = NULL;
  int status = ctl_check_names (1, &argv[1]);

  if (status != CTL_EXIT_SUCCESS)
    return status;
  if (ctl_bus_get (ctl) == NULL)
    return CTL_EXIT_FAILURE;
  if (ctl->options.has_to)
    {
      what = g_strdup_printf ("restore version %u of the config of plugin %s", ctl->options.to_version, name);
      progress = g_strdup_printf ("Restoring config version %u of %s", ctl->options.to_version, name);
      return change_plugin (ctl, name, "RestoreConfig", what, progress, ctl->options.to_version);
    }
  what = g_strdup_printf ("roll back the config of plugin %s", name);
  progress = g_strdup_printf ("Rolling back the config of %s", name);
  return change_plugin (ctl, name, "RollbackConfig", what, progress, 0);
}

int
ctl_verb_rescan (Ctl *ctl, int argc, char **argv)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  sd_bus *bus = ctl_bus_get (ctl);
  int r;

  if (bus == NULL)
    return CTL_EXIT_FAILURE;
  if ((r = sd_bus_message_new_method_call (bus, &call, CTL_SERVICE, CTL_MANAGER_PATH, CTL_MANAGER_INTERFACE,
                                           "Rescan")) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to make a Rescan call: %s", g_strerror (-r));
  reply = ctl_call (ctl, call, TRUE, NULL, "Rescanning", &error);
  /* A refused file is InvalidConfig, whose message names each refused file and why (the good ones were applied). */
  if (reply == NULL)
    return ctl_report_error (ctl, "rescan the config directory", NULL, &error);
  return CTL_EXIT_SUCCESS;
}
