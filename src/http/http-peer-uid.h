/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <linux/inet_diag.h>

G_BEGIN_DECLS

/*
 * Returns the uid that owns the other end of the connected socket fd when
 * that end is on this machine: a unix socket's peer (SO_PEERCRED), or a live
 * TCP socket of a local process (looked up by its addresses and ports with
 * NETLINK_SOCK_DIAG); -1 if the peer is elsewhere, has closed its socket,
 * has no passwd entry, or cannot be told.
 */
gint64 http_peer_uid (int fd);

/*
 * Returns the uid in found, the kernel's answer to the exact lookup asked,
 * if it is a live socket of a user with a passwd entry; else -1.  The kernel
 * falls back to a listener on the port when no connection matches (a peer
 * elsewhere, using a local service's port as its own), and reports sockets
 * closed already (TIME_WAIT, or orphaned: no inode) as root's: neither says
 * who is at the other end.
 */
gint64 http_peer_uid_of_diag (const struct inet_diag_req_v2 *asked, const struct inet_diag_msg *found);

G_END_DECLS
