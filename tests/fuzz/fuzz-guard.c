/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the bridge's guarded connection (http-guard-stream.c), which
 * checks request targets on the wire and follows HTTP/1.1 framing, and
 * holds a response head back to send it with its body.  The input is one
 * byte that shapes the I/O (how many bytes each read and write of the
 * connection takes, when it would block), two bytes of length (little
 * endian), that many bytes the client sends, then the writes of the
 * responses separated by two NUL bytes.  Nothing crashes or leaks; what
 * libsoup reads does not depend on how the bytes arrive (blocking or not,
 * in one piece or many), but for how much of an over-long line it sees
 * before the input ends; guarding what it reads again changes nothing; and
 * every byte written reaches the client, in order, whatever the connection
 * takes.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <string.h>

#include <gio/gio.h>

#include "fuzz-common.h"
#include "http-guard-stream.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define LINE_MAX_BYTES 8192 /* as in http-guard-stream.c */
#define WRITE_SEPARATOR "\0\0"

/* How each read and write of the base connection goes: at most so many bytes, or would block. */
typedef struct {
  guint8 seed;
  guint step;
  gboolean blocked_last; /* never block twice in a row, so every retry loop ends */
} Shape;

/* Returns how many bytes the next operation takes (1 to 64 or everything), or 0 for "would block" if may_block. */
static gsize
shape_next (Shape *shape, gboolean may_block)
{
  guint value = (guint) (shape->seed * 131u + shape->step++ * 37u) & 0xff;

  if (shape->seed == 0)
    return G_MAXSIZE;
  if (may_block && !shape->blocked_last && (value & 0x80) && (shape->seed & 1))
    {
      shape->blocked_last = TRUE;
      return 0;
    }
  shape->blocked_last = FALSE;
  return 1 + (value & 0x3f);
}

/* ---- a base input stream that hands out its bytes in shaped pieces ---------------------------------------------- */

#define FUZZ_TYPE_CHOPPY_INPUT (fuzz_choppy_input_get_type ())
G_DECLARE_FINAL_TYPE (FuzzChoppyInput, fuzz_choppy_input, FUZZ, CHOPPY_INPUT, GInputStream)

struct _FuzzChoppyInput {
  GInputStream parent_instance;
  const guint8 *data;
  gsize length;
  gsize offset;
  Shape shape;
};

static void fuzz_choppy_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (FuzzChoppyInput, fuzz_choppy_input, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM, fuzz_choppy_input_pollable_init))

static gssize
choppy_read (FuzzChoppyInput *self, void *buffer, gsize count, gboolean blocking, GError **error)
{
  gsize n = shape_next (&self->shape, !blocking);

  if (n == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "would block");
      return -1;
    }
  n = MIN (MIN (n, count), self->length - self->offset);
  memcpy (buffer, self->data + self->offset, n);
  self->offset += n;
  return (gssize) n;
}

static gssize
fuzz_choppy_input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  return choppy_read (FUZZ_CHOPPY_INPUT (stream), buffer, count, TRUE, error);
}

static gssize
fuzz_choppy_input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  return choppy_read (FUZZ_CHOPPY_INPUT (stream), buffer, count, FALSE, error);
}

static gboolean
fuzz_choppy_input_is_readable (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
fuzz_choppy_input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static void
fuzz_choppy_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = fuzz_choppy_input_can_poll;
  iface->is_readable = fuzz_choppy_input_is_readable;
  iface->read_nonblocking = fuzz_choppy_input_read_nonblocking;
}

static void
fuzz_choppy_input_class_init (FuzzChoppyInputClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = fuzz_choppy_input_read;
}

static void
fuzz_choppy_input_init (FuzzChoppyInput *self)
{
}

/* ---- a base output stream that takes shaped pieces ------------------------------------------------------------- */

#define FUZZ_TYPE_CHOPPY_OUTPUT (fuzz_choppy_output_get_type ())
G_DECLARE_FINAL_TYPE (FuzzChoppyOutput, fuzz_choppy_output, FUZZ, CHOPPY_OUTPUT, GOutputStream)

struct _FuzzChoppyOutput {
  GOutputStream parent_instance;
  GByteArray *received;
  Shape shape;
};

static void fuzz_choppy_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (FuzzChoppyOutput, fuzz_choppy_output, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM, fuzz_choppy_output_pollable_init))

static gssize
choppy_write (FuzzChoppyOutput *self, const void *buffer, gsize count, gboolean blocking, GError **error)
{
  gsize n = shape_next (&self->shape, !blocking);

  if (n == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "would block");
      return -1;
    }
  n = MIN (n, count);
  g_byte_array_append (self->received, buffer, (guint) n);
  return (gssize) n;
}

static gssize
fuzz_choppy_output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
                          GError **error)
{
  return choppy_write (FUZZ_CHOPPY_OUTPUT (stream), buffer, count, TRUE, error);
}

static gssize
fuzz_choppy_output_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count, GError **error)
{
  return choppy_write (FUZZ_CHOPPY_OUTPUT (stream), buffer, count, FALSE, error);
}

static gboolean
fuzz_choppy_output_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static gboolean
fuzz_choppy_output_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static void
fuzz_choppy_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = fuzz_choppy_output_can_poll;
  iface->is_writable = fuzz_choppy_output_is_writable;
  iface->write_nonblocking = fuzz_choppy_output_write_nonblocking;
}

static void
fuzz_choppy_output_finalize (GObject *object)
{
  g_byte_array_unref (FUZZ_CHOPPY_OUTPUT (object)->received);
  G_OBJECT_CLASS (fuzz_choppy_output_parent_class)->finalize (object);
}

static void
fuzz_choppy_output_class_init (FuzzChoppyOutputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fuzz_choppy_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = fuzz_choppy_output_write;
}

static void
fuzz_choppy_output_init (FuzzChoppyOutput *self)
{
  self->received = g_byte_array_new ();
}

/* ---- the checks ------------------------------------------------------------------------------------------------- */

/* A guarded connection over the client's bytes, shaped by seed. */
static GIOStream *
guarded_new (const guint8 *sent, gsize length, guint8 seed, FuzzChoppyOutput **output)
{
  g_autoptr (FuzzChoppyInput) in = g_object_new (FUZZ_TYPE_CHOPPY_INPUT, NULL);
  g_autoptr (GIOStream) base = NULL;

  in->data = sent;
  in->length = length;
  in->shape.seed = seed;
  *output = g_object_new (FUZZ_TYPE_CHOPPY_OUTPUT, NULL);
  (*output)->shape.seed = (guint8) (seed * 7);
  base = g_simple_io_stream_new (G_INPUT_STREAM (in), G_OUTPUT_STREAM (*output));
  return http_guard_stream_new (base);
}

/* Reads everything libsoup would read from stream, blocking or not, in reads of shaped sizes. */
static GByteArray *
read_all (GIOStream *stream, guint8 seed, gboolean blocking)
{
  GInputStream *in = g_io_stream_get_input_stream (stream);
  GByteArray *got = g_byte_array_new ();
  Shape shape = { .seed = seed ^ 0x5a };
  guint8 buffer[256];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gsize want = MIN (shape_next (&shape, FALSE), sizeof buffer);
      gint64 since;
      gssize n = blocking
        ? g_input_stream_read (in, buffer, want, NULL, &error)
        : g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer, want, NULL, &error);
      http_guard_stream_get_activity (stream, &since);
      /* A client gone in the middle of a body is an error, so that libsoup drops the connection: the end here. */
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        return got;
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          continue;
        }
      if (n == 0)
        return got;
      g_byte_array_append (got, buffer, (guint) n);
    }
}

/* Fails unless a and b are the same, but for how much of an over-long last line each holds. */
static void
assert_same_reading (const GByteArray *a, const GByteArray *b)
{
  gsize common = 0, line_start;
  const GByteArray *longer = a->len >= b->len ? a : b;

  while (common < a->len && common < b->len && a->data[common] == b->data[common])
    common++;
  if (common == a->len && common == b->len)
    return;
  /* Where they part, a line longer than the guard takes is being cut: nothing may follow it in either. */
  for (const GByteArray *x = a; x != NULL; x = x == a ? b : NULL)
    {
      const guint8 *newline = memchr (x->data + common, '\n', x->len - common);
      g_assert_true (newline == NULL || newline == x->data + x->len - 1);
    }
  line_start = common;
  while (line_start > 0 && longer->data[line_start - 1] != '\n')
    line_start--;
  g_assert_cmpuint (longer->len - line_start, >, LINE_MAX_BYTES);
}

/*
 * What the guard passed on, guarded again, passes unchanged (but for the
 * farewell request an idle end of input adds, and from a line the
 * replacement of its target made too long): every target it left in a
 * request line is plain, and a refused one is replaced by a plain one.
 */
static void
assert_idempotent (const GByteArray *read)
{
  g_autoptr (GIOStream) again = NULL;
  g_autoptr (GByteArray) reread = NULL;
  FuzzChoppyOutput *output;

  gsize same = read->len;

  /* A refused target is replaced by a longer one, which can push its line past the guard's limit: from
   * such a line on, the second reading ends where the first did not.  Up to it, they must agree. */
  for (gsize start = 0, end; start < read->len; start = end + 1)
    {
      const guint8 *newline = memchr (read->data + start, '\n', read->len - start);
      end = newline != NULL ? (gsize) (newline - read->data) : read->len;
      if (end - start + 1 > LINE_MAX_BYTES)
        {
          same = start;
          break;
        }
    }
  again = guarded_new (read->data, read->len, 0, &output);
  g_object_unref (output);
  reread = read_all (again, 0, TRUE);
  g_assert_cmpuint (reread->len, >=, same);
  g_assert_cmpmem (reread->data, same, read->data, same);
}

/* Writes each response piece through the guard as libsoup does, retrying what would block; then closes. */
static void
write_all (GIOStream *stream, FuzzChoppyOutput *base, const char *writes, gsize length, guint8 seed)
{
  GOutputStream *out = g_io_stream_get_output_stream (stream);
  g_autoptr (GByteArray) sent = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  const char *p = writes, *end = writes + length;
  guint n_writes = 0;

  while (p < end)
    {
      const char *next = memmem (p, (gsize) (end - p), WRITE_SEPARATOR, 2);
      gsize piece = next != NULL ? (gsize) (next - p) : (gsize) (end - p);
      gboolean blocking = (seed >> (n_writes++ % 8)) & 1;
      gsize done = 0;

      while (done < piece)
        {
          g_autoptr (GError) write_error = NULL;
          gint64 since;
          gssize n = blocking ? g_output_stream_write (out, p + done, piece - done, NULL, &write_error)
                              : g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), p + done,
                                                                            piece - done, NULL, &write_error);
          http_guard_stream_get_activity (stream, &since);
          if (n < 0)
            {
              g_assert_error (write_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
              g_assert_false (blocking);
              continue;
            }
          g_assert_cmpint (n, >, 0);
          done += (gsize) n;
        }
      g_byte_array_append (sent, (const guint8 *) p, (guint) piece);
      p = next != NULL ? next + 2 : end;
    }
  g_assert_true (g_output_stream_flush (out, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (base->received->data, base->received->len, sent->data, sent->len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GIOStream) whole = NULL, chopped = NULL, unblocked = NULL;
  g_autoptr (GByteArray) read_whole = NULL, read_chopped = NULL, read_unblocked = NULL;
  g_autoptr (FuzzChoppyOutput) out_whole = NULL, out_chopped = NULL, out_unblocked = NULL;
  const guint8 *sent;
  gsize sent_length;
  guint8 seed;

  fuzz_quiet_logs ();
  if (size < 3)
    return 0;
  seed = data[0];
  sent_length = MIN ((gsize) (data[1] | data[2] << 8), size - 3);
  sent = data + 3;

  whole = guarded_new (sent, sent_length, 0, &out_whole);
  chopped = guarded_new (sent, sent_length, seed, &out_chopped);
  unblocked = guarded_new (sent, sent_length, seed | 1, &out_unblocked);
  read_whole = read_all (whole, 0, TRUE);
  read_chopped = read_all (chopped, seed, TRUE);
  read_unblocked = read_all (unblocked, seed, FALSE);
  assert_same_reading (read_whole, read_chopped);
  assert_same_reading (read_whole, read_unblocked);
  assert_idempotent (read_whole);

  /* The answers, after the requests they answer have been read. */
  write_all (unblocked, out_unblocked, (const char *) sent + sent_length, size - 3 - sent_length, seed);
  g_assert_true (g_io_stream_close (unblocked, NULL, NULL));
  return 0;
}
