/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-json.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (hkp - json - error - quark, hkp_json_error)

/*
 * Strict parsing is a validating pass over the text, then json-glib builds
 * the tree.  json-glib alone accepts a second document after the first
 * (and drops it), cuts strings at \u0000 and keeps the last of two equal
 * keys: each would let what we store differ from what was sent.
 */

#define SHOWN_KEY_MAX 64

typedef struct {
  const char *data;
  gsize len;
  gsize pos;
  guint depth;
  guint max_depth;
  GError **error;
} Scanner;

/* Sets the error at byte offset at, as "LINE:COLUMN: message"; returns FALSE. */
static gboolean G_GNUC_PRINTF (4, 5) fail_at (Scanner *s, gsize at, HkpJsonError code, const char *format, ...)
{
  g_autofree char *message = NULL;
  guint line = 1, column = 1;
  va_list ap;

  for (gsize i = 0; i < at && i < s->len; i++)
    {
      if (s->data[i] == '\n')
        {
          line++;
          column = 1;
        }
      else if ((s->data[i] & 0xC0) != 0x80)
        column++;
    }
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (s->error, HKP_JSON_ERROR, code, "%u:%u: %s", line, column, message);
  return FALSE;
}

/* Reports what stands at pos where expected should be. */
static gboolean
unexpected (Scanner *s, const char *expected)
{
  unsigned char c;

  if (s->pos >= s->len)
    return fail_at (s, s->pos, HKP_JSON_ERROR_SYNTAX, "unexpected end of the data, expected %s", expected);
  c = (unsigned char) s->data[s->pos];
  if (c >= 0x20 && c < 0x7F)
    return fail_at (s, s->pos, HKP_JSON_ERROR_SYNTAX, "unexpected '%c', expected %s", c, expected);
  return fail_at (s, s->pos, HKP_JSON_ERROR_SYNTAX, "unexpected byte 0x%02X, expected %s", c, expected);
}

static void
skip_space (Scanner *s)
{
  while (s->pos < s->len)
    {
      char c = s->data[s->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        return;
      s->pos++;
    }
}

static gint
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads 4 hex digits at pos; returns the code unit or -1. */
static gint
read_hex4 (Scanner *s)
{
  gint value = 0;

  if (s->len - s->pos < 4)
    return -1;
  for (guint i = 0; i < 4; i++)
    {
      gint digit = hex_value (s->data[s->pos + i]);
      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  s->pos += 4;
  return value;
}

/*
 * Scans a string at pos (which holds '"'); with out, appends its decoded
 * text (for keys).  The data is valid UTF-8 already, so bytes above 0x7F
 * pass as they are.
 */
static gboolean
scan_string (Scanner *s, GString *out)
{
  gsize start = s->pos;

  s->pos++;
  for (;;)
    {
      unsigned char c;
      gsize escape_at;
      gint unit;

      if (s->pos >= s->len)
        return fail_at (s, start, HKP_JSON_ERROR_SYNTAX, "string never ends");
      c = (unsigned char) s->data[s->pos];
      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return fail_at (s, s->pos, HKP_JSON_ERROR_SYNTAX, "control character 0x%02X in a string (escape it)", c);
      if (c != '\\')
        {
          if (out != NULL)
            g_string_append_c (out, (char) c);
          s->pos++;
          continue;
        }
      escape_at = s->pos;
      s->pos++;
      if (s->pos >= s->len)
        return fail_at (s, start, HKP_JSON_ERROR_SYNTAX, "string never ends");
      c = (unsigned char) s->data[s->pos++];
      switch (c)
        {
        case '"':
        case '\\':
        case '/':
          if (out != NULL)
            g_string_append_c (out, (char) c);
          continue;
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          if (out != NULL)
            g_string_append_c (out, c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\t');
          continue;
        case 'u':
          break;
        default:
          /* The message goes back over D-Bus and HTTP: a byte that is not printable ASCII is named, not copied. */
          if (c >= 0x20 && c < 0x7F)
            return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid escape \\%c in a string", c);
          return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid escape: byte 0x%02X after a backslash",
                          (unsigned) c);
        }
      unit = read_hex4 (s);
      if (unit < 0)
        return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid \\u escape: four hex digits must follow");
      if (unit == 0)
        return fail_at (s, escape_at, HKP_JSON_ERROR_NUL, "NUL character (\\u0000) in a string");
      if (unit >= 0xDC00 && unit <= 0xDFFF)
        return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid \\u escape: a lone low surrogate");
      if (unit >= 0xD800 && unit <= 0xDBFF)
        {
          gint low;
          if (s->len - s->pos < 2 || s->data[s->pos] != '\\' || s->data[s->pos + 1] != 'u')
            return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid \\u escape: a lone high surrogate");
          s->pos += 2;
          low = read_hex4 (s);
          if (low < 0xDC00 || low > 0xDFFF)
            return fail_at (s, escape_at, HKP_JSON_ERROR_SYNTAX, "invalid \\u escape: a lone high surrogate");
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        }
      if (out != NULL)
        g_string_append_unichar (out, (gunichar) unit);
    }
}

static gboolean
scan_digits (Scanner *s)
{
  gsize start = s->pos;

  while (s->pos < s->len && g_ascii_isdigit (s->data[s->pos]))
    s->pos++;
  return s->pos > start;
}

/* json-glib reads numbers as gint64 or double: one that fits neither would come out changed (or as "inf"). */
static gboolean
number_fits (const char *text, gsize len, gboolean integral)
{
  g_autofree char *copy = g_strndup (text, len);
  gdouble value;

  if (integral)
    {
      gint64 integer;
      return g_ascii_string_to_signed (copy, 10, G_MININT64, G_MAXINT64, &integer, NULL);
    }
  value = g_ascii_strtod (copy, NULL);
  return isfinite (value);
}

static gboolean
scan_number (Scanner *s)
{
  gsize start = s->pos;
  gboolean integral = TRUE;

  if (s->data[s->pos] == '-')
    s->pos++;
  if (s->pos < s->len && s->data[s->pos] == '0')
    s->pos++;
  else if (!scan_digits (s))
    return unexpected (s, "a digit");
  if (s->pos < s->len && s->data[s->pos] == '.')
    {
      integral = FALSE;
      s->pos++;
      if (!scan_digits (s))
        return unexpected (s, "a digit after '.'");
    }
  if (s->pos < s->len && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E'))
    {
      integral = FALSE;
      s->pos++;
      if (s->pos < s->len && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
        s->pos++;
      if (!scan_digits (s))
        return unexpected (s, "a digit in the exponent");
    }
  if (!number_fits (s->data + start, s->pos - start, integral))
    return fail_at (s, start, HKP_JSON_ERROR_SYNTAX, "number out of range (%s)",
                    integral ? "integers are 64-bit" : "numbers are double precision");
  return TRUE;
}

static gboolean
scan_literal (Scanner *s, const char *word)
{
  gsize n = strlen (word);

  if (s->len - s->pos < n || memcmp (s->data + s->pos, word, n) != 0)
    return unexpected (s, "a value");
  s->pos += n;
  return TRUE;
}

static gboolean scan_value (Scanner *s);

static gboolean
enter (Scanner *s)
{
  if (++s->depth > s->max_depth)
    return fail_at (s, s->pos, HKP_JSON_ERROR_DEPTH, "nested deeper than %u levels", s->max_depth);
  s->pos++;
  skip_space (s);
  return TRUE;
}

static gboolean
scan_object (Scanner *s)
{
  g_autoptr (GHashTable) keys = NULL;

  if (!enter (s))
    return FALSE;
  if (s->pos < s->len && s->data[s->pos] == '}')
    {
      s->pos++;
      s->depth--;
      return TRUE;
    }
  keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (;;)
    {
      g_autoptr (GString) key = g_string_new (NULL);
      gsize key_at = s->pos;

      if (s->pos >= s->len || s->data[s->pos] != '"')
        return unexpected (s, "a key (a string)");
      if (!scan_string (s, key))
        return FALSE;
      if (g_hash_table_contains (keys, key->str))
        {
          g_autofree char *shown = g_utf8_make_valid (key->str, MIN (key->len, SHOWN_KEY_MAX));
          return fail_at (s, key_at, HKP_JSON_ERROR_DUPLICATE_KEY, "duplicate key \"%s%s\" in an object", shown,
                          key->len > SHOWN_KEY_MAX ? "…" : "");
        }
      g_hash_table_add (keys, g_string_free (g_steal_pointer (&key), FALSE));
      skip_space (s);
      if (s->pos >= s->len || s->data[s->pos] != ':')
        return unexpected (s, "':' after a key");
      s->pos++;
      if (!scan_value (s))
        return FALSE;
      if (s->pos < s->len && s->data[s->pos] == ',')
        {
          s->pos++;
          skip_space (s);
          continue;
        }
      if (s->pos < s->len && s->data[s->pos] == '}')
        {
          s->pos++;
          s->depth--;
          return TRUE;
        }
      return unexpected (s, "',' or '}'");
    }
}

static gboolean
scan_array (Scanner *s)
{
  if (!enter (s))
    return FALSE;
  if (s->pos < s->len && s->data[s->pos] == ']')
    {
      s->pos++;
      s->depth--;
      return TRUE;
    }
  for (;;)
    {
      if (!scan_value (s))
        return FALSE;
      if (s->pos < s->len && s->data[s->pos] == ',')
        {
          s->pos++;
          continue;
        }
      if (s->pos < s->len && s->data[s->pos] == ']')
        {
          s->pos++;
          s->depth--;
          return TRUE;
        }
      return unexpected (s, "',' or ']'");
    }
}

/* Scans white space, one value, white space. */
static gboolean
scan_value (Scanner *s)
{
  gboolean ok;

  skip_space (s);
  if (s->pos >= s->len)
    return unexpected (s, "a value");
  switch (s->data[s->pos])
    {
    case '{':
      ok = scan_object (s);
      break;
    case '[':
      ok = scan_array (s);
      break;
    case '"':
      ok = scan_string (s, NULL);
      break;
    case 't':
      ok = scan_literal (s, "true");
      break;
    case 'f':
      ok = scan_literal (s, "false");
      break;
    case 'n':
      ok = scan_literal (s, "null");
      break;
    default:
      if (s->data[s->pos] == '-' || g_ascii_isdigit (s->data[s->pos]))
        ok = scan_number (s);
      else
        ok = unexpected (s, "a value");
      break;
    }
  if (ok)
    skip_space (s);
  return ok;
}

JsonNode *
hkp_json_parse_strict (const char *data, gsize len, guint max_depth, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) parse_error = NULL;
  Scanner s = { .data = data, .len = len, .max_depth = max_depth, .error = error };
  const char *bad = NULL;

  if (!g_utf8_validate_len (data, len, &bad))
    {
      if (*bad == '\0')
        fail_at (&s, (gsize) (bad - data), HKP_JSON_ERROR_NUL, "NUL byte in the text");
      else
        fail_at (&s, (gsize) (bad - data), HKP_JSON_ERROR_UTF8, "not valid UTF-8");
      return NULL;
    }
  skip_space (&s);
  if (s.pos == len)
    {
      g_set_error (error, HKP_JSON_ERROR, HKP_JSON_ERROR_EMPTY, "no JSON value: the text is empty");
      return NULL;
    }
  if (!scan_value (&s))
    return NULL;
  if (s.pos < len)
    {
      fail_at (&s, s.pos, HKP_JSON_ERROR_TRAILING, "unexpected data after the JSON value");
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &parse_error))
    {
      /* Only if json-glib is stricter than RFC 8259 somewhere: say what it said. */
      const char *detail = parse_error->message;
      if (g_str_has_prefix (detail, "<data>:"))
        detail += strlen ("<data>:");
      g_set_error (error, HKP_JSON_ERROR, HKP_JSON_ERROR_SYNTAX, "%s", detail);
      return NULL;
    }
  return json_parser_steal_root (parser);
}

gboolean
hkp_json_depth_within (const char *data, gsize len, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            return FALSE;
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        default:
          break;
        }
    }
  return TRUE;
}

const char *
hkp_json_type_name (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "array";
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "string";
    case G_TYPE_BOOLEAN:
      return "boolean";
    case G_TYPE_INT64:
      return "integer";
    case G_TYPE_DOUBLE:
      return "number";
    default:
      return "value";
    }
}
