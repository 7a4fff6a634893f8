/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The figures every Prometheus client library exports as process_*, for this process. */
typedef struct {
  gdouble cpu_seconds; /* user and system */
  guint64 resident_bytes;
  guint64 virtual_bytes;
  guint64 open_fds;
  guint64 max_fds; /* the soft RLIMIT_NOFILE */
  gdouble start_time_seconds; /* since the epoch */
} HttpProcessStats;

/* Reads this process's figures from /proc; FALSE (stats zeroed) if /proc cannot be read. */
gboolean http_process_stats_read (HttpProcessStats *stats);

G_END_DECLS
