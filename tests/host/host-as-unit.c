/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs the plugin host as the packaged unit starts it (systemd/hkp-plugind.service.in):
 * no capabilities at all (CapabilityBoundingSet= empty), no new privileges, and capset
 * and seccomp refused with EPERM (SystemCallFilter=@system-service ~@privileged,
 * SystemCallErrorNumber=EPERM).
 * The daemon starts this in place of the host; it becomes the host (same pid, args, fds).
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

int
main (int argc, char **argv)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
  scmp_filter_ctx ctx;

  for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
    prctl (PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (syscall (SYS_capset, &header, none) < 0 || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
      perror ("host-as-unit: dropping privileges");
      return 2;
    }
  ctx = seccomp_init (SCMP_ACT_ALLOW);
  /* seccomp() is in no group of @system-service: libseccomp falls back to prctl(PR_SET_SECCOMP), in @process. */
  if (ctx == NULL || seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (capset), 0) < 0 ||
      seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (seccomp), 0) < 0 || seccomp_load (ctx) < 0)
    {
      fprintf (stderr, "host-as-unit: cannot install the filter\n");
      return 2;
    }
  seccomp_release (ctx);
  execv (HKP_PLUGIN_HOST_PATH, argv);
  perror ("host-as-unit: " HKP_PLUGIN_HOST_PATH);
  return 2;
}
