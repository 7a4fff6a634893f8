/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check-config: hkp-plugind --check-config on this machine, its verdict passed on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

int
ctl_verb_check_config (Ctl *ctl, int argc, char **argv)
{
  /* $HKP_PLUGIND names another daemon binary (a build tree's, say). */
  const char *daemon = g_getenv ("HKP_PLUGIND");
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  pid_t pid;
  int status;

  if (ctl->options.host != NULL || ctl->options.address != NULL)
    return ctl_usage_error ("check-config reads this machine's files: run it on the daemon's machine, without "
                            "--host or --address");
  if (daemon == NULL || daemon[0] == '\0')
    daemon = HKP_PLUGIND_PATH;
  g_ptr_array_add (args, (char *) daemon);
  g_ptr_array_add (args, "--check-config");
  /* What follows "--" goes to hkp-plugind as it is: --config=FILE, --config-dir=DIR, … */
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);

  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    return ctl_fail (CTL_EXIT_FAILURE, "Failed to run %s: %s", daemon, g_strerror (errno));
  if (pid == 0)
    {
      execv (daemon, (char **) args->pdata);
      fprintf (stderr, "Failed to run %s: %s\n", daemon, g_strerror (errno));
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return ctl_fail (CTL_EXIT_FAILURE, "Failed to wait for %s: %s", daemon, g_strerror (errno));
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return CTL_EXIT_SUCCESS;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 2)
    return CTL_EXIT_USAGE;
  return CTL_EXIT_FAILURE;
}
