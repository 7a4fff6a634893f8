/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where a listener binds: a TCP host and port, a unix socket path, or nowhere. */
typedef enum {
  LISTEN_NONE,
  LISTEN_TCP,
  LISTEN_UNIX,
} ListenKind;

typedef struct {
  ListenKind kind;
  char *host;   /* LISTEN_TCP */
  guint16 port; /* LISTEN_TCP; 0 picks a free port */
  char *path;   /* LISTEN_UNIX */
} ListenAddress;

typedef enum {
  BUS_SYSTEM,
  BUS_SESSION,
  BUS_ADDRESS,
} BusKind;

/* Everything the command line and the main config file decide. */
typedef struct {
  char *config_file;
  gboolean config_file_given;  /* --config named it: then it must exist */
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  BusKind bus_kind;
  char *bus_address;           /* BUS_ADDRESS */
  gboolean no_polkit;
  ListenAddress http_listen;
  char *http_token_file;
  ListenAddress check_listen;
  gdouble drain_timeout_sec;
  gdouble health_interval_sec;
  gboolean show_version;
} DaemonOptions;

/*
 * Parses argv, then the main config file (the command line wins), into
 * options.  Unknown options and malformed values fail with an error that
 * names the option or key; unknown config keys are logged as warnings.
 */
gboolean daemon_options_parse (DaemonOptions *options, int *argc, char ***argv, GError **error);

/* Frees what options hold (not options itself). */
void daemon_options_clear (DaemonOptions *options);

/* Parses "HOST:PORT", "[V6]:PORT", "unix:PATH" or "none" into address; FALSE with error naming what is wrong. */
gboolean listen_address_parse (const char *text, ListenAddress *address, GError **error);

/* Returns the address as text ("127.0.0.1:11380", "unix:/run/x", "none"); caller frees. */
char *listen_address_to_string (const ListenAddress *address);

G_END_DECLS
