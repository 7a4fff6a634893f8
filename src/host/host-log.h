/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The plugin's log output, sent to the daemon as LOG records: what it writes
 * to stdout or stderr (a pipe read by a thread of its own, one record a line)
 * and its GLib log calls (through a GLib log writer of ours, if the module
 * links GLib).
 */

#include <stddef.h>

#include "host-channel.h"

typedef struct HostLog HostLog;

/* Points fds 1 and 2 at a pipe whose lines a thread sends over channel; returns NULL with errno on failure. */
HostLog *host_log_start (HostChannel *channel, size_t stack_size);

/* If module (a dlopen handle) links GLib, routes its log calls over the channel; debug and info only with
 * G_MESSAGES_DEBUG set. */
void host_log_hook_glib (HostLog *log, void *module);

/* Sends one LOG record: priority as syslog's (0–7), domain may be NULL; message need not be NUL-terminated. */
void host_log_send (HostChannel *channel, int priority, const char *domain, const char *message, size_t len);

/* Closes fds 1 and 2, waits until every line written to them has been sent, and frees log. */
void host_log_finish (HostLog *log);
