/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-client.h"

#include <string.h>

sd_bus *
hkp_test_client_new (const char *address)
{
  sd_bus *bus = NULL;

  g_assert_cmpint (sd_bus_new (&bus), >=, 0);
  g_assert_cmpint (sd_bus_set_address (bus, address), >=, 0);
  g_assert_cmpint (sd_bus_set_bus_client (bus, 1), >=, 0);
  g_assert_cmpint (sd_bus_start (bus), >=, 0);
  return bus;
}

char *
hkp_test_plugin_path (const char *name)
{
  char *path = NULL;

  g_assert_cmpint (sd_bus_path_encode ("/org/hkp/PluginManager1/plugin", name, &path), >=, 0);
  return path;
}

char *
hkp_test_get_string (sd_bus *client, const char *path, const char *interface, const char *property)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  char *value = NULL;
  int r = sd_bus_get_property_string (client, HKP_TEST_SERVICE, path, interface, property, &error, &value);

  if (r < 0)
    g_error ("Get %s.%s: %s", path, property, error.message);
  return value;
}

guint64
hkp_test_get_uint (sd_bus *client, const char *path, const char *interface, const char *property, char type)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  char signature[2] = { type, '\0' };
  uint32_t u = 0;
  uint64_t t = 0;

  if (sd_bus_get_property (client, HKP_TEST_SERVICE, path, interface, property, &error, &reply, signature) < 0)
    g_error ("Get %s.%s: %s", path, property, error.message);
  gboolean narrow = type == 'u' || type == 'i' || type == 'b'; /* 32 bits on the wire */

  g_assert_cmpint (sd_bus_message_read_basic (reply, type, narrow ? (void *) &u : (void *) &t), >, 0);
  return narrow ? u : t;
}

char *
hkp_test_call (sd_bus *client, const char *path, const char *interface, const char *member, const char *arg,
               const char *arg2, sd_bus_message **reply_out)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r;

  if (arg2 != NULL)
    r = sd_bus_call_method (client, HKP_TEST_SERVICE, path, interface, member, &error, &reply, "ss", arg, arg2);
  else if (arg != NULL)
    r = sd_bus_call_method (client, HKP_TEST_SERVICE, path, interface, member, &error, &reply, "s", arg);
  else
    r = sd_bus_call_method (client, HKP_TEST_SERVICE, path, interface, member, &error, &reply, "");
  if (r < 0)
    {
      g_test_message ("%s: %s: %s", member, error.name, error.message);
      return g_strdup_printf ("%s: %s", error.name, error.message);
    }
  if (reply_out != NULL)
    *reply_out = g_steal_pointer (&reply);
  return NULL;
}

void
hkp_test_assert_error (char *error, const char *name, const char *message_part)
{
  g_assert_nonnull (error);
  if (!g_str_has_prefix (error, name) || strstr (error, message_part) == NULL)
    g_error ("error \"%s\" is not %s with \"%s\"", error, name, message_part);
  g_free (error);
}

char *
hkp_test_reply_string (sd_bus_message *reply)
{
  const char *value = NULL;

  g_assert_cmpint (sd_bus_message_read (reply, "s", &value), >, 0);
  return g_strdup (value);
}

gboolean
hkp_test_busctl_as (const char *address, gint uid, const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  int status;

  g_clear_pointer (out, g_free);
  g_clear_pointer (err, g_free);
  g_ptr_array_add (argv, g_strdup ("setpriv"));
  g_ptr_array_add (argv, g_strdup_printf ("--reuid=%d", uid));
  g_ptr_array_add (argv, g_strdup_printf ("--regid=%d", uid));
  g_ptr_array_add (argv, g_strdup ("--clear-groups"));
  g_ptr_array_add (argv, g_strdup ("busctl"));
  g_ptr_array_add (argv, g_strdup_printf ("--address=%s", address));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  g_assert_true (
    g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("busctl as uid %d: %s%s", uid, *out, *err);
  return g_spawn_check_wait_status (status, NULL);
}
