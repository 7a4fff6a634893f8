/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An engine over a temporary tree (plugins, plugins.d, state) with the test modules installed. */

#include "hkp-engine.h"
#include "hkp-test-util.h"

G_BEGIN_DECLS

typedef struct {
  char *root;
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  HkpEngine *engine;
} EngineFixture;

/* GTest setup (also resets the probe's counters) and teardown (shuts the engine down if started, removes the tree). */
void engine_fixture_setup (EngineFixture *f, gconstpointer data);
void engine_fixture_teardown (EngineFixture *f, gconstpointer data);

/* Copies the shipped plugin module file (e.g. "ratelimit.so") from the build into the fixture's plugin directory. */
void engine_fixture_install_shipped (EngineFixture *f, const char *module);

/* Returns where the suite runs plugins: $HKP_TEST_ISOLATION ("process" or "none"), "process" by default. */
const char *engine_fixture_isolation (void);

/* Returns json (a plugin file) with "isolation" set as $HKP_TEST_ISOLATION says unless it sets it; caller frees. */
char *engine_fixture_with_isolation (const char *json);

/* Writes plugins.d/<name>.json (with the suite's isolation, see engine_fixture_with_isolation()). */
void engine_fixture_write_plugin (EngineFixture *f, const char *name, const char *json);

/* Writes plugins.d/<name>.json for module (e.g. "ipfilter.so") with config (a JSON object). */
void engine_fixture_write_module (EngineFixture *f, const char *name, const char *module, const char *config);

/* A config a plugin must refuse, and what its LastError must say. */
typedef struct {
  const char *config;
  const char *message;
} EngineRefusedConfig;

/*
 * Loads module once per case (plugins bad0, bad1, …), starts the engine,
 * and asserts each failed with "config rejected: " and its message.
 */
void engine_fixture_assert_refused (EngineFixture *f, const char *module, const EngineRefusedConfig *cases,
                                    gsize n_cases);

/* Like engine_fixture_write_plugin(); returns the file's path (caller frees). */
G_GNUC_WARN_UNUSED_RESULT char *engine_fixture_write_plugin_path (EngineFixture *f, const char *name, const char *json);

/* Creates the engine with settings (NULL: defaults) and loads the config directory. */
void engine_fixture_start (EngineFixture *f, const HkpEngineSettings *settings);

/* Returns the plugin called name, failing the test if there is none. */
HkpPlugin *engine_fixture_lookup (EngineFixture *f, const char *name);

/* Waits until no load, transition or drain is pending. */
void engine_fixture_wait_idle (EngineFixture *f);

/* Shuts the engine down and drops it. */
void engine_fixture_stop (EngineFixture *f);

/* Runs one check of GET /pks/lookup?op=get from 192.0.2.1 on an engine worker (with header X-Test: yes) and waits for it. */
void engine_fixture_check (EngineFixture *f, HkpCheckResult *result);

/* Like engine_fixture_check(); returns "plugin:reason" of the verdict ("-:" when no plugin decided); caller frees. */
G_GNUC_WARN_UNUSED_RESULT char *engine_fixture_decider (EngineFixture *f);

/* Copies the file at source over dir/name atomically (as a package upgrade would). */
void engine_fixture_replace_file (const char *source, const char *dir, const char *name);

G_END_DECLS
