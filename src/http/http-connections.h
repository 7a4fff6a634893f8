/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The connections one process of the bridge holds, counted by all its
 * server threads.  At max, the longest-idle connection (idle between
 * requests, still sending a request, head or body, or not taking its
 * answer) is closed to admit a new one; only when the server is at work on
 * every connection's answer is a new one refused.
 * Each thread chooses among its own connections, which it alone may look
 * at.  A thread that holds none that could make room admits the new one a
 * little over max, and asks the other threads to close theirs while more
 * than max are held (and each sweep does, in case none could then).
 */
typedef struct {
  gint max;
  gint held; /* atomic: connections accepted and not closed or being closed */
  gint at_limit; /* atomic: max was reached and held has not gone well below since (logged once) */
  gint64 idle_usec; /* a connection idle, sending a request body, or not taking its answer this long is closed */
  gint64 head_usec; /* a request head that takes this long to arrive is closed */
  GMutex lock;
  GPtrArray *threads; /* HttpConnections, each thread's (under lock) */
} HttpConnectionCount;

/* Readies count for max connections (and the timeouts given); clear it with http_connection_count_clear(). */
void http_connection_count_init (HttpConnectionCount *count, gint max, gint64 idle_usec, gint64 head_usec);

/* Frees what count holds (every thread's connections freed first). */
void http_connection_count_clear (HttpConnectionCount *count);

/* What a server thread does with a connection it accepted (on that thread). */
typedef struct {
  /*
   * Wraps connection as it is to be served; returns the stream made with
   * http_guard_stream_new() that will be served (caller owns it), or NULL if
   * it cannot be served.
   */
  GIOStream *(*wrap) (GSocketConnection *connection, gpointer data);
  /* Serves stream (from wrap; takes a reference of its own). */
  void (*serve) (GIOStream *stream, GSocketConnection *connection, gpointer data);
} HttpConnectionsHandler;

/*
 * One server thread's connections: accepted from a listening socket the
 * threads (and worker processes) share, served through serve, and closed
 * when they hold on to nothing for too long.
 */
typedef struct _HttpConnections HttpConnections;

/*
 * Starts accepting on listen_fd (not taken) in context (the server thread's,
 * whose loop runs the callbacks), counting in count (shared, outlives the
 * result), handing connections to handler (static) with data.  Returns the
 * thread's connections (free them on that thread).
 */
HttpConnections *http_connections_new (int listen_fd, HttpConnectionCount *count, GMainContext *context,
                                       const HttpConnectionsHandler *handler, gpointer data);

/* Stops accepting and lets go of the connections still held, uncounted (server thread). */
void http_connections_free (HttpConnections *connections);

G_END_DECLS
