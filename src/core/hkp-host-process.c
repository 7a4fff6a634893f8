/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np, sigabbrev_np */
#define G_LOG_DOMAIN "hkp-host"

#include "hkp-host-process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "hkp-error.h"

#define SOCKET_FD 3

gboolean
hkp_host_process_spawn (const char *program, const char *plugin_name, int sock, const char *const *environment,
                        GPid *pid, int *pidfd, GError **error)
{
  static const char *const no_environment[] = { NULL };
  const char *argv[] = { "hkp-plugin-host", plugin_name, NULL };
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t none, all;
  pid_t child;
  int r;

  /* The child's fds 0–3 are set up by number: the socket must not be one of them already. */
  g_return_val_if_fail (sock > SOCKET_FD, FALSE);
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen (&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, sock, SOCKET_FD);
  posix_spawn_file_actions_addclosefrom_np (&actions, SOCKET_FD + 1);
  posix_spawnattr_init (&attr);
  sigemptyset (&none);
  sigfillset (&all);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &all);
  /* A session of its own: a terminal's Ctrl-C reaches the daemon, which stops its hosts in order. */
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  r = posix_spawn (&child, program, &actions, &attr, (char *const *) argv,
                   (char *const *) (environment != NULL ? environment : no_environment));
  posix_spawn_file_actions_destroy (&actions);
  posix_spawnattr_destroy (&attr);
  if (r != 0)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot start plugin host %s: %s", program, g_strerror (r));
      return FALSE;
    }
  *pid = child;
  /* Ours and not yet reaped, so the pid cannot have been reused. */
  *pidfd = pidfd_open (child, 0);
  if (*pidfd < 0)
    {
      int saved = errno;
      kill (child, SIGKILL);
      waitpid (child, NULL, 0);
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot watch plugin host %d: %s", child, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

char *
hkp_host_process_describe (int wait_status)
{
  if (WIFEXITED (wait_status))
    return g_strdup_printf ("exited with status %d", WEXITSTATUS (wait_status));
  if (WIFSIGNALED (wait_status))
    {
      int sig = WTERMSIG (wait_status);
      const char *abbrev = sigabbrev_np (sig);
      if (sig == SIGSYS)
        return g_strdup_printf ("killed by signal %d (SIGSYS): it made a system call not allowed in the plugin host "
                                "(seccomp)",
                                sig);
      return abbrev != NULL ? g_strdup_printf ("killed by signal %d (SIG%s)", sig, abbrev)
                            : g_strdup_printf ("killed by signal %d", sig);
    }
  return g_strdup_printf ("ended with wait status %d", wait_status);
}

char *
hkp_host_process_describe_syscall (guint32 syscall_nr, guint32 arch)
{
  char *name = seccomp_syscall_resolve_num_arch (arch, (int) syscall_nr);
  char *why;

  if (name != NULL)
    why = g_strdup_printf ("system call %s is not allowed in the plugin host (seccomp)", name);
  else
    why = g_strdup_printf ("system call %u is not allowed in the plugin host (seccomp)", syscall_nr);
  free (name);
  return why;
}
