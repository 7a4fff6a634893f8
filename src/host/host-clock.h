/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host's clock: monotonic nanoseconds, for deadlines and ticks between its threads (no GLib in the host). */

#include <stdint.h>
#include <time.h>

/* Returns the monotonic clock in nanoseconds. */
static inline uint64_t
host_now_nsec (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (uint64_t) now.tv_sec * 1000000000u + (uint64_t) now.tv_nsec;
}
