/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

/*
 * Starts watching plugin's health: every health interval (its own or the
 * engine's) its health() runs on a worker thread with the engine's health
 * timeout; state changes set transitioning / unhealthy / unknown at once;
 * the engine's restart policy reloads a plugin that stays unhealthy.
 */
void hkp_health_watch_start (HkpEngine *engine, HkpPlugin *plugin);

/* Sets the health that follows from the plugin's new state at once (checks an active one soon). */
void hkp_health_watch_state_changed (HkpPlugin *plugin);

/* Stops watching plugin (a check already running finishes and is dropped). */
void hkp_health_watch_stop (HkpPlugin *plugin);

G_END_DECLS
