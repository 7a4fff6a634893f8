/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One table helper: rows of cells that print as aligned columns on a
 * terminal (with colours), plain when piped, and as a JSON array of objects
 * with --json.
 */

#include "ctl-output.h"

G_BEGIN_DECLS

typedef struct _CtlTable CtlTable;

/* Makes a table with the NULL-terminated pairs of column header and JSON key ("NAME", "name", …). */
CtlTable *ctl_table_new (const char *header, const char *json_key, ...) G_GNUC_NULL_TERMINATED;
void ctl_table_free (CtlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlTable, ctl_table_free)

/*
 * Adds the next cell of the current row (a new row starts after the last
 * column): value (sunk; NULL is JSON null and "-" on screen) shown as text
 * (NULL: the value's own text) in color.
 */
void ctl_table_add (CtlTable *table, GVariant *value, const char *text, CtlColor color);

/* Adds a string cell. */
void ctl_table_add_string (CtlTable *table, const char *value, CtlColor color);

/* Returns the number of complete rows. */
guint ctl_table_rows (CtlTable *table);

/* Returns the rows as a JSON array of objects keyed by the columns' JSON keys (caller frees). */
JsonNode *ctl_table_to_json (CtlTable *table);

/* Prints the table as text (the header unless --no-legend), or as JSON with --json. */
void ctl_table_print (Ctl *ctl, CtlTable *table);

G_END_DECLS
