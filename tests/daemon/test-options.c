/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command line and main config file: defaults, precedence, and errors that name the option or key. */
#include "config.h"

#include <string.h>

#include "daemon-options.h"
#include "hkp-test-util.h"

typedef struct {
  char *dir;
  char *missing_config; /* so the defaults never read the system's file */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = hkp_test_make_tmpdir ();
  f->missing_config = g_build_filename (f->dir, "absent.conf", NULL);
  hkp_test_log_clear ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  hkp_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->missing_config);
}

/* Parses the NULL-terminated arguments; returns TRUE on success. */
static gboolean
parse_args (DaemonOptions *options, GError **error, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  char **vector;
  int argc;
  gboolean ok;

  g_ptr_array_add (argv, g_strdup ("hkp-plugind"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  argc = (int) argv->len;
  g_ptr_array_add (argv, NULL);
  /* GOption rearranges the vector: hand it a shallow copy and free the strings ourselves. */
  vector = g_memdup2 (argv->pdata, sizeof (char *) * argv->len);
  ok = daemon_options_parse (options, &argc, &vector, error);
  g_free (vector);
  return ok;
}

#define PARSE(options, error, ...) parse_args ((options), (error), (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_refused (Fixture *f, const char *needle, const char *const *args)
{
  DaemonOptions options = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_false (parse_args (&options, &error, args));
  g_assert_nonnull (error);
  if (strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" lacks \"%s\"", error->message, needle);
  daemon_options_clear (&options);
}

#define REFUSED(f, needle, ...) assert_refused ((f), (needle), (const char *const[]){ __VA_ARGS__, NULL })

static void
test_defaults (Fixture *f, gconstpointer data)
{
  DaemonOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *conf = hkp_test_write_file_path (f->dir, "empty.conf", "");
  g_autofree char *arg = g_strdup_printf ("--config=%s", conf);
  g_autofree char *http = NULL, *check = NULL;

  g_assert_true (PARSE (&o, &error, arg));
  g_assert_no_error (error);
  g_assert_cmpstr (o.plugin_dir, ==, HKP_DEFAULT_PLUGIN_DIR);
  g_assert_cmpstr (o.config_dir, ==, HKP_DEFAULT_CONFIG_DIR);
  g_assert_cmpstr (o.state_dir, ==, HKP_DEFAULT_STATE_DIR);
  g_assert_cmpint (o.bus_kind, ==, BUS_SYSTEM);
  g_assert_false (o.no_polkit);
  g_assert_null (o.http_token_file);
  http = listen_address_to_string (&o.http_listen);
  check = listen_address_to_string (&o.check_listen);
  g_assert_cmpstr (http, ==, "127.0.0.1:11380");
  g_assert_cmpstr (check, ==, "127.0.0.1:11381");
  g_assert_cmpfloat (o.drain_timeout_sec, ==, 60);
  g_assert_cmpfloat (o.health_interval_sec, ==, 30);
  g_assert_cmpuint (o.history_limit, ==, 100);
  g_assert_false (o.check_config);
  daemon_options_clear (&o);
}

static void
test_missing_config (Fixture *f, gconstpointer data)
{
  g_autofree char *arg = g_strdup_printf ("--config=%s", f->missing_config);

  /* A file named on the command line must exist; only the default one may be absent. */
  REFUSED (f, "absent.conf", arg);
}

static void
test_every_option (Fixture *f, gconstpointer data)
{
  DaemonOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *conf = hkp_test_write_file_path (f->dir, "empty.conf", "");
  g_autofree char *conf_arg = g_strdup_printf ("--config=%s", conf);
  g_autofree char *http = NULL, *check = NULL;

  g_assert_true (PARSE (&o, &error, conf_arg, "--plugin-dir=/p", "--config-dir=/c", "--state-dir=/s",
                        "--bus=unix:path=/tmp/bus", "--no-polkit", "--http-listen=[::1]:0",
                        "--http-token-file=/etc/token", "--check-listen=unix:/run/check.sock", "--drain-timeout=2.5",
                        "--health-interval=7", "--history-limit=12", "--check-config", "--check-socket-group=www-data",
                        "--check-proxy-secret-file=/etc/hkp-plugind/proxy-secret"));
  g_assert_no_error (error);
  g_assert_cmpstr (o.config_file, ==, conf);
  g_assert_cmpstr (o.config_dir, ==, "/c");
  g_assert_cmpstr (o.state_dir, ==, "/s");
  g_assert_cmpint (o.bus_kind, ==, BUS_ADDRESS);
  g_assert_cmpstr (o.bus_address, ==, "unix:path=/tmp/bus");
  g_assert_true (o.no_polkit);
  http = listen_address_to_string (&o.http_listen);
  check = listen_address_to_string (&o.check_listen);
  g_assert_cmpstr (http, ==, "[::1]:0");
  g_assert_cmpstr (check, ==, "unix:/run/check.sock");
  g_assert_cmpstr (o.http_token_file, ==, "/etc/token");
  g_assert_cmpfloat (o.drain_timeout_sec, ==, 2.5);
  g_assert_cmpfloat (o.health_interval_sec, ==, 7);
  g_assert_cmpuint (o.history_limit, ==, 12);
  g_assert_true (o.check_config);
  g_assert_cmpstr (o.check_socket_group, ==, "www-data");
  g_assert_cmpstr (o.check_proxy_secret_file, ==, "/etc/hkp-plugind/proxy-secret");
  daemon_options_clear (&o);
}

static void
test_bad_values (Fixture *f, gconstpointer data)
{
  REFUSED (f, "Unknown option --bogus", "--bogus");
  REFUSED (f, "--drain-timeout: invalid value \"abc\"", "--drain-timeout=abc");
  REFUSED (f, "--drain-timeout: invalid value \"0\"", "--drain-timeout=0");
  REFUSED (f, "--drain-timeout: invalid value \"-1\"", "--drain-timeout=-1");
  REFUSED (f, "--health-interval: invalid value \"5s\"", "--health-interval=5s");
  REFUSED (f, "--bus: invalid value \"sytem\"", "--bus=sytem");
  REFUSED (f, "--http-listen: invalid value \"localhost\"", "--http-listen=localhost");
  REFUSED (f, "the port must be a number from 0 to 65535", "--http-listen=127.0.0.1:70000");
  REFUSED (f, "the port must be a number from 0 to 65535", "--check-listen=127.0.0.1:");
  REFUSED (f, "an IPv6 host goes in brackets", "--check-listen=::1:80");
  REFUSED (f, "needs an absolute path", "--check-listen=unix:relative.sock");
  REFUSED (f, "--http-token-file: invalid value \"token\"", "--http-token-file=token");
  REFUSED (f, "--plugin-dir: invalid value \"\"", "--plugin-dir=");
  REFUSED (f, "--check-threads: invalid value \"many\"", "--check-threads=many");
  REFUSED (f, "--http-threads: invalid value \"65\": expected 0 (automatic) to 64 threads", "--http-threads=65");
  REFUSED (f, "--http-idle-timeout: invalid value \"0\"", "--http-idle-timeout=0");
  REFUSED (f, "--http-max-connections: invalid value \"0\": expected 1 to 65536 connections",
           "--http-max-connections=0");
  REFUSED (f, "--http-processes: invalid value \"17\": expected 1 to 16 processes", "--http-processes=17");
  REFUSED (f, "--trusted-proxies: invalid value \"10.0.0.0/8,bogus\": \"bogus\" is not an address",
           "--trusted-proxies=10.0.0.0/8,bogus");
  REFUSED (f, "TLS needs both http-tls-certificate and http-tls-key", "--http-tls-certificate=/etc/cert.pem");
  REFUSED (f, "--http-tls-key: invalid value \"key.pem\": expected an absolute file name", "--http-tls-key=key.pem");
  REFUSED (f, "--check-socket-group: invalid value \"no-such-group-here\": no group \"no-such-group-here\"",
           "--check-socket-group=no-such-group-here");
  REFUSED (f, "--check-proxy-secret-file: invalid value \"secret\": expected an absolute file name",
           "--check-proxy-secret-file=secret");
  REFUSED (f, "unexpected argument \"extra\"", "extra");
  REFUSED (f, "--history-limit: invalid value \"0\": expected 1 to 1000000 versions", "--history-limit=0");
  REFUSED (f, "--history-limit: invalid value \"lots\": expected 1 to 1000000 versions", "--history-limit=lots");
}

static void
test_config_file (Fixture *f, gconstpointer data)
{
  DaemonOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *conf = hkp_test_write_file_path (
    f->dir, "main.conf",
    "# comment\n[hkp-plugind]\nplugin-dir=/from/file\nconfig-dir=/conf/file\n"
    "drain-timeout=5\nno-polkit=true\ncheck-listen=none\nhistory-limit=7\ncolour=blue\n[Extra]\nx=1\n");
  g_autofree char *conf_arg = g_strdup_printf ("--config=%s", conf);

  /* The command line wins over the file; the file wins over the defaults. */
  g_assert_true (PARSE (&o, &error, conf_arg, "--plugin-dir=/from/cli"));
  g_assert_no_error (error);
  g_assert_cmpstr (o.plugin_dir, ==, "/from/cli");
  g_assert_cmpstr (o.config_dir, ==, "/conf/file");
  g_assert_cmpfloat (o.drain_timeout_sec, ==, 5);
  g_assert_true (o.no_polkit);
  g_assert_cmpint (o.check_listen.kind, ==, LISTEN_NONE);
  g_assert_cmpuint (o.history_limit, ==, 7);
  /* Unknown keys and groups are warned about, naming the file, and kept for --check-config. */
  g_assert_true (hkp_test_log_contains ("main.conf: unknown key \"colour\" in [hkp-plugind] ignored"));
  g_assert_true (hkp_test_log_contains ("main.conf: unknown group [Extra] ignored"));
  g_assert_cmpuint (o.config_warnings->len, ==, 2);
  daemon_options_clear (&o);
}

static void
test_config_file_bad_values (Fixture *f, gconstpointer data)
{
  g_autofree char *bad_timeout = hkp_test_write_file_path (f->dir, "t.conf", "[hkp-plugind]\ndrain-timeout=soon\n");
  g_autofree char *bad_bool = hkp_test_write_file_path (f->dir, "b.conf", "[hkp-plugind]\nno-polkit=maybe\n");
  g_autofree char *bad_syntax = hkp_test_write_file_path (f->dir, "s.conf", "[hkp-plugind\nplugin-dir=/x\n");
  g_autofree char *arg1 = g_strdup_printf ("--config=%s", bad_timeout);
  g_autofree char *arg2 = g_strdup_printf ("--config=%s", bad_bool);
  g_autofree char *arg3 = g_strdup_printf ("--config=%s", bad_syntax);
  g_autofree char *needle1 = g_strdup_printf ("%s: key \"drain-timeout\": invalid value \"soon\"", bad_timeout);
  g_autofree char *needle2 = g_strdup_printf ("%s: key \"no-polkit\": invalid value \"maybe\"", bad_bool);
  g_autofree char *needle3 = g_strdup_printf ("%s:", bad_syntax);

  REFUSED (f, needle1, arg1);
  REFUSED (f, needle2, arg2);
  REFUSED (f, needle3, arg3);
  /* A bad value in the file does not matter when the command line overrides it. */
  {
    DaemonOptions o = { 0 };
    g_autoptr (GError) error = NULL;
    g_assert_true (PARSE (&o, &error, arg1, "--drain-timeout=3"));
    g_assert_cmpfloat (o.drain_timeout_sec, ==, 3);
    daemon_options_clear (&o);
  }
}

static void
test_listen_addresses (Fixture *f, gconstpointer data)
{
  const struct {
    const char *in;
    const char *out;
  } good[] = {
    { "127.0.0.1:11380", "127.0.0.1:11380" },
    { "0.0.0.0:0", "0.0.0.0:0" },
    { "[::1]:80", "[::1]:80" },
    { "localhost:8080", "localhost:8080" },
    { "unix:/run/x.sock", "unix:/run/x.sock" },
    { "none", "none" },
  };
  const char *bad[] = { "", ":80", "host", "host:", "host:x", "host:-1", "[::1:80", "unix:", "[]:80", "h:99999" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      ListenAddress a = { 0 };
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL;
      g_assert_true (listen_address_parse (good[i].in, &a, &error));
      text = listen_address_to_string (&a);
      g_assert_cmpstr (text, ==, good[i].out);
      g_free (a.host);
      g_free (a.path);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      ListenAddress a = { 0 };
      g_autoptr (GError) error = NULL;
      if (listen_address_parse (bad[i], &a, &error))
        g_error ("\"%s\" was accepted", bad[i]);
      g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
  ADD ("/options/defaults", test_defaults);
  ADD ("/options/missing-config", test_missing_config);
  ADD ("/options/every-option", test_every_option);
  ADD ("/options/bad-values", test_bad_values);
  ADD ("/options/config-file", test_config_file);
  ADD ("/options/config-file-bad-values", test_config_file_bad_values);
  ADD ("/options/listen-addresses", test_listen_addresses);
#undef ADD
  return g_test_run ();
}
