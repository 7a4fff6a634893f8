/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge against hostile clients, over raw sockets: requests cut short
 * and closed are freed at once (by the daemon and by its worker processes);
 * a flood of slow-header connections locks nobody out; a head that takes
 * too long is closed; connections whose answers are never read lock nobody
 * out; framing that could be read two ways is answered 400 with nothing
 * run; and a second daemon cannot share the bridge's address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge-fixture.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define HALF_REQUESTS 1000
#define FLOOD 1500

/* A blocking TCP connection to "127.0.0.1:PORT" (fails the test otherwise). */
static int
raw_connect (const char *address)
{
  const char *colon = strrchr (address, ':');
  struct sockaddr_in sa = { .sin_family = AF_INET };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_nonnull (colon);
  g_assert_cmpint (fd, >=, 0);
  sa.sin_port = htons ((guint16) g_ascii_strtoull (colon + 1, NULL, 10));
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    g_error ("connect to %s: %s", address, g_strerror (errno));
  return fd;
}

static void
send_all (int fd, const char *text)
{
  gsize length = strlen (text);

  g_assert_cmpint (send (fd, text, length, MSG_NOSIGNAL), ==, (gssize) length);
}

/* Sends the start of a request of one kind or another, then closes (kind 5: with a reset). */
static void
half_request (BridgeFixture *f, guint kind)
{
  g_autofree char *request = NULL;
  int fd = raw_connect (f->address);

  switch (kind)
    {
    case 0:
      request = g_strdup ("GET /plugins/sta");
      break;
    case 1:
      request = g_strdup ("GET /plugins/status HTTP/1.1\r\nHo");
      break;
    case 2:
      /* Every header line, but not the empty line that ends the head. */
      request = g_strdup_printf ("GET /livez HTTP/1.1\r\nHost: %s\r\n", f->address);
      break;
    case 3:
      request = g_strdup_printf ("PUT /plugins/config?plugin=beta HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " TOKEN
                                 "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"enabled\"",
                                 f->address);
      break;
    case 4:
      request = g_strdup_printf ("POST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " TOKEN
                                 "\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
                                 f->address);
      break;
    default:
      {
        struct linger reset = { 1, 0 };
        request = g_strdup ("GET /plugins/status HTTP/1.1\r\nHost: x\r\n");
        g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), ==, 0);
      }
      break;
    }
  send_all (fd, request);
  close (fd);
}

/* Asserts GET path on a new connection is answered 200. */
static void
assert_answered (BridgeFixture *f, const char *path)
{
  g_autoptr (HkpTestHttp) http = bridge_connect_raw (f);
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (GError) error = NULL;

  if (!hkp_test_http_request (http, "GET", path, NULL, NULL, &r, &error))
    g_error ("GET %s on a new connection: %s", path, error != NULL ? error->message : "no answer");
  g_assert_cmpuint (r.status, ==, 200);
}

/* Waits until process pid holds no more than n file descriptors: it notices each close on its own threads. */
static void
wait_fds_at_most (GPid pid, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  guint held;

  while ((held = hkp_test_count_fds (pid)) > n && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  if (held > n)
    g_error ("process %d holds %u file descriptors, %u before the test's connections", (int) pid, held, n);
}

/* 1,000 requests cut short leave every process serving the bridge as it was, and /livez answers throughout. */
static void
run_half_requests (BridgeFixture *f, const GPid *pids, guint n_pids)
{
  guint before[4];

  g_assert_cmpuint (n_pids, <=, G_N_ELEMENTS (before));
  assert_answered (f, "/livez");
  for (guint p = 0; p < n_pids; p++)
    before[p] = hkp_test_count_fds (pids[p]);
  for (guint i = 0; i < HALF_REQUESTS; i++)
    {
      half_request (f, i % 6);
      if (i % 100 == 99)
        assert_answered (f, "/livez");
    }
  for (guint p = 0; p < n_pids; p++)
    wait_fds_at_most (pids[p], before[p]);
  /* Nothing cut short ran: the reload's and the config's bodies never came whole. */
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
}

static void
test_half_requests_freed (BridgeFixture *f, gconstpointer data)
{
  GPid pid;

  bridge_start (f);
  pid = hkp_test_daemon_get_pid (f->daemon);
  run_half_requests (f, &pid, 1);
}

static void
test_half_requests_freed_by_workers (BridgeFixture *f, gconstpointer data)
{
  GPid pids[2];
  const char *line;
  gint index;

  bridge_start_with (f, (const char *const[]){ "--http-processes=2", NULL });
  index = hkp_test_daemon_wait_line (f->daemon, "HTTP worker 1 ready (pid ");
  line = f->daemon->lines->pdata[index];
  pids[0] = hkp_test_daemon_get_pid (f->daemon);
  g_assert_cmpint (sscanf (strstr (line, "(pid "), "(pid %d)", &pids[1]), ==, 1);
  run_half_requests (f, pids, 2);
}

/* Connections that each sent part of a request and wait. */
typedef struct {
  int *fds;
  guint n;
} Flood;

/* Part of a request head; a whole head and the first byte of a body it announces. */
#define FLOOD_HEAD "GET /plugins/status HTTP/1.1\r\nHost: slow\r\nX-Slow: "
#define FLOOD_BODY "GET /livez HTTP/1.1\r\nHost: slow\r\nContent-Length: 60000\r\n\r\nx"

static void
flood_open (Flood *flood, const char *address, guint n, const char *sent)
{
  flood->fds = g_new (int, n);
  flood->n = n;
  for (guint i = 0; i < n; i++)
    {
      flood->fds[i] = raw_connect (address);
      send_all (flood->fds[i], sent);
    }
}

/* How many of the flood's connections the server has closed. */
static guint
flood_closed (Flood *flood)
{
  g_autofree struct pollfd *polled = g_new0 (struct pollfd, flood->n);
  guint closed = 0;

  for (guint i = 0; i < flood->n; i++)
    polled[i] = (struct pollfd){ .fd = flood->fds[i], .events = POLLIN };
  g_assert_cmpint (poll (polled, flood->n, 0), >=, 0);
  for (guint i = 0; i < flood->n; i++)
    if (polled[i].revents != 0)
      closed++;
  return closed;
}

static void
flood_close (Flood *flood)
{
  struct linger reset = { 1, 0 };

  /* A reset leaves no TIME_WAIT behind to crowd the other tests' ports. */
  for (guint i = 0; i < flood->n; i++)
    {
      setsockopt (flood->fds[i], SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close (flood->fds[i]);
    }
  g_free (flood->fds);
}

/*
 * 1,500 slow connections against the 1,024 the bridge holds, each a head
 * or a body still arriving: each new one past the limit closes the
 * longest-idle, so /livez and real reads on new connections are answered,
 * promptly, while the flood holds every other slot.
 */
static void
test_slowloris_flood (BridgeFixture *f, gconstpointer data)
{
  const char *sent = data;
  Flood flood;
  guint held;

  g_assert_cmpuint (hkp_test_raise_fd_limit (), >, FLOOD + 100);
  bridge_start_with (f, (const char *const[]){ "--http-max-connections=1024", NULL });
  flood_open (&flood, f->address, FLOOD, sent);
  hkp_test_daemon_wait_line (f->daemon, "HTTP bridge: 1024 connections held, the most it takes");
  /*
   * The bridge is full of the flood (the head timeout, 10 s, is far off).  Its fds, counted from /proc
   * while it closes some and accepts others, may be a few short.
   */
  held = hkp_test_count_fds (hkp_test_daemon_get_pid (f->daemon));
  g_assert_cmpuint (held, >=, 1000);
  for (guint i = 0; i < 20; i++)
    {
      gint64 start = g_get_monotonic_time ();

      assert_answered (f, i % 2 == 0 ? "/livez" : "/plugins/status");
      /* A bound with a wide margin: on an idle machine this takes about a millisecond. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
    }
  /* The first of them, at least, took the slot of the oldest of the flood. */
  g_assert_cmpuint (flood_closed (&flood), >, FLOOD - 1024);
  flood_close (&flood);
}

/* A head still arriving after the head timeout is closed, however steadily it trickles. */
static void
test_slow_head_closed (BridgeFixture *f, gconstpointer data)
{
  int fd;
  gint64 start;
  struct pollfd p;

  /* The head timeout is 10 s, or the idle timeout if shorter. */
  bridge_start_with (f, (const char *const[]){ "--http-idle-timeout=2", NULL });
  fd = raw_connect (f->address);
  start = g_get_monotonic_time ();
  send_all (fd, "GET /plugins/status HTTP/1.1\r\n");
  p = (struct pollfd){ .fd = fd, .events = POLLIN };
  /* A header line every 200 ms, until the server closes. */
  for (guint i = 0; poll (&p, 1, 200) == 0; i++)
    {
      g_autofree char *line = g_strdup_printf ("X-Slow-%u: a\r\n", i);
      g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
      send_all (fd, line);
    }
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  {
    char byte;
    g_assert_cmpint (recv (fd, &byte, 1, 0), ==, 0); /* closed without an answer */
  }
  close (fd);
}

/* Requests pipelined on each connection: their answers (a large config each) fill any socket buffer. */
#define UNREAD_REQUESTS 8
#define UNREAD_CONNECTIONS 16
/* Room for them all and the test's own: whether one makes room for another is not what is looked at. */
#define UNREAD_MAX_CONNECTIONS 24

/*
 * Connections that ask for more than the socket buffers hold and never read
 * their answers: each counted as being answered, which is never cut and
 * never makes room at the limit, so at the limit every new connection was
 * refused, /livez included, for as long as the client liked, each pinning
 * its answer's memory.  Such a connection is now closed after the idle
 * timeout without progress (and may make room at the limit meanwhile).
 */
static void
test_unread_answers_closed (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GString) pipelined = g_string_new (NULL);
  int small = 1024;
  int fds[UNREAD_CONNECTIONS];
  GPid pid;
  guint before;

  /* Each answer about 900 KiB: two fill what any socket takes. */
  hkp_test_tree_write_large_plugins (&f->tree, "large", 1, 900 * 1024);
  bridge_start_with (f,
                     (const char *const[]){ "--http-max-connections=" G_STRINGIFY (UNREAD_MAX_CONNECTIONS),
                                            "--http-idle-timeout=2", NULL });
  for (guint i = 0; i < UNREAD_REQUESTS; i++)
    g_string_append_printf (pipelined, "GET /plugins/config?plugin=large00 HTTP/1.1\r\nHost: %s\r\n\r\n", f->address);
  pid = hkp_test_daemon_get_pid (f->daemon);
  before = hkp_test_count_fds (pid);
  for (guint i = 0; i < UNREAD_CONNECTIONS; i++)
    {
      const char *colon = strrchr (f->address, ':');
      struct sockaddr_in sa = { .sin_family = AF_INET };

      /* A receive window that stays nearly shut, as a client's that never reads. */
      fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (setsockopt (fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), ==, 0);
      sa.sin_port = htons ((guint16) g_ascii_strtoull (colon + 1, NULL, 10));
      sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      g_assert_cmpint (connect (fds[i], (struct sockaddr *) &sa, sizeof sa), ==, 0);
      send_all (fds[i], pipelined->str);
    }
  /* Every connection held; then, their answers stalled past the idle timeout, every one of them closed. */
  {
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

    while (hkp_test_count_fds (pid) < before + UNREAD_CONNECTIONS && g_get_monotonic_time () < deadline)
      g_usleep (20 * 1000);
    g_assert_cmpuint (hkp_test_count_fds (pid), >=, before + UNREAD_CONNECTIONS);
  }
  wait_fds_at_most (pid, before);
  for (guint i = 0; i < 4; i++)
    assert_answered (f, i % 2 == 0 ? "/livez" : "/plugins/status");
  for (guint i = 0; i < UNREAD_CONNECTIONS; i++)
    {
      struct linger reset = { 1, 0 };
      setsockopt (fds[i], SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close (fds[i]);
    }
}

/* The limit of the test below; as many threads, so that the idle connections are spread over them. */
#define SPREAD_MAX_CONNECTIONS 8
#define SPREAD_ROUNDS 24

/* A new connection that asks for /livez, answered; the caller frees it. */
static HkpTestHttp *
connect_and_ask (BridgeFixture *f, guint round)
{
  HkpTestHttp *http = bridge_connect_raw (f);
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (GError) error = NULL;

  if (!hkp_test_http_request (http, "GET", "/livez", NULL, NULL, &r, &error))
    g_error ("GET /livez on a new connection, round %u: %s", round, error != NULL ? error->message : "no answer");
  g_assert_cmpuint (r.status, ==, 200);
  return http;
}

/*
 * At the limit, a new connection accepted by a thread that held none of the
 * idle ones was refused: each thread looked only at its own.  Now another
 * thread closes one of its idle connections to make room.  Each round, the
 * limit is held by idle connections on whichever threads accepted them, and
 * a new connection comes, is answered, and goes.
 */
static void
test_limit_spread_over_threads (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) idle = g_ptr_array_new_with_free_func ((GDestroyNotify) hkp_test_http_free);
  GPid pid;
  guint before, closed = 0;

  bridge_start_with (f,
                     (const char *const[]){ "--http-max-connections=" G_STRINGIFY (SPREAD_MAX_CONNECTIONS),
                                            "--http-threads=" G_STRINGIFY (SPREAD_MAX_CONNECTIONS),
                                            "--http-idle-timeout=600", NULL });
  pid = hkp_test_daemon_get_pid (f->daemon);
  before = hkp_test_count_fds (pid);
  for (guint round = 0; round < SPREAD_ROUNDS; round++)
    {
      gint64 start;

      /* The limit held again: one idle connection more for each the server let go. */
      while (hkp_test_count_fds (pid) < before + SPREAD_MAX_CONNECTIONS)
        g_ptr_array_add (idle, connect_and_ask (f, round));
      start = g_get_monotonic_time ();
      hkp_test_http_free (connect_and_ask (f, round));
      /* Long before the idle timeout; on an idle machine this takes about a millisecond. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      /*
       * The server saw the new one go, and any idle one it closed for it (none
       * if the new one went before another thread could make room for it).
       */
      wait_fds_at_most (pid, before + SPREAD_MAX_CONNECTIONS);
    }
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "refusing new ones"), <, 0);
  /* The room came from idle connections. */
  for (guint i = 0; i < idle->len; i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };

      if (!hkp_test_http_request (g_ptr_array_index (idle, i), "GET", "/livez", NULL, NULL, &r, NULL))
        closed++;
    }
  g_assert_cmpuint (closed, >, 0);
}

/* A limit of 1, and 8 more admitted over it while the others make room (BUSY_OVER in all); more threads. */
#define BUSY_THREADS 16
#define BUSY_OVER 9

/*
 * Connections admitted over the limit while every connection was being
 * answered: none could make room then.  Once answered they are idle, and
 * were held, over the limit, until the idle timeout: nothing asked the
 * threads that hold them again, and a new connection on a thread that
 * holds none of them was refused, at the most over the limit.  Now the
 * threads make room, and new connections are answered.
 */
static void
test_limit_over_while_answering (BridgeFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func ((GDestroyNotify) hkp_test_http_free);
  g_autofree char *logged = g_strdup_printf ("from 127.0.0.1 (uid %u): wrong bearer token, answered in", getuid ());
  g_autofree char *request = NULL;
  gint line = -1;
  GPid pid;
  guint before;

  bridge_start_with (f,
                     (const char *const[]){ "--http-max-connections=1", "--http-threads=" G_STRINGIFY (BUSY_THREADS),
                                            "--http-idle-timeout=600", NULL });
  pid = hkp_test_daemon_get_pid (f->daemon);
  before = hkp_test_count_fds (pid);
  request = g_strdup_printf ("POST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\n"
                             "Authorization: Bearer guess\r\nContent-Length: 0\r\n\r\n",
                             f->address);
  /* One at a time, each being answered (held back) before the next comes: none can make room. */
  for (guint i = 0; i < BUSY_OVER; i++)
    {
      g_autoptr (GError) error = NULL;
      HkpTestHttp *http = bridge_connect_raw (f);

      g_assert_true (hkp_test_http_send (http, request, &error));
      g_assert_no_error (error);
      g_ptr_array_add (held, http);
      line = hkp_test_daemon_wait_line_after (f->daemon, logged, line);
    }
  /* Answered: now they are idle, and each can make room. */
  for (guint i = 0; i < held->len; i++)
    {
      g_auto (HkpTestHttpResponse) r = { 0 };
      g_autoptr (GError) error = NULL;

      g_assert_true (hkp_test_http_read_response (g_ptr_array_index (held, i), "POST", &r, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (r.status, ==, 401);
    }
  /* The threads that hold them close all but one, long before the idle timeout. */
  wait_fds_at_most (pid, before + 1);
  /* New connections, kept, on whichever threads accept them: each is answered. */
  for (guint i = 0; i < 2 * BUSY_THREADS; i++)
    {
      HkpTestHttp *http = bridge_connect_raw (f);
      g_auto (HkpTestHttpResponse) r = { 0 };
      g_autoptr (GError) error = NULL;

      g_ptr_array_add (held, http);
      if (!hkp_test_http_request (http, "GET", "/livez", NULL, NULL, &r, &error))
        {
          gint refused = hkp_test_daemon_wait_line (f->daemon, "refusing new ones");

          g_error ("new connection %u: %s (%s)", i, error != NULL ? error->message : "no answer",
                   refused >= 0 ? "refused" : "not refused");
        }
      g_assert_cmpuint (r.status, ==, 200);
    }
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "refusing new ones"), <, 0);
}

/* Framing that could be read two ways: 400, the connection closed, and nothing run, not even what follows. */
static void
test_ambiguous_framing_answered_400 (BridgeFixture *f, gconstpointer data)
{
  static const struct {
    const char *framing;
    const char *says;
  } cases[] = {
    { "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "both Content-Length and Transfer-Encoding" },
    { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "both Content-Length and Transfer-Encoding" },
    { "Content-Length: 5\r\nContent-Length: 0\r\n", "more than one Content-Length" },
    { "Content-Length: 5\r\nX-Folded: a\r\n b\r\n", "folded" },
  };

  bridge_start (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (HkpTestHttp) raw = bridge_connect_raw (f);
      g_auto (HkpTestHttpResponse) r = { 0 };
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonObject) o = NULL;
      /* Read one way, the body is "0\r\n\r\n" and a second reload is pipelined after it. */
      g_autofree char *request = g_strdup_printf (
        "POST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " TOKEN "\r\n%s\r\n"
        "0\r\n\r\nPOST /plugins/reload?plugin=beta HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " TOKEN "\r\n\r\n",
        f->address, cases[i].framing, f->address);

      g_assert_true (hkp_test_http_send (raw, request, &error));
      g_assert_true (hkp_test_http_read_response (raw, "POST", &r, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (r.status, ==, 400);
      o = bridge_parse_object (r.body);
      if (strstr (json_object_get_string_member (o, "message"), cases[i].says) == NULL)
        g_error ("case %u: %s", i, r.body);
      g_assert_true (hkp_test_http_peer_closed (raw));
    }
  g_assert_cmpuint (bridge_reload_count (f, "beta"), ==, 0);
  assert_answered (f, "/livez");
}

/* A second daemon on the bridge's address, or on the check endpoint's unix socket, exits 1 naming it. */
static void
test_second_daemon_refused (BridgeFixture *f, gconstpointer data)
{
  g_autofree char *socket_path = g_build_filename (f->tree.root, "check.sock", NULL);
  g_autofree char *check_listen = g_strdup_printf ("--check-listen=unix:%s", socket_path);
  g_autofree char *check_address = g_strdup_printf ("unix:%s", socket_path);
  const char *const check_headers[] = { "X-Original-Method: GET", "X-Original-URI: /", "X-Real-IP: 192.0.2.1", NULL };

  bridge_start_with (f, (const char *const[]){ check_listen, NULL });
  {
    g_autofree char *http_listen = g_strdup_printf ("--http-listen=%s", f->address);
    g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", http_listen, NULL);
    g_autoptr (HkpTestDaemon) second = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
    g_autofree char *says = g_strdup_printf ("cannot listen on %s: Address already in use", f->address);

    g_assert_cmpint (hkp_test_daemon_wait_exit (second), ==, 1);
    g_assert_cmpint (hkp_test_daemon_find (second, says), >=, 0);
  }
  {
    g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", check_listen, NULL);
    g_autoptr (HkpTestDaemon) second = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
    g_autofree char *says = g_strdup_printf ("cannot listen on %s: another process listens there", check_address);

    g_assert_cmpint (hkp_test_daemon_wait_exit (second), ==, 1);
    g_assert_cmpint (hkp_test_daemon_find (second, says), >=, 0);
  }
  /* The first daemon still answers every connection on both. */
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (HkpTestHttp) check = hkp_test_http_connect (check_address, NULL, &error);
      g_auto (HkpTestHttpResponse) r = { 0 };

      assert_answered (f, "/livez");
      g_assert_no_error (error);
      g_assert_true (hkp_test_http_request (check, "GET", "/check", check_headers, NULL, &r, &error));
      g_assert_cmpuint (r.status, ==, 403); /* beta denies */
    }
}

#define ADD(path, func) g_test_add ((path), BridgeFixture, NULL, bridge_fixture_setup, (func), bridge_fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD ("/bridge/hostile/half-requests-freed", test_half_requests_freed);
  ADD ("/bridge/hostile/half-requests-freed-by-workers", test_half_requests_freed_by_workers);
  g_test_add ("/bridge/hostile/slowloris-flood", BridgeFixture, FLOOD_HEAD, bridge_fixture_setup, test_slowloris_flood,
              bridge_fixture_teardown);
  /* Bodies: the bridge once held those as busy, and refused every new connection for the idle timeout. */
  g_test_add ("/bridge/hostile/slow-body-flood", BridgeFixture, FLOOD_BODY, bridge_fixture_setup, test_slowloris_flood,
              bridge_fixture_teardown);
  ADD ("/bridge/hostile/slow-head-closed", test_slow_head_closed);
  ADD ("/bridge/hostile/unread-answers-closed", test_unread_answers_closed);
  ADD ("/bridge/hostile/limit-spread-over-threads", test_limit_spread_over_threads);
  ADD ("/bridge/hostile/limit-over-while-answering", test_limit_over_while_answering);
  ADD ("/bridge/hostile/ambiguous-framing-answered-400", test_ambiguous_framing_answered_400);
  ADD ("/bridge/hostile/second-daemon-refused", test_second_daemon_refused);
  return g_test_run ();
}
