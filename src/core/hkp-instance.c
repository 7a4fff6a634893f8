/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-instance.h"

#include <glib/gstdio.h>

#include "hkp-error.h"

struct _HkpInstance {
  HkpModule *module; /* in the daemon */
  void *handle;
  HkpHost *host; /* isolated */
  char *copy_path; /* isolated: the module copy its host loaded, deleted with the instance */
  char *display_path;
  char *plugin_name;
  gint shut_down;
  HkpTimedQueue *call_deadlines; /* made on first call, atomically */
  gint stuck;
  gint health_running; /* a health() call is in flight, atomic */
};

/* Returns the plugin's message from buffer as valid UTF-8, or fallback if it wrote none; caller frees. */
static char *
plugin_message (char *buffer, gsize size, const char *fallback)
{
  buffer[size - 1] = '\0';
  return g_utf8_make_valid (buffer[0] != '\0' ? buffer : fallback, -1);
}

HkpInstance *
hkp_instance_new (HkpModule *module, const char *plugin_name, const char *config_json, GError **error)
{
  const hkp_plugin_descriptor *d = hkp_module_get_descriptor (module);
  char message[HKP_PLUGIN_ERROR_SIZE] = "";
  HkpInstance *instance;
  void *handle = NULL;

  if (!hkp_module_validate_config (module, config_json, error))
    return NULL;
  if (d->init (config_json, &handle, message, sizeof message) != 0)
    {
      g_autofree char *text = plugin_message (message, sizeof message, "no reason given");
      g_set_error (error, HKP_ERROR, HKP_ERROR_INIT_FAILED, "init failed: %s", text);
      return NULL;
    }

  instance = g_atomic_rc_box_new0 (HkpInstance);
  instance->module = hkp_module_ref (module);
  instance->handle = handle;
  instance->plugin_name = g_strdup (plugin_name);
  return instance;
}

HkpInstance *
hkp_instance_new_isolated (HkpHost *host, const char *plugin_name, const char *copy_path, const char *display_path)
{
  HkpInstance *instance = g_atomic_rc_box_new0 (HkpInstance);

  instance->host = hkp_host_ref (host);
  instance->copy_path = g_strdup (copy_path);
  instance->display_path = g_utf8_make_valid (display_path, -1);
  instance->plugin_name = g_strdup (plugin_name);
  return instance;
}

/* How long an isolated instance's host may take to run shutdown() and exit, when the caller gives no bound. */
#define HOST_STOP_DEFAULT_MS 10000

void
hkp_instance_shutdown_within (HkpInstance *instance, guint timeout_ms)
{
  if (!g_atomic_int_compare_and_exchange (&instance->shut_down, 0, 1))
    return;
  if (instance->host != NULL)
    {
      hkp_host_stop (instance->host, timeout_ms);
      return;
    }
  hkp_module_get_descriptor (instance->module)->shutdown (instance->handle);
  instance->handle = NULL;
}

void
hkp_instance_shutdown (HkpInstance *instance)
{
  hkp_instance_shutdown_within (instance, HOST_STOP_DEFAULT_MS);
}

HkpHost *
hkp_instance_get_host (HkpInstance *instance)
{
  return instance->host;
}

const char *
hkp_instance_get_copy_path (HkpInstance *instance)
{
  return instance->copy_path;
}

const char *
hkp_instance_get_version (HkpInstance *instance)
{
  return instance->host != NULL ? hkp_host_get_module_version (instance->host)
                                : hkp_module_get_version (instance->module);
}

const char *
hkp_instance_get_description (HkpInstance *instance)
{
  return instance->host != NULL ? hkp_host_get_module_description (instance->host)
                                : hkp_module_get_description (instance->module);
}

const char *
hkp_instance_get_module_path (HkpInstance *instance)
{
  return instance->host != NULL ? instance->display_path : hkp_module_get_path (instance->module);
}

static void
instance_clear (HkpInstance *instance)
{
  if (instance->host != NULL)
    {
      /* A host not stopped is killed with its last reference: nothing of it stays in the daemon. */
      g_clear_pointer (&instance->host, hkp_host_unref);
      if (instance->copy_path != NULL)
        g_unlink (instance->copy_path);
    }
  else if (!g_atomic_int_get (&instance->shut_down))
    {
      /* Never shut down: keep the module mapped, since the plugin may still own threads in it. */
      g_warning ("plugin %s: instance dropped without shutdown; its module stays loaded", instance->plugin_name);
    }
  else
    hkp_module_unref (instance->module);
  g_clear_pointer (&instance->call_deadlines, hkp_timed_queue_free);
  g_free (instance->copy_path);
  g_free (instance->display_path);
  g_free (instance->plugin_name);
}

HkpInstance *
hkp_instance_ref (HkpInstance *instance)
{
  return g_atomic_rc_box_acquire (instance);
}

void
hkp_instance_unref (HkpInstance *instance)
{
  g_atomic_rc_box_release_full (instance, (GDestroyNotify) instance_clear);
}

HkpModule *
hkp_instance_get_module (HkpInstance *instance)
{
  return instance->module;
}

gboolean
hkp_instance_is_shut_down (HkpInstance *instance)
{
  return g_atomic_int_get (&instance->shut_down) != 0;
}

void *
hkp_instance_get_handle (HkpInstance *instance)
{
  return instance->handle;
}

HkpTimedQueue *
hkp_instance_get_call_deadlines (HkpInstance *instance, HkpWatchdog *watchdog)
{
  HkpTimedQueue *queue = g_atomic_pointer_get (&instance->call_deadlines);

  if (queue == NULL)
    {
      queue = hkp_timed_queue_new (watchdog);
      if (!g_atomic_pointer_compare_and_exchange (&instance->call_deadlines, NULL, queue))
        {
          hkp_timed_queue_free (queue);
          queue = g_atomic_pointer_get (&instance->call_deadlines);
        }
    }
  return queue;
}

guint
hkp_instance_add_stuck (HkpInstance *instance, gint delta)
{
  return (guint) (g_atomic_int_add (&instance->stuck, delta) + delta);
}

guint
hkp_instance_get_stuck (HkpInstance *instance)
{
  return (guint) g_atomic_int_get (&instance->stuck);
}

gboolean
hkp_instance_begin_health (HkpInstance *instance)
{
  return g_atomic_int_compare_and_exchange (&instance->health_running, FALSE, TRUE);
}

void
hkp_instance_end_health (HkpInstance *instance)
{
  g_atomic_int_set (&instance->health_running, FALSE);
}
