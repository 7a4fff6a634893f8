/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-host"

#include "hkp-host.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hkp-error.h"
#include "hkp-host-private.h"
#include "hkp-log.h"

void
hkp_host_free (HkpHost *host)
{
  /* The I/O thread ended, or is this thread: either way it is done with host. */
  if (host->io_thread != NULL && host->io_thread != g_thread_self ())
    g_thread_join (host->io_thread);
  else if (host->io_thread != NULL)
    g_thread_unref (host->io_thread);
  for (guint i = 0; i < 5; i++)
    {
      int fd = (int[]){ host->fd, host->child_fd, host->wake_fd, host->timer_fd, host->pidfd }[i];
      if (fd >= 0)
        close (fd);
    }
  g_hash_table_unref (host->calls);
  hkp_host_buf_clear (&host->out);
  g_clear_error (&host->start_error);
  g_free (host->program);
  g_free (host->plugin_name);
  g_free (host->module_path);
  g_free (host->display_path);
  g_free (host->config_json);
  g_strfreev (host->environment);
  g_free (host->name);
  g_free (host->version);
  g_free (host->description);
  g_free (host->kill_reason);
  g_free (host->seccomp_why);
  g_free (host->end);
  if (host->exit_destroy != NULL)
    host->exit_destroy (host->exit_data);
  g_mutex_clear (&host->lock);
  g_cond_clear (&host->cond);
  g_free (host);
}

/* Returns fd moved above the numbers the child's fds are set up by (fds 0–3), closing the original. */
static int
move_fd_up (int fd)
{
  int moved;

  if (fd > 3)
    return fd;
  moved = fcntl (fd, F_DUPFD_CLOEXEC, 10);
  close (fd);
  return moved;
}

HkpHost *
hkp_host_start (const HkpHostSettings *settings, GError **error)
{
  HkpHost *host;
  int pair[2];
  gint64 deadline;
  gboolean timed_out = FALSE;

  g_return_val_if_fail (settings->program != NULL && settings->plugin_name != NULL, NULL);
  g_return_val_if_fail (settings->module_path != NULL && settings->config_json != NULL, NULL);
  host = g_new0 (HkpHost, 1);
  host->ref_count = 1;
  g_mutex_init (&host->lock);
  g_cond_init (&host->cond);
  host->program = g_strdup (settings->program);
  host->plugin_name = g_strdup (settings->plugin_name);
  host->module_path = g_strdup (settings->module_path);
  host->display_path = g_strdup (settings->display_path != NULL ? settings->display_path : settings->module_path);
  host->config_json = g_strdup (settings->config_json);
  host->environment = g_strdupv ((GStrv) settings->environment);
  host->memory_max_mb = settings->memory_max_mb;
  host->grace_ms = settings->grace_ms;
  host->fd = host->child_fd = host->wake_fd = host->timer_fd = host->pidfd = -1;
  host->calls = g_hash_table_new (g_int64_hash, g_int64_equal);
  hkp_rate_limit_init (&host->log_urgent, HKP_HOST_LOG_BURST, HKP_HOST_LOG_RATE);
  hkp_rate_limit_init (&host->log_chatty, HKP_HOST_LOG_BURST, HKP_HOST_LOG_RATE);
  host->timer_at = HKP_HOST_NO_DEADLINE;
  host->state = HKP_HOST_STATE_STARTING;
  host->io_done = TRUE; /* until the thread runs */

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot make a socket pair for plugin host: %s",
                   g_strerror (saved));
      hkp_host_free (host);
      return NULL;
    }
  host->fd = pair[0];
  host->child_fd = move_fd_up (pair[1]);
  host->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  host->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (host->child_fd < 0 || host->wake_fd < 0 || host->timer_fd < 0 || fcntl (host->fd, F_SETFL, O_NONBLOCK) < 0)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot set up plugin host: %s", g_strerror (saved));
      hkp_host_free (host);
      return NULL;
    }

  host->io_done = FALSE;
  host->io_thread = g_thread_new ("hkp-host-io", hkp_host_io_thread, host);

  deadline = settings->init_timeout_ms > 0 ? g_get_monotonic_time () + (gint64) settings->init_timeout_ms * 1000
                                           : HKP_HOST_NO_DEADLINE;
  g_mutex_lock (&host->lock);
  while (host->state == HKP_HOST_STATE_STARTING && !timed_out)
    if (deadline == HKP_HOST_NO_DEADLINE)
      g_cond_wait (&host->cond, &host->lock);
    else if (!g_cond_wait_until (&host->cond, &host->lock, deadline))
      timed_out = host->state == HKP_HOST_STATE_STARTING;
  if (timed_out)
    hkp_host_kill_locked (host, NULL);
  if (host->state != HKP_HOST_STATE_READY)
    {
      /* Failed or timed out: wait until the process is reaped, so nothing of it is left behind. */
      while (!host->io_done)
        g_cond_wait (&host->cond, &host->lock);
      g_mutex_unlock (&host->lock);
      if (timed_out)
        g_set_error (error, HKP_ERROR, HKP_ERROR_TIMED_OUT,
                     "loading and init in the plugin host did not finish within %u ms", settings->init_timeout_ms);
      else if (host->start_error != NULL)
        g_propagate_error (error, g_steal_pointer (&host->start_error));
      else /* it said READY and died before this thread saw it */
        g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "plugin host %s right after starting", host->end);
      hkp_host_free (host);
      return NULL;
    }
  g_mutex_unlock (&host->lock);
  return host;
}

const char *
hkp_host_get_module_name (HkpHost *host)
{
  return host->name;
}

const char *
hkp_host_get_module_version (HkpHost *host)
{
  return host->version;
}

const char *
hkp_host_get_module_description (HkpHost *host)
{
  return host->description;
}

GPid
hkp_host_get_pid (HkpHost *host)
{
  return host->pid;
}

guint64
hkp_host_handle (HkpHost *host, const HkpHostRequest *request, gint64 deadline, HkpHostCallback callback,
                 gpointer user_data)
{
  guint64 id = __atomic_add_fetch (&host->next_id, 1, __ATOMIC_RELAXED);
  HkpHostBuf buf = { 0 };
  HkpHostRecord record;
  HkpHostCall *call;

  hkp_host_record_init (&record, HKP_HOST_MSG_REQUEST);
  record.id = id;
  record.strs[HKP_HOST_REQUEST_METHOD] = hkp_host_string (request->method);
  record.strs[HKP_HOST_REQUEST_PATH] = hkp_host_string (request->path);
  record.strs[HKP_HOST_REQUEST_QUERY] = hkp_host_string (request->query);
  record.strs[HKP_HOST_REQUEST_CLIENT] = hkp_host_string (request->client_address);
  for (const char *const *h = request->headers; h != NULL && h[0] != NULL && h[1] != NULL; h += 2)
    {
      if (record.n_items == HKP_HOST_ITEMS_MAX)
        break;
      record.items[record.n_items].name = hkp_host_string (h[0]);
      record.items[record.n_items].value = hkp_host_string (h[1]);
      record.n_items++;
    }
  if (hkp_host_record_encode (&buf, &record) < 0)
    {
      /* Only a request of megabytes could not be encoded; no host could answer it either. */
      hkp_host_answer_gone (callback, user_data);
      return id;
    }

  g_mutex_lock (&host->lock);
  if (host->state != HKP_HOST_STATE_READY || host->stopping)
    {
      g_mutex_unlock (&host->lock);
      hkp_host_buf_clear (&buf);
      hkp_host_answer_gone (callback, user_data);
      return id;
    }
  /* A host that stopped reading would otherwise have the daemon hold every request until its deadline. */
  if (host->out.len + host->out_writing + buf.len > HKP_HOST_BACKLOG_MAX)
    {
      HkpHostAnswer answer = { .outcome = HKP_HOST_BACKLOGGED, .reason = "" };

      g_mutex_unlock (&host->lock);
      hkp_host_buf_clear (&buf);
      callback (&answer, user_data);
      return id;
    }
  call = g_new0 (HkpHostCall, 1);
  call->id = id;
  call->sent = g_get_monotonic_time ();
  call->deadline = deadline > 0 ? deadline : HKP_HOST_NO_DEADLINE;
  call->callback = callback;
  call->user_data = user_data;
  g_hash_table_insert (host->calls, &call->id, call);
  hkp_host_insert_ordered (&host->pending, call, G_STRUCT_OFFSET (HkpHostCall, deadline));
  if (call->deadline != HKP_HOST_NO_DEADLINE)
    hkp_host_arm_timer_locked (host, call->deadline);
  hkp_host_queue_bytes_locked (host, buf.data, buf.len);
  /* The answer may come, and its callback let go of the caller's reference, before the flush is done. */
  hkp_host_ref (host);
  g_mutex_unlock (&host->lock);
  hkp_host_buf_clear (&buf);
  hkp_host_flush_soon (host);
  return id;
}

void
hkp_host_cancel (HkpHost *host, guint64 id)
{
  HkpHostCall *call;

  g_mutex_lock (&host->lock);
  call = g_hash_table_lookup (host->calls, &id);
  /* An overdue call was cancelled when its deadline passed. */
  if (call != NULL && call->kill_at == 0)
    hkp_host_queue_simple_locked (host, HKP_HOST_MSG_CANCEL, id);
  g_mutex_unlock (&host->lock);
  hkp_host_flush (host);
}

void
hkp_host_cancel_all (HkpHost *host)
{
  g_mutex_lock (&host->lock);
  hkp_host_queue_simple_locked (host, HKP_HOST_MSG_CANCEL_ALL, 0);
  g_mutex_unlock (&host->lock);
  hkp_host_flush (host);
}

gboolean
hkp_host_health (HkpHost *host, gint64 deadline, HkpHostHealthCallback callback, gpointer user_data)
{
  g_mutex_lock (&host->lock);
  if (host->state != HKP_HOST_STATE_READY || host->stopping)
    {
      g_mutex_unlock (&host->lock);
      callback (HKP_HOST_GONE, NULL, user_data);
      return TRUE;
    }
  if (host->health_in_flight)
    {
      g_mutex_unlock (&host->lock);
      return FALSE;
    }
  host->health_in_flight = TRUE;
  host->health_id = __atomic_add_fetch (&host->next_id, 1, __ATOMIC_RELAXED);
  host->health_deadline = deadline > 0 ? deadline : HKP_HOST_NO_DEADLINE;
  host->health_callback = callback;
  host->health_data = user_data;
  if (host->health_deadline != HKP_HOST_NO_DEADLINE)
    hkp_host_arm_timer_locked (host, host->health_deadline);
  hkp_host_queue_simple_locked (host, HKP_HOST_MSG_HEALTH, host->health_id);
  g_mutex_unlock (&host->lock);
  hkp_host_flush (host);
  return TRUE;
}

gboolean
hkp_host_validate_config (HkpHost *host, const char *json, guint timeout_ms, GError **error)
{
  HkpHostValidation validation = { 0 };
  g_autofree char *message = NULL;
  HkpHostRecord record;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean gone;

  hkp_host_record_init (&record, HKP_HOST_MSG_VALIDATE);
  g_mutex_lock (&host->lock);
  validation.id = record.id = __atomic_add_fetch (&host->next_id, 1, __ATOMIC_RELAXED);
  record.strs[0] = hkp_host_string (json);
  if (host->state == HKP_HOST_STATE_READY && !host->stopping)
    {
      host->validations = g_list_prepend (host->validations, &validation);
      hkp_host_queue_record_locked (host, &record);
      g_mutex_unlock (&host->lock);
      hkp_host_flush (host);
      g_mutex_lock (&host->lock);
      while (!validation.done)
        {
          if (timeout_ms == 0)
            g_cond_wait (&host->cond, &host->lock);
          else if (!g_cond_wait_until (&host->cond, &host->lock, deadline))
            break;
        }
      host->validations = g_list_remove (host->validations, &validation);
    }
  gone = host->state != HKP_HOST_STATE_READY || host->stopping;
  g_mutex_unlock (&host->lock);
  message = validation.message;

  if (validation.done && message != NULL)
    {
      if (validation.ok)
        return TRUE;
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "config rejected: %s",
                   message[0] != '\0' ? message : "no reason given");
      return FALSE;
    }
  if (gone)
    g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "plugin host of %s is gone", host->plugin_name);
  else
    g_set_error (error, HKP_ERROR, HKP_ERROR_TIMED_OUT, "validate_config did not return within %u ms", timeout_ms);
  return FALSE;
}

gboolean
hkp_host_stop (HkpHost *host, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean clean;

  g_mutex_lock (&host->lock);
  /* A health() past its deadline holds the instance, and shutdown() could only follow it: the host goes now. */
  if (host->health_in_flight && host->health_deadline != HKP_HOST_NO_DEADLINE &&
      g_get_monotonic_time () >= host->health_deadline)
    hkp_host_kill_locked (host, "killed at its stop: health() had not returned past its deadline");
  if (host->state != HKP_HOST_STATE_ENDED && !host->stopping)
    {
      host->stopping = TRUE;
      hkp_host_queue_simple_locked (host, HKP_HOST_MSG_SHUTDOWN, 0);
      g_mutex_unlock (&host->lock);
      hkp_host_flush (host);
      g_mutex_lock (&host->lock);
    }
  while (!host->io_done)
    if (!g_cond_wait_until (&host->cond, &host->lock, deadline))
      {
        hkp_host_kill_locked (host, NULL);
        while (!host->io_done)
          g_cond_wait (&host->cond, &host->lock);
      }
  clean = host->kill_reason == NULL && host->seccomp_why == NULL && WIFEXITED (host->wait_status) &&
    WEXITSTATUS (host->wait_status) == 0;
  g_mutex_unlock (&host->lock);
  if (!clean)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, host->plugin_name, "plugin %s: its host did not stop cleanly: %s",
                    host->plugin_name, host->end);
  return clean;
}

void
hkp_host_kill (HkpHost *host)
{
  g_mutex_lock (&host->lock);
  hkp_host_kill_locked (host, NULL);
  g_mutex_unlock (&host->lock);
}

void
hkp_host_set_exit_handler (HkpHost *host, HkpHostExitFunc func, gpointer user_data)
{
  hkp_host_set_exit_handler_full (host, func, user_data, NULL);
}

void
hkp_host_set_exit_handler_full (HkpHost *host, HkpHostExitFunc func, gpointer user_data, GDestroyNotify destroy)
{
  gboolean now;
  guint in_flight;

  g_mutex_lock (&host->lock);
  g_return_if_fail (host->exit_destroy == NULL);
  host->exit_func = func;
  host->exit_data = user_data;
  host->exit_destroy = destroy;
  now = host->exit_pending && func != NULL;
  host->exit_pending = FALSE;
  in_flight = host->exit_in_flight;
  g_mutex_unlock (&host->lock);
  if (now)
    func (host, host->end, in_flight, user_data);
}

char *
hkp_host_dup_end (HkpHost *host)
{
  char *end;

  g_mutex_lock (&host->lock);
  end = host->state == HKP_HOST_STATE_ENDED ? g_strdup (host->end) : NULL;
  g_mutex_unlock (&host->lock);
  return end;
}

HkpHost *
hkp_host_ref (HkpHost *host)
{
  g_atomic_int_inc (&host->ref_count);
  return host;
}

void
hkp_host_unref (HkpHost *host)
{
  gboolean free_now;

  if (!g_atomic_int_dec_and_test (&host->ref_count))
    return;
  g_mutex_lock (&host->lock);
  free_now = host->io_done;
  if (!free_now)
    {
      host->abandoned = TRUE;
      hkp_host_kill_locked (host, NULL);
    }
  g_mutex_unlock (&host->lock);
  if (free_now)
    hkp_host_free (host);
}
