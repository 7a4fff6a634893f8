/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* The connection as libsoup sees it: request heads checked on the wire, ahead of libsoup's parser and
 * its URI normalisation; a response's head sent in one write with its body. */

#include "http-guard-stream.h"

#include <string.h>

#define LINE_MAX_BYTES 8192
#define HEAD_MAX_BYTES (64 * 1024)
#define READ_CHUNK 16384

typedef enum {
  FRAME_REQUEST_LINE,
  FRAME_HEADER_LINE,
  FRAME_BODY,
  FRAME_CHUNK_SIZE,
  FRAME_CHUNK_DATA,
  FRAME_CHUNK_END, /* the CRLF after a chunk's data */
  FRAME_TRAILER,
  FRAME_ENDED, /* no more input after what is pending */
} Frame;

/* Why a request head was replaced with HTTP_GUARD_REFUSED_HEAD_TARGET: the code travels as its query. */
static const struct {
  const char *code;
  const char *message;
} refusals[] = {
  { "content-length-and-transfer-encoding",
    "the request has both Content-Length and Transfer-Encoding: its body could be read two ways" },
  { "two-content-lengths", "the request has more than one Content-Length: its body could be read two ways" },
  { "bad-content-length", "the request's Content-Length is not a number" },
  { "bad-transfer-encoding", "the request's Transfer-Encoding is not chunked alone" },
  { "obs-fold", "a header line of the request is folded (it starts with a space or a tab)" },
  { "head-too-large", "the request head is larger than 64 KiB, or one of its lines larger than 8 KiB" },
};

/* ---- the framing state machine ------------------------------------------- */

typedef struct {
  Frame frame;
  GString *line; /* the line being gathered (request, header, chunk size) */
  GString *head; /* the request head so far: passed on only once it is whole and unambiguous */
  gboolean head_method; /* the request in head is a HEAD request */
  GByteArray *out; /* bytes ready for the reader */
  guint64 remaining; /* FRAME_BODY / FRAME_CHUNK_DATA */
  gint64 content_length; /* of the request being read; -1 if none */
  gboolean chunked;
  guint64 requests; /* request heads passed on */
  guint64 head_requests; /* bit (n % 64) set: request n was HEAD (for the output side) */
} Guard;

gboolean
http_guard_target_is_plain (const char *target, gsize length)
{
  gsize path_length = 0;

  if (length == 0 || target[0] != '/')
    return FALSE;
  while (path_length < length && target[path_length] != '?')
    path_length++;
  for (gsize i = 0; i < path_length; i++)
    {
      if (target[i] == '%' || target[i] == '\\')
        return FALSE;
      if (target[i] == '/')
        {
          gsize next = i + 1;
          gsize segment = 0;
          while (next + segment < path_length && target[next + segment] != '/')
            segment++;
          if (next < path_length && target[next] == '/')
            return FALSE; /* "//" */
          if ((segment == 1 && target[next] == '.') || (segment == 2 && target[next] == '.' && target[next + 1] == '.'))
            return FALSE; /* a dot segment */
        }
    }
  return TRUE;
}

const char *
http_guard_refusal_message (const char *query)
{
  for (guint i = 0; query != NULL && i < G_N_ELEMENTS (refusals); i++)
    if (g_str_equal (query, refusals[i].code))
      return refusals[i].message;
  return "the request's framing could be read two ways";
}

static void
emit (Guard *g, const void *data, gsize length)
{
  g_byte_array_append (g->out, data, length);
}

/* Counts a request passed on, remembering whether it was HEAD (its answer has no body). */
static void
note_request (Guard *g, gboolean head)
{
  guint64 bit = G_GUINT64_CONSTANT (1) << (g->requests % 64);

  g->head_requests = head ? g->head_requests | bit : g->head_requests & ~bit;
  g->requests++;
}

/*
 * Passes on a request of our own instead of what the client sent, one that
 * asks libsoup to close the connection once it is answered; nothing the
 * client sends after it is read.
 */
static void
replace_request (Guard *g, const char *target)
{
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n", target);

  g_string_truncate (g->head, 0);
  g_string_truncate (g->line, 0);
  emit (g, request, strlen (request));
  note_request (g, FALSE);
  g->frame = FRAME_ENDED;
}

/* The head being read cannot be passed on as it is: libsoup sees a request that the endpoints answer 400. */
static void
refuse (Guard *g, const char *code)
{
  g_autofree char *target = g_strdup_printf (HTTP_GUARD_REFUSED_HEAD_TARGET "?%s", code);

  replace_request (g, target);
}

/* A complete request line (with its line ending): the head begins, its target replaced if need be. */
static void
request_line (Guard *g)
{
  const char *line = g->line->str;
  const char *space = memchr (line, ' ', g->line->len);
  const char *target = space != NULL ? space + 1 : NULL;
  const char *end = target != NULL ? memchr (target, ' ', g->line->len - (target - line)) : NULL;

  g->head_method = g->line->len >= 5 && memcmp (line, "HEAD ", 5) == 0;
  g->content_length = -1;
  g->chunked = FALSE;
  g->frame = FRAME_HEADER_LINE;
  if (end == NULL || http_guard_target_is_plain (target, end - target))
    {
      g_string_append_len (g->head, line, g->line->len);
      return;
    }
  g_string_append_len (g->head, line, target - line);
  g_string_append (g->head, HTTP_GUARD_REFUSED_TARGET);
  g_string_append_len (g->head, end, g->line->len - (end - line));
}

/* TRUE if line (not NUL-terminated, length bytes) is header name; *value then points past the colon and blanks. */
static gboolean
header_is (const char *line, gsize length, const char *name, const char **value)
{
  gsize n = strlen (name);

  if (length <= n || line[n] != ':' || g_ascii_strncasecmp (line, name, n) != 0)
    return FALSE;
  /* Within the line: its trailing white space is already cut off length, and a value may be all white space. */
  *value = line + n + 1;
  while (*value < line + length && (**value == ' ' || **value == '\t'))
    (*value)++;
  return TRUE;
}

/* The head is whole: it goes on, and the body (if any) is followed. */
static void
end_head (Guard *g)
{
  g_string_append_len (g->head, g->line->str, g->line->len);
  emit (g, g->head->str, g->head->len);
  note_request (g, g->head_method);
  g_string_truncate (g->head, 0);
  if (g->chunked)
    g->frame = FRAME_CHUNK_SIZE;
  else if (g->content_length > 0)
    {
      g->frame = FRAME_BODY;
      g->remaining = (guint64) g->content_length;
    }
  else
    g->frame = FRAME_REQUEST_LINE;
  g->content_length = -1;
  g->chunked = FALSE;
}

/*
 * A complete header line: gathered into the head, its framing headers noted.
 * Framing that could be read two ways (RFC 9112 §6.3, §5.2) refuses the
 * whole request, whichever way libsoup would have read it.
 */
static void
header_line (Guard *g)
{
  const char *line = g->line->str;
  gsize length = g->line->len;
  const char *value;

  while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
    length--;
  if (length == 0)
    {
      end_head (g);
      return;
    }
  if (line[0] == ' ' || line[0] == '\t')
    {
      refuse (g, "obs-fold");
      return;
    }
  while (length > 0 && (line[length - 1] == ' ' || line[length - 1] == '\t'))
    length--;
  /* Only the two headers that frame the body matter here; the line is NUL-terminated (GString). */
  if ((line[0] == 'C' || line[0] == 'c') && header_is (line, length, "Content-Length", &value))
    {
      g_autofree char *number = g_strndup (value, length - (gsize) (value - line));
      guint64 n;

      if (g->chunked)
        refuse (g, "content-length-and-transfer-encoding");
      else if (g->content_length >= 0)
        refuse (g, "two-content-lengths");
      else if (!g_ascii_isdigit (number[0]) || !g_ascii_string_to_unsigned (number, 10, 0, G_MAXINT64, &n, NULL))
        refuse (g, "bad-content-length");
      else
        g->content_length = (gint64) n;
    }
  else if ((line[0] == 'T' || line[0] == 't') && header_is (line, length, "Transfer-Encoding", &value))
    {
      if (g->content_length >= 0)
        refuse (g, "content-length-and-transfer-encoding");
      else if (g->chunked || length - (gsize) (value - line) != 7 || g_ascii_strncasecmp (value, "chunked", 7) != 0)
        refuse (g, "bad-transfer-encoding");
      else
        g->chunked = TRUE;
    }
  if (g->frame == FRAME_ENDED)
    return;
  g_string_append_len (g->head, g->line->str, g->line->len);
  if (g->head->len > HEAD_MAX_BYTES)
    refuse (g, "head-too-large");
}

/* A chunk-size line: FALSE if it is not one (we cannot tell where the next request starts). */
static gboolean
chunk_size_line (Guard *g)
{
  g_autofree char *text = g_strndup (g->line->str, g->line->len);
  guint64 size;
  char *end;

  emit (g, g->line->str, g->line->len);
  g_strchomp (text);
  text[strcspn (text, ";")] = '\0';
  size = g_ascii_strtoull (text, &end, 16);
  if (end == text || *end != '\0')
    return FALSE;
  if (size == 0)
    g->frame = FRAME_TRAILER;
  else
    {
      g->frame = FRAME_CHUNK_DATA;
      g->remaining = size;
    }
  return TRUE;
}

/* TRUE while the guard gathers a request head (libsoup has seen none of it). */
static gboolean
in_head (const Guard *g)
{
  return g->frame == FRAME_HEADER_LINE || (g->frame == FRAME_REQUEST_LINE && g->line->len > 0);
}

/* Feeds input; whatever can be passed on goes to g->out. */
static void
guard_feed (Guard *g, const guint8 *data, gsize length)
{
  gsize i = 0;

  while (i < length)
    {
      if (g->frame == FRAME_ENDED)
        return; /* input after lost framing is dropped */
      if (g->frame == FRAME_BODY || g->frame == FRAME_CHUNK_DATA)
        {
          gsize n = MIN ((guint64) (length - i), g->remaining);
          emit (g, data + i, n);
          i += n;
          g->remaining -= n;
          if (g->remaining == 0)
            g->frame = g->frame == FRAME_BODY ? FRAME_REQUEST_LINE : FRAME_CHUNK_END;
          continue;
        }
      /* Every other state gathers a line. */
      {
        const guint8 *newline = memchr (data + i, '\n', length - i);
        gsize n = newline != NULL ? (gsize) (newline - (data + i)) + 1 : length - i;

        g_string_append_len (g->line, (const char *) data + i, n);
        i += n;
        if (g->line->len > LINE_MAX_BYTES)
          {
            if (in_head (g))
              refuse (g, "head-too-large");
            else
              {
                /* Too long for a chunk size or trailer: libsoup refuses it; we stop after it. */
                emit (g, g->line->str, g->line->len);
                g_string_truncate (g->line, 0);
                g->frame = FRAME_ENDED;
              }
            return;
          }
        if (newline == NULL)
          return;
        switch (g->frame)
          {
          case FRAME_REQUEST_LINE:
            if (g->line->len <= 2 && (g->line->str[0] == '\r' || g->line->str[0] == '\n'))
              emit (g, g->line->str, g->line->len); /* blank lines between requests */
            else
              request_line (g);
            break;
          case FRAME_HEADER_LINE:
            header_line (g);
            break;
          case FRAME_CHUNK_SIZE:
            if (!chunk_size_line (g))
              g->frame = FRAME_ENDED;
            break;
          case FRAME_CHUNK_END:
            emit (g, g->line->str, g->line->len);
            g->frame = FRAME_CHUNK_SIZE;
            break;
          case FRAME_TRAILER:
            emit (g, g->line->str, g->line->len);
            if (g->line->len <= 2)
              g->frame = FRAME_REQUEST_LINE;
            break;
          case FRAME_BODY:
          case FRAME_CHUNK_DATA:
          case FRAME_ENDED:
          default:
            g_assert_not_reached ();
          }
        g_string_truncate (g->line, 0);
      }
    }
}

/* ---- the input stream ---------------------------------------------------- */

#define HTTP_TYPE_GUARD_INPUT (http_guard_input_get_type ())
G_DECLARE_FINAL_TYPE (HttpGuardInput, http_guard_input, HTTP, GUARD_INPUT, GFilterInputStream)

struct _HttpGuardInput {
  GFilterInputStream parent_instance;
  Guard guard;
  gsize out_offset;
  gint64 last_usec; /* monotonic: the last byte read or written (the output side writes it too) */
  gint64 sent_usec; /* monotonic: the last byte of an answer written (by the output side) */
  gint64 request_usec; /* monotonic: the first byte of the request being received */
};

static void http_guard_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (HttpGuardInput, http_guard_input, G_TYPE_FILTER_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM, http_guard_input_pollable_init))

static GInputStream *
base_of (HttpGuardInput *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* Hands out pending bytes; returns how many. */
static gsize
take_pending (HttpGuardInput *self, void *buffer, gsize count)
{
  GByteArray *out = self->guard.out;
  gsize n = MIN (count, out->len - self->out_offset);

  memcpy (buffer, out->data + self->out_offset, n);
  self->out_offset += n;
  if (self->out_offset == out->len)
    {
      g_byte_array_set_size (out, 0);
      self->out_offset = 0;
    }
  return n;
}

/* Reads from the base until something can be handed out, EOF, or (non-blocking) nothing is there. */
static gssize
guarded_read (HttpGuardInput *self, void *buffer, gsize count, gboolean blocking, GCancellable *cancellable,
              GError **error)
{
  guint8 chunk[READ_CHUNK];

  for (;;)
    {
      gssize got;

      if (self->guard.out->len > self->out_offset)
        return take_pending (self, buffer, count);
      if (self->guard.frame == FRAME_ENDED)
        return 0;
      if (blocking)
        got = g_input_stream_read (base_of (self), chunk, sizeof chunk, cancellable, error);
      else
        got = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)), chunk, sizeof chunk,
                                                        cancellable, error);
      if (got == 0 && (self->guard.frame == FRAME_REQUEST_LINE || self->guard.frame == FRAME_HEADER_LINE))
        {
          /*
           * The client closed the connection between requests, or before a
           * head was whole (which libsoup has not seen).  libsoup 3.2 keeps
           * such a connection, and its fd, for ever (upstream fixed this
           * after 3.2); it lets go of one that asked to be closed, so that is
           * what it reads instead; the request goes nowhere.
           */
          replace_request (&self->guard, HTTP_GUARD_CLOSED_TARGET);
          continue;
        }
      if (got == 0 && self->guard.frame != FRAME_ENDED)
        {
          /* In the middle of a body: an error makes libsoup drop the connection at once. */
          self->guard.frame = FRAME_ENDED;
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "the client closed the connection in the middle of a request");
          return -1;
        }
      if (got <= 0)
        return got;
      self->last_usec = g_get_monotonic_time ();
      if (self->guard.frame == FRAME_REQUEST_LINE && self->guard.line->len == 0)
        self->request_usec = self->last_usec;
      guard_feed (&self->guard, chunk, (gsize) got);
    }
}

static gssize
http_guard_input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  return guarded_read (HTTP_GUARD_INPUT (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
http_guard_input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  return guarded_read (HTTP_GUARD_INPUT (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
http_guard_input_is_readable (GPollableInputStream *stream)
{
  HttpGuardInput *self = HTTP_GUARD_INPUT (stream);

  return self->guard.out->len > self->out_offset || self->guard.frame == FRAME_ENDED ||
    g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self)));
}

/*
 * With nothing pending this is the base stream's own source: every level of
 * nesting costs the loop a poll-set change and a wake-up each time it is
 * dispatched.  Its callback would be given the base stream, not this one;
 * libsoup, our only reader, gives it a dummy callback and wraps it.
 */
static GSource *
http_guard_input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  HttpGuardInput *self = HTTP_GUARD_INPUT (stream);
  g_autoptr (GSource) ready = NULL;

  if (self->guard.out->len == self->out_offset && self->guard.frame != FRAME_ENDED)
    return g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of (self)), cancellable);
  /* Readable now: a source that fires at once. */
  ready = g_timeout_source_new (0);
  return g_pollable_source_new_full (stream, ready, cancellable);
}

static gboolean
http_guard_input_can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base_of (HTTP_GUARD_INPUT (stream))));
}

static void
http_guard_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = http_guard_input_can_poll;
  iface->is_readable = http_guard_input_is_readable;
  iface->create_source = http_guard_input_create_source;
  iface->read_nonblocking = http_guard_input_read_nonblocking;
}

static void
http_guard_input_finalize (GObject *object)
{
  HttpGuardInput *self = HTTP_GUARD_INPUT (object);

  g_string_free (self->guard.line, TRUE);
  g_string_free (self->guard.head, TRUE);
  g_byte_array_unref (self->guard.out);
  G_OBJECT_CLASS (http_guard_input_parent_class)->finalize (object);
}

static void
http_guard_input_class_init (HttpGuardInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = http_guard_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = http_guard_input_read;
}

static void
http_guard_input_init (HttpGuardInput *self)
{
  self->guard.line = g_string_new (NULL);
  self->guard.head = g_string_new (NULL);
  self->guard.out = g_byte_array_new ();
  self->guard.content_length = -1;
  self->last_usec = g_get_monotonic_time ();
}

/* ---- the output stream --------------------------------------------------- */

/*
 * libsoup 3.2 writes a response's head and its body with two send() calls;
 * with TCP_NODELAY that is two segments, and two wake-ups of the client, for
 * every answer.  A head whose body is sure to follow is held back and goes
 * out with the body in one writev().  A write that is not what we expect
 * (not a whole head, a body without a Content-Length) is passed straight
 * on, and so is everything after it on that connection.
 */

/*
 * Parses data as exactly one response head, status line to the empty line.
 * Returns FALSE if it is not one; else *status, and *content_length (-1 if
 * there is none, more than one, or a Transfer-Encoding).
 */
static gboolean
parse_response_head (const char *data, gsize length, guint *status, gint64 *content_length)
{
  const char *end = data + length;
  const char *line;
  gboolean framed = FALSE; /* a framing header was seen: a second one makes the length unknown */

  if (length < 16 || memcmp (data, "HTTP/1.", 7) != 0 || data[8] != ' ' || !g_ascii_isdigit (data[9]) ||
      !g_ascii_isdigit (data[10]) || !g_ascii_isdigit (data[11]) || memcmp (end - 4, "\r\n\r\n", 4) != 0)
    return FALSE;
  *status = (guint) ((data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0'));
  *content_length = -1;
  line = memchr (data, '\n', length) + 1;
  while (line < end - 2)
    {
      const char *eol = memchr (line, '\n', end - line);
      gsize n = (gsize) (eol - line);
      const char *value;

      if (n < 2 || line[n - 1] != '\r')
        return FALSE; /* a bare LF, or the empty line before the end: not one head */
      n--;
      if (header_is (line, n, "Transfer-Encoding", &value))
        {
          *content_length = -1;
          framed = TRUE;
        }
      else if (header_is (line, n, "Content-Length", &value))
        {
          guint64 number = 0;
          g_autofree char *text = g_strndup (value, n - (gsize) (value - line));
          if (framed || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &number, NULL))
            *content_length = -1;
          else
            *content_length = (gint64) number;
          framed = TRUE;
        }
      line = eol + 1;
    }
  return TRUE;
}

#define HTTP_TYPE_GUARD_OUTPUT (http_guard_output_get_type ())
G_DECLARE_FINAL_TYPE (HttpGuardOutput, http_guard_output, HTTP, GUARD_OUTPUT, GFilterOutputStream)

struct _HttpGuardOutput {
  GFilterOutputStream parent_instance;
  HttpGuardInput *input; /* owned: counts the requests and knows which were HEAD */
  GByteArray *held; /* a response head waiting for its body */
  gsize held_offset; /* bytes of held already sent */
  guint64 body_left; /* bytes of the current response's body still to come */
  guint64 responses; /* final (not 1xx) response heads written */
  gboolean passthrough; /* lost track of the responses: pass everything on */
};

static void http_guard_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (HttpGuardOutput, http_guard_output, G_TYPE_FILTER_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM, http_guard_output_pollable_init))

static GOutputStream *
output_base_of (HttpGuardOutput *self)
{
  return g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (self));
}

/* A write at a response boundary: TRUE if it is a whole head whose body of *body bytes will follow. */
static gboolean
head_with_body (HttpGuardOutput *self, const void *buffer, gsize count, guint64 *body)
{
  const Guard *guard = &self->input->guard;
  guint64 request = self->responses;
  guint status;
  gint64 length;

  if (!parse_response_head (buffer, count, &status, &length))
    {
      self->passthrough = TRUE;
      return FALSE;
    }
  if (status < 200)
    return FALSE; /* informational: the final answer comes later */
  self->responses++;
  if (request >= guard->requests || guard->requests - request > 64)
    {
      self->passthrough = TRUE; /* which request this answers is not known */
      return FALSE;
    }
  if ((guard->head_requests >> (request % 64)) & 1 || status == 204 || status == 304 || length == 0)
    return FALSE; /* no body */
  if (length < 0)
    {
      self->passthrough = TRUE;
      return FALSE;
    }
  *body = (guint64) length;
  return TRUE;
}

/* Counts written body bytes of the current response. */
static void
note_body (HttpGuardOutput *self, gsize written)
{
  if (self->body_left == 0)
    return;
  if (written > self->body_left)
    self->passthrough = TRUE; /* more than the body: not what we understand */
  self->body_left -= MIN (written, self->body_left);
}

static gssize
guarded_write (HttpGuardOutput *self, const void *buffer, gsize count, gboolean blocking, GCancellable *cancellable,
               GError **error)
{
  GOutputStream *base = output_base_of (self);
  GOutputVector vectors[2];
  gsize held_left = self->held->len - self->held_offset;
  gsize sent = 0;
  gssize written;

  if (held_left == 0)
    {
      guint64 body = 0;
      if (!self->passthrough && self->body_left == 0 && head_with_body (self, buffer, count, &body))
        {
          g_byte_array_append (self->held, buffer, count);
          self->body_left = body;
          /* An answer begins: its wait for the client counts from now, not from the last one's end. */
          self->input->sent_usec = g_get_monotonic_time ();
          return (gssize) count;
        }
      if (blocking)
        written = g_output_stream_write (base, buffer, count, cancellable, error);
      else
        written = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (base), buffer, count,
                                                              cancellable, error);
      if (written > 0 && !self->passthrough)
        note_body (self, (gsize) written);
      return written;
    }
  /* The held head goes first, in the same call as the body. */
  vectors[0] = (GOutputVector){ self->held->data + self->held_offset, held_left };
  vectors[1] = (GOutputVector){ buffer, count };
  if (blocking)
    {
      /* Blocking: both go out whole, or the connection failed. */
      if (!g_output_stream_writev_all (base, vectors, 2, &sent, cancellable, error))
        return -1;
    }
  else
    {
      GPollableReturn result = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (base), vectors, 2,
                                                                            &sent, cancellable, error);
      if (result == G_POLLABLE_RETURN_FAILED)
        return -1;
      if (result == G_POLLABLE_RETURN_WOULD_BLOCK)
        sent = 0;
    }
  if (sent < held_left)
    {
      self->held_offset += sent;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "the connection takes no more now");
      return -1;
    }
  g_byte_array_set_size (self->held, 0);
  self->held_offset = 0;
  written = (gssize) (sent - held_left);
  if (written == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "the connection takes no more now");
      return -1;
    }
  note_body (self, (gsize) written);
  return written;
}

/* guarded_write(), noting when bytes went out. */
static gssize
timed_write (HttpGuardOutput *self, const void *buffer, gsize count, gboolean blocking, GCancellable *cancellable,
             GError **error)
{
  gssize written = guarded_write (self, buffer, count, blocking, cancellable, error);

  if (written > 0)
    self->input->last_usec = self->input->sent_usec = g_get_monotonic_time ();
  return written;
}

static gssize
http_guard_output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
                         GError **error)
{
  return timed_write (HTTP_GUARD_OUTPUT (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
http_guard_output_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count, GError **error)
{
  return timed_write (HTTP_GUARD_OUTPUT (stream), buffer, count, FALSE, NULL, error);
}

/* Sends what is held (blocking): a flush or close must not leave a head behind. */
static gboolean
send_held (HttpGuardOutput *self, GCancellable *cancellable, GError **error)
{
  gsize held_left = self->held->len - self->held_offset;
  gboolean ok = held_left == 0 ||
    g_output_stream_write_all (output_base_of (self), self->held->data + self->held_offset, held_left, NULL,
                               cancellable, error);

  g_byte_array_set_size (self->held, 0);
  self->held_offset = 0;
  return ok;
}

static gboolean
http_guard_output_flush (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  HttpGuardOutput *self = HTTP_GUARD_OUTPUT (stream);

  return send_held (self, cancellable, error) && g_output_stream_flush (output_base_of (self), cancellable, error);
}

static gboolean
http_guard_output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  return send_held (HTTP_GUARD_OUTPUT (stream), cancellable, error);
}

static gboolean
http_guard_output_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (output_base_of (HTTP_GUARD_OUTPUT (stream))));
}

static GSource *
http_guard_output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  GPollableOutputStream *base = G_POLLABLE_OUTPUT_STREAM (output_base_of (HTTP_GUARD_OUTPUT (stream)));
  g_autoptr (GSource) base_source = g_pollable_output_stream_create_source (base, cancellable);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gboolean
http_guard_output_can_poll (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (output_base_of (HTTP_GUARD_OUTPUT (stream))));
}

static void
http_guard_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = http_guard_output_can_poll;
  iface->is_writable = http_guard_output_is_writable;
  iface->create_source = http_guard_output_create_source;
  iface->write_nonblocking = http_guard_output_write_nonblocking;
}

static void
http_guard_output_finalize (GObject *object)
{
  HttpGuardOutput *self = HTTP_GUARD_OUTPUT (object);

  g_byte_array_unref (self->held);
  g_clear_object (&self->input);
  G_OBJECT_CLASS (http_guard_output_parent_class)->finalize (object);
}

static void
http_guard_output_class_init (HttpGuardOutputClass *klass)
{
  GOutputStreamClass *stream = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = http_guard_output_finalize;
  stream->write_fn = http_guard_output_write;
  stream->flush = http_guard_output_flush;
  stream->close_fn = http_guard_output_close;
}

static void
http_guard_output_init (HttpGuardOutput *self)
{
  self->held = g_byte_array_new ();
}

/* ---- the I/O stream --------------------------------------------------------- */

#define HTTP_TYPE_GUARD_STREAM (http_guard_stream_get_type ())
G_DECLARE_FINAL_TYPE (HttpGuardStream, http_guard_stream, HTTP, GUARD_STREAM, GIOStream)

struct _HttpGuardStream {
  GIOStream parent_instance;
  GIOStream *base;
  GInputStream *input;
  GOutputStream *output;
};

G_DEFINE_TYPE (HttpGuardStream, http_guard_stream, G_TYPE_IO_STREAM)

static GInputStream *
http_guard_stream_get_input_stream (GIOStream *stream)
{
  return HTTP_GUARD_STREAM (stream)->input;
}

static GOutputStream *
http_guard_stream_get_output_stream (GIOStream *stream)
{
  return HTTP_GUARD_STREAM (stream)->output;
}

static gboolean
http_guard_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  HttpGuardStream *self = HTTP_GUARD_STREAM (stream);

  return self->base == NULL || g_io_stream_close (self->base, cancellable, error);
}

static void
on_base_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
http_guard_stream_close_async (GIOStream *stream, int priority, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_io_stream_close_async (HTTP_GUARD_STREAM (stream)->base, priority, cancellable, on_base_closed, task);
}

static gboolean
http_guard_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
http_guard_stream_dispose (GObject *object)
{
  HttpGuardStream *self = HTTP_GUARD_STREAM (object);

  /* GIOStream's dispose closes the stream, which closes the base: keep it until then. */
  G_OBJECT_CLASS (http_guard_stream_parent_class)->dispose (object);
  g_clear_object (&self->output);
  g_clear_object (&self->input);
  g_clear_object (&self->base);
}

static void
http_guard_stream_class_init (HttpGuardStreamClass *klass)
{
  GIOStreamClass *io = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = http_guard_stream_dispose;
  io->get_input_stream = http_guard_stream_get_input_stream;
  io->get_output_stream = http_guard_stream_get_output_stream;
  io->close_fn = http_guard_stream_close;
  io->close_async = http_guard_stream_close_async;
  io->close_finish = http_guard_stream_close_finish;
}

static void
http_guard_stream_init (HttpGuardStream *self)
{
}

GIOStream *
http_guard_stream_new (GIOStream *base)
{
  HttpGuardStream *self = g_object_new (HTTP_TYPE_GUARD_STREAM, NULL);

  self->base = g_object_ref (base);
  self->input = g_object_new (HTTP_TYPE_GUARD_INPUT, "base-stream", g_io_stream_get_input_stream (base),
                              "close-base-stream", FALSE, NULL);
  self->output = g_object_new (HTTP_TYPE_GUARD_OUTPUT, "base-stream", g_io_stream_get_output_stream (base),
                               "close-base-stream", FALSE, NULL);
  HTTP_GUARD_OUTPUT (self->output)->input = g_object_ref (HTTP_GUARD_INPUT (self->input));
  return G_IO_STREAM (self);
}

HttpGuardActivity
http_guard_stream_get_activity (GIOStream *stream, gint64 *since_usec)
{
  HttpGuardStream *self = HTTP_GUARD_STREAM (stream);
  HttpGuardInput *input = HTTP_GUARD_INPUT (self->input);
  HttpGuardOutput *output = HTTP_GUARD_OUTPUT (self->output);
  const Guard *guard = &input->guard;

  *since_usec = input->request_usec;
  switch (guard->frame)
    {
    case FRAME_BODY:
    case FRAME_CHUNK_SIZE:
    case FRAME_CHUNK_DATA:
    case FRAME_CHUNK_END:
    case FRAME_TRAILER:
      return HTTP_GUARD_RECEIVING_BODY;
    case FRAME_REQUEST_LINE:
    case FRAME_HEADER_LINE:
    case FRAME_ENDED:
    default:
      break;
    }
  /* libsoup writes an answer whole once it has begun: what is left waits for the client alone. */
  if (!output->passthrough && (output->body_left > 0 || output->held->len > output->held_offset))
    {
      *since_usec = input->sent_usec;
      return HTTP_GUARD_SENDING;
    }
  if (!output->passthrough && output->responses < guard->requests)
    return HTTP_GUARD_ANSWERING;
  if (in_head (guard))
    return HTTP_GUARD_RECEIVING_HEAD;
  *since_usec = input->last_usec;
  return HTTP_GUARD_IDLE;
}
