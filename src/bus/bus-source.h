/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Called on the main context when sd_bus_process() fails (the bus went away): errno-style code. */
typedef void (*BusSourceFailed) (int error, gpointer user_data);

/*
 * Returns a GSource that drives bus from a GLib main context: it watches the
 * bus fd for the events sd-bus asks for (changing the watch only when they
 * change), wakes at sd-bus's own timeout, and processes what is pending.
 * The source takes a reference to bus.  Attach it and unref it as usual.
 */
GSource *bus_source_new (sd_bus *bus, BusSourceFailed failed, gpointer user_data);

G_END_DECLS
