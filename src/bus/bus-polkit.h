/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus-private.h"

G_BEGIN_DECLS

/* How long polkit may take to answer before the answer is no (HKP_PLUGIND_POLKIT_TIMEOUT_SEC overrides). */
#define BUS_POLKIT_TIMEOUT_DEFAULT_SEC 25.0

/*
 * Asks polkit, asynchronously, whether call's sender may make call's change
 * (its polkit action) on its plugin (passed as the detail "plugin"), allowing
 * user interaction exactly when the message does.  Runs the change if so;
 * otherwise refuses with AccessDenied or InteractiveAuthorizationRequired.
 * No answer, an error or a timeout means no.  Every decision is logged.
 */
void bus_polkit_check (BusCall *call);

G_END_DECLS
