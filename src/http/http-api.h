/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"
#include "http-snapshot.h"

G_BEGIN_DECLS

#define HTTP_API_BODY_MAX (1024 * 1024)
#define HTTP_API_JSON_DEPTH_MAX 32

/* A request as the endpoints see it, with no HTTP library type; strings borrowed for the call. */
typedef struct {
  const char *method;
  const char *path; /* as received, not normalised */
  const char *query; /* raw, without '?', or NULL */
  const char *host; /* Host header, or NULL */
  const char *origin; /* Origin header, or NULL */
  const char *authorization; /* Authorization header, or NULL */
  const char *content_type; /* Content-Type header, or NULL */
  gint64 content_length; /* -1 if not given */
  const char *body; /* NULL until read */
  gsize body_length;
  const char *peer; /* for the log: "192.0.2.1" or "unix" */
  gint64 peer_uid; /* the local user at the other end (see http_peer_uid()), -1 if none or unknown */
} HttpApiRequest;

/* The answer: status, body (a reference), and the headers that go with it. */
typedef struct {
  guint status;
  GBytes *body;
  const char *content_type; /* static */
  const char *allow; /* 405: the methods the route takes; static */
  gboolean authenticate; /* 401: send WWW-Authenticate: Bearer */
  gint64 not_before_usec; /* monotonic: a wrong token's answer waits until then (0: at once) */
  char *throttled_peer; /* whose wrong answer waits (its throttle key); tell http_api_response_sent() when it went */
} HttpApiResponse;

/* Frees what response holds. */
void http_api_response_clear (HttpApiResponse *response);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HttpApiResponse, http_api_response_clear)

/* A change asked for over HTTP, to be run on the main thread. */
typedef struct _HttpMutation HttpMutation;

/* Frees mutation (any thread). */
void http_mutation_free (HttpMutation *mutation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpMutation, http_mutation_free)

/* Returns mutation as one GVariant, for the process that runs it (caller unrefs). */
GVariant *http_mutation_serialize (const HttpMutation *mutation);

/* Returns the mutation variant holds, its peer marked as coming via via (caller frees), or NULL if it is not one. */
HttpMutation *http_mutation_deserialize (GVariant *variant, const char *via);

/* Returns a mutation's answer (always JSON) as one GVariant (caller unrefs). */
GVariant *http_api_answer_serialize (const HttpApiResponse *answer);

/* Fills out (caller clears) from a serialised mutation answer; FALSE if variant is not one. */
gboolean http_api_answer_deserialize (GVariant *variant, HttpApiResponse *out);

/* A request whose headers passed every check, waiting for its body. */
typedef struct _HttpApiTicket HttpApiTicket;

/* Frees ticket. */
void http_api_ticket_free (HttpApiTicket *ticket);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpApiTicket, http_api_ticket_free)

/* The endpoints: whom they answer and what they read. */
typedef struct _HttpApi HttpApi;

/*
 * Creates the endpoints over feed's snapshots.  token is the bearer token
 * for mutations (NULL: mutations answer 403); a wrong one is answered
 * processes seconds after the last wrong one from the same peer (see
 * http-throttle.h), so the processes serving one address together answer
 * about one a second; the wait is in the answer's not_before_usec, which
 * the caller honours without blocking.  hosts are the Host values accepted
 * ("127.0.0.1:11380", "keys.example.org"), NULL to accept any (unix socket).
 */
HttpApi *http_api_new (HttpSnapshotFeed *feed, const char *token, const char *const *hosts, guint processes);

/* Frees api. */
void http_api_free (HttpApi *api);

/* Says response, held until its not_before_usec, went out (or never will): the peer's next wrong answer waits less. */
void http_api_response_sent (HttpApi *api, HttpApiResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HttpApi, http_api_free)

/*
 * Decides on the request's headers alone (any thread), before a body is read:
 * TRUE with out filled if the answer is known already (an error, or a read
 * from the snapshot); FALSE with *ticket (caller's) if the request is a change
 * that may go on: then read the body and call http_api_handle_body().
 */
gboolean http_api_precheck (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, HttpApiTicket **ticket);

/*
 * Finishes a request the precheck let through, with its body (takes ticket):
 * TRUE with out filled (a bad body), or FALSE with *mutation set, to be run
 * with http_api_run_mutation_async() on the main thread, whose answer then
 * goes out.
 */
gboolean http_api_handle_body (HttpApi *api, HttpApiTicket *ticket, const HttpApiRequest *request, HttpApiResponse *out,
                               HttpMutation **mutation);

/* Handles the whole request at once (any thread): http_api_precheck(), then http_api_handle_body(). */
gboolean http_api_handle (HttpApi *api, const HttpApiRequest *request, HttpApiResponse *out, HttpMutation **mutation);

/* Runs mutation on engine (main thread; takes mutation); callback gets the answer with http_api_run_mutation_finish(). */
void http_api_run_mutation_async (HttpApi *api, HkpEngine *engine, HttpMutation *mutation, GAsyncReadyCallback callback,
                                  gpointer user_data);

/* Fills out with the answer to a mutation. */
void http_api_run_mutation_finish (GAsyncResult *result, HttpApiResponse *out);

/* Returns an error answer: {"plugin", "status": "error", "message", "timestamp"} with status. */
void http_api_error (HttpApiResponse *out, guint status, const char *plugin, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

G_END_DECLS
