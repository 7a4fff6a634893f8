/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-check.h"

#include <string.h>

#include "hkp-plugin.h"
#include "hkp-util.h"

#define REASON_MAX 1024
#define HEADERS_MAX 32
#define HEADER_NAME_MAX 256
#define HEADER_VALUE_MAX 4096
#define DRAIN_RETRIES 3

/* ---- the host side of hkp_request and hkp_response -------------------- */

typedef struct {
  hkp_request view; /* first: plugins get &view */
  const HkpCheckRequest *request;
  HkpGate *gate;
} HostRequest;

typedef struct {
  hkp_response view; /* first: plugins get &view */
  char *reason;
  GPtrArray *headers;
} HostResponse;

static const char *
host_header (const hkp_request *view, const char *name)
{
  const HostRequest *host = (const HostRequest *) view;

  if (name == NULL || host->request->header == NULL)
    return NULL;
  return host->request->header (host->request->header_data, name);
}

static int
host_cancelled (const hkp_request *view)
{
  const HostRequest *host = (const HostRequest *) view;

  return g_atomic_int_get (&host->gate->cancelled) ||
    (host->request->cancelled != NULL && g_atomic_int_get (host->request->cancelled));
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

static gboolean
is_token (const char *name)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";
  gsize len = 0;

  for (const char *p = name; *p != '\0'; p++, len++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      return FALSE;
  return len > 0 && len <= HEADER_NAME_MAX;
}

static int
host_add_header (hkp_response *view, const char *name, const char *value)
{
  HostResponse *host = (HostResponse *) view;

  if (name == NULL || value == NULL || !is_token (name) || strlen (value) > HEADER_VALUE_MAX ||
      strpbrk (value, "\r\n") != NULL || !g_utf8_validate (value, -1, NULL))
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

/* ---- the request path ------------------------------------------------- */

typedef enum {
  STEP_NEXT, /* this plugin continues: ask the next */
  STEP_DECIDED, /* result is filled */
} Step;

/* Denies because the plugin cannot answer and its failure mode is closed; or skips it if open. */
static Step
unavailable (HkpSlot *slot, HkpCheckResult *result, const char *why)
{
  if (g_atomic_int_get (&slot->failure_mode) == HKP_FAILURE_OPEN)
    return STEP_NEXT;
  count (slot, HKP_OUTCOME_ERROR);
  decide (result, FALSE, 503, slot->name, g_strdup_printf ("plugin %s is unavailable: %s", slot->name, why), NULL);
  return STEP_DECIDED;
}

/* Waits until the slot's gate changes from generation, or the pause limit passes; TRUE if it changed. */
static gboolean
wait_resumed (HkpSlot *slot, gint generation)
{
  gint64 deadline = g_get_monotonic_time () + __atomic_load_n (&slot->pause_limit_usec, __ATOMIC_RELAXED);
  gboolean changed;

  g_mutex_lock (&slot->lock);
  while (slot->generation == generation && g_cond_wait_until (&slot->resumed, &slot->lock, deadline))
    ;
  changed = slot->generation != generation;
  g_mutex_unlock (&slot->lock);
  return changed;
}

/* Asks the instance behind gate; the caller has entered it and leaves it afterwards. */
static Step
ask (HkpSlot *slot, HkpGate *gate, const HkpCheckRequest *request, HkpCheckResult *result, gboolean *drained_away)
{
  const hkp_plugin_descriptor *d = hkp_module_get_descriptor (hkp_instance_get_module (gate->instance));
  HostRequest host = {
    .view = {
      .struct_size = sizeof (hkp_request),
      .method = request->method != NULL ? request->method : "",
      .path = request->path != NULL ? request->path : "",
      .query = request->query != NULL ? request->query : "",
      .client_address = request->client_address != NULL ? request->client_address : "",
      .header = host_header,
      .cancelled = host_cancelled,
    },
    .request = request,
    .gate = gate,
  };
  HostResponse response = {
    .view = {
      .struct_size = sizeof (hkp_response),
      .set_reason = host_set_reason,
      .add_header = host_add_header,
    },
  };
  int verdict = (int) d->handle (hkp_instance_get_handle (gate->instance), &host.view, &response.view);
  int status = response.view.status;

  if (request->cancelled != NULL && g_atomic_int_get (request->cancelled))
    {
      count (slot, HKP_OUTCOME_CANCELLED);
      host_response_clear (&response);
      result->cancelled = TRUE;
      return STEP_DECIDED;
    }
  if (g_atomic_int_get (&gate->cancelled))
    {
      /* The drain gave up on this instance: the plugin's next instance answers instead. */
      count (slot, HKP_OUTCOME_CANCELLED);
      host_response_clear (&response);
      *drained_away = TRUE;
      return STEP_NEXT;
    }

  switch (verdict)
    {
    case HKP_VERDICT_CONTINUE:
      count (slot, HKP_OUTCOME_CONTINUE);
      host_response_clear (&response);
      return STEP_NEXT;
    case HKP_VERDICT_ALLOW:
      count (slot, HKP_OUTCOME_ALLOW);
      decide (result, TRUE, status >= 200 && status <= 299 ? (guint) status : 200, slot->name,
              g_steal_pointer (&response.reason), g_steal_pointer (&response.headers));
      return STEP_DECIDED;
    case HKP_VERDICT_DENY:
      count (slot, HKP_OUTCOME_DENY);
      decide (result, FALSE, status >= 400 && status <= 599 ? (guint) status : 403, slot->name,
              g_steal_pointer (&response.reason), g_steal_pointer (&response.headers));
      return STEP_DECIDED;
    default:
      host_response_clear (&response);
      return unavailable (slot, result, "it returned an invalid verdict");
    }
}

/* Runs the request through one plugin, following its gate through reloads. */
static Step
run_slot (HkpSlot *slot, const HkpCheckRequest *request, HkpCheckResult *result)
{
  for (guint attempt = 0; attempt <= DRAIN_RETRIES; attempt++)
    {
      gint generation = g_atomic_int_get (&slot->generation);
      HkpGate *gate = (HkpGate *) hkp_guard_enter (&slot->gate);
      gboolean drained_away = FALSE;
      Step step;

      switch (gate->mode)
        {
        case HKP_GATE_SKIP:
          hkp_guard_leave (&slot->gate, &gate->guard);
          return STEP_NEXT;
        case HKP_GATE_FAILED:
          hkp_guard_leave (&slot->gate, &gate->guard);
          return unavailable (slot, result, "it has failed");
        case HKP_GATE_PAUSED:
          hkp_guard_leave (&slot->gate, &gate->guard);
          if (!wait_resumed (slot, generation))
            return unavailable (slot, result, "its reload did not finish in time");
          attempt--; /* waiting is not a failed attempt */
          continue;
        case HKP_GATE_SERVE:
        default:
          step = ask (slot, gate, request, result, &drained_away);
          hkp_guard_leave (&slot->gate, &gate->guard);
          if (!drained_away)
            return step;
          break;
        }
    }
  return unavailable (slot, result, "its instances kept being drained");
}

void
hkp_check_run (HkpGuardBox *box, const HkpCheckRequest *request, HkpCheckResult *result)
{
  HkpChain *chain = (HkpChain *) hkp_guard_enter (box);

  memset (result, 0, sizeof *result);
  for (guint i = 0; chain != NULL && i < chain->n_slots; i++)
    if (run_slot (chain->slots[i], request, result) == STEP_DECIDED)
      goto out;
  decide (result, TRUE, 200, NULL, NULL, NULL);
out:
  hkp_guard_leave (box, chain != NULL ? &chain->guard : NULL);
}
