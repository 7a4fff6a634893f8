/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "http-listen.h"

G_BEGIN_DECLS

typedef enum {
  BUS_SYSTEM,
  BUS_SESSION,
  BUS_ADDRESS,
} BusKind;

/* Everything the command line and the main config file decide. */
typedef struct {
  char *config_file;
  gboolean config_file_given; /* --config named it: then it must exist */
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  BusKind bus_kind;
  char *bus_address; /* BUS_ADDRESS */
  gboolean no_polkit;
  ListenAddress http_listen;
  char *http_token_file;
  char *http_tls_certificate; /* both or neither */
  char *http_tls_key;
  char **http_allowed_hosts; /* extra Host names the bridge accepts; may be NULL */
  guint http_threads; /* 0: automatic */
  gdouble http_idle_timeout_sec;
  guint http_max_connections;
  guint http_processes; /* 1: the daemon alone; more: worker processes too */
  ListenAddress check_listen;
  char *check_socket_group; /* a unix check socket's group; NULL: the daemon's own */
  char *check_proxy_secret_file; /* what a TCP proxy sends in X-Hkp-Proxy-Secret; NULL: none */
  char **trusted_proxies; /* CIDRs whose X-Real-IP / X-Forwarded-For count */
  guint check_threads; /* 0: automatic */
  char **required_plugins; /* /readyz fails while one is not active; may be NULL */
  gdouble drain_timeout_sec;
  gdouble health_interval_sec;
  guint history_limit; /* versions of each plugin file kept */
  gboolean show_version;
  gboolean check_config; /* --check-config: check the configuration and exit */
  GPtrArray *config_warnings; /* what the main config file holds that is ignored (unknown keys, groups) */
} DaemonOptions;

/*
 * Parses argv, then the main config file (the command line wins), into
 * options.  Unknown options and malformed values fail with an error that
 * names the option or key; unknown config keys are logged as warnings and
 * kept in config_warnings.  options->check_config is set as soon as the
 * command line asked for it, even if parsing fails later.
 */
gboolean daemon_options_parse (DaemonOptions *options, int *argc, char ***argv, GError **error);

/* Frees what options hold (not options itself). */
void daemon_options_clear (DaemonOptions *options);

G_END_DECLS
