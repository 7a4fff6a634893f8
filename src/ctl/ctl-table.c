/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-output.h"
#include "ctl-table.h"

#include <stdio.h>

#include "ctl-model.h"

typedef struct {
  GVariant *value; /* NULL: none */
  char *text;
  CtlColor color;
} Cell;

struct _CtlTable {
  GPtrArray *headers;
  GPtrArray *keys;
  GArray *cells; /* Cell, row after row */
};

static void
cell_clear (gpointer data)
{
  Cell *cell = data;

  g_clear_pointer (&cell->value, g_variant_unref);
  g_free (cell->text);
}

CtlTable *
ctl_table_new (const char *header, const char *json_key, ...)
{
  CtlTable *table = g_new0 (CtlTable, 1);
  va_list ap;

  table->headers = g_ptr_array_new_with_free_func (g_free);
  table->keys = g_ptr_array_new_with_free_func (g_free);
  table->cells = g_array_new (FALSE, TRUE, sizeof (Cell));
  g_array_set_clear_func (table->cells, cell_clear);
  va_start (ap, json_key);
  while (header != NULL)
    {
      g_ptr_array_add (table->headers, g_strdup (header));
      g_ptr_array_add (table->keys, g_strdup (json_key));
      header = va_arg (ap, const char *);
      if (header != NULL)
        json_key = va_arg (ap, const char *);
    }
  va_end (ap);
  return table;
}

void
ctl_table_free (CtlTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref (table->headers);
  g_ptr_array_unref (table->keys);
  g_array_unref (table->cells);
  g_free (table);
}

void
ctl_table_add (CtlTable *table, GVariant *value, const char *text, CtlColor color)
{
  Cell cell = { .color = color };

  g_autofree char *shown = NULL;

  cell.value = value != NULL ? g_variant_ref_sink (value) : NULL;
  if (text != NULL)
    shown = g_strdup (text);
  else if (value != NULL)
    shown = ctl_variant_to_text (value);
  else
    shown = g_strdup ("-");
  /* One cell, one line: a multi-line error message must not break the columns, nor a plugin's text the terminal. */
  cell.text = ctl_printable (shown);
  g_array_append_val (table->cells, cell);
}

void
ctl_table_add_string (CtlTable *table, const char *value, CtlColor color)
{
  ctl_table_add (table, value != NULL ? g_variant_new_string (value) : NULL, NULL, color);
}

guint
ctl_table_rows (CtlTable *table)
{
  return table->cells->len / table->headers->len;
}

JsonNode *
ctl_table_to_json (CtlTable *table)
{
  JsonArray *rows = json_array_new ();
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  guint columns = table->headers->len;

  for (guint row = 0; row < ctl_table_rows (table); row++)
    {
      JsonObject *object = json_object_new ();
      for (guint column = 0; column < columns; column++)
        json_object_set_member (object, table->keys->pdata[column],
                                ctl_variant_to_json (g_array_index (table->cells, Cell, row * columns + column).value));
      json_array_add_object_element (rows, object);
    }
  json_node_take_array (node, rows);
  return node;
}

void
ctl_table_print (Ctl *ctl, CtlTable *table)
{
  guint columns = table->headers->len;
  guint rows = ctl_table_rows (table);
  g_autofree gsize *widths = g_new0 (gsize, columns);
  gboolean legend = !ctl->options.no_legend;

  if (ctl->options.json != CTL_JSON_OFF)
    {
      ctl_print_json (ctl, ctl_table_to_json (table));
      return;
    }
  for (guint column = 0; column < columns; column++)
    {
      if (legend)
        widths[column] = g_utf8_strlen (table->headers->pdata[column], -1);
      for (guint row = 0; row < rows; row++)
        widths[column] = MAX (
          widths[column], (gsize) g_utf8_strlen (g_array_index (table->cells, Cell, row * columns + column).text, -1));
    }

  if (legend)
    {
      fputs (ctl_color_on (ctl, CTL_COLOR_BOLD), stdout);
      for (guint column = 0; column < columns; column++)
        {
          const char *header = table->headers->pdata[column];
          if (column + 1 < columns)
            printf ("%s%*s ", header, (int) (widths[column] - g_utf8_strlen (header, -1)), "");
          else
            fputs (header, stdout);
        }
      printf ("%s\n", ctl_color_off (ctl, CTL_COLOR_BOLD));
    }
  for (guint row = 0; row < rows; row++)
    {
      for (guint column = 0; column < columns; column++)
        {
          const Cell *cell = &g_array_index (table->cells, Cell, row * columns + column);
          printf ("%s%s%s", ctl_color_on (ctl, cell->color), cell->text, ctl_color_off (ctl, cell->color));
          /* The last column is not padded, so lines carry no trailing blanks. */
          if (column + 1 < columns)
            printf ("%*s ", (int) (widths[column] - g_utf8_strlen (cell->text, -1)), "");
        }
      putchar ('\n');
    }
}
