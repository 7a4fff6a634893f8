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
 * When the client closes an idle connection, or closes it before a request
 * head was whole, libsoup reads a request for this target with
 * "Connection: close" instead, so that it frees the connection; the
 * endpoints answer it without a word.
 */
#define HTTP_GUARD_CLOSED_TARGET "/!client-closed"

/*
 * A request head whose framing could be read two ways (Content-Length with
 * Transfer-Encoding, two Content-Lengths, a folded header line) or that is
 * too large is never passed on: libsoup reads a request for this target,
 * with a query saying why and "Connection: close", instead; the endpoints
 * answer it 400 and nothing the client sent after it is read.
 */
#define HTTP_GUARD_REFUSED_HEAD_TARGET "/!refused-request-head"

/* Returns what was wrong with a refused head, from its query (static text). */
const char *http_guard_refusal_message (const char *query);

/* TRUE if target is a plain origin-form target: "/", no '%', no "//", no "." or ".." segment in the path. */
gboolean http_guard_target_is_plain (const char *target, gsize length);

/*
 * Wraps a connection so that every request head is checked on the wire,
 * before libsoup parses it, following HTTP/1.1 framing (Content-Length and
 * chunked bodies); a head is passed on only once it is whole.  A target that
 * is not plain is replaced with HTTP_GUARD_REFUSED_TARGET, a head with
 * ambiguous framing with HTTP_GUARD_REFUSED_HEAD_TARGET; a body whose framing
 * we cannot follow ends the input after it.  When the client closes in the
 * middle of a body, libsoup reads an error, which makes it drop the
 * connection.  On the way out, a response head whose body is sure
 * to follow is held back and sent in one write with it (libsoup writes them
 * separately: two segments, two wake-ups of the client).  Returns a new
 * stream (caller owns it).
 */
GIOStream *http_guard_stream_new (GIOStream *base);

/* What a guarded connection is doing: for closing those that hold on to nothing. */
typedef enum {
  HTTP_GUARD_IDLE, /* between requests */
  HTTP_GUARD_RECEIVING_HEAD, /* a request head has begun to arrive and is not whole */
  HTTP_GUARD_RECEIVING_BODY, /* a request's body has begun to arrive and is not whole */
  HTTP_GUARD_ANSWERING, /* a request has arrived and its answer is not begun: the server is at work */
  HTTP_GUARD_SENDING, /* an answer is being written: it waits for the client to take it */
} HttpGuardActivity;

/*
 * Returns what stream (from http_guard_stream_new()) is doing, and in
 * *since_usec the monotonic time that began: for IDLE the last byte read or
 * written, for RECEIVING_* the request's first byte, for SENDING the last
 * byte the client took.  (Once its responses are not understood, a
 * connection is never ANSWERING or SENDING.)
 */
HttpGuardActivity http_guard_stream_get_activity (GIOStream *stream, gint64 *since_usec);

G_END_DECLS
