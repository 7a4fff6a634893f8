/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* polkit's text agent (pkttyagent) for a change asked on a terminal, as systemctl starts it. */

#include "ctl.h"

G_BEGIN_DECLS

/*
 * Starts pkttyagent --notify-fd N --fallback and waits until it is ready,
 * when authentication could be asked on this terminal: stdin and stdout are
 * terminals, the bus is local, --no-ask-password was not given and we are not
 * root (root is always allowed).  Does nothing if it already runs.
 */
void ctl_agent_open (Ctl *ctl);

/* Stops the agent started by ctl_agent_open() and waits for it. */
void ctl_agent_close (Ctl *ctl);

G_END_DECLS
