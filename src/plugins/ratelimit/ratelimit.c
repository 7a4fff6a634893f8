/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ratelimit: a token bucket per client and class.  Clients are grouped by
 * address prefix (IPv4 /32 and IPv6 /64 by default); classes are HKP lookups
 * (GET /pks/lookup), submissions (POST /pks/add) and everything else.  A
 * client over its rate is denied with 429, Retry-After and X-RateLimit-*
 * headers; otherwise the next plugin decides.  The table holds at most
 * max_clients buckets, evicting the least recently used.
 *
 * config: { "enabled": true,
 *           "lookup": { "requests_per_second": 10, "burst": 20 },
 *           "submit": { "requests_per_second": 0.2, "burst": 3 },
 *           "default": { "requests_per_second": 5, "burst": 10 },
 *           "ipv4_prefix": 32, "ipv6_prefix": 64, "max_clients": 100000 }
 * Every key is optional; the defaults are the values shown.
 */
#define G_LOG_DOMAIN "hkp-ratelimit"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "hkp-plugin.h"
#include "plugin-config.h"

#define N_SHARDS 16

typedef enum { CLASS_LOOKUP, CLASS_SUBMIT, CLASS_DEFAULT, N_CLASSES } RateClass;
static const char *const class_keys[N_CLASSES] = { "lookup", "submit", "default" };

typedef struct {
  double rate; /* tokens a second */
  double burst; /* bucket size */
} Rate;

typedef struct {
  guint8 key[17]; /* class, then the masked address (16 bytes) */
  double tokens;
  gint64 updated; /* monotonic µs */
  GList *lru; /* this bucket's link in the shard's LRU queue */
} Bucket;

typedef struct {
  GMutex lock;
  GHashTable *buckets; /* key → Bucket */
  GQueue lru; /* Bucket, most recently used first */
} Shard;

typedef struct {
  Rate rates[N_CLASSES];
  guint ipv4_prefix;
  guint ipv6_prefix;
  guint max_per_shard;
  Shard shards[N_SHARDS];
  gint evictions; /* atomic */
  gint limited; /* atomic */
} RateLimit;

static guint
key_hash (gconstpointer key)
{
  const guint8 *b = key;
  guint h = 2166136261u;

  for (guint i = 0; i < 17; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 17) == 0;
}

/* ---- configuration ------------------------------------------------------- */

static gboolean
read_number (JsonObject *object, const char *key, const char *where, double min, double max, double *out, char *error,
             size_t error_size)
{
  JsonNode *node = json_object_get_member (object, key);
  GType type;

  if (node == NULL)
    return TRUE;
  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if ((type != G_TYPE_INT64 && type != G_TYPE_DOUBLE) ||
      !(json_node_get_double (node) >= min && json_node_get_double (node) <= max))
    return plugin_fail (error, error_size, "key \"%s%s\" must be a number from %g to %g", where, key, min, max);
  *out = json_node_get_double (node);
  return TRUE;
}

static gboolean
read_class (JsonObject *config, RateClass class, Rate *rate, char *error, size_t error_size)
{
  JsonNode *node = json_object_get_member (config, class_keys[class]);
  static const char *const known[] = { "requests_per_second", "burst", NULL };
  g_autofree char *where = g_strdup_printf ("%s.", class_keys[class]);
  JsonObject *object;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return plugin_fail (error, error_size, "key \"%s\" must be an object with requests_per_second and burst",
                        class_keys[class]);
  object = json_node_get_object (node);
  if (!plugin_config_known_keys (object, where, known, error, error_size))
    return FALSE;
  return read_number (object, "requests_per_second", where, 0.001, 1e6, &rate->rate, error, error_size) &&
    read_number (object, "burst", where, 1, 1e6, &rate->burst, error, error_size);
}

static gboolean
configure (RateLimit *limit, const char *config_json, char *error, size_t error_size)
{
  static const char *const known[] = { "enabled",     "lookup",      "submit",      "default",
                                       "ipv4_prefix", "ipv6_prefix", "max_clients", NULL };
  JsonObject *config = NULL;
  g_autoptr (JsonParser) parser = plugin_config_parse (config_json, &config, error, error_size);
  double ipv4 = 32, ipv6 = 64, max_clients = 100000;

  limit->rates[CLASS_LOOKUP] = (Rate){ 10, 20 };
  limit->rates[CLASS_SUBMIT] = (Rate){ 0.2, 3 };
  limit->rates[CLASS_DEFAULT] = (Rate){ 5, 10 };
  if (parser == NULL || !plugin_config_known_keys (config, "", known, error, error_size))
    return FALSE;
  for (guint c = 0; c < N_CLASSES; c++)
    if (!read_class (config, c, &limit->rates[c], error, error_size))
      return FALSE;
  if (!read_number (config, "ipv4_prefix", "", 1, 32, &ipv4, error, error_size) ||
      !read_number (config, "ipv6_prefix", "", 1, 128, &ipv6, error, error_size) ||
      !read_number (config, "max_clients", "", N_SHARDS, 1e8, &max_clients, error, error_size))
    return FALSE;
  if (ipv4 != floor (ipv4) || ipv6 != floor (ipv6) || max_clients != floor (max_clients))
    return plugin_fail (error, error_size,
                        "keys \"ipv4_prefix\", \"ipv6_prefix\" and \"max_clients\" must be whole numbers");
  limit->ipv4_prefix = (guint) ipv4;
  limit->ipv6_prefix = (guint) ipv6;
  limit->max_per_shard = (guint) (max_clients / N_SHARDS);
  return TRUE;
}

static RateLimit *
limit_new (void)
{
  RateLimit *limit = g_new0 (RateLimit, 1);

  for (guint i = 0; i < N_SHARDS; i++)
    {
      g_mutex_init (&limit->shards[i].lock);
      limit->shards[i].buckets = g_hash_table_new_full (key_hash, key_equal, NULL, g_free);
      g_queue_init (&limit->shards[i].lru);
    }
  return limit;
}

static void
limit_free (RateLimit *limit)
{
  for (guint i = 0; i < N_SHARDS; i++)
    {
      g_queue_clear (&limit->shards[i].lru);
      g_hash_table_unref (limit->shards[i].buckets);
      g_mutex_clear (&limit->shards[i].lock);
    }
  g_free (limit);
}

/* ---- the request path ---------------------------------------------------- */

/* Fills key with the class and the client's masked address; FALSE if the address is not one. */
static gboolean
client_key (const RateLimit *limit, RateClass class, const char *address, guint8 key[17])
{
  struct in_addr a4;
  struct in6_addr a6;
  guint prefix;

  memset (key, 0, 17);
  key[0] = (guint8) class;
  if (inet_pton (AF_INET, address, &a4) == 1)
    {
      /* IPv4 lives in the IPv4-mapped IPv6 space, so the two families never share a key. */
      key[11] = key[12] = 0xff;
      memcpy (key + 13, &a4.s_addr, 4);
      prefix = 96 + limit->ipv4_prefix;
    }
  else if (inet_pton (AF_INET6, address, &a6) == 1)
    {
      memcpy (key + 1, a6.s6_addr, 16);
      /* An IPv4 client written as ::ffff:192.0.2.1 is that IPv4 client, counted by its IPv4 prefix. */
      prefix = IN6_IS_ADDR_V4MAPPED (&a6) ? 96 + limit->ipv4_prefix : limit->ipv6_prefix;
    }
  else
    return FALSE;
  for (guint i = 0; i < 16; i++)
    {
      guint bits = prefix > i * 8 ? MIN (prefix - i * 8, 8) : 0;
      key[1 + i] &= (guint8) (bits == 0 ? 0 : 0xff << (8 - bits));
    }
  return TRUE;
}

static RateClass
classify (const hkp_request *request)
{
  if (g_str_equal (request->path, "/pks/lookup") && g_str_equal (request->method, "GET"))
    return CLASS_LOOKUP;
  if (g_str_equal (request->path, "/pks/add") && g_str_equal (request->method, "POST"))
    return CLASS_SUBMIT;
  return CLASS_DEFAULT;
}

static hkp_verdict
ratelimit_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  RateLimit *limit = instance;
  RateClass class = classify (request);
  const Rate *rate = &limit->rates[class];
  guint8 key[17];
  Shard *shard;
  Bucket *bucket;
  gint64 now = g_get_monotonic_time ();
  double wait_sec = 0;
  gboolean allowed;

  /* Without an address there is nobody to count: the next plugin decides. */
  if (!client_key (limit, class, request->client_address, key))
    return HKP_VERDICT_CONTINUE;
  shard = &limit->shards[key_hash (key) % N_SHARDS];
  g_mutex_lock (&shard->lock);
  bucket = g_hash_table_lookup (shard->buckets, key);
  if (bucket == NULL)
    {
      if (g_hash_table_size (shard->buckets) >= limit->max_per_shard)
        {
          Bucket *oldest = g_queue_pop_tail (&shard->lru);
          g_hash_table_remove (shard->buckets, oldest->key);
          g_atomic_int_inc (&limit->evictions);
        }
      bucket = g_new0 (Bucket, 1);
      memcpy (bucket->key, key, sizeof key);
      bucket->tokens = rate->burst;
      bucket->updated = now;
      g_hash_table_insert (shard->buckets, bucket->key, bucket);
      g_queue_push_head (&shard->lru, bucket);
      bucket->lru = shard->lru.head;
    }
  else
    {
      g_queue_unlink (&shard->lru, bucket->lru);
      g_queue_push_head_link (&shard->lru, bucket->lru);
      bucket->tokens = MIN (rate->burst, bucket->tokens + (now - bucket->updated) / 1e6 * rate->rate);
      bucket->updated = now;
    }
  allowed = bucket->tokens >= 1;
  if (allowed)
    bucket->tokens -= 1;
  else
    wait_sec = (1 - bucket->tokens) / rate->rate;
  g_mutex_unlock (&shard->lock);

  if (allowed)
    return HKP_VERDICT_CONTINUE;
  {
    char retry[32], limit_text[32], reset[32];
    snprintf (retry, sizeof retry, "%.0f", ceil (wait_sec));
    snprintf (limit_text, sizeof limit_text, "%g", rate->rate);
    snprintf (reset, sizeof reset, "%.0f", ceil (wait_sec));
    g_atomic_int_inc (&limit->limited);
    response->status = 429;
    response->set_reason (response, "too many requests from your address; try again later");
    response->add_header (response, "Retry-After", retry);
    response->add_header (response, "X-RateLimit-Limit", limit_text);
    response->add_header (response, "X-RateLimit-Remaining", "0");
    response->add_header (response, "X-RateLimit-Reset", reset);
    return HKP_VERDICT_DENY;
  }
}

/* ---- the rest of the ABI --------------------------------------------------- */

static int
ratelimit_validate (const char *config_json, char *error, size_t error_size)
{
  RateLimit *limit = limit_new ();
  gboolean ok = configure (limit, config_json, error, error_size);

  limit_free (limit);
  return ok ? 0 : -1;
}

static int
ratelimit_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  RateLimit *limit = limit_new ();

  if (!configure (limit, config_json, error, error_size))
    {
      limit_free (limit);
      return -1;
    }
  *instance = limit;
  return 0;
}

static hkp_health_status
ratelimit_health (void *instance, hkp_health_report *report)
{
  RateLimit *limit = instance;
  gint64 clients = 0;

  for (guint i = 0; i < N_SHARDS; i++)
    {
      g_mutex_lock (&limit->shards[i].lock);
      clients += g_hash_table_size (limit->shards[i].buckets);
      g_mutex_unlock (&limit->shards[i].lock);
    }
  report->add_check_int (report, "clients", clients);
  report->add_check_int (report, "max_clients", (int64_t) limit->max_per_shard * N_SHARDS);
  report->add_check_int (report, "evictions", g_atomic_int_get (&limit->evictions));
  report->add_check_int (report, "limited", g_atomic_int_get (&limit->limited));
  return HKP_HEALTH_HEALTHY;
}

static void
ratelimit_shutdown (void *instance)
{
  limit_free (instance);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "ratelimit",
  .version = PACKAGE_VERSION,
  .description = "Token-bucket rate limits per client address, for HKP lookups, submissions and the rest",
  .init = ratelimit_init,
  .validate_config = ratelimit_validate,
  .handle = ratelimit_handle,
  .health = ratelimit_health,
  .shutdown = ratelimit_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
