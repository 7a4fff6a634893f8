/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Returns the uid that owns the other end of the connected socket fd when
 * that end is on this machine: a unix socket's peer (SO_PEERCRED), or a TCP
 * socket of a local process (looked up by its address and port with
 * NETLINK_SOCK_DIAG); -1 if the peer is elsewhere or cannot be told.
 */
gint64 http_peer_uid (int fd);

G_END_DECLS
