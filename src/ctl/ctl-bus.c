/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-output.h"
#include "ctl-bus.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-agent.h"

#define ERROR_PREFIX "org.hkp.PluginManager1.Error."

/* ---- the connection ---------------------------------------------------- */

static int
open_address (const char *address, sd_bus **ret)
{
  g_autoptr (sd_bus) bus = NULL;
  int r;

  if ((r = sd_bus_new (&bus)) < 0 || (r = sd_bus_set_address (bus, address)) < 0 ||
      (r = sd_bus_set_bus_client (bus, 1)) < 0 || (r = sd_bus_start (bus)) < 0)
    return r;
  *ret = g_steal_pointer (&bus);
  return 0;
}

sd_bus *
ctl_bus_get (Ctl *ctl)
{
  int r;

  if (ctl->bus != NULL)
    return ctl->bus;
  if (ctl->options.address != NULL)
    r = open_address (ctl->options.address, &ctl->bus);
  else if (ctl->options.host != NULL)
    r = sd_bus_open_system_remote (&ctl->bus, ctl->options.host);
  else
    r = sd_bus_open_system (&ctl->bus);
  if (r < 0)
    {
      ctl->bus = NULL;
      if (ctl->options.address != NULL)
        fprintf (stderr, "Failed to connect to the bus at %s: %s\n", ctl->options.address, g_strerror (-r));
      else if (ctl->options.host != NULL)
        fprintf (stderr, "Failed to connect to the system bus of %s over ssh: %s\n", ctl->options.host,
                 g_strerror (-r));
      else
        fprintf (stderr, "Failed to connect to the system bus: %s\n", g_strerror (-r));
      return NULL;
    }
  /* polkit may then ask the admin for a password, through the agent we start on a terminal. */
  sd_bus_set_allow_interactive_authorization (ctl->bus, !ctl->options.no_ask_password);
  return ctl->bus;
}

char *
ctl_plugin_path (const char *name)
{
  char *path = NULL;

  if (sd_bus_path_encode (CTL_PLUGIN_PREFIX, name, &path) < 0)
    g_error ("out of memory");
  return path;
}

sd_bus_message *
ctl_plugin_call_new (Ctl *ctl, const char *name, const char *member)
{
  sd_bus *bus = ctl_bus_get (ctl);
  g_autofree char *path = ctl_plugin_path (name);
  sd_bus_message *call = NULL;
  int r;

  if (bus == NULL)
    return NULL;
  r = sd_bus_message_new_method_call (bus, &call, CTL_SERVICE, path, CTL_PLUGIN_INTERFACE, member);
  if (r < 0)
    {
      fprintf (stderr, "Failed to make a %s call: %s\n", member, g_strerror (-r));
      return NULL;
    }
  return call;
}

/* ---- waiting for an outcome -------------------------------------------- */

typedef struct {
  Ctl *ctl;
  const char *doing;
  sd_bus_message *reply;
  gboolean done;
  char *shown_line; /* the progress line on the terminal, if any */
  char state[32];
  guint32 draining;
} Waiting;

static void
show_progress (Waiting *waiting)
{
  g_autofree char *line = NULL;

  if (waiting->draining > 0)
    line = g_strdup_printf ("%s: draining %u request%s…", waiting->doing, waiting->draining,
                            waiting->draining == 1 ? "" : "s");
  else if (g_str_equal (waiting->state, "loading") || g_str_equal (waiting->state, "reloading") ||
           g_str_equal (waiting->state, "unloading"))
    line = g_strdup_printf ("%s (%s)…", waiting->doing, waiting->state);
  /* Redrawn only when it says something new. */
  if (line == NULL || g_strcmp0 (line, waiting->shown_line) == 0)
    return;
  fprintf (stderr, "\r\033[K%s", line);
  fflush (stderr);
  g_free (waiting->shown_line);
  waiting->shown_line = g_steal_pointer (&line);
}

static int
on_properties_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Waiting *waiting = userdata;
  const char *interface;
  int r;

  if (sd_bus_message_read (message, "s", &interface) < 0 || !g_str_equal (interface, CTL_PLUGIN_INTERFACE))
    return 0;
  if (sd_bus_message_enter_container (message, 'a', "{sv}") < 0)
    return 0;
  while ((r = sd_bus_message_enter_container (message, 'e', "sv")) > 0)
    {
      const char *name;
      if (sd_bus_message_read (message, "s", &name) < 0)
        return 0;
      if (g_str_equal (name, "DrainingRequests"))
        r = sd_bus_message_read (message, "v", "u", &waiting->draining);
      else if (g_str_equal (name, "State"))
        {
          const char *state = "";
          r = sd_bus_message_read (message, "v", "s", &state);
          g_strlcpy (waiting->state, state, sizeof waiting->state);
        }
      else
        r = sd_bus_message_skip (message, "v");
      if (r < 0 || sd_bus_message_exit_container (message) < 0)
        return 0;
    }
  show_progress (waiting);
  return 0;
}

static int
on_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Waiting *waiting = userdata;

  waiting->reply = sd_bus_message_ref (reply);
  waiting->done = TRUE;
  return 0;
}

sd_bus_message *
ctl_call (Ctl *ctl, sd_bus_message *call, gboolean change, const char *plugin, const char *doing, sd_bus_error *error)
{
  sd_bus *bus = sd_bus_message_get_bus (call);
  g_autoptr (sd_bus_slot) match = NULL;
  g_autoptr (sd_bus_slot) pending = NULL;
  Waiting waiting = { .ctl = ctl, .doing = doing };
  int r;

  if (change)
    ctl_agent_open (ctl);
  if (change && plugin != NULL && ctl->progress)
    {
      g_autofree char *path = ctl_plugin_path (plugin);
      /* Installed before the call, so no change made on the way is missed. */
      r = sd_bus_match_signal (bus, &match, CTL_SERVICE, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                               on_properties_changed, &waiting);
      if (r < 0)
        match = NULL; /* progress is a nicety: go on without it */
    }

  /* No time limit: a change replies once its outcome is known, after a drain that may take minutes. */
  r = sd_bus_call_async (bus, &pending, call, on_reply, &waiting, UINT64_MAX);
  while (r >= 0 && !waiting.done)
    {
      r = sd_bus_process (bus, NULL);
      if (r == 0)
        r = sd_bus_wait (bus, UINT64_MAX);
      if (r == -EINTR)
        r = 0;
    }
  if (waiting.shown_line != NULL)
    {
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      g_free (waiting.shown_line);
    }
  if (r < 0)
    {
      g_clear_pointer (&waiting.reply, sd_bus_message_unref);
      sd_bus_error_set_errno (error, r);
      return NULL;
    }
  if (sd_bus_message_is_method_error (waiting.reply, NULL))
    {
      sd_bus_error_copy (error, sd_bus_message_get_error (waiting.reply));
      g_clear_pointer (&waiting.reply, sd_bus_message_unref);
      return NULL;
    }
  return waiting.reply;
}

/* ---- errors ------------------------------------------------------------ */

/* What each error means to an admin; the daemon's own message follows when it adds something. */
static const struct {
  const char *name;
  const char *text;
  int status;
  gboolean keep_message;
} known_errors[] = {
  { "org.freedesktop.DBus.Error.AccessDenied", "Access denied", CTL_EXIT_FAILURE, TRUE },
  { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "Interactive authentication required",
    CTL_EXIT_FAILURE, FALSE },
  { ERROR_PREFIX "NoSuchPlugin", "No such plugin", CTL_EXIT_NO_SUCH_PLUGIN, FALSE },
  { "org.freedesktop.DBus.Error.UnknownObject", "No such plugin", CTL_EXIT_NO_SUCH_PLUGIN, FALSE },
  { ERROR_PREFIX "Busy", "Another change of this plugin is running", CTL_EXIT_FAILURE, FALSE },
  { ERROR_PREFIX "InvalidConfig", "Invalid config", CTL_EXIT_FAILURE, TRUE },
  { ERROR_PREFIX "ReloadFailed", "Reload failed", CTL_EXIT_FAILURE, TRUE },
  { ERROR_PREFIX "Disabled", "The plugin is disabled", CTL_EXIT_FAILURE, FALSE },
  { "org.freedesktop.DBus.Error.ServiceUnknown", "hkp-plugind is not running", CTL_EXIT_FAILURE, FALSE },
  { "org.freedesktop.DBus.Error.NameHasNoOwner", "hkp-plugind is not running", CTL_EXIT_FAILURE, FALSE },
  { "org.freedesktop.DBus.Error.UnknownMethod", "This hkp-plugind does not offer that call (is it older?)",
    CTL_EXIT_FAILURE, FALSE },
};

int
ctl_report_error (Ctl *ctl, const char *what, const char *plugin, const sd_bus_error *error)
{
  /* The daemon's message may quote a plugin or a file: shown, never obeyed, by the terminal. */
  g_autofree char *message = error->message != NULL && error->message[0] != '\0' ? ctl_printable (error->message)
                                                                                 : NULL;

  for (guint i = 0; i < G_N_ELEMENTS (known_errors); i++)
    {
      if (!sd_bus_error_has_name (error, known_errors[i].name))
        continue;
      if (known_errors[i].keep_message && message != NULL)
        fprintf (stderr, "Failed to %s: %s: %s\n", what, known_errors[i].text, message);
      else
        fprintf (stderr, "Failed to %s: %s\n", what, known_errors[i].text);
      if (sd_bus_error_has_name (error, ERROR_PREFIX "Disabled") && plugin != NULL)
        fprintf (stderr, "Enable it first: hkp-pluginctl enable %s\n", plugin);
      else if (sd_bus_error_has_name (error, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"))
        fprintf (stderr, "polkit wants a password: run it on a terminal without --no-ask-password, or as root.\n");
      else if (sd_bus_error_has_name (error, ERROR_PREFIX "Busy"))
        fprintf (stderr, "Try again once it is done.\n");
      return known_errors[i].status;
    }
  fprintf (stderr, "Failed to %s: %s\n", what,
           message != NULL ? message : g_strerror (-sd_bus_error_get_errno (error)));
  return CTL_EXIT_FAILURE;
}
