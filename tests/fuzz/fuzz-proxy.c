/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the check endpoint's reading of a proxy's headers
 * (http_proxy_parse()), its trusted-proxy CIDR list and IP addresses.  The
 * input is the --trusted-proxies list (a line), the peer ("unix", an
 * address, or anything else for none), then header lines "Name: value",
 * gathered as the check endpoint gathers them (X-Forwarded-For joined with
 * ",", a second X-Original-* or X-Real-IP marked).  Nothing crashes or
 * leaks; an untrusted peer always speaks for itself; what is accepted is
 * the original request, with a canonical client address.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "fuzz-common.h"
#include "http-proxy.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define HEADERS_MAX 16

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
  struct sockaddr_un un;
} Peer;

/* Fills peer from text; returns it, or NULL for no address at all. */
static const struct sockaddr *
peer_from_text (const char *text, Peer *peer)
{
  memset (peer, 0, sizeof *peer);
  if (g_str_equal (text, "unix"))
    {
      peer->un.sun_family = AF_UNIX;
      return &peer->sa;
    }
  if (inet_pton (AF_INET, text, &peer->in.sin_addr) == 1)
    {
      peer->in.sin_family = AF_INET;
      return &peer->sa;
    }
  if (inet_pton (AF_INET6, text, &peer->in6.sin6_addr) == 1)
    {
      peer->in6.sin6_family = AF_INET6;
      return &peer->sa;
    }
  return NULL;
}

/* An address written out and read back is the same address, and its text is canonical. */
static void
assert_canonical (const char *text)
{
  HttpIp ip, again;
  g_autofree char *written = NULL;
  g_autofree char *rewritten = NULL;

  g_assert_true (http_ip_parse (text, &ip));
  written = http_ip_to_string (&ip);
  g_assert_true (http_ip_parse (written, &again));
  g_assert_cmpmem (&ip, sizeof ip, &again, sizeof again);
  rewritten = http_ip_to_string (&again);
  g_assert_cmpstr (written, ==, rewritten);
}

/* Every entry of the list is inside its own range. */
static void
assert_entries_trusted (const HttpTrustedProxies *proxies, char **cidrs)
{
  for (guint i = 0; cidrs[i] != NULL; i++)
    {
      g_autofree char *address = g_strndup (cidrs[i], strcspn (cidrs[i], "/"));
      HttpIp ip;
      if (http_ip_parse (address, &ip))
        g_assert_true (http_trusted_proxies_contain (proxies, &ip));
    }
}

/* Gathers one "Name: value" line the way the check endpoint does. */
static void
gather_header (const char *line, HttpProxyHeaders *headers, GString *forwarded_for, GPtrArray *keep)
{
  const char *colon = strchr (line, ':');
  g_autofree char *name = NULL;
  char *value;
  const char **slot = NULL;

  if (colon == NULL)
    return;
  name = g_strndup (line, (gsize) (colon - line));
  value = g_strstrip (g_strdup (colon + 1));
  g_ptr_array_add (keep, value);
  if (g_ascii_strcasecmp (name, "X-Original-Method") == 0)
    slot = &headers->original_method;
  else if (g_ascii_strcasecmp (name, "X-Original-URI") == 0)
    slot = &headers->original_uri;
  else if (g_ascii_strcasecmp (name, "X-Real-IP") == 0)
    slot = &headers->real_ip;
  else if (g_ascii_strcasecmp (name, "X-Forwarded-For") == 0)
    g_string_append_printf (forwarded_for, "%s%s", forwarded_for->len > 0 ? "," : "", value);
  if (slot != NULL)
    {
      headers->duplicated |= *slot != NULL;
      *slot = value;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FuzzFields fields;
  g_autofree char *cidr_line = NULL;
  g_autofree char *peer_line = NULL;
  g_auto (GStrv) cidrs = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (HttpTrustedProxies) proxies = NULL;
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) forwarded_for = g_string_new (NULL);
  g_auto (HttpOriginalRequest) original = { 0 };
  g_autofree char *reason = NULL;
  HttpProxyHeaders headers = { 0 };
  const struct sockaddr *peer;
  Peer peer_storage;
  HttpIp peer_ip;
  char *line;

  fuzz_quiet_logs ();
  fuzz_fields_init (&fields, data, size);
  cidr_line = fuzz_fields_take (&fields);
  peer_line = fuzz_fields_take (&fields);
  if (cidr_line == NULL || peer_line == NULL)
    return 0;

  /* As --trusted-proxies splits its value. */
  cidrs = g_strsplit_set (cidr_line, ", ", -1);
  {
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
    for (guint i = 0; cidrs[i] != NULL; i++)
      if (cidrs[i][0] != '\0')
        g_strv_builder_add (builder, cidrs[i]);
    g_strfreev (cidrs);
    cidrs = g_strv_builder_end (builder);
  }
  proxies = http_trusted_proxies_new ((const char *const *) cidrs, &error);
  if (proxies == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  assert_entries_trusted (proxies, cidrs);

  peer = peer_from_text (peer_line, &peer_storage);
  for (guint i = 0; i < HEADERS_MAX && (line = fuzz_fields_take (&fields)) != NULL; i++)
    {
      gather_header (line, &headers, forwarded_for, keep);
      g_free (line);
    }
  headers.forwarded_for = forwarded_for->len > 0 ? forwarded_for->str : NULL;

  if (!http_proxy_parse (&headers, peer, proxies, &original, &reason))
    {
      g_assert_nonnull (reason);
      g_assert_true (reason[0] != '\0');
      g_assert_null (original.method);
      return 0;
    }
  g_assert_null (reason);
  g_assert_false (headers.duplicated);
  g_assert_cmpstr (original.method, ==, headers.original_method);
  g_assert_true (original.path[0] == '/');
  {
    g_autofree char *uri = original.query != NULL ? g_strdup_printf ("%s?%s", original.path, original.query)
                                                  : g_strdup (original.path);
    g_assert_cmpstr (uri, ==, headers.original_uri);
  }
  assert_canonical (original.client_address);
  /* A peer that is not a trusted proxy speaks for itself, whatever its headers say. */
  if (http_ip_from_sockaddr (peer, &peer_ip) && !http_trusted_proxies_contain (proxies, &peer_ip))
    {
      g_autofree char *peer_text = http_ip_to_string (&peer_ip);
      g_assert_cmpstr (original.client_address, ==, peer_text);
    }
  return 0;
}
