/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Wrong bearer tokens, per peer: each is answered a delay after the one
 * before it from the same peer, so that a peer guesses at most one token a
 * delay however many connections it opens (a connection asks again only
 * once answered).  A right token is never delayed.  A peer on this machine
 * is counted by its uid when that is known (see http_peer_uid()), so one
 * local user's wrong tokens never hold back another's right one; others by
 * address: IPv4 as it is, IPv6 by its /64, every loopback address as one
 * (any local user may use any of 127.0.0.0/8), a unix socket as one.
 * Thread-safe.
 */
typedef struct _HttpThrottle HttpThrottle;

/* Returns a throttle that spaces wrong answers delay_usec apart, with at most most_waiting waiting per peer. */
HttpThrottle *http_throttle_new (gint64 delay_usec, guint most_waiting);

/* Frees throttle. */
void http_throttle_free (HttpThrottle *throttle);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpThrottle, http_throttle_free)

/* Returns what peer ("192.0.2.1", "unix") with uid (-1: not on this machine, or unknown) counts as (caller frees). */
char *http_throttle_key (const char *peer, gint64 uid);

/*
 * FALSE if key (from http_throttle_key()) has too many wrong answers waiting
 * already: then its token must not even be looked at (an answer at once
 * would tell whether it was right), and it is refused.
 */
gboolean http_throttle_admits (HttpThrottle *throttle, const char *key);

/* Counts a wrong token from key; returns the monotonic time (µs) its answer is due. */
gint64 http_throttle_wrong (HttpThrottle *throttle, const char *key);

/* A wrong answer to key went out (or will never): one less waiting. */
void http_throttle_answered (HttpThrottle *throttle, const char *key);

G_END_DECLS
