/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host protocol's records: every type round-trips, and the decoder
 * refuses what the encoder never writes (unknown types, lengths past the
 * maximum, strings without their NUL or with one inside, lists too long,
 * trailing bytes), and tells another version's HELLO apart.
 */
#include <string.h>

#include <glib.h>

#include "hkp-host-protocol.h"

/* Encodes record and returns the bytes (caller frees). */
static GBytes *
encode (const HkpHostRecord *record)
{
  HkpHostBuf buf = { 0 };
  GBytes *bytes;

  g_assert_cmpint (hkp_host_record_encode (&buf, record), ==, 0);
  bytes = g_bytes_new (buf.data, buf.len);
  hkp_host_buf_clear (&buf);
  return bytes;
}

static HkpHostDecodeResult
decode (const guint8 *data, gsize len, HkpHostRecord *record, const char **problem)
{
  size_t consumed = 0;
  HkpHostDecodeResult result = hkp_host_record_decode (data, len, record, &consumed, problem);

  if (result == HKP_HOST_DECODE_OK)
    g_assert_cmpuint (consumed, ==, len);
  return result;
}

static void
test_round_trip (void)
{
  HkpHostRecord record, back;
  g_autoptr (GBytes) bytes = NULL;
  gsize len;
  const guint8 *data;

  hkp_host_record_init (&record, HKP_HOST_MSG_REQUEST);
  record.id = G_GUINT64_CONSTANT (0x1122334455667788);
  record.strs[HKP_HOST_REQUEST_METHOD] = hkp_host_string ("GET");
  record.strs[HKP_HOST_REQUEST_PATH] = hkp_host_string ("/pks/lookup");
  record.strs[HKP_HOST_REQUEST_QUERY] = hkp_host_string (NULL);
  record.strs[HKP_HOST_REQUEST_CLIENT] = hkp_host_string ("2001:db8::1");
  record.n_items = 2;
  record.items[0].name = hkp_host_string ("Host");
  record.items[0].value = hkp_host_string ("keys.example");
  record.items[1].name = hkp_host_string ("X-Empty");
  record.items[1].value = hkp_host_string ("");
  bytes = encode (&record);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpint (decode (data, len, &back, NULL), ==, HKP_HOST_DECODE_OK);
  g_assert_cmpuint (back.type, ==, HKP_HOST_MSG_REQUEST);
  g_assert_cmpuint (back.id, ==, record.id);
  g_assert_cmpstr (back.strs[HKP_HOST_REQUEST_METHOD].str, ==, "GET");
  g_assert_cmpstr (back.strs[HKP_HOST_REQUEST_PATH].str, ==, "/pks/lookup");
  g_assert_cmpstr (back.strs[HKP_HOST_REQUEST_QUERY].str, ==, "");
  g_assert_cmpstr (back.strs[HKP_HOST_REQUEST_CLIENT].str, ==, "2001:db8::1");
  g_assert_cmpuint (back.n_items, ==, 2);
  g_assert_cmpstr (back.items[0].name.str, ==, "Host");
  g_assert_cmpstr (back.items[0].value.str, ==, "keys.example");
  g_assert_cmpstr (back.items[1].value.str, ==, "");
  /* Every shorter prefix is incomplete, never wrong. */
  for (gsize cut = 0; cut < len; cut++)
    {
      size_t need = 0;
      g_assert_cmpint (hkp_host_record_decode (data, cut, &back, &need, NULL), ==, HKP_HOST_DECODE_SHORT);
      g_assert_cmpuint (need, >, cut);
    }

  g_clear_pointer (&bytes, g_bytes_unref);
  hkp_host_record_init (&record, HKP_HOST_MSG_HEALTH_REPORT);
  record.id = 3;
  record.nums[0] = 1;
  record.strs[0] = hkp_host_string ("cache cold");
  record.n_items = 2;
  record.items[0].name = hkp_host_string ("calls");
  record.items[0].is_number = 1;
  record.items[0].number = -42;
  record.items[1].name = hkp_host_string ("mode");
  record.items[1].value = hkp_host_string ("none");
  bytes = encode (&record);
  data = g_bytes_get_data (bytes, &len);
  g_assert_cmpint (decode (data, len, &back, NULL), ==, HKP_HOST_DECODE_OK);
  g_assert_true (back.items[0].is_number);
  g_assert_cmpint (back.items[0].number, ==, -42);
  g_assert_false (back.items[1].is_number);
  g_assert_cmpstr (back.items[1].value.str, ==, "none");
}

static void
test_refusals (void)
{
  HkpHostRecord record;
  const char *problem = NULL;
  /* CANCEL 7, as the encoder writes it. */
  guint8 cancel[] = { 9, 0, 0, 0, HKP_HOST_MSG_CANCEL, 7, 0, 0, 0, 0, 0, 0, 0 };
  guint8 buf[64];

  g_assert_cmpint (decode (cancel, sizeof cancel, &record, NULL), ==, HKP_HOST_DECODE_OK);
  g_assert_cmpuint (record.id, ==, 7);

  memcpy (buf, cancel, sizeof cancel);
  buf[4] = 99;
  g_assert_cmpint (decode (buf, sizeof cancel, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
  g_assert_cmpstr (problem, ==, "record of unknown type");

  /* A length past the maximum is refused at once, not waited for. */
  memcpy (buf, (guint8[]){ 0xff, 0xff, 0xff, 0x7f }, 4);
  g_assert_cmpint (decode (buf, 4, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
  g_assert_cmpstr (problem, ==, "record longer than the maximum");
  memcpy (buf, (guint8[]){ 0, 0, 0, 0 }, 4);
  g_assert_cmpint (decode (buf, 4, &record, &problem), ==, HKP_HOST_DECODE_INVALID);

  /* One byte more inside the record than the schema has. */
  memcpy (buf, cancel, sizeof cancel);
  buf[0] = 10;
  buf[sizeof cancel] = 0;
  g_assert_cmpint (decode (buf, sizeof cancel + 1, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
  g_assert_cmpstr (problem, ==, "record has trailing bytes");

  /* VALIDATE 1 "ab": then without its NUL, then with a NUL inside. */
  {
    guint8 validate[] = { 16, 0, 0, 0, HKP_HOST_MSG_VALIDATE, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 0 };
    g_assert_cmpint (decode (validate, sizeof validate, &record, NULL), ==, HKP_HOST_DECODE_OK);
    g_assert_cmpstr (record.strs[0].str, ==, "ab");
    validate[sizeof validate - 1] = 'c';
    g_assert_cmpint (decode (validate, sizeof validate, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
    g_assert_cmpstr (problem, ==, "string is not NUL-terminated");
    validate[sizeof validate - 1] = 0;
    validate[sizeof validate - 2] = 0;
    g_assert_cmpint (decode (validate, sizeof validate, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
    g_assert_cmpstr (problem, ==, "string holds a NUL");
    /* A string length that runs past the record. */
    validate[sizeof validate - 2] = 'b';
    validate[13] = 200;
    g_assert_cmpint (decode (validate, sizeof validate, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
    g_assert_cmpstr (problem, ==, "string runs past the end of the record");
  }

  /* ANSWER with a header list longer than the maximum. */
  {
    guint8 answer[] = { 1 + 8 + 4 + 4 + 5 + 4,
                        0,
                        0,
                        0,
                        HKP_HOST_MSG_ANSWER,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0xff,
                        0,
                        0,
                        0 };
    g_assert_cmpint (decode (answer, sizeof answer, &record, &problem), ==, HKP_HOST_DECODE_INVALID);
    g_assert_cmpstr (problem, ==, "list has too many elements");
  }

  /* Another version's HELLO: recognised by its version alone. */
  {
    guint8 hello[] = { 9, 0, 0, 0, HKP_HOST_MSG_HOST_HELLO, 2, 0, 0, 0, 'x', 'y', 'z', 0 };
    g_assert_cmpint (decode (hello, sizeof hello, &record, NULL), ==, HKP_HOST_DECODE_VERSION);
    g_assert_cmpuint (record.nums[0], ==, 2);
  }

  /* The encoder refuses what the decoder would. */
  {
    HkpHostBuf out = { 0 };
    hkp_host_record_init (&record, HKP_HOST_MSG_LOG);
    record.strs[1] = (HkpHostString){ "a\0b", 3 };
    g_assert_cmpint (hkp_host_record_encode (&out, &record), ==, -1);
    hkp_host_record_init (&record, 200);
    g_assert_cmpint (hkp_host_record_encode (&out, &record), ==, -1);
    g_assert_cmpuint (out.len, ==, 0);
    hkp_host_buf_clear (&out);
  }
}

static void
test_text (void)
{
  g_assert_true (hkp_host_utf8_valid ("caf\xc3\xa9 \xf0\x9f\x94\x91", 10));
  g_assert_false (hkp_host_utf8_valid ("\xc0\xaf", 2)); /* overlong */
  g_assert_false (hkp_host_utf8_valid ("\xed\xa0\x80", 3)); /* surrogate */
  g_assert_false (hkp_host_utf8_valid ("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
  g_assert_false (hkp_host_utf8_valid ("\xe2\x82", 2)); /* cut short */
  g_assert_true (hkp_host_header_name_valid ("Retry-After"));
  g_assert_false (hkp_host_header_name_valid ("Bad Name"));
  g_assert_false (hkp_host_header_name_valid (""));
  g_assert_true (hkp_host_header_value_valid ("7"));
  g_assert_false (hkp_host_header_value_valid ("a\r\nInjected: yes"));
  g_assert_false (hkp_host_header_value_valid ("5\x1b[31m"));
  g_assert_false (hkp_host_header_value_valid ("a\x7f"));
  g_assert_true (hkp_host_header_value_valid ("a\tb"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host-protocol/round-trip", test_round_trip);
  g_test_add_func ("/host-protocol/refusals", test_refusals);
  g_test_add_func ("/host-protocol/text", test_text);
  return g_test_run ();
}
