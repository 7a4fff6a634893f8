/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's side of a plugin host: one hkp-plugin-host process running one
 * plugin instance, spoken to over a socket pair with the private protocol.
 * Every host has an I/O thread of its own that started the process (so
 * PR_SET_PDEATHSIG, which follows the thread that forked, fires only when the
 * daemon really goes), reads its answers, runs the callbacks, enforces the
 * deadlines and reaps it.  Functions may be called from any thread unless
 * said otherwise.
 */

#include <glib.h>

#include "hkp-health.h"

G_BEGIN_DECLS

/* A running plugin host; atomically reference-counted.  Dropping the last reference kills a host still running. */
typedef struct _HkpHost HkpHost;

typedef struct {
  const char *program; /* the hkp-plugin-host to exec */
  const char *plugin_name;
  const char *module_path; /* module file to load (the daemon passes its private copy) */
  const char *config_json;
  guint memory_max_mb; /* 0: no limit */
  guint init_timeout_ms; /* bound on exec + load + validate_config + init; 0: none */
  const char *const *environment; /* NULL: empty; tests may pass KEY=VALUE entries */
  /* Additions to the contract: */
  const char *display_path; /* the module's path in messages (the file the admin named); NULL: module_path */
  guint grace_ms; /* how long past its deadline a call may still run before the host is killed; 0: max(1 s, the
                     call's own timeout) */
} HkpHostSettings;

/*
 * Blocking, off the main thread: starts the host and creates the instance.
 * Returns a new host, or NULL with HKP_ERROR_INVALID_CONFIG, INIT_FAILED (the
 * plugin's message), MODULE, ABI_MISMATCH, TIMED_OUT, or FAILED saying how the
 * host ended ("plugin host killed by signal 11 (SIGSEGV) while starting").
 */
HkpHost *hkp_host_start (const HkpHostSettings *settings, GError **error);

/* Return the module's name, version and description from its descriptor, valid UTF-8, owned by host. */
const char *hkp_host_get_module_name (HkpHost *host);
const char *hkp_host_get_module_version (HkpHost *host);
const char *hkp_host_get_module_description (HkpHost *host);

/* Returns the host's process id (it stays valid, unreaped, until the host is seen to end). */
GPid hkp_host_get_pid (HkpHost *host);

/* A request to ask the plugin about; every string borrowed for the call (NULL reads as ""). */
typedef struct {
  const char *method;
  const char *path;
  const char *query;
  const char *client_address;
  const char *const *headers; /* name, value, …, NULL; may be NULL; at most 128 pairs are passed on */
} HkpHostRequest;

typedef enum {
  HKP_HOST_ANSWERED, /* the plugin answered */
  HKP_HOST_TIMED_OUT, /* the deadline passed first; the plugin's call is cancelled */
  HKP_HOST_GONE, /* the host ended (or had ended) before answering */
  HKP_HOST_BACKLOGGED, /* not sent: the host has not read what it was sent already (HKP_HOST_BACKLOG_MAX) */
} HkpHostOutcome;

/* Requests a host has not read yet are queued in the daemon up to this many bytes; beyond, they are refused. */
#define HKP_HOST_BACKLOG_MAX (16u << 20)

/* The outcome of one call; every string borrowed for the callback.  verdict, status, reason and headers are
 * meaningful only when outcome is HKP_HOST_ANSWERED. */
typedef struct {
  HkpHostOutcome outcome;
  int verdict; /* hkp_verdict as the plugin returned it (any other value is the plugin's error) */
  int status; /* the plugin's status, or 0 */
  const char *reason; /* valid UTF-8, "" if none */
  const char *const *headers; /* name, value, …, NULL: valid header names and values only */
} HkpHostAnswer;

typedef void (*HkpHostCallback) (const HkpHostAnswer *answer, gpointer user_data);

/*
 * Sends a request (pipelined, never blocking the caller); callback runs
 * exactly once: on the host's I/O thread with the answer, with TIMED_OUT as
 * soon as deadline (monotonic µs; G_MAXINT64 or 0: none) passes, or with GONE
 * when the host dies (or at once, in this call, if it is already gone or
 * stopping), or with BACKLOGGED at once, in this call, if the host is that
 * far behind in reading.  It may run before this function returns, on another thread,
 * and may let go of the caller's reference.  Returns the call's id.
 */
guint64 hkp_host_handle (HkpHost *host, const HkpHostRequest *request, gint64 deadline, HkpHostCallback callback,
                         gpointer user_data);

/* Makes the plugin's cancelled() true for call id; its callback still runs once, with whatever comes. */
void hkp_host_cancel (HkpHost *host, guint64 id);

/* Makes cancelled() true for every call in flight. */
void hkp_host_cancel_all (HkpHost *host);

/* health (status, message, checks, time of the check) is set only when outcome is HKP_HOST_ANSWERED. */
typedef void (*HkpHostHealthCallback) (HkpHostOutcome outcome, const HkpHealth *health, gpointer user_data);

/*
 * Asks health(); returns FALSE (callback not called) if one is still in
 * flight, even one whose callback already had TIMED_OUT.  Otherwise callback
 * runs once, as for hkp_host_handle().
 */
gboolean hkp_host_health (HkpHost *host, gint64 deadline, HkpHostHealthCallback callback, gpointer user_data);

/* Blocking, off the main thread: asks validate_config(json) of the loaded module.  FALSE with
 * HKP_ERROR_INVALID_CONFIG (the plugin's message), TIMED_OUT, or FAILED if the host is gone. */
gboolean hkp_host_validate_config (HkpHost *host, const char *json, guint timeout_ms, GError **error);

/*
 * Blocking, off the main thread: asks for shutdown(), which the host runs once
 * every call has returned, then exits; SIGKILL after timeout_ms.  Calls still
 * in flight are answered as they finish (GONE if it is killed), all before
 * this returns.  The exit handler is not called.  Not from one of this host's
 * callbacks.  Returns TRUE if the host exited with status 0 on its own (a
 * warning is logged otherwise).
 */
gboolean hkp_host_stop (HkpHost *host, guint timeout_ms);

/* SIGKILL now; the end is reported like any other (exit handler, GONE). */
void hkp_host_kill (HkpHost *host);

/*
 * Called once, on the I/O thread, when the host ends other than through
 * hkp_host_stop(): why is "killed by signal 11 (SIGSEGV)", "exited with status
 * 3", "system call socket is not allowed in the plugin host (seccomp)", or
 * "killed: handle() did not return within N ms of its deadline"; in_flight is
 * how many calls were answered GONE because of it.
 */
typedef void (*HkpHostExitFunc) (HkpHost *host, const char *why, guint in_flight, gpointer user_data);

/* Sets the exit handler; if the host has already ended unreported, func runs at once, in this thread. */
void hkp_host_set_exit_handler (HkpHost *host, HkpHostExitFunc func, gpointer user_data);

/* Like hkp_host_set_exit_handler(), once per host; destroy (may be NULL) frees user_data when the host goes. */
void hkp_host_set_exit_handler_full (HkpHost *host, HkpHostExitFunc func, gpointer user_data, GDestroyNotify destroy);

/* Returns why the host ended ("exited with status 0" after a clean stop), or NULL while it runs; caller frees. */
char *hkp_host_dup_end (HkpHost *host);

/* Returns a new reference to host. */
HkpHost *hkp_host_ref (HkpHost *host);

/* Drops a reference; the last one kills a host still running (stop it first to shut the plugin down). */
void hkp_host_unref (HkpHost *host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpHost, hkp_host_unref)

G_END_DECLS
