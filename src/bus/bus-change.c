/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/*
 * The mutating calls: one table entry each (journal verb, polkit action,
 * engine operation), and the one path every D-Bus member that changes
 * something takes: check the name, learn the caller's uid, authorize, run the
 * engine operation, reply once the outcome is known, log who asked.
 */

#include "bus-private.h"

#include <errno.h>
#include <string.h>

#include "bus-polkit.h"
#include "hkp-audit.h"
#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-manifest.h"
#include "hkp-util.h"

/* ---- the table ---------------------------------------------------------- */

static void
start_reload (BusCall *call)
{
  hkp_engine_reload_async (call->service->engine, call->plugin, bus_call_done, call);
}

static void
start_set_config (BusCall *call)
{
  hkp_engine_set_config_async (call->service->engine, call->plugin, call->json, call->who, bus_call_done, call);
}

static void
start_enable (BusCall *call)
{
  hkp_engine_set_enabled_async (call->service->engine, call->plugin, TRUE, call->who, bus_call_done, call);
}

static void
start_disable (BusCall *call)
{
  hkp_engine_set_enabled_async (call->service->engine, call->plugin, FALSE, call->who, bus_call_done, call);
}

static void
start_rollback (BusCall *call)
{
  hkp_engine_rollback_config_async (call->service->engine, call->plugin, call->who, bus_call_done, call);
}

static void
start_rescan (BusCall *call)
{
  hkp_engine_rescan_async (call->service->engine, bus_call_done, call);
}

static void
start_restore (BusCall *call)
{
  hkp_engine_restore_config_async (call->service->engine, call->plugin, call->version, call->who, bus_call_done, call);
}

/* Good files are applied all the same; the caller hears of every one refused. */
static gboolean
finish_rescan (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_auto (HkpRescanSummary) summary = { 0 };
  g_autofree char *refused = NULL;

  if (!hkp_engine_rescan_finish (engine, result, &summary, error))
    return FALSE;
  if (summary.refused == NULL || summary.refused->len == 0)
    return TRUE;
  refused = hkp_rescan_summary_describe_refused (&summary);
  g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "%u plugin file%s refused (the others were applied): %s",
               summary.refused->len, summary.refused->len == 1 ? "" : "s", refused);
  return FALSE;
}

/* Answers with the plugin's config, secrets and all: the caller was allowed to configure it. */
static void
start_get_secret (BusCall *call)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = hkp_engine_get_config (call->service->engine, call->plugin, &error);

  bus_call_reply_string (call, json, error);
}

#define ACTION_RELOAD "org.hkp.PluginManager1.reload"
#define ACTION_CONFIGURE "org.hkp.PluginManager1.configure"
#define ACTION_MANAGE "org.hkp.PluginManager1.manage"

const BusChange bus_changes[BUS_N_CHANGES] = {
  [BUS_CHANGE_RELOAD] = { "reload", ACTION_RELOAD, start_reload, hkp_engine_reload_finish },
  [BUS_CHANGE_SET_CONFIG] = { "config change", ACTION_CONFIGURE, start_set_config, hkp_engine_change_finish },
  [BUS_CHANGE_ENABLE] = { "enable", ACTION_MANAGE, start_enable, hkp_engine_change_finish },
  [BUS_CHANGE_DISABLE] = { "disable", ACTION_MANAGE, start_disable, hkp_engine_change_finish },
  [BUS_CHANGE_ROLLBACK] = { "rollback", ACTION_CONFIGURE, start_rollback, hkp_engine_change_finish },
  [BUS_CHANGE_RESCAN] = { "rescan", ACTION_RELOAD, start_rescan, finish_rescan },
  [BUS_CHANGE_RESTORE] = { "restore", ACTION_CONFIGURE, start_restore, hkp_engine_change_finish },
  /* Not a change, but as sensitive as one: the secrets a config holds. */
  [BUS_CHANGE_GET_SECRET] = { "secret config read", ACTION_CONFIGURE, start_get_secret, NULL },
};

/* ---- errors ------------------------------------------------------------- */

/* Changes of one unprivileged uid, and of all of them, that may wait for polkit and their outcome at once. */
#define PENDING_PER_UID_MAX 4
#define PENDING_UNPRIVILEGED_MAX 32

/* The longest error message sent on the bus, in bytes. */
#define BUS_ERROR_MESSAGE_MAX 65536

int
bus_error_from_gerror (sd_bus_error *ret_error, const GError *error)
{
  HkpErrorCode code = error->domain == HKP_ERROR ? (HkpErrorCode) error->code : HKP_ERROR_FAILED;
  /* sd-bus sends no reply at all with a message that is not UTF-8: the caller would wait for its timeout. */
  g_autofree char *valid = g_utf8_make_valid (error->message, -1);
  /* Nor one over the bus's size limit: dbus-daemon would drop the daemon instead.  No error needs more. */
  g_autofree char *message = hkp_utf8_truncate (valid, BUS_ERROR_MESSAGE_MAX);

  return sd_bus_error_set (ret_error, hkp_error_code_to_dbus_name (code), message);
}

/* ---- calls ------------------------------------------------------------- */

static void
call_free (BusCall *call)
{
  g_hash_table_remove (call->service->pending_calls, call);
  sd_bus_message_unref (call->message);
  g_free (call->plugin);
  g_free (call->json);
  g_free (call->who);
  g_free (call);
}

void
bus_calls_drop (BusService *service)
{
  g_autoptr (GList) calls = g_hash_table_get_keys (service->pending_calls);

  if (calls != NULL)
    g_info ("dropping %u unanswered D-Bus calls at exit", g_list_length (calls));
  for (GList *l = calls; l != NULL; l = l->next)
    call_free (l->data);
}

/* Returns "reload of plugin alpha" or "rescan" for messages; caller frees. */
static char *
call_what (BusCall *call)
{
  return call->plugin != NULL ? g_strdup_printf ("%s of plugin %s", call->change->verb, call->plugin)
                              : g_strdup (call->change->verb);
}

void
bus_call_refuse (BusCall *call, const char *error_name, const char *why)
{
  g_autofree char *what = call_what (call);
  int r = sd_bus_reply_method_errorf (call->message, error_name, "%s", why);

  if (r < 0 && r != -ENOTCONN)
    g_warning ("cannot reply to %s: %s", sd_bus_message_get_sender (call->message), g_strerror (-r));
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, call->plugin != NULL ? call->plugin : "",
                    "MESSAGE_ID", HKP_MESSAGE_ID_AUTHORIZATION, HKP_LOG_FIELD_RESULT, "denied", HKP_LOG_FIELD_WHO,
                    call->who != NULL ? call->who : "", "MESSAGE", "%s by %s (%s) refused: %s", what,
                    call->who != NULL ? call->who : "an unknown caller", sd_bus_message_get_sender (call->message),
                    why);
  call_free (call);
}

void
bus_call_run (BusCall *call)
{
  call->change->start (call);
}

void
bus_call_reply_string (BusCall *call, const char *value, const GError *error)
{
  int r;

  if (error == NULL)
    r = sd_bus_reply_method_return (call->message, "s", value);
  else
    {
      __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
      bus_error_from_gerror (&bus_error, error);
      r = sd_bus_reply_method_error (call->message, &bus_error);
    }
  if (r < 0 && r != -ENOTCONN)
    g_warning ("cannot reply to %s: %s", sd_bus_message_get_sender (call->message), g_strerror (-r));
  hkp_audit_change (call->change->verb, call->plugin, call->who, error);
  call_free (call);
}

void
bus_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BusCall *call = user_data;
  g_autoptr (GError) error = NULL;
  int r;

  if (call->change->finish (HKP_ENGINE (source), result, &error))
    r = sd_bus_reply_method_return (call->message, NULL);
  else
    {
      __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
      bus_error_from_gerror (&bus_error, error);
      r = sd_bus_reply_method_error (call->message, &bus_error);
    }
  if (r < 0 && r != -ENOTCONN)
    g_warning ("cannot reply to %s: %s", sd_bus_message_get_sender (call->message), g_strerror (-r));
  hkp_audit_change (call->change->verb, call->plugin, call->who, error);
  call_free (call);
}

/* The bus said who the caller is: authorize, then run. */
/*
 * Whether call, of an unprivileged uid, may wait for polkit and its outcome:
 * a few per uid, and a bounded number in all, so that no local user can fill
 * the daemon's outstanding polkit calls (dbus-daemon allows 128) and lock the
 * admins out, nor hold memory without bound.  root and the daemon's own uid
 * are never held back.
 */
static gboolean
caller_may_wait (BusService *service, BusCall *call)
{
  GHashTableIter iter;
  gpointer key;
  guint same = 0, unprivileged = 0;

  g_hash_table_iter_init (&iter, service->pending_calls);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      BusCall *other = key;

      if (other == call || other->uid == (uid_t) -1 || other->uid == 0 || other->uid == service->own_uid)
        continue;
      unprivileged++;
      same += other->uid == call->uid;
    }
  return same < PENDING_PER_UID_MAX && unprivileged < PENDING_UNPRIVILEGED_MAX;
}

static int
on_caller_uid (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusCall *call = userdata;
  BusService *service = call->service;
  uint32_t uid = 0;

  if (sd_bus_message_is_method_error (reply, NULL) || sd_bus_message_read (reply, "u", &uid) < 0)
    {
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, "the bus could not say who the caller is");
      return 0;
    }
  call->uid = uid;
  call->who = g_strdup_printf ("uid %u via D-Bus", (unsigned) uid);
  if (uid != 0 && uid != service->own_uid && !caller_may_wait (service, call))
    {
      bus_call_refuse (call, SD_BUS_ERROR_LIMITS_EXCEEDED,
                       "too many changes are waiting for their authorization or outcome: try again later");
      return 0;
    }
  if (service->use_polkit)
    bus_polkit_check (call);
  else if (uid != service->own_uid)
    {
      g_autofree char *why = g_strdup_printf ("only uid %u may change plugins (running with --no-polkit)",
                                              (unsigned) service->own_uid);
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, why);
    }
  else
    bus_call_run (call);
  return 0;
}

int
bus_change_start (BusService *service, sd_bus_message *message, BusChangeKind kind, const char *name, const char *json,
                  sd_bus_error *ret_error)
{
  return bus_change_start_version (service, message, kind, name, json, 0, ret_error);
}

int
bus_change_start_version (BusService *service, sd_bus_message *message, BusChangeKind kind, const char *name,
                          const char *json, guint version, sd_bus_error *ret_error)
{
  g_autoptr (GError) error = NULL;
  BusCall *call;
  int r;

  if (name != NULL && hkp_engine_find (service->engine, name, &error) == NULL)
    return bus_error_from_gerror (ret_error, error);
  /* Before anything is kept or asked: a config the engine would refuse for its size waits for no authorization. */
  if (json != NULL && !hkp_manifest_check_config_size (strlen (json), &error))
    return bus_error_from_gerror (ret_error, error);
  call = g_new0 (BusCall, 1);
  call->service = service;
  call->message = sd_bus_message_ref (message);
  call->change = &bus_changes[kind];
  call->plugin = g_strdup (name);
  call->json = g_strdup (json);
  call->version = version;
  call->uid = (uid_t) -1;
  g_hash_table_add (service->pending_calls, call);
  /* Ask the bus who the sender is without blocking the loop; nothing has changed yet.  If the service
   * goes first, it frees the pending calls, and the bus slot with them. */
  r = sd_bus_call_method_async (service->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "GetConnectionUnixUser", on_caller_uid, call, "s",
                                sd_bus_message_get_sender (message));
  if (r < 0)
    {
      g_autofree char *why = g_strdup_printf ("the bus could not say who the caller is: %s", g_strerror (-r));
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, why);
    }
  /* Replied to later, once the outcome is known. */
  return 1;
}
