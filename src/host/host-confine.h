/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host's confinement: memory limits and the system-call allow-list. */

#include <stddef.h>

#include "host-channel.h"

/* Built with AddressSanitizer (GCC or clang): the host then lets the sanitizer's needs through. */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_SANITIZED 1
#endif
#endif
#ifndef HOST_SANITIZED
#define HOST_SANITIZED 0
#endif

/*
 * Limits the memory the process may still map to memory_max_mb more than it
 * has now (RLIMIT_DATA; RLIMIT_AS too, with room for libraries and thread
 * stacks, except under ASan, whose shadow needs terabytes of address space).
 * Soft and hard limits alike, so the plugin cannot raise them.  0, or -1 with
 * a message in error.
 */
int host_confine_memory (unsigned memory_max_mb, char *error, size_t error_size);

/* The descriptors a host may have open: the usual soft limit of a Linux process. */
#define HOST_FILES_MAX 1024

/*
 * Limits the descriptors the process may have open to HOST_FILES_MAX (or
 * fewer if it has less), soft and hard: a plugin holds no more of the
 * kernel's per-user resources (epoll watches, pipe buffers) than that many
 * descriptors can.  0, or -1 with a message in error.
 */
int host_confine_files (char *error, size_t error_size);

/*
 * Gives up every capability the host holds, so a host of a root daemon
 * cannot read the memory of the daemon or of another host (all of them
 * non-dumpable) through /proc or ptrace.  0, or -1 with a message in error.
 */
int host_confine_capabilities (char *error, size_t error_size);

/*
 * Installs the system-call allow-list (libseccomp) for this process and the
 * threads it makes from now on.  A call outside it raises SIGSYS, whose
 * handler reports the call's number over channel and kills the process with
 * SIGSYS.  0, or -1 with a message in error.
 */
int host_confine_seccomp (HostChannel *channel, char *error, size_t error_size);
