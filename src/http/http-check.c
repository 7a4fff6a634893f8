/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* POLLRDHUP */
#define G_LOG_DOMAIN "hkp-http"

/* The check endpoint: libmicrohttpd threads answering nginx auth_request from the engine's chain. */

#include "http-check.h"

#include <poll.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "hkp-rate-limit.h"
#include "http-check-accept.h"
#include "http-proxy.h"
#include "http-ready-source.h"
#include "http-secret.h"

#define CHECK_PATH "/check"
#define LISTEN_BACKLOG 1024
#define IDLE_TIMEOUT_DEFAULT_SEC 75
#define REASON_HEADER_MAX 200
/* How long the answers to checks abandoned by a stop may take to be queued. */
#define ABANDON_GRACE_MS 2000
/* How long a check waits before its client is looked at, and how often, for having left (the watch on clients). */
#define GONE_WATCH_USEC (100 * 1000)
/* libmicrohttpd's messages, one per client that left mid-answer among them: this many at once, then a second. */
#define MHD_LOG_BURST 50
#define MHD_LOG_RATE 10

struct _HttpCheck {
  HkpEngine *engine;
  struct MHD_Daemon *mhd;
  HttpCheckAcceptor *acceptor; /* accepts the connections libmicrohttpd serves */
  ListenKind listen_kind;
  char *address;
  HttpTrustedProxies *proxies;
  struct MHD_Response *allowed; /* the plain 200, shared by every allowed request */
  gint in_flight; /* requests inside the chain */
  GMutex jobs_lock;
  GQueue checking; /* CheckJob, suspended while the plugins decide (under jobs_lock) */
  guint abandoned; /* checks answered "shutting down" when the stop timed out (main thread) */
  GSource *abandon_grace; /* after that, how long the answers may take to be queued */
  gint stopping;
  GSource *drained_source; /* woken (from any thread) when in_flight reaches 0 while stopping */
  GSource *timeout_source;
  GTask *stop_task;
  guint threads;
  guint connection_limit;
  guint idle_timeout_sec;
  GMutex log_lock;
  HkpRateLimit log_limit; /* libmicrohttpd's messages (under log_lock) */
  GSource *log_report; /* says how many were dropped, a second after the first (woken from any thread) */
  GSource *gone_watch; /* looks for clients that left while their checks wait (woken from any thread) */
  gint gone_watch_armed; /* atomic: gone_watch will run, so a check need not wake it */
};

/* One pass over the request headers: the ones we need, and whether a single-valued one repeats. */
typedef struct {
  HttpProxyHeaders headers;
  GString *forwarded_for;
} HeaderScan;

static enum MHD_Result
scan_header (void *data, enum MHD_ValueKind kind, const char *key, const char *value)
{
  HeaderScan *scan = data;
  const char **slot = NULL;

  if (g_ascii_strcasecmp (key, "X-Original-Method") == 0)
    slot = &scan->headers.original_method;
  else if (g_ascii_strcasecmp (key, "X-Original-URI") == 0)
    slot = &scan->headers.original_uri;
  else if (g_ascii_strcasecmp (key, "X-Real-IP") == 0)
    slot = &scan->headers.real_ip;
  else if (g_ascii_strcasecmp (key, HTTP_PROXY_SECRET_HEADER) == 0)
    slot = &scan->headers.proxy_secret;
  else if (g_ascii_strcasecmp (key, "X-Forwarded-For") == 0)
    {
      if (scan->forwarded_for == NULL)
        scan->forwarded_for = g_string_new (value);
      else
        g_string_append_printf (scan->forwarded_for, ",%s", value);
    }
  if (slot != NULL)
    {
      if (*slot != NULL)
        scan->headers.duplicated = TRUE;
      *slot = value;
    }
  return MHD_YES;
}

static const struct sockaddr *
peer_address (struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

  return info != NULL ? info->client_addr : NULL;
}

static enum MHD_Result
queue_text (struct MHD_Connection *connection, guint status, const char *text, gboolean close)
{
  g_autofree char *body = g_strconcat (text, "\n", NULL);
  struct MHD_Response *response = MHD_create_response_from_buffer (strlen (body), body, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;

  MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  if (close)
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONNECTION, "close");
  ret = MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return ret;
}

/* A reason fit for a header: printable ASCII only, bounded. */
static char *
header_safe (const char *text)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (const char *p = text; *p != '\0' && out->len < REASON_HEADER_MAX; p++)
    g_string_append_c (out, (guchar) *p >= 0x20 && (guchar) *p < 0x7f ? *p : '?');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/*
 * nginx auth_request knows only 2xx, 401 and 403; any other denial (429 from a
 * rate limit, 503 from a failed plugin) goes out as 403 with the real status in
 * X-Hkp-Status, which our nginx snippet turns back into that status.
 */
static enum MHD_Result
queue_result (HttpCheck *self, struct MHD_Connection *connection, const HkpCheckResult *result)
{
  struct MHD_Response *response;
  guint status = result->status;
  enum MHD_Result ret;

  if (result->allowed && status == 200 && (result->headers == NULL || result->headers->len == 0))
    return MHD_queue_response (connection, MHD_HTTP_OK, self->allowed);

  if (result->allowed)
    response = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
  else
    {
      g_autofree char *body = g_strdup_printf ("%s\n", result->reason != NULL ? result->reason : "denied");
      g_autofree char *safe = header_safe (result->reason != NULL ? result->reason : "");
      char code[8];

      response = MHD_create_response_from_buffer (strlen (body), body, MHD_RESPMEM_MUST_COPY);
      MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
      g_snprintf (code, sizeof code, "%u", status);
      MHD_add_response_header (response, "X-Hkp-Status", code);
      if (result->plugin != NULL)
        MHD_add_response_header (response, "X-Hkp-Plugin", result->plugin);
      if (safe[0] != '\0')
        MHD_add_response_header (response, "X-Hkp-Reason", safe);
      if (status != MHD_HTTP_UNAUTHORIZED)
        status = MHD_HTTP_FORBIDDEN;
    }
  for (guint i = 0; result->headers != NULL && i + 1 < result->headers->len; i += 2)
    MHD_add_response_header (response, result->headers->pdata[i], result->headers->pdata[i + 1]);
  ret = MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return ret;
}

/* Any thread: the last request out while stopping wakes the main context. */
static void
leave (HttpCheck *self)
{
  GSource *drained;

  if (g_atomic_int_dec_and_test (&self->in_flight) && g_atomic_int_get (&self->stopping) &&
      (drained = g_atomic_pointer_get (&self->drained_source)) != NULL)
    g_source_set_ready_time (drained, 0);
}

/* Whether a suspended check is answered by its result or by the stop (atomic, from CHECKING to either). */
typedef enum {
  JOB_CHECKING,
  JOB_DECIDED, /* the result is filled */
  JOB_ABANDONED, /* the stop timed out first: answered "shutting down", the result never read */
} JobState;

/* One request's check, from the first call of the handler until its answer is queued. */
typedef struct {
  gint refs; /* the connection's, and the check's while the plugins decide */
  HttpCheck *self;
  struct MHD_Connection *connection;
  HkpCheckRequest *request;
  HkpCheckResult result;
  gint64 started; /* monotonic µs, for the duration histogram */
  gboolean checking; /* suspended while the plugins decide */
  gint state; /* JobState */
  GList link; /* in self->checking while suspended */
  int fd; /* the connection's socket, open while suspended */
} CheckJob;

static void
check_job_unref (CheckJob *job)
{
  if (!g_atomic_int_dec_and_test (&job->refs))
    return;
  g_clear_pointer (&job->request, hkp_check_request_unref);
  hkp_check_result_clear (&job->result);
  g_free (job);
}

/* Any thread: the plugins decided; the connection's thread answers, unless the stop answered already. */
static void
on_decided (gpointer user_data)
{
  CheckJob *job = user_data;

  if (g_atomic_int_compare_and_exchange (&job->state, JOB_CHECKING, JOB_DECIDED))
    MHD_resume_connection (job->connection);
  check_job_unref (job);
}

/* The job is no longer suspended (the connection's thread). */
static void
forget_check (HttpCheck *self, CheckJob *job)
{
  g_mutex_lock (&self->jobs_lock);
  g_queue_unlink (&self->checking, &job->link);
  g_mutex_unlock (&self->jobs_lock);
  job->checking = FALSE;
  leave (self);
}

/* Collects the request headers the plugins see (and the proxy headers checked on the way). */
typedef struct {
  HeaderScan scan;
  GPtrArray *all; /* name, value, … borrowed from the connection */
} HeaderCollect;

static enum MHD_Result
collect_header (void *data, enum MHD_ValueKind kind, const char *key, const char *value)
{
  HeaderCollect *collect = data;

  /* The proxy's secret is for us alone: plugins never see it. */
  if (collect->all->len < 2 * HKP_CHECK_HEADERS_MAX && g_ascii_strcasecmp (key, HTTP_PROXY_SECRET_HEADER) != 0)
    {
      g_ptr_array_add (collect->all, (gpointer) key);
      g_ptr_array_add (collect->all, (gpointer) value);
    }
  return scan_header (&collect->scan, kind, key, value);
}

/*
 * Starts the check of the request on connection: FALSE with a 400 queued if
 * its proxy headers are wrong; TRUE otherwise, the connection suspended until
 * the plugins decide (the answer is queued on the next handler call).
 */
static enum MHD_Result
start_check (HttpCheck *self, struct MHD_Connection *connection, CheckJob *job)
{
  HeaderCollect collect = { { { 0 } }, g_ptr_array_new () };
  g_autoptr (GPtrArray) all = collect.all;
  const union MHD_ConnectionInfo *socket_info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  g_autoptr (GString) forwarded_for = NULL;
  g_auto (HttpOriginalRequest) original = { 0 };
  g_autofree char *reason = NULL;

  MHD_get_connection_values (connection, MHD_HEADER_KIND, collect_header, &collect);
  forwarded_for = collect.scan.forwarded_for;
  collect.scan.headers.forwarded_for = forwarded_for != NULL ? forwarded_for->str : NULL;
  if (!http_proxy_parse (&collect.scan.headers, peer_address (connection), self->proxies, &original, &reason))
    {
      hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), HKP_CHECK_ANSWER_MALFORMED, -1);
      return queue_text (connection, MHD_HTTP_BAD_REQUEST, reason, FALSE);
    }
  g_ptr_array_add (all, NULL);
  job->request = hkp_check_request_new (original.method, original.path, original.query, original.client_address,
                                        (const char *const *) all->pdata);
  job->checking = TRUE;
  job->started = g_get_monotonic_time ();
  job->fd = socket_info != NULL ? socket_info->connect_fd : -1;
  g_atomic_int_inc (&self->in_flight);
  /* Suspended first, so a decision on another thread, or the stop, always finds it suspended. */
  MHD_suspend_connection (connection);
  job->link.data = job;
  g_mutex_lock (&self->jobs_lock);
  g_queue_push_tail_link (&self->checking, &job->link);
  g_mutex_unlock (&self->jobs_lock);
  /* The watch on clients runs while checks wait, and only then; armed once, not woken by every check. */
  if (!g_atomic_int_get (&self->gone_watch_armed) &&
      g_atomic_int_compare_and_exchange (&self->gone_watch_armed, FALSE, TRUE))
    g_source_set_ready_time (self->gone_watch, job->started + GONE_WATCH_USEC);
  g_atomic_int_inc (&job->refs); /* the check's, until on_decided() */
  if (hkp_engine_check_start (self->engine, job->request, &job->result, on_decided, job))
    on_decided (job);
  return MHD_YES;
}

/* How an answer counts in hkp_plugind_check_requests_total. */
static HkpCheckAnswer
answer_kind (const HkpCheckResult *result)
{
  if (result->allowed)
    return HKP_CHECK_ANSWER_ALLOW;
  return result->status == MHD_HTTP_SERVICE_UNAVAILABLE ? HKP_CHECK_ANSWER_UNAVAILABLE : HKP_CHECK_ANSWER_DENY;
}

/* Answers 503 "shutting down", counted as such, and closes the connection after. */
static enum MHD_Result
answer_shutting_down (HttpCheck *self, struct MHD_Connection *connection)
{
  hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), HKP_CHECK_ANSWER_SHUTTING_DOWN, -1);
  return queue_text (connection, MHD_HTTP_SERVICE_UNAVAILABLE, "hkp-plugind is shutting down", TRUE);
}

/* The plugins decided, or the stop gave up on them: answer, and forget the check. */
static enum MHD_Result
answer_check (HttpCheck *self, struct MHD_Connection *connection, CheckJob *job)
{
  enum MHD_Result ret;

  if (g_atomic_int_get (&job->state) == JOB_ABANDONED)
    ret = answer_shutting_down (self, connection);
  else if (job->result.cancelled)
    {
      /* Its client left (watch_gone_clients()): what it may still read is why, then the connection closes. */
      hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), HKP_CHECK_ANSWER_CLIENT_GONE, -1);
      ret = queue_text (connection, MHD_HTTP_SERVICE_UNAVAILABLE, "the client closed its connection before the answer",
                        TRUE);
    }
  else
    {
      ret = queue_result (self, connection, &job->result);
      hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), answer_kind (&job->result),
                              g_get_monotonic_time () - job->started);
    }
  forget_check (self, job);
  return ret;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method, const char *version,
            const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  HttpCheck *self = cls;
  CheckJob *job = *con_cls;

  /* Answering on the first call would make libmicrohttpd close the connection. */
  if (job == NULL)
    {
      job = g_new0 (CheckJob, 1);
      job->refs = 1;
      job->self = self;
      job->connection = connection;
      *con_cls = job;
      return MHD_YES;
    }
  if (job->checking)
    return g_atomic_int_get (&job->state) != JOB_CHECKING ? answer_check (self, connection, job) : MHD_YES;
  /* No body comes: a head that announces one was refused (refusal_before_body()). */
  if (strcmp (url, CHECK_PATH) != 0)
    {
      hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), HKP_CHECK_ANSWER_MALFORMED, -1);
      return queue_text (connection, MHD_HTTP_NOT_FOUND, "not found: the check endpoint is " CHECK_PATH, FALSE);
    }
  if (g_atomic_int_get (&self->stopping))
    return answer_shutting_down (self, connection);
  return start_check (self, connection, job);
}

/* The request is over (answered, or the connection went): its job goes, and the connection is idle. */
static void
on_completed (void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
  HttpCheck *self = cls;
  CheckJob *job = *con_cls;

  /* The client left while its check ran: resumed, the connection ended with no call of the handler, so the
   * answer was never queued and the check is over here, or a stop would wait its whole timeout for it. */
  if (job != NULL && job->checking)
    {
      if (g_atomic_int_get (&job->state) == JOB_DECIDED)
        hkp_check_stats_record (hkp_engine_get_check_stats (self->engine), HKP_CHECK_ANSWER_CLIENT_GONE, -1);
      forget_check (self, job);
    }
  g_clear_pointer ((CheckJob **) con_cls, check_job_unref);
  http_check_acceptor_request_ended (self->acceptor, connection);
}

static enum MHD_Result
count_content_lengths (void *data, enum MHD_ValueKind kind, const char *key, const char *value)
{
  if (g_ascii_strcasecmp (key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
    (*(int *) data)++;
  return MHD_YES;
}

/*
 * Why a head is answered before its body is read, or NULL; *status is its
 * status.  Framing that could be read two ways (Content-Length with
 * Transfer-Encoding, or two Content-Lengths) is 400.  Any body at all is
 * 413: a check has none (nginx sends none), and reading one would keep a
 * connection busy, never to be evicted, for as long as a client trickles it.
 */
static const char *
refusal_before_body (struct MHD_Connection *connection, guint *status)
{
  gboolean chunked = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
    NULL;
  const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  int lengths = 0;

  if (length == NULL && !chunked)
    return NULL;
  /* A second Content-Length: count them (only requests that name a length pay for it). */
  if (length != NULL && !chunked)
    MHD_get_connection_values (connection, MHD_HEADER_KIND, count_content_lengths, &lengths);
  if ((length != NULL && chunked) || lengths > 1)
    {
      *status = MHD_HTTP_BAD_REQUEST;
      return "the request's body could be read two ways (Content-Length with Transfer-Encoding, or two "
             "Content-Lengths)";
    }
  *status = MHD_HTTP_CONTENT_TOO_LARGE;
  if (chunked || strspn (length, "0") != strlen (length))
    return "a check takes no request body (nginx: proxy_pass_request_body off)";
  return NULL;
}

/*
 * What libmicrohttpd calls for every request: the acceptor learns that a
 * head has arrived (the connection is busy until the request completes),
 * and a head refused before its body (refusal_before_body()) is answered at
 * once, which makes libmicrohttpd close the connection after.
 */
static enum MHD_Result
on_request_head (void *cls, struct MHD_Connection *connection, const char *url, const char *method, const char *version,
                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  HttpCheck *self = cls;

  if (*con_cls == NULL)
    {
      guint status;
      const char *refusal;

      http_check_acceptor_request_began (self->acceptor, connection);
      refusal = refusal_before_body (connection, &status);
      if (refusal != NULL)
        return queue_text (connection, status, refusal, TRUE);
    }
  return on_request (cls, connection, url, method, version, upload_data, upload_data_size, con_cls);
}

static void
on_mhd_log (void *cls, const char *format, va_list ap)
{
  HttpCheck *self = cls;
  g_autofree char *message = NULL;
  gint64 now;
  gboolean allowed, first_dropped;

  /*
   * libmicrohttpd 0.9.75 cannot tell that a connection handed to it with
   * MHD_add_connection() is on a unix socket (Linux refuses TCP options
   * with EOPNOTSUPP, which it does not take as "not TCP"), and says so on
   * every answer.  Nothing is delayed: a unix socket has no Nagle to undo.
   */
  if (self->listen_kind == LISTEN_UNIX &&
      (g_str_has_prefix (format, "Setting %s option") || g_str_has_prefix (format, "Failed to push the data")))
    return;
  /* Any client can make it speak (by leaving before its answer): the journal gets a bounded share. */
  g_mutex_lock (&self->log_lock);
  now = g_get_monotonic_time (); /* under the lock: the bucket's clock never goes back */
  allowed = hkp_rate_limit_take (&self->log_limit, now);
  first_dropped = !allowed && self->log_limit.dropped == 1;
  g_mutex_unlock (&self->log_lock);
  if (first_dropped)
    g_source_set_ready_time (self->log_report, now + G_USEC_PER_SEC);
  if (!allowed)
    return;
  message = g_strdup_vprintf (format, ap);
  g_warning ("check endpoint: %s", g_strchomp (message));
}

/* Says how many of libmicrohttpd's messages were dropped since this was last said, if any. */
static gboolean
report_dropped_mhd_log (gpointer data)
{
  HttpCheck *self = data;
  guint64 dropped;

  g_mutex_lock (&self->log_lock);
  dropped = hkp_rate_limit_take_dropped (&self->log_limit);
  g_mutex_unlock (&self->log_lock);
  if (dropped > 0)
    g_warning ("check endpoint: %" G_GUINT64_FORMAT " messages of libmicrohttpd dropped (more than %u at once, or %u "
               "a second)",
               dropped, MHD_LOG_BURST, MHD_LOG_RATE);
  return G_SOURCE_CONTINUE;
}

static guint
default_connection_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY)
    return 1000;
  /* Leave room for plugins, the bus and the management bridge. */
  return (guint) CLAMP ((gint64) limit.rlim_cur / 2, 16, 100000);
}

HttpCheck *
http_check_new (HkpEngine *engine, const HttpCheckSettings *settings, GError **error)
{
  static const char *const loopback[] = { "127.0.0.0/8", "::1/128", NULL };
  g_autoptr (HttpCheck) self = g_new0 (HttpCheck, 1);
  guint threads = settings->threads;
  guint limit = settings->connection_limit != 0 ? settings->connection_limit : default_connection_limit ();
  guint idle = settings->idle_timeout_sec != 0 ? settings->idle_timeout_sec : IDLE_TIMEOUT_DEFAULT_SEC;
  /* Whoever can open a unix socket speaks for clients: only the proxy's group (see http_proxy_parse()). */
  HttpListenOptions listen_options = { LISTEN_BACKLOG, 0660, (gid_t) -1 };
  int fd;

  g_mutex_init (&self->jobs_lock);
  g_mutex_init (&self->log_lock);
  hkp_rate_limit_init (&self->log_limit, MHD_LOG_BURST, MHD_LOG_RATE);
  self->engine = g_object_ref (engine);
  self->proxies = http_trusted_proxies_new (settings->trusted_proxies != NULL ? settings->trusted_proxies : loopback,
                                            error);
  if (self->proxies == NULL)
    return NULL;
  if (settings->proxy_secret_file != NULL)
    {
      char *secret = http_secret_read (settings->proxy_secret_file, "proxy secret file", error);
      if (secret == NULL)
        return NULL;
      http_trusted_proxies_set_secret (self->proxies, secret);
      http_secret_free (secret);
    }
  if (settings->socket_group != NULL &&
      !http_listen_parse_group (settings->socket_group, &listen_options.unix_group, error))
    return NULL;
  fd = http_listen_open (settings->listen, &listen_options, error);
  if (fd < 0)
    return NULL;
  self->address = http_listen_describe (fd);
  self->listen_kind = settings->listen->kind;
  self->acceptor = http_check_acceptor_new (fd, limit);
  if (settings->listen->kind == LISTEN_TCP && settings->proxy_secret_file == NULL &&
      http_trusted_proxies_have_own_address (self->proxies))
    g_message ("check endpoint on %s: with no --check-proxy-secret-file, the X-Real-IP and X-Forwarded-For of a "
               "peer on this machine (loopback or one of its own addresses) are not believed (any local user can "
               "be one): it is the client itself",
               self->address);
  if (threads == 0)
    threads = MAX (2, g_get_num_processors ());
  self->threads = threads;
  self->connection_limit = limit;
  self->idle_timeout_sec = idle;
  return g_steal_pointer (&self);
}

/*
 * Main thread, every GONE_WATCH_USEC while checks wait: cancels those whose
 * client closed its connection (as nginx gives up on a request whose client
 * left), so that no plugin works on for nobody.  Only checks that waited
 * that long are looked at; most are answered in a millisecond.
 */
static gboolean
watch_gone_clients (gpointer data)
{
  HttpCheck *self = data;
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  g_autoptr (GPtrArray) polled = g_ptr_array_new ();
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  gint64 now = g_get_monotonic_time ();
  gboolean waiting;

  /* Disarmed before the look at the list: a check that comes after it arms the watch again. */
  g_atomic_int_set (&self->gone_watch_armed, FALSE);
  g_mutex_lock (&self->jobs_lock);
  for (GList *l = self->checking.head; l != NULL; l = l->next)
    {
      CheckJob *job = l->data;
      struct pollfd pfd = { .fd = job->fd, .events = POLLRDHUP };

      /* Cancelled already (only this watch cancels a check), too young, or decided. */
      if (g_atomic_int_get (&job->request->cancelled) || job->fd < 0 || now - job->started < GONE_WATCH_USEC ||
          g_atomic_int_get (&job->state) != JOB_CHECKING)
        continue;
      g_array_append_val (fds, pfd);
      g_ptr_array_add (polled, job);
    }
  /* Under the lock: a check in the list is suspended, so its socket is still open. */
  if (fds->len > 0 && poll ((struct pollfd *) (gpointer) fds->data, fds->len, 0) > 0)
    for (guint i = 0; i < fds->len; i++)
      if (g_array_index (fds, struct pollfd, i).revents & (POLLRDHUP | POLLHUP | POLLERR))
        {
          CheckJob *job = polled->pdata[i];

          g_atomic_int_inc (&job->refs);
          g_ptr_array_add (gone, job);
        }
  waiting = !g_queue_is_empty (&self->checking);
  g_mutex_unlock (&self->jobs_lock);
  for (guint i = 0; i < gone->len; i++)
    {
      CheckJob *job = gone->pdata[i];

      hkp_check_request_cancel (job->request);
      check_job_unref (job);
    }
  if (waiting && g_atomic_int_compare_and_exchange (&self->gone_watch_armed, FALSE, TRUE))
    g_source_set_ready_time (self->gone_watch, g_get_monotonic_time () + GONE_WATCH_USEC);
  return G_SOURCE_CONTINUE;
}

gboolean
http_check_start (HttpCheck *self, GError **error)
{
  g_return_val_if_fail (self->mhd == NULL, FALSE);
  self->allowed = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
  self->log_report = http_ready_source_new (NULL, report_dropped_mhd_log, self, "hkp-check-log-report");
  self->gone_watch = http_ready_source_new (NULL, watch_gone_clients, self, "hkp-check-gone-watch");

  /*
   * Checks are suspended while plugins decide, so no thread here ever waits
   * on a plugin.  No listening socket of its own: the acceptor hands it
   * connections (see http-check-accept.h).
   */
  self->mhd = MHD_start_daemon (
    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_USE_SUPPRESS_DATE_NO_CLOCK |
      MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET,
    0, NULL, NULL, on_request_head, self, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, self, MHD_OPTION_NOTIFY_COMPLETED,
    on_completed, self, MHD_OPTION_THREAD_POOL_SIZE, self->threads, MHD_OPTION_CONNECTION_LIMIT,
    http_check_acceptor_mhd_limit (self->acceptor), MHD_OPTION_CONNECTION_TIMEOUT, self->idle_timeout_sec,
    MHD_OPTION_NOTIFY_CONNECTION, http_check_acceptor_notify, self->acceptor, MHD_OPTION_END);
  if (self->mhd == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the check endpoint on %s", self->address);
      return FALSE;
    }
  if (!http_check_acceptor_start (self->acceptor, self->mhd, error))
    return FALSE;
  g_message ("check endpoint listening on %s (%u threads, up to %u connections, the longest-idle closed for a new "
             "one beyond)",
             self->address, self->threads, self->connection_limit);
  return TRUE;
}

const char *
http_check_get_address (HttpCheck *check)
{
  return check->address;
}

/*
 * Answers every check still waiting on its plugins "shutting down" (503):
 * their connections are resumed, and libmicrohttpd's threads queue the
 * answers.  A plugin that decides later finds its check answered.  Returns
 * how many were.
 */
static guint
abandon_checks (HttpCheck *self)
{
  g_autoptr (GPtrArray) connections = g_ptr_array_new ();

  g_mutex_lock (&self->jobs_lock);
  for (GList *l = self->checking.head; l != NULL; l = l->next)
    {
      CheckJob *job = l->data;

      if (g_atomic_int_compare_and_exchange (&job->state, JOB_CHECKING, JOB_ABANDONED))
        g_ptr_array_add (connections, job->connection);
    }
  g_mutex_unlock (&self->jobs_lock);
  /* Outside our lock, which libmicrohttpd's threads take; a suspended connection stays until it is resumed. */
  for (guint i = 0; i < connections->len; i++)
    MHD_resume_connection (connections->pdata[i]);
  return connections->len;
}

static void
finish_stop (HttpCheck *self, gboolean drained)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->stop_task);
  int in_flight = g_atomic_int_get (&self->in_flight);

  if (task == NULL)
    return;
  g_clear_pointer (&self->timeout_source, g_source_destroy);
  g_clear_pointer (&self->abandon_grace, g_source_destroy);
  if (self->abandoned > 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             "%u check(s) still running when the stop timeout passed; answered 503 (shutting down)",
                             self->abandoned);
  else if (drained)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             "%d check(s) still running when the stop timeout passed", in_flight);
}

static gboolean
on_drained (gpointer user_data)
{
  HttpCheck *self = user_data;

  if (g_atomic_int_get (&self->in_flight) == 0)
    finish_stop (self, TRUE);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_abandon_grace (gpointer user_data)
{
  HttpCheck *self = user_data;

  self->abandon_grace = NULL;
  finish_stop (self, FALSE);
  return G_SOURCE_REMOVE;
}

/* The checks still running are answered at once; the stop ends when every answer is queued (on_drained), or a grace
 * later. */
static gboolean
on_stop_timeout (gpointer user_data)
{
  HttpCheck *self = user_data;

  self->timeout_source = NULL;
  self->abandoned = abandon_checks (self);
  if (g_atomic_int_get (&self->in_flight) == 0)
    {
      finish_stop (self, TRUE);
      return G_SOURCE_REMOVE;
    }
  self->abandon_grace = g_timeout_source_new (ABANDON_GRACE_MS);
  g_source_set_callback (self->abandon_grace, on_abandon_grace, self, NULL);
  g_source_attach (self->abandon_grace, g_main_context_get_thread_default ());
  g_source_unref (self->abandon_grace);
  return G_SOURCE_REMOVE;
}

void
http_check_stop_async (HttpCheck *self, gdouble timeout_sec, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  GSource *source;

  g_task_set_source_tag (task, http_check_stop_async);
  if (self->mhd == NULL)
    {
      g_task_return_boolean (task, TRUE); /* never started: nothing to wait for */
      g_object_unref (task);
      return;
    }
  if (self->stop_task != NULL || self->drained_source != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "the check endpoint is already stopping");
      g_object_unref (task);
      return;
    }
  self->stop_task = task;
  source = http_ready_source_new (NULL, on_drained, self, "hkp-check-drained");
  g_atomic_pointer_set (&self->drained_source, source);
  g_atomic_int_set (&self->stopping, 1);

  /* No new connections; requests on open ones get 503 and the connection closes. */
  http_check_acceptor_stop (self->acceptor);
  g_message ("check endpoint %s: no longer taking checks; %d in flight", self->address,
             g_atomic_int_get (&self->in_flight));
  self->timeout_source = g_timeout_source_new ((guint) (timeout_sec * 1000));
  g_source_set_callback (self->timeout_source, on_stop_timeout, self, NULL);
  g_source_attach (self->timeout_source, g_main_context_get_thread_default ());
  g_source_unref (self->timeout_source);
  g_source_set_ready_time (source, 0); /* maybe nothing is in flight */
}

gboolean
http_check_stop_finish (HttpCheck *check, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
http_check_free (HttpCheck *self)
{
  if (self == NULL)
    return;
  /* Nothing more is handed to libmicrohttpd, which then closes (and tells the acceptor of) every connection. */
  if (self->acceptor != NULL)
    http_check_acceptor_stop (self->acceptor);
  if (self->mhd != NULL)
    {
      gint64 limit = g_get_monotonic_time () + ABANDON_GRACE_MS * 1000;

      /*
       * libmicrohttpd aborts the process if it is stopped with a connection
       * suspended: new requests are refused, and the checks running are
       * answered first (again and again: one may just have begun).
       */
      g_atomic_int_set (&self->stopping, 1);
      while (abandon_checks (self), g_atomic_int_get (&self->in_flight) > 0 && g_get_monotonic_time () < limit)
        g_usleep (1000);
      if (g_atomic_int_get (&self->in_flight) > 0)
        {
          /* Its threads may still call us: all of it stays for the process's last moments. */
          g_warning ("check endpoint: %d check(s) could not be answered; their connections close with the process",
                     g_atomic_int_get (&self->in_flight));
          return;
        }
      MHD_stop_daemon (self->mhd);
    }
  if (self->log_report != NULL)
    report_dropped_mhd_log (self);
  http_ready_source_free (self->log_report);
  http_ready_source_free (self->gone_watch);
  g_clear_pointer (&self->acceptor, http_check_acceptor_free);
  finish_stop (self, g_atomic_int_get (&self->in_flight) == 0);
  http_ready_source_free (self->drained_source);
  g_clear_pointer (&self->timeout_source, g_source_destroy);
  g_clear_pointer (&self->abandon_grace, g_source_destroy);
  g_mutex_clear (&self->jobs_lock);
  g_mutex_clear (&self->log_lock);
  if (self->allowed != NULL)
    MHD_destroy_response (self->allowed);
  http_trusted_proxies_free (self->proxies);
  g_free (self->address);
  g_clear_object (&self->engine);
  g_free (self);
}
