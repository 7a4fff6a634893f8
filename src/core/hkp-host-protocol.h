/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The private protocol between the daemon and hkp-plugin-host, over one
 * stream socket.  Plain C (no GLib), so the host links it alone.
 *
 * A record is a u32 length (little-endian; the bytes after it), a u8 type and
 * a payload laid out by the type's schema: u32 and u64 numbers
 * (little-endian), strings (u32 length, the bytes, a NUL that the length does
 * not count; no NUL inside) and lists (u32 count, then the elements).  The
 * framing and the u32 version first in both HELLO records never change, so
 * two sides of different versions can always tell each other so.
 *
 * The conversation: each side sends HELLO first.  The host then answers READY
 * or FAILED once it has loaded the module and run validate_config and init;
 * after READY the daemon sends REQUEST, CANCEL, CANCEL_ALL, HEALTH, VALIDATE
 * and finally SHUTDOWN, and the host sends ANSWER, HEALTH_REPORT, VALIDATED
 * and, at any time, LOG and SECCOMP.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HKP_HOST_PROTOCOL_VERSION 1u

/* The length prefix and the type byte. */
#define HKP_HOST_RECORD_HEADER 5u
/* The most bytes a record's length may announce (type and payload): a config can be large. */
#define HKP_HOST_RECORD_MAX (16u * 1024u * 1024u)
/* The longest message a host sends (a failure, a refused config) that the daemon keeps, in bytes. */
#define HKP_HOST_MESSAGE_MAX 2048u
/* The most numbers, strings and list elements one record carries. */
#define HKP_HOST_NUMS_MAX 4u
#define HKP_HOST_STRS_MAX 4u
#define HKP_HOST_ITEMS_MAX 128u

typedef enum {
  /* daemon → host */
  HKP_HOST_MSG_HELLO = 1, /* version, memory_max_mb, daemon_pid, flags; plugin, module path, display path, config */
  HKP_HOST_MSG_REQUEST = 2, /* id; method, path, query, client address; headers */
  HKP_HOST_MSG_CANCEL = 3, /* id */
  HKP_HOST_MSG_CANCEL_ALL = 4, /* nothing */
  HKP_HOST_MSG_HEALTH = 5, /* id */
  HKP_HOST_MSG_VALIDATE = 6, /* id; config */
  HKP_HOST_MSG_SHUTDOWN = 7, /* nothing */
  /* host → daemon */
  HKP_HOST_MSG_HOST_HELLO = 32, /* version, pid */
  HKP_HOST_MSG_READY = 33, /* module name, version, description */
  HKP_HOST_MSG_FAILED = 34, /* HkpHostFailure; message */
  HKP_HOST_MSG_ANSWER = 35, /* id; verdict, status; reason; headers */
  HKP_HOST_MSG_HEALTH_REPORT = 36, /* id; status; message; checks */
  HKP_HOST_MSG_VALIDATED = 37, /* id; ok (0 or 1); message */
  HKP_HOST_MSG_LOG = 38, /* syslog priority (0–7); GLib log domain, message */
  HKP_HOST_MSG_SECCOMP = 39, /* syscall number, audit arch */
} HkpHostRecordType;

/* HELLO's flags. */
#define HKP_HOST_FLAG_NO_SECCOMP 1u /* for debugging a plugin under a tracer; never set by the daemon */

/* Why a host could not start an instance (FAILED). */
typedef enum {
  HKP_HOST_FAILURE_SETUP = 1, /* the host itself could not set up (limits, seccomp, threads) */
  HKP_HOST_FAILURE_PROTOCOL = 2, /* the daemon speaks another protocol version */
  HKP_HOST_FAILURE_MODULE = 3, /* not loadable, no entry symbol, bad descriptor */
  HKP_HOST_FAILURE_ABI_MISMATCH = 4, /* built for another plugin ABI */
  HKP_HOST_FAILURE_INVALID_CONFIG = 5, /* validate_config refused */
  HKP_HOST_FAILURE_INIT = 6, /* init refused */
} HkpHostFailure;

/* Indices into HkpHostRecord.nums and .strs, per type. */
enum {
  HKP_HOST_HELLO_VERSION = 0, /* nums, in both HELLOs */
  HKP_HOST_HELLO_MEMORY_MAX_MB = 1,
  HKP_HOST_HELLO_DAEMON_PID = 2,
  HKP_HOST_HELLO_FLAGS = 3,
  HKP_HOST_HELLO_PLUGIN = 0, /* strs */
  HKP_HOST_HELLO_MODULE_PATH = 1,
  HKP_HOST_HELLO_DISPLAY_PATH = 2,
  HKP_HOST_HELLO_CONFIG = 3,
  HKP_HOST_HOST_HELLO_PID = 1, /* nums */
  HKP_HOST_READY_NAME = 0, /* strs */
  HKP_HOST_READY_VERSION = 1,
  HKP_HOST_READY_DESCRIPTION = 2,
  HKP_HOST_REQUEST_METHOD = 0, /* strs */
  HKP_HOST_REQUEST_PATH = 1,
  HKP_HOST_REQUEST_QUERY = 2,
  HKP_HOST_REQUEST_CLIENT = 3,
  HKP_HOST_ANSWER_VERDICT = 0, /* nums */
  HKP_HOST_ANSWER_STATUS = 1,
};

/* A string inside a decoded buffer (NUL-terminated there) or to encode. */
typedef struct {
  const char *str;
  uint32_t len;
} HkpHostString;

/* A list element: a header (name, value) or a health check (name and value or number). */
typedef struct {
  HkpHostString name;
  HkpHostString value; /* "" for a number */
  int64_t number;
  uint8_t is_number;
} HkpHostItem;

/*
 * One record, generic over the schemas: the u64 (an id) if the type has one,
 * then its u32s, strings and list elements in schema order.  Decoded strings
 * point into the decoded buffer.
 */
typedef struct {
  uint8_t type;
  uint64_t id;
  uint32_t nums[HKP_HOST_NUMS_MAX];
  HkpHostString strs[HKP_HOST_STRS_MAX];
  uint32_t n_items;
  HkpHostItem items[HKP_HOST_ITEMS_MAX];
} HkpHostRecord;

typedef enum {
  HKP_HOST_DECODE_OK, /* a whole record: *consumed bytes of it */
  HKP_HOST_DECODE_SHORT, /* not yet a whole record: *consumed is how many bytes it needs at least */
  HKP_HOST_DECODE_INVALID, /* never valid, whatever follows: *problem says why */
  HKP_HOST_DECODE_VERSION, /* a HELLO of another version: record->type and nums[0] hold it */
} HkpHostDecodeResult;

/*
 * Decodes the record at the start of data[0..len).  Pure and total: it reads
 * nothing outside data, allocates nothing, and accepts only what
 * hkp_host_record_encode() produces (known type, exact layout, strings
 * NUL-terminated without NUL inside, counts within the maxima, no trailing
 * bytes).  problem (may be NULL) gets a static string.
 */
HkpHostDecodeResult hkp_host_record_decode (const uint8_t *data, size_t len, HkpHostRecord *record, size_t *consumed,
                                            const char **problem);

/* Clears record and sets its type. */
void hkp_host_record_init (HkpHostRecord *record, uint8_t type);

/* Returns a string view of text (NULL reads as ""). */
HkpHostString hkp_host_string (const char *text);

/* Returns the name of a record type ("REQUEST"), or NULL if unknown; static string. */
const char *hkp_host_record_type_name (uint8_t type);

/* A growable byte buffer (malloc'd). */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} HkpHostBuf;

/* Appends record, encoded, to buf.  Returns 0, or -1 (buf unchanged) if it is malformed, too large or memory ran out. */
int hkp_host_record_encode (HkpHostBuf *buf, const HkpHostRecord *record);

/* Makes room for n more bytes; returns 0 or -1. */
int hkp_host_buf_reserve (HkpHostBuf *buf, size_t n);

/* Drops the first n bytes. */
void hkp_host_buf_consume (HkpHostBuf *buf, size_t n);

/* Frees the buffer's memory and zeroes it. */
void hkp_host_buf_clear (HkpHostBuf *buf);

/* Returns 1 if text[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF), else 0. */
int hkp_host_utf8_valid (const char *text, size_t len);

/* Returns 1 if name is an HTTP header name (a token of 1–256 characters), else 0. */
int hkp_host_header_name_valid (const char *name);

/* Returns 1 if value is a header value we pass on: at most 4096 bytes of UTF-8, no control character but HTAB. */
int hkp_host_header_value_valid (const char *value);

#ifdef __cplusplus
}
#endif
