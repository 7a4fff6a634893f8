/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-calls.h"

#include <stdlib.h>
#include <string.h>

#define REASON_MAX 1024
#define HEADERS_MAX 32
#define HEALTH_MESSAGE_MAX 1024
#define HEALTH_CHECKS_MAX 64
#define HEALTH_KEY_MAX 128

char *
host_utf8_copy (const char *text, size_t max)
{
  size_t len = strlen (text);
  char *copy;

  if (!hkp_host_utf8_valid (text, len))
    len = 0;
  if (len > max)
    {
      /* The character that starts at or before text[max] is the first one left out. */
      len = max;
      while (len > 0 && (text[len] & 0xC0) == 0x80)
        len--;
    }
  copy = malloc (len + 1);
  if (copy != NULL)
    {
      memcpy (copy, text, len);
      copy[len] = '\0';
    }
  return copy;
}

/* ---- handle() ----------------------------------------------------------------------------------------------------- */

typedef struct {
  HostJob job; /* first: the pool sees this */
  const char *method, *path, *query, *client;
  uint32_t n_headers;
  const char **headers; /* name, value, …: into the same block */
} RequestJob;

typedef struct {
  hkp_request view; /* first: the plugin gets &view */
  RequestJob *job;
} RequestView;

typedef struct {
  hkp_response view; /* first: the plugin gets &view */
  char *reason;
  unsigned n_headers;
  char *headers[2 * HEADERS_MAX];
} ResponseView;

static int
ascii_equal_nocase (const char *a, const char *b)
{
  for (; *a != '\0' && *b != '\0'; a++, b++)
    {
      char x = *a >= 'A' && *a <= 'Z' ? (char) (*a + 32) : *a;
      char y = *b >= 'A' && *b <= 'Z' ? (char) (*b + 32) : *b;
      if (x != y)
        return 0;
    }
  return *a == *b;
}

static const char *
request_header (const hkp_request *view, const char *name)
{
  const RequestJob *job = ((const RequestView *) view)->job;

  if (name == NULL)
    return NULL;
  for (uint32_t i = 0; i < job->n_headers; i++)
    if (ascii_equal_nocase (job->headers[2 * i], name))
      return job->headers[2 * i + 1];
  return NULL;
}

static int
request_cancelled (const hkp_request *view)
{
  return __atomic_load_n (&((const RequestView *) view)->job->job.cancelled, __ATOMIC_ACQUIRE);
}

static int
response_set_reason (hkp_response *view, const char *reason)
{
  ResponseView *response = (ResponseView *) view;
  char *copy;

  if (reason == NULL || !hkp_host_utf8_valid (reason, strlen (reason)) ||
      (copy = host_utf8_copy (reason, REASON_MAX)) == NULL)
    return -1;
  free (response->reason);
  response->reason = copy;
  return 0;
}

static int
response_add_header (hkp_response *view, const char *name, const char *value)
{
  ResponseView *response = (ResponseView *) view;
  char *name_copy, *value_copy;

  if (!hkp_host_header_name_valid (name) || !hkp_host_header_value_valid (value) || response->n_headers >= HEADERS_MAX)
    return -1;
  name_copy = strdup (name);
  value_copy = strdup (value);
  if (name_copy == NULL || value_copy == NULL)
    {
      free (name_copy);
      free (value_copy);
      return -1;
    }
  response->headers[2 * response->n_headers] = name_copy;
  response->headers[2 * response->n_headers + 1] = value_copy;
  response->n_headers++;
  return 0;
}

static void
run_request (HostJob *head, void *context)
{
  HostPlugin *plugin = context;
  RequestJob *job = (RequestJob *) head;
  RequestView request = {
    .view = {
      .struct_size = sizeof (hkp_request),
      .method = job->method,
      .path = job->path,
      .query = job->query,
      .client_address = job->client,
      .header = request_header,
      .cancelled = request_cancelled,
    },
    .job = job,
  };
  ResponseView response = {
    .view = {
      .struct_size = sizeof (hkp_response),
      .set_reason = response_set_reason,
      .add_header = response_add_header,
    },
  };
  HkpHostRecord record;
  int verdict = HKP_VERDICT_CONTINUE;

  /* A call cancelled while queued is answered without bothering the plugin: nobody wants its verdict. */
  if (!__atomic_load_n (&head->cancelled, __ATOMIC_ACQUIRE))
    verdict = (int) plugin->descriptor->handle (plugin->instance, &request.view, &response.view);

  hkp_host_record_init (&record, HKP_HOST_MSG_ANSWER);
  record.id = head->id;
  record.nums[HKP_HOST_ANSWER_VERDICT] = (uint32_t) verdict;
  record.nums[HKP_HOST_ANSWER_STATUS] = (uint32_t) response.view.status;
  record.strs[0] = hkp_host_string (response.reason);
  record.n_items = response.n_headers;
  for (unsigned i = 0; i < response.n_headers; i++)
    {
      record.items[i].name = hkp_host_string (response.headers[2 * i]);
      record.items[i].value = hkp_host_string (response.headers[2 * i + 1]);
    }
  host_channel_send (plugin->channel, &record);

  free (response.reason);
  for (unsigned i = 0; i < 2 * response.n_headers; i++)
    free (response.headers[i]);
}

HostJob *
host_call_request_new (const HkpHostRecord *record)
{
  size_t bytes = 0, pointers = 2 * (size_t) record->n_items;
  RequestJob *job;
  char *p;

  for (unsigned i = 0; i < 4; i++)
    bytes += record->strs[i].len + 1;
  for (uint32_t i = 0; i < record->n_items; i++)
    bytes += record->items[i].name.len + 1 + record->items[i].value.len + 1;
  job = malloc (sizeof *job + pointers * sizeof (char *) + bytes);
  if (job == NULL)
    return NULL;
  memset (job, 0, sizeof *job);
  job->job.id = record->id;
  job->job.run = run_request;
  job->headers = (const char **) (job + 1);
  p = (char *) (job->headers + pointers);
#define COPY(dest, s) \
  do \
    { \
      memcpy (p, (s).str, (s).len); \
      p[(s).len] = '\0'; \
      (dest) = p; \
      p += (s).len + 1; \
    } \
  while (0)
  COPY (job->method, record->strs[HKP_HOST_REQUEST_METHOD]);
  COPY (job->path, record->strs[HKP_HOST_REQUEST_PATH]);
  COPY (job->query, record->strs[HKP_HOST_REQUEST_QUERY]);
  COPY (job->client, record->strs[HKP_HOST_REQUEST_CLIENT]);
  for (uint32_t i = 0; i < record->n_items; i++)
    {
      COPY (job->headers[2 * i], record->items[i].name);
      COPY (job->headers[2 * i + 1], record->items[i].value);
    }
#undef COPY
  job->n_headers = record->n_items;
  return &job->job;
}

/* ---- health() ----------------------------------------------------------------------------------------------------- */

typedef struct {
  char *key;
  char *text; /* NULL for a number */
  int64_t number;
} Check;

typedef struct {
  hkp_health_report view; /* first: the plugin gets &view */
  char *message;
  unsigned n_checks;
  Check checks[HEALTH_CHECKS_MAX];
} HealthView;

static int
report_set_message (hkp_health_report *view, const char *message)
{
  HealthView *report = (HealthView *) view;
  char *copy;

  if (message == NULL || !hkp_host_utf8_valid (message, strlen (message)) ||
      (copy = host_utf8_copy (message, HEALTH_MESSAGE_MAX)) == NULL)
    return -1;
  free (report->message);
  report->message = copy;
  return 0;
}

static Check *
report_add (HealthView *report, const char *key)
{
  Check *check;

  if (key == NULL || key[0] == '\0' || !hkp_host_utf8_valid (key, strlen (key)) ||
      report->n_checks >= HEALTH_CHECKS_MAX)
    return NULL;
  check = &report->checks[report->n_checks];
  memset (check, 0, sizeof *check);
  if ((check->key = host_utf8_copy (key, HEALTH_KEY_MAX)) == NULL)
    return NULL;
  report->n_checks++;
  return check;
}

static int
report_add_check (hkp_health_report *view, const char *key, const char *value)
{
  HealthView *report = (HealthView *) view;
  char *text;
  Check *check;

  if (value == NULL || !hkp_host_utf8_valid (value, strlen (value)) ||
      (text = host_utf8_copy (value, HEALTH_MESSAGE_MAX)) == NULL)
    return -1;
  if ((check = report_add (report, key)) == NULL)
    {
      free (text);
      return -1;
    }
  check->text = text;
  return 0;
}

static int
report_add_check_int (hkp_health_report *view, const char *key, int64_t value)
{
  Check *check = report_add ((HealthView *) view, key);

  if (check == NULL)
    return -1;
  check->number = value;
  return 0;
}

static void
run_health (HostJob *job, void *context)
{
  HostPlugin *plugin = context;
  HealthView report = {
    .view = {
      .struct_size = sizeof (hkp_health_report),
      .set_message = report_set_message,
      .add_check = report_add_check,
      .add_check_int = report_add_check_int,
    },
  };
  int status = HKP_HEALTH_HEALTHY;
  HkpHostRecord record;

  if (plugin->descriptor->health != NULL)
    status = (int) plugin->descriptor->health (plugin->instance, &report.view);
  hkp_host_record_init (&record, HKP_HOST_MSG_HEALTH_REPORT);
  record.id = job->id;
  record.nums[0] = (uint32_t) status;
  record.strs[0] = hkp_host_string (report.message);
  record.n_items = report.n_checks;
  for (unsigned i = 0; i < report.n_checks; i++)
    {
      record.items[i].name = hkp_host_string (report.checks[i].key);
      record.items[i].value = hkp_host_string (report.checks[i].text);
      record.items[i].number = report.checks[i].number;
      record.items[i].is_number = report.checks[i].text == NULL;
    }
  host_channel_send (plugin->channel, &record);

  free (report.message);
  for (unsigned i = 0; i < report.n_checks; i++)
    {
      free (report.checks[i].key);
      free (report.checks[i].text);
    }
}

HostJob *
host_call_health_new (uint64_t id)
{
  HostJob *job = calloc (1, sizeof *job);

  if (job == NULL)
    return NULL;
  job->id = id;
  job->run = run_health;
  return job;
}

/* ---- validate_config() -------------------------------------------------------------------------------------------- */

typedef struct {
  HostJob job;
  char config[];
} ValidateJob;

static void
run_validate (HostJob *head, void *context)
{
  HostPlugin *plugin = context;
  ValidateJob *job = (ValidateJob *) head;
  char message[HKP_PLUGIN_ERROR_SIZE] = "";
  HkpHostRecord record;
  int ok = 1;

  if (plugin->descriptor->validate_config != NULL)
    ok = plugin->descriptor->validate_config (job->config, message, sizeof message) == 0;
  /* The daemon makes the plugin's text valid UTF-8, as it does for every string from the host. */
  message[sizeof message - 1] = '\0';
  hkp_host_record_init (&record, HKP_HOST_MSG_VALIDATED);
  record.id = head->id;
  record.nums[0] = (uint32_t) ok;
  record.strs[0] = hkp_host_string (message);
  host_channel_send (plugin->channel, &record);
}

HostJob *
host_call_validate_new (uint64_t id, HkpHostString config)
{
  ValidateJob *job = malloc (sizeof *job + config.len + 1);

  if (job == NULL)
    return NULL;
  memset (job, 0, sizeof *job);
  job->job.id = id;
  job->job.run = run_validate;
  memcpy (job->config, config.str, config.len);
  job->config[config.len] = '\0';
  return &job->job;
}
