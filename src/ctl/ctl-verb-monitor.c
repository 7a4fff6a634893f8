/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor: state, health and config events as they happen, until SIGINT or SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ctl-bus.h"
#include "ctl-model.h"
#include "ctl-output.h"

typedef struct {
  Ctl *ctl;
  GHashTable *known; /* object path → (property name → GVariant): what was last seen */
} Monitor;

/* Remembers the properties of path; returns those whose value differs from what was known. */
static GPtrArray *
remember (Monitor *monitor, const char *path, GPtrArray *properties)
{
  GPtrArray *changed = g_ptr_array_new_with_free_func (ctl_property_free);
  GHashTable *values = g_hash_table_lookup (monitor->known, path);

  if (values == NULL)
    {
      values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
      g_hash_table_insert (monitor->known, g_strdup (path), values);
    }
  for (guint i = 0; i < properties->len; i++)
    {
      CtlProperty *property = properties->pdata[i];
      GVariant *old = g_hash_table_lookup (values, property->name);
      if (old != NULL && g_variant_equal (old, property->value))
        continue;
      g_hash_table_insert (values, g_strdup (property->name), g_variant_ref (property->value));
      {
        CtlProperty *copy = g_new0 (CtlProperty, 1);
        copy->name = g_strdup (property->name);
        copy->value = g_variant_ref (property->value);
        g_ptr_array_add (changed, copy);
      }
    }
  return changed;
}

/* Prints one event: a line on screen ("12:00:01.234 NAME: Key=Value …"), or one JSON object per line. */
static void
print_event (Monitor *monitor, const char *plugin, const char *event, GPtrArray *properties)
{
  Ctl *ctl = monitor->ctl;
  gint64 now = g_get_real_time ();

  if (ctl->options.json != CTL_JSON_OFF)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *text = NULL;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "time");
      json_builder_add_int_value (builder, now);
      json_builder_set_member_name (builder, "plugin");
      if (plugin != NULL)
        json_builder_add_string_value (builder, plugin);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, event);
      if (properties != NULL)
        {
          json_builder_set_member_name (builder, "properties");
          json_builder_begin_object (builder);
          for (guint i = 0; i < properties->len; i++)
            {
              CtlProperty *property = properties->pdata[i];
              json_builder_set_member_name (builder, property->name);
              json_builder_add_value (builder, ctl_variant_to_json (property->value));
            }
          json_builder_end_object (builder);
        }
      json_builder_end_object (builder);
      /* One object per line, whatever --json says: a stream a script reads line by line. */
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      text = json_generator_to_data (generator, NULL);
      printf ("%s\n", text);
    }
  else
    {
      g_autoptr (GDateTime) time = g_date_time_new_from_unix_local (now / G_USEC_PER_SEC);
      g_autofree char *clock = g_date_time_format (time, "%H:%M:%S");
      g_autofree char *who = ctl_printable (plugin != NULL ? plugin : "hkp-plugind");
      printf ("%s.%03d %s%s%s:", clock, (int) (now / 1000 % 1000), ctl_color_on (ctl, CTL_COLOR_BOLD), who,
              ctl_color_off (ctl, CTL_COLOR_BOLD));
      if (!g_str_equal (event, "changed"))
        printf (" %s", event);
      for (guint i = 0; properties != NULL && i < properties->len; i++)
        {
          CtlProperty *property = properties->pdata[i];
          g_autofree char *text = ctl_variant_to_text (property->value);
          CtlColor color = g_str_equal (property->name, "State")   ? ctl_state_color (text)
            : g_str_equal (property->name, "Health")               ? ctl_health_color (text)
            : g_str_equal (property->name, "OverallHealth")        ? ctl_health_color (text)
            : g_str_equal (property->name, "LastError") && text[0] ? CTL_COLOR_BAD
                                                                   : CTL_COLOR_NONE;
          g_autofree char *shown = ctl_printable (text);
          printf (" %s=%s%s%s", property->name, ctl_color_on (ctl, color), shown, ctl_color_off (ctl, color));
        }
      putchar ('\n');
    }
  /* Whoever reads a pipe sees each event as it happens. */
  fflush (stdout);
}

static char *
plugin_of (const char *path)
{
  char *name = NULL;

  if (sd_bus_path_decode (path, CTL_PLUGIN_PREFIX, &name) <= 0)
    return NULL;
  return name;
}

static int
on_properties_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Monitor *monitor = userdata;
  g_autoptr (GPtrArray) properties = g_ptr_array_new_with_free_func (ctl_property_free);
  g_autoptr (GPtrArray) changed = NULL;
  g_autofree char *plugin = plugin_of (sd_bus_message_get_path (message));
  const char *interface;

  if (sd_bus_message_read (message, "s", &interface) < 0 ||
      (!g_str_equal (interface, CTL_PLUGIN_INTERFACE) && !g_str_equal (interface, CTL_MANAGER_INTERFACE)))
    return 0;
  if (ctl_read_properties (message, properties) < 0)
    return 0;
  if (sd_bus_message_enter_container (message, 'a', "s") > 0)
    {
      const char *invalidated;
      /* Changed without a value: say so, the value is one show away. */
      while (sd_bus_message_read (message, "s", &invalidated) > 0)
        {
          CtlProperty *property = g_new0 (CtlProperty, 1);
          property->name = g_strdup (invalidated);
          property->value = g_variant_ref_sink (g_variant_new_string ("(changed)"));
          g_ptr_array_add (properties, property);
        }
    }
  /* The daemon announces related properties together; only what really changed is news. */
  changed = remember (monitor, sd_bus_message_get_path (message), properties);
  if (changed->len > 0)
    print_event (monitor, plugin, "changed", changed);
  return 0;
}

static int
on_interfaces (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Monitor *monitor = userdata;
  gboolean added = g_str_equal (sd_bus_message_get_member (message), "InterfacesAdded");
  g_autoptr (GPtrArray) properties = g_ptr_array_new_with_free_func (ctl_property_free);
  g_autofree char *plugin = NULL;
  const char *path;

  if (sd_bus_message_read (message, "o", &path) < 0 || (plugin = plugin_of (path)) == NULL)
    return 0;
  if (added && sd_bus_message_enter_container (message, 'a', "{sa{sv}}") > 0)
    while (sd_bus_message_enter_container (message, 'e', "sa{sv}") > 0)
      {
        const char *interface;
        if (sd_bus_message_read (message, "s", &interface) < 0)
          return 0;
        if (g_str_equal (interface, CTL_PLUGIN_INTERFACE) ? ctl_read_properties (message, properties) < 0
                                                          : sd_bus_message_skip (message, "a{sv}") < 0)
          return 0;
        if (sd_bus_message_exit_container (message) < 0)
          return 0;
      }
  if (added)
    g_ptr_array_unref (remember (monitor, path, properties));
  else
    g_hash_table_remove (monitor->known, path);
  print_event (monitor, plugin, added ? "added" : "removed", added ? properties : NULL);
  return 0;
}

static int
on_owner_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (message, "sss", &name, &old_owner, &new_owner) < 0 || !g_str_equal (name, CTL_SERVICE))
    return 0;
  print_event (userdata, NULL, new_owner[0] != '\0' ? "started" : "stopped", NULL);
  return 0;
}

int
ctl_verb_monitor (Ctl *ctl, int argc, char **argv)
{
  g_autoptr (sd_bus_slot) properties = NULL;
  g_autoptr (sd_bus_slot) added = NULL;
  g_autoptr (sd_bus_slot) removed = NULL;
  g_autoptr (sd_bus_slot) owner = NULL;
  g_autoptr (GHashTable) known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify) g_hash_table_unref);
  g_autoptr (CtlModel) model = NULL;
  Monitor monitor = { .ctl = ctl, .known = known };
  sd_bus *bus = ctl_bus_get (ctl);
  sigset_t stop;
  int r, signals;

  if (bus == NULL)
    return CTL_EXIT_FAILURE;
  /* Each match is in force once its call returns: changes made after the note below are all seen. */
  if ((r = sd_bus_add_match (bus, &properties,
                             "type='signal',sender='" CTL_SERVICE "',interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',path_namespace='" CTL_MANAGER_PATH "'",
                             on_properties_changed, &monitor)) < 0 ||
      (r = sd_bus_match_signal (bus, &added, CTL_SERVICE, CTL_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                "InterfacesAdded", on_interfaces, &monitor)) < 0 ||
      (r = sd_bus_match_signal (bus, &removed, CTL_SERVICE, CTL_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                "InterfacesRemoved", on_interfaces, &monitor)) < 0 ||
      (r = sd_bus_match_signal (bus, &owner, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                "NameOwnerChanged", on_owner_changed, &monitor)) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to follow hkp-plugind's signals: %s", g_strerror (-r));
  /* What is, once the matches are in force: later signals are compared with it. */
  if ((model = ctl_model_load (ctl, TRUE)) == NULL)
    return CTL_EXIT_FAILURE;
  g_ptr_array_unref (remember (&monitor, CTL_MANAGER_PATH, model->manager->properties));
  for (guint i = 0; i < model->plugins->len; i++)
    {
      CtlObject *plugin = model->plugins->pdata[i];
      g_ptr_array_unref (remember (&monitor, plugin->path, plugin->properties));
    }

  /* SIGINT and SIGTERM end the monitor cleanly, through the same poll as the bus. */
  sigemptyset (&stop);
  sigaddset (&stop, SIGINT);
  sigaddset (&stop, SIGTERM);
  sigprocmask (SIG_BLOCK, &stop, NULL);
  if ((signals = signalfd (-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to watch for signals: %s", g_strerror (errno));
  ctl_note (ctl, "Monitoring hkp-plugind; Ctrl-C stops.");

  for (;;)
    {
      struct pollfd fds[2] = { { .fd = sd_bus_get_fd (bus), .events = (short) sd_bus_get_events (bus) },
                               { .fd = signals, .events = POLLIN } };
      uint64_t timeout = UINT64_MAX;

      while ((r = sd_bus_process (bus, NULL)) > 0)
        ;
      if (r < 0)
        {
          close (signals);
          return ctl_fail (CTL_EXIT_FAILURE, "Lost the bus: %s", g_strerror (-r));
        }
      fds[0].events = (short) sd_bus_get_events (bus);
      sd_bus_get_timeout (bus, &timeout);
      {
        int wait_ms = -1;
        if (timeout != UINT64_MAX)
          {
            struct timespec ts;
            uint64_t now;
            clock_gettime (CLOCK_MONOTONIC, &ts);
            now = (uint64_t) ts.tv_sec * G_USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
            wait_ms = timeout > now ? (int) MIN ((timeout - now + 999) / 1000, (uint64_t) G_MAXINT) : 0;
          }
        if (poll (fds, 2, wait_ms) < 0 && errno != EINTR)
          break;
      }
      if (fds[1].revents & POLLIN)
        break;
    }
  close (signals);
  return CTL_EXIT_SUCCESS;
}
