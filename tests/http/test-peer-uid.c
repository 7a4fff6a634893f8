/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* accept4() */
/*
 * Which local user is at the other end of a connection: the real one over
 * loopback TCP and a unix socket, and nobody at all for what the kernel's
 * socket lookup may answer that does not say (a listener on the peer's
 * port, a socket closed already, a uid without a name).
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-peer-uid.h"

/* The uid at the other end of a loopback TCP connection to ourselves, and of a unix socket pair, is ours. */
static void
test_connected (void)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t length = sizeof address;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int served, pair[2];

  g_assert_cmpint (bind (listener, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (listener, 1), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *) &address, &length), ==, 0);
  g_assert_cmpint (connect (client, (struct sockaddr *) &address, sizeof address), ==, 0);
  served = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (served, >=, 0);
  g_assert_cmpint (http_peer_uid (served), ==, getuid ());
  close (served);
  close (client);
  close (listener);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  g_assert_cmpint (http_peer_uid (pair[0]), ==, getuid ());
  close (pair[0]);
  close (pair[1]);
  g_assert_cmpint (http_peer_uid (-1), ==, -1);
}

/* An exact lookup of 127.0.0.1:40000 → 127.0.0.1:11380, and an answer to it from a live socket of root's. */
static void
lookup_and_answer (struct inet_diag_req_v2 *asked, struct inet_diag_msg *found)
{
  memset (asked, 0, sizeof *asked);
  asked->sdiag_family = AF_INET;
  asked->sdiag_protocol = IPPROTO_TCP;
  asked->id.idiag_sport = htons (40000);
  asked->id.idiag_dport = htons (11380);
  asked->id.idiag_src[0] = htonl (INADDR_LOOPBACK);
  asked->id.idiag_dst[0] = htonl (INADDR_LOOPBACK);
  memset (found, 0, sizeof *found);
  found->idiag_family = AF_INET;
  found->idiag_state = TCP_ESTABLISHED;
  found->id = asked->id;
  found->idiag_uid = 0;
  found->idiag_inode = 4242;
}

static void
test_what_the_kernel_answers (void)
{
  struct inet_diag_req_v2 asked;
  struct inet_diag_msg found;

  lookup_and_answer (&asked, &found);
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, 0);
  /* A socket closing (FIN_WAIT2) still has its owner. */
  found.idiag_state = TCP_FIN_WAIT2;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, 0);

  /* No connection matched: the kernel answers with a listener on the peer's port (root's sshd on 22, say). */
  lookup_and_answer (&asked, &found);
  found.idiag_state = TCP_LISTEN;
  memset (&found.id.idiag_src, 0, sizeof found.id.idiag_src);
  memset (&found.id.idiag_dst, 0, sizeof found.id.idiag_dst);
  found.id.idiag_dport = 0;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);
  found.idiag_state = TCP_ESTABLISHED;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);

  /* A socket closed already: TIME_WAIT, or orphaned (no inode), which the kernel calls root's. */
  lookup_and_answer (&asked, &found);
  found.idiag_state = TCP_TIME_WAIT;
  found.idiag_inode = 0;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);
  lookup_and_answer (&asked, &found);
  found.idiag_inode = 0;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);

  /* Another socket than the one asked for, or of another family. */
  lookup_and_answer (&asked, &found);
  found.id.idiag_sport = htons (40001);
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);
  lookup_and_answer (&asked, &found);
  found.idiag_family = AF_INET6;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);

  /* A uid without a passwd entry (one of a user's many subordinate uids, say) is nobody in particular. */
  lookup_and_answer (&asked, &found);
  found.idiag_uid = 2147400000u;
  g_assert_cmpint (http_peer_uid_of_diag (&asked, &found), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peer-uid/connected", test_connected);
  g_test_add_func ("/peer-uid/what-the-kernel-answers", test_what_the_kernel_answers);
  return g_test_run ();
}
