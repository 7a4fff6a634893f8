/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Returns a source that runs callback (with data) once each time it is woken
 * with g_source_set_ready_time(), from any thread, attached to context (NULL:
 * the thread's default).  Free it with http_ready_source_free().
 */
GSource *http_ready_source_new (GMainContext *context, GSourceFunc callback, gpointer data, const char *name);

/* Detaches source (from http_ready_source_new(), or NULL) and drops its reference. */
void http_ready_source_free (GSource *source);

G_END_DECLS
