/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Checking request targets on the wire, ahead of libsoup's URI normalisation. */

#include "http-guard-stream.h"

#include <string.h>

#define LINE_MAX_BYTES 8192
#define READ_CHUNK 16384

typedef enum {
  FRAME_REQUEST_LINE,
  FRAME_HEADER_LINE,
  FRAME_BODY,
  FRAME_CHUNK_SIZE,
  FRAME_CHUNK_DATA,
  FRAME_CHUNK_END,      /* the CRLF after a chunk's data */
  FRAME_TRAILER,
  FRAME_ENDED,          /* framing lost: no more input after what is pending */
} Frame;

/* ---- the framing state machine ------------------------------------------- */

typedef struct {
  Frame frame;
  GString *line;         /* the line being gathered (request, header, chunk size) */
  GByteArray *out;       /* bytes ready for the reader */
  guint64 remaining;     /* FRAME_BODY / FRAME_CHUNK_DATA */
  gint64 content_length; /* of the request being read; -1 if none */
  gboolean chunked;
  gboolean bad_framing;
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
            return FALSE;  /* "//" */
          if ((segment == 1 && target[next] == '.') ||
              (segment == 2 && target[next] == '.' && target[next + 1] == '.'))
            return FALSE;  /* a dot segment */
        }
    }
  return TRUE;
}

static void
emit (Guard *g, const void *data, gsize length)
{
  g_byte_array_append (g->out, data, length);
}

/* A complete request line (with its line ending): pass it on, its target replaced if need be. */
static void
request_line (Guard *g)
{
  const char *line = g->line->str;
  const char *space = memchr (line, ' ', g->line->len);
  const char *target = space != NULL ? space + 1 : NULL;
  const char *end = target != NULL ? memchr (target, ' ', g->line->len - (target - line)) : NULL;

  if (end == NULL || http_guard_target_is_plain (target, end - target))
    {
      emit (g, line, g->line->len);
      return;
    }
  emit (g, line, target - line);
  emit (g, HTTP_GUARD_REFUSED_TARGET, strlen (HTTP_GUARD_REFUSED_TARGET));
  emit (g, end, g->line->len - (end - line));
}

/* TRUE if line (not NUL-terminated, length bytes) is header name; *value then points past the colon and blanks. */
static gboolean
header_is (const char *line, gsize length, const char *name, const char **value)
{
  gsize n = strlen (name);

  if (length <= n || line[n] != ':' || g_ascii_strncasecmp (line, name, n) != 0)
    return FALSE;
  *value = line + n + 1;
  while (**value == ' ' || **value == '\t')
    (*value)++;
  return TRUE;
}

/* A complete header line: note the framing headers; the empty line ends the head. */
static void
header_line (Guard *g)
{
  const char *line = g->line->str;
  gsize length = g->line->len;
  const char *value;

  emit (g, line, length);
  while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
    length--;
  if (length == 0)
    {
      if (g->chunked && g->content_length >= 0)
        g->bad_framing = TRUE;
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
      return;
    }
  /* Only the two headers that frame the body matter here; the line is NUL-terminated (GString). */
  if ((line[0] == 'C' || line[0] == 'c') && header_is (line, length, "Content-Length", &value))
    {
      g_autofree char *number = g_strndup (value, length - (value - line));
      guint64 n;
      if (g->content_length >= 0 || !g_ascii_string_to_unsigned (g_strchomp (number), 10, 0, G_MAXINT64, &n, NULL))
        g->bad_framing = TRUE;
      else
        g->content_length = (gint64) n;
    }
  else if ((line[0] == 'T' || line[0] == 't') && header_is (line, length, "Transfer-Encoding", &value))
    {
      if (g_ascii_strncasecmp (value, "chunked", 7) == 0 && value + 7 - line == (gssize) length && !g->chunked)
        g->chunked = TRUE;
      else
        g->bad_framing = TRUE;
    }
}

static void
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
    {
      g->bad_framing = TRUE;
      return;
    }
  if (size == 0)
    g->frame = FRAME_TRAILER;
  else
    {
      g->frame = FRAME_CHUNK_DATA;
      g->remaining = size;
    }
}

/* Feeds input; whatever can be passed on goes to g->out. */
static void
guard_feed (Guard *g, const guint8 *data, gsize length)
{
  gsize i = 0;

  while (i < length)
    {
      if (g->frame == FRAME_ENDED)
        return;  /* input after lost framing is dropped */
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
            /* Too long for any request of ours: libsoup refuses it; we stop after it. */
            emit (g, g->line->str, g->line->len);
            g_string_truncate (g->line, 0);
            g->frame = FRAME_ENDED;
            return;
          }
        if (newline == NULL)
          return;
        switch (g->frame)
          {
          case FRAME_REQUEST_LINE:
            if (g->line->len <= 2 && (g->line->str[0] == '\r' || g->line->str[0] == '\n'))
              emit (g, g->line->str, g->line->len);  /* blank lines between requests */
            else
              {
                request_line (g);
                g->frame = FRAME_HEADER_LINE;
                g->content_length = -1;
                g->chunked = FALSE;
              }
            break;
          case FRAME_HEADER_LINE:
            header_line (g);
            break;
          case FRAME_CHUNK_SIZE:
            chunk_size_line (g);
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
        if (g->bad_framing)
          {
            /* We cannot tell where the next request starts: there is none. */
            g->frame = FRAME_ENDED;
            return;
          }
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
        got = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)), chunk,
                                                        sizeof chunk, cancellable, error);
      if (got <= 0)
        {
          if (got == 0 && self->guard.line->len > 0)
            {
              /* An unfinished line at EOF: pass it on as it came. */
              emit (&self->guard, self->guard.line->str, self->guard.line->len);
              g_string_truncate (self->guard.line, 0);
              self->guard.frame = FRAME_ENDED;
              continue;
            }
          if (got == 0 && self->guard.frame == FRAME_REQUEST_LINE)
            {
              /*
               * The client closed an idle connection.  libsoup 3.2 keeps such a
               * connection, and its fd, for ever (upstream fixed this after
               * 3.2).  It lets go of a connection that asked to be closed, so
               * that is what it reads instead; the request goes nowhere.
               */
              static const char farewell[] = "GET " HTTP_GUARD_CLOSED_TARGET " HTTP/1.1\r\n"
                                             "Host: closed\r\nConnection: close\r\n\r\n";
              emit (&self->guard, farewell, sizeof farewell - 1);
              self->guard.frame = FRAME_ENDED;
              continue;
            }
          return got;
        }
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

static GSource *
http_guard_input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  HttpGuardInput *self = HTTP_GUARD_INPUT (stream);
  g_autoptr(GSource) base = NULL;
  GSource *source;

  if (self->guard.out->len > self->out_offset || self->guard.frame == FRAME_ENDED)
    {
      /* Readable now: a source that fires at once. */
      base = g_timeout_source_new (0);
    }
  else
    base = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of (self)), cancellable);
  source = g_pollable_source_new_full (stream, base, cancellable);
  return source;
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
  self->guard.out = g_byte_array_new ();
  self->guard.content_length = -1;
}

/* ---- the I/O stream --------------------------------------------------------- */

#define HTTP_TYPE_GUARD_STREAM (http_guard_stream_get_type ())
G_DECLARE_FINAL_TYPE (HttpGuardStream, http_guard_stream, HTTP, GUARD_STREAM, GIOStream)

struct _HttpGuardStream {
  GIOStream parent_instance;
  GIOStream *base;
  GInputStream *input;
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
  return g_io_stream_get_output_stream (HTTP_GUARD_STREAM (stream)->base);
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
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
http_guard_stream_close_async (GIOStream *stream, int priority, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
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
  return G_IO_STREAM (self);
}
