/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

/* Address space beyond the data limit for code, thread stacks and malloc arenas (reserved, mostly unused). */
#define ADDRESS_SPACE_SLACK_MB 512ull

/* ---- memory ------------------------------------------------------------------------------------------------------- */

/* Returns the value in kB of key ("VmData") in /proc/self/status, or -1. */
static long long
status_kb (const char *key)
{
  char buf[8192], needle[32];
  ssize_t n;
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  const char *line;

  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  snprintf (needle, sizeof needle, "\n%s:", key);
  line = strstr (buf, needle);
  return line != NULL ? strtoll (line + strlen (needle), NULL, 10) : -1;
}

static int
set_limit (int resource, const char *name, unsigned long long bytes, char *error, size_t error_size)
{
  struct rlimit limit = { .rlim_cur = bytes, .rlim_max = bytes };

  if (setrlimit (resource, &limit) < 0)
    {
      snprintf (error, error_size, "cannot set %s to %llu bytes: %s", name, bytes, strerror (errno));
      return -1;
    }
  return 0;
}

int
host_confine_memory (unsigned memory_max_mb, char *error, size_t error_size)
{
  unsigned long long max = (unsigned long long) memory_max_mb << 20;
  long long data_kb, size_kb;

  if (memory_max_mb == 0)
    return 0;
  data_kb = status_kb ("VmData");
  size_kb = status_kb ("VmSize");
  if (data_kb < 0 || size_kb < 0)
    {
      snprintf (error, error_size, "cannot read the memory use in /proc/self/status");
      return -1;
    }
  /* What is mapped already (under ASan: its shadow) is the host's, not the plugin's. */
  if (set_limit (RLIMIT_DATA, "RLIMIT_DATA", ((unsigned long long) data_kb << 10) + max, error, error_size) < 0)
    return -1;
  if (!HOST_SANITIZED &&
      set_limit (RLIMIT_AS, "RLIMIT_AS", ((unsigned long long) size_kb << 10) + max + (ADDRESS_SPACE_SLACK_MB << 20),
                 error, error_size) < 0)
    return -1;
  return 0;
}

/* ---- descriptors ---------------------------------------------------------------------------------------------------- */

int
host_confine_files (char *error, size_t error_size)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) < 0)
    {
      snprintf (error, error_size, "cannot read RLIMIT_NOFILE: %s", strerror (errno));
      return -1;
    }
  /* Soft and hard alike, as the memory limits. */
  if (limit.rlim_max > HOST_FILES_MAX)
    limit.rlim_max = HOST_FILES_MAX;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) < 0)
    {
      snprintf (error, error_size, "cannot set RLIMIT_NOFILE to %llu: %s", (unsigned long long) limit.rlim_max,
                strerror (errno));
      return -1;
    }
  return 0;
}

/* ---- the allow-list, in named groups as systemd's seccomp-util.c has them ---------------------------------------- */

typedef struct {
  const char *name;
  const char *const *syscalls;
} SyscallGroup;

/* What every threaded glibc process does: exit, signals, futexes, identity, scheduling. */
static const char *const group_default[] = { "arch_prctl",      "exit",
                                             "exit_group",      "futex",
                                             "get_robust_list", "set_robust_list",
                                             "getrandom",       "membarrier",
                                             "restart_syscall", "rseq",
                                             "rt_sigreturn",    "sched_yield",
                                             "set_tid_address", "sched_getaffinity",
                                             "sched_getparam",  "sched_getscheduler",
                                             "getcpu",          "getpid",
                                             "gettid",          "getppid",
                                             "getuid",          "geteuid",
                                             "getgid",          "getegid",
                                             "getresuid",       "getresgid",
                                             "getgroups",       "getpriority",
                                             "getrlimit",       "getrusage",
                                             "times",           "sysinfo",
                                             "uname",           "rt_sigprocmask",
                                             "rt_sigpending",   "rt_sigtimedwait",
                                             "rt_sigsuspend",   "sigaltstack",
                                             "pause",           NULL };
/* malloc and friends. */
static const char *const group_memory[] = { "brk",     "mmap",    "munmap", "mprotect", "mremap",
                                            "madvise", "mincore", "msync",  NULL };
/* Clocks and sleeping. */
static const char *const group_time[] = {
  "clock_gettime", "clock_getres",   "clock_nanosleep", "gettimeofday",    "nanosleep",
  "time",          "timerfd_create", "timerfd_settime", "timerfd_gettime", NULL
};
/* I/O on descriptors already open, and the pipes and eventfds GLib's main loop wakes itself with. */
static const char *const group_basic_io[] = {
  "read",      "readv",      "pread64",     "preadv",       "preadv2",  "write",        "writev",
  "pwrite64",  "pwritev",    "pwritev2",    "lseek",        "close",    "close_range",  "dup",
  "dup2",      "dup3",       "fsync",       "fdatasync",    "pipe",     "pipe2",        "eventfd",
  "eventfd2",  "poll",       "ppoll",       "select",       "pselect6", "epoll_create", "epoll_create1",
  "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", NULL
};
/* Messages on the one socket the host has (making, binding or connecting sockets stays out). */
static const char *const group_socket_io[] = { "sendmsg",     "recvmsg",  "sendto",     "recvfrom",
                                               "sendmmsg",    "recvmmsg", "getsockopt", "getsockname",
                                               "getpeername", "shutdown", NULL };
/* Looking at files (opening them is allowed read-only, below): ipfilter reads list files in init. */
static const char *const group_file_read[] = { "newfstatat", "fstat",      "stat",       "lstat",    "statx",
                                               "access",     "faccessat",  "faccessat2", "readlink", "readlinkat",
                                               "getdents",   "getdents64", "fstatfs",    "statfs",   "getcwd",
                                               "fadvise64",  NULL };
/* What the sanitizers need beyond that: LSan stops the threads with ptrace from a clone, then waits for it. */
static const char *const group_sanitizer[] = { "clone",
                                               "ptrace",
                                               "wait4",
                                               "waitid",
                                               "prctl",
                                               "kill",
                                               "tgkill",
                                               "tkill",
                                               "prlimit64",
                                               "sched_setaffinity",
                                               "process_vm_readv",
                                               NULL };

static const SyscallGroup groups[] = {
  { "@default", group_default },   { "@memory", group_memory },       { "@time", group_time },
  { "@basic-io", group_basic_io }, { "@socket-io", group_socket_io }, { "@file-read", group_file_read },
};

static int
allow (scmp_filter_ctx ctx, const char *name, unsigned n_args, const struct scmp_arg_cmp *args)
{
  int nr = seccomp_syscall_resolve_name (name);

  /* A call this architecture does not have needs no rule. */
  if (nr == __NR_SCMP_ERROR)
    return 0;
  return seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, nr, n_args, args);
}

static int
allow_group (scmp_filter_ctx ctx, const char *const *syscalls)
{
  for (const char *const *s = syscalls; *s != NULL; s++)
    if (allow (ctx, *s, 0, NULL) < 0)
      return -1;
  return 0;
}

/* The calls allowed only with some arguments; those about processes the sanitizers need unrestricted. */
static int
allow_narrowly (scmp_filter_ctx ctx, int sanitized)
{
  static const unsigned long ioctls[] = { TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX };
  static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
  static const char *const fcntl_names[] = { "fcntl", "fcntl64" }; /* fcntl64: 32-bit architectures */
  static const int fcntls[] = { F_DUPFD,      F_DUPFD_CLOEXEC, F_GETFD,    F_SETFD,     F_GETFL,     F_SETFL,
                                F_GETLK,      F_SETLK,         F_SETLKW,   F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
                                F_GETOWN,     F_GETOWN_EX,     F_GETSIG,   F_SETSIG,    F_GETLEASE,  F_GETPIPE_SZ,
                                F_SETPIPE_SZ, F_ADD_SEALS,     F_GET_SEALS };
  const scmp_datum_t pid = (scmp_datum_t) getpid ();
  const scmp_datum_t writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;
  int ok = 0;

  /*
   * fcntl for descriptors, locks, pipes and seals.  A signal on I/O goes to
   * this process or to none: F_SETOWN names this process or none, and
   * F_SETOWN_EX (a pointer) is out.  Anything else is a violation.
   */
  for (size_t i = 0; i < sizeof fcntls / sizeof fcntls[0]; i++)
    for (size_t n = 0; n < sizeof fcntl_names / sizeof fcntl_names[0]; n++)
      ok |= allow (ctx, fcntl_names[n], 1, (struct scmp_arg_cmp[]){ SCMP_A1 (SCMP_CMP_EQ, (scmp_datum_t) fcntls[i]) });
  for (size_t n = 0; n < sizeof fcntl_names / sizeof fcntl_names[0]; n++)
    {
      ok |= allow (ctx, fcntl_names[n], 2,
                   (struct scmp_arg_cmp[]){ SCMP_A1 (SCMP_CMP_EQ, F_SETOWN), SCMP_A2 (SCMP_CMP_EQ, pid) });
      ok |= allow (ctx, fcntl_names[n], 2,
                   (struct scmp_arg_cmp[]){ SCMP_A1 (SCMP_CMP_EQ, F_SETOWN), SCMP_A2 (SCMP_CMP_EQ, 0) });
    }
  /* Files open for reading only. */
  ok |= allow (ctx, "openat", 1, (struct scmp_arg_cmp[]){ SCMP_A2 (SCMP_CMP_MASKED_EQ, writing, 0) });
  ok |= allow (ctx, "open", 1, (struct scmp_arg_cmp[]){ SCMP_A1 (SCMP_CMP_MASKED_EQ, writing, 0) });
  for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0]; i++)
    ok |= allow (ctx, "ioctl", 1, (struct scmp_arg_cmp[]){ SCMP_A1 (SCMP_CMP_EQ, ioctls[i]) });
  if (sanitized)
    return ok < 0 ? -1 : allow_group (ctx, group_sanitizer);
  /* Threads, not processes. */
  ok |= allow (ctx, "clone", 1, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD) });
  /* Signals to this process only (abort() and raise() use them). */
  ok |= allow (ctx, "tgkill", 1, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_EQ, pid) });
  ok |= allow (ctx, "kill", 1, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_EQ, pid) });
  /* Reading its own limits, never raising them. */
  ok |= allow (ctx, "prlimit64", 2, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_EQ, 0), SCMP_A2 (SCMP_CMP_EQ, 0) });
  ok |= allow (ctx, "prlimit64", 2, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_EQ, pid), SCMP_A2 (SCMP_CMP_EQ, 0) });
  for (size_t i = 0; i < sizeof prctls / sizeof prctls[0]; i++)
    ok |= allow (ctx, "prctl", 1, (struct scmp_arg_cmp[]){ SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t) prctls[i]) });
  return ok < 0 ? -1 : 0;
}

/* ---- privileges ---------------------------------------------------------------------------------------------------- */

int
host_confine_capabilities (char *error, size_t error_size)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct held[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
  struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

  if (syscall (SYS_capget, &header, held) < 0)
    {
      snprintf (error, error_size, "cannot read the host's capabilities: %s", strerror (errno));
      return -1;
    }
  /* None held (the packaged unit's empty bounding set): nothing to drop, and its filter refuses capset anyway. */
  if (memcmp (held, none, sizeof held) == 0)
    return 0;
  /* Effective, permitted and inheritable alike (the ambient set follows); no_new_privs keeps an exec from more. */
  if (syscall (SYS_capset, &header, none) < 0)
    {
      snprintf (error, error_size, "cannot drop the host's capabilities: %s", strerror (errno));
      return -1;
    }
  return 0;
}

/* ---- reporting a violation ----------------------------------------------------------------------------------------- */

/*
 * The SIGSYS handler's only way to its channel and its record: a signal
 * handler has no other context.  Set once before the filter is installed.
 */
static HostChannel *violation_channel;
static uint8_t violation_record[HKP_HOST_RECORD_HEADER + 8];

static void
on_sigsys (int sig, siginfo_t *info, void *context)
{
  uint8_t record[sizeof violation_record];
  uint32_t nr = (uint32_t) info->si_syscall, arch = info->si_arch;
  struct sigaction dfl = { .sa_handler = SIG_DFL };

  /* Async-signal-safe throughout: a copy of the encoded template, the numbers patched in, one locked send. */
  memcpy (record, violation_record, sizeof record);
  for (int i = 0; i < 4; i++)
    {
      record[HKP_HOST_RECORD_HEADER + i] = (uint8_t) (nr >> (8 * i));
      record[HKP_HOST_RECORD_HEADER + 4 + i] = (uint8_t) (arch >> (8 * i));
    }
  host_channel_send_raw (violation_channel, record, sizeof record);
  /*
   * Die of SIGSYS itself, so the exit status says so too: setting its action
   * is what the filter kills the process for.  Where it can only refuse that
   * (guard_sigsys()), exit.
   */
  if (sigaction (SIGSYS, &dfl, NULL) == 0)
    syscall (SYS_tgkill, getpid (), syscall (SYS_gettid), SIGSYS);
  _exit (128 + SIGSYS);
}

static int
install_handler (HostChannel *channel, char *error, size_t error_size)
{
  HkpHostRecord template;
  HkpHostBuf buf = { 0 };
  struct sigaction action = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_NODEFER };

  hkp_host_record_init (&template, HKP_HOST_MSG_SECCOMP);
  if (hkp_host_record_encode (&buf, &template) < 0 || buf.len != sizeof violation_record)
    {
      hkp_host_buf_clear (&buf);
      snprintf (error, error_size, "cannot encode the seccomp report");
      return -1;
    }
  memcpy (violation_record, buf.data, buf.len);
  hkp_host_buf_clear (&buf);
  violation_channel = channel;
  sigemptyset (&action.sa_mask);
  if (sigaction (SIGSYS, &action, NULL) < 0)
    {
      snprintf (error, error_size, "cannot handle SIGSYS: %s", strerror (errno));
      return -1;
    }
  return 0;
}

/*
 * Signal handlers, but none for SIGSYS but ours (installed before the
 * filter): a plugin that caught SIGSYS would make refused calls merely
 * fail, unreported, and could probe the filter at leisure.  Setting a SIGSYS
 * action ends the process, by SIGSYS: that is how our own handler, once it
 * has reported the call, dies of it.  Where the filter cannot kill a whole
 * process, setting it is refused.  Reading the action is allowed.
 */
static int
guard_sigsys (scmp_filter_ctx ctx)
{
  const struct scmp_arg_cmp other[] = { SCMP_A0 (SCMP_CMP_NE, SIGSYS) };
  const struct scmp_arg_cmp query[] = { SCMP_A0 (SCMP_CMP_EQ, SIGSYS), SCMP_A1 (SCMP_CMP_EQ, 0) };
  const struct scmp_arg_cmp set[] = { SCMP_A0 (SCMP_CMP_EQ, SIGSYS), SCMP_A1 (SCMP_CMP_NE, 0) };
  int nr = SCMP_SYS (rt_sigaction);
  int r = seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, nr, 1, other);

  if (r == 0)
    r = seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, nr, 2, query);
  if (r == 0)
    {
      r = seccomp_rule_add_array (ctx, SCMP_ACT_KILL_PROCESS, nr, 2, set);
      /* Loaded through prctl (see below), a filter kills no whole process: the call is refused instead. */
      if (r == -EINVAL)
        r = seccomp_rule_add_array (ctx, SCMP_ACT_ERRNO (EPERM), nr, 2, set);
    }
  return r;
}

int
host_confine_seccomp (HostChannel *channel, char *error, size_t error_size)
{
  scmp_filter_ctx ctx;
  int r = 0;

  if (install_handler (channel, error, error_size) < 0)
    return -1;
  ctx = seccomp_init (SCMP_ACT_TRAP);
  if (ctx == NULL)
    {
      snprintf (error, error_size, "cannot create a seccomp filter");
      return -1;
    }
  /*
   * Other architectures' calls (int 0x80 on x86-64) are never made by a
   * well-behaved plugin.  Killing the whole process needs seccomp(), which a
   * filter around the daemon may refuse (libseccomp then loads through
   * prctl): the thread that made the call is killed then.
   */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (r == -EINVAL)
    r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_THREAD);
  if (r == 0)
    r = guard_sigsys (ctx);
  for (size_t i = 0; r == 0 && i < sizeof groups / sizeof groups[0]; i++)
    r = allow_group (ctx, groups[i].syscalls);
  if (r == 0)
    r = allow_narrowly (ctx, HOST_SANITIZED);
  /* glibc tries clone3 first and falls back to clone on ENOSYS; clone3's flags are out of a filter's sight. */
  if (r == 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (r == 0)
    r = seccomp_load (ctx);
  seccomp_release (ctx);
  if (r != 0)
    {
      snprintf (error, error_size, "cannot install the seccomp filter: %s", strerror (-r));
      return -1;
    }
  return 0;
}
