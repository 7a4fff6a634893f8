/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-read-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
hkp_file_type_name (mode_t mode)
{
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  return "not a regular file";
}

/* Fills problem with errno, closing fd if it is open; returns NULL. */
static char *
fail_errno (int fd, HkpReadProblem *problem)
{
  problem->errno_value = errno;
  if (fd >= 0)
    close (fd);
  return NULL;
}

char *
hkp_read_regular_file (const char *path, gsize max_size, gsize *len, HkpReadProblem *problem)
{
  g_autoptr (GByteArray) bytes = NULL;
  struct stat st;
  int fd;

  *problem = (HkpReadProblem){ 0 };
  /* Look before opening: opening a FIFO would wait for a writer, and opening a device can have effects of its own. */
  if (stat (path, &st) != 0)
    return fail_errno (-1, problem);
  if (!S_ISREG (st.st_mode))
    {
      problem->mode = st.st_mode & S_IFMT;
      return NULL;
    }
  /* O_NONBLOCK: should a FIFO take the file's place meanwhile, open() still returns at once. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || fstat (fd, &st) != 0)
    return fail_errno (fd, problem);
  if (!S_ISREG (st.st_mode) || (guint64) st.st_size > max_size)
    {
      close (fd);
      if (!S_ISREG (st.st_mode))
        problem->mode = st.st_mode & S_IFMT;
      else
        problem->size = (guint64) st.st_size;
      return NULL;
    }
  bytes = g_byte_array_sized_new ((guint) st.st_size + 1);
  for (;;)
    {
      guint8 buffer[16384];
      ssize_t n = read (fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return fail_errno (fd, problem);
      if (n == 0)
        break;
      g_byte_array_append (bytes, buffer, (guint) n);
      /* The file may grow while we read it. */
      if (bytes->len > max_size)
        {
          close (fd);
          problem->size = bytes->len;
          return NULL;
        }
    }
  close (fd);
  if (len != NULL)
    *len = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&bytes), FALSE);
}
