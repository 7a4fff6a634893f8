/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-host"

/*
 * A host's I/O thread and what it shares with the callers: writing records
 * out, the deadline timer, reading what the host sends (handled in
 * hkp-host-records.c), and the end of the process.  The lock and the queues
 * are described in hkp-host-private.h.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hkp-error.h"
#include "hkp-host-private.h"
#include "hkp-host-process.h"
#include "hkp-log.h"

#define READ_CHUNK 65536
/* How long a host that closed its socket gets to exit before it is killed. */
#define EXIT_AFTER_EOF_USEC G_USEC_PER_SEC
#define GRACE_MIN_MS 1000

/* How long a host whose socket refused a send for good has to be seen ending, before it is killed for it. */
#define WRITE_BROKEN_GRACE_USEC (G_USEC_PER_SEC / 2)

/* ---- sending ---------------------------------------------------------------------------------------------------- */

static void
wake (HkpHost *host)
{
  eventfd_write (host->wake_fd, 1);
}

/* Queues an encoded record (lock held); hkp_host_flush() writes it once the lock is released. */
void
hkp_host_queue_bytes_locked (HkpHost *host, const guint8 *data, gsize len)
{
  if (host->state == HKP_HOST_STATE_ENDED)
    return;
  if (hkp_host_buf_reserve (&host->out, len) < 0)
    g_error ("out of memory queueing %zu bytes for plugin host %s", len, host->plugin_name);
  memcpy (host->out.data + host->out.len, data, len);
  host->out.len += len;
}

void
hkp_host_queue_record_locked (HkpHost *host, const HkpHostRecord *record)
{
  if (host->state != HKP_HOST_STATE_ENDED && hkp_host_record_encode (&host->out, record) < 0)
    g_error ("cannot encode a %s record for plugin host %s", hkp_host_record_type_name (record->type),
             host->plugin_name);
}

void
hkp_host_queue_simple_locked (HkpHost *host, HkpHostRecordType type, guint64 id)
{
  HkpHostRecord record;

  hkp_host_record_init (&record, type);
  record.id = id;
  hkp_host_queue_record_locked (host, &record);
}

/*
 * Writes what is queued, without the lock and without blocking, unless
 * another thread is writing already (it takes along what was queued
 * meanwhile).  What does not fit into a full socket stays queued for the I/O
 * thread, which waits until it can be written.  Lock not held.
 */
void
hkp_host_flush (HkpHost *host)
{
  HkpHostBuf spare = { 0 };
  gboolean full = FALSE;

  g_mutex_lock (&host->lock);
  if (host->write_broken_at != 0)
    host->out.len = 0; /* nothing reaches it any more: its calls end with it */
  if (host->writing || host->out.len == 0 || host->state == HKP_HOST_STATE_ENDED)
    {
      g_mutex_unlock (&host->lock);
      return;
    }
  host->writing = TRUE;
  while (host->out.len > 0 && !full)
    {
      HkpHostBuf taken = host->out;
      gsize done = 0;
      gboolean broken = FALSE;

      host->out = spare;
      host->out_writing = taken.len;
      g_mutex_unlock (&host->lock);
      while (done < taken.len)
        {
          ssize_t n = send (host->fd, taken.data + done, taken.len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n < 0 && errno == EINTR)
            continue;
          /* EPIPE, ECONNRESET: the host shut its reading side, or is going; the socket stays writable for poll(). */
          broken = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
          if (n <= 0)
            break; /* full, or broken */
          done += (gsize) n;
        }
      g_mutex_lock (&host->lock);
      host->out_writing = 0;
      if (broken)
        {
          /*
           * A host that is ending (killed, crashed) closes its socket first:
           * it gets a moment to be seen gone, with its own end.  One still
           * there then has shut its reading side: run_deadlines() kills it.
           */
          if (host->write_broken_at == 0)
            {
              host->write_broken_at = g_get_monotonic_time ();
              hkp_host_arm_timer_locked (host, host->write_broken_at + WRITE_BROKEN_GRACE_USEC);
            }
          taken.len = done = 0;
          host->out.len = 0;
        }
      hkp_host_buf_consume (&taken, done);
      if (taken.len > 0)
        {
          /* The rest goes first, before what was queued meanwhile. */
          if (hkp_host_buf_reserve (&taken, host->out.len) < 0)
            g_error ("out of memory queueing for plugin host %s", host->plugin_name);
          if (host->out.len > 0)
            memcpy (taken.data + taken.len, host->out.data, host->out.len);
          taken.len += host->out.len;
          host->out.len = 0;
          spare = host->out;
          host->out = taken;
          full = TRUE;
        }
      else
        spare = taken;
    }
  host->writing = FALSE;
  g_mutex_unlock (&host->lock);
  hkp_host_buf_clear (&spare);
  if (full)
    wake (host);
}

/*
 * The hosts an I/O thread's callbacks sent to (the next plugin's) while it
 * handles the records it read together: written to once, after the last of
 * them, rather than once per record.  NULL on any other thread.
 */
static __thread GPtrArray *flush_after_batch;

void
hkp_host_flush_soon (HkpHost *host)
{
  GPtrArray *later = flush_after_batch;

  if (later == NULL)
    {
      hkp_host_flush (host);
      hkp_host_unref (host);
      return;
    }
  for (guint i = 0; i < later->len; i++)
    if (later->pdata[i] == host)
      {
        hkp_host_unref (host);
        return;
      }
  g_ptr_array_add (later, host);
}

/* Writes to the hosts sent to while the records read together were handled, and lets go of them. */
static void
flush_batch (GPtrArray *later)
{
  for (guint i = 0; i < later->len; i++)
    {
      hkp_host_flush (later->pdata[i]);
      hkp_host_unref (later->pdata[i]);
    }
  g_ptr_array_set_size (later, 0);
}

/* ---- deadlines (lock held) ---------------------------------------------- */

/* Makes the timer fire at when, if that is earlier than it would. */
void
hkp_host_arm_timer_locked (HkpHost *host, gint64 when)
{
  struct itimerspec spec = { 0 };

  if (when >= host->timer_at)
    return;
  host->timer_at = when;
  /* 0 would disarm it: a deadline at the epoch of the clock is simply due. */
  when = MAX (when, 1);
  spec.it_value.tv_sec = when / G_USEC_PER_SEC;
  spec.it_value.tv_nsec = (when % G_USEC_PER_SEC) * 1000;
  timerfd_settime (host->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static gint64
call_grace_usec (HkpHost *host, HkpHostCall *call)
{
  gint64 grace_ms = host->grace_ms;

  if (grace_ms == 0)
    grace_ms = MAX (GRACE_MIN_MS, (call->deadline - call->sent) / 1000);
  return grace_ms * 1000;
}

/* Inserts call into queue ordered by *key (deadline or kill_at), from the tail: O(1) when keys come in order. */
void
hkp_host_insert_ordered (GQueue *queue, HkpHostCall *call, gsize key_offset)
{
  gint64 key = G_STRUCT_MEMBER (gint64, call, key_offset);
  GList *after = queue->tail;

  while (after != NULL && G_STRUCT_MEMBER (gint64, after->data, key_offset) > key)
    after = after->prev;
  call->link.data = call;
  if (after == NULL)
    g_queue_push_head_link (queue, &call->link);
  else
    g_queue_insert_after_link (queue, after, &call->link);
}

/* ---- the end of a host ---------------------------------------------------- */

void
hkp_host_answer_gone (HkpHostCallback callback, gpointer user_data)
{
  HkpHostAnswer answer = { .outcome = HKP_HOST_GONE, .reason = "" };

  callback (&answer, user_data);
}

/*
 * Records that the host ended with wait_status (I/O thread): answers every
 * call GONE, wakes every waiter, and reports it unless it was stopped.
 */
static void
host_ended (HkpHost *host, int wait_status)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *status = hkp_host_process_describe (wait_status);
  HkpHostHealthCallback health_callback = NULL;
  gpointer health_data = NULL;
  HkpHostExitFunc exit_func = NULL;
  gpointer exit_data = NULL;
  HkpHostState before;
  HkpHostCall *call;

  g_mutex_lock (&host->lock);
  before = host->state;
  host->state = HKP_HOST_STATE_ENDED;
  host->wait_status = wait_status;
  host->end = g_strdup (host->kill_reason != NULL     ? host->kill_reason
                          : host->seccomp_why != NULL ? host->seccomp_why
                                                      : status);
  /* Unlink, never pop: the links are the calls' own, not GLib's. */
  while ((call = g_queue_peek_head (&host->pending)) != NULL)
    {
      g_queue_unlink (&host->pending, &call->link);
      g_ptr_array_add (gone, call);
    }
  while ((call = g_queue_peek_head (&host->overdue)) != NULL)
    {
      g_queue_unlink (&host->overdue, &call->link);
      g_free (call);
    }
  g_hash_table_remove_all (host->calls);
  if (host->health_in_flight && host->health_callback != NULL)
    {
      health_callback = host->health_callback;
      health_data = host->health_data;
    }
  host->health_in_flight = FALSE;
  host->health_callback = NULL;
  for (GList *l = host->validations; l != NULL; l = l->next)
    ((HkpHostValidation *) l->data)->done = TRUE;
  if (before == HKP_HOST_STATE_STARTING && host->start_error == NULL)
    g_set_error (&host->start_error, HKP_ERROR, HKP_ERROR_FAILED, "plugin host %s while starting", host->end);
  host->exit_in_flight = gone->len;
  if (before == HKP_HOST_STATE_READY && !host->stopping && !host->abandoned)
    {
      exit_func = host->exit_func;
      exit_data = host->exit_data;
      host->exit_pending = exit_func == NULL;
    }
  g_cond_broadcast (&host->cond);
  g_mutex_unlock (&host->lock);

  for (guint i = 0; i < gone->len; i++)
    {
      call = gone->pdata[i];
      hkp_host_answer_gone (call->callback, call->user_data);
    }
  if (health_callback != NULL)
    health_callback (HKP_HOST_GONE, NULL, health_data);
  if (exit_func != NULL)
    exit_func (host, host->end, gone->len, exit_data);
}

/* Kills the host (lock held); reason, if not NULL, becomes why it ended. */
void
hkp_host_kill_locked (HkpHost *host, const char *reason)
{
  if (host->state == HKP_HOST_STATE_ENDED)
    return;
  if (reason != NULL && host->kill_reason == NULL)
    host->kill_reason = g_strdup (reason);
  if (host->pidfd >= 0)
    pidfd_send_signal (host->pidfd, SIGKILL, NULL, 0);
  else
    host->kill_requested = TRUE;
}

typedef struct {
  HkpHostBuf buf;
  gsize start;
  gboolean seen_hello;
  gboolean broken; /* stop reading: the host broke the protocol */
  GPtrArray *flush_after; /* hosts to write to once the records read together are handled */
} Input;

/*
 * Reads what is there and handles every whole record; FALSE at end of file.
 * A read that does not fill the buffer took all there was: poll() says when
 * there is more.
 */
static gboolean
read_records (HkpHost *host, Input *input)
{
  gboolean drained = FALSE;

  if (hkp_host_buf_reserve (&input->buf, READ_CHUNK) < 0)
    g_error ("out of memory reading from plugin host %s", host->plugin_name);
  for (;;)
    {
      HkpHostRecord record;
      const char *problem = NULL;
      gsize size, room;
      ssize_t n;

      flush_after_batch = input->flush_after;
      while (!input->broken)
        {
          HkpHostDecodeResult result = hkp_host_record_decode (input->buf.data + input->start,
                                                               input->buf.len - input->start, &record, &size, &problem);
          if (result == HKP_HOST_DECODE_SHORT)
            break;
          if (result == HKP_HOST_DECODE_VERSION)
            {
              hkp_host_set_start_error (host,
                                        g_error_new (HKP_ERROR, HKP_ERROR_FAILED,
                                                     "plugin host %s speaks protocol version %u; this daemon speaks %u",
                                                     host->program, record.nums[HKP_HOST_HELLO_VERSION],
                                                     HKP_HOST_PROTOCOL_VERSION));
              input->broken = !hkp_host_protocol_error (host, "another protocol version");
              break;
            }
          if (result == HKP_HOST_DECODE_INVALID)
            {
              input->broken = !hkp_host_protocol_error (host, problem);
              break;
            }
          input->start += size;
          if (!hkp_host_dispatch (host, &record, &input->seen_hello))
            input->broken = TRUE;
        }
      flush_after_batch = NULL;
      flush_batch (input->flush_after);
      if (input->broken)
        input->start = input->buf.len = 0;
      hkp_host_buf_consume (&input->buf, input->start);
      input->start = 0;
      if (drained)
        return TRUE;
      if (hkp_host_buf_reserve (&input->buf, READ_CHUNK) < 0)
        g_error ("out of memory reading from plugin host %s", host->plugin_name);
      room = input->buf.cap - input->buf.len;
      n = read (host->fd, input->buf.data + input->buf.len, room);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        return FALSE;
      input->buf.len += (gsize) n;
      drained = (gsize) n < room;
    }
}

/* Answers calls past their deadline, kills a host past its grace, times health out, says how many log lines were
 * dropped; re-arms the timer. */
static void
run_deadlines (HkpHost *host)
{
  g_autoptr (GPtrArray) timed_out = g_ptr_array_new ();
  HkpHostHealthCallback health_callback = NULL;
  gpointer health_data = NULL;
  gint64 now = g_get_monotonic_time ();
  gint64 next = hkp_host_report_dropped_logs_due (host, now);
  HkpHostCall *call;

  g_mutex_lock (&host->lock);
  host->timer_at = HKP_HOST_NO_DEADLINE; /* it fired, or is about to be set anew */
  while ((call = g_queue_peek_head (&host->pending)) != NULL && call->deadline <= now)
    {
      g_queue_unlink (&host->pending, &call->link);
      call->kill_at = call->deadline + call_grace_usec (host, call);
      hkp_host_insert_ordered (&host->overdue, call, G_STRUCT_OFFSET (HkpHostCall, kill_at));
      /* The callback is taken now: a late answer must not run it a second time. */
      g_ptr_array_add (timed_out, call->callback);
      g_ptr_array_add (timed_out, call->user_data);
      call->callback = NULL;
      hkp_host_queue_simple_locked (host, HKP_HOST_MSG_CANCEL, call->id);
    }
  call = g_queue_peek_head (&host->overdue);
  if (call != NULL && call->kill_at <= now && host->kill_reason == NULL)
    {
      g_autofree char *why = g_strdup_printf ("killed: handle() did not return within %" G_GINT64_FORMAT
                                              " ms of its deadline",
                                              call_grace_usec (host, call) / 1000);
      hkp_host_kill_locked (host, why);
    }
  else if (call != NULL && host->kill_reason == NULL)
    next = MIN (next, call->kill_at);
  if (host->write_broken_at != 0 && host->kill_reason == NULL)
    {
      if (now >= host->write_broken_at + WRITE_BROKEN_GRACE_USEC)
        hkp_host_kill_locked (host, "killed: it stopped reading what the daemon sends it");
      else
        next = MIN (next, host->write_broken_at + WRITE_BROKEN_GRACE_USEC);
    }
  if (host->health_callback != NULL)
    {
      if (host->health_deadline <= now)
        {
          health_callback = host->health_callback;
          health_data = host->health_data;
          host->health_callback = NULL;
        }
      else
        next = MIN (next, host->health_deadline);
    }
  if ((call = g_queue_peek_head (&host->pending)) != NULL)
    next = MIN (next, call->deadline);
  if (next != HKP_HOST_NO_DEADLINE)
    hkp_host_arm_timer_locked (host, next);
  g_mutex_unlock (&host->lock);
  hkp_host_flush (host);

  for (guint i = 0; i < timed_out->len; i += 2)
    {
      HkpHostCallback callback = timed_out->pdata[i];
      HkpHostAnswer answer = { .outcome = HKP_HOST_TIMED_OUT, .reason = "" };
      callback (&answer, timed_out->pdata[i + 1]);
    }
  if (health_callback != NULL)
    health_callback (HKP_HOST_TIMED_OUT, NULL, health_data);
}

/* Waits for the process after its socket closed, killing it if it lingers; returns its wait status. */
static int
reap (HkpHost *host)
{
  struct pollfd pfd = { .fd = host->pidfd, .events = POLLIN };
  int status = 0;

  if (poll (&pfd, 1, EXIT_AFTER_EOF_USEC / 1000) == 0)
    {
      g_mutex_lock (&host->lock);
      hkp_host_kill_locked (host, "killed: it closed its socket but did not exit");
      g_mutex_unlock (&host->lock);
    }
  while (waitpid (host->pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

gpointer
hkp_host_io_thread (gpointer data)
{
  HkpHost *host = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) flush_after = g_ptr_array_new ();
  Input input = { .flush_after = flush_after };
  HkpHostRecord hello;
  gboolean free_now, spawned;
  GPid pid = 0;
  int pidfd = -1;

  spawned = hkp_host_process_spawn (host->program, host->plugin_name, host->child_fd,
                                    (const char *const *) host->environment, &pid, &pidfd, &error);
  close (host->child_fd);
  g_mutex_lock (&host->lock);
  host->child_fd = -1;
  host->pid = pid;
  host->pidfd = pidfd;
  if (!spawned)
    {
      host->start_error = g_steal_pointer (&error);
      host->state = HKP_HOST_STATE_ENDED;
      g_cond_broadcast (&host->cond);
      g_mutex_unlock (&host->lock);
      goto done;
    }
  if (host->kill_requested)
    pidfd_send_signal (host->pidfd, SIGKILL, NULL, 0);
  g_mutex_unlock (&host->lock);

  hkp_host_record_init (&hello, HKP_HOST_MSG_HELLO);
  hello.nums[HKP_HOST_HELLO_VERSION] = HKP_HOST_PROTOCOL_VERSION;
  hello.nums[HKP_HOST_HELLO_MEMORY_MAX_MB] = host->memory_max_mb;
  hello.nums[HKP_HOST_HELLO_DAEMON_PID] = (guint32) getpid ();
  hello.strs[HKP_HOST_HELLO_PLUGIN] = hkp_host_string (host->plugin_name);
  hello.strs[HKP_HOST_HELLO_MODULE_PATH] = hkp_host_string (host->module_path);
  hello.strs[HKP_HOST_HELLO_DISPLAY_PATH] = hkp_host_string (host->display_path);
  hello.strs[HKP_HOST_HELLO_CONFIG] = hkp_host_string (host->config_json);
  g_mutex_lock (&host->lock);
  if (hkp_host_record_encode (&host->out, &hello) < 0)
    hkp_host_kill_locked (host, "killed: its config is too large to send");
  g_mutex_unlock (&host->lock);
  hkp_host_flush (host);

  for (;;)
    {
      struct pollfd pfds[4] = {
        { .fd = host->fd, .events = POLLIN },
        { .fd = host->pidfd, .events = POLLIN },
        { .fd = host->wake_fd, .events = POLLIN },
        { .fd = host->timer_fd, .events = POLLIN },
      };
      eventfd_t value;

      g_mutex_lock (&host->lock);
      if (host->out.len > 0 && !host->writing)
        pfds[0].events |= POLLOUT;
      g_mutex_unlock (&host->lock);
      if (poll (pfds, G_N_ELEMENTS (pfds), -1) < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("poll for plugin host %s: %s", host->plugin_name, g_strerror (errno));
        }
      if (pfds[2].revents & POLLIN)
        eventfd_read (host->wake_fd, &value);
      if (pfds[3].revents & POLLIN)
        {
          guint64 ticks;
          (void) !read (host->timer_fd, &ticks, sizeof ticks);
          run_deadlines (host);
        }
      if (pfds[0].revents & POLLOUT)
        hkp_host_flush (host);
      /* A process that ended leaves its last records in the socket: read them before reporting. */
      if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_records (host, &input))
        break;
      if (pfds[1].revents & POLLIN)
        {
          read_records (host, &input);
          break;
        }
    }
  hkp_host_report_dropped_logs (host);
  host_ended (host, reap (host));

done:
  hkp_host_buf_clear (&input.buf);
  g_mutex_lock (&host->lock);
  host->io_done = TRUE;
  free_now = host->abandoned;
  g_cond_broadcast (&host->cond);
  g_mutex_unlock (&host->lock);
  if (free_now)
    hkp_host_free (host);
  return NULL;
}
