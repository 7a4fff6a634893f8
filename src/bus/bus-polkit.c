/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/* polkit's CheckAuthorization over sd-bus, asynchronously: the loop keeps serving while polkit thinks. */

#include "bus-polkit.h"

#include <stdlib.h>

#include "hkp-log.h"

#define POLKIT_ALLOW_USER_INTERACTION 1u

/* Logs that polkit allowed call (refusals are logged by bus_call_refuse). */
static void
log_allowed (BusCall *call)
{
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, HKP_LOG_FIELD_PLUGIN, call->plugin != NULL ? call->plugin : "",
                    "MESSAGE_ID", HKP_MESSAGE_ID_AUTHORIZATION, HKP_LOG_FIELD_RESULT, "allowed", HKP_LOG_FIELD_WHO,
                    call->who, "MESSAGE", "polkit: %s%s%s by %s (%s), action %s: allowed", call->change->verb,
                    call->plugin != NULL ? " of plugin " : "", call->plugin != NULL ? call->plugin : "", call->who,
                    sd_bus_message_get_sender (call->message), call->change->action);
}

static int
on_polkit_answer (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusCall *call = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);
  int authorized = 0, challenge = 0;
  g_autofree char *why = NULL;

  if (error != NULL)
    {
      why = g_strdup_printf ("polkit could not be asked (%s: %s), so the answer is no", error->name, error->message);
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, why);
      return 0;
    }
  if (sd_bus_message_enter_container (reply, 'r', "bba{ss}") < 0 ||
      sd_bus_message_read (reply, "bb", &authorized, &challenge) < 0)
    {
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED,
                       "polkit gave an answer that cannot be read, so the answer is no");
      return 0;
    }
  if (authorized)
    {
      log_allowed (call);
      bus_call_run (call);
      return 0;
    }
  if (challenge && !call->interactive)
    {
      why = g_strdup_printf ("%s needs interactive authorization: call again allowing it (busctl does; gdbus call "
                             "needs --interactive)",
                             call->change->action);
      bus_call_refuse (call, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, why);
      return 0;
    }
  why = g_strdup_printf ("polkit: not authorized for %s", call->change->action);
  bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, why);
  return 0;
}

static guint64
timeout_usec (void)
{
  const char *text = g_getenv ("HKP_PLUGIND_POLKIT_TIMEOUT_SEC");
  double seconds = text != NULL ? g_ascii_strtod (text, NULL) : 0;

  return (guint64) ((seconds > 0 ? seconds : BUS_POLKIT_TIMEOUT_DEFAULT_SEC) * G_USEC_PER_SEC);
}

void
bus_polkit_check (BusCall *call)
{
  g_autoptr (sd_bus_message) request = NULL;
  int r;

  call->interactive = sd_bus_message_get_allow_interactive_authorization (call->message) > 0;

  r = sd_bus_message_new_method_call (call->service->bus, &request, "org.freedesktop.PolicyKit1",
                                      "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                                      "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append (request, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                               sd_bus_message_get_sender (call->message), call->change->action);
  if (r >= 0)
    r = call->plugin != NULL ? sd_bus_message_append (request, "a{ss}", 1, "plugin", call->plugin)
                             : sd_bus_message_append (request, "a{ss}", 0);
  if (r >= 0)
    r = sd_bus_message_append (request, "us", call->interactive ? POLKIT_ALLOW_USER_INTERACTION : 0u, "");
  if (r >= 0)
    r = sd_bus_call_async (call->service->bus, NULL, request, on_polkit_answer, call, timeout_usec ());
  if (r < 0)
    {
      g_autofree char *why = g_strdup_printf ("polkit could not be asked (%s), so the answer is no", g_strerror (-r));
      bus_call_refuse (call, SD_BUS_ERROR_ACCESS_DENIED, why);
    }
}
