/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

#include "bus-source.h"

#include <poll.h>

/* Messages handled per dispatch before giving other sources a turn. */
#define DISPATCH_BATCH 64

typedef struct {
  GSource source;
  sd_bus *bus;
  gpointer fd_tag;
  GIOCondition condition;
  BusSourceFailed failed;
  gpointer failed_data;
  gboolean dead;
} BusSource;

static GIOCondition
wanted_condition (BusSource *self)
{
  int events = sd_bus_get_events (self->bus);
  GIOCondition condition = G_IO_ERR | G_IO_HUP;

  if (events < 0)
    return condition;
  if (events & POLLIN)
    condition |= G_IO_IN;
  if (events & POLLOUT)
    condition |= G_IO_OUT;
  return condition;
}

/* TRUE if sd-bus's own timeout has passed (or it has queued work); otherwise sets *timeout_ms. */
static gboolean
timeout_due (BusSource *self, gint *timeout_ms)
{
  uint64_t until = 0;
  gint64 now;

  *timeout_ms = -1;
  if (sd_bus_get_timeout (self->bus, &until) < 0 || until == UINT64_MAX)
    return FALSE;
  if (until == 0)
    return TRUE;
  now = g_get_monotonic_time ();
  if ((gint64) until <= now)
    return TRUE;
  *timeout_ms = (gint) MIN (((gint64) until - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
bus_source_prepare (GSource *source, gint *timeout_ms)
{
  BusSource *self = (BusSource *) source;
  GIOCondition condition;

  if (self->dead)
    {
      *timeout_ms = -1;
      return FALSE;
    }
  condition = wanted_condition (self);
  /* Changing the watch on every iteration costs a syscall each time: only when it changed. */
  if (condition != self->condition)
    {
      g_source_modify_unix_fd (source, self->fd_tag, condition);
      self->condition = condition;
    }
  return timeout_due (self, timeout_ms);
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *self = (BusSource *) source;
  gint ignored;

  if (self->dead)
    return FALSE;
  return g_source_query_unix_fd (source, self->fd_tag) != 0 || timeout_due (self, &ignored);
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  BusSource *self = (BusSource *) source;

  for (guint i = 0; i < DISPATCH_BATCH; i++)
    {
      int r = sd_bus_process (self->bus, NULL);
      if (r < 0)
        {
          self->dead = TRUE;
          g_source_remove_unix_fd (source, self->fd_tag);
          if (self->failed != NULL)
            self->failed (-r, self->failed_data);
          return G_SOURCE_REMOVE;
        }
      if (r == 0)
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
bus_source_finalize (GSource *source)
{
  BusSource *self = (BusSource *) source;

  sd_bus_unref (self->bus);
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
  .finalize = bus_source_finalize,
};

GSource *
bus_source_new (sd_bus *bus, BusSourceFailed failed, gpointer user_data)
{
  GSource *source = g_source_new (&bus_source_funcs, sizeof (BusSource));
  BusSource *self = (BusSource *) source;

  g_source_set_name (source, "sd-bus");
  self->bus = sd_bus_ref (bus);
  self->failed = failed;
  self->failed_data = user_data;
  self->condition = wanted_condition (self);
  self->fd_tag = g_source_add_unix_fd (source, sd_bus_get_fd (bus), self->condition);
  return source;
}
