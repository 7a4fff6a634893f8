/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long to wait for the agent to register before asking without it. */
#define AGENT_READY_TIMEOUT_MS 10000

void
ctl_agent_open (Ctl *ctl)
{
  int notify[2];
  pid_t pid;

  if (ctl->agent_pid > 0 || ctl->options.no_ask_password || ctl->options.host != NULL || geteuid () == 0 ||
      !isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))
    return;
  if (pipe2 (notify, O_CLOEXEC) < 0)
    return;

  pid = fork ();
  if (pid < 0)
    {
      close (notify[0]);
      close (notify[1]);
      return;
    }
  if (pid == 0)
    {
      char fd_text[16];

      /* The agent must not outlive us; its notify fd is the only one it inherits. */
      prctl (PR_SET_PDEATHSIG, SIGTERM);
      close (notify[0]);
      if (notify[1] != 3)
        {
          if (dup2 (notify[1], 3) < 0)
            _exit (127);
          close (notify[1]);
        }
      else
        fcntl (3, F_SETFD, 0);
      snprintf (fd_text, sizeof fd_text, "%d", 3);
      execlp ("pkttyagent", "pkttyagent", "--notify-fd", fd_text, "--fallback", (char *) NULL);
      _exit (127);
    }

  close (notify[1]);
  ctl->agent_pid = pid;
  /* The agent closes (or writes to) the fd once registered, and it is gone if the agent failed. */
  {
    struct pollfd wait_for = { .fd = notify[0], .events = POLLIN };
    while (poll (&wait_for, 1, AGENT_READY_TIMEOUT_MS) < 0 && errno == EINTR)
      ;
  }
  close (notify[0]);
}

void
ctl_agent_close (Ctl *ctl)
{
  if (ctl->agent_pid <= 0)
    return;
  kill (ctl->agent_pid, SIGTERM);
  kill (ctl->agent_pid, SIGCONT);
  while (waitpid (ctl->agent_pid, NULL, 0) < 0 && errno == EINTR)
    ;
  ctl->agent_pid = 0;
}
