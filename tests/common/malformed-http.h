/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Broken HTTP/1.1 requests, made at random, and a client that sends one and sees how it ends. */

#include <glib.h>

G_BEGIN_DECLS

/* Whom a request is for: the management bridge or the check endpoint (their paths and headers). */
typedef enum {
  MALFORMED_HTTP_BRIDGE,
  MALFORMED_HTTP_CHECK,
} MalformedHttpTarget;

/*
 * Returns one request that is wrong somewhere: its request line, headers,
 * framing or body, or all of it random bytes.  Most carry "Host: host" (so
 * that the bridge looks further).  It may carry the bridge's real token (so
 * that what the token opens is tried too), but then always for a plugin
 * that does not exist: no request made here can change anything.  Caller
 * unrefs.
 */
GBytes *malformed_http_request (GRand *rand, MalformedHttpTarget target, const char *host, const char *token);

/* How requests ended. */
#define MALFORMED_HTTP_EXAMPLES 4

typedef struct {
  guint sent;
  guint connect_failed;
  guint answered; /* at least one status line came back */
  guint statuses[600]; /* how many answers had each status (100-599) */
  guint closed; /* the server closed (or reset) without a status line */
  guint held; /* the server had not closed 2 s after our half-close (we then closed) */
  char examples_5xx[MALFORMED_HTTP_EXAMPLES][200]; /* the start of a few requests answered 5xx, and the status */
  char examples_held[MALFORMED_HTTP_EXAMPLES][200]; /* the start of a few requests held */
  gint done; /* set (atomically) by whoever ran them, when finished */
} MalformedHttpTally;

/* Returns how many answers in tally had a status from first to last. */
guint malformed_http_tally_count (const MalformedHttpTally *tally, guint first, guint last);

/*
 * Connects to address ("127.0.0.1:PORT"), sends request, half-closes, reads
 * until the server closes or 2 s pass, then closes; notes in tally how it
 * ended.
 */
void malformed_http_send (const char *address, GBytes *request, MalformedHttpTally *tally);

/* Adds the counts of from to to. */
void malformed_http_tally_add (MalformedHttpTally *to, const MalformedHttpTally *from);

G_END_DECLS
