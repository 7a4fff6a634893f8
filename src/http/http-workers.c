/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Starting, feeding and restarting the management bridge's worker processes (daemon side). */

#include "http-workers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-bridge.h"
#include "http-worker-ipc.h"

#define CALL_TIMEOUT_MS 5000
#define RESTART_DELAY_SEC 1
#define RESTART_DELAY_MAX_SEC 60
#define RUN_LONG_ENOUGH_USEC (10 * G_USEC_PER_SEC) /* a run this long resets the delay */

typedef struct _Worker Worker;

struct _HttpWorkers {
  HttpBridge *bridge; /* not owned: it owns us */
  GDBusNodeInfo *daemon_info;
  GPtrArray *workers; /* Worker */
};

struct _Worker {
  HttpWorkers *owner;
  guint index; /* 1, 2, …: names it in the log */
  int listen_fd; /* kept open across restarts */
  GSubprocess *process;
  char *pid; /* of this run, for the log */
  GDBusConnection *connection;
  guint registration;
  gboolean greeted; /* it said Hello: it gets every snapshot */
  GCancellable *cancellable; /* of this run's callbacks */
  guint restart_id;
  gint64 started_usec; /* monotonic, of this run */
  guint restart_delay_sec; /* doubles while runs end early */
};

static gboolean worker_start (Worker *worker, GError **error);

/* Ends this run's connection (the worker then exits on its own). */
static void
worker_disconnect (Worker *worker)
{
  g_cancellable_cancel (worker->cancellable);
  g_clear_object (&worker->cancellable);
  if (worker->connection != NULL)
    {
      if (worker->registration != 0)
        g_dbus_connection_unregister_object (worker->connection, worker->registration);
      worker->registration = 0;
      g_dbus_connection_close (worker->connection, NULL, NULL, NULL);
      g_clear_object (&worker->connection);
    }
  worker->greeted = FALSE;
}

static void
worker_free (Worker *worker)
{
  g_clear_handle_id (&worker->restart_id, g_source_remove);
  worker_disconnect (worker);
  if (worker->process != NULL)
    {
      /* It leaves once the connection is gone; a signal makes sure, and we wait for it. */
      g_subprocess_send_signal (worker->process, SIGTERM);
      g_subprocess_wait (worker->process, NULL, NULL);
      g_clear_object (&worker->process);
    }
  if (worker->listen_fd >= 0)
    close (worker->listen_fd);
  g_free (worker->pid);
  g_free (worker);
}

/* ---- snapshots, to every worker that said Hello ------------------------------ */

/* Sends snapshot to every worker that said Hello; no answer is awaited. */
static void
publish (HttpWorkers *self, HttpSnapshot *snapshot)
{
  g_autoptr (GVariant) serialized = http_snapshot_serialize (snapshot);

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *worker = self->workers->pdata[i];

      if (worker->greeted)
        g_dbus_connection_call (worker->connection, NULL, HTTP_WORKER_OBJECT_PATH, HTTP_WORKER_INTERFACE, "Publish",
                                g_variant_new ("(v)", serialized), NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
                                NULL, NULL);
    }
}

static void
on_snapshot (HttpSnapshot *snapshot, gpointer data)
{
  publish (data, snapshot);
}

/* Counts the workers that have yet to answer Sync, then calls done. */
typedef struct {
  HttpWorkersSynced done;
  gpointer data;
  guint pending;
} Barrier;

static void
barrier_pass (Barrier *barrier)
{
  if (--barrier->pending > 0)
    return;
  barrier->done (barrier->data);
  g_free (barrier);
}

static void
on_synced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GVariant) ignored = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);

  barrier_pass (user_data);
}

/*
 * Calls done once every worker has answered Sync (or failed to): a worker
 * takes its messages in order, so by then it serves every snapshot
 * published before.
 */
void
http_workers_sync (HttpWorkers *self, HttpWorkersSynced done, gpointer data)
{
  Barrier *barrier = g_new0 (Barrier, 1);

  barrier->done = done;
  barrier->data = data;
  barrier->pending = 1;
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *worker = self->workers->pdata[i];

      if (!worker->greeted)
        continue;
      barrier->pending++;
      g_dbus_connection_call (worker->connection, NULL, HTTP_WORKER_OBJECT_PATH, HTTP_WORKER_INTERFACE, "Sync", NULL,
                              NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, on_synced, barrier);
    }
  barrier_pass (barrier);
}

/* A change a worker sent, answered. */
typedef struct {
  GDBusMethodInvocation *invocation;
  GVariant *answer;
} ChangeReply;

static void
send_change_reply (gpointer data)
{
  ChangeReply *reply = data;

  g_dbus_method_invocation_return_value (reply->invocation, g_variant_new ("(v)", reply->answer));
  g_variant_unref (reply->answer);
  g_free (reply);
}

/* ---- what workers ask ---------------------------------------------------------- */

typedef struct {
  HttpWorkers *owner;
  GDBusMethodInvocation *invocation;
} ChangeCall;

static void
on_change_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChangeCall *call = user_data;
  HttpWorkers *self = call->owner;
  g_auto (HttpApiResponse) answer = { 0 };
  ChangeReply *reply = g_new0 (ChangeReply, 1);

  http_bridge_run_change_finish (self->bridge, result, &answer);
  reply->invocation = call->invocation;
  reply->answer = http_api_answer_serialize (&answer);
  /*
   * Read your writes: the change's snapshot went to every worker as it was
   * built; the one that asked answers once all of them serve it.
   */
  http_workers_sync (self, send_change_reply, reply);
  g_free (call);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
                const char *method, GVariant *parameters, GDBusMethodInvocation *invocation, gpointer user_data)
{
  Worker *worker = user_data;
  HttpWorkers *self = worker->owner;

  if (g_str_equal (method, "Hello"))
    {
      g_autoptr (HttpSnapshot) snapshot = http_snapshot_feed_get (http_bridge_get_feed (self->bridge));
      g_autoptr (GVariant) settings = http_bridge_worker_settings (self->bridge);
      g_autoptr (GVariant) serialized = http_snapshot_serialize (snapshot);

      worker->greeted = TRUE;
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv}v)", settings, serialized));
    }
  else
    {
      g_autoptr (GVariant) variant = NULL;
      g_autofree char *via = g_strdup_printf ("HTTP worker %u", worker->index);
      HttpMutation *mutation;
      ChangeCall *call;

      g_variant_get (parameters, "(v)", &variant);
      mutation = http_mutation_deserialize (variant, via);
      if (mutation == NULL)
        {
          g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                         "not a change");
          return;
        }
      call = g_new0 (ChangeCall, 1);
      call->owner = self;
      call->invocation = invocation;
      http_bridge_run_change_async (self->bridge, mutation, on_change_done, call);
    }
}

static const GDBusInterfaceVTable daemon_vtable = { on_method_call, NULL, NULL, { 0 } };

/* ---- starting, and starting again ------------------------------------------------ */

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_finish (result, &error);
  Worker *worker = user_data;

  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("HTTP worker %u: no connection: %s", worker->index, error->message);
      return;
    }
  worker->connection = connection;
  worker->registration = g_dbus_connection_register_object (connection, HTTP_WORKER_OBJECT_PATH,
                                                            worker->owner->daemon_info->interfaces[0], &daemon_vtable,
                                                            worker, NULL, &error);
  if (worker->registration == 0)
    g_warning ("HTTP worker %u: %s", worker->index, error->message);
  g_dbus_connection_start_message_processing (connection);
}

static gboolean
on_restart (gpointer user_data)
{
  Worker *worker = user_data;
  g_autoptr (GError) error = NULL;

  worker->restart_id = 0;
  if (!worker_start (worker, &error))
    {
      g_warning ("HTTP worker %u: cannot start it again: %s; trying again in %d s", worker->index, error->message,
                 RESTART_DELAY_SEC);
      worker->restart_id = g_timeout_add_seconds (RESTART_DELAY_SEC, on_restart, worker);
    }
  return G_SOURCE_REMOVE;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GSubprocess *process = G_SUBPROCESS (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *how = NULL;
  Worker *worker = user_data;

  if (!g_subprocess_wait_finish (process, result, &error) && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* we are stopping it */
  if (g_subprocess_get_if_signaled (process))
    how = g_strdup_printf ("killed by signal %d", g_subprocess_get_term_sig (process));
  else
    how = g_strdup_printf ("exit status %d", g_subprocess_get_exit_status (process));
  /* One that keeps failing at once is started again less and less often. */
  if (g_get_monotonic_time () - worker->started_usec >= RUN_LONG_ENOUGH_USEC)
    worker->restart_delay_sec = RESTART_DELAY_SEC;
  else
    worker->restart_delay_sec = MIN (MAX (worker->restart_delay_sec * 2, RESTART_DELAY_SEC), RESTART_DELAY_MAX_SEC);
  g_warning ("HTTP worker %u (pid %s) ended: %s; starting it again in %u s", worker->index, worker->pid, how,
             worker->restart_delay_sec);
  worker_disconnect (worker);
  g_clear_object (&worker->process);
  worker->restart_id = g_timeout_add_seconds (worker->restart_delay_sec, on_restart, worker);
}

static gboolean
worker_start (Worker *worker, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) stream = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();
  g_autofree char *argument = g_strdup_printf ("--http-worker=%u", worker->index);
  int pair[2];
  int listen_copy;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s", g_strerror (saved));
      return FALSE;
    }
  listen_copy = fcntl (worker->listen_fd, F_DUPFD_CLOEXEC, 3);
  if (listen_copy < 0)
    {
      int saved = errno;
      close (pair[0]);
      close (pair[1]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "dup: %s", g_strerror (saved));
      return FALSE;
    }
  g_subprocess_launcher_take_fd (launcher, listen_copy, HTTP_WORKER_LISTEN_FD);
  g_subprocess_launcher_take_fd (launcher, pair[1], HTTP_WORKER_CONTROL_FD);
  /* The very program this daemon runs, even once a newer one replaced its file: the two must speak alike. */
  worker->process = g_subprocess_launcher_spawn (launcher, error, "/proc/self/exe", argument, NULL);
  if (worker->process == NULL)
    {
      close (pair[0]);
      return FALSE;
    }
  socket = g_socket_new_from_fd (pair[0], error);
  if (socket == NULL)
    {
      close (pair[0]);
      g_subprocess_force_exit (worker->process);
      g_clear_object (&worker->process);
      return FALSE;
    }
  stream = g_socket_connection_factory_create_connection (socket);
  worker->cancellable = g_cancellable_new ();
  g_dbus_connection_new (G_IO_STREAM (stream), guid,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                           G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                         NULL, worker->cancellable, on_connected, worker);
  g_subprocess_wait_async (worker->process, worker->cancellable, on_exited, worker);
  g_free (worker->pid);
  worker->pid = g_strdup (g_subprocess_get_identifier (worker->process));
  worker->started_usec = g_get_monotonic_time ();
  g_message ("HTTP worker %u started (pid %s)", worker->index, worker->pid);
  return TRUE;
}

HttpWorkers *
http_workers_new (HttpBridge *bridge, guint count, GError **error)
{
  HttpWorkers *self = g_new0 (HttpWorkers, 1);

  self->bridge = bridge;
  self->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_free);
  self->daemon_info = g_dbus_node_info_new_for_xml (HTTP_WORKER_DAEMON_XML, NULL);
  for (guint i = 0; i < count; i++)
    {
      Worker *worker = g_new0 (Worker, 1);

      worker->owner = self;
      worker->index = i + 1;
      g_ptr_array_add (self->workers, worker);
      /* The very socket the daemon's threads accept from, and only that one: no other process can join it. */
      worker->listen_fd = fcntl (http_bridge_get_listen_fd (bridge), F_DUPFD_CLOEXEC, 3);
      if (worker->listen_fd < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "dup: %s", g_strerror (saved));
          http_workers_free (self);
          return NULL;
        }
      if (!worker_start (worker, error))
        {
          http_workers_free (self);
          return NULL;
        }
    }
  http_snapshot_feed_set_listener (http_bridge_get_feed (bridge), on_snapshot, self);
  return self;
}

void
http_workers_free (HttpWorkers *self)
{
  if (self == NULL)
    return;
  http_snapshot_feed_set_listener (http_bridge_get_feed (self->bridge), NULL, NULL);
  g_ptr_array_unref (self->workers);
  g_dbus_node_info_unref (self->daemon_info);
  g_free (self);
}
