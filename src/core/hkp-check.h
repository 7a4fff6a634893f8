/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-guard.h"
#include "hkp-slot.h"

G_BEGIN_DECLS

/* A request to check, as the caller sees it; every string is borrowed for the call. */
typedef struct {
  const char *method;
  const char *path;
  const char *query;
  const char *client_address;
  /* Looks up a header (ASCII case-insensitive); NULL when absent.  May be NULL itself. */
  const char *(*header) (gpointer header_data, const char *name);
  gpointer header_data;
  /* Non-zero once the caller gives up (client gone); may be NULL. */
  const gint *cancelled;
} HkpCheckRequest;

/* The verdict of the enabled plugins on one request.  Clear with hkp_check_result_clear(). */
typedef struct {
  gboolean allowed;
  gboolean cancelled; /* the caller cancelled: nothing was decided */
  guint status; /* HTTP status: 2xx allowed, 4xx/5xx denied */
  char *reason; /* "" if none */
  char *plugin; /* the plugin that decided, or NULL if all continued */
  GPtrArray *headers; /* name, value, name, value… to send with the answer */
} HkpCheckResult;

/* Frees what result holds and zeroes it. */
void hkp_check_result_clear (HkpCheckResult *result);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HkpCheckResult, hkp_check_result_clear)

/* An immutable snapshot of the plugins in priority order, published through an HkpGuardBox. */
typedef struct {
  HkpGuarded guard;
  guint n_slots;
  HkpSlot *slots[];
} HkpChain;

/* Creates a chain over slots (each referenced); caller owns it. */
HkpChain *hkp_chain_new (HkpSlot *const *slots, guint n_slots);

/* A drained callback that frees a retired chain, from whichever thread left it last. */
void hkp_chain_free_drained (HkpGuarded *chain, gpointer user_data);

/* Frees a chain nobody reads. */
void hkp_chain_free (HkpChain *chain);

/*
 * Runs request through the chain in box, from any thread but the main one:
 * the first plugin whose verdict is not "continue" decides; if all continue
 * the request is allowed.  A failed plugin denies with 503 (failure_mode
 * closed) or is skipped (open); a plugin in an exclusive reload is waited for,
 * bounded.  A call cut short by a drain is asked again of the plugin's next
 * instance, so reloads lose no request.  Fills result, which the caller clears.
 */
void hkp_check_run (HkpGuardBox *box, const HkpCheckRequest *request, HkpCheckResult *result);

G_END_DECLS
