/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* hkp-pluginctl run as a child of the test, against hkp-plugind on a private bus. */

#include <json-glib/json-glib.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-util.h"

G_BEGIN_DECLS

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
  gboolean strict_bus; /* set before ctl_fixture_start(): the system bus's defaults and our dbus/ policy */
} CtlFixture;

/* What one run printed and how it ended. */
typedef struct {
  int status; /* exit status, or 128 + signal */
  char *out;
  char *err;
} CtlRun;

void ctl_run_clear (CtlRun *run);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CtlRun, ctl_run_clear)

/* GTest setup: a tree with plugins alpha (answer.so, priority 10), ratelimit (the shipped module, priority 20),
 * broken (failinit.so) and off (disabled); teardown stops everything. */
void ctl_fixture_setup (CtlFixture *f, gconstpointer data);
void ctl_fixture_teardown (CtlFixture *f, gconstpointer data);

/* Starts a bus (permissive, unless strict_bus) and the daemon (--no-polkit, then the NULL-terminated extra options) and a client. */
void ctl_fixture_start (CtlFixture *f, ...) G_GNUC_NULL_TERMINATED;

/* Returns the path of the hkp-pluginctl under test (static string). */
const char *ctl_fixture_program (void);

/*
 * Runs hkp-pluginctl with the NULL-terminated args, as uid (-1: as we are),
 * with DBUS_SYSTEM_BUS_ADDRESS set to the fixture's bus, the extra
 * environment env (NULL-terminated KEY=VALUE, may be NULL) and input on
 * stdin (NULL: empty); waits for it and fills run.
 */
void ctl_fixture_run (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *input,
                      ...) G_GNUC_NULL_TERMINATED;

/* Like ctl_fixture_run(), args as a NULL-terminated array. */
void ctl_fixture_runv (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *input,
                       const char *const *args);

/* Like ctl_fixture_runv(), on a terminal: under script(1), so stdin, stdout and stderr are a pty (out gets all). */
void ctl_fixture_run_pty (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *const *args);

/* Starts ctl_fixture_run_pty()'s command and returns it (stdout piped); finish it with ctl_fixture_finish(). */
GSubprocess *ctl_fixture_spawn_pty (CtlFixture *f, gint uid, const char *const *env, const char *const *args);

/* Waits for process (from ctl_fixture_spawn_pty()), iterating the main context, and fills run. */
void ctl_fixture_finish (GSubprocess *process, CtlRun *run);

/* Parses text as JSON (failing the test otherwise); caller frees. */
JsonNode *ctl_parse_json (const char *text);

/* Reads a plugin's string property over D-Bus (caller frees). */
char *ctl_fixture_plugin_string (CtlFixture *f, const char *name, const char *property);

/* Reads a plugin's 'u' property over D-Bus. */
guint32 ctl_fixture_plugin_uint (CtlFixture *f, const char *name, const char *property);

/* Asserts run ended with status and its stderr holds needle (may be NULL). */
void ctl_assert_run (const CtlRun *run, int status, const char *err_needle);

/* The uid of user nobody. */
gint ctl_nobody_uid (void);

G_END_DECLS
