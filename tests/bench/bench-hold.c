/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Holds connections open against a server, for the benchmarks that measure
 * real clients beside them.
 *   bench-hold HOST:PORT N [--slow]
 * Opens N connections to an IPv4 HOST:PORT and holds them, idle.  With
 * --slow each sends the start of a request head and then a header line
 * every second, and those the server closed are opened again each second:
 * a slowloris.  Prints "held N" once all are open, then runs until its
 * standard input ends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#define HEAD_START "GET /plugins/status HTTP/1.1\r\nHost: slow\r\n"

static int
open_one (const struct sockaddr_in *sa, gboolean slow)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || connect (fd, (const struct sockaddr *) sa, sizeof *sa) < 0)
    {
      fprintf (stderr, "bench-hold: connect: %s\n", g_strerror (errno));
      exit (1);
    }
  if (slow && send (fd, HEAD_START, strlen (HEAD_START), MSG_NOSIGNAL) < 0)
    fprintf (stderr, "bench-hold: send: %s\n", g_strerror (errno));
  return fd;
}

/* TRUE if the server closed fd (reads its end, or an error, without waiting). */
static gboolean
closed_by_server (int fd)
{
  char buffer[512];
  gssize n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int
main (int argc, char **argv)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  struct rlimit limit;
  gboolean slow = argc == 4 && g_str_equal (argv[3], "--slow");
  const char *colon = argc >= 3 ? strrchr (argv[1], ':') : NULL;
  g_autofree char *host = NULL;
  g_autofree int *fds = NULL;
  guint n, reopened = 0;

  if (colon == NULL || (argc == 4 && !slow) || argc > 4)
    {
      fprintf (stderr, "usage: bench-hold HOST:PORT N [--slow]\n");
      return 2;
    }
  host = g_strndup (argv[1], (gsize) (colon - argv[1]));
  n = (guint) atoi (argv[2]);
  sa.sin_port = htons ((guint16) atoi (colon + 1));
  if (inet_pton (AF_INET, host, &sa.sin_addr) != 1)
    {
      fprintf (stderr, "bench-hold: %s is not an IPv4 address\n", host);
      return 2;
    }
  getrlimit (RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit (RLIMIT_NOFILE, &limit);

  fds = g_new (int, n);
  for (guint i = 0; i < n; i++)
    fds[i] = open_one (&sa, slow);
  printf ("held %u\n", n);
  fflush (stdout);

  for (;;)
    {
      struct pollfd in = { STDIN_FILENO, POLLIN, 0 };
      char byte;

      if (poll (&in, 1, 1000) > 0 && read (STDIN_FILENO, &byte, 1) <= 0)
        break;
      if (!slow)
        continue;
      for (guint i = 0; i < n; i++)
        {
          if (closed_by_server (fds[i]))
            {
              close (fds[i]);
              fds[i] = open_one (&sa, TRUE);
              reopened++;
            }
          else if (send (fds[i], "X-Slow: a\r\n", 11, MSG_NOSIGNAL) < 0)
            fprintf (stderr, "bench-hold: send: %s\n", g_strerror (errno));
        }
    }
  if (slow)
    fprintf (stderr, "bench-hold: opened %u closed connections again\n", reopened);
  return 0;
}
