/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Installs the daemon's structured log writer: journald (with every field,
 * PLUGIN= among them) when JOURNAL_STREAM says stderr is the journal, and
 * readable lines on stderr otherwise.  G_MESSAGES_DEBUG selects debug output
 * as usual.
 */
void daemon_log_setup (void);

/* Returns text as one line of output (caller frees): control characters and backslashes escaped as in log lines. */
char *daemon_log_escape (const char *text);

/* Formats one structured log entry as one readable line ending in '\n', control characters escaped; caller frees. */
char *daemon_log_format_line (GLogLevelFlags level, const GLogField *fields, gsize n_fields);

G_END_DECLS
