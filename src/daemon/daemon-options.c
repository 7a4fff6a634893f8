/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-plugind"

#include "config.h"

#include "daemon-options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hkp-config-store.h"
#include "hkp-manifest.h"
#include "http-proxy.h"

#define MAIN_GROUP "hkp-plugind"

/* The options that are also main-config keys: the key is the long option name. */
typedef enum {
  OPT_PLUGIN_DIR,
  OPT_CONFIG_DIR,
  OPT_STATE_DIR,
  OPT_BUS,
  OPT_NO_POLKIT,
  OPT_HTTP_LISTEN,
  OPT_HTTP_TOKEN_FILE,
  OPT_CHECK_LISTEN,
  OPT_DRAIN_TIMEOUT,
  OPT_HEALTH_INTERVAL,
  OPT_HTTP_TLS_CERTIFICATE,
  OPT_HTTP_TLS_KEY,
  OPT_HTTP_ALLOWED_HOSTS,
  OPT_TRUSTED_PROXIES,
  OPT_CHECK_THREADS,
  OPT_REQUIRED_PLUGINS,
  OPT_HTTP_THREADS,
  OPT_HTTP_IDLE_TIMEOUT,
  OPT_HTTP_MAX_CONNECTIONS,
  OPT_HTTP_PROCESSES,
  OPT_CHECK_SOCKET_GROUP,
  OPT_CHECK_PROXY_SECRET_FILE,
  OPT_HISTORY_LIMIT,
  N_OPTS,
} OptionId;

static const char *const option_keys[N_OPTS] = {
  [OPT_PLUGIN_DIR] = "plugin-dir",
  [OPT_CONFIG_DIR] = "config-dir",
  [OPT_STATE_DIR] = "state-dir",
  [OPT_BUS] = "bus",
  [OPT_NO_POLKIT] = "no-polkit",
  [OPT_HTTP_LISTEN] = "http-listen",
  [OPT_HTTP_TOKEN_FILE] = "http-token-file",
  [OPT_CHECK_LISTEN] = "check-listen",
  [OPT_DRAIN_TIMEOUT] = "drain-timeout",
  [OPT_HEALTH_INTERVAL] = "health-interval",
  [OPT_HTTP_TLS_CERTIFICATE] = "http-tls-certificate",
  [OPT_HTTP_TLS_KEY] = "http-tls-key",
  [OPT_HTTP_ALLOWED_HOSTS] = "http-allowed-hosts",
  [OPT_TRUSTED_PROXIES] = "trusted-proxies",
  [OPT_CHECK_THREADS] = "check-threads",
  [OPT_REQUIRED_PLUGINS] = "required-plugins",
  [OPT_HTTP_THREADS] = "http-threads",
  [OPT_HTTP_IDLE_TIMEOUT] = "http-idle-timeout",
  [OPT_HTTP_MAX_CONNECTIONS] = "http-max-connections",
  [OPT_HTTP_PROCESSES] = "http-processes",
  [OPT_CHECK_SOCKET_GROUP] = "check-socket-group",
  [OPT_CHECK_PROXY_SECRET_FILE] = "check-proxy-secret-file",
  [OPT_HISTORY_LIMIT] = "history-limit",
};
G_STATIC_ASSERT (G_N_ELEMENTS (option_keys) == N_OPTS);

/* One raw value per option and where it came from, for messages. */
typedef struct {
  char *value[N_OPTS];
  char *origin[N_OPTS];
} RawOptions;

static void
raw_options_clear (RawOptions *raw)
{
  for (guint i = 0; i < N_OPTS; i++)
    {
      g_free (raw->value[i]);
      g_free (raw->origin[i]);
    }
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RawOptions, raw_options_clear)

void
daemon_options_clear (DaemonOptions *options)
{
  g_free (options->config_file);
  g_free (options->plugin_dir);
  g_free (options->config_dir);
  g_free (options->state_dir);
  g_free (options->bus_address);
  listen_address_clear (&options->http_listen);
  g_free (options->http_token_file);
  g_free (options->http_tls_certificate);
  g_free (options->http_tls_key);
  g_strfreev (options->http_allowed_hosts);
  listen_address_clear (&options->check_listen);
  g_free (options->check_socket_group);
  g_free (options->check_proxy_secret_file);
  g_strfreev (options->trusted_proxies);
  g_strfreev (options->required_plugins);
  g_clear_pointer (&options->config_warnings, g_ptr_array_unref);
  memset (options, 0, sizeof *options);
}

static gboolean
parse_seconds (const char *text, gdouble *out)
{
  char *end = NULL;
  gdouble value;

  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (text[0] == '\0' || *end != '\0' || errno != 0 || !(value > 0 && value <= HKP_TIMEOUT_MAX_SEC))
    return FALSE;
  *out = value;
  return TRUE;
}

static gboolean
parse_boolean (const char *text, gboolean *out)
{
  if (g_str_equal (text, "true") || g_str_equal (text, "yes") || g_str_equal (text, "1"))
    *out = TRUE;
  else if (g_str_equal (text, "false") || g_str_equal (text, "no") || g_str_equal (text, "0"))
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
bad_value (GError **error, const char *origin, const char *value, const char *expected)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: invalid value \"%s\": %s", origin, value,
               expected);
  return FALSE;
}

static gboolean
take_directory (const RawOptions *raw, OptionId id, char **out, GError **error)
{
  if (raw->value[id] == NULL)
    return TRUE;
  if (raw->value[id][0] == '\0')
    return bad_value (error, raw->origin[id], raw->value[id], "expected a directory");
  g_free (*out);
  *out = g_strdup (raw->value[id]);
  return TRUE;
}

static gboolean
take_file (const RawOptions *raw, OptionId id, char **out, GError **error)
{
  if (raw->value[id] == NULL)
    return TRUE;
  if (!g_path_is_absolute (raw->value[id]))
    return bad_value (error, raw->origin[id], raw->value[id], "expected an absolute file name");
  g_free (*out);
  *out = g_strdup (raw->value[id]);
  return TRUE;
}

/* Takes a whole number from min to max (expected says so in the error). */
static gboolean
take_count (const RawOptions *raw, OptionId id, guint min, guint max, const char *expected, guint *out, GError **error)
{
  guint64 n = 0;

  if (raw->value[id] == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (raw->value[id], 10, min, max, &n, NULL))
    return bad_value (error, raw->origin[id], raw->value[id], expected);
  *out = (guint) n;
  return TRUE;
}

/* Splits "a, b,c" into a list of the non-empty, trimmed items; caller frees. */
static GStrv
split_list (const char *text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, ", ", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

/* Turns the merged raw values into options, naming the option or key of any bad value. */
static gboolean
apply_raw (const RawOptions *raw, DaemonOptions *options, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  const char *v;

  if (!take_directory (raw, OPT_PLUGIN_DIR, &options->plugin_dir, error) ||
      !take_directory (raw, OPT_CONFIG_DIR, &options->config_dir, error) ||
      !take_directory (raw, OPT_STATE_DIR, &options->state_dir, error))
    return FALSE;

  if (!take_file (raw, OPT_HTTP_TOKEN_FILE, &options->http_token_file, error) ||
      !take_file (raw, OPT_CHECK_PROXY_SECRET_FILE, &options->check_proxy_secret_file, error))
    return FALSE;

  if ((v = raw->value[OPT_BUS]) != NULL)
    {
      g_clear_pointer (&options->bus_address, g_free);
      if (g_str_equal (v, "system"))
        options->bus_kind = BUS_SYSTEM;
      else if (g_str_equal (v, "session"))
        options->bus_kind = BUS_SESSION;
      else if (strchr (v, ':') != NULL && strchr (v, '=') != NULL)
        {
          options->bus_kind = BUS_ADDRESS;
          options->bus_address = g_strdup (v);
        }
      else
        return bad_value (error, raw->origin[OPT_BUS], v,
                          "expected system, session or a D-Bus address such as unix:path=/run/bus");
    }

  if ((v = raw->value[OPT_NO_POLKIT]) != NULL && !parse_boolean (v, &options->no_polkit))
    return bad_value (error, raw->origin[OPT_NO_POLKIT], v, "expected true or false");

  if ((v = raw->value[OPT_HTTP_LISTEN]) != NULL)
    {
      listen_address_clear (&options->http_listen);
      if (!listen_address_parse (v, &options->http_listen, &local_error))
        return bad_value (error, raw->origin[OPT_HTTP_LISTEN], v, local_error->message);
    }
  if ((v = raw->value[OPT_CHECK_LISTEN]) != NULL)
    {
      listen_address_clear (&options->check_listen);
      if (!listen_address_parse (v, &options->check_listen, &local_error))
        return bad_value (error, raw->origin[OPT_CHECK_LISTEN], v, local_error->message);
    }

  if ((v = raw->value[OPT_CHECK_SOCKET_GROUP]) != NULL)
    {
      gid_t gid;
      /* Looked up now, so a group that does not exist stops us here (exit 2). */
      if (!http_listen_parse_group (v, &gid, &local_error))
        return bad_value (error, raw->origin[OPT_CHECK_SOCKET_GROUP], v, local_error->message);
      g_free (options->check_socket_group);
      options->check_socket_group = g_strdup (v);
    }

  if ((v = raw->value[OPT_DRAIN_TIMEOUT]) != NULL && !parse_seconds (v, &options->drain_timeout_sec))
    return bad_value (error, raw->origin[OPT_DRAIN_TIMEOUT], v,
                      "expected a number of seconds greater than 0 and at most 86400");
  if ((v = raw->value[OPT_HEALTH_INTERVAL]) != NULL && !parse_seconds (v, &options->health_interval_sec))
    return bad_value (error, raw->origin[OPT_HEALTH_INTERVAL], v,
                      "expected a number of seconds greater than 0 and at most 86400");

  if (!take_file (raw, OPT_HTTP_TLS_CERTIFICATE, &options->http_tls_certificate, error) ||
      !take_file (raw, OPT_HTTP_TLS_KEY, &options->http_tls_key, error))
    return FALSE;
  if ((options->http_tls_certificate == NULL) != (options->http_tls_key == NULL))
    {
      OptionId given = options->http_tls_key == NULL ? OPT_HTTP_TLS_CERTIFICATE : OPT_HTTP_TLS_KEY;
      return bad_value (error, raw->origin[given], raw->value[given],
                        "TLS needs both http-tls-certificate and http-tls-key");
    }
  if ((v = raw->value[OPT_HTTP_ALLOWED_HOSTS]) != NULL)
    {
      g_strfreev (options->http_allowed_hosts);
      options->http_allowed_hosts = split_list (v);
    }
  if ((v = raw->value[OPT_TRUSTED_PROXIES]) != NULL)
    {
      g_auto (GStrv) list = split_list (v);
      /* Checked by the very parser the check endpoint will use, so a bad entry stops us here (exit 2). */
      g_autoptr (HttpTrustedProxies) proxies = http_trusted_proxies_new ((const char *const *) list, &local_error);
      if (proxies == NULL)
        return bad_value (error, raw->origin[OPT_TRUSTED_PROXIES], v, local_error->message);
      g_strfreev (options->trusted_proxies);
      options->trusted_proxies = g_steal_pointer (&list);
    }
  if (!take_count (raw, OPT_CHECK_THREADS, 0, 64, "expected 0 (automatic) to 64 threads", &options->check_threads,
                   error) ||
      !take_count (raw, OPT_HTTP_THREADS, 0, 64, "expected 0 (automatic) to 64 threads", &options->http_threads,
                   error) ||
      !take_count (raw, OPT_HTTP_MAX_CONNECTIONS, 1, 65536, "expected 1 to 65536 connections",
                   &options->http_max_connections, error) ||
      !take_count (raw, OPT_HTTP_PROCESSES, 1, 16, "expected 1 to 16 processes", &options->http_processes, error) ||
      !take_count (raw, OPT_HISTORY_LIMIT, 1, 1000000, "expected 1 to 1000000 versions", &options->history_limit,
                   error))
    return FALSE;
  if ((v = raw->value[OPT_HTTP_IDLE_TIMEOUT]) != NULL && !parse_seconds (v, &options->http_idle_timeout_sec))
    return bad_value (error, raw->origin[OPT_HTTP_IDLE_TIMEOUT], v,
                      "expected a number of seconds greater than 0 and at most 86400");
  if ((v = raw->value[OPT_REQUIRED_PLUGINS]) != NULL)
    {
      g_strfreev (options->required_plugins);
      options->required_plugins = split_list (v);
    }
  return TRUE;
}

static OptionId
option_id_for_key (const char *key)
{
  for (guint i = 0; i < N_OPTS; i++)
    if (g_str_equal (option_keys[i], key))
      return (OptionId) i;
  return N_OPTS;
}

/* Logs what the main config file holds that is ignored, and keeps it for --check-config. */
static void G_GNUC_PRINTF (2, 3) config_warning (DaemonOptions *options, const char *format, ...)
{
  va_list ap;
  char *message;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_warning ("%s", message);
  g_ptr_array_add (options->config_warnings, message);
}

/* Fills the values the command line left unset from the main config file. */
static gboolean
merge_config_file (DaemonOptions *options, RawOptions *raw, const char *path, gboolean must_exist, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) groups = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      if (!must_exist && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_info ("main config file %s does not exist; using defaults", path);
          return TRUE;
        }
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s: %s", path, local_error->message);
      return FALSE;
    }

  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = NULL;

      if (!g_str_equal (groups[g], MAIN_GROUP))
        {
          config_warning (options, "%s: unknown group [%s] ignored (settings go in [%s])", path, groups[g], MAIN_GROUP);
          continue;
        }
      keys = g_key_file_get_keys (file, groups[g], NULL, NULL);
      for (guint k = 0; keys[k] != NULL; k++)
        {
          OptionId id = option_id_for_key (keys[k]);
          g_autofree char *value = NULL;

          if (id == N_OPTS)
            {
              config_warning (options, "%s: unknown key \"%s\" in [%s] ignored", path, keys[k], MAIN_GROUP);
              continue;
            }
          if (raw->value[id] != NULL)
            continue; /* the command line wins */
          value = g_key_file_get_string (file, MAIN_GROUP, keys[k], &local_error);
          if (value == NULL)
            {
              g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: key \"%s\": %s", path, keys[k],
                           local_error->message);
              return FALSE;
            }
          raw->value[id] = g_steal_pointer (&value);
          raw->origin[id] = g_strdup_printf ("%s: key \"%s\"", path, keys[k]);
        }
    }
  return TRUE;
}

static void
set_defaults (DaemonOptions *options)
{
  options->config_file = g_strdup (HKP_DEFAULT_MAIN_CONFIG);
  options->plugin_dir = g_strdup (HKP_DEFAULT_PLUGIN_DIR);
  options->config_dir = g_strdup (HKP_DEFAULT_CONFIG_DIR);
  options->state_dir = g_strdup (HKP_DEFAULT_STATE_DIR);
  options->bus_kind = BUS_SYSTEM;
  options->http_listen.kind = LISTEN_TCP;
  options->http_listen.host = g_strdup ("127.0.0.1");
  options->http_listen.port = 11380;
  options->check_listen.kind = LISTEN_TCP;
  options->check_listen.host = g_strdup ("127.0.0.1");
  options->check_listen.port = 11381;
  options->trusted_proxies = g_strsplit ("127.0.0.0/8,::1/128", ",", -1);
  options->drain_timeout_sec = 60;
  options->health_interval_sec = 30;
  options->http_idle_timeout_sec = 60;
  options->http_max_connections = 1024;
  options->http_processes = 1;
  options->history_limit = HKP_CONFIG_HISTORY_LIMIT_DEFAULT;
  options->config_warnings = g_ptr_array_new_with_free_func (g_free);
}

gboolean
daemon_options_parse (DaemonOptions *options, int *argc, char ***argv, GError **error)
{
  g_auto (RawOptions) raw = { { NULL } };
  g_autofree char *config_file = NULL;
  gboolean no_polkit = FALSE;
  gboolean show_version = FALSE;
  gboolean check_config = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  const GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_file, "Main config file (default " HKP_DEFAULT_MAIN_CONFIG ")",
      "FILE" },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_PLUGIN_DIR],
      "Directory of plugin modules (default " HKP_DEFAULT_PLUGIN_DIR ")", "DIR" },
    { "config-dir", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_CONFIG_DIR],
      "Directory of plugin files <name>.json (default " HKP_DEFAULT_CONFIG_DIR ")", "DIR" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_STATE_DIR],
      "State directory (default " HKP_DEFAULT_STATE_DIR ")", "DIR" },
    { "bus", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_BUS],
      "D-Bus to serve on: system, session or an address (default system)", "BUS" },
    { "no-polkit", 0, 0, G_OPTION_ARG_NONE, &no_polkit,
      "Do not ask polkit; only the daemon's own uid may change anything", NULL },
    { "http-listen", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_LISTEN],
      "Management bridge address: HOST:PORT, unix:PATH or none (default 127.0.0.1:11380)", "ADDR" },
    { "http-token-file", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_HTTP_TOKEN_FILE],
      "File holding the bearer token for mutating HTTP calls", "FILE" },
    { "check-listen", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_CHECK_LISTEN],
      "Check endpoint address: HOST:PORT, unix:PATH or none (default 127.0.0.1:11381)", "ADDR" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_DRAIN_TIMEOUT],
      "Default drain timeout in seconds (default 60)", "SECONDS" },
    { "health-interval", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HEALTH_INTERVAL],
      "Default health check interval in seconds (default 30)", "SECONDS" },
    { "http-tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_HTTP_TLS_CERTIFICATE],
      "PEM certificate: the management bridge speaks HTTPS", "FILE" },
    { "http-tls-key", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_HTTP_TLS_KEY], "PEM private key of that certificate",
      "FILE" },
    { "http-allowed-hosts", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_ALLOWED_HOSTS],
      "Host names the bridge answers to besides its listening address (comma-separated)", "NAMES" },
    { "check-socket-group", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_CHECK_SOCKET_GROUP],
      "Group of a unix check socket, which is made 0660: the proxy's (e.g. www-data)", "GROUP" },
    { "check-proxy-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &raw.value[OPT_CHECK_PROXY_SECRET_FILE],
      "Root-only file with the secret a proxy on TCP sends in X-Hkp-Proxy-Secret to be believed", "FILE" },
    { "trusted-proxies", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_TRUSTED_PROXIES],
      "Peers whose X-Real-IP/X-Forwarded-For the check endpoint believes (default 127.0.0.0/8,::1/128; "
      "on loopback only with a proxy secret)",
      "CIDRS" },
    { "check-threads", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_CHECK_THREADS],
      "Threads serving the check endpoint (default 0: one per CPU, at least 2; more if plugins block)", "N" },
    { "http-threads", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_THREADS],
      "Threads serving the management bridge on TCP (default 0: 4 per CPU, at most 8)", "N" },
    { "http-idle-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_IDLE_TIMEOUT],
      "Close a bridge connection idle, or sending one request, for this long (default 60)", "SECONDS" },
    { "http-max-connections", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_MAX_CONNECTIONS],
      "Connections the bridge holds at most; more are closed at once (default 1024)", "N" },
    { "http-processes", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HTTP_PROCESSES],
      "Processes serving the bridge on TCP, one thread each, sharing its port (default 1: the daemon alone)", "N" },
    { "required-plugins", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_REQUIRED_PLUGINS],
      "Plugins without which /readyz answers 503 (comma-separated)", "NAMES" },
    { "history-limit", 0, 0, G_OPTION_ARG_STRING, &raw.value[OPT_HISTORY_LIMIT],
      "Versions of each plugin file the config history keeps (default 100)", "N" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      "Check the main config and every plugin file (each enabled plugin's validate_config too), print every "
      "problem, exit 0 if there is none, else 1; start nothing",
      NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    { NULL }
  };

  set_defaults (options);
  context = g_option_context_new ("- host and manage request-filtering plugins for HKP keyservers");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument \"%s\"", (*argv)[1]);
      return FALSE;
    }
  options->show_version = show_version;
  options->check_config = check_config;
  if (show_version)
    return TRUE;

  for (guint i = 0; i < N_OPTS; i++)
    if (raw.value[i] != NULL)
      raw.origin[i] = g_strdup_printf ("--%s", option_keys[i]);
  if (no_polkit)
    {
      raw.value[OPT_NO_POLKIT] = g_strdup ("true");
      raw.origin[OPT_NO_POLKIT] = g_strdup ("--no-polkit");
    }
  if (config_file != NULL)
    {
      g_free (options->config_file);
      options->config_file = g_steal_pointer (&config_file);
      options->config_file_given = TRUE;
    }
  if (!merge_config_file (options, &raw, options->config_file, options->config_file_given, error))
    return FALSE;
  return apply_raw (&raw, options, error);
}
