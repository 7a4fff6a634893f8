/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The main() of an HTTP worker process (http-workers.h starts them): runs
 * the bridge on the listening socket and daemon connection it inherited,
 * until the daemon goes away.  index names it in the log.  Returns the
 * process's exit status.
 */
int daemon_http_worker_main (guint index);

G_END_DECLS
