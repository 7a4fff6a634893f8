/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Starting an hkp-plugin-host process and describing how one ended; private to hkp-host.c. */

#include <glib.h>

G_BEGIN_DECLS

/*
 * Starts program as "hkp-plugin-host PLUGIN" with sock as its fd 3, /dev/null
 * as 0–2, no other fd, environment (NULL: empty), default signal handling and
 * a session of its own.  The calling thread becomes its parent for
 * PR_SET_PDEATHSIG.  Stores its pid and a pidfd; FALSE with an error if it
 * could not be started.
 */
gboolean hkp_host_process_spawn (const char *program, const char *plugin_name, int sock, const char *const *environment,
                                 GPid *pid, int *pidfd, GError **error);

/* Describes a waitpid() status: "exited with status 3", "killed by signal 11 (SIGSEGV)"; caller frees. */
char *hkp_host_process_describe (int wait_status);

/* Describes a seccomp report: "system call socket is not allowed in the plugin host (seccomp)"; caller frees. */
char *hkp_host_process_describe_syscall (guint32 syscall_nr, guint32 arch);

G_END_DECLS
