/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The request-target guard in front of libsoup: which targets are plain,
 * and that it follows HTTP/1.1 framing on the wire, so that it rewrites the
 * request lines of pipelined requests and never a line inside a body.
 */
#include <string.h>

#include "http-guard-stream.h"

static void
test_plain_targets (void)
{
  static const struct {
    const char *target;
    gboolean plain;
  } cases[] = {
    { "/plugins/status", TRUE },
    { "/plugins/config?plugin=a&x=%2F..", TRUE },  /* the query is not the path */
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

/* Everything a guarded stream over input gives a reader, read in pieces of chunk bytes. */
static char *
read_guarded (const char *input, gsize chunk)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (g_strdup (input), strlen (input), g_free);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GIOStream) base = g_simple_io_stream_new (in, out);
  g_autoptr(GIOStream) guarded = http_guard_stream_new (base);
  GInputStream *reader = g_io_stream_get_input_stream (guarded);
  g_autoptr(GString) all = g_string_new (NULL);
  char buffer[64];

  g_assert_true (G_IS_POLLABLE_INPUT_STREAM (reader));
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_input_stream_read (reader, buffer, MIN (chunk, sizeof buffer), NULL, &error);
      g_assert_no_error (error);
      if (n == 0)
        break;
      g_string_append_len (all, buffer, n);
    }
  return g_string_free (g_steal_pointer (&all), FALSE);
}

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
  g_autoptr(GString) expected = g_string_new (input);

  g_string_replace (expected, "POST /plugins/../plugins/reload HTTP/1.1\r\n", REFUSED, 1);
  g_string_replace (expected, "POST //plugins/reload HTTP/1.1\r\n", REFUSED, 1);
  /* The client closed an idle connection: libsoup is asked to close its side. */
  g_string_append (expected, "GET " HTTP_GUARD_CLOSED_TARGET " HTTP/1.1\r\nHost: closed\r\nConnection: close\r\n\r\n");
  /* However the bytes arrive. */
  for (gsize chunk = 1; chunk <= 64; chunk *= 2)
    {
      g_autofree char *got = read_guarded (input, chunk);
      g_assert_cmpstr (got, ==, expected->str);
    }
}

static void
test_ambiguous_framing_ends_input (void)
{
  static const char input[] =
    "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello"
    "POST /plugins/reload HTTP/1.1\r\n\r\n";
  g_autofree char *got = read_guarded (input, 64);

  /* The ambiguous request goes through for libsoup to refuse; nothing after it does. */
  g_assert_true (g_str_has_prefix (got, "PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 50\r\n"));
  g_assert_null (strstr (got, "/plugins/reload"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/guard/plain-targets", test_plain_targets);
  g_test_add_func ("/guard/framing", test_framing);
  g_test_add_func ("/guard/ambiguous-framing-ends-input", test_ambiguous_framing_ends_input);
  return g_test_run ();
}
