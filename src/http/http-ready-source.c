/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A main-loop source that one thread wakes for another. */

#include "http-ready-source.h"

static gboolean
dispatch_ready (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs ready_funcs = { .dispatch = dispatch_ready };

GSource *
http_ready_source_new (GMainContext *context, GSourceFunc callback, gpointer data, const char *name)
{
  GSource *source = g_source_new (&ready_funcs, sizeof (GSource));

  g_source_set_callback (source, callback, data, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, context != NULL ? context : g_main_context_get_thread_default ());
  return source;
}

void
http_ready_source_free (GSource *source)
{
  if (source == NULL)
    return;
  g_source_destroy (source);
  g_source_unref (source);
}
