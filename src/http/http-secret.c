/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Secrets from root-only files (the bridge's token, the check endpoint's proxy secret), compared in constant time. */

#include "http-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_FILE_MAX 4096

/* Why st is not fit to hold a secret, or NULL. */
static char *
file_problem (const struct stat *st)
{
  if (!S_ISREG (st->st_mode))
    return g_strdup ("is not a regular file");
  if (st->st_uid != 0 && st->st_uid != geteuid ())
    return g_strdup_printf ("is owned by uid %u, not by root or the daemon's uid %u: chown root it",
                            (unsigned) st->st_uid, (unsigned) geteuid ());
  if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return g_strdup_printf ("is accessible to group or others (mode %04o): make it chmod 600",
                            (unsigned) (st->st_mode & 07777));
  return NULL;
}

char *
http_secret_read (const char *path, const char *what, GError **error)
{
  g_autofree char *contents = g_malloc0 (SECRET_FILE_MAX + 1);
  g_autofree char *problem = NULL;
  struct stat st;
  gssize length;
  int fd, saved;

  /* What is checked is what is read: one open file, not the name twice. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 || fstat (fd, &st) < 0)
    goto failed;
  problem = file_problem (&st);
  if (problem != NULL)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s %s %s", what, path, problem);
      return NULL;
    }
  length = read (fd, contents, SECRET_FILE_MAX);
  if (length < 0)
    goto failed;
  close (fd);
  g_strstrip (contents);
  if (contents[0] == '\0' || strchr (contents, '\n') != NULL || length == SECRET_FILE_MAX)
    {
      explicit_bzero (contents, SECRET_FILE_MAX);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s %s must hold one non-empty line", what, path);
      return NULL;
    }
  {
    char *secret = g_strdup (contents);
    explicit_bzero (contents, SECRET_FILE_MAX);
    return secret;
  }

failed:
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s %s: %s", what, path, g_strerror (saved));
  return NULL;
}

gboolean
http_secret_equal (const char *given, const char *expected)
{
  gsize given_length = strlen (given), expected_length = strlen (expected);
  guchar diff = given_length != expected_length;

  /* Every byte of expected is looked at, whatever given holds. */
  for (gsize i = 0; i < expected_length; i++)
    diff |= (guchar) expected[i] ^ (guchar) (i < given_length ? given[i] : 0);
  return diff == 0;
}

void
http_secret_free (char *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}
