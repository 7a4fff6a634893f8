/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define MESSAGE_MAX_BYTES 16384

struct HostLog {
  HostChannel *channel;
  int read_fd;
  pthread_t thread;
  int show_debug;
};

void
host_log_send (HostChannel *channel, int priority, const char *domain, const char *message, size_t len)
{
  HkpHostRecord record;

  hkp_host_record_init (&record, HKP_HOST_MSG_LOG);
  record.nums[0] = (uint32_t) (priority < 0 ? 0 : priority > 7 ? 7 : priority);
  record.strs[0] = hkp_host_string (domain);
  record.strs[1] = (HkpHostString){ message, (uint32_t) (len > MESSAGE_MAX_BYTES ? MESSAGE_MAX_BYTES : len) };
  /* A message with a NUL inside cannot be encoded; cut it there. */
  if (memchr (message, '\0', record.strs[1].len) != NULL)
    record.strs[1].len = (uint32_t) strlen (message);
  host_channel_send (channel, &record);
}

/* Sends one line of output, unless empty; "<N>" in front sets its priority as sd-daemon(3) describes, else it
 * is a warning. */
static void
send_line (HostLog *log, const char *line, size_t len)
{
  int priority = LOG_WARNING;

  if (len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>')
    {
      priority = line[1] - '0';
      line += 3;
      len -= 3;
    }
  if (len > 0 && line[len - 1] == '\r')
    len--;
  /* An empty line says nothing in a log (sanitizer reports are full of them). */
  if (len > 0)
    host_log_send (log->channel, priority, NULL, line, len);
}

static void *
read_output (void *data)
{
  HostLog *log = data;
  char buf[LINE_MAX_BYTES];
  size_t len = 0;

  pthread_setname_np (pthread_self (), "log");
  for (;;)
    {
      ssize_t n = read (log->read_fd, buf + len, sizeof buf - len);
      char *newline;
      size_t start = 0;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t) n;
      while ((newline = memchr (buf + start, '\n', len - start)) != NULL)
        {
          send_line (log, buf + start, (size_t) (newline - (buf + start)));
          start = (size_t) (newline - buf) + 1;
        }
      memmove (buf, buf + start, len - start);
      len -= start;
      /* A line longer than the buffer goes out in pieces. */
      if (len == sizeof buf)
        {
          send_line (log, buf, len);
          len = 0;
        }
    }
  if (len > 0)
    send_line (log, buf, len);
  return NULL;
}

HostLog *
host_log_start (HostChannel *channel, size_t stack_size)
{
  HostLog *log = calloc (1, sizeof *log);
  pthread_attr_t attr;
  int fds[2];
  int err;

  if (log == NULL)
    return NULL;
  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      free (log);
      return NULL;
    }
  /* dup2 leaves 1 and 2 without O_CLOEXEC, as stdout and stderr should be. */
  if (dup2 (fds[1], STDOUT_FILENO) < 0 || dup2 (fds[1], STDERR_FILENO) < 0)
    {
      err = errno;
      close (fds[0]);
      close (fds[1]);
      free (log);
      errno = err;
      return NULL;
    }
  close (fds[1]);
  log->channel = channel;
  log->read_fd = fds[0];
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, stack_size);
  err = pthread_create (&log->thread, &attr, read_output, log);
  pthread_attr_destroy (&attr);
  if (err != 0)
    {
      close (fds[0]);
      free (log);
      errno = err;
      return NULL;
    }
  return log;
}

void
host_log_finish (HostLog *log)
{
  close (STDOUT_FILENO);
  close (STDERR_FILENO);
  pthread_join (log->thread, NULL);
  close (log->read_fd);
  free (log);
}

/* ---- GLib ------------------------------------------------------------------------------------------------------- */

/* GLib's GLogField and level flags, declared here so the host itself need not link GLib. */
typedef struct {
  const char *key;
  const void *value;
  ssize_t length;
} GlibLogField;

enum {
  GLIB_LEVEL_ERROR = 1 << 2,
  GLIB_LEVEL_CRITICAL = 1 << 3,
  GLIB_LEVEL_WARNING = 1 << 4,
  GLIB_LEVEL_MESSAGE = 1 << 5,
  GLIB_LEVEL_INFO = 1 << 6,
  GLIB_LEVEL_DEBUG = 1 << 7,
  GLIB_WRITER_HANDLED = 1,
};

typedef int (*GlibWriterFunc) (int level, const GlibLogField *fields, size_t n_fields, void *user_data);
typedef void (*GlibSetWriterFunc) (GlibWriterFunc func, void *user_data, void (*user_data_free) (void *));

static int
glib_priority (int level)
{
  if (level & (GLIB_LEVEL_ERROR | GLIB_LEVEL_CRITICAL))
    return LOG_ERR;
  if (level & GLIB_LEVEL_WARNING)
    return LOG_WARNING;
  if (level & GLIB_LEVEL_MESSAGE)
    return LOG_NOTICE;
  if (level & GLIB_LEVEL_INFO)
    return LOG_INFO;
  return LOG_DEBUG;
}

static int
glib_writer (int level, const GlibLogField *fields, size_t n_fields, void *user_data)
{
  HostLog *log = user_data;
  const char *domain = NULL, *message = "";
  size_t len = 0;

  if ((level & (GLIB_LEVEL_INFO | GLIB_LEVEL_DEBUG)) && !log->show_debug)
    return GLIB_WRITER_HANDLED;
  for (size_t i = 0; i < n_fields; i++)
    {
      if (strcmp (fields[i].key, "MESSAGE") == 0 && fields[i].value != NULL)
        {
          message = fields[i].value;
          len = fields[i].length < 0 ? strlen (message) : (size_t) fields[i].length;
        }
      else if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
        domain = fields[i].value;
    }
  host_log_send (log->channel, glib_priority (level), domain, message, len);
  return GLIB_WRITER_HANDLED;
}

void
host_log_hook_glib (HostLog *log, void *module)
{
  GlibSetWriterFunc set_writer;

  *(void **) &set_writer = dlsym (module, "g_log_set_writer_func");
  if (set_writer == NULL)
    return;
  log->show_debug = getenv ("G_MESSAGES_DEBUG") != NULL;
  set_writer (glib_writer, log, NULL);
}
