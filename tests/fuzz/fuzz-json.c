/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the strict JSON parser every outside text goes through
 * (plugin files, SetConfig, PUT bodies) must never crash or leak; what it
 * refuses it says why in valid UTF-8; and what it accepts must be strict
 * indeed: written out again, it parses again to the same text, and a second
 * document after it is refused.
 */
#include <stdint.h>
#include <string.h>

#include "hkp-json.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = hkp_json_parse_strict ((const char *) data, size, 32, &error);
  g_autoptr (JsonNode) again = NULL;
  g_autoptr (JsonNode) doubled = NULL;
  g_autofree char *text = NULL, *text_again = NULL, *twice = NULL;

  if (node == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == HKP_JSON_ERROR);
      /* The message goes back to whoever sent the text, over D-Bus (which takes only UTF-8) and HTTP. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);
  text = hkp_json_to_string (node);
  again = hkp_json_parse_strict (text, strlen (text), 32, &error);
  g_assert_no_error (error);
  text_again = hkp_json_to_string (again);
  g_assert_cmpstr (text, ==, text_again);
  twice = g_strconcat (text, " ", text, NULL);
  doubled = hkp_json_parse_strict (twice, strlen (twice), 32, &error);
  g_assert_null (doubled);
  g_assert_error (error, HKP_JSON_ERROR, HKP_JSON_ERROR_TRAILING);
  return 0;
}
