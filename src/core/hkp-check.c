/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * The request path.  A check walks the chain of plugins; each plugin call is
 * asynchronous, so no thread that takes requests ever waits on a plugin.  An
 * in-process call runs on a pool thread (at once if the check is already on
 * one) with a deadline kept by the watchdog: whichever comes first, the
 * plugin's answer or the deadline, settles the call and walks on, on its own
 * thread; a call that overran keeps its gate (and so its instance) until it
 * returns, and its thread is replaced in the pool meanwhile.
 */

#include "hkp-check.h"

#include <string.h>

#include "hkp-host-protocol.h"
#include "hkp-plugin.h"
#include "hkp-util.h"

#define REASON_MAX 1024
#define HEADERS_MAX 32
#define DRAIN_RETRIES 3

/* A call that overran is "stuck" once it has not returned after this much more (at least 1 s). */
#define STUCK_GRACE_MIN_USEC G_USEC_PER_SEC

static __thread gboolean on_pool_thread;

gboolean
hkp_check_on_pool_thread (void)
{
  return on_pool_thread;
}

/* ---- results ---------------------------------------------------------- */

void
hkp_check_result_clear (HkpCheckResult *result)
{
  g_free (result->reason);
  g_free (result->plugin);
  if (result->headers != NULL)
    g_ptr_array_unref (result->headers);
  memset (result, 0, sizeof *result);
}

static void
decide (HkpCheckResult *result, gboolean allowed, guint status, const char *plugin, char *reason, GPtrArray *headers)
{
  result->allowed = allowed;
  result->status = status;
  result->plugin = g_strdup (plugin);
  result->reason = reason != NULL ? reason : g_strdup ("");
  result->headers = headers;
}

static void
count (HkpSlot *slot, HkpOutcome outcome)
{
  __atomic_fetch_add (&slot->outcomes[outcome], 1, __ATOMIC_RELAXED);
}

/* ---- requests --------------------------------------------------------- */

/* Appends text (NULL: "") to the block at *end; returns where it went. */
static const char *
put_string (char **end, const char *text)
{
  gsize len = text != NULL ? strlen (text) : 0;
  char *start = *end;

  if (len > 0)
    memcpy (start, text, len);
  start[len] = '\0';
  *end = start + len + 1;
  return start;
}

HkpCheckRequest *
hkp_check_request_new (const char *method, const char *path, const char *query, const char *client_address,
                       const char *const *headers)
{
  const char *fixed[] = { method, path, query, client_address };
  gsize n_headers = 0, strings = 0;
  HkpCheckRequest *request;
  const char **list;
  char *end;

  while (headers != NULL && headers[n_headers] != NULL && headers[n_headers + 1] != NULL &&
         n_headers < 2 * HKP_CHECK_HEADERS_MAX)
    n_headers += 2;
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    strings += (fixed[i] != NULL ? strlen (fixed[i]) : 0) + 1;
  for (gsize i = 0; i < n_headers; i++)
    strings += strlen (headers[i]) + 1;

  /* One block: the struct, the header list, then every string. */
  request = g_atomic_rc_box_alloc0 (sizeof (HkpCheckRequest) + (n_headers + 1) * sizeof (char *) + strings);
  list = (const char **) (request + 1);
  end = (char *) (list + n_headers + 1);
  request->method = put_string (&end, method);
  request->path = put_string (&end, path);
  request->query = put_string (&end, query);
  request->client_address = put_string (&end, client_address);
  for (gsize i = 0; i < n_headers; i++)
    list[i] = put_string (&end, headers[i]);
  list[n_headers] = NULL;
  request->headers = list;
  g_mutex_init (&request->lock);
  return request;
}

static void
request_clear (HkpCheckRequest *request)
{
  g_clear_pointer ((HkpHost **) &request->host, hkp_host_unref);
  g_mutex_clear (&request->lock);
}

/* Numbers the next host call about request: calls go one after another, but their hkp_host_handle() may not. */
static guint
request_next_host_call (HkpCheckRequest *request)
{
  return __atomic_add_fetch (&request->host_calls, 1, __ATOMIC_RELAXED);
}

/*
 * Says that call number (from request_next_host_call()) is host's call id,
 * so a cancellation reaches it; unless a later call already said so: an
 * answer may have moved the check on before the earlier hkp_host_handle()
 * returned.
 */
static void
request_set_host_call (HkpCheckRequest *request, guint number, HkpHost *host, guint64 id)
{
  g_mutex_lock (&request->lock);
  if (number < request->host_call_number)
    {
      g_mutex_unlock (&request->lock);
      return;
    }
  g_clear_pointer ((HkpHost **) &request->host, hkp_host_unref);
  request->host = hkp_host_ref (host);
  request->host_call = id;
  request->host_call_number = number;
  g_mutex_unlock (&request->lock);
  if (g_atomic_int_get (&request->cancelled))
    hkp_host_cancel (host, id);
}

HkpCheckRequest *
hkp_check_request_ref (HkpCheckRequest *request)
{
  return g_atomic_rc_box_acquire (request);
}

void
hkp_check_request_unref (HkpCheckRequest *request)
{
  g_atomic_rc_box_release_full (request, (GDestroyNotify) request_clear);
}

void
hkp_check_request_cancel (HkpCheckRequest *request)
{
  g_atomic_int_set (&request->cancelled, 1);
  g_mutex_lock (&request->lock);
  if (request->host != NULL)
    hkp_host_cancel (request->host, request->host_call);
  g_mutex_unlock (&request->lock);
}

/* ---- chains ----------------------------------------------------------- */

HkpChain *
hkp_chain_new (HkpSlot *const *slots, guint n_slots)
{
  HkpChain *chain = g_malloc0 (sizeof (HkpChain) + n_slots * sizeof (HkpSlot *));

  chain->n_slots = n_slots;
  for (guint i = 0; i < n_slots; i++)
    chain->slots[i] = hkp_slot_ref (slots[i]);
  return chain;
}

void
hkp_chain_free (HkpChain *chain)
{
  if (chain == NULL)
    return;
  for (guint i = 0; i < chain->n_slots; i++)
    hkp_slot_unref (chain->slots[i]);
  g_free (chain);
}

void
hkp_chain_free_drained (HkpGuarded *chain, gpointer user_data)
{
  hkp_chain_free ((HkpChain *) chain);
}

/* ---- a check ------------------------------------------------------------ */

typedef struct {
  gint refs; /* the walk's, and a parked check's timer */
  const HkpCheckEnv *env;
  HkpCheckRequest *request; /* a reference */
  HkpCheckResult *result;
  HkpCheckDone done;
  gpointer user_data;
  HkpChain *chain; /* entered for the whole check */
  guint index; /* the plugin being asked */
  guint attempt; /* drain retries at this plugin */
  HkpPoolJob job; /* to go on on a pool thread */
  /* Waiting for a paused plugin: parked, then resumed by the swap or given up by the watchdog. */
  HkpParked parked;
  HkpTimed park_timer;
  gint park_state;
} Check;

typedef enum {
  PARK_WAITING,
  PARK_RESUMED,
  PARK_GAVE_UP,
} ParkState;

static void walk (Check *check);

static void
check_unref (Check *check)
{
  if (!g_atomic_int_dec_and_test (&check->refs))
    return;
  hkp_check_request_unref (check->request);
  g_free (check);
}

/* Leaves the chain and drops the walk's reference: the check is decided. */
static void
check_end (Check *check)
{
  hkp_guard_leave (check->env->chain, &check->chain->guard);
  check_unref (check);
}

/* The check was decided away from hkp_check_start(): hand the result over. */
static void
finish (Check *check)
{
  HkpCheckDone done = check->done;
  gpointer user_data = check->user_data;

  check_end (check);
  done (user_data);
}

static void
next_plugin (Check *check)
{
  check->index++;
  check->attempt = 0;
}

/* The plugin cannot answer (failed, overran, refused to say): failure_mode closed denies with 503, open skips. */
static gboolean
unavailable (Check *check, HkpSlot *slot, const char *why)
{
  if (g_atomic_int_get (&slot->failure_mode) == HKP_FAILURE_OPEN)
    {
      next_plugin (check);
      return FALSE;
    }
  count (slot, HKP_OUTCOME_ERROR);
  decide (check->result, FALSE, 503, slot->name, g_strdup_printf ("plugin %s is unavailable: %s", slot->name, why),
          NULL);
  return TRUE;
}

/* Goes on with the check on a pool thread (from a thread that must not run plugin code). */
static void
on_pool_walk (HkpPoolJob *job)
{
  on_pool_thread = TRUE;
  walk (G_STRUCT_MEMBER_P (job, -G_STRUCT_OFFSET (Check, job)));
}

static void
walk_on_pool (Check *check)
{
  hkp_call_pool_push (check->env->pool, &check->job, on_pool_walk);
}

/* ---- the host side of hkp_request and hkp_response -------------------- */

typedef struct {
  hkp_request view; /* first: plugins get &view */
  const HkpCheckRequest *request;
  HkpGate *gate;
  const gint *overran; /* the call's own: its deadline passed */
} HostRequest;

typedef struct {
  hkp_response view; /* first: plugins get &view */
  char *reason;
  GPtrArray *headers;
} HostResponse;

static const char *
host_header (const hkp_request *view, const char *name)
{
  const char *const *headers = ((const HostRequest *) view)->request->headers;

  for (guint i = 0; name != NULL && headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
    if (g_ascii_strcasecmp (headers[i], name) == 0)
      return headers[i + 1];
  return NULL;
}

static int
host_cancelled (const hkp_request *view)
{
  const HostRequest *host = (const HostRequest *) view;

  return g_atomic_int_get (&host->gate->cancelled) || g_atomic_int_get (&host->request->cancelled) ||
    g_atomic_int_get (host->overran);
}

static int
host_set_reason (hkp_response *view, const char *reason)
{
  HostResponse *host = (HostResponse *) view;

  if (reason == NULL || !g_utf8_validate (reason, -1, NULL))
    return -1;
  g_free (host->reason);
  host->reason = hkp_utf8_truncate (reason, REASON_MAX);
  return 0;
}

static int
host_add_header (hkp_response *view, const char *name, const char *value)
{
  HostResponse *host = (HostResponse *) view;

  /* The same rules as for a plugin in a host: what one may not send, the other may not either. */
  if (!hkp_host_header_name_valid (name) || !hkp_host_header_value_valid (value))
    return -1;
  if (host->headers == NULL)
    host->headers = g_ptr_array_new_with_free_func (g_free);
  if (host->headers->len / 2 >= HEADERS_MAX)
    return -1;
  g_ptr_array_add (host->headers, g_strdup (name));
  g_ptr_array_add (host->headers, g_strdup (value));
  return 0;
}

static void
host_response_clear (HostResponse *response)
{
  g_clear_pointer (&response->reason, g_free);
  g_clear_pointer (&response->headers, g_ptr_array_unref);
}

/*
 * Takes a plugin's answer into the check: TRUE if it decided; FALSE to go on
 * (the check's index then says where).  A call cut short by a drain is asked
 * again of the plugin's next instance.
 */
static gboolean
take_answer (Check *check, HkpSlot *slot, HkpGate *gate, int verdict, HostResponse *response)
{
  const HkpCheckRequest *request = check->request;
  int status = response->view.status;

  if (g_atomic_int_get (&request->cancelled))
    {
      count (slot, HKP_OUTCOME_CANCELLED);
      check->result->cancelled = TRUE;
      return TRUE;
    }
  if (g_atomic_int_get (&gate->cancelled))
    {
      /* The drain gave up on this instance: the plugin's next instance answers instead. */
      count (slot, HKP_OUTCOME_CANCELLED);
      if (++check->attempt > DRAIN_RETRIES)
        return unavailable (check, slot, "its instances kept being drained");
      return FALSE;
    }
  switch (verdict)
    {
    case HKP_VERDICT_CONTINUE:
      count (slot, HKP_OUTCOME_CONTINUE);
      next_plugin (check);
      return FALSE;
    case HKP_VERDICT_ALLOW:
      count (slot, HKP_OUTCOME_ALLOW);
      decide (check->result, TRUE, status >= 200 && status <= 299 ? (guint) status : 200, slot->name,
              g_steal_pointer (&response->reason), g_steal_pointer (&response->headers));
      return TRUE;
    case HKP_VERDICT_DENY:
      count (slot, HKP_OUTCOME_DENY);
      decide (check->result, FALSE, status >= 400 && status <= 599 ? (guint) status : 403, slot->name,
              g_steal_pointer (&response->reason), g_steal_pointer (&response->headers));
      return TRUE;
    default:
      return unavailable (check, slot, "it returned an invalid verdict");
    }
}

/* ---- in-process calls --------------------------------------------------- */

typedef enum {
  CALL_PENDING,
  CALL_SETTLED,
} CallState;

typedef enum {
  CALL_QUEUED, /* waiting for a pool thread */
  CALL_SKIPPED, /* the deadline passed first: handle() is never called */
  CALL_RUNNING,
  CALL_RETURNED,
  CALL_STUCK,
} CallPhase;

/*
 * One handle() call into an in-process instance.  Referenced by the pool
 * job that runs it and by the watchdog while one of its timers is queued.
 * Its deadline counts from when it was queued, so a busy pool delays no
 * check past it.  Whoever settles it (the plugin's answer or the deadline)
 * owns the check from then; the other side touches the call, never the
 * check.
 */
typedef struct {
  gint refs;
  GMutex lock; /* orders the deadline's bookkeeping before a late return looks at it */
  gint state; /* CallState */
  gint phase; /* CallPhase */
  HkpTimed deadline; /* in the instance's queue */
  HkpTimed stuck_timer; /* in env->late_calls once the deadline passed */
  HkpPoolJob job;
  const HkpCheckEnv *env;
  Check *check; /* touched only by whoever settles the call */
  HkpCheckRequest *request; /* a reference: handle() may read it after the check is decided */
  HkpSlot *slot; /* a reference */
  HkpGate *gate; /* entered; left when handle() returns */
  HkpTimedQueue *deadlines;
  gint64 timeout_usec;
  gint overran; /* atomic: the deadline passed, so the plugin's cancelled() says so */
} Call;

static void
call_unref (Call *call)
{
  if (!g_atomic_int_dec_and_test (&call->refs))
    return;
  hkp_check_request_unref (call->request);
  hkp_slot_unref (call->slot);
  g_mutex_clear (&call->lock);
  g_free (call);
}

/* Watchdog thread: the grace after the deadline passed too, and handle() has still not returned. */
static void
on_call_stuck (HkpTimed *timer)
{
  Call *call = G_STRUCT_MEMBER_P (timer, -G_STRUCT_OFFSET (Call, stuck_timer));
  HkpInstance *instance = NULL;

  /* Under the lock, the returning side cannot leave the gate (and drop the instance) meanwhile. */
  g_mutex_lock (&call->lock);
  if (g_atomic_int_compare_and_exchange (&call->phase, CALL_RUNNING, CALL_STUCK))
    instance = hkp_instance_ref (call->gate->instance);
  g_mutex_unlock (&call->lock);
  if (instance != NULL)
    {
      guint stuck = hkp_instance_add_stuck (instance, 1);
      if (call->env->stuck != NULL)
        call->env->stuck (call->slot, instance, stuck, call->env->stuck_data);
      hkp_instance_unref (instance);
    }
  call_unref (call);
}

/* Watchdog thread: the plugin did not answer in time; the failure mode answers and the check goes on. */
static void
on_call_deadline (HkpTimed *timer)
{
  Call *call = G_STRUCT_MEMBER_P (timer, -G_STRUCT_OFFSET (Call, deadline));
  Check *check;
  HkpSlot *slot;
  HkpGate *gate;
  g_autofree char *why = g_strdup_printf ("it did not answer within %" G_GINT64_FORMAT " ms",
                                          call->timeout_usec / 1000);
  gint64 timeout_usec = call->timeout_usec; /* the call may be gone once settled */

  g_mutex_lock (&call->lock);
  if (!g_atomic_int_compare_and_exchange (&call->state, CALL_PENDING, CALL_SETTLED))
    {
      g_mutex_unlock (&call->lock);
      call_unref (call); /* answered meanwhile: that side goes on */
      return;
    }
  /* Settled here: the check is ours (its chain keeps the slot). */
  check = call->check;
  slot = call->slot;
  gate = call->gate;
  if (g_atomic_int_compare_and_exchange (&call->phase, CALL_QUEUED, CALL_SKIPPED))
    {
      /* No pool thread has taken it, and the one that does will not call handle(): the gate is left here. */
      g_mutex_unlock (&call->lock);
      hkp_guard_leave (&slot->gate, &gate->guard);
      call_unref (call); /* the watchdog's reference; the pool job holds its own */
    }
  else
    {
      /* The thread stays in handle(): the pool gets another, and the call is watched a grace longer (the
       * watchdog's reference goes with it).  A late return waits for the lock, so it sees all of this. */
      hkp_call_pool_late (call->env->pool);
      hkp_timed_queue_push (call->env->late_calls, &call->stuck_timer,
                            g_get_monotonic_time () + MAX (call->timeout_usec, STUCK_GRACE_MIN_USEC), on_call_stuck);
      g_atomic_int_set (&call->overran, 1);
      g_mutex_unlock (&call->lock);
    }
  /* The call may be gone from here on: only the check is ours. */
  hkp_slot_record_call (slot, timeout_usec, TRUE);
  if (unavailable (check, slot, why))
    finish (check);
  else
    walk_on_pool (check); /* the watchdog runs no plugin code */
}

/* Pool thread: calls handle(); whoever settles the call first decides what the check does. */
static void
run_call (Call *call)
{
  HkpInstance *instance;
  const hkp_plugin_descriptor *d;
  HostRequest host = {
    .view = {
      .struct_size = sizeof (hkp_request),
      .method = call->request->method,
      .path = call->request->path,
      .query = call->request->query,
      .client_address = call->request->client_address,
      .header = host_header,
      .cancelled = host_cancelled,
    },
    .request = call->request,
    .gate = call->gate,
    .overran = &call->overran,
  };
  HostResponse response = {
    .view = {
      .struct_size = sizeof (hkp_response),
      .set_reason = host_set_reason,
      .add_header = host_add_header,
    },
  };
  gint64 started;
  int verdict;

  /*
   * The deadline passed while the call waited for this thread: the check goes
   * on without it.  The watchdog has answered it and left the gate, or will
   * at once (the call stays queued for it): no handle() for a check already
   * answered, and no thread more for the pool.
   */
  if (g_get_monotonic_time () >= call->deadline.deadline ||
      !g_atomic_int_compare_and_exchange (&call->phase, CALL_QUEUED, CALL_RUNNING))
    {
      call_unref (call);
      return;
    }
  instance = call->gate->instance;
  d = hkp_module_get_descriptor (hkp_instance_get_module (instance));
  started = g_get_monotonic_time ();
  /* Nobody wants the verdict of a check its caller gave up on while it waited: take_answer() ends it. */
  verdict = g_atomic_int_get (&call->request->cancelled)
    ? HKP_VERDICT_CONTINUE
    : (int) d->handle (hkp_instance_get_handle (instance), &host.view, &response.view);
  if (hkp_timed_queue_remove (call->deadlines, &call->deadline))
    call_unref (call);
  if (g_atomic_int_compare_and_exchange (&call->state, CALL_PENDING, CALL_SETTLED))
    {
      Check *check = call->check;
      HkpSlot *slot = call->slot;
      gboolean decided;

      hkp_slot_record_call (slot, g_get_monotonic_time () - started, FALSE);
      decided = take_answer (check, slot, call->gate, verdict, &response);

      host_response_clear (&response);
      hkp_guard_leave (&slot->gate, &call->gate->guard);
      call_unref (call);
      if (decided)
        finish (check);
      else
        walk (check); /* on this pool thread: the next in-process plugin is asked at once */
      return;
    }
  /* The deadline answered the check; only the call is ours, once its bookkeeping is done. */
  host_response_clear (&response);
  {
    gboolean removed, was_stuck;

    g_mutex_lock (&call->lock);
    removed = hkp_timed_queue_remove (call->env->late_calls, &call->stuck_timer);
    was_stuck = !g_atomic_int_compare_and_exchange (&call->phase, CALL_RUNNING, CALL_RETURNED);
    g_mutex_unlock (&call->lock);
    if (removed)
      call_unref (call);
    if (was_stuck)
      hkp_instance_add_stuck (call->gate->instance, -1);
  }
  hkp_call_pool_late_returned (call->env->pool);
  hkp_guard_leave (&call->slot->gate, &call->gate->guard);
  call_unref (call);
}

static void
on_pool_call (HkpPoolJob *job)
{
  on_pool_thread = TRUE;
  run_call (G_STRUCT_MEMBER_P (job, -G_STRUCT_OFFSET (Call, job)));
}

/* Asks the in-process instance behind gate (entered): at once on a pool thread, else queued to the pool. */
static void
call_in_process (Check *check, HkpSlot *slot, HkpGate *gate)
{
  Call *call = g_new0 (Call, 1);

  call->refs = 1;
  g_mutex_init (&call->lock);
  call->env = check->env;
  call->check = check;
  call->request = hkp_check_request_ref (check->request);
  call->slot = hkp_slot_ref (slot);
  call->gate = gate;
  call->deadlines = hkp_instance_get_call_deadlines (gate->instance, check->env->watchdog);
  call->timeout_usec = MAX (__atomic_load_n (&slot->call_timeout_usec, __ATOMIC_RELAXED), 1000);
  /*
   * The deadline counts from now, a wait for a pool thread included; the
   * watchdog holds a reference meanwhile.  From the push on, the deadline
   * may settle the check and end it at any moment: only the call is ours.
   */
  g_atomic_int_inc (&call->refs);
  hkp_timed_queue_push (call->deadlines, &call->deadline, g_get_monotonic_time () + call->timeout_usec,
                        on_call_deadline);
  if (on_pool_thread)
    run_call (call);
  else
    hkp_call_pool_push (call->env->pool, &call->job, on_pool_call);
}

/* ---- calls into a plugin host ---------------------------------------------- */

/* One call into an isolated instance; its host's I/O thread answers it once, in time or not. */
typedef struct {
  Check *check;
  HkpSlot *slot; /* the check's chain keeps it */
  HkpGate *gate; /* entered; left when the host answers */
  gint64 timeout_usec;
  gint64 started; /* monotonic µs */
} HostCall;

/* The host's I/O thread: the answer, the deadline or the host's end; the check goes on here. */
static void
on_host_answer (const HkpHostAnswer *answer, gpointer user_data)
{
  HostCall *call = user_data;
  Check *check = call->check;
  HkpSlot *slot = call->slot;
  HostResponse response = { .view = { .status = answer->status } };
  g_autofree char *why = NULL;
  gboolean decided;

  /* A call refused unsent is no call: it counts in no duration. */
  if (answer->outcome != HKP_HOST_BACKLOGGED)
    hkp_slot_record_call (slot, g_get_monotonic_time () - call->started, answer->outcome == HKP_HOST_TIMED_OUT);
  switch (answer->outcome)
    {
    case HKP_HOST_ANSWERED:
      response.reason = g_strdup (answer->reason);
      for (guint i = 0; answer->headers != NULL && answer->headers[i] != NULL && answer->headers[i + 1] != NULL; i += 2)
        host_add_header (&response.view, answer->headers[i], answer->headers[i + 1]);
      decided = take_answer (check, slot, call->gate, answer->verdict, &response);
      host_response_clear (&response);
      break;
    case HKP_HOST_TIMED_OUT:
      why = g_strdup_printf ("it did not answer within %" G_GINT64_FORMAT " ms", call->timeout_usec / 1000);
      decided = unavailable (check, slot, why);
      break;
    case HKP_HOST_BACKLOGGED:
    case HKP_HOST_GONE:
    default:
      /* A host killed (or behind) at the end of a drain: the plugin's next instance answers (take_answer retries). */
      if (g_atomic_int_get (&call->gate->cancelled))
        decided = take_answer (check, slot, call->gate, HKP_VERDICT_CONTINUE, &response);
      else
        decided = unavailable (check, slot,
                               answer->outcome == HKP_HOST_BACKLOGGED
                                 ? "its host has not read the requests sent to it before"
                                 : "its host process ended");
      break;
    }
  hkp_guard_leave (&slot->gate, &call->gate->guard);
  g_free (call);
  if (decided)
    finish (check);
  else
    walk (check); /* another host is only sent to; an in-process plugin goes to the pool */
}

/* Asks the isolated instance behind gate (entered): sent at once, never waited for. */
static void
call_host (Check *check, HkpSlot *slot, HkpGate *gate)
{
  HostCall *call = g_new0 (HostCall, 1);
  const HkpCheckRequest *request = check->request;
  HkpHostRequest host_request = {
    .method = request->method,
    .path = request->path,
    .query = request->query,
    .client_address = request->client_address,
    .headers = request->headers,
  };

  call->check = check;
  call->slot = slot;
  call->gate = gate;
  call->timeout_usec = MAX (__atomic_load_n (&slot->call_timeout_usec, __ATOMIC_RELAXED), 1000);
  /*
   * The answer may end the check, and leave the gate (the last hold on its
   * instance and host), before hkp_host_handle() returns: from then on only
   * these references are ours.  A cancellation reaches the call through the
   * request (one told to an answered call is ignored).
   */
  g_autoptr (HkpHost) host = hkp_host_ref (hkp_instance_get_host (gate->instance));
  g_autoptr (HkpCheckRequest) request_ref = hkp_check_request_ref (check->request);
  guint number = request_next_host_call (request_ref);
  guint64 id;

  call->started = g_get_monotonic_time ();
  id = hkp_host_handle (host, &host_request, call->started + call->timeout_usec, on_host_answer, call);
  request_set_host_call (request_ref, number, host, id);
}

/* ---- paused plugins (exclusive reloads) ---------------------------------- */

/* The swapping thread (main): the plugin's next gate is in; the check goes on, on a pool thread. */
static void
on_resumed (HkpParked *parked)
{
  Check *check = G_STRUCT_MEMBER_P (parked, -G_STRUCT_OFFSET (Check, parked));

  if (!g_atomic_int_compare_and_exchange (&check->park_state, PARK_WAITING, PARK_RESUMED))
    return; /* the watchdog gave up on it at the same moment */
  if (hkp_timed_queue_remove (check->chain->slots[check->index]->parked_deadlines, &check->park_timer))
    check_unref (check);
  walk_on_pool (check);
}

/* Watchdog thread: the paused plugin did not come back within the pause limit. */
static void
on_park_expired (HkpTimed *timer)
{
  Check *check = G_STRUCT_MEMBER_P (timer, -G_STRUCT_OFFSET (Check, park_timer));
  HkpSlot *slot;

  if (!g_atomic_int_compare_and_exchange (&check->park_state, PARK_WAITING, PARK_GAVE_UP))
    {
      check_unref (check); /* resumed: the swap goes on with it */
      return;
    }
  check_unref (check); /* the walk's reference keeps it */
  slot = check->chain->slots[check->index];
  /* Off the slot's list, so the swap never sees it again. */
  g_mutex_lock (&slot->lock);
  for (HkpParked **p = &slot->parked; *p != NULL; p = &(*p)->next)
    if (*p == &check->parked)
      {
        *p = check->parked.next;
        break;
      }
  g_mutex_unlock (&slot->lock);
  if (unavailable (check, slot, "its reload did not finish in time"))
    finish (check);
  else
    walk_on_pool (check);
}

/* Returns the queue that times the checks parked on slot, made on first use. */
static HkpTimedQueue *
parked_deadlines (HkpSlot *slot, HkpWatchdog *watchdog)
{
  HkpTimedQueue *queue = g_atomic_pointer_get (&slot->parked_deadlines);

  if (queue == NULL)
    {
      queue = hkp_timed_queue_new (watchdog);
      if (!g_atomic_pointer_compare_and_exchange (&slot->parked_deadlines, NULL, queue))
        {
          hkp_timed_queue_free (queue);
          queue = g_atomic_pointer_get (&slot->parked_deadlines);
        }
    }
  return queue;
}

/* Parks check until slot's gate changes from generation: TRUE, or FALSE if it changed already (look again). */
static gboolean
park (Check *check, HkpSlot *slot, gint generation)
{
  HkpTimedQueue *deadlines = parked_deadlines (slot, check->env->watchdog);
  gboolean parked = FALSE;

  check->park_state = PARK_WAITING;
  check->parked.resume = on_resumed;
  g_mutex_lock (&slot->lock);
  if (slot->generation == generation)
    {
      check->parked.next = slot->parked;
      slot->parked = &check->parked;
      /* Pushed under the slot's lock, so a swap resuming it finds the timer queued; the timer holds a reference. */
      g_atomic_int_inc (&check->refs);
      hkp_timed_queue_push (deadlines, &check->park_timer,
                            g_get_monotonic_time () + __atomic_load_n (&slot->pause_limit_usec, __ATOMIC_RELAXED),
                            on_park_expired);
      parked = TRUE;
    }
  g_mutex_unlock (&slot->lock);
  return parked;
}

/* ---- walking the chain ---------------------------------------------------- */

typedef enum {
  STEP_NEXT, /* go on: the index says where */
  STEP_DECIDED, /* the result is filled */
  STEP_AWAY, /* a call or a wait has the check now */
} Step;

static Step
step (Check *check)
{
  HkpSlot *slot = check->chain->slots[check->index];
  gint generation = g_atomic_int_get (&slot->generation);
  HkpGate *gate = (HkpGate *) hkp_guard_enter (&slot->gate);

  switch (gate->mode)
    {
    case HKP_GATE_SKIP:
      hkp_guard_leave (&slot->gate, &gate->guard);
      next_plugin (check);
      return STEP_NEXT;
    case HKP_GATE_FAILED:
      hkp_guard_leave (&slot->gate, &gate->guard);
      return unavailable (check, slot, "it has failed") ? STEP_DECIDED : STEP_NEXT;
    case HKP_GATE_PAUSED:
      hkp_guard_leave (&slot->gate, &gate->guard);
      return park (check, slot, generation) ? STEP_AWAY : STEP_NEXT;
    case HKP_GATE_SERVE:
    default:
      if (hkp_instance_get_host (gate->instance) != NULL)
        call_host (check, slot, gate);
      else
        call_in_process (check, slot, gate);
      return STEP_AWAY;
    }
}

/* Walks from the check's index until it is decided or a plugin call has it. */
static void
walk (Check *check)
{
  while (check->index < check->chain->n_slots)
    switch (step (check))
      {
      case STEP_NEXT:
        continue;
      case STEP_DECIDED:
        finish (check);
        return;
      case STEP_AWAY:
      default:
        return;
      }
  decide (check->result, TRUE, 200, NULL, NULL, NULL);
  finish (check);
}

gboolean
hkp_check_start (const HkpCheckEnv *env, HkpCheckRequest *request, HkpCheckResult *result, HkpCheckDone done,
                 gpointer user_data)
{
  Check *check = g_new0 (Check, 1);

  memset (result, 0, sizeof *result);
  check->refs = 1;
  check->env = env;
  check->request = hkp_check_request_ref (request);
  check->result = result;
  check->done = done;
  check->user_data = user_data;
  check->chain = (HkpChain *) hkp_guard_enter (env->chain);
  /* Walk what needs no plugin call here; a call or a wait, once begun, owns the check. */
  while (check->chain != NULL && check->index < check->chain->n_slots)
    switch (step (check))
      {
      case STEP_AWAY:
        return FALSE; /* it may be decided elsewhere already: touch nothing of it */
      case STEP_DECIDED:
        check_end (check);
        return TRUE;
      case STEP_NEXT:
      default:
        break;
      }
  decide (result, TRUE, 200, NULL, NULL, NULL);
  if (check->chain != NULL)
    check_end (check);
  else
    check_unref (check);
  return TRUE;
}
