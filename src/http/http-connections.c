/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* accept4() */
#define G_LOG_DOMAIN "hkp-http"

/*
 * A bridge server thread's connections: accepted from the listening socket
 * every thread and worker process shares, counted against the process's
 * limit, and closed when they hold on to nothing: idle, slow to send a
 * request, or slow to take an answer, for too long, or the longest-idle
 * when the limit is reached.
 */

#include "http-connections.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "http-guard-stream.h"
#include "http-ready-source.h"

#define ACCEPT_BATCH 32
#define ACCEPT_PAUSE_MS 100 /* after running out of file descriptors */
#define SWEEP_MIN_MS 100
#define SWEEP_MAX_MS 15000
#define WARN_INTERVAL_USEC (10 * G_USEC_PER_SEC)
/* How far over the limit a thread with nothing to close may admit, while the other threads make room. */
#define OVER_LIMIT(max) MAX ((max) / 16, 8)

struct _HttpConnections {
  int listen_fd;
  HttpConnectionCount *count;
  GMainContext *context;
  const HttpConnectionsHandler *handler;
  gpointer data;
  GSource *accept_source; /* NULL while paused */
  GSource *pause_source;
  GSource *sweep_source;
  GSource *room_source; /* woken by another thread that admitted a connection over the limit */
  GHashTable *held; /* Tracked */
  gint64 warned_usec; /* the last warning about refusing or failing to accept */
};

/* A connection being served, watched through its guarded stream. */
typedef struct {
  HttpConnections *owner;
  GIOStream *stream; /* weak */
  GSocket *socket; /* owned: shut down to close the connection */
  gboolean closing; /* shut down by us, and no longer counted */
} Tracked;

static void
tracked_free (Tracked *t)
{
  g_object_unref (t->socket);
  g_free (t);
}

/* Notes that held connections are counted now: well under the limit again, that is worth a word. */
static void
note_held (HttpConnections *self, gint held)
{
  HttpConnectionCount *count = self->count;

  if (held < count->max - count->max / 10 && g_atomic_int_compare_and_exchange (&count->at_limit, TRUE, FALSE))
    g_message ("HTTP bridge: %d connection%s held, below the limit again", held, held == 1 ? "" : "s");
}

/* One count less. */
static void
uncount (HttpConnections *self)
{
  note_held (self, g_atomic_int_add (&self->count->held, -1) - 1);
}

/* Closes t: libsoup then reads the end of its input and lets the connection go. */
static void
shut (Tracked *t)
{
  g_socket_shutdown (t->socket, TRUE, TRUE, NULL);
  if (!t->closing)
    {
      t->closing = TRUE;
      uncount (t->owner);
    }
}

/* libsoup let go of the connection. */
static void
on_stream_gone (gpointer data, GObject *where_the_stream_was)
{
  Tracked *t = data;

  if (!t->closing)
    uncount (t->owner);
  g_hash_table_remove (t->owner->held, t);
}

/*
 * The connection that has held on to nothing the longest, or NULL: idle,
 * sending a request, head or body (nothing runs for it until it is whole,
 * so a flood of bodies trickling in locks out no one), or not taking its
 * answer (a flood that never reads would otherwise hold every slot, and its
 * answers' memory, for good).
 */
static Tracked *
longest_idle (HttpConnections *self)
{
  GHashTableIter iter;
  Tracked *t, *found = NULL;
  gint64 oldest = G_MAXINT64;

  g_hash_table_iter_init (&iter, self->held);
  while (g_hash_table_iter_next (&iter, (gpointer *) &t, NULL))
    {
      gint64 since = 0;
      HttpGuardActivity activity = http_guard_stream_get_activity (t->stream, &since);

      if (!t->closing && activity != HTTP_GUARD_ANSWERING && since < oldest)
        {
          oldest = since;
          found = t;
        }
    }
  return found;
}

/* Logs at most every WARN_INTERVAL_USEC. */
static void
warn_now_and_then (HttpConnections *self, const char *message)
{
  gint64 now = g_get_monotonic_time ();

  if (self->warned_usec != 0 && now - self->warned_usec < WARN_INTERVAL_USEC)
    return;
  self->warned_usec = now;
  g_warning ("HTTP bridge: %s", message);
}

/*
 * Closes our longest-idle connections while more are held than max (other
 * threads admitted some over it, having none to close themselves).  Each is
 * counted off only while held is over max, so the threads never close more
 * than that between them.
 */
static gboolean
make_room (gpointer user_data)
{
  HttpConnections *self = user_data;
  HttpConnectionCount *count = self->count;
  Tracked *victim;

  while ((victim = longest_idle (self)) != NULL)
    {
      gint held = g_atomic_int_get (&count->held);

      if (held <= count->max)
        break;
      if (!g_atomic_int_compare_and_exchange (&count->held, held, held - 1))
        continue;
      g_debug ("HTTP bridge: closing the longest-idle connection to admit one on another thread");
      victim->closing = TRUE; /* counted off just now: shut() counts it off no more */
      shut (victim);
      note_held (self, held - 1);
    }
  return G_SOURCE_CONTINUE;
}

/* Asks every other thread to make room for one connection admitted over the limit: FALSE if there is none. */
static gboolean
ask_for_room (HttpConnections *self)
{
  HttpConnectionCount *count = self->count;
  gboolean asked;

  g_mutex_lock (&count->lock);
  asked = count->threads->len > 1;
  for (guint i = 0; i < count->threads->len; i++)
    {
      HttpConnections *other = g_ptr_array_index (count->threads, i);

      if (other != self)
        g_source_set_ready_time (other->room_source, 0);
    }
  g_mutex_unlock (&count->lock);
  return asked;
}

/*
 * TRUE if one more connection may be held (counted).  At the limit, the
 * longest-idle one makes room; with none here, the other threads are asked
 * to, and the new one is admitted meanwhile, up to a little over the limit.
 */
static gboolean
admit (HttpConnections *self)
{
  HttpConnectionCount *count = self->count;
  Tracked *victim;
  gint held = g_atomic_int_add (&count->held, 1);

  if (held < count->max)
    return TRUE;
  if (g_atomic_int_compare_and_exchange (&count->at_limit, FALSE, TRUE))
    g_warning ("HTTP bridge: %d connections held, the most it takes: the longest-idle one is closed for each new "
               "one (--http-max-connections)",
               count->max);
  victim = longest_idle (self);
  if (victim != NULL)
    {
      g_debug ("HTTP bridge: closing the longest-idle connection to admit a new one");
      shut (victim);
      return TRUE;
    }
  if (held < count->max + OVER_LIMIT (count->max) && ask_for_room (self))
    return TRUE;
  g_atomic_int_add (&count->held, -1);
  warn_now_and_then (self, "every connection held is being answered: refusing new ones");
  return FALSE;
}

static void
accept_one (HttpConnections *self, int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) stream = NULL;
  Tracked *t;

  if (socket == NULL)
    {
      close (fd);
      g_warning ("HTTP bridge: cannot take a connection: %s", error->message);
      return;
    }
  if (!admit (self))
    return; /* the socket closes as it goes */
  connection = g_socket_connection_factory_create_connection (socket);
  stream = self->handler->wrap (connection, self->data);
  if (stream == NULL)
    {
      uncount (self);
      return;
    }
  t = g_new0 (Tracked, 1);
  t->owner = self;
  t->stream = stream;
  t->socket = g_object_ref (socket);
  g_hash_table_add (self->held, t);
  g_object_weak_ref (G_OBJECT (stream), on_stream_gone, t);
  self->handler->serve (stream, connection, self->data);
}

static gboolean on_acceptable (gint fd, GIOCondition condition, gpointer user_data);

static void
start_accepting (HttpConnections *self)
{
  self->accept_source = g_unix_fd_source_new (self->listen_fd, G_IO_IN);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_acceptable), self, NULL);
  g_source_set_static_name (self->accept_source, "hkp-http-accept");
  g_source_attach (self->accept_source, self->context);
}

static gboolean
on_pause_over (gpointer user_data)
{
  HttpConnections *self = user_data;

  g_clear_pointer (&self->pause_source, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

/*
 * Every thread watches the one listening socket; the kernel hands each
 * connection to one accept(), the others find nothing (EAGAIN).
 */
static gboolean
on_acceptable (gint fd, GIOCondition condition, gpointer user_data)
{
  HttpConnections *self = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      int client = accept4 (self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (client >= 0)
        {
          accept_one (self, client);
          continue;
        }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        {
          g_autofree char *message = g_strdup_printf ("cannot accept connections: %s", g_strerror (errno));

          /* The connection stays in the backlog: try again a little later rather than spin. */
          warn_now_and_then (self, message);
          g_clear_pointer (&self->accept_source, g_source_unref);
          self->pause_source = g_timeout_source_new (ACCEPT_PAUSE_MS);
          g_source_set_callback (self->pause_source, on_pause_over, self, NULL);
          g_source_attach (self->pause_source, self->context);
          return G_SOURCE_REMOVE;
        }
      break; /* EAGAIN: nothing (more) waiting */
    }
  return G_SOURCE_CONTINUE;
}

/*
 * Closes the connections that hold on to nothing (idle, sending a request,
 * or not taking an answer) for too long; and makes the room other threads
 * asked for while ours were all being answered.
 */
static gboolean
sweep (gpointer user_data)
{
  HttpConnections *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  Tracked *t;

  g_hash_table_iter_init (&iter, self->held);
  while (g_hash_table_iter_next (&iter, (gpointer *) &t, NULL))
    {
      gint64 since = 0;
      HttpGuardActivity activity = http_guard_stream_get_activity (t->stream, &since);
      gint64 limit = activity == HTTP_GUARD_RECEIVING_HEAD ? self->count->head_usec : self->count->idle_usec;

      /* A request being answered is never cut: a reload may take the whole drain timeout. */
      if (t->closing || activity == HTTP_GUARD_ANSWERING || now - since <= limit)
        continue;
      g_debug ("HTTP bridge: closing a connection %s for over %g s",
               activity == HTTP_GUARD_IDLE               ? "idle"
                 : activity == HTTP_GUARD_RECEIVING_HEAD ? "sending a request head"
                 : activity == HTTP_GUARD_SENDING        ? "not taking its answer"
                                                         : "sending a request body",
               (double) limit / G_USEC_PER_SEC);
      shut (t);
    }
  make_room (self); /* those answered since make it now, not at the idle timeout */
  return G_SOURCE_CONTINUE;
}

HttpConnections *
http_connections_new (int listen_fd, HttpConnectionCount *count, GMainContext *context,
                      const HttpConnectionsHandler *handler, gpointer data)
{
  HttpConnections *self = g_new0 (HttpConnections, 1);
  gint64 shortest = MIN (count->idle_usec, count->head_usec);

  self->listen_fd = listen_fd;
  self->count = count;
  self->context = g_main_context_ref (context);
  self->handler = handler;
  self->data = data;
  self->held = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) tracked_free, NULL);
  self->sweep_source = g_timeout_source_new ((guint) CLAMP (shortest / 1000 / 4, SWEEP_MIN_MS, SWEEP_MAX_MS));
  g_source_set_callback (self->sweep_source, sweep, self, NULL);
  g_source_set_static_name (self->sweep_source, "hkp-http-sweep");
  g_source_attach (self->sweep_source, context);
  self->room_source = http_ready_source_new (context, make_room, self, "hkp-http-make-room");
  g_mutex_lock (&count->lock);
  g_ptr_array_add (count->threads, self);
  g_mutex_unlock (&count->lock);
  start_accepting (self);
  return self;
}

void
http_connections_free (HttpConnections *self)
{
  GHashTableIter iter;
  Tracked *t;

  if (self == NULL)
    return;
  g_mutex_lock (&self->count->lock);
  g_ptr_array_remove_fast (self->count->threads, self);
  g_mutex_unlock (&self->count->lock);
  http_ready_source_free (self->room_source);
  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_source_unref (self->accept_source);
    }
  if (self->pause_source != NULL)
    {
      g_source_destroy (self->pause_source);
      g_source_unref (self->pause_source);
    }
  g_source_destroy (self->sweep_source);
  g_source_unref (self->sweep_source);
  /* Whatever still holds a stream now lets it go without us. */
  g_hash_table_iter_init (&iter, self->held);
  while (g_hash_table_iter_next (&iter, (gpointer *) &t, NULL))
    {
      g_object_weak_unref (G_OBJECT (t->stream), on_stream_gone, t);
      if (!t->closing)
        g_atomic_int_add (&self->count->held, -1);
      g_hash_table_iter_remove (&iter);
    }
  g_hash_table_unref (self->held);
  g_main_context_unref (self->context);
  g_free (self);
}

void
http_connection_count_init (HttpConnectionCount *count, gint max, gint64 idle_usec, gint64 head_usec)
{
  *count = (HttpConnectionCount){ .max = max, .idle_usec = idle_usec, .head_usec = head_usec };
  g_mutex_init (&count->lock);
  count->threads = g_ptr_array_new ();
}

void
http_connection_count_clear (HttpConnectionCount *count)
{
  g_clear_pointer (&count->threads, g_ptr_array_unref);
  g_mutex_clear (&count->lock);
}
