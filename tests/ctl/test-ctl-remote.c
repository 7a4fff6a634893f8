/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl -H over real ssh: sd_bus_open_system_remote() runs
 * "ssh -xT -- HOST systemd-stdio-bridge"; here ssh reaches a real sshd
 * (Debian's openssh-server, started by ssh itself as its ProxyCommand, so
 * no port is taken) that logs root in with a key made for the test and runs
 * systemd-stdio-bridge on the test's private bus.  Skipped, saying why, when
 * that cannot run here.
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

typedef struct {
  char *dir;
  char *path; /* PATH with our ssh first */
} Ssh;

static const char *
why_not (void)
{
  if (geteuid () != 0)
    return "sshd -i must run as root to log root in";
  if (!g_file_test ("/usr/sbin/sshd", G_FILE_TEST_IS_EXECUTABLE))
    return "no /usr/sbin/sshd (Debian package openssh-server)";
  if (!g_file_test ("/usr/bin/ssh", G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test ("/usr/bin/ssh-keygen", G_FILE_TEST_IS_EXECUTABLE))
    return "no ssh or ssh-keygen (Debian package openssh-client)";
  if (!g_file_test ("/usr/bin/systemd-stdio-bridge", G_FILE_TEST_IS_EXECUTABLE))
    return "no /usr/bin/systemd-stdio-bridge (Debian package systemd)";
  return NULL;
}

static void
keygen (const char *file)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL,
                               (char *[]){ "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (char *) file, NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* A host key, a key for root, an sshd config and an ssh on PATH that reaches that sshd over a pipe. */
static void
ssh_setup (Ssh *ssh, CtlFixture *f)
{
  g_autofree char *host_key = NULL;
  g_autofree char *user_key = NULL;
  g_autofree char *host_pub = NULL;
  g_autofree char *user_pub = NULL;
  g_autofree char *config = NULL;
  g_autofree char *known = NULL;
  g_autofree char *wrapper = NULL;
  g_autofree char *ssh_path = NULL;
  g_autofree char *host_pub_file = NULL;
  g_autofree char *user_pub_file = NULL;
  g_autofree char *wrapper_file = NULL;

  ssh->dir = g_build_filename (f->tree.root, "ssh", NULL);
  g_assert_cmpint (g_mkdir_with_parents (ssh->dir, 0700), ==, 0);
  host_key = g_build_filename (ssh->dir, "host_key", NULL);
  user_key = g_build_filename (ssh->dir, "user_key", NULL);
  keygen (host_key);
  keygen (user_key);
  host_pub_file = g_strdup_printf ("%s.pub", host_key);
  user_pub_file = g_strdup_printf ("%s.pub", user_key);
  g_assert_true (g_file_get_contents (host_pub_file, &host_pub, NULL, NULL));
  g_assert_true (g_file_get_contents (user_pub_file, &user_pub, NULL, NULL));
  hkp_test_write_file (ssh->dir, "authorized_keys", user_pub);
  known = g_strdup_printf ("hkp-test %s", host_pub);
  hkp_test_write_file (ssh->dir, "known_hosts", known);
  /* On a real host the bridge's default is the system bus; here it is the test's bus. */
  config = g_strdup_printf ("HostKey %s/host_key\n"
                            "AuthorizedKeysFile %s/authorized_keys\n"
                            "PermitRootLogin prohibit-password\n"
                            "PasswordAuthentication no\n"
                            "KbdInteractiveAuthentication no\n"
                            "UsePAM no\n"
                            "StrictModes no\n"
                            "ForceCommand exec systemd-stdio-bridge --bus-path='%s'\n",
                            ssh->dir, ssh->dir, f->bus->address);
  hkp_test_write_file (ssh->dir, "sshd_config", config);
  ssh_path = g_strdup ("/usr/bin/ssh");
  wrapper = g_strdup_printf ("#!/bin/sh\n"
                             "exec %s -F none -i %s/user_key -o UserKnownHostsFile=%s/known_hosts "
                             "-o StrictHostKeyChecking=yes -o HostKeyAlias=hkp-test -o BatchMode=yes "
                             "-o 'ProxyCommand=/usr/sbin/sshd -i -f %s/sshd_config' \"$@\"\n",
                             ssh_path, ssh->dir, ssh->dir, ssh->dir);
  wrapper_file = hkp_test_write_file_path (ssh->dir, "ssh", wrapper);
  g_assert_cmpint (g_chmod (wrapper_file, 0755), ==, 0);
  ssh->path = g_strdup_printf ("PATH=%s:%s", ssh->dir, g_getenv ("PATH"));
  /* sshd's privilege separation directory, which the openssh-server service would make. */
  if (!g_file_test ("/run/sshd", G_FILE_TEST_IS_DIR))
    g_assert_cmpint (g_mkdir_with_parents ("/run/sshd", 0755), ==, 0);
}

static void
test_remote (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *examples = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "hkp-pluginctl-remote-examples.sh", NULL);
  g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
  g_autofree char *path_with_ctl = NULL;
  g_autofree char *script = NULL;
  Ssh ssh = { 0 };
  const char *reason = why_not ();

  if (reason != NULL)
    {
      g_printerr ("# skipped: %s\n", reason);
      g_test_skip (reason);
      return;
    }
  ctl_fixture_start (f, NULL);
  ssh_setup (&ssh, f);
  /* No system bus here: whatever works, works through ssh. */
  ctl_fixture_run (f, &run, -1,
                   (const char *const[]){ ssh.path, "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent", NULL }, NULL,
                   "-H", "root@hkp-test", "list", "--no-legend", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "alpha "));
  g_assert_nonnull (strstr (run.out, "\nratelimit "));
  ctl_fixture_run (f, &run, -1, (const char *const[]){ ssh.path, NULL }, NULL, "--host=root@hkp-test", "reload",
                   "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ReloadCount"), ==, 1);
  ctl_fixture_run (f, &run, -1, (const char *const[]){ ssh.path, NULL }, NULL, "-H", "root@hkp-test", "show", "nope",
                   NULL);
  ctl_assert_run (&run, 4, "No such plugin");

  /* The man page's remote example, as printed. */
  g_assert_true (g_file_get_contents (examples, &script, NULL, NULL));
  g_assert_nonnull (strstr (script, " -H "));
  path_with_ctl = g_strdup_printf ("PATH=%s:%s:%s", ssh.dir, dir, g_getenv ("PATH"));
  {
    g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_autoptr (GSubprocess) process = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *out = NULL;
    g_subprocess_launcher_setenv (launcher, "PATH", path_with_ctl + strlen ("PATH="), TRUE);
    process = g_subprocess_launcher_spawn (launcher, &error, "bash", "-e", examples, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
    g_assert_no_error (error);
    g_test_message ("%s", out);
    g_assert_true (g_subprocess_get_successful (process));
    g_assert_nonnull (strstr (out, "ratelimit"));
  }
  g_free (ssh.dir);
  g_free (ssh.path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ctl/remote", CtlFixture, NULL, ctl_fixture_setup, test_remote, ctl_fixture_teardown);
  return g_test_run ();
}
