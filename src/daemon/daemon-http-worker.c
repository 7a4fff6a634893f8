/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* An HTTP worker process: the bridge on an inherited socket, fed and answered by the daemon. */

#include "daemon-http-worker.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "http-bridge.h"
#include "http-worker-ipc.h"

typedef struct {
  GDBusConnection *connection;
  HttpBridge *bridge; /* NULL until the daemon said hello */
  GMainLoop *loop;
} Worker;

/* ---- changes, to the daemon ---------------------------------------------------- */

static void
response_free (HttpApiResponse *response)
{
  http_api_response_clear (response);
  g_free (response);
}

static void
on_forwarded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr (GVariant) answer = NULL;
  HttpApiResponse *response = g_new0 (HttpApiResponse, 1);

  g_task_set_task_data (task, response, (GDestroyNotify) response_free);
  if (reply != NULL)
    g_variant_get (reply, "(v)", &answer);
  if (answer == NULL || !http_api_answer_deserialize (answer, response))
    http_api_error (response, 503, NULL, "the daemon did not answer: %s",
                    error != NULL ? error->message : "a malformed answer");
  g_task_return_boolean (task, TRUE);
}

static void
forward (HttpMutation *mutation, GAsyncReadyCallback callback, gpointer user_data, gpointer data)
{
  Worker *self = data;
  g_autoptr (GVariant) serialized = http_mutation_serialize (mutation);

  http_mutation_free (mutation);
  /* No time limit: a reload waits for its plugin to drain. */
  g_dbus_connection_call (self->connection, NULL, HTTP_WORKER_OBJECT_PATH, HTTP_WORKER_DAEMON_INTERFACE, "Change",
                          g_variant_new ("(v)", serialized), G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                          NULL, on_forwarded, g_task_new (NULL, NULL, callback, user_data));
}

static void
forward_finish (GAsyncResult *result, HttpApiResponse *out)
{
  HttpApiResponse *response = g_task_get_task_data (G_TASK (result));

  *out = *response;
  memset (response, 0, sizeof *response);
}

/* ---- snapshots, from the daemon -------------------------------------------------- */

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
                const char *method, GVariant *parameters, GDBusMethodInvocation *invocation, gpointer user_data)
{
  Worker *self = user_data;
  g_autoptr (GVariant) variant = NULL;
  g_autoptr (HttpSnapshot) snapshot = NULL;

  if (g_str_equal (method, "Sync"))
    {
      /* Taken in order: every Publish before this one is served already. */
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  g_variant_get (parameters, "(v)", &variant);
  snapshot = http_snapshot_deserialize (variant);
  if (snapshot == NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                     "not a snapshot");
      return;
    }
  if (self->bridge != NULL)
    http_snapshot_feed_publish (http_bridge_get_feed (self->bridge), snapshot);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable worker_vtable = { on_method_call, NULL, NULL, { 0 } };

static void
on_closed (GDBusConnection *connection, gboolean remote_peer_vanished, GError *error, gpointer user_data)
{
  Worker *self = user_data;

  g_main_loop_quit (self->loop);
}

int
daemon_http_worker_main (guint index)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) stream = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (HTTP_WORKER_XML, NULL);
  g_autoptr (GVariant) hello = NULL;
  g_autoptr (GVariant) settings = NULL;
  g_autoptr (GVariant) first = NULL;
  g_autoptr (HttpSnapshot) snapshot = NULL;
  Worker self = { 0 };

  /* Started as /proc/self/exe: a name that says what it is, in ps and in the journal. */
  prctl (PR_SET_NAME, "hkp-http-worker", 0, 0, 0);
  socket = g_socket_new_from_fd (HTTP_WORKER_CONTROL_FD, &error);
  if (socket == NULL)
    {
      g_printerr ("hkp-plugind: --http-worker is started by hkp-plugind itself: %s\n", error->message);
      return EXIT_FAILURE;
    }
  stream = g_socket_connection_factory_create_connection (socket);
  self.loop = g_main_loop_new (NULL, FALSE);
  self.connection = g_dbus_connection_new_sync (G_IO_STREAM (stream), NULL,
                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, NULL, &error);
  if (self.connection == NULL ||
      g_dbus_connection_register_object (self.connection, HTTP_WORKER_OBJECT_PATH, info->interfaces[0], &worker_vtable,
                                         &self, NULL, &error) == 0)
    goto failed;
  g_signal_connect (self.connection, "closed", G_CALLBACK (on_closed), &self);
  hello = g_dbus_connection_call_sync (self.connection, NULL, HTTP_WORKER_OBJECT_PATH, HTTP_WORKER_DAEMON_INTERFACE,
                                       "Hello", NULL, G_VARIANT_TYPE ("(a{sv}v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       &error);
  if (hello == NULL)
    goto failed;
  g_variant_get (hello, "(@a{sv}v)", &settings, &first);
  snapshot = http_snapshot_deserialize (first);
  if (snapshot == NULL)
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the daemon sent no snapshot");
      goto failed;
    }
  self.bridge = http_bridge_new_worker (HTTP_WORKER_LISTEN_FD, snapshot, settings, forward, forward_finish, &self,
                                        &error);
  if (self.bridge == NULL)
    goto failed;
  g_message ("HTTP worker %u ready (pid %d)", index, (int) getpid ());
  g_main_loop_run (self.loop);
  g_clear_pointer (&self.bridge, http_bridge_free);
  g_object_unref (self.connection);
  g_main_loop_unref (self.loop);
  return EXIT_SUCCESS;

failed:
  g_critical ("HTTP worker %u cannot serve: %s", index, error->message);
  g_clear_object (&self.connection);
  g_main_loop_unref (self.loop);
  return EXIT_FAILURE;
}
