/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A blocking HTTP/1.1 client over one connection, for tests of the wire. */

#include "hkp-test-http.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>

struct _HkpTestHttp {
  char *host; /* the default Host header */
  GSocketConnection *connection;
  GDataInputStream *in;
  GOutputStream *out;
};

void
hkp_test_http_response_clear (HkpTestHttpResponse *response)
{
  g_clear_pointer (&response->headers, g_hash_table_unref);
  g_clear_pointer (&response->body, g_free);
  memset (response, 0, sizeof *response);
}

const char *
hkp_test_http_header (const HkpTestHttpResponse *response, const char *name)
{
  return response->headers != NULL ? g_hash_table_lookup (response->headers, name) : NULL;
}

static GSocketAddress *
parse_address (const char *address, GError **error)
{
  g_autoptr (GSocketConnectable) connectable = NULL;
  g_autoptr (GSocketAddressEnumerator) enumerator = NULL;

  if (g_str_has_prefix (address, "unix:"))
    return g_unix_socket_address_new (address + 5);
  connectable = g_network_address_parse (address, 0, error);
  if (connectable == NULL)
    return NULL;
  enumerator = g_socket_connectable_enumerate (connectable);
  return g_socket_address_enumerator_next (enumerator, NULL, error);
}

HkpTestHttp *
hkp_test_http_connect (const char *address, const char *local_ip, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) target = parse_address (address, error);
  GSocketConnection *connection;
  HkpTestHttp *http;

  if (target == NULL)
    return NULL;
  if (local_ip != NULL)
    {
      g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (local_ip);
      g_autoptr (GSocketAddress) local = g_inet_socket_address_new (ip, 0);
      g_socket_client_set_local_address (client, local);
    }
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (target), NULL, error);
  if (connection == NULL)
    return NULL;
  http = g_new0 (HkpTestHttp, 1);
  http->connection = connection;
  http->host = g_str_has_prefix (address, "unix:") ? g_strdup ("localhost") : g_strdup (address);
  http->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (http->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  http->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  return http;
}

static char *
read_line (HkpTestHttp *http, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  char *line = g_data_input_stream_read_line (http->in, NULL, NULL, &local_error);

  if (line == NULL)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "the server closed the connection");
    }
  return line;
}

gboolean
hkp_test_http_request (HkpTestHttp *http, const char *method, const char *target, const char *const *headers,
                       const char *body, HkpTestHttpResponse *out, GError **error)
{
  g_autoptr (GString) request = g_string_new (NULL);
  gboolean own_host = FALSE;

  g_string_append_printf (request, "%s %s HTTP/1.1\r\n", method, target);
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    own_host |= g_ascii_strncasecmp (headers[i], "Host:", 5) == 0;
  if (!own_host)
    g_string_append_printf (request, "Host: %s\r\n", http->host);
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    if (!g_str_equal (headers[i], "Host: none"))
      g_string_append_printf (request, "%s\r\n", headers[i]);
  if (body != NULL)
    g_string_append_printf (request, "Content-Length: %zu\r\n", strlen (body));
  g_string_append (request, "\r\n");
  if (body != NULL)
    g_string_append (request, body);
  if (!g_output_stream_write_all (http->out, request->str, request->len, NULL, NULL, error))
    return FALSE;
  return hkp_test_http_read_response (http, method, out, error);
}

gboolean
hkp_test_http_read_response (HkpTestHttp *http, const char *method, HkpTestHttpResponse *out, GError **error)
{
  g_autofree char *status_line = NULL;
  gsize length = 0;
  gboolean chunked = FALSE;

  memset (out, 0, sizeof *out);
  status_line = read_line (http, error);
  if (status_line == NULL)
    return FALSE;
  if (!g_str_has_prefix (status_line, "HTTP/1.1 ") && !g_str_has_prefix (status_line, "HTTP/1.0 "))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an HTTP answer: %s", status_line);
      return FALSE;
    }
  out->status = (guint) g_ascii_strtoull (status_line + 9, NULL, 10);
  out->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (;;)
    {
      g_autofree char *line = read_line (http, error);
      char *colon;
      g_autofree char *name = NULL;
      const char *old;
      char *value;

      if (line == NULL)
        return FALSE;
      if (line[0] == '\0')
        break;
      colon = strchr (line, ':');
      if (colon == NULL)
        continue;
      name = g_ascii_strdown (line, colon - line);
      value = g_strstrip (g_strdup (colon + 1));
      old = g_hash_table_lookup (out->headers, name);
      if (old != NULL)
        {
          char *joined = g_strdup_printf ("%s, %s", old, value);
          g_free (value);
          value = joined;
        }
      g_hash_table_replace (out->headers, g_steal_pointer (&name), value);
    }
  if (hkp_test_http_header (out, "content-length") != NULL)
    length = g_ascii_strtoull (hkp_test_http_header (out, "content-length"), NULL, 10);
  chunked = g_strcmp0 (hkp_test_http_header (out, "transfer-encoding"), "chunked") == 0;
  out->closed = g_strcmp0 (hkp_test_http_header (out, "connection"), "close") == 0;
  if (chunked)
    {
      g_autoptr (GString) all = g_string_new (NULL);
      for (;;)
        {
          g_autofree char *size_line = read_line (http, error);
          gsize size;
          g_autofree char *chunk = NULL;
          g_autofree char *crlf = NULL;

          if (size_line == NULL)
            return FALSE;
          size = g_ascii_strtoull (size_line, NULL, 16);
          if (size == 0)
            {
              g_autofree char *end = read_line (http, error);
              break;
            }
          chunk = g_malloc (size);
          if (!g_input_stream_read_all (G_INPUT_STREAM (http->in), chunk, size, NULL, NULL, error))
            return FALSE;
          g_string_append_len (all, chunk, size);
          crlf = read_line (http, error);
        }
      out->body = g_string_free (g_steal_pointer (&all), FALSE);
    }
  else if (!g_str_equal (method, "HEAD") && out->status != 204 && out->status != 304)
    {
      gsize got = 0;
      out->body = g_malloc0 (length + 1);
      if (!g_input_stream_read_all (G_INPUT_STREAM (http->in), out->body, length, &got, NULL, error))
        return FALSE;
      if (got != length)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "body cut short: %zu of %zu", got, length);
          return FALSE;
        }
    }
  else
    out->body = g_strdup ("");
  return TRUE;
}

gboolean
hkp_test_http_send (HkpTestHttp *http, const char *bytes, GError **error)
{
  return g_output_stream_write_all (http->out, bytes, strlen (bytes), NULL, NULL, error);
}

gboolean
hkp_test_http_readable (HkpTestHttp *http)
{
  GSocket *socket = g_socket_connection_get_socket (http->connection);

  return g_buffered_input_stream_get_available (G_BUFFERED_INPUT_STREAM (http->in)) > 0 ||
    (g_socket_condition_check (socket, G_IO_IN | G_IO_HUP) & (G_IO_IN | G_IO_HUP)) != 0;
}

gboolean
hkp_test_http_peer_closed (HkpTestHttp *http)
{
  GSocket *socket = g_socket_connection_get_socket (http->connection);
  char byte;
  gssize n;

  /* A server that closes makes the socket readable with EOF; wait for that (bounded). */
  if (!g_socket_condition_timed_wait (socket, G_IO_IN | G_IO_HUP, 10 * G_USEC_PER_SEC, NULL, NULL))
    return FALSE;
  n = g_socket_receive (socket, &byte, 1, NULL, NULL);
  return n == 0 || n < 0;
}

void
hkp_test_http_free (HkpTestHttp *http)
{
  if (http == NULL)
    return;
  g_clear_object (&http->in);
  g_io_stream_close (G_IO_STREAM (http->connection), NULL, NULL);
  g_clear_object (&http->connection);
  g_free (http->host);
  g_free (http);
}
