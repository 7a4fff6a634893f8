/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libsoup ceiling for the bridge benchmark: one thread, one SoupServer,
 * answering every request with the same fixed body (read from a file, so it
 * has the size of the bridge's answer).
 *   bench-soup-fixed PORT BODY-FILE
 */
#include <stdlib.h>

#include <libsoup/soup.h>

static void
on_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type", "application/json");
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), data);
}

int
main (int argc, char **argv)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *body = NULL;
  gsize length = 0;
  g_autoptr(GBytes) bytes = NULL;

  if (argc != 3 || !g_file_get_contents (argv[2], &body, &length, &error))
    {
      g_printerr ("usage: bench-soup-fixed PORT BODY-FILE\n");
      return 2;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&body), length);
  server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (server, NULL, on_request, bytes, NULL);
  if (!soup_server_listen_local (server, (guint) atoi (argv[1]), SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_main_loop_run (loop);
  return 0;
}
