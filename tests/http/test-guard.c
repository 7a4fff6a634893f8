/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The request guard in front of libsoup: which targets are plain, and that
 * it follows HTTP/1.1 framing on the wire, so that it rewrites the request
 * lines of pipelined requests and never a line inside a body; that a head
 * whose framing could be read two ways never reaches libsoup; what libsoup
 * reads when the client closes mid-request; and that a response head waits
 * for its body only when a body will come.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-guard-stream.h"

static void
test_plain_targets (void)
{
  static const struct {
    const char *target;
    gboolean plain;
  } cases[] = {
    { "/plugins/status", TRUE },
    { "/plugins/config?plugin=a&x=%2F..", TRUE }, /* the query is not the path */
    { "/", TRUE },
    { "/a.b/c..d/.e", TRUE },
    { "/plugins/../plugins/reload", FALSE },
    { "/plugins/./reload", FALSE },
    { "/plugins/..", FALSE },
    { "/plugins/.", FALSE },
    { "//plugins/reload", FALSE },
    { "/plugins//reload", FALSE },
    { "/plugins%2Freload", FALSE },
    { "/plugins/%2e%2e/x", FALSE },
    { "/plugins\\reload", FALSE },
    { "plugins/reload", FALSE },
    { "http://example.org/plugins/reload", FALSE },
    { "*", FALSE },
    { "", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (http_guard_target_is_plain (cases[i].target, strlen (cases[i].target)) != cases[i].plain)
      g_error ("%s: expected %s", cases[i].target, cases[i].plain ? "plain" : "refused");
}

/*
 * Everything a guarded stream over input gives a reader, read in pieces of
 * chunk bytes; with error, the error that ended it (else it must end cleanly).
 */
static char *
read_guarded_until (const char *input, gsize chunk, GError **error_out)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (g_strdup (input), strlen (input), g_free);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GIOStream) base = g_simple_io_stream_new (in, out);
  g_autoptr (GIOStream) guarded = http_guard_stream_new (base);
  GInputStream *reader = g_io_stream_get_input_stream (guarded);
  g_autoptr (GString) all = g_string_new (NULL);
  char buffer[64];

  g_assert_true (G_IS_POLLABLE_INPUT_STREAM (reader));
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_input_stream_read (reader, buffer, MIN (chunk, sizeof buffer), NULL, &error);
      if (error != NULL && error_out != NULL)
        {
          g_propagate_error (error_out, g_steal_pointer (&error));
          break;
        }
      g_assert_no_error (error);
      if (n == 0)
        break;
      g_string_append_len (all, buffer, n);
    }
  return g_string_free (g_steal_pointer (&all), FALSE);
}

static char *
read_guarded (const char *input, gsize chunk)
{
  return read_guarded_until (input, chunk, NULL);
}

#define CLOSED "GET " HTTP_GUARD_CLOSED_TARGET " HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n"

#define REFUSED "POST " HTTP_GUARD_REFUSED_TARGET " HTTP/1.1\r\n"

static void
test_framing (void)
{
  static const char input[] =
    /* a body holding what looks like a request line */
    "PUT /plugins/config?plugin=a HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\n\r\n"
    "POST /plugins/../x HTTP/1.1\r\n\r\n\r\n"
    /* a request to refuse */
    "POST /plugins/../plugins/reload HTTP/1.1\r\nHost: h\r\n\r\n"
    /* a chunked body, again with a fake request line */
    "PUT /plugins/config?plugin=a HTTP/1.1\r\nHost: h\r\ntransfer-encoding: chunked\r\n\r\n"
    "1d\r\nPOST /plugins/../y HTTP/1.1\r\n\r\n0\r\n\r\n"
    /* another to refuse, after blank lines */
    "\r\nPOST //plugins/reload HTTP/1.1\r\nHost: h\r\n\r\n";
  g_autoptr (GString) expected = g_string_new (input);

  g_string_replace (expected, "POST /plugins/../plugins/reload HTTP/1.1\r\n", REFUSED, 1);
  g_string_replace (expected, "POST //plugins/reload HTTP/1.1\r\n", REFUSED, 1);
  /* The client closed an idle connection: libsoup is asked to close its side. */
  g_string_append (expected, CLOSED);
  /* However the bytes arrive. */
  for (gsize chunk = 1; chunk <= 64; chunk *= 2)
    {
      g_autofree char *got = read_guarded (input, chunk);
      g_assert_cmpstr (got, ==, expected->str);
    }
}

static void
test_ambiguous_framing_refused (void)
{
  static const struct {
    const char *head;
    const char *code;
  } cases[] = {
    { "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "content-length-and-transfer-encoding" },
    { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "content-length-and-transfer-encoding" },
    { "Content-Length: 5\r\nContent-Length: 50\r\n", "two-content-lengths" },
    { "Content-Length: 5\r\nContent-Length: 5\r\n", "two-content-lengths" },
    { "Content-Length: 5, 5\r\n", "bad-content-length" },
    { "Content-Length: +5\r\n", "bad-content-length" },
    /* A value of white space only (fuzz-guard: the value's start ran past the line, and its length underflowed). */
    { "Content-Length: \t\t\t\t\r\n", "bad-content-length" },
    { "Content-Length:\r\n", "bad-content-length" },
    { "Transfer-Encoding:   \r\n", "bad-transfer-encoding" },
    { "Transfer-Encoding: gzip, chunked\r\n", "bad-transfer-encoding" },
    { "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "bad-transfer-encoding" },
    { "X-Folded: a\r\n b\r\n", "obs-fold" },
    { "X-Folded: a\r\n\tb\r\n", "obs-fold" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* Then a body that would be a request if the length were read the other way, and a pipelined request. */
      g_autofree char *input = g_strdup_printf ("POST /plugins/reload?plugin=a HTTP/1.1\r\nHost: h\r\n%s\r\n"
                                                "0\r\n\r\nPOST /plugins/reload?plugin=b HTTP/1.1\r\n\r\n",
                                                cases[i].head);
      g_autofree char *expected = g_strdup_printf ("GET " HTTP_GUARD_REFUSED_HEAD_TARGET "?%s HTTP/1.1\r\n"
                                                   "Host: guard\r\nConnection: close\r\n\r\n",
                                                   cases[i].code);

      /* However the bytes arrive: libsoup sees none of the client's request, only ours, which asks to close. */
      for (gsize chunk = 1; chunk <= 64; chunk *= 4)
        {
          g_autofree char *got = read_guarded (input, chunk);
          if (!g_str_equal (got, expected))
            g_error ("case %u, chunks of %" G_GSIZE_FORMAT ": %s", i, chunk, got);
        }
      g_assert_cmpstr (http_guard_refusal_message (cases[i].code), !=, http_guard_refusal_message ("unknown"));
    }
}

static void
test_oversized_head_refused (void)
{
  g_autoptr (GString) input = g_string_new ("GET /plugins/status HTTP/1.1\r\n");
  g_autofree char *got = NULL;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (input, "X-Filler-%u: %01000d\r\n", i, 0);
  g_string_append (input, "\r\n");
  got = read_guarded (input->str, 64);
  g_assert_cmpstr (got, ==,
                   "GET " HTTP_GUARD_REFUSED_HEAD_TARGET "?head-too-large HTTP/1.1\r\nHost: guard\r\n"
                   "Connection: close\r\n\r\n");
}

/* The client closes before a head is whole: libsoup sees none of it, only the request that asks to close. */
static void
test_closed_mid_head (void)
{
  static const char *const partial[] = {
    "GET /plugins/sta",
    "GET /plugins/status HTTP/1.1\r\nHo",
    "GET /livez HTTP/1.1\r\nHost: h\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (partial); i++)
    {
      g_autofree char *input = g_strconcat ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", partial[i], NULL);
      g_autofree char *got = read_guarded (input, 16);
      g_assert_cmpstr (got, ==, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" CLOSED);
    }
}

/* The client closes in the middle of a body: the reader gets an error, not an end it might take for the body's. */
static void
test_closed_mid_body (void)
{
  static const char *const partial[] = {
    "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n{\"a\"",
    "PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
  };

  for (guint i = 0; i < G_N_ELEMENTS (partial); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *got = read_guarded_until (partial[i], 16, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      g_assert_cmpstr (got, ==, partial[i]);
    }
}

/* A guarded stream over one end of a connected socket pair; the other end is the client. */
typedef struct {
  GIOStream *guarded;
  int server; /* the guarded end's socket, owned by guarded */
  int client;
} Connection;

static void
connection_open (Connection *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  c->guarded = http_guard_stream_new (G_IO_STREAM (connection));
  c->server = fds[0];
  c->client = fds[1];
}

static void
connection_close (Connection *c)
{
  g_clear_object (&c->guarded);
  close (c->client);
}

/* The client sends requests, and the server side reads them through the guard. */
static void
client_requests (Connection *c, const char *requests)
{
  GInputStream *in = g_io_stream_get_input_stream (c->guarded);
  gsize length = strlen (requests);
  g_autofree char *got = g_malloc (length);
  gsize n = 0;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (write (c->client, requests, length), ==, (gssize) length);
  g_assert_true (g_input_stream_read_all (in, got, length, &n, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got, n, requests, length);
}

/* The server side writes data without blocking, all of it taken. */
static void
server_writes (Connection *c, const char *data)
{
  GPollableOutputStream *out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (c->guarded));
  g_autoptr (GError) error = NULL;
  gssize n = g_pollable_output_stream_write_nonblocking (out, data, strlen (data), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) strlen (data));
}

/* What the client can read now, without waiting ("" if nothing is there). */
static char *
client_receives (Connection *c)
{
  char buffer[4096];
  gssize n = recv (c->client, buffer, sizeof buffer - 1, MSG_DONTWAIT);

  if (n < 0)
    {
      g_assert_cmpint (errno, ==, EAGAIN);
      n = 0;
    }
  buffer[n] = '\0';
  return g_strdup (buffer);
}

/* Asserts the client can read exactly expected now. */
static void
assert_client_receives (Connection *c, const char *expected)
{
  g_autofree char *got = client_receives (c);

  g_assert_cmpstr (got, ==, expected);
}

#define HEAD_200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n"

static void
test_head_waits_for_body (void)
{
  Connection c;

  connection_open (&c);
  client_requests (&c, "GET /plugins/status HTTP/1.1\r\nHost: h\r\n\r\n");
  server_writes (&c, HEAD_200);
  assert_client_receives (&c, "");
  server_writes (&c, "hello");
  /* One write: the head and its body arrive together. */
  assert_client_receives (&c, HEAD_200 "hello");
  connection_close (&c);
}

static void
test_head_without_body_goes_at_once (void)
{
  static const struct {
    const char *request;
    const char *head;
  } cases[] = {
    /* a HEAD request's answer has a Content-Length and no body */
    { "HEAD /plugins/status HTTP/1.1\r\nHost: h\r\n\r\n", HEAD_200 },
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" },
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n" },
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" },
    /* the final answer follows the client's body */
    { "PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n" },
    /* a length we cannot read */
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n" },
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" },
    /* not a whole head: a head and body in one write */
    { "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", HEAD_200 "hello" },
    /* an answer to no request read */
    { "", HEAD_200 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Connection c;

      connection_open (&c);
      if (cases[i].request[0] != '\0')
        client_requests (&c, cases[i].request);
      server_writes (&c, cases[i].head);
      assert_client_receives (&c, cases[i].head);
      connection_close (&c);
    }
}

static void
test_pipelined_answers (void)
{
  Connection c;

  connection_open (&c);
  client_requests (&c,
                   "GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /a HTTP/1.1\r\nHost: h\r\n\r\n"
                   "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  server_writes (&c, HEAD_200);
  server_writes (&c, "hel");
  server_writes (&c, "lo");
  assert_client_receives (&c, HEAD_200 "hello");
  /* The HEAD request's answer has no body to wait for. */
  server_writes (&c, HEAD_200);
  assert_client_receives (&c, HEAD_200);
  server_writes (&c, HEAD_200);
  server_writes (&c, "hello");
  assert_client_receives (&c, HEAD_200 "hello");
  connection_close (&c);
}

static void
test_flush_sends_held_head (void)
{
  Connection c;
  g_autoptr (GError) error = NULL;

  connection_open (&c);
  client_requests (&c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  server_writes (&c, HEAD_200);
  g_assert_true (g_output_stream_flush (g_io_stream_get_output_stream (c.guarded), NULL, &error));
  g_assert_no_error (error);
  assert_client_receives (&c, HEAD_200);
  connection_close (&c);
}

static void
test_lost_track_passes_everything (void)
{
  Connection c;

  connection_open (&c);
  client_requests (&c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  server_writes (&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  server_writes (&c, "5\r\nhello\r\n0\r\n\r\n");
  assert_client_receives (&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  /* After a body it could not measure, it no longer knows where a head starts. */
  server_writes (&c, HEAD_200);
  assert_client_receives (&c, HEAD_200);
  connection_close (&c);
}

/* Everything the client can read now, appended to all. */
static void
client_drains (Connection *c, GString *all)
{
  char buffer[65536];
  gssize n;

  while ((n = recv (c->client, buffer, sizeof buffer, MSG_DONTWAIT)) > 0)
    g_string_append_len (all, buffer, n);
  g_assert_true (n < 0 && errno == EAGAIN);
}

static void
test_large_body_in_pieces (void)
{
  GPollableOutputStream *out;
  g_autofree char *body = g_malloc (4 << 20);
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 4 << 20);
  g_autoptr (GString) received = g_string_new (NULL);
  g_autoptr (GString) expected = g_string_new (NULL);
  char filler[4096];
  gssize filled;
  gsize offset = 0;
  guint would_block = 0;
  Connection c;

  for (gsize i = 0; i < (4 << 20); i++)
    body[i] = (char) ('a' + i % 26);
  connection_open (&c);
  out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (c.guarded));
  client_requests (&c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  /* Earlier bytes fill the socket (its fd is non-blocking): the head cannot go out with the body at first. */
  memset (filler, '-', sizeof filler);
  while ((filled = write (c.server, filler, sizeof filler)) > 0)
    g_string_append_len (expected, filler, filled);
  g_assert_cmpint (errno, ==, EAGAIN);
  g_string_append (expected, head);
  g_string_append_len (expected, body, 4 << 20);
  server_writes (&c, head);
  /* The socket takes a part at a time: the held head must go first, whole, and nothing twice. */
  while (offset < (4 << 20))
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (out, body + offset, (4 << 20) - offset, NULL, &error);
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          would_block++;
          client_drains (&c, received);
          continue;
        }
      offset += (gsize) n;
    }
  client_drains (&c, received);
  g_assert_cmpuint (would_block, >, 0);
  g_assert_cmpuint (received->len, ==, expected->len);
  g_assert_true (memcmp (received->str, expected->str, expected->len) == 0);
  connection_close (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/guard/plain-targets", test_plain_targets);
  g_test_add_func ("/guard/framing", test_framing);
  g_test_add_func ("/guard/ambiguous-framing-refused", test_ambiguous_framing_refused);
  g_test_add_func ("/guard/oversized-head-refused", test_oversized_head_refused);
  g_test_add_func ("/guard/closed-mid-head", test_closed_mid_head);
  g_test_add_func ("/guard/closed-mid-body", test_closed_mid_body);
  g_test_add_func ("/guard/head-waits-for-body", test_head_waits_for_body);
  g_test_add_func ("/guard/head-without-body-goes-at-once", test_head_without_body_goes_at_once);
  g_test_add_func ("/guard/pipelined-answers", test_pipelined_answers);
  g_test_add_func ("/guard/flush-sends-held-head", test_flush_sends_held_head);
  g_test_add_func ("/guard/large-body-in-pieces", test_large_body_in_pieces);
  g_test_add_func ("/guard/lost-track-passes-everything", test_lost_track_passes_everything);
  return g_test_run ();
}
