/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the host protocol decoder, on a stream of records.  It must
 * never read outside its input, and what it accepts must be exactly what the
 * encoder writes: every decoded record encodes back to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "hkp-host-protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_string (const HkpHostString *s, const uint8_t *start, const uint8_t *end)
{
  const uint8_t *p = (const uint8_t *) s->str;

  g_assert_true (p >= start && p + s->len < end);
  g_assert_cmpint (p[s->len], ==, '\0');
  g_assert_null (memchr (p, '\0', s->len));
}

static void
check_record (const HkpHostRecord *record, const uint8_t *data, size_t consumed)
{
  HkpHostBuf buf = { 0 };

  g_assert_nonnull (hkp_host_record_type_name (record->type));
  g_assert_cmpuint (record->n_items, <=, HKP_HOST_ITEMS_MAX);
  for (guint i = 0; i < HKP_HOST_STRS_MAX; i++)
    if (record->strs[i].str != NULL)
      check_string (&record->strs[i], data, data + consumed);
  for (guint i = 0; i < record->n_items; i++)
    {
      check_string (&record->items[i].name, data, data + consumed);
      if (!record->items[i].is_number)
        check_string (&record->items[i].value, data, data + consumed);
    }
  g_assert_cmpint (hkp_host_record_encode (&buf, record), ==, 0);
  g_assert_cmpmem (buf.data, buf.len, data, consumed);
  hkp_host_buf_clear (&buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  HkpHostRecord record;

  for (;;)
    {
      const char *problem = NULL;
      size_t consumed = 0;

      switch (hkp_host_record_decode (data, size, &record, &consumed, &problem))
        {
        case HKP_HOST_DECODE_OK:
          g_assert_cmpuint (consumed, >=, HKP_HOST_RECORD_HEADER);
          g_assert_cmpuint (consumed, <=, size);
          check_record (&record, data, consumed);
          data += consumed;
          size -= consumed;
          continue;
        case HKP_HOST_DECODE_SHORT:
          g_assert_cmpuint (consumed, >, size);
          g_assert_cmpuint (consumed, <=, 4 + (size_t) HKP_HOST_RECORD_MAX);
          return 0;
        case HKP_HOST_DECODE_VERSION:
          g_assert_true (record.type == HKP_HOST_MSG_HELLO || record.type == HKP_HOST_MSG_HOST_HELLO);
          g_assert_cmpuint (record.nums[0], !=, HKP_HOST_PROTOCOL_VERSION);
          return 0;
        case HKP_HOST_DECODE_INVALID:
        default:
          g_assert_nonnull (problem);
          return 0;
        }
    }
}
