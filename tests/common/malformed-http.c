/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "malformed-http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PICK(rand, array) ((array)[g_rand_int_range ((rand), 0, G_N_ELEMENTS (array))])
#define READ_TIMEOUT_SEC 2

/* Bytes that may hold a NUL. */
typedef struct {
  const char *data;
  gsize length;
} Literal;
#define L(text) \
  { \
    (text), sizeof (text) - 1 \
  }

static const char *const methods[] = { "GET",   "GET", "POST",  "PUT",     "HEAD",    "DELETE", "get",  "G E T",     "",
                                       "GET\t", "PRI", "TRACE", "CONNECT", "OPTIONS", "\x7f",   "GETT", "P\xc3\xbcT" };
static const char *const bridge_targets[] = { "/plugins/status",
                                              "/plugins/list",
                                              "/plugins/health",
                                              "/plugins/config?plugin=alpha",
                                              "/livez",
                                              "/readyz",
                                              "/metrics",
                                              "/plugins/reload?plugin=nosuch",
                                              "/plugins/../plugins/reload?plugin=alpha",
                                              "/plugins%2Freload",
                                              "//plugins/status",
                                              "/plugins/./status",
                                              "*",
                                              "http://127.0.0.1/plugins/status",
                                              "example.org:80",
                                              "",
                                              "/plugins/config?plugin=%ZZ",
                                              "/plugins/config?plugin=alpha&plugin=beta",
                                              "/\x01\x02",
                                              "/plugins\\status",
                                              "/plugins/status#frag",
                                              "/plugins/config?plugin="
                                              "\xff\xfe",
                                              "/plugins/status?" };
/* With the real token: only ever for a plugin that does not exist, or no plugin at all. */
static const char *const token_targets[] = { "/plugins/reload?plugin=nosuch",
                                             "/plugins/config?plugin=nosuch",
                                             "/plugins/reload?plugin=..%2Falpha",
                                             "/plugins/config?plugin=",
                                             "/plugins/reload",
                                             "/plugins/config?plugin=NoSuch" };
static const char *const check_targets[] = { "/check",     "/check",         "/",   "*", "/check?x=1", "",
                                             "/che\x00ck", "http://x/check", "/%00" };
static const char *const versions[] = { "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0",  "HTTP/2.0",       "HTTP/1.1x",
                                        "http/1.1", "",         "HTTP/1.",  "HTTP/01.1", "HTTP/1.1 extra", "HTTP/9" };
static const char *const line_ends[] = { "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n", "\n\r" };
static const Literal headers[] = {
  L ("Host:"),
  L ("Host: a\r\nHost: b"),
  L ("Content-Length: 5"),
  L ("Content-Length: -1"),
  L ("Content-Length: abc"),
  L ("Content-Length: 99999999999999999999"),
  L ("Content-Length: 1\r\nContent-Length: 2"),
  L ("Content-Length:  3 "),
  L ("Transfer-Encoding: chunked"),
  L ("Transfer-Encoding: gzip, chunked"),
  L ("Transfer-Encoding: chunked\r\nContent-Length: 3"),
  L ("Transfer-Encoding: identity"),
  L (" folded: continuation"),
  L ("X-Fold: a\r\n\tb"),
  L ("NoColon"),
  L ("Bad Name: x"),
  L (": empty name"),
  L ("X-N\x00ul: a"),
  L ("X-Utf: \xff\xfe\xfd"),
  L ("Authorization: Bearer wrong"),
  L ("Authorization: Basic Zm9vOmJhcg=="),
  L ("Authorization:"),
  L ("Origin: http://evil.example"),
  L ("Content-Type: application/json"),
  L ("Content-Type: text/plain"),
  L ("Expect: 100-continue"),
  L ("Connection: upgrade\r\nUpgrade: h2c"),
  L ("Connection: keep-alive"),
  L ("X-Original-Method: GET"),
  L ("X-Original-Method: G\x01T"),
  L ("X-Original-URI: /pks/lookup?op=get"),
  L ("X-Original-URI: no-slash"),
  L ("X-Original-URI: /a b"),
  L ("X-Real-IP: 192.0.2.1"),
  L ("X-Real-IP: 999.1.1.1"),
  L ("X-Real-IP: 192.0.2.1\r\nX-Real-IP: 192.0.2.2"),
  L ("X-Forwarded-For: 203.0.113.1, garbage"),
  L ("X-Forwarded-For: ,,,"),
  L ("X-Forwarded-For: 2001:db8::1, 127.0.0.1"),
};
static const Literal bodies[] = {
  L (""),
  L ("{\"enabled\": true}}"),
  L ("{\"enabled\": tru"),
  L ("{\"a\": 1, \"a\": 2}"),
  L ("[1, 2, 3]"),
  L ("\x00\x01\x02"),
  L ("5\r\nhello\r\n0\r\n\r\n"),
  L ("zz\r\nhello\r\n"),
  L ("-1\r\n"),
  L ("ffffffffffffffffffff\r\nx\r\n"),
  L ("3\r\nabc"),
  L ("0\r\n"),
  L ("3;ext=\"x\"\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"),
  L ("GET /plugins/status HTTP/1.1\r\n\r\n"),
};

static void
append_random_bytes (GRand *rand, GString *out, guint length)
{
  for (guint i = 0; i < length; i++)
    g_string_append_c (out, (char) g_rand_int_range (rand, 0, 256));
}

GBytes *
malformed_http_request (GRand *rand, MalformedHttpTarget target, const char *host, const char *token)
{
  GString *out = g_string_new (NULL);
  const char *line_end = PICK (rand, line_ends);
  gboolean with_token = target == MALFORMED_HTTP_BRIDGE && g_rand_int_range (rand, 0, 10) == 0;
  const char *path = target == MALFORMED_HTTP_CHECK ? PICK (rand, check_targets)
    : with_token                                    ? PICK (rand, token_targets)
                                                    : PICK (rand, bridge_targets);
  guint kind = (guint) g_rand_int_range (rand, 0, 100);
  guint n_headers;

  if (kind < 8)
    {
      /* Nothing but noise. */
      append_random_bytes (rand, out, (guint) g_rand_int_range (rand, 1, 4096));
      return g_string_free_to_bytes (out);
    }

  /* The request line, sometimes with its spaces wrong. */
  g_string_append (out, PICK (rand, methods));
  g_string_append (out, g_rand_int_range (rand, 0, 10) == 0 ? "  " : " ");
  if (kind < 11)
    {
      /* A target far too long. */
      g_string_append (out, "/plugins/status?");
      for (guint i = 0; i < 4096; i++)
        g_string_append (out, "aaaaaaaaaaaaaaaaaaaaaaaa");
    }
  else
    g_string_append (out, path);
  if (g_rand_int_range (rand, 0, 12) != 0)
    {
      g_string_append_c (out, ' ');
      g_string_append (out, PICK (rand, versions));
    }
  g_string_append (out, line_end);

  /* Headers: the Host it answers to (usually), the token (sometimes), then what goes wrong. */
  if (g_rand_int_range (rand, 0, 6) != 0)
    g_string_append_printf (out, "Host: %s%s", host, line_end);
  if (with_token)
    g_string_append_printf (out, "Authorization: Bearer %s%s", token, line_end);
  if (target == MALFORMED_HTTP_CHECK && g_rand_boolean (rand))
    g_string_append_printf (out, "X-Original-Method: GET%sX-Original-URI: /pks/lookup%sX-Real-IP: 192.0.2.1%s",
                            line_end, line_end, line_end);
  n_headers = (guint) g_rand_int_range (rand, 0, 6);
  for (guint i = 0; i < n_headers; i++)
    {
      const Literal *header = &PICK (rand, headers);
      g_string_append_len (out, header->data, (gssize) header->length);
      g_string_append (out, line_end);
    }
  if (kind < 13)
    {
      /* One header of 64 KiB. */
      g_string_append (out, "X-Long: ");
      for (guint i = 0; i < 4096; i++)
        g_string_append (out, "bbbbbbbbbbbbbbbb");
      g_string_append (out, line_end);
    }
  else if (kind < 15)
    {
      /* A thousand headers. */
      for (guint i = 0; i < 1000; i++)
        g_string_append_printf (out, "X-Many-%u: %u%s", i, i, line_end);
    }
  if (g_rand_int_range (rand, 0, 8) != 0)
    g_string_append (out, line_end);

  /* A body that may not match what the headers said, or the start of another request. */
  if (g_rand_boolean (rand))
    {
      const Literal *body = &PICK (rand, bodies);
      g_string_append_len (out, body->data, (gssize) body->length);
    }
  if (g_rand_int_range (rand, 0, 10) == 0)
    append_random_bytes (rand, out, (guint) g_rand_int_range (rand, 1, 512));
  return g_string_free_to_bytes (out);
}

static int
connect_to (const char *address)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  const char *colon = strrchr (address, ':');
  g_autofree char *host = colon != NULL ? g_strndup (address, (gsize) (colon - address)) : NULL;
  struct timeval timeout = { .tv_sec = READ_TIMEOUT_SEC };
  int fd;

  if (host == NULL || inet_pton (AF_INET, host, &sa.sin_addr) != 1)
    return -1;
  sa.sin_port = htons ((guint16) g_ascii_strtoull (colon + 1, NULL, 10));
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Keeps the escaped start of request, with a note, in the first free one of examples. */
static void
keep_example (char examples[MALFORMED_HTTP_EXAMPLES][200], GBytes *request, const char *note)
{
  gsize length = 0;
  const char *data = g_bytes_get_data (request, &length);

  for (guint i = 0; i < MALFORMED_HTTP_EXAMPLES; i++)
    if (examples[i][0] == '\0')
      {
        g_autofree char *start = g_strndup (data, MIN (length, 120));
        g_autofree char *shown = g_strescape (start, NULL);
        g_snprintf (examples[i], sizeof examples[i], "%s: %s", note, shown);
        return;
      }
}

/* Notes every status line at the start of a response in what came back (pipelined answers too). */
static void
note_statuses (const GString *got, GBytes *request, MalformedHttpTally *tally)
{
  gboolean any = FALSE;

  for (const char *p = got->str; (p = strstr (p, "HTTP/1.")) != NULL; p++)
    {
      guint status;
      if ((p != got->str && p[-1] != '\n') || strlen (p) < 12 || p[8] != ' ')
        continue;
      status = (guint) g_ascii_strtoull (p + 9, NULL, 10);
      if (status < 100 || status > 599)
        continue;
      any = TRUE;
      tally->statuses[status]++;
      if (status >= 500)
        {
          g_autofree char *note = g_strdup_printf ("%u", status);
          keep_example (tally->examples_5xx, request, note);
        }
    }
  if (any)
    tally->answered++;
  else
    tally->closed++;
}

guint
malformed_http_tally_count (const MalformedHttpTally *tally, guint first, guint last)
{
  guint n = 0;

  for (guint status = first; status <= last && status < G_N_ELEMENTS (tally->statuses); status++)
    n += tally->statuses[status];
  return n;
}

void
malformed_http_send (const char *address, GBytes *request, MalformedHttpTally *tally)
{
  g_autoptr (GString) got = g_string_new (NULL);
  gsize length = 0;
  const char *data = g_bytes_get_data (request, &length);
  gsize sent = 0;
  int fd = connect_to (address);

  tally->sent++;
  if (fd < 0)
    {
      tally->connect_failed++;
      return;
    }
  /* The server may close before it has read it all: that is an answer too. */
  while (sent < length)
    {
      ssize_t n = send (fd, data + sent, length - sent, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      sent += (gsize) n;
    }
  shutdown (fd, SHUT_WR);
  for (;;)
    {
      char buffer[4096];
      ssize_t n = recv (fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          tally->held++;
          keep_example (tally->examples_held, request, "held");
          break;
        }
      if (n <= 0)
        break; /* closed, or reset */
      if (got->len < 65536)
        g_string_append_len (got, buffer, n);
    }
  close (fd);
  note_statuses (got, request, tally);
}

static void
add_examples (char to[MALFORMED_HTTP_EXAMPLES][200], const char from[MALFORMED_HTTP_EXAMPLES][200])
{
  for (guint i = 0, j = 0; i < MALFORMED_HTTP_EXAMPLES && from[i][0] != '\0'; i++)
    {
      while (j < MALFORMED_HTTP_EXAMPLES && to[j][0] != '\0')
        j++;
      if (j < MALFORMED_HTTP_EXAMPLES)
        memcpy (to[j], from[i], sizeof to[j]);
    }
}

void
malformed_http_tally_add (MalformedHttpTally *to, const MalformedHttpTally *from)
{
  to->sent += from->sent;
  to->connect_failed += from->connect_failed;
  to->answered += from->answered;
  for (guint i = 0; i < G_N_ELEMENTS (to->statuses); i++)
    to->statuses[i] += from->statuses[i];
  to->closed += from->closed;
  to->held += from->held;
  add_examples (to->examples_5xx, from->examples_5xx);
  add_examples (to->examples_held, from->examples_held);
}
