/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The plugin calls the host runs for the daemon, as pool jobs: handle() for a
 * REQUEST, health() and validate_config(); each sends its answer record.
 * Here are the host's sides of hkp_request, hkp_response and
 * hkp_health_report, with the same limits as the in-process engine.
 */

#include "hkp-plugin.h"
#include "host-channel.h"
#include "host-pool.h"

/* What every job of a host runs against: the pools' context. */
typedef struct {
  const hkp_plugin_descriptor *descriptor;
  void *instance;
  HostChannel *channel;
} HostPlugin;

/* Returns a job running handle() for a REQUEST record (copied), or NULL if memory ran out. */
HostJob *host_call_request_new (const HkpHostRecord *record);

/* Returns a job running health() and sending HEALTH_REPORT id, or NULL. */
HostJob *host_call_health_new (uint64_t id);

/* Returns a job running validate_config(config) and sending VALIDATED id, or NULL. */
HostJob *host_call_validate_new (uint64_t id, HkpHostString config);

/* Copies at most max bytes of text, cut at a character boundary; "" if text is not UTF-8; NULL if memory ran out. */
char *host_utf8_copy (const char *text, size_t max);
