/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A request target that libsoup would rewrite before we see it is replaced
 * with this one: libsoup 3 removes dot segments and decodes %2F and %2E, so
 * "/plugins/../plugins/reload" and "/plugins%2Freload" would otherwise reach
 * reload.  The endpoints answer it with 400.
 */
#define HTTP_GUARD_REFUSED_TARGET "/!refused-request-target"

/*
 * When the client closes an idle connection, libsoup reads a request for
 * this target with "Connection: close" instead, so that it frees the
 * connection; the endpoints answer it without a word.
 */
#define HTTP_GUARD_CLOSED_TARGET "/!client-closed"

/* TRUE if target is a plain origin-form target: "/", no '%', no "//", no "." or ".." segment in the path. */
gboolean http_guard_target_is_plain (const char *target, gsize length);

/*
 * Wraps a connection so that every request line's target is checked on the
 * wire, before libsoup parses it, following HTTP/1.1 framing (Content-Length
 * and chunked bodies).  A target that is not plain is replaced with
 * HTTP_GUARD_REFUSED_TARGET; framing we cannot follow ends the input after
 * the current request.  On the way out, a response head whose body is sure
 * to follow is held back and sent in one write with it (libsoup writes them
 * separately: two segments, two wake-ups of the client).  Returns a new
 * stream (caller owns it).
 */
GIOStream *http_guard_stream_new (GIOStream *base);

/* What a guarded connection is doing: for closing those that hold on to nothing. */
typedef enum {
  HTTP_GUARD_IDLE, /* between requests */
  HTTP_GUARD_RECEIVING, /* a request has begun to arrive and is not complete */
  HTTP_GUARD_ANSWERING, /* a request has arrived and its answer is not all written */
} HttpGuardActivity;

/*
 * Returns what stream (from http_guard_stream_new()) is doing, and in
 * *since_usec the monotonic time that began: for IDLE the last byte read or
 * written, for RECEIVING the request's first byte.  (Once its responses are
 * not understood, a connection is only ever IDLE or RECEIVING.)
 */
HttpGuardActivity http_guard_stream_get_activity (GIOStream *stream, gint64 *since_usec);

G_END_DECLS
