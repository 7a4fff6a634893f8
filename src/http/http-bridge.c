/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/*
 * libsoup glue for the management bridge.  Each server thread owns a main
 * context and a SoupServer; all of them, and the worker processes, accept
 * from one listening socket, so no other process can share the port.  We
 * accept connections ourselves (http-connections.c) and hand them to
 * soup_server_accept_iostream(): libsoup 3.2's own listener leaks the
 * accepted GSocket of every connection the client closes, and uses a listen
 * backlog of 10.
 */

#include "http-bridge.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "http-api.h"
#include "http-connections.h"
#include "http-guard-stream.h"
#include "http-peer-uid.h"
#include "http-secret.h"
#include "http-snapshot.h"
#include "http-workers.h"

#define LISTEN_BACKLOG 1024
#define TCP_THREADS_MAX_DEFAULT 8
#define IDLE_TIMEOUT_DEFAULT_SEC 60
#define HEAD_TIMEOUT_SEC 10 /* or the idle timeout, if shorter */
#define MAX_CONNECTIONS_DEFAULT 1024

typedef struct _ServerThread ServerThread;

struct _HttpBridge {
  HkpEngine *engine; /* NULL in a worker process: changes go to forward */
  HttpBridgeForward forward;
  HttpBridgeForwardFinish forward_finish;
  gpointer forward_data;
  GMainContext *main_context;
  HttpSnapshotFeed *feed;
  HttpApi *api;
  char *token; /* for worker processes; NULL: changes disabled */
  GStrv hosts; /* accepted Host values; NULL: any (unix socket) */
  GTlsCertificate *certificate; /* NULL: plain HTTP */
  int listen_fd; /* shared by the server threads and the worker processes */
  HttpWorkers *workers; /* worker processes; NULL if none */
  char *address;
  guint processes; /* serving the address: this one and its workers */
  GPtrArray *threads; /* ServerThread */
  HttpConnectionCount connections; /* this process's, all threads */
};

struct _ServerThread {
  HttpBridge *bridge;
  SoupServer *server; /* the thread's own */
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;
  GCond started;
  gboolean running;
  GError *error; /* why the thread could not start */
  GList *held; /* HeldAnswer: answers waiting for their time */
};

/* A change waiting for the main thread's answer; the message is paused meanwhile. */
typedef struct {
  ServerThread *server;
  SoupServerMessage *message;
  HttpMutation *mutation;
  HttpApiResponse response;
} PendingChange;

/* ---- the request path (server threads) ----------------------------------- */

/* Where serve_connection() leaves a connection, on the remote address libsoup gives its messages. */
static GQuark
connection_quark (void)
{
  return g_quark_from_static_string ("hkp-bridge-connection");
}

/* Fills request from message; with peer, also the peer's address and uid (caller frees *peer). */
static void
fill_request (SoupServerMessage *message, HttpApiRequest *request, char **peer)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (message);
  GUri *uri = soup_server_message_get_uri (message);
  GSocketAddress *remote = soup_server_message_get_remote_address (message);

  memset (request, 0, sizeof *request);
  request->peer_uid = -1;
  request->method = soup_server_message_get_method (message);
  request->path = g_uri_get_path (uri);
  request->query = g_uri_get_query (uri);
  request->host = soup_message_headers_get_one (headers, "Host");
  request->origin = soup_message_headers_get_one (headers, "Origin");
  request->authorization = soup_message_headers_get_one (headers, "Authorization");
  request->content_type = soup_message_headers_get_one (headers, "Content-Type");
  request->content_length = soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
    ? soup_message_headers_get_content_length (headers)
    : -1;
  /* Reads do not pay for formatting the peer. */
  if (peer == NULL)
    request->peer = "";
  else
    {
      GSocketConnection *connection = g_object_get_qdata (G_OBJECT (remote), connection_quark ());

      if (G_IS_INET_SOCKET_ADDRESS (remote))
        request->peer = *peer = g_inet_address_to_string (
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
      else
        request->peer = *peer = g_strdup ("unix");
      request->peer_uid = connection != NULL
        ? http_peer_uid (g_socket_get_fd (g_socket_connection_get_socket (connection)))
        : -1;
    }
}

static void
send_response (SoupServerMessage *message, HttpApiResponse *response)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (message);

  soup_server_message_set_status (message, response->status, NULL);
  soup_message_headers_replace (headers, "Content-Type", response->content_type);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  if (response->allow != NULL)
    soup_message_headers_replace (headers, "Allow", response->allow);
  if (response->authenticate)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"hkp-plugind\"");
  if (response->body != NULL)
    soup_message_body_append_bytes (soup_server_message_get_response_body (message), response->body);
}

static void
on_rejected_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GIOStream) stream = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

/* Writes raw (taken) on stream (taken) and closes it. */
static void
write_raw_and_close (GIOStream *stream, GBytes *raw)
{
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), g_bytes_get_data (raw, NULL),
                                   g_bytes_get_size (raw), G_PRIORITY_DEFAULT, NULL, on_rejected_written, stream);
  /* The data must outlive the write: tie it to the stream. */
  g_object_set_data_full (G_OBJECT (stream), "hkp-rejected-response", raw, (GDestroyNotify) g_bytes_unref);
}

/*
 * An answer held back until its time (a wrong token's: see
 * http-throttle.h), sent from the server thread's loop, which meanwhile
 * serves everyone else.
 */
typedef struct {
  ServerThread *server;
  GSource *source;
  SoupServerMessage *message; /* paused; or NULL, and then: */
  GIOStream *stream; /* a connection stolen from libsoup, and */
  GBytes *raw; /* the whole answer to write on it */
  HttpApiResponse response;
} HeldAnswer;

static void
held_answer_free (HeldAnswer *held)
{
  held->server->held = g_list_remove (held->server->held, held);
  /* Sent, or never will be: the peer's next wrong answer waits no longer for this one. */
  http_api_response_sent (held->server->bridge->api, &held->response);
  http_api_response_clear (&held->response);
  g_clear_object (&held->message);
  g_clear_object (&held->stream);
  g_clear_pointer (&held->raw, g_bytes_unref);
  g_free (held);
}

static gboolean
send_held_answer (gpointer data)
{
  HeldAnswer *held = data;

  if (held->message != NULL)
    {
      send_response (held->message, &held->response);
      soup_server_message_unpause (held->message);
    }
  else
    write_raw_and_close (g_steal_pointer (&held->stream), g_steal_pointer (&held->raw));
  return G_SOURCE_REMOVE;
}

/* Sends held (taken) once its response's time has come. */
static void
hold_answer (ServerThread *self, HeldAnswer *held)
{
  gint64 wait_usec = held->response.not_before_usec - g_get_monotonic_time ();

  held->server = self;
  held->source = g_timeout_source_new ((guint) CLAMP ((wait_usec + 999) / 1000, 0, G_MAXINT));
  g_source_set_callback (held->source, send_held_answer, held, (GDestroyNotify) held_answer_free);
  g_source_set_static_name (held->source, "hkp-http-held-answer");
  self->held = g_list_prepend (self->held, held);
  g_source_attach (held->source, self->context);
  g_source_unref (held->source);
}

/*
 * Answers on the raw connection and closes it: libsoup 3.2 reads a body
 * even after an early handler has set a status, so a 2 MiB body would be
 * read before being refused for its size.
 */
static void
reject_early (ServerThread *self, SoupServerMessage *message, HttpApiResponse *response)
{
  GIOStream *stream = soup_server_message_steal_connection (message);
  g_autoptr (GString) head = g_string_new (NULL);
  gsize body_length = response->body != NULL ? g_bytes_get_size (response->body) : 0;
  GBytes *raw;

  g_string_append_printf (head,
                          "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Cache-Control: no-store\r\nConnection: close\r\n",
                          response->status, soup_status_get_phrase (response->status), response->content_type,
                          body_length);
  if (response->allow != NULL)
    g_string_append_printf (head, "Allow: %s\r\n", response->allow);
  if (response->authenticate)
    g_string_append (head, "WWW-Authenticate: Bearer realm=\"hkp-plugind\"\r\n");
  g_string_append (head, "\r\n");
  if (body_length > 0)
    g_string_append_len (head, g_bytes_get_data (response->body, NULL), body_length);
  raw = g_string_free_to_bytes (g_steal_pointer (&head));
  if (response->not_before_usec != 0)
    {
      HeldAnswer *held = g_new0 (HeldAnswer, 1);
      held->stream = stream;
      held->raw = raw;
      held->response = *response;
      memset (response, 0, sizeof *response);
      hold_answer (self, held);
    }
  else
    write_raw_and_close (stream, raw);
}

/* The guard stream rewrote a request target that was not a plain path, or a whole head (see http-guard-stream.h). */
static gboolean
refuse_target (const HttpApiRequest *request, HttpApiResponse *response)
{
  if (g_str_equal (request->path, HTTP_GUARD_REFUSED_HEAD_TARGET))
    {
      http_api_error (response, 400, NULL, "%s", http_guard_refusal_message (request->query));
      return TRUE;
    }
  if (!g_str_equal (request->path, HTTP_GUARD_REFUSED_TARGET))
    return FALSE;
  http_api_error (response, 400, NULL,
                  "the request target must be a plain path: no \"..\" or \".\" segments, no \"//\", no "
                  "percent-encoding");
  return TRUE;
}

/* Where a PUT's headers leave the ticket its body is answered with. */
static GQuark
ticket_quark (void)
{
  return g_quark_from_static_string ("hkp-http-api-ticket");
}

/* Before the body is read: refuse what the headers already condemn (a 2 MiB body is never read). */
static void
on_early_request (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query,
                  gpointer user_data)
{
  ServerThread *self = user_data;
  g_auto (HttpApiResponse) response = { 0 };
  g_autofree char *peer = NULL;
  HttpApiRequest request;

  HttpApiTicket *ticket = NULL;

  if (!g_str_equal (soup_server_message_get_method (message), "PUT"))
    return; /* no body to guard: the normal handler answers */
  /* A change: the peer counts, for wrong tokens. */
  fill_request (message, &request, &peer);
  if (refuse_target (&request, &response) || http_api_precheck (self->bridge->api, &request, &response, &ticket))
    reject_early (self, message, &response);
  else if (request.content_length < 0)
    {
      http_api_ticket_free (ticket);
      http_api_error (&response, 411, NULL, "a config must come with a Content-Length");
      reject_early (self, message, &response);
    }
  else
    g_object_set_qdata_full (G_OBJECT (message), ticket_quark (), ticket, (GDestroyNotify) http_api_ticket_free);
}

static gboolean
answer_change (gpointer user_data)
{
  PendingChange *change = user_data;

  send_response (change->message, &change->response);
  soup_server_message_unpause (change->message);
  g_object_unref (change->message);
  http_api_response_clear (&change->response);
  g_free (change);
  return G_SOURCE_REMOVE;
}

/* Main thread: the workers serve the change too; the server thread answers. */
static void
on_workers_synced (gpointer user_data)
{
  PendingChange *change = user_data;

  g_main_context_invoke (change->server->context, answer_change, change);
}

static void
on_change_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PendingChange *change = user_data;

  http_bridge_run_change_finish (change->server->bridge, result, &change->response);
  /* Read your writes: a read that follows the answer may go to any process. */
  if (change->server->bridge->workers != NULL)
    http_workers_sync (change->server->bridge->workers, on_workers_synced, change);
  else
    on_workers_synced (change);
}

/* Main thread. */
static gboolean
run_change (gpointer user_data)
{
  PendingChange *change = user_data;

  http_bridge_run_change_async (change->server->bridge, g_steal_pointer (&change->mutation), on_change_done, change);
  return G_SOURCE_REMOVE;
}

/* Worker processes send their changes here too, so they all meet the engine on the main thread. */
void
http_bridge_run_change_async (HttpBridge *bridge, HttpMutation *mutation, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  if (bridge->engine != NULL)
    http_api_run_mutation_async (bridge->api, bridge->engine, mutation, callback, user_data);
  else
    bridge->forward (mutation, callback, user_data, bridge->forward_data);
}

void
http_bridge_run_change_finish (HttpBridge *bridge, GAsyncResult *result, HttpApiResponse *out)
{
  if (bridge->engine != NULL)
    http_api_run_mutation_finish (result, out);
  else
    bridge->forward_finish (result, out);
}

static void
on_request (SoupServer *server, SoupServerMessage *message, const char *path, GHashTable *query, gpointer user_data)
{
  ServerThread *self = user_data;
  g_auto (HttpApiResponse) response = { 0 };
  g_autoptr (GBytes) body = NULL;
  g_autofree char *peer = NULL;
  HttpMutation *mutation = NULL;
  HttpApiTicket *ticket;
  HttpApiRequest request;
  const char *method = soup_server_message_get_method (message);
  gboolean with_body = g_str_equal (method, "PUT") || g_str_equal (method, "POST");

  /* Only changes are logged with their peer, and only they have a body. */
  fill_request (message, &request, with_body ? &peer : NULL);
  if (g_str_equal (request.path, HTTP_GUARD_CLOSED_TARGET))
    {
      /* Nobody is there to read it: see http-guard-stream.h. */
      soup_server_message_set_status (message, 400, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (message), "Connection", "close");
      return;
    }
  if (with_body)
    {
      body = soup_message_body_flatten (soup_server_message_get_request_body (message));
      request.body = g_bytes_get_data (body, &request.body_length);
    }
  ticket = g_object_steal_qdata (G_OBJECT (message), ticket_quark ());
  if (ticket != NULL
        ? http_api_handle_body (self->bridge->api, ticket, &request, &response, &mutation)
        : refuse_target (&request, &response) || http_api_handle (self->bridge->api, &request, &response, &mutation))
    {
      if (response.not_before_usec != 0)
        {
          HeldAnswer *held = g_new0 (HeldAnswer, 1);
          held->message = g_object_ref (message);
          held->response = response;
          memset (&response, 0, sizeof response);
          soup_server_message_pause (message);
          hold_answer (self, held);
          return;
        }
      send_response (message, &response);
      return;
    }
  {
    PendingChange *change = g_new0 (PendingChange, 1);
    change->server = self;
    change->message = g_object_ref (message);
    change->mutation = mutation;
    soup_server_message_pause (message);
    g_main_context_invoke (self->bridge->main_context, run_change, change);
  }
}

/* A connection just accepted (server thread): TLS if configured, and the guard, always. */
static GIOStream *
wrap_connection (GSocketConnection *connection, gpointer data)
{
  ServerThread *self = data;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  /* As libsoup's own listener does: a response's head and body must not wait for each other's ACK. */
  if (G_IS_TCP_CONNECTION (connection))
    g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  if (self->bridge->certificate != NULL)
    {
      stream = g_tls_server_connection_new (G_IO_STREAM (connection), self->bridge->certificate, &error);
      if (stream == NULL)
        {
          g_warning ("HTTP bridge: cannot start TLS: %s", error->message);
          return NULL;
        }
    }
  else
    stream = g_object_ref (G_IO_STREAM (connection));
  /* Request heads are checked on the wire, before libsoup parses them: see http-guard-stream.h. */
  return http_guard_stream_new (stream);
}

static void
serve_connection (GIOStream *stream, GSocketConnection *connection, gpointer data)
{
  ServerThread *self = data;
  g_autoptr (GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr (GError) error = NULL;

  if (remote == NULL)
    remote = g_unix_socket_address_new ("");
  if (local == NULL)
    local = g_unix_socket_address_new ("");
  /* Who is at the other end is looked up only for the requests it matters to (see fill_request()). */
  g_object_set_qdata_full (G_OBJECT (remote), connection_quark (), g_object_ref (connection), g_object_unref);
  if (!soup_server_accept_iostream (self->server, stream, local, remote, &error))
    g_warning ("HTTP bridge: cannot serve a connection: %s", error->message);
}

static const HttpConnectionsHandler connections_handler = { wrap_connection, serve_connection };

/*
 * libsoup 3.2 keeps a connection alive after a response only while the
 * server has a listener of its own; connections we hand it are otherwise
 * closed after every request.  So it gets one nobody can reach: a unix
 * socket whose file is removed as soon as it listens.
 */
static gboolean
add_unreachable_listener (SoupServer *server, GError **error)
{
  g_autofree char *dir = g_dir_make_tmp ("hkp-plugind-XXXXXX", error);
  g_autofree char *path = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  gboolean ok;

  if (dir == NULL)
    return FALSE;
  path = g_build_filename (dir, "unreachable", NULL);
  address = g_unix_socket_address_new (path);
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, error);
  ok = socket != NULL && g_socket_bind (socket, address, FALSE, error);
  if (ok)
    {
      g_socket_set_listen_backlog (socket, 1);
      ok = g_socket_listen (socket, error);
    }
  g_unlink (path);
  g_rmdir (dir);
  return ok && soup_server_listen_socket (server, socket, 0, error);
}

static gpointer
server_thread_main (gpointer data)
{
  ServerThread *self = data;
  g_autoptr (SoupServer) server = NULL;
  HttpConnections *connections = NULL;
  GError *error = NULL;

  g_main_context_push_thread_default (self->context);
  server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_early_handler (server, NULL, on_early_request, self, NULL);
  soup_server_add_handler (server, NULL, on_request, self, NULL);
  self->server = server;
  if (add_unreachable_listener (server, &error))
    connections = http_connections_new (self->bridge->listen_fd, &self->bridge->connections, self->context,
                                        &connections_handler, self);

  g_mutex_lock (&self->lock);
  self->error = error;
  self->running = TRUE;
  g_cond_signal (&self->started);
  g_mutex_unlock (&self->lock);

  if (error == NULL)
    g_main_loop_run (self->loop);

  /* Answers held back are not sent now: their connections close with the server. */
  while (self->held != NULL)
    g_source_destroy (((HeldAnswer *) self->held->data)->source);
  soup_server_disconnect (server);
  /* Answers the main thread queued for us before the stop still go out, or at least get freed. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  http_connections_free (connections);
  self->server = NULL;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static void
server_thread_free (ServerThread *self)
{
  if (self->thread != NULL)
    {
      g_main_context_invoke (self->context, (GSourceFunc) (void (*) (void)) g_main_loop_quit, self->loop);
      g_thread_join (self->thread);
    }
  g_clear_error (&self->error);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->started);
  g_free (self);
}

static ServerThread *
server_thread_start (HttpBridge *bridge, guint index, GError **error)
{
  ServerThread *self = g_new0 (ServerThread, 1);
  g_autofree char *name = g_strdup_printf ("hkp-http-%u", index);

  self->bridge = bridge;
  g_mutex_init (&self->lock);
  g_cond_init (&self->started);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread = g_thread_new (name, server_thread_main, self);
  g_mutex_lock (&self->lock);
  while (!self->running)
    g_cond_wait (&self->started, &self->lock);
  g_mutex_unlock (&self->lock);
  if (self->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->error));
      server_thread_free (self);
      return NULL;
    }
  return self;
}

/* ---- set-up (main thread) -------------------------------------------------- */

static void
builder_take (GStrvBuilder *builder, char *text)
{
  g_strv_builder_add (builder, text);
  g_free (text);
}

/* The Host values the bridge answers to: its own address (and localhost on loopback) and the allowed names. */
static GStrv
accepted_hosts (const ListenAddress *listen, guint16 port, const char *const *allowed)
{
  g_autoptr (GStrvBuilder) hosts = g_strv_builder_new ();
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (listen->host);
  gboolean loopback = address == NULL || g_inet_address_get_is_loopback (address);
  gboolean any = address != NULL && g_inet_address_get_is_any (address);

  if (!any)
    {
      if (strchr (listen->host, ':') != NULL)
        builder_take (hosts, g_strdup_printf ("[%s]:%u", listen->host, port));
      else
        builder_take (hosts, g_strdup_printf ("%s:%u", listen->host, port));
    }
  if (loopback)
    {
      builder_take (hosts, g_strdup_printf ("localhost:%u", port));
      builder_take (hosts, g_strdup_printf ("127.0.0.1:%u", port));
      builder_take (hosts, g_strdup_printf ("[::1]:%u", port));
    }
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    {
      g_strv_builder_add (hosts, allowed[i]);
      builder_take (hosts, g_strdup_printf ("%s:%u", allowed[i], port));
    }
  return g_strv_builder_end (hosts);
}

/* Starts threads server threads, all accepting from the bridge's listening socket. */
static gboolean
serve (HttpBridge *self, guint threads, GError **error)
{
  for (guint i = 0; i < threads; i++)
    {
      ServerThread *thread = server_thread_start (self, i, error);

      if (thread == NULL)
        return FALSE;
      g_ptr_array_add (self->threads, thread);
    }
  return TRUE;
}

static HttpBridge *
bridge_alloc (const HttpBridgeSettings *settings)
{
  HttpBridge *self = g_new0 (HttpBridge, 1);
  gdouble idle_sec = settings->idle_timeout_sec > 0 ? settings->idle_timeout_sec : IDLE_TIMEOUT_DEFAULT_SEC;

  self->listen_fd = -1;
  self->main_context = g_main_context_ref_thread_default ();
  self->threads = g_ptr_array_new_with_free_func ((GDestroyNotify) server_thread_free);
  http_connection_count_init (
    &self->connections,
    settings->max_connections > 0 ? (gint) MIN (settings->max_connections, G_MAXINT / 4) : MAX_CONNECTIONS_DEFAULT,
    (gint64) (idle_sec * G_USEC_PER_SEC), (gint64) (MIN (idle_sec, HEAD_TIMEOUT_SEC) * G_USEC_PER_SEC));
  return self;
}

HttpBridge *
http_bridge_new (HkpEngine *engine, const HttpBridgeSettings *settings, GError **error)
{
  g_autoptr (HttpBridge) self = bridge_alloc (settings);
  guint threads = settings->threads;
  guint processes = settings->listen->kind == LISTEN_TCP ? MAX (settings->processes, 1) : 1;
  /* Anyone who can reach a TCP bridge on loopback may read; a unix socket is as open. */
  const HttpListenOptions listen_options = { LISTEN_BACKLOG, 0666, (gid_t) -1 };

  self->engine = g_object_ref (engine);
  if (settings->processes > 1 && settings->listen->kind != LISTEN_TCP)
    g_warning ("HTTP bridge: worker processes share a TCP port only; this address is served by the daemon alone");
  if (settings->token_file != NULL)
    {
      self->token = http_secret_read (settings->token_file, "token file", error);
      if (self->token == NULL)
        return NULL;
    }
  if (settings->tls_certificate != NULL)
    {
      g_autoptr (GError) local_error = NULL;
      self->certificate = g_tls_certificate_new_from_files (settings->tls_certificate, settings->tls_key, &local_error);
      if (self->certificate == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS certificate %s with key %s: %s",
                       settings->tls_certificate, settings->tls_key, local_error->message);
          return NULL;
        }
      if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "TLS is configured but GLib has no TLS backend (install glib-networking)");
          return NULL;
        }
    }

  /*
   * A GLib main loop's cost per iteration grows with the connections it
   * watches, so more threads, each with fewer connections, serve more even on
   * few cores (2 CPUs, wrk -c32: 1 thread 22.5k req/s, 2 25.5k, 4 30.3k, 8 33.7k).
   * With worker processes each process serves with one thread: threads of
   * one process contend for GLib's process-wide locks, processes do not.
   */
  if (threads == 0)
    threads = settings->listen->kind == LISTEN_TCP ? MIN (TCP_THREADS_MAX_DEFAULT, 4 * g_get_num_processors ()) : 1;
  if (settings->listen->kind != LISTEN_TCP || processes > 1)
    threads = 1;
  self->listen_fd = http_listen_open (settings->listen, &listen_options, error);
  if (self->listen_fd < 0)
    return NULL;
  self->address = http_listen_describe (self->listen_fd);
  if (settings->listen->kind == LISTEN_TCP)
    self->hosts = accepted_hosts (settings->listen, http_listen_get_port (self->listen_fd), settings->allowed_hosts);
  self->feed = http_snapshot_feed_new (engine, settings->required_plugins, settings->version);
  self->processes = processes;
  self->api = http_api_new (self->feed, self->token, (const char *const *) self->hosts, processes);

  if (!serve (self, threads, error))
    return NULL;
  if (processes > 1)
    {
      self->workers = http_workers_new (self, processes - 1, error);
      if (self->workers == NULL)
        return NULL;
    }
  g_message ("HTTP bridge listening on %s (%s, %u thread%s and %u worker process%s, at most %d connections, idle "
             "ones closed after %g s, request heads due within %g s; changes %s)",
             self->address, self->certificate != NULL ? "HTTPS" : "HTTP", threads, threads == 1 ? "" : "s",
             processes - 1, processes == 2 ? "" : "es", self->connections.max,
             (double) self->connections.idle_usec / G_USEC_PER_SEC,
             (double) self->connections.head_usec / G_USEC_PER_SEC,
             settings->token_file != NULL ? "need the bearer token" : "disabled: no token file");
  return g_steal_pointer (&self);
}

int
http_bridge_get_listen_fd (HttpBridge *bridge)
{
  return bridge->listen_fd;
}

HttpSnapshotFeed *
http_bridge_get_feed (HttpBridge *bridge)
{
  return bridge->feed;
}

GVariant *
http_bridge_worker_settings (HttpBridge *bridge)
{
  g_autoptr (GVariantDict) dict = g_variant_dict_new (NULL);

  if (bridge->token != NULL)
    g_variant_dict_insert (dict, "token", "s", bridge->token);
  if (bridge->hosts != NULL)
    g_variant_dict_insert (dict, "hosts", "^as", bridge->hosts);
  if (bridge->certificate != NULL)
    {
      g_autofree char *certificate = NULL;
      g_autofree char *key = NULL;
      g_autofree char *both = NULL;
      g_object_get (bridge->certificate, "certificate-pem", &certificate, "private-key-pem", &key, NULL);
      both = g_strconcat (certificate, key, NULL);
      g_variant_dict_insert (dict, "tls", "s", both);
      memset (both, 0, strlen (both));
      memset (key, 0, strlen (key));
    }
  g_variant_dict_insert (dict, "idle-timeout-usec", "x", bridge->connections.idle_usec);
  g_variant_dict_insert (dict, "max-connections", "i", bridge->connections.max);
  g_variant_dict_insert (dict, "processes", "u", bridge->processes);
  return g_variant_ref_sink (g_variant_dict_end (dict));
}

HttpBridge *
http_bridge_new_worker (int fd, HttpSnapshot *first, GVariant *settings, HttpBridgeForward forward,
                        HttpBridgeForwardFinish forward_finish, gpointer data, GError **error)
{
  HttpBridgeSettings limits = { 0 };
  g_autoptr (HttpBridge) self = NULL;
  g_autoptr (GVariantDict) dict = g_variant_dict_new (settings);
  const char *tls = NULL;
  gint64 idle_usec = 0;
  gint max = 0;
  guint processes = 1;

  g_variant_dict_lookup (dict, "idle-timeout-usec", "x", &idle_usec);
  g_variant_dict_lookup (dict, "max-connections", "i", &max);
  g_variant_dict_lookup (dict, "processes", "u", &processes);
  limits.idle_timeout_sec = (gdouble) idle_usec / G_USEC_PER_SEC;
  limits.max_connections = (guint) MAX (max, 0);
  self = bridge_alloc (&limits);
  self->listen_fd = fd;
  self->forward = forward;
  self->forward_finish = forward_finish;
  self->forward_data = data;
  g_variant_dict_lookup (dict, "token", "s", &self->token);
  g_variant_dict_lookup (dict, "hosts", "^as", &self->hosts);
  if (g_variant_dict_lookup (dict, "tls", "&s", &tls))
    {
      self->certificate = g_tls_certificate_new_from_pem (tls, -1, error);
      if (self->certificate == NULL)
        return NULL;
    }
  self->address = http_listen_describe (fd);
  self->feed = http_snapshot_feed_new_published (first);
  self->processes = MAX (processes, 1);
  self->api = http_api_new (self->feed, self->token, (const char *const *) self->hosts, self->processes);
  if (!serve (self, 1, error))
    return NULL;
  return g_steal_pointer (&self);
}

void
http_bridge_refresh (HttpBridge *bridge)
{
  http_snapshot_feed_refresh (bridge->feed);
}

void
http_bridge_free (HttpBridge *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->workers, http_workers_free);
  g_clear_pointer (&self->threads, g_ptr_array_unref);
  http_connection_count_clear (&self->connections);
  g_clear_pointer (&self->api, http_api_free);
  g_clear_pointer (&self->feed, http_snapshot_feed_free);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_clear_object (&self->engine);
  http_secret_free (self->token);
  g_strfreev (self->hosts);
  if (self->listen_fd >= 0)
    close (self->listen_fd);
  g_free (self->address);
  g_free (self);
}
