/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/socket.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where a listener binds: a TCP host and port, a unix socket path, or nowhere. */
typedef enum {
  LISTEN_NONE,
  LISTEN_TCP,
  LISTEN_UNIX,
} ListenKind;

typedef struct {
  ListenKind kind;
  char *host; /* LISTEN_TCP */
  guint16 port; /* LISTEN_TCP; 0 picks a free port */
  char *path; /* LISTEN_UNIX */
} ListenAddress;

/* Parses "HOST:PORT", "[V6]:PORT", "unix:PATH" or "none" into address; FALSE with error naming what is wrong. */
gboolean listen_address_parse (const char *text, ListenAddress *address, GError **error);

/* Returns the address as text ("127.0.0.1:11380", "unix:/run/x", "none"); caller frees. */
char *listen_address_to_string (const ListenAddress *address);

/* Frees what address holds and makes it LISTEN_NONE. */
void listen_address_clear (ListenAddress *address);

/* How a listening socket is opened. */
typedef struct {
  int backlog;
  guint unix_mode; /* a unix socket file's mode, e.g. 0660 */
  gid_t unix_group; /* and its group; (gid_t) -1 leaves the daemon's own */
} HttpListenOptions;

/*
 * Opens a non-blocking, close-on-exec listening socket at address (not
 * LISTEN_NONE), one no other process can share: a TCP port taken, or a unix
 * socket another process accepts on, is an error (G_IO_ERROR_ADDRESS_IN_USE).
 * A stale unix socket file is replaced; any other file there is an error.
 * Returns the fd (caller closes) or -1 with an error naming the address.
 */
int http_listen_open (const ListenAddress *address, const HttpListenOptions *options, GError **error);

/* Finds group (a name, or a number) in the group database; FALSE with an error naming it. */
gboolean http_listen_parse_group (const char *group, gid_t *gid, GError **error);

/* Returns what fd is bound to, as "127.0.0.1:11380", "[::1]:80" or "unix:/path"; caller frees. */
char *http_listen_describe (int fd);

/* Returns the TCP port fd is bound to, or 0. */
guint16 http_listen_get_port (int fd);

/* An IPv4 or IPv6 address in network byte order, handled without allocating. */
typedef struct {
  int family; /* AF_INET or AF_INET6 */
  guint8 bytes[16];
} HttpIp;

/* Parses text ("192.0.2.1", "2001:db8::1", surrounding blanks allowed) into ip; FALSE if it is not an address. */
gboolean http_ip_parse (const char *text, HttpIp *ip);

/* Takes the address of a socket address (an IPv4-mapped IPv6 one as IPv4); FALSE for a unix socket or NULL. */
gboolean http_ip_from_sockaddr (const struct sockaddr *address, HttpIp *ip);

/* Turns an IPv4-mapped IPv6 address (::ffff:192.0.2.1) in ip into the IPv4 address it stands for. */
void http_ip_unmap (HttpIp *ip);

/* Returns ip in its canonical text form ("192.0.2.1", "2001:db8::1"); caller frees. */
char *http_ip_to_string (const HttpIp *ip);

G_END_DECLS
