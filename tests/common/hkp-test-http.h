/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A small blocking HTTP/1.1 client over one connection, for tests that must
 * see the wire: keep-alive, who closes, the exact status and headers, and a
 * chosen local address.
 */
typedef struct _HkpTestHttp HkpTestHttp;

typedef struct {
  guint status;
  GHashTable *headers; /* lowercased name → value (repeated headers joined with ", ") */
  char *body;
  gboolean closed; /* the server said Connection: close */
} HkpTestHttpResponse;

/* Frees what response holds. */
void hkp_test_http_response_clear (HkpTestHttpResponse *response);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HkpTestHttpResponse, hkp_test_http_response_clear)

/* Returns the value of header name (lowercase) in response, or NULL; owned by response. */
const char *hkp_test_http_header (const HkpTestHttpResponse *response, const char *name);

/* Connects to address ("127.0.0.1:8080", "[::1]:80", "unix:/path"), from local_ip if not NULL; NULL with error. */
HkpTestHttp *hkp_test_http_connect (const char *address, const char *local_ip, GError **error);

/*
 * Sends one request (headers: NULL-terminated "Name: value" lines, may be
 * NULL; "Host: ADDRESS" (as connected; localhost on a unix socket) unless they name a Host, "Host: none" for none; body may be NULL) and reads the answer into out (caller clears).
 * FALSE with an error if the connection failed or closed early.
 */
gboolean hkp_test_http_request (HkpTestHttp *http, const char *method, const char *target, const char *const *headers,
                                const char *body, HkpTestHttpResponse *out, GError **error);

/* Reads one answer (to a request made with method) into out (caller clears); FALSE with an error as above. */
gboolean hkp_test_http_read_response (HkpTestHttp *http, const char *method, HkpTestHttpResponse *out, GError **error);

/* Sends bytes as they are (a request cut short, say); FALSE with an error if the connection failed. */
gboolean hkp_test_http_send (HkpTestHttp *http, const char *bytes, GError **error);

/* Returns TRUE if something (an answer, or the end) waits to be read now; reads nothing. */
gboolean hkp_test_http_readable (HkpTestHttp *http);

/* Returns TRUE once the server has closed the connection (reads EOF without blocking long). */
gboolean hkp_test_http_peer_closed (HkpTestHttp *http);

/* Closes and frees http. */
void hkp_test_http_free (HkpTestHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpTestHttp, hkp_test_http_free)

G_END_DECLS
