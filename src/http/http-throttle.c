/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* Wrong bearer tokens answered a delay apart per peer, so guessing is slow and nobody else waits. */

#include "http-throttle.h"

#include <string.h>

#include "http-listen.h"

#define PEERS_MAX 4096 /* peers remembered; past that, old ones are forgotten or new ones refused */

struct _HttpThrottle {
  gint64 delay_usec;
  guint most_waiting;
  GMutex lock;
  GHashTable *peers; /* key → Slot */
};

typedef struct {
  gint64 next_usec; /* monotonic: when the next wrong answer may go out */
  guint waiting; /* wrong answers not yet out */
} Slot;

HttpThrottle *
http_throttle_new (gint64 delay_usec, guint most_waiting)
{
  HttpThrottle *self = g_new0 (HttpThrottle, 1);

  self->delay_usec = delay_usec;
  self->most_waiting = most_waiting;
  g_mutex_init (&self->lock);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
http_throttle_free (HttpThrottle *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->peers);
  g_mutex_clear (&self->lock);
  g_free (self);
}

char *
http_throttle_key (const char *peer, gint64 uid)
{
  HttpIp ip;

  if (uid >= 0)
    return g_strdup_printf ("uid %" G_GINT64_FORMAT, uid);
  if (!http_ip_parse (peer, &ip))
    return g_strdup (peer);
  if (ip.family == AF_INET)
    return ip.bytes[0] == 127 ? g_strdup ("loopback") : http_ip_to_string (&ip);
  {
    static const guint8 v6_loopback[16] = { [15] = 1 };
    if (memcmp (ip.bytes, v6_loopback, 16) == 0)
      return g_strdup ("loopback");
  }
  memset (ip.bytes + 8, 0, 8);
  return http_ip_to_string (&ip);
}

/* Forgets the peers with nothing waiting and nothing due (lock held). */
static void
prune (HttpThrottle *self, gint64 now)
{
  GHashTableIter iter;
  Slot *slot;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (slot->waiting == 0 && slot->next_usec <= now)
      g_hash_table_iter_remove (&iter);
}

gboolean
http_throttle_admits (HttpThrottle *self, const char *key)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  Slot *slot = g_hash_table_lookup (self->peers, key);

  if (slot != NULL)
    return slot->waiting < self->most_waiting;
  if (g_hash_table_size (self->peers) >= PEERS_MAX)
    prune (self, g_get_monotonic_time ());
  /* Too many peers guessing at once: a new one waits its turn, refused. */
  return g_hash_table_size (self->peers) < PEERS_MAX;
}

gint64
http_throttle_wrong (HttpThrottle *self, const char *key)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  gint64 now = g_get_monotonic_time ();
  Slot *slot = g_hash_table_lookup (self->peers, key);

  if (slot == NULL)
    {
      slot = g_new0 (Slot, 1);
      g_hash_table_insert (self->peers, g_strdup (key), slot);
    }
  slot->next_usec = MAX (slot->next_usec, now) + self->delay_usec;
  slot->waiting++;
  return slot->next_usec;
}

void
http_throttle_answered (HttpThrottle *self, const char *key)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  Slot *slot = g_hash_table_lookup (self->peers, key);

  if (slot != NULL && slot->waiting > 0)
    slot->waiting--;
}
