/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* This process's CPU time, memory, file descriptors and start time, read from /proc as Prometheus clients do. */

#include "http-process-stats.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The boot time in seconds since the epoch ("btime" in /proc/stat), or 0. */
static guint64
boot_time (void)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL))
    return 0;
  line = strstr (text, "\nbtime ");
  return line != NULL ? g_ascii_strtoull (line + strlen ("\nbtime "), NULL, 10) : 0;
}

static guint64
count_open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint64 n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  /* The directory being read is an fd too, but not one the process holds otherwise. */
  return n > 0 ? n - 1 : 0;
}

gboolean
http_process_stats_read (HttpProcessStats *stats)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_name;
  struct rlimit limit;
  gdouble ticks = (gdouble) sysconf (_SC_CLK_TCK);
  gdouble page = (gdouble) sysconf (_SC_PAGESIZE);

  memset (stats, 0, sizeof *stats);
  /* The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'. */
  if (!g_file_get_contents ("/proc/self/stat", &text, NULL, NULL) || (after_name = strrchr (text, ')')) == NULL)
    return FALSE;
  fields = g_strsplit (after_name + 2, " ", -1);
  /* fields[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24. */
  if (g_strv_length (fields) < 22 || ticks <= 0)
    return FALSE;
  stats->cpu_seconds = (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / ticks;
  stats->start_time_seconds = boot_time () + g_ascii_strtod (fields[19], NULL) / ticks;
  stats->virtual_bytes = g_ascii_strtoull (fields[20], NULL, 10);
  stats->resident_bytes = (guint64) (g_ascii_strtod (fields[21], NULL) * page);
  stats->open_fds = count_open_fds ();
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    stats->max_fds = limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64) limit.rlim_cur;
  return TRUE;
}
