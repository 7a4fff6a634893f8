/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libsoup ceiling for the bridge benchmark: SoupServers answering every
 * request with the same fixed body (read from a file, so it has the size of
 * the bridge's answer).
 *   bench-soup-fixed PORT BODY-FILE [THREADS]
 * Each thread has its own main context and SoupServer on its own socket;
 * every socket has SO_REUSEPORT, so that more threads, and more processes
 * started with the same PORT, share it.  THREADS defaults to 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libsoup/soup.h>

typedef struct {
  GBytes *body;
  int fd;
} Server;

static void
on_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type", "application/json");
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), data);
}

/* A listening socket on 127.0.0.1:port with SO_REUSEPORT (the daemon never sets it: here it is the point). */
static int
listen_reuse_port (guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, 1024) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

static gpointer
serve (gpointer data)
{
  Server *self = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GMainLoop) loop = g_main_loop_new (context, FALSE);
  g_autoptr (SoupServer) server = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;

  g_main_context_push_thread_default (context);
  server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (server, NULL, on_request, self->body, NULL);
  socket = g_socket_new_from_fd (self->fd, &error);
  if (socket == NULL || !soup_server_listen_socket (server, socket, 0, &error))
    g_error ("%s", error->message);
  g_main_loop_run (loop);
  return NULL;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;
  gsize length = 0;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GMainLoop) idle = g_main_loop_new (NULL, FALSE);
  guint16 port;
  guint threads = argc == 4 ? (guint) atoi (argv[3]) : 1;

  if (argc < 3 || argc > 4 || threads == 0 || !g_file_get_contents (argv[2], &body, &length, &error))
    {
      g_printerr ("usage: bench-soup-fixed PORT BODY-FILE [THREADS]\n");
      return 2;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&body), length);
  port = (guint16) atoi (argv[1]);
  for (guint i = 0; i < threads; i++)
    {
      Server *server = g_new0 (Server, 1); /* lives as long as the process */
      server->body = bytes;
      server->fd = listen_reuse_port (port);
      if (server->fd < 0)
        {
          g_printerr ("cannot listen on 127.0.0.1:%u: %s\n", port, g_strerror (errno));
          return 1;
        }
      g_thread_unref (g_thread_new ("fixed", serve, server));
    }
  g_main_loop_run (idle); /* the servers run until the process is killed */
  return 0;
}
