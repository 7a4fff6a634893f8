/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon with its HTTP bridge on a private bus, and a libsoup client for it; shared by the bridge tests. */

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"

G_BEGIN_DECLS

#define TOKEN "t0ken-for-tests"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  SoupSession *session;
  char *address; /* the bridge: 127.0.0.1:PORT */
  char *check; /* the check endpoint */
  char *scheme;
  char *token_file;
} BridgeFixture;

/* GTest setup (a tree with plugins alpha, beta and broken, a token file, a session) and teardown. */
void bridge_fixture_setup (BridgeFixture *f, gconstpointer data);
void bridge_fixture_teardown (BridgeFixture *f, gconstpointer data);

/* Starts the daemon with the bridge on port 0, the token file, and extra (NULL-terminated) arguments; waits for ready. */
void bridge_start_with (BridgeFixture *f, const char *const *extra);

/*
 * Makes a self-signed certificate for 127.0.0.1 with openssl and fills
 * args (caller frees) with the two options that serve it; FALSE (the test
 * skipped) if openssl is not installed.
 */
gboolean bridge_make_certificate (BridgeFixture *f, char *args[2]);

/* Like bridge_start_with() with no extra argument. */
void bridge_start (BridgeFixture *f);

typedef struct {
  guint status;
  char *body;
  SoupMessageHeaders *headers;
} BridgeReply;

/* Frees what r holds. */
void bridge_reply_clear (BridgeReply *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BridgeReply, bridge_reply_clear)

/* Returns a message to the bridge (caller owns it) that accepts the test's self-signed certificate. */
SoupMessage *bridge_new_message (BridgeFixture *f, const char *method, const char *path_and_query);

/* One request through libsoup; token NULL for none; body (may be NULL) sent as content_type. */
void bridge_call_full (BridgeFixture *f, const char *method, const char *path, const char *token,
                       const char *content_type, const char *body, BridgeReply *r);

/* Like bridge_call_full() with an application/json body. */
void bridge_call (BridgeFixture *f, const char *method, const char *path, const char *token, const char *body,
                  BridgeReply *r);

/* A new raw connection to the bridge, for tests that must see the wire (fails the test otherwise). */
HkpTestHttp *bridge_connect_raw (BridgeFixture *f);

/* Parses text as a JSON object (fails the test otherwise); returns a new reference. */
JsonObject *bridge_parse_object (const char *text);

/* Asserts object has member name of JSON type (G_TYPE_INT64, G_TYPE_STRING, G_TYPE_BOOLEAN, JSON_TYPE_OBJECT…); returns it. */
JsonNode *bridge_member (JsonObject *object, const char *name, GType type);

/* Asserts r is the JSON error answer with status whose message contains message_part. */
void bridge_assert_error (const BridgeReply *r, guint status, const char *message_part);

/* Returns plugin name's ReloadCount over D-Bus. */
guint64 bridge_reload_count (BridgeFixture *f, const char *name);

G_END_DECLS
