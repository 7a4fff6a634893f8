/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-plugin.h — the hkp-plugind plugin ABI, version 1.
 *
 * A plugin is a shared object that exports one function, hkp_plugin_entry(),
 * returning a pointer to a constant hkp_plugin_descriptor.  The host reads
 * abi_version and struct_size first and refuses the module, without calling
 * anything else in it, unless abi_version == HKP_PLUGIN_ABI_VERSION and
 * struct_size >= sizeof (hkp_plugin_descriptor).
 *
 * This header is plain C99 and uses no types from GLib or any other library,
 * so a plugin can be written in C or in any language with a C FFI.
 *
 * Threading
 *   - init, validate_config, health and shutdown are called on host worker
 *     threads, never on the daemon's main thread, one at a time per instance.
 *   - handle is called concurrently on several threads for the same instance:
 *     it must be thread-safe.  It may also run while health runs.
 *   - shutdown is called exactly once per successful init, after the last
 *     handle and health call on that instance has returned; no call is made
 *     into the instance afterwards.
 *
 * Ownership
 *   - Every string the host passes in is owned by the host and valid only for
 *     the duration of the call; copy what you keep.
 *   - Every string a plugin passes to a host callback (set_reason, add_header,
 *     set_message, add_check) is copied by the host before the callback
 *     returns.
 *   - The descriptor and the strings it points to are owned by the plugin and
 *     must stay valid while the module is loaded.
 *   - Error buffers are provided by the host; write a NUL-terminated message
 *     of at most error_size bytes (including the NUL).
 */
#ifndef HKP_PLUGIN_H
#define HKP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define HKP_PLUGIN_ABI_VERSION 1u

/* The name of the one symbol the host looks up in a plugin module. */
#define HKP_PLUGIN_ENTRY_SYMBOL "hkp_plugin_entry"

/* The size of the error buffers the host passes to init and validate_config. */
#define HKP_PLUGIN_ERROR_SIZE 1024u

#if defined(__GNUC__) || defined(__clang__)
#define HKP_PLUGIN_EXPORT __attribute__ ((visibility ("default")))
#else
#define HKP_PLUGIN_EXPORT
#endif

/* What a plugin decides about a request. */
typedef enum hkp_verdict {
  /* No opinion: ask the next plugin (all plugins continue → allowed). */
  HKP_VERDICT_CONTINUE = 0,
  /* Allow the request; no later plugin is asked. */
  HKP_VERDICT_ALLOW = 1,
  /* Deny the request; no later plugin is asked. */
  HKP_VERDICT_DENY = 2
  /* Any other value is treated as a plugin error: the plugin's failure_mode
   * decides (closed: deny with 503; open: skip the plugin). */
} hkp_verdict;

/* A plugin's own view of its health. */
typedef enum hkp_health_status {
  HKP_HEALTH_HEALTHY = 0,
  HKP_HEALTH_DEGRADED = 1,
  HKP_HEALTH_UNHEALTHY = 2
  /* Any other value is reported as unhealthy. */
} hkp_health_status;

typedef struct hkp_request hkp_request;
typedef struct hkp_response hkp_response;
typedef struct hkp_health_report hkp_health_report;

/*
 * A read-only view of the request being checked, valid only during handle().
 * Every string field is NUL-terminated and never NULL ("" when absent).
 */
struct hkp_request {
  /* sizeof (hkp_request) as the host built it; later ABI minors only append. */
  uint32_t struct_size;
  /* The original method, e.g. "GET". */
  const char *method;
  /* The original path, percent-encoding left as sent, without the query. */
  const char *path;
  /* The original query string without the leading '?', or "". */
  const char *query;
  /* The client's address as text ("192.0.2.1", "2001:db8::1"), or "". */
  const char *client_address;
  /*
   * Returns the value of the first header called name (ASCII
   * case-insensitive), or NULL if there is none.  The returned string is
   * owned by the host and valid until handle() returns.
   */
  const char *(*header) (const hkp_request *request, const char *name);
  /*
   * Returns non-zero once the host has cancelled this call (drain timeout,
   * shutdown, client gone).  A long-running handle() should poll it and
   * return soon after it turns non-zero; its verdict is then ignored.
   */
  int (*cancelled) (const hkp_request *request);
  /* Private to the host; do not touch. */
  void *host_private;
};

/*
 * The answer a plugin builds in handle().  status starts at 0, which means
 * "the host's default for the verdict" (200 for allow, 403 for deny).
 */
struct hkp_response {
  /* sizeof (hkp_response) as the host built it. */
  uint32_t struct_size;
  /* An HTTP status code (100–599) to use for the verdict, or 0. */
  int status;
  /*
   * Sets the human-readable reason for the verdict (copied; replaces any
   * earlier one).  Returns 0, or -1 if reason is NULL or not valid UTF-8.
   */
  int (*set_reason) (hkp_response *response, const char *reason);
  /*
   * Adds a header to send with the answer (both strings copied), e.g.
   * "Retry-After".  Returns 0, or -1 if the name is not an HTTP token, the
   * value holds CR, LF or NUL, or the host's limit on headers is reached.
   */
  int (*add_header) (hkp_response *response, const char *name, const char *value);
  /* Private to the host; do not touch. */
  void *host_private;
};

/* Where health() reports its details; valid only during health(). */
struct hkp_health_report {
  /* sizeof (hkp_health_report) as the host built it. */
  uint32_t struct_size;
  /* Sets a one-line message (copied).  Returns 0, or -1 if invalid. */
  int (*set_message) (hkp_health_report *report, const char *message);
  /* Adds a named check with a text value (copied).  Returns 0, or -1. */
  int (*add_check) (hkp_health_report *report, const char *key, const char *value);
  /* Adds a named check with an integer value.  Returns 0, or -1. */
  int (*add_check_int) (hkp_health_report *report, const char *key, int64_t value);
  /* Private to the host; do not touch. */
  void *host_private;
};

/* The constant description of a plugin module.  Fields are never reordered. */
typedef struct hkp_plugin_descriptor {
  /* Must be HKP_PLUGIN_ABI_VERSION. */
  uint32_t abi_version;
  /* Must be sizeof (hkp_plugin_descriptor). */
  uint32_t struct_size;
  /* The module's name, version and one-line description (UTF-8, not NULL). */
  const char *name;
  const char *version;
  const char *description;

  /*
   * Required.  Creates an instance from config_json, the plugin's "config"
   * object as JSON text (never NULL).  On success stores the instance (any
   * pointer, NULL allowed) in *instance and returns 0.  On failure writes a
   * message to error and returns non-zero; nothing is to be shut down then.
   * The host bounds the time init may take; an init that overruns is
   * abandoned and, if it ever returns successfully, shut down at once.
   */
  int (*init) (const char *config_json, void **instance, char *error, size_t error_size);

  /*
   * Optional (may be NULL).  Checks config_json without creating anything.
   * Returns 0 if acceptable; otherwise writes a message naming the bad key to
   * error and returns non-zero.
   */
  int (*validate_config) (const char *config_json, char *error, size_t error_size);

  /*
   * Required, thread-safe.  Decides about one request.  Returns a verdict
   * and may fill response.  Must not keep request or response after
   * returning.
   */
  hkp_verdict (*handle) (void *instance, const hkp_request *request, hkp_response *response);

  /*
   * Optional (may be NULL: the plugin is then reported healthy while
   * active).  Returns the instance's health and may fill report.  The host
   * bounds the time it may take; an overrun counts as unhealthy.
   */
  hkp_health_status (*health) (void *instance, hkp_health_report *report);

  /* Required.  Releases everything init created for instance. */
  void (*shutdown) (void *instance);
} hkp_plugin_descriptor;

/* The type of the entry function. */
typedef const hkp_plugin_descriptor *(*hkp_plugin_entry_func) (void);

/*
 * Every plugin module defines this function, returning its constant
 * descriptor.  It must not call anything else or allocate: the host calls it
 * before it has checked the ABI version.
 */
HKP_PLUGIN_EXPORT const hkp_plugin_descriptor *hkp_plugin_entry (void);

#ifdef __cplusplus
}
#endif

#endif /* HKP_PLUGIN_H */
