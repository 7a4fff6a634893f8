/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the proxy's headers: the original request, and whose word counts for the client address. */
#include <string.h>

#include "hkp-test-util.h"
#include "http-proxy.h"

#define SECRET "s3cret"

/* Loopback and 10.0.0.0/8, with SECRET to prove it, or none. */
static HttpTrustedProxies *
proxies_new (gboolean with_secret)
{
  const char *const cidrs[] = { "127.0.0.0/8", "::1", "10.0.0.0/8", NULL };
  g_autoptr (GError) error = NULL;
  HttpTrustedProxies *proxies = http_trusted_proxies_new (cidrs, &error);

  g_assert_no_error (error);
  if (with_secret)
    http_trusted_proxies_set_secret (proxies, SECRET);
  return proxies;
}

/* Parses headers from peer (NULL: unix), against proxies with a secret, to "METHOD PATH ?QUERY CLIENT" or "400: reason". */
static char *
parse_with (const HttpProxyHeaders *headers, const char *peer_text, gboolean with_secret)
{
  g_autoptr (HttpTrustedProxies) proxies = proxies_new (with_secret);
  g_autoptr (GInetAddress) address = peer_text != NULL ? g_inet_address_new_from_string (peer_text) : NULL;
  g_autoptr (GSocketAddress) socket_address = address != NULL ? g_inet_socket_address_new (address, 0) : NULL;
  struct sockaddr_storage native;
  const struct sockaddr *peer = NULL;
  g_auto (HttpOriginalRequest) out = { 0 };
  g_autofree char *reason = NULL;

  if (socket_address != NULL)
    {
      g_assert_true (g_socket_address_to_native (socket_address, &native, sizeof native, NULL));
      peer = (const struct sockaddr *) &native;
    }
  if (!http_proxy_parse (headers, peer, proxies, &out, &reason))
    return g_strdup_printf ("400: %s", reason);
  return g_strdup_printf ("%s %s ?%s %s", out.method, out.path, out.query != NULL ? out.query : "(none)",
                          out.client_address);
}

static void
check_with (const HttpProxyHeaders *headers, const char *peer, gboolean with_secret, const char *expected)
{
  g_autofree char *got = parse_with (headers, peer, with_secret);

  if (!g_str_has_prefix (got, expected))
    g_error ("got \"%s\", expected \"%s…\"", got, expected);
}

/* As the proxy sends them: with the secret, to a listener that has one. */
static void
check (const HttpProxyHeaders *headers, const char *peer, const char *expected)
{
  HttpProxyHeaders proven = *headers;

  proven.proxy_secret = SECRET;
  check_with (&proven, peer, TRUE, expected);
}

static void
test_original_request (void)
{
  HttpProxyHeaders h = { "GET", "/pks/lookup?op=get&search=0x1234", "192.0.2.1" };

  check (&h, "127.0.0.1", "GET /pks/lookup ?op=get&search=0x1234 192.0.2.1");
  h.original_uri = "/pks/add";
  check (&h, "127.0.0.1", "GET /pks/add ?(none) 192.0.2.1");
  h.original_uri = "/a?";
  check (&h, "127.0.0.1", "GET /a ? 192.0.2.1");
  /* Percent-encoding is left as sent: plugins see what the client sent. */
  h.original_uri = "/pks/%2e%2e/lookup";
  check (&h, "127.0.0.1", "GET /pks/%2e%2e/lookup ?(none) 192.0.2.1");
}

static void
test_client_addresses (void)
{
  HttpProxyHeaders h = { "GET", "/", NULL, NULL };

  /* X-Real-IP wins over X-Forwarded-For; addresses come out canonical. */
  h.real_ip = "2001:DB8:0:0::1";
  h.forwarded_for = "198.51.100.9";
  check (&h, "::1", "GET / ?(none) 2001:db8::1");
  h.real_ip = NULL;
  /* The right-most address no trusted proxy added. */
  h.forwarded_for = "203.0.113.1, 198.51.100.9, 127.0.0.1";
  check (&h, "127.0.0.1", "GET / ?(none) 198.51.100.9");
  /* All trusted: the left-most. */
  h.forwarded_for = "127.0.0.5,127.0.0.1";
  check (&h, "127.0.0.1", "GET / ?(none) 127.0.0.5");
  /* A unix-socket peer is a local proxy and trusted. */
  h.forwarded_for = "198.51.100.10";
  check (&h, NULL, "GET / ?(none) 198.51.100.10");
  /* nginx on a dual-stack socket writes IPv4 clients IPv4-mapped: plugins see the IPv4 client, and a mapped
   * trusted proxy is still one of them. */
  h.forwarded_for = "::ffff:203.0.113.1, ::FFFF:10.1.1.1";
  check (&h, "10.1.2.3", "GET / ?(none) 203.0.113.1");
  h.forwarded_for = NULL;
  h.real_ip = "::ffff:192.0.2.77";
  check (&h, NULL, "GET / ?(none) 192.0.2.77");
  h.real_ip = "::ffff:0:1.2.3.4"; /* IPv4-translated, not mapped: IPv6 as it is */
  check (&h, NULL, "GET / ?(none) ::ffff:0:102:304");
  h.real_ip = NULL;
  h.forwarded_for = "198.51.100.10";
  /* An untrusted peer's headers are ignored: it is the client; and that is worth a word in the log. */
  h.real_ip = "192.0.2.1";
  check (&h, "203.0.113.50", "GET / ?(none) 203.0.113.50");
  g_assert_true (hkp_test_log_contains ("203.0.113.50 named a client in X-Real-IP/X-Forwarded-For but is not one of "
                                        "--trusted-proxies: it is taken as the client itself"));
}

/* Any local user can connect from loopback: without the secret, a loopback peer is the client itself. */
static void
test_whose_word_counts (void)
{
  HttpProxyHeaders h = { "GET", "/", "192.0.2.1" };

  /* No secret set: loopback never believed; another trusted address, and a unix socket peer, are. */
  check_with (&h, "127.0.0.1", FALSE, "GET / ?(none) 127.0.0.1");
  check_with (&h, "127.0.0.2", FALSE, "GET / ?(none) 127.0.0.2");
  check_with (&h, "::1", FALSE, "GET / ?(none) ::1");
  g_assert_true (hkp_test_log_contains ("a peer on this machine (loopback or one of its own addresses) on TCP is "
                                        "believed only with --check-proxy-secret-file"));
  check_with (&h, "10.1.2.3", FALSE, "GET / ?(none) 192.0.2.1");
  check_with (&h, NULL, FALSE, "GET / ?(none) 192.0.2.1");
  /* A secret set: every TCP peer must send it, right; a unix socket peer need not. */
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 127.0.0.1");
  check_with (&h, "10.1.2.3", TRUE, "GET / ?(none) 10.1.2.3");
  check_with (&h, NULL, TRUE, "GET / ?(none) 192.0.2.1");
  h.proxy_secret = SECRET "x";
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 127.0.0.1");
  h.proxy_secret = "s3cre";
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 127.0.0.1");
  h.proxy_secret = "";
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 127.0.0.1");
  h.proxy_secret = SECRET;
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 192.0.2.1");
  /* The right secret from an address not trusted counts for nothing. */
  check_with (&h, "203.0.113.9", TRUE, "GET / ?(none) 203.0.113.9");
  /* Whoever is not believed may still not send nonsense it would not be asked about: it is simply the client. */
  h.proxy_secret = NULL;
  h.real_ip = "nonsense";
  check_with (&h, "127.0.0.1", TRUE, "GET / ?(none) 127.0.0.1");
}

/* Parses h from peer against proxies trusting every IPv4 address, with SECRET or none: the client seen. */
static char *
client_for_any (const HttpProxyHeaders *h, const char *peer, gboolean with_secret)
{
  const char *const cidrs[] = { "0.0.0.0/0", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (HttpTrustedProxies) proxies = http_trusted_proxies_new (cidrs, &error);
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (peer);
  g_autoptr (GSocketAddress) socket_address = g_inet_socket_address_new (address, 0);
  struct sockaddr_storage native;
  g_auto (HttpOriginalRequest) out = { 0 };
  g_autofree char *reason = NULL;

  g_assert_no_error (error);
  if (with_secret)
    http_trusted_proxies_set_secret (proxies, SECRET);
  g_assert_true (g_socket_address_to_native (socket_address, &native, sizeof native, NULL));
  g_assert_true (http_proxy_parse (h, (const struct sockaddr *) &native, proxies, &out, &reason));
  return g_strdup (out.client_address);
}

/*
 * Any local user can connect from any of this machine's addresses, not only
 * loopback: without the secret, a peer at one of them is the client itself,
 * however trusted its address.
 */
static void
test_own_address_is_local (void)
{
  g_autofree char *own = hkp_test_own_address ();
  HttpProxyHeaders h = { "GET", "/", "192.0.2.1" };

  if (own == NULL)
    {
      g_test_skip ("this machine has no address but loopback");
      return;
    }
  {
    g_autofree char *without = client_for_any (&h, own, FALSE);
    g_autofree char *elsewhere = client_for_any (&h, "203.0.113.9", FALSE);

    g_assert_cmpstr (without, ==, own);
    g_assert_true (hkp_test_log_contains ("(loopback or one of its own addresses) on TCP is believed only with "
                                          "--check-proxy-secret-file"));
    /* A trusted address of another machine is believed, as before. */
    g_assert_cmpstr (elsewhere, ==, "192.0.2.1");
  }
  h.proxy_secret = SECRET;
  {
    g_autofree char *proven = client_for_any (&h, own, TRUE);
    g_assert_cmpstr (proven, ==, "192.0.2.1");
  }
}

static void
test_malformed (void)
{
  static const struct {
    HttpProxyHeaders headers;
    const char *expected;
  } cases[] = {
    { { NULL, "/", "192.0.2.1" }, "400: missing X-Original-Method" },
    { { "GET", NULL, "192.0.2.1" }, "400: missing X-Original-URI" },
    { { "GET", "/", NULL, NULL }, "400: missing X-Real-IP" },
    { { "", "/", "192.0.2.1" }, "400: X-Original-Method is not" },
    { { "GET POST", "/", "192.0.2.1" }, "400: X-Original-Method is not" },
    { { "GETGETGETGETGETGETGETGETGETGETGET", "/", "192.0.2.1" }, "400: X-Original-Method is not" },
    { { "GET", "http://example.org/", "192.0.2.1" }, "400: X-Original-URI is not" },
    { { "GET", "/a b", "192.0.2.1" }, "400: X-Original-URI is not" },
    { { "GET", "/a\tb", "192.0.2.1" }, "400: X-Original-URI is not" },
    { { "GET", "/\xc3\xa9", "192.0.2.1" }, "400: X-Original-URI is not" },
    { { "GET", "/", "192.0.2.256" }, "400: X-Real-IP is not" },
    { { "GET", "/", "example.org" }, "400: X-Real-IP is not" },
    { { "GET", "/", NULL, "192.0.2.1, , 127.0.0.1" }, "400: X-Forwarded-For entry \"\"" },
    { { "GET", "/", NULL, "unknown" }, "400: X-Forwarded-For entry \"unknown\"" },
    { { "GET", "/", "192.0.2.1", NULL, TRUE }, "400: X-Original-Method, X-Original-URI and X-Real-IP may" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    check (&cases[i].headers, "127.0.0.1", cases[i].expected);
  /* Too long says so (not "not a request target"); 8192 bytes still pass. */
  {
    g_autofree char *uri = g_strnfill (8193, 'a');
    HttpProxyHeaders h = { "GET", uri, "192.0.2.1" };

    uri[0] = '/';
    check (&h, "127.0.0.1", "400: X-Original-URI is longer than 8192 bytes");
    uri[8192] = '\0';
    check (&h, "127.0.0.1", "GET /aaa");
  }
}

static void
test_prefix_matching (void)
{
  const char *const cidrs[] = { "10.0.0.0/9", "2001:db8:1::/63", "192.0.2.77", NULL };
  g_autoptr (HttpTrustedProxies) proxies = http_trusted_proxies_new (cidrs, NULL);
  static const struct {
    const char *ip;
    gboolean trusted;
  } cases[] = {
    { "10.0.0.1", TRUE },      { "10.127.255.255", TRUE },       { "10.128.0.0", FALSE },      { "11.0.0.1", FALSE },
    { "2001:db8:1::1", TRUE }, { "2001:db8:1:1:ffff::1", TRUE }, { "2001:db8:1:2::1", FALSE }, { "192.0.2.77", TRUE },
    { "192.0.2.76", FALSE },   { "::ffff:10.0.0.1", FALSE },     { " 10.0.0.2 ", TRUE },
  };

  g_assert_nonnull (proxies);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      HttpIp ip;
      g_assert_true (http_ip_parse (cases[i].ip, &ip));
      if (http_trusted_proxies_contain (proxies, &ip) != cases[i].trusted)
        g_error ("%s: expected %s", cases[i].ip, cases[i].trusted ? "trusted" : "untrusted");
    }
}

static void
test_trusted_proxy_errors (void)
{
  const char *const bad[] = { "127.0.0.0/8", "10.0.0.0/33", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (HttpTrustedProxies) proxies = http_trusted_proxies_new (bad, &error);

  g_assert_null (proxies);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.0.0.0/33"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
  g_test_add_func ("/proxy/original-request", test_original_request);
  g_test_add_func ("/proxy/client-addresses", test_client_addresses);
  g_test_add_func ("/proxy/whose-word-counts", test_whose_word_counts);
  g_test_add_func ("/proxy/own-address-is-local", test_own_address_is_local);
  g_test_add_func ("/proxy/malformed", test_malformed);
  g_test_add_func ("/proxy/prefix-matching", test_prefix_matching);
  g_test_add_func ("/proxy/trusted-proxy-errors", test_trusted_proxy_errors);
  return g_test_run ();
}
