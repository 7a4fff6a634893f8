/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-host-protocol.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_NAME_MAX 256
#define HEADER_VALUE_MAX 4096

/*
 * The schemas, one place for the layout of every record: q a u64 (the id,
 * first when present), u a u32, s a string, P a list of (string, string),
 * C a list of health checks (u8 kind, string key, then a string for kind 0
 * or a u64 for kind 1).
 */
typedef struct {
  const char *name;
  const char *schema;
} RecordKind;

static const RecordKind *
record_kind (uint8_t type)
{
  static const RecordKind daemon_side[] = {
    [HKP_HOST_MSG_HELLO] = { "HELLO", "uuuussss" }, [HKP_HOST_MSG_REQUEST] = { "REQUEST", "qssssP" },
    [HKP_HOST_MSG_CANCEL] = { "CANCEL", "q" },      [HKP_HOST_MSG_CANCEL_ALL] = { "CANCEL_ALL", "" },
    [HKP_HOST_MSG_HEALTH] = { "HEALTH", "q" },      [HKP_HOST_MSG_VALIDATE] = { "VALIDATE", "qs" },
    [HKP_HOST_MSG_SHUTDOWN] = { "SHUTDOWN", "" },
  };
  static const RecordKind host_side[] = {
    [HKP_HOST_MSG_HOST_HELLO - 32] = { "HOST_HELLO", "uu" },
    [HKP_HOST_MSG_READY - 32] = { "READY", "sss" },
    [HKP_HOST_MSG_FAILED - 32] = { "FAILED", "us" },
    [HKP_HOST_MSG_ANSWER - 32] = { "ANSWER", "quusP" },
    [HKP_HOST_MSG_HEALTH_REPORT - 32] = { "HEALTH_REPORT", "qusC" },
    [HKP_HOST_MSG_VALIDATED - 32] = { "VALIDATED", "qus" },
    [HKP_HOST_MSG_LOG - 32] = { "LOG", "uss" },
    [HKP_HOST_MSG_SECCOMP - 32] = { "SECCOMP", "uu" },
  };
  const RecordKind *kind = NULL;

  if (type < sizeof daemon_side / sizeof daemon_side[0])
    kind = &daemon_side[type];
  else if (type >= 32 && type - 32u < sizeof host_side / sizeof host_side[0])
    kind = &host_side[type - 32];
  return kind != NULL && kind->schema != NULL ? kind : NULL;
}

const char *
hkp_host_record_type_name (uint8_t type)
{
  const RecordKind *kind = record_kind (type);

  return kind != NULL ? kind->name : NULL;
}

void
hkp_host_record_init (HkpHostRecord *record, uint8_t type)
{
  memset (record, 0, sizeof *record);
  record->type = type;
}

HkpHostString
hkp_host_string (const char *text)
{
  HkpHostString s = { text != NULL ? text : "", 0 };
  size_t len = strlen (s.str);

  s.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t) len;
  return s;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
  const char *problem;
} Reader;

static int
read_u8 (Reader *r, uint8_t *out)
{
  if (r->end - r->p < 1)
    return r->problem = "record ends inside a number", -1;
  *out = *r->p++;
  return 0;
}

static int
read_u32 (Reader *r, uint32_t *out)
{
  if (r->end - r->p < 4)
    return r->problem = "record ends inside a number", -1;
  *out = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16 | (uint32_t) r->p[3] << 24;
  r->p += 4;
  return 0;
}

static int
read_u64 (Reader *r, uint64_t *out)
{
  uint32_t low, high;

  if (read_u32 (r, &low) < 0 || read_u32 (r, &high) < 0)
    return -1;
  *out = (uint64_t) high << 32 | low;
  return 0;
}

static int
read_string (Reader *r, HkpHostString *out)
{
  uint32_t len;

  if (read_u32 (r, &len) < 0)
    return -1;
  /* len + 1 cannot overflow a size_t; the NUL must be inside the record too. */
  if ((size_t) (r->end - r->p) < (size_t) len + 1)
    return r->problem = "string runs past the end of the record", -1;
  if (r->p[len] != '\0')
    return r->problem = "string is not NUL-terminated", -1;
  if (memchr (r->p, '\0', len) != NULL)
    return r->problem = "string holds a NUL", -1;
  out->str = (const char *) r->p;
  out->len = len;
  r->p += (size_t) len + 1;
  return 0;
}

static int
read_items (Reader *r, HkpHostRecord *record, int checks)
{
  uint32_t count;

  if (read_u32 (r, &count) < 0)
    return -1;
  if (count > HKP_HOST_ITEMS_MAX)
    return r->problem = "list has too many elements", -1;
  for (uint32_t i = 0; i < count; i++)
    {
      HkpHostItem *item = &record->items[i];
      uint8_t kind = 0;

      memset (item, 0, sizeof *item);
      if (checks && read_u8 (r, &kind) < 0)
        return -1;
      if (kind > 1)
        return r->problem = "health check of unknown kind", -1;
      if (read_string (r, &item->name) < 0)
        return -1;
      if (kind == 0 && read_string (r, &item->value) < 0)
        return -1;
      if (kind == 1)
        {
          uint64_t number;
          if (read_u64 (r, &number) < 0)
            return -1;
          item->number = (int64_t) number;
          item->is_number = 1;
          item->value.str = "";
        }
    }
  record->n_items = count;
  return 0;
}

HkpHostDecodeResult
hkp_host_record_decode (const uint8_t *data, size_t len, HkpHostRecord *record, size_t *consumed, const char **problem)
{
  const RecordKind *kind;
  uint32_t length;
  unsigned n_nums = 0, n_strs = 0;
  Reader r;

  if (problem != NULL)
    *problem = NULL;
  *consumed = HKP_HOST_RECORD_HEADER;
  if (len < 4)
    return HKP_HOST_DECODE_SHORT;
  length = (uint32_t) data[0] | (uint32_t) data[1] << 8 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 24;
  if (length < 1 || length > HKP_HOST_RECORD_MAX)
    {
      if (problem != NULL)
        *problem = length < 1 ? "record without a type" : "record longer than the maximum";
      return HKP_HOST_DECODE_INVALID;
    }
  *consumed = 4 + (size_t) length;
  if (len < *consumed)
    return HKP_HOST_DECODE_SHORT;

  hkp_host_record_init (record, data[4]);
  kind = record_kind (data[4]);
  if (kind == NULL)
    {
      if (problem != NULL)
        *problem = "record of unknown type";
      return HKP_HOST_DECODE_INVALID;
    }
  r = (Reader){ .p = data + HKP_HOST_RECORD_HEADER, .end = data + *consumed };

  /* The version comes first in both HELLOs, whatever the rest of another version's layout. */
  if (record->type == HKP_HOST_MSG_HELLO || record->type == HKP_HOST_MSG_HOST_HELLO)
    {
      if (read_u32 (&r, &record->nums[0]) < 0)
        goto invalid;
      if (record->nums[0] != HKP_HOST_PROTOCOL_VERSION)
        return HKP_HOST_DECODE_VERSION;
      n_nums = 1;
    }
  for (const char *s = kind->schema + n_nums; *s != '\0'; s++)
    {
      int ok;
      switch (*s)
        {
        case 'q':
          ok = read_u64 (&r, &record->id);
          break;
        case 'u':
          ok = read_u32 (&r, &record->nums[n_nums++]);
          break;
        case 's':
          ok = read_string (&r, &record->strs[n_strs++]);
          break;
        case 'P':
        case 'C':
        default:
          ok = read_items (&r, record, *s == 'C');
          break;
        }
      if (ok < 0)
        goto invalid;
    }
  if (r.p != r.end)
    {
      r.problem = "record has trailing bytes";
      goto invalid;
    }
  return HKP_HOST_DECODE_OK;

invalid:
  if (problem != NULL)
    *problem = r.problem;
  return HKP_HOST_DECODE_INVALID;
}

/* ---- encoding ----------------------------------------------------------- */

int
hkp_host_buf_reserve (HkpHostBuf *buf, size_t n)
{
  size_t cap = buf->cap != 0 ? buf->cap : 256;
  uint8_t *data;

  if (n > SIZE_MAX / 2 - buf->len)
    return -1;
  if (buf->len + n <= buf->cap)
    return 0;
  while (cap < buf->len + n)
    cap *= 2;
  data = realloc (buf->data, cap);
  if (data == NULL)
    return -1;
  buf->data = data;
  buf->cap = cap;
  return 0;
}

void
hkp_host_buf_consume (HkpHostBuf *buf, size_t n)
{
  if (n >= buf->len)
    buf->len = 0;
  else
    {
      memmove (buf->data, buf->data + n, buf->len - n);
      buf->len -= n;
    }
}

void
hkp_host_buf_clear (HkpHostBuf *buf)
{
  free (buf->data);
  memset (buf, 0, sizeof *buf);
}

static void
put_u8 (HkpHostBuf *buf, uint8_t value)
{
  buf->data[buf->len++] = value;
}

static void
put_u32 (HkpHostBuf *buf, uint32_t value)
{
  for (int i = 0; i < 4; i++)
    buf->data[buf->len++] = (uint8_t) (value >> (8 * i));
}

static void
put_u64 (HkpHostBuf *buf, uint64_t value)
{
  put_u32 (buf, (uint32_t) value);
  put_u32 (buf, (uint32_t) (value >> 32));
}

static void
put_string (HkpHostBuf *buf, HkpHostString s)
{
  put_u32 (buf, s.len);
  if (s.len > 0)
    memcpy (buf->data + buf->len, s.str, s.len);
  buf->len += s.len;
  put_u8 (buf, 0);
}

/* Returns the encoded size of a string, or 0 if it cannot be encoded (holds a NUL). */
static size_t
string_size (HkpHostString s)
{
  if (s.len > 0 && (s.str == NULL || memchr (s.str, '\0', s.len) != NULL))
    return 0;
  return 4 + (size_t) s.len + 1;
}

/* Returns the payload size of record under schema, or 0 if it cannot be encoded. */
static size_t
payload_size (const HkpHostRecord *record, const char *schema)
{
  size_t size = 0, one;
  unsigned n_strs = 0;

  for (const char *s = schema; *s != '\0'; s++)
    switch (*s)
      {
      case 'q':
        size += 8;
        break;
      case 'u':
        size += 4;
        break;
      case 's':
        if ((one = string_size (record->strs[n_strs++])) == 0)
          return 0;
        size += one;
        break;
      default:
        if (record->n_items > HKP_HOST_ITEMS_MAX)
          return 0;
        size += 4;
        for (uint32_t i = 0; i < record->n_items; i++)
          {
            const HkpHostItem *item = &record->items[i];
            int number = *s == 'C' && item->is_number;
            if ((one = string_size (item->name)) == 0)
              return 0;
            size += one + (*s == 'C' ? 1 : 0);
            if (number)
              size += 8;
            else if ((one = string_size (item->value)) == 0)
              return 0;
            else
              size += one;
          }
        if (size > HKP_HOST_RECORD_MAX)
          return 0;
        break;
      }
  return size;
}

int
hkp_host_record_encode (HkpHostBuf *buf, const HkpHostRecord *record)
{
  const RecordKind *kind = record_kind (record->type);
  unsigned n_nums = 0, n_strs = 0;
  size_t size;

  if (kind == NULL)
    return -1;
  /* Every string counts at least 5 bytes, so 0 means "cannot encode" unless the schema is empty. */
  size = payload_size (record, kind->schema);
  if ((size == 0 && kind->schema[0] != '\0') || size + 1 > HKP_HOST_RECORD_MAX)
    return -1;
  if (hkp_host_buf_reserve (buf, 4 + 1 + size) < 0)
    return -1;
  put_u32 (buf, (uint32_t) (1 + size));
  put_u8 (buf, record->type);
  for (const char *s = kind->schema; *s != '\0'; s++)
    switch (*s)
      {
      case 'q':
        put_u64 (buf, record->id);
        break;
      case 'u':
        put_u32 (buf, record->nums[n_nums++]);
        break;
      case 's':
        put_string (buf, record->strs[n_strs++]);
        break;
      default:
        put_u32 (buf, record->n_items);
        for (uint32_t i = 0; i < record->n_items; i++)
          {
            const HkpHostItem *item = &record->items[i];
            int number = *s == 'C' && item->is_number;
            if (*s == 'C')
              put_u8 (buf, number ? 1 : 0);
            put_string (buf, item->name);
            if (number)
              put_u64 (buf, (uint64_t) item->number);
            else
              put_string (buf, item->value);
          }
        break;
      }
  return 0;
}

/* ---- text checks -------------------------------------------------------- */

int
hkp_host_utf8_valid (const char *text, size_t len)
{
  const unsigned char *p = (const unsigned char *) text, *end = p + len;

  while (p < end)
    {
      unsigned c = *p, need;
      uint32_t cp, min;

      if (c < 0x80)
        {
          p++;
          continue;
        }
      if (c >= 0xC2 && c <= 0xDF)
        need = 1, cp = c & 0x1F, min = 0x80;
      else if (c >= 0xE0 && c <= 0xEF)
        need = 2, cp = c & 0x0F, min = 0x800;
      else if (c >= 0xF0 && c <= 0xF4)
        need = 3, cp = c & 0x07, min = 0x10000;
      else
        return 0;
      if ((size_t) (end - p) <= need)
        return 0;
      for (unsigned i = 1; i <= need; i++)
        {
          if ((p[i] & 0xC0) != 0x80)
            return 0;
          cp = cp << 6 | (p[i] & 0x3F);
        }
      if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
      p += need + 1;
    }
  return 1;
}

int
hkp_host_header_name_valid (const char *name)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";
  size_t len = 0;

  if (name == NULL)
    return 0;
  for (const char *p = name; *p != '\0'; p++, len++)
    {
      char c = *p;
      int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && strchr (extra, c) == NULL)
        return 0;
    }
  return len > 0 && len <= HEADER_NAME_MAX;
}

int
hkp_host_header_value_valid (const char *value)
{
  size_t len;

  if (value == NULL)
    return 0;
  len = strlen (value);
  if (len > HEADER_VALUE_MAX || !hkp_host_utf8_valid (value, len))
    return 0;
  /* RFC 9110: no control character but HTAB (nginx passes Retry-After on to the client as it is). */
  for (const unsigned char *p = (const unsigned char *) value; *p != '\0'; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
      return 0;
  return 1;
}
