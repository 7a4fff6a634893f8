/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

/*
 * The daemon's conversation with its service manager (sd_notify): STATUS=
 * kept current from the engine's events, WATCHDOG=1 from the main loop at
 * half the watchdog interval, and the READY/RELOADING/STOPPING steps.
 * Without NOTIFY_SOCKET every call does nothing.
 */
typedef struct _DaemonNotify DaemonNotify;

/* Starts following engine (STATUS=) and, if the manager asked for one, pinging the watchdog. */
DaemonNotify *daemon_notify_new (HkpEngine *engine);

/* READY=1 with the current STATUS=: call once the bus name is owned and the plugins are loaded. */
void daemon_notify_ready (DaemonNotify *notify);

/* Adds "rescan refused N files: a.json, …" to STATUS= (refused: HkpRescanRefusal; NULL or empty clears it). */
void daemon_notify_set_rescan_refused (DaemonNotify *notify, GPtrArray *refused);

/* RELOADING=1 with MONOTONIC_USEC=, before a rescan. */
void daemon_notify_reloading (DaemonNotify *notify);

/* STOPPING=1, and EXTEND_TIMEOUT_USEC= every few seconds while plugins drain and shut down. */
void daemon_notify_stopping (DaemonNotify *notify, gdouble drain_timeout_sec);

/* Stops following the engine and pinging. */
void daemon_notify_free (DaemonNotify *notify);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DaemonNotify, daemon_notify_free)

G_END_DECLS
