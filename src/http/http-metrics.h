/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

/* Returns engine's metrics in the Prometheus text exposition format (version 0.0.4); main thread; caller frees. */
char *http_metrics_text (HkpEngine *engine, const char *version);

G_END_DECLS
