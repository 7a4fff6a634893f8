/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipfilter: allow and deny lists of CIDR ranges (IPv4 and IPv6), from the
 * config and from list files.  A client in a deny range is denied (deny
 * wins); if there is an allow list, a client outside it is denied too;
 * everyone else is left to the next plugin.  With no lists at all it allows
 * everything through, so {"enabled": true} alone is safe to switch on.
 *
 * config: { "enabled": true,
 *           "allow": ["192.0.2.0/24", "2001:db8::/32"], "deny": ["198.51.100.7"],
 *           "allow_files": ["/etc/hkp-plugind/allow.txt"], "deny_files": [],
 *           "status": 403, "reason": "…" }
 * List files hold one address or CIDR a line; '#' starts a comment.
 */
#define G_LOG_DOMAIN "hkp-ipfilter"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "hkp-plugin.h"
#include "plugin-config.h"

#define MAX_FILE_SIZE (64 * 1024 * 1024)

/* One list: for every prefix length in use, the set of masked networks of that length. */
typedef struct {
  GHashTable *v4[33]; /* guint32 network (host order) → itself */
  GHashTable *v6[129]; /* 16-byte network → itself */
  guint n_v4;
  guint n_v6;
} RangeSet;

typedef struct {
  RangeSet allow;
  RangeSet deny;
  int status;
  char *reason;
} IpFilter;

static guint
v6_hash (gconstpointer key)
{
  const guint8 *b = key;
  guint h = 5381;

  for (guint i = 0; i < 16; i++)
    h = h * 33 + b[i];
  return h;
}

static gboolean
v6_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 16) == 0;
}

static void
range_set_clear (RangeSet *set)
{
  for (guint i = 0; i < G_N_ELEMENTS (set->v4); i++)
    g_clear_pointer (&set->v4[i], g_hash_table_unref);
  for (guint i = 0; i < G_N_ELEMENTS (set->v6); i++)
    g_clear_pointer (&set->v6[i], g_hash_table_unref);
}

static void
mask_v6 (guint8 address[16], guint prefix)
{
  for (guint i = 0; i < 16; i++)
    {
      guint bits = prefix > i * 8 ? MIN (prefix - i * 8, 8) : 0;
      address[i] &= (guint8) (bits == 0 ? 0 : 0xff << (8 - bits));
    }
}

static guint32
mask_v4 (guint32 address, guint prefix)
{
  return prefix == 0 ? 0 : address & (0xffffffffu << (32 - prefix));
}

/* Parses an address: IPv4-mapped IPv6 becomes IPv4.  Returns 4, 6, or 0 if it is not an address. */
static int
parse_address (const char *text, guint32 *v4, guint8 v6[16])
{
  struct in_addr a4;
  struct in6_addr a6;

  if (inet_pton (AF_INET, text, &a4) == 1)
    {
      *v4 = ntohl (a4.s_addr);
      return 4;
    }
  if (inet_pton (AF_INET6, text, &a6) == 1)
    {
      static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
      if (memcmp (a6.s6_addr, mapped, 12) == 0)
        {
          *v4 = ((guint32) a6.s6_addr[12] << 24) | ((guint32) a6.s6_addr[13] << 16) | ((guint32) a6.s6_addr[14] << 8) |
            a6.s6_addr[15];
          return 4;
        }
      memcpy (v6, a6.s6_addr, 16);
      return 6;
    }
  return 0;
}

/* Adds "ADDRESS" or "ADDRESS/PREFIX" to set; FALSE if it is neither. */
static gboolean
range_set_add (RangeSet *set, const char *entry)
{
  g_autofree char *text = g_strstrip (g_strdup (entry));
  char *slash = strchr (text, '/');
  guint32 v4 = 0;
  guint8 v6[16];
  guint64 prefix;
  int family;

  if (slash != NULL)
    *slash = '\0';
  family = parse_address (text, &v4, v6);
  if (family == 0)
    return FALSE;
  if (slash == NULL)
    prefix = family == 4 ? 32 : 128;
  else
    {
      char *end = NULL;
      gboolean mapped = family == 4 && strchr (text, ':') != NULL;

      if (!g_ascii_isdigit (slash[1]))
        return FALSE;
      prefix = g_ascii_strtoull (slash + 1, &end, 10);
      if (*end != '\0' || prefix > (family == 4 && !mapped ? 32u : 128u))
        return FALSE;
      /* An IPv4-mapped IPv6 range counts its prefix over the whole 128 bits. */
      if (mapped)
        {
          if (prefix < 96)
            return FALSE;
          prefix -= 96;
        }
    }
  if (family == 4)
    {
      guint32 network = mask_v4 (v4, (guint) prefix);
      if (set->v4[prefix] == NULL)
        set->v4[prefix] = g_hash_table_new (g_direct_hash, g_direct_equal);
      if (!g_hash_table_contains (set->v4[prefix], GUINT_TO_POINTER (network)))
        set->n_v4++;
      g_hash_table_add (set->v4[prefix], GUINT_TO_POINTER (network));
    }
  else
    {
      guint8 *network = g_memdup2 (v6, 16);
      mask_v6 (network, (guint) prefix);
      if (set->v6[prefix] == NULL)
        set->v6[prefix] = g_hash_table_new_full (v6_hash, v6_equal, g_free, NULL);
      if (!g_hash_table_contains (set->v6[prefix], network))
        set->n_v6++;
      g_hash_table_add (set->v6[prefix], network);
    }
  return TRUE;
}

static gboolean
range_set_contains (const RangeSet *set, int family, guint32 v4, const guint8 v6[16])
{
  if (family == 4)
    {
      for (guint prefix = 0; prefix <= 32; prefix++)
        if (set->v4[prefix] != NULL && g_hash_table_contains (set->v4[prefix], GUINT_TO_POINTER (mask_v4 (v4, prefix))))
          return TRUE;
      return FALSE;
    }
  for (guint prefix = 0; prefix <= 128; prefix++)
    if (set->v6[prefix] != NULL)
      {
        guint8 network[16];
        memcpy (network, v6, 16);
        mask_v6 (network, prefix);
        if (g_hash_table_contains (set->v6[prefix], network))
          return TRUE;
      }
  return FALSE;
}

static gboolean
range_set_empty (const RangeSet *set)
{
  return set->n_v4 == 0 && set->n_v6 == 0;
}

/* ---- configuration ------------------------------------------------------- */

/* Returns the member as an array of strings, or NULL with a message naming key. */
static JsonArray *
string_array (JsonObject *config, const char *key, char *error, size_t error_size, gboolean *ok)
{
  JsonNode *node = json_object_get_member (config, key);
  JsonArray *array;

  *ok = TRUE;
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      *ok = plugin_fail (error, error_size, "key \"%s\" must be an array of strings", key);
      return NULL;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        {
          *ok = plugin_fail (error, error_size, "%s[%u] must be a string", key, i);
          return NULL;
        }
    }
  return array;
}

static gboolean
load_entries (RangeSet *set, JsonObject *config, const char *key, char *error, size_t error_size)
{
  gboolean ok;
  JsonArray *array = string_array (config, key, error, error_size, &ok);

  for (guint i = 0; ok && array != NULL && i < json_array_get_length (array); i++)
    {
      const char *entry = json_array_get_string_element (array, i);
      if (!range_set_add (set, entry))
        return plugin_fail (error, error_size, "%s[%u]: \"%s\" is not an IP address or CIDR range", key, i, entry);
    }
  return ok;
}

static gboolean
load_files (RangeSet *set, JsonObject *config, const char *key, char *error, size_t error_size)
{
  gboolean ok;
  JsonArray *array = string_array (config, key, error, error_size, &ok);

  for (guint i = 0; ok && array != NULL && i < json_array_get_length (array); i++)
    {
      const char *path = json_array_get_string_element (array, i);
      char problem[HKP_PLUGIN_ERROR_SIZE];
      g_autofree char *data = plugin_read_regular_file (path, MAX_FILE_SIZE, problem, sizeof problem);
      g_auto (GStrv) lines = NULL;

      if (data == NULL)
        return plugin_fail (error, error_size, "%s[%u]: %s", key, i, problem);
      lines = g_strsplit (data, "\n", -1);
      for (guint n = 0; lines[n] != NULL; n++)
        {
          char *comment = strchr (lines[n], '#');
          if (comment != NULL)
            *comment = '\0';
          g_strstrip (lines[n]);
          if (lines[n][0] != '\0' && !range_set_add (set, lines[n]))
            return plugin_fail (error, error_size, "%s: line %u: \"%s\" is not an IP address or CIDR range", path,
                                n + 1, lines[n]);
        }
    }
  return ok;
}

static const char *const known_keys[] = { "enabled",    "allow",  "deny",   "allow_files",
                                          "deny_files", "status", "reason", NULL };

/* Builds a filter from config_json into filter; FALSE with a message naming the bad key or entry. */
static gboolean
configure (IpFilter *filter, const char *config_json, char *error, size_t error_size)
{
  JsonObject *config = NULL;
  g_autoptr (JsonParser) parser = plugin_config_parse (config_json, &config, error, error_size);
  JsonNode *node;

  if (parser == NULL || !plugin_config_known_keys (config, "", known_keys, error, error_size))
    return FALSE;

  filter->status = 403;
  if ((node = json_object_get_member (config, "status")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
          (json_node_get_int (node) != 401 && json_node_get_int (node) != 403))
        return plugin_fail (error, error_size, "key \"status\" must be 401 or 403");
      filter->status = (int) json_node_get_int (node);
    }
  filter->reason = g_strdup ("your address is not allowed to use this keyserver");
  if ((node = json_object_get_member (config, "reason")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return plugin_fail (error, error_size, "key \"reason\" must be a string");
      g_free (filter->reason);
      filter->reason = g_strdup (json_node_get_string (node));
    }
  return load_entries (&filter->allow, config, "allow", error, error_size) &&
    load_entries (&filter->deny, config, "deny", error, error_size) &&
    load_files (&filter->allow, config, "allow_files", error, error_size) &&
    load_files (&filter->deny, config, "deny_files", error, error_size);
}

static void
filter_free (IpFilter *filter)
{
  range_set_clear (&filter->allow);
  range_set_clear (&filter->deny);
  g_free (filter->reason);
  g_free (filter);
}

/* ---- the ABI ---------------------------------------------------------------- */

static int
ipfilter_validate (const char *config_json, char *error, size_t error_size)
{
  IpFilter *filter = g_new0 (IpFilter, 1);
  gboolean ok = configure (filter, config_json, error, error_size);

  filter_free (filter);
  return ok ? 0 : -1;
}

static int
ipfilter_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  IpFilter *filter = g_new0 (IpFilter, 1);

  if (!configure (filter, config_json, error, error_size))
    {
      filter_free (filter);
      return -1;
    }
  *instance = filter;
  return 0;
}

static hkp_verdict
deny (const IpFilter *filter, hkp_response *response)
{
  response->status = filter->status;
  response->set_reason (response, filter->reason);
  return HKP_VERDICT_DENY;
}

static hkp_verdict
ipfilter_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  const IpFilter *filter = instance;
  guint32 v4 = 0;
  guint8 v6[16] = { 0 };
  int family = parse_address (request->client_address, &v4, v6);

  if (family == 0)
    /* Without an address nothing can be proved: only an allow list makes that a denial. */
    return range_set_empty (&filter->allow) ? HKP_VERDICT_CONTINUE : deny (filter, response);
  if (range_set_contains (&filter->deny, family, v4, v6))
    return deny (filter, response);
  if (!range_set_empty (&filter->allow) && !range_set_contains (&filter->allow, family, v4, v6))
    return deny (filter, response);
  return HKP_VERDICT_CONTINUE;
}

static hkp_health_status
ipfilter_health (void *instance, hkp_health_report *report)
{
  const IpFilter *filter = instance;

  report->add_check_int (report, "allow_ipv4_ranges", filter->allow.n_v4);
  report->add_check_int (report, "allow_ipv6_ranges", filter->allow.n_v6);
  report->add_check_int (report, "deny_ipv4_ranges", filter->deny.n_v4);
  report->add_check_int (report, "deny_ipv6_ranges", filter->deny.n_v6);
  return HKP_HEALTH_HEALTHY;
}

static void
ipfilter_shutdown (void *instance)
{
  filter_free (instance);
}

static const hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "ipfilter",
  .version = PACKAGE_VERSION,
  .description = "Allows and denies clients by IPv4 and IPv6 CIDR ranges; deny wins",
  .init = ipfilter_init,
  .validate_config = ipfilter_validate,
  .handle = ipfilter_handle,
  .health = ipfilter_health,
  .shutdown = ipfilter_shutdown,
};

const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  return &descriptor;
}
