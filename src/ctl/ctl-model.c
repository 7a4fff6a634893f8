/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-model.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl-bus.h"

void
ctl_property_free (gpointer data)
{
  CtlProperty *property = data;

  g_free (property->name);
  g_clear_pointer (&property->value, g_variant_unref);
  g_free (property);
}

static CtlObject *
object_new (const char *path, const char *name)
{
  CtlObject *object = g_new0 (CtlObject, 1);

  object->path = g_strdup (path);
  object->name = g_strdup (name);
  object->properties = g_ptr_array_new_with_free_func (ctl_property_free);
  return object;
}

void
ctl_object_free (CtlObject *object)
{
  if (object == NULL)
    return;
  g_free (object->path);
  g_free (object->name);
  g_ptr_array_unref (object->properties);
  g_free (object);
}

void
ctl_model_free (CtlModel *model)
{
  if (model == NULL)
    return;
  ctl_object_free (model->manager);
  g_clear_pointer (&model->plugins, g_ptr_array_unref);
  g_free (model);
}

/* Reads the basic value inside the variant the message is at; NULL (skipped) for anything else. */
static int
read_value (sd_bus_message *message, GVariant **ret)
{
  const char *contents = NULL;
  char type;
  union {
    const char *s;
    int b;
    uint8_t y;
    int16_t n;
    uint16_t q;
    int32_t i;
    uint32_t u;
    int64_t x;
    uint64_t t;
    double d;
  } v;
  int r;

  *ret = NULL;
  if ((r = sd_bus_message_peek_type (message, NULL, &contents)) < 0)
    return r;
  if (contents == NULL || strlen (contents) != 1 || strchr ("sogbynqiuxtd", contents[0]) == NULL)
    return sd_bus_message_skip (message, "v");
  type = contents[0];
  if ((r = sd_bus_message_enter_container (message, 'v', contents)) < 0 ||
      (r = sd_bus_message_read_basic (message, type, &v)) < 0 || (r = sd_bus_message_exit_container (message)) < 0)
    return r;
  switch (type)
    {
    case 's':
      *ret = g_variant_new_string (g_utf8_validate (v.s, -1, NULL) ? v.s : "");
      break;
    case 'o':
      *ret = g_variant_new_object_path (v.s);
      break;
    case 'g':
      *ret = g_variant_new_signature (v.s);
      break;
    case 'b':
      *ret = g_variant_new_boolean (v.b);
      break;
    case 'y':
      *ret = g_variant_new_byte (v.y);
      break;
    case 'n':
      *ret = g_variant_new_int16 (v.n);
      break;
    case 'q':
      *ret = g_variant_new_uint16 (v.q);
      break;
    case 'i':
      *ret = g_variant_new_int32 (v.i);
      break;
    case 'u':
      *ret = g_variant_new_uint32 (v.u);
      break;
    case 'x':
      *ret = g_variant_new_int64 (v.x);
      break;
    case 't':
      *ret = g_variant_new_uint64 (v.t);
      break;
    default:
      *ret = g_variant_new_double (v.d);
      break;
    }
  g_variant_ref_sink (*ret);
  return 0;
}

int
ctl_read_properties (sd_bus_message *message, GPtrArray *properties)
{
  int r;

  if ((r = sd_bus_message_enter_container (message, 'a', "{sv}")) < 0)
    return r;
  while ((r = sd_bus_message_enter_container (message, 'e', "sv")) > 0)
    {
      const char *name;
      GVariant *value;
      if ((r = sd_bus_message_read (message, "s", &name)) < 0 || (r = read_value (message, &value)) < 0 ||
          (r = sd_bus_message_exit_container (message)) < 0)
        return r;
      if (value != NULL)
        {
          CtlProperty *property = g_new0 (CtlProperty, 1);
          property->name = g_strdup (name);
          property->value = value;
          g_ptr_array_add (properties, property);
        }
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (message);
}

GVariant *
ctl_object_get (const CtlObject *object, const char *name)
{
  for (guint i = 0; i < object->properties->len; i++)
    {
      CtlProperty *property = object->properties->pdata[i];
      if (g_str_equal (property->name, name))
        return property->value;
    }
  return NULL;
}

const char *
ctl_object_get_string (const CtlObject *object, const char *name, const char *fallback)
{
  GVariant *value = ctl_object_get (object, name);

  return value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ? g_variant_get_string (value, NULL)
                                                                              : fallback;
}

gint64
ctl_object_get_int (const CtlObject *object, const char *name, gint64 fallback)
{
  GVariant *value = ctl_object_get (object, name);

  if (value == NULL)
    return fallback;
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BYTE:
      return g_variant_get_byte (value);
    case G_VARIANT_CLASS_INT16:
      return g_variant_get_int16 (value);
    case G_VARIANT_CLASS_UINT16:
      return g_variant_get_uint16 (value);
    case G_VARIANT_CLASS_INT32:
      return g_variant_get_int32 (value);
    case G_VARIANT_CLASS_UINT32:
      return g_variant_get_uint32 (value);
    case G_VARIANT_CLASS_INT64:
      return g_variant_get_int64 (value);
    case G_VARIANT_CLASS_UINT64:
      return (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64);
    case G_VARIANT_CLASS_BOOLEAN:
      return g_variant_get_boolean (value);
    default:
      return fallback;
    }
}

char *
ctl_variant_to_text (GVariant *value)
{
  if (value == NULL)
    return g_strdup ("");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) || g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_SIGNATURE))
    return g_strdup (g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "yes" : "no");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTE))
    return g_strdup_printf ("%u", g_variant_get_byte (value));
  return g_variant_print (value, FALSE);
}

static gint
compare_plugins (gconstpointer a, gconstpointer b)
{
  const CtlObject *x = *(CtlObject *const *) a, *y = *(CtlObject *const *) b;
  gint64 px = ctl_object_get_int (x, "Priority", 0), py = ctl_object_get_int (y, "Priority", 0);

  /* The order requests pass through them: priority first, then name. */
  if (px != py)
    return px < py ? -1 : 1;
  return g_strcmp0 (x->name, y->name);
}

static int
on_manager_properties (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  *(sd_bus_message **) userdata = sd_bus_message_ref (reply);
  return 0;
}

/*
 * Reads each plugin with a GetAll of its own, the plugins named by
 * ListPlugins: for a daemon that refuses GetManagedObjects because the reply
 * would be too large for the bus.  FALSE after a message.
 */
static gboolean
load_plugins_one_by_one (Ctl *ctl, CtlModel *model)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  const char *name, *state, *path;
  int r;

  if ((r = sd_bus_message_new_method_call (ctl_bus_get (ctl), &call, CTL_SERVICE, CTL_MANAGER_PATH,
                                           CTL_MANAGER_INTERFACE, "ListPlugins")) < 0)
    {
      fprintf (stderr, "Failed to make a ListPlugins call: %s\n", g_strerror (-r));
      return FALSE;
    }
  if ((reply = ctl_call (ctl, call, FALSE, NULL, NULL, &error)) == NULL)
    {
      ctl_report_error (ctl, "read the plugins", NULL, &error);
      return FALSE;
    }
  if ((r = sd_bus_message_enter_container (reply, 'a', "(sso)")) < 0)
    goto malformed;
  while ((r = sd_bus_message_read (reply, "(sso)", &name, &state, &path)) > 0)
    {
      CtlObject *object = ctl_object_load (ctl, path, CTL_PLUGIN_INTERFACE, name, &error);

      if (object != NULL)
        g_ptr_array_add (model->plugins, object);
      else if (sd_bus_error_has_names (&error, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE))
        sd_bus_error_free (&error); /* removed meanwhile */
      else
        {
          ctl_report_error (ctl, "read the plugins", name, &error);
          return FALSE;
        }
    }
  if (r < 0)
    goto malformed;
  return TRUE;

malformed:
  fprintf (stderr, "Failed to read the plugins: malformed reply: %s\n", g_strerror (-r));
  return FALSE;
}

CtlModel *
ctl_model_load (Ctl *ctl, gboolean with_manager)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (sd_bus_message) manager_reply = NULL;
  g_autoptr (sd_bus_slot) manager_slot = NULL;
  g_autoptr (CtlModel) model = g_new0 (CtlModel, 1);
  sd_bus *bus = ctl_bus_get (ctl);
  int r;

  if (bus == NULL)
    return NULL;
  model->plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) ctl_object_free);
  model->manager = object_new (CTL_MANAGER_PATH, NULL);
  /* The ObjectManager lists the objects below it, not itself: the manager's properties come from a
   * GetAll sent first, whose reply arrives while we wait for GetManagedObjects (two calls in flight). */
  if (with_manager &&
      (r = sd_bus_call_method_async (bus, &manager_slot, CTL_SERVICE, CTL_MANAGER_PATH,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_manager_properties, &manager_reply,
                                     "s", CTL_MANAGER_INTERFACE)) < 0)
    {
      fprintf (stderr, "Failed to ask for the daemon's properties: %s\n", g_strerror (-r));
      return NULL;
    }
  if ((r = sd_bus_message_new_method_call (bus, &call, CTL_SERVICE, CTL_MANAGER_PATH,
                                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")) < 0)
    {
      fprintf (stderr, "Failed to make a GetManagedObjects call: %s\n", g_strerror (-r));
      return NULL;
    }
  reply = ctl_call (ctl, call, FALSE, NULL, NULL, &error);
  if (reply == NULL && sd_bus_error_has_name (&error, SD_BUS_ERROR_LIMITS_EXCEEDED))
    {
      /* Too much for one message (many large configs): one call per plugin instead. */
      if (!load_plugins_one_by_one (ctl, model))
        return NULL;
    }
  else if (reply == NULL)
    {
      ctl_report_error (ctl, "read the plugins", NULL, &error);
      return NULL;
    }
  else if ((r = sd_bus_message_enter_container (reply, 'a', "{oa{sa{sv}}}")) < 0)
    goto malformed;
  while (reply != NULL && (r = sd_bus_message_enter_container (reply, 'e', "oa{sa{sv}}")) > 0)
    {
      g_autofree char *name = NULL;
      const char *path;
      CtlObject *object = NULL;

      if ((r = sd_bus_message_read (reply, "o", &path)) < 0)
        goto malformed;
      if (g_str_equal (path, CTL_MANAGER_PATH))
        object = model->manager;
      else if (sd_bus_path_decode (path, CTL_PLUGIN_PREFIX, &name) > 0)
        g_ptr_array_add (model->plugins, object = object_new (path, name));
      if ((r = sd_bus_message_enter_container (reply, 'a', "{sa{sv}}")) < 0)
        goto malformed;
      while ((r = sd_bus_message_enter_container (reply, 'e', "sa{sv}")) > 0)
        {
          const char *interface;
          if ((r = sd_bus_message_read (reply, "s", &interface)) < 0)
            goto malformed;
          if (object != NULL &&
              (g_str_equal (interface, CTL_MANAGER_INTERFACE) || g_str_equal (interface, CTL_PLUGIN_INTERFACE)))
            r = ctl_read_properties (reply, object->properties);
          else
            r = sd_bus_message_skip (reply, "a{sv}");
          if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
            goto malformed;
        }
      if (r < 0 || (r = sd_bus_message_exit_container (reply)) < 0 || (r = sd_bus_message_exit_container (reply)) < 0)
        goto malformed;
    }
  if (r < 0)
    goto malformed;
  while (with_manager && manager_reply == NULL)
    {
      if ((r = sd_bus_process (bus, NULL)) == 0)
        r = sd_bus_wait (bus, UINT64_MAX);
      if (r < 0 && r != -EINTR)
        {
          fprintf (stderr, "Failed to read the daemon's properties: %s\n", g_strerror (-r));
          return NULL;
        }
    }
  if (with_manager)
    {
      const sd_bus_error *manager_error = sd_bus_message_get_error (manager_reply);
      if (manager_error != NULL)
        {
          ctl_report_error (ctl, "read the daemon's properties", NULL, manager_error);
          return NULL;
        }
      if ((r = ctl_read_properties (manager_reply, model->manager->properties)) < 0)
        goto malformed;
    }
  g_ptr_array_sort (model->plugins, compare_plugins);
  return g_steal_pointer (&model);

malformed:
  fprintf (stderr, "Failed to read the plugins: malformed reply: %s\n", g_strerror (-r));
  return NULL;
}

CtlObject *
ctl_object_load (Ctl *ctl, const char *path, const char *interface, const char *plugin, sd_bus_error *error)
{
  g_autoptr (sd_bus_message) call = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (CtlObject) object = NULL;
  sd_bus *bus = ctl_bus_get (ctl);
  int r;

  if (bus == NULL)
    return NULL;
  if ((r = sd_bus_message_new_method_call (bus, &call, CTL_SERVICE, path, "org.freedesktop.DBus.Properties",
                                           "GetAll")) < 0 ||
      (r = sd_bus_message_append (call, "s", interface)) < 0)
    {
      sd_bus_error_set_errno (error, r);
      return NULL;
    }
  if ((reply = ctl_call (ctl, call, FALSE, NULL, NULL, error)) == NULL)
    return NULL;
  object = object_new (path, plugin);
  if ((r = ctl_read_properties (reply, object->properties)) < 0)
    {
      sd_bus_error_setf (error, SD_BUS_ERROR_INCONSISTENT_MESSAGE, "malformed reply: %s", g_strerror (-r));
      return NULL;
    }
  return g_steal_pointer (&object);
}
