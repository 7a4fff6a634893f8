/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-host"

/*
 * What a host sends, handled on its I/O thread.  The host is confined, not
 * trusted: every string is made valid UTF-8 and bounded, and answer headers
 * are checked again before they can reach an HTTP answer.
 */

#include <string.h>

#include "hkp-error.h"
#include "hkp-host-private.h"
#include "hkp-host-process.h"
#include "hkp-log.h"
#include "hkp-util.h"

#define REASON_MAX 1024
#define LOG_MESSAGE_MAX 16384
#define HEALTH_TEXT_MAX 1024
#define HEALTH_KEY_MAX 128
#define LOG_DOMAIN_MAX 256
#define MODULE_TEXT_MAX 1024 /* a module's name, version and description */

/* Returns text as valid UTF-8 of at most max bytes: text itself if it is, else a copy in *copy. */
static const char *
clean_text (const HkpHostString *s, gsize max, char **copy)
{
  if (s->len <= max && g_utf8_validate (s->str, s->len, NULL))
    return s->str;
  {
    g_autofree char *valid = g_utf8_make_valid (s->str, s->len);
    *copy = hkp_utf8_truncate (valid, max);
  }
  return *copy;
}

/* Hands an answer to its call; FALSE (the host killed) for one to a request it was not asked, or answered already. */
static gboolean
on_answer (HkpHost *host, const HkpHostRecord *record)
{
  const char *headers[2 * HKP_HOST_ITEMS_MAX + 1];
  g_autofree char *reason_copy = NULL;
  HkpHostAnswer answer = { .outcome = HKP_HOST_ANSWERED };
  guint n = 0;
  HkpHostCall *call;
  gboolean known;

  g_mutex_lock (&host->lock);
  call = g_hash_table_lookup (host->calls, &record->id);
  known = call != NULL;
  if (call != NULL)
    {
      g_hash_table_remove (host->calls, &record->id);
      if (call->kill_at != 0)
        {
          /* Answered after its deadline: its caller has had TIMED_OUT already. */
          g_queue_unlink (&host->overdue, &call->link);
          g_free (call);
          call = NULL;
        }
      else
        g_queue_unlink (&host->pending, &call->link);
    }
  g_mutex_unlock (&host->lock);
  if (call == NULL)
    {
      /* Every call stays known until its answer, even past its deadline: anything else is forged, and a flood of
       * them would cost the daemon a thread's CPU for nothing. */
      if (!known)
        {
          g_autofree char *problem = g_strdup_printf (
            "an answer to request %" G_GUINT64_FORMAT ", which it was not asked or has answered already", record->id);
          return hkp_host_protocol_error (host, problem);
        }
      return TRUE;
    }

  /* The host is confined, not trusted: what reaches the daemon's HTTP answers is checked again here. */
  for (guint i = 0; i < record->n_items; i++)
    {
      const HkpHostItem *item = &record->items[i];
      if (hkp_host_header_name_valid (item->name.str) && hkp_host_header_value_valid (item->value.str))
        {
          headers[n++] = item->name.str;
          headers[n++] = item->value.str;
        }
    }
  headers[n] = NULL;
  answer.verdict = (int) record->nums[HKP_HOST_ANSWER_VERDICT];
  answer.status = (int) record->nums[HKP_HOST_ANSWER_STATUS];
  answer.reason = clean_text (&record->strs[0], REASON_MAX, &reason_copy);
  answer.headers = headers;
  call->callback (&answer, call->user_data);
  g_free (call);
  return TRUE;
}

static void
on_health_report (HkpHost *host, const HkpHostRecord *record)
{
  HkpHostHealthCallback callback = NULL;
  gpointer user_data = NULL;
  HkpHealth health;

  g_mutex_lock (&host->lock);
  if (host->health_in_flight && host->health_id == record->id)
    {
      callback = host->health_callback;
      user_data = host->health_data;
      host->health_in_flight = FALSE;
      host->health_callback = NULL;
    }
  g_mutex_unlock (&host->lock);
  if (callback == NULL)
    return;

  hkp_health_init (&health);
  switch (record->nums[0])
    {
    case 0: /* HKP_HEALTH_HEALTHY */
      health.status = HKP_HEALTH_STATUS_HEALTHY;
      break;
    case 1: /* HKP_HEALTH_DEGRADED */
      health.status = HKP_HEALTH_STATUS_DEGRADED;
      break;
    default:
      health.status = HKP_HEALTH_STATUS_UNHEALTHY;
      break;
    }
  g_free (health.message);
  {
    g_autofree char *copy = NULL;
    health.message = g_strdup (clean_text (&record->strs[0], HEALTH_TEXT_MAX, &copy));
  }
  for (guint i = 0; i < record->n_items; i++)
    {
      const HkpHostItem *item = &record->items[i];
      g_autofree char *key_copy = NULL, *text_copy = NULL;
      HkpHealthCheck *check;
      if (item->name.len == 0)
        continue;
      check = g_new0 (HkpHealthCheck, 1);
      check->key = g_strdup (clean_text (&item->name, HEALTH_KEY_MAX, &key_copy));
      check->is_int = item->is_number;
      check->int_value = item->number;
      check->text = item->is_number ? NULL : g_strdup (clean_text (&item->value, HEALTH_TEXT_MAX, &text_copy));
      g_ptr_array_add (health.checks, check);
    }
  health.last_check_usec = g_get_real_time ();
  callback (HKP_HOST_ANSWERED, &health, user_data);
  hkp_health_clear (&health);
}

static void
on_validated (HkpHost *host, const HkpHostRecord *record)
{
  g_mutex_lock (&host->lock);
  for (GList *l = host->validations; l != NULL; l = l->next)
    {
      HkpHostValidation *validation = l->data;
      if (validation->id == record->id)
        {
          g_autofree char *copy = NULL;

          /* A second answer to the same validation is no answer. */
          if (validation->done)
            break;
          validation->done = TRUE;
          validation->ok = record->nums[0] != 0;
          validation->message = g_strdup (clean_text (&record->strs[0], HKP_HOST_MESSAGE_MAX, &copy));
          g_cond_broadcast (&host->cond);
        }
    }
  g_mutex_unlock (&host->lock);
}

void
hkp_host_report_dropped_logs (HkpHost *host)
{
  guint64 dropped = hkp_rate_limit_take_dropped (&host->log_urgent) + hkp_rate_limit_take_dropped (&host->log_chatty);

  host->log_report_at = 0;
  if (dropped == 0)
    return;
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, host->plugin_name, "MESSAGE",
                    "plugin %s: %" G_GUINT64_FORMAT " log lines dropped (more than %u at once, or %u a second)",
                    host->plugin_name, dropped, HKP_HOST_LOG_BURST, HKP_HOST_LOG_RATE);
}

gint64
hkp_host_report_dropped_logs_due (HkpHost *host, gint64 now)
{
  if (host->log_report_at != 0 && host->log_report_at <= now)
    hkp_host_report_dropped_logs (host);
  return host->log_report_at != 0 ? host->log_report_at : HKP_HOST_NO_DEADLINE;
}

/* TRUE if the plugin may log a line from limit now; otherwise the line is counted, to be said within a second. */
static gboolean
log_line_allowed (HkpHost *host, HkpRateLimit *limit)
{
  gint64 now = g_get_monotonic_time ();

  if (hkp_rate_limit_take (limit, now))
    return TRUE;
  /* The first line dropped since the count was last said sets when it is said next: once a second at most. */
  if (host->log_report_at == 0)
    {
      host->log_report_at = now + G_USEC_PER_SEC;
      g_mutex_lock (&host->lock);
      hkp_host_arm_timer_locked (host, host->log_report_at);
      g_mutex_unlock (&host->lock);
    }
  return FALSE;
}

/* The daemon's level for a plugin's syslog priority; never G_LOG_LEVEL_ERROR, which would abort the daemon. */
static GLogLevelFlags
log_level_of_priority (guint32 priority)
{
  switch (priority)
    {
    case 0:
    case 1:
    case 2:
    case 3:
      return G_LOG_LEVEL_CRITICAL;
    case 4:
      return G_LOG_LEVEL_WARNING;
    case 5:
      return G_LOG_LEVEL_MESSAGE;
    case 6:
      return G_LOG_LEVEL_INFO;
    default:
      return G_LOG_LEVEL_DEBUG;
    }
}

static void
on_log (HkpHost *host, const HkpHostRecord *record)
{
  GLogLevelFlags level = log_level_of_priority (record->nums[0]);
  gboolean urgent = (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0;
  g_autofree char *domain_copy = NULL;
  g_autofree char *message_copy = NULL;
  const char *domain, *message;

  /* A flood costs the daemon no more than counting it, and the journal nothing. */
  if (!log_line_allowed (host, urgent ? &host->log_urgent : &host->log_chatty))
    return;
  domain = clean_text (&record->strs[0], LOG_DOMAIN_MAX, &domain_copy);
  message = clean_text (&record->strs[1], LOG_MESSAGE_MAX, &message_copy);
  g_log_structured (G_LOG_DOMAIN, level, HKP_LOG_FIELD_PLUGIN, host->plugin_name, "PLUGIN_LOG_DOMAIN", domain,
                    "MESSAGE", "%s", message);
}

void
hkp_host_set_start_error (HkpHost *host, GError *error)
{
  g_mutex_lock (&host->lock);
  if (host->start_error == NULL)
    host->start_error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&host->lock);
}

static void
on_failed (HkpHost *host, const HkpHostRecord *record)
{
  static const HkpErrorCode codes[] = {
    [HKP_HOST_FAILURE_SETUP] = HKP_ERROR_FAILED,
    [HKP_HOST_FAILURE_PROTOCOL] = HKP_ERROR_FAILED,
    [HKP_HOST_FAILURE_MODULE] = HKP_ERROR_MODULE,
    [HKP_HOST_FAILURE_ABI_MISMATCH] = HKP_ERROR_ABI_MISMATCH,
    [HKP_HOST_FAILURE_INVALID_CONFIG] = HKP_ERROR_INVALID_CONFIG,
    [HKP_HOST_FAILURE_INIT] = HKP_ERROR_INIT_FAILED,
  };
  guint32 failure = record->nums[0];
  HkpErrorCode code = failure < G_N_ELEMENTS (codes) ? codes[failure] : HKP_ERROR_FAILED;
  g_autofree char *copy = NULL;
  const char *message = clean_text (&record->strs[0], HKP_HOST_MESSAGE_MAX, &copy);

  if (failure == HKP_HOST_FAILURE_SETUP || failure == HKP_HOST_FAILURE_PROTOCOL)
    hkp_host_set_start_error (host, g_error_new (HKP_ERROR, code, "plugin host: %s", message));
  else
    hkp_host_set_start_error (host, g_error_new_literal (HKP_ERROR, code, message));
}

static void
on_ready (HkpHost *host, const HkpHostRecord *record)
{
  g_autofree char *name = NULL, *version = NULL, *description = NULL;

  g_mutex_lock (&host->lock);
  host->name = g_strdup (clean_text (&record->strs[HKP_HOST_READY_NAME], MODULE_TEXT_MAX, &name));
  host->version = g_strdup (clean_text (&record->strs[HKP_HOST_READY_VERSION], MODULE_TEXT_MAX, &version));
  host->description = g_strdup (clean_text (&record->strs[HKP_HOST_READY_DESCRIPTION], MODULE_TEXT_MAX, &description));
  host->state = HKP_HOST_STATE_READY;
  g_cond_broadcast (&host->cond);
  g_mutex_unlock (&host->lock);
}

/* Kills a host that broke the protocol; returns FALSE. */
gboolean
hkp_host_protocol_error (HkpHost *host, const char *problem)
{
  g_autofree char *why = g_strdup_printf ("killed: it broke the protocol (%s)", problem);

  g_mutex_lock (&host->lock);
  hkp_host_kill_locked (host, why);
  g_mutex_unlock (&host->lock);
  return FALSE;
}

gboolean
hkp_host_dispatch (HkpHost *host, const HkpHostRecord *record, gboolean *seen_hello)
{
  gboolean starting;

  g_mutex_lock (&host->lock);
  starting = host->state == HKP_HOST_STATE_STARTING;
  g_mutex_unlock (&host->lock);
  if (!*seen_hello && record->type != HKP_HOST_MSG_HOST_HELLO)
    return hkp_host_protocol_error (host, "it did not start with HELLO");
  switch (record->type)
    {
    case HKP_HOST_MSG_HOST_HELLO:
      if (*seen_hello)
        return hkp_host_protocol_error (host, "a second HELLO");
      *seen_hello = TRUE;
      return TRUE;
    case HKP_HOST_MSG_READY:
      if (!starting)
        return hkp_host_protocol_error (host, "READY after start");
      on_ready (host, record);
      return TRUE;
    case HKP_HOST_MSG_FAILED:
      if (!starting)
        return hkp_host_protocol_error (host, "FAILED after start");
      on_failed (host, record);
      return TRUE;
    case HKP_HOST_MSG_ANSWER:
      return on_answer (host, record);
    case HKP_HOST_MSG_HEALTH_REPORT:
      on_health_report (host, record);
      return TRUE;
    case HKP_HOST_MSG_VALIDATED:
      on_validated (host, record);
      return TRUE;
    case HKP_HOST_MSG_LOG:
      on_log (host, record);
      return TRUE;
    case HKP_HOST_MSG_SECCOMP:
      g_mutex_lock (&host->lock);
      if (host->seccomp_why == NULL)
        host->seccomp_why = hkp_host_process_describe_syscall (record->nums[0], record->nums[1]);
      g_mutex_unlock (&host->lock);
      return TRUE;
    default:
      return hkp_host_protocol_error (host, "a record the daemon sends, not the host");
    }
}
