/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Printing for people and for scripts: colours, JSON, times, and a pager on a terminal. */

#include <json-glib/json-glib.h>

#include "ctl.h"

G_BEGIN_DECLS

typedef enum {
  CTL_COLOR_NONE,
  CTL_COLOR_GOOD, /* green */
  CTL_COLOR_WARN, /* yellow */
  CTL_COLOR_BAD, /* red */
  CTL_COLOR_DIM, /* grey */
  CTL_COLOR_BOLD,
} CtlColor;

/*
 * Returns text as it may be shown on a terminal (caller frees): line breaks
 * and tabs as spaces (one value, one line), every other control character
 * (C0, DEL, C1) as \xHH.  Plugins and files choose much of what is shown,
 * and an escape sequence could clear the screen, rewrite earlier lines,
 * retitle the window or write the clipboard.  Invalid UTF-8 is made valid.
 */
char *ctl_printable (const char *text);

/* Returns the escape sequence that starts color on stdout, or "" when colours are off (static string). */
const char *ctl_color_on (Ctl *ctl, CtlColor color);

/* Returns the sequence that ends a colour, or "" when colours are off (static string). */
const char *ctl_color_off (Ctl *ctl, CtlColor color);

/* The colour a plugin state or health value is shown in. */
CtlColor ctl_state_color (const char *state);
CtlColor ctl_health_color (const char *health);

/* Prints node (taken) to stdout as JSON, pretty or on one line as --json says. */
void ctl_print_json (Ctl *ctl, JsonNode *node);

/* Returns value as a JSON node (caller frees): numbers as numbers, strings as strings. */
JsonNode *ctl_variant_to_json (GVariant *value);

/* Returns a realtime µs timestamp as local "YYYY-MM-DD HH:MM:SS ZONE", or "n/a" for 0 (caller frees). */
char *ctl_format_timestamp (guint64 usec);

/* Returns a span of µs as "2h 15min 3s" (caller frees). */
char *ctl_format_timespan (guint64 usec);

/*
 * Sends the rest of stdout through a pager when stdout is a terminal and
 * neither --no-pager nor --json was given: $HKP_PAGER, else $PAGER, else
 * less (LESS=FRXK unless set), else more; "" or "cat" means none.
 */
void ctl_pager_open (Ctl *ctl);

/* Ends the pager's input and waits until the user has left it. */
void ctl_pager_close (Ctl *ctl);

G_END_DECLS
