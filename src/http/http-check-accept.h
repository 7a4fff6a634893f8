/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include <microhttpd.h>

G_BEGIN_DECLS

/*
 * The check endpoint's connections.  libmicrohttpd cannot close a
 * connection it holds when asked, and refuses every new one at its limit:
 * so a thread of ours accepts them, hands them to it with
 * MHD_add_connection(), and follows each (MHD_OPTION_NOTIFY_CONNECTION, and
 * when a request begins and ends).  At the limit it shuts down the socket
 * of the longest-idle connection (idle between requests, or still sending a
 * head) to admit the new one; a connection whose check is running is never
 * cut, and only while every one is is a new one refused.  While
 * libmicrohttpd has yet to close 256 of those shut down, new connections
 * wait in the backlog.
 */
typedef struct _HttpCheckAcceptor HttpCheckAcceptor;

/* Takes listening socket listen_fd; holds at most limit connections.  Returns a new acceptor (caller frees). */
HttpCheckAcceptor *http_check_acceptor_new (int listen_fd, guint limit);

/*
 * Starts accepting into mhd, which must have been started with
 * MHD_USE_NO_LISTEN_SOCKET, MHD_USE_ITC, a connection limit above
 * http_check_acceptor_mhd_limit(), and http_check_acceptor_notify() (with
 * the acceptor) as its MHD_OPTION_NOTIFY_CONNECTION.  FALSE with an error.
 */
gboolean http_check_acceptor_start (HttpCheckAcceptor *acceptor, struct MHD_Daemon *mhd, GError **error);

/* The connection limit libmicrohttpd needs for connections being closed to linger beside the ones held. */
guint http_check_acceptor_mhd_limit (HttpCheckAcceptor *acceptor);

/* Stops accepting and closes the listening socket; the connections held stay (any thread but its own). */
void http_check_acceptor_stop (HttpCheckAcceptor *acceptor);

/* Stops accepting and frees acceptor; call after MHD_stop_daemon() (it notifies the last closes). */
void http_check_acceptor_free (HttpCheckAcceptor *acceptor);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the acceptor. */
void http_check_acceptor_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code);

/* A request's head has arrived on connection: it is busy (never closed for room) until the next call. */
void http_check_acceptor_request_began (HttpCheckAcceptor *acceptor, struct MHD_Connection *connection);

/* The request on connection is answered (or abandoned): it is idle from now (MHD_OPTION_NOTIFY_COMPLETED). */
void http_check_acceptor_request_ended (HttpCheckAcceptor *acceptor, struct MHD_Connection *connection);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpCheckAcceptor, http_check_acceptor_free)

G_END_DECLS
