/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Inside an HkpHost, shared by hkp-host.c (the API) and hkp-host-io.c (the
 * I/O thread).  One lock per host guards the fields below; callbacks always
 * run without it, so they may call back in.  Calls in flight sit in `pending`
 * in deadline order (send order, in practice), so the I/O thread only ever
 * looks at the head; a call past its deadline moves to `overdue` until its
 * late answer comes or its grace runs out.  One timerfd, armed by whoever
 * makes an earlier deadline, wakes the I/O thread for deadlines without a
 * wake-up per call.
 */

#include "hkp-host.h"
#include "hkp-host-protocol.h"
#include "hkp-rate-limit.h"

G_BEGIN_DECLS

#define HKP_HOST_NO_DEADLINE G_MAXINT64
/* A plugin's log lines, warnings and worse apart from the rest: this many at once, then this many a second; the
 * lines beyond are dropped and counted. */
#define HKP_HOST_LOG_BURST 1000
#define HKP_HOST_LOG_RATE 200

typedef enum {
  HKP_HOST_STATE_STARTING,
  HKP_HOST_STATE_READY,
  HKP_HOST_STATE_ENDED,
} HkpHostState;

typedef struct {
  GList link; /* in pending or overdue; data is the call */
  guint64 id;
  gint64 sent;
  gint64 deadline;
  gint64 kill_at; /* once overdue */
  HkpHostCallback callback;
  gpointer user_data;
} HkpHostCall;

typedef struct {
  guint64 id;
  gboolean done;
  gboolean ok;
  char *message;
} HkpHostValidation;

struct _HkpHost {
  gint ref_count;
  GMutex lock;
  GCond cond; /* state, validations, the I/O thread's end */

  char *program;
  char *plugin_name;
  char *module_path;
  char *display_path;
  char *config_json;
  GStrv environment;
  guint memory_max_mb;
  guint grace_ms;

  GThread *io_thread;
  int fd; /* our end, non-blocking */
  int child_fd; /* the host's end, until it is started */
  int wake_fd;
  int timer_fd;
  int pidfd;
  GPid pid;

  HkpHostState state;
  GError *start_error;
  char *name, *version, *description;

  guint64 next_id;
  GHashTable *calls; /* id → HkpHostCall, pending or overdue */
  GQueue pending; /* by deadline */
  GQueue overdue; /* by kill_at */
  gint64 timer_at; /* when the timer fires next, HKP_HOST_NO_DEADLINE if disarmed */
  HkpHostBuf out; /* not yet written */

  gboolean writing; /* a thread is writing out, without the lock */
  gsize out_writing; /* bytes that thread took from out and has not written yet */

  gboolean health_in_flight;
  guint64 health_id;
  gint64 health_deadline;
  HkpHostHealthCallback health_callback; /* NULL once called */
  gpointer health_data;

  GList *validations; /* HkpHostValidation, borrowed from their waiting callers */

  gboolean stopping;
  gboolean kill_requested; /* before the process existed */
  gboolean abandoned; /* the last reference went while the I/O thread ran */
  char *kill_reason; /* why we killed it, if we did */
  gint64 write_broken_at; /* monotonic µs a send failed for good (0: never): nothing more is sent */
  char *seccomp_why;
  char *end; /* how it ended, once reaped */
  int wait_status;
  HkpHostExitFunc exit_func;
  gpointer exit_data;
  GDestroyNotify exit_destroy; /* frees exit_data with the host */
  gboolean exit_pending; /* ended unreported, for lack of a handler */
  guint exit_in_flight;
  gboolean io_done;

  /* The plugin's log lines (the I/O thread's alone): warnings and worse have a bucket of their own, so that chatter
   * cannot crowd them out; what overflows is counted, and said within a second. */
  HkpRateLimit log_urgent, log_chatty;
  gint64 log_report_at; /* monotonic µs when the count is to be said, 0 while nothing is dropped */
};

/* Queues an encoded record, or a record (lock held); hkp_host_flush() writes them once the lock is released. */
void hkp_host_queue_bytes_locked (HkpHost *host, const guint8 *data, gsize len);
void hkp_host_queue_record_locked (HkpHost *host, const HkpHostRecord *record);

/* Queues a record of type with only an id (CANCEL, HEALTH, SHUTDOWN…) (lock held). */
void hkp_host_queue_simple_locked (HkpHost *host, HkpHostRecordType type, guint64 id);

/* Writes what is queued without blocking, unless another thread is at it; the I/O thread writes the rest.
 * Lock not held. */
void hkp_host_flush (HkpHost *host);

/* Writes what is queued for host as hkp_host_flush() does: now, or on an I/O thread handling records it read together,
 * once it has handled them.  Takes a reference to host. */
void hkp_host_flush_soon (HkpHost *host);

/* Makes the I/O thread's timer fire at when (monotonic µs), if that is earlier than it would (lock held). */
void hkp_host_arm_timer_locked (HkpHost *host, gint64 when);

/* Inserts call into queue ordered by the gint64 at key_offset in it (deadline or kill_at). */
void hkp_host_insert_ordered (GQueue *queue, HkpHostCall *call, gsize key_offset);

/* Kills the host (lock held); reason, if not NULL, becomes why it ended. */
void hkp_host_kill_locked (HkpHost *host, const char *reason);

/* Runs callback with a GONE answer. */
void hkp_host_answer_gone (HkpHostCallback callback, gpointer user_data);

/* Sets the error hkp_host_start() returns, unless one is set already (takes error). */
void hkp_host_set_start_error (HkpHost *host, GError *error);

/* Kills a host that broke the protocol, saying so; returns FALSE. */
gboolean hkp_host_protocol_error (HkpHost *host, const char *problem);

/* Logs how many of the plugin's log lines were dropped since this was last said, if any (I/O thread). */
void hkp_host_report_dropped_logs (HkpHost *host);

/* Says the count of dropped log lines if it is due by now, or returns when it will be (HKP_HOST_NO_DEADLINE if
 * nothing is dropped) (I/O thread). */
gint64 hkp_host_report_dropped_logs_due (HkpHost *host, gint64 now);

/* Handles one record from the host (I/O thread); FALSE if it broke the protocol (and is being killed). */
gboolean hkp_host_dispatch (HkpHost *host, const HkpHostRecord *record, gboolean *seen_hello);

/* The I/O thread: starts the process, serves it until it is reaped, then frees host if it was abandoned. */
gpointer hkp_host_io_thread (gpointer host);

/* Frees host once nobody uses it and its I/O thread is done (or is the caller). */
void hkp_host_free (HkpHost *host);

G_END_DECLS
