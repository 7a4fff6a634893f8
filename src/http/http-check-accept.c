/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* accept4() */
#define G_LOG_DOMAIN "hkp-http"

/* The check endpoint's connections: accepted on a thread of ours, handed to libmicrohttpd, the idlest closed for room. */

#include "http-check-accept.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCEPT_BATCH 256 /* then look whether we are asked to stop */
#define ACCEPT_PAUSE_MS 100 /* after running out of file descriptors */
#define CLOSING_PAUSE_MS 10 /* while libmicrohttpd has yet to close the connections shut down for room */
#define CLOSING_KICK_USEC G_USEC_PER_SEC /* paused this long: shut them down again */
#define WARN_INTERVAL_USEC (10 * G_USEC_PER_SEC)
#define CLOSING_MAX 256 /* connections shut down for room that libmicrohttpd has yet to close */

/* A connection handed to libmicrohttpd. */
typedef struct _Entry Entry;
struct _Entry {
  int fd;
  ino_t inode; /* of the socket: an fd not yet started may have been closed and reused */
  gboolean started; /* libmicrohttpd said so: it tells us before it closes the fd */
  gboolean busy; /* a request's head has arrived and its answer is not out */
  gboolean closing; /* shut down to make room */
  Entry *prev, *next; /* in the idle list while neither busy nor closing, in the closing list while closing */
};

/* A list of entries, oldest first. */
typedef struct {
  Entry *head;
  Entry *tail;
} EntryList;

struct _HttpCheckAcceptor {
  int listen_fd; /* -1 once stopped */
  int wake_fd; /* an eventfd: stop */
  guint limit;
  struct MHD_Daemon *mhd;
  GThread *thread;
  GMutex lock; /* everything below */
  EntryList idle; /* the longest idle first */
  EntryList closing_list; /* shut down for room, not yet closed by libmicrohttpd */
  gint64 paused_usec; /* monotonic: since when accepting waits for those to close (0: it does not) */
  GHashTable *unstarted; /* fd → Entry: handed over, not yet started */
  guint held; /* accepted and not yet closed by libmicrohttpd */
  guint closing; /* of those, shut down to make room */
  gboolean at_limit; /* said so once */
  gint64 warned_usec; /* the last warning about refusing or failing to accept */
};

static void
list_append (EntryList *list, Entry *entry)
{
  entry->prev = list->tail;
  entry->next = NULL;
  if (list->tail != NULL)
    list->tail->next = entry;
  else
    list->head = entry;
  list->tail = entry;
}

static void
list_remove (EntryList *list, Entry *entry)
{
  if (entry->prev != NULL)
    entry->prev->next = entry->next;
  else
    list->head = entry->next;
  if (entry->next != NULL)
    entry->next->prev = entry->prev;
  else
    list->tail = entry->prev;
  entry->prev = entry->next = NULL;
}

/* Logs at most every WARN_INTERVAL_USEC (lock held). */
static void
warn_now_and_then (HttpCheckAcceptor *self, const char *message)
{
  gint64 now = g_get_monotonic_time ();

  if (self->warned_usec != 0 && now - self->warned_usec < WARN_INTERVAL_USEC)
    return;
  self->warned_usec = now;
  g_warning ("check endpoint: %s", message);
}

/* Forgets entry (lock held), which libmicrohttpd closed without a word: it could not take it. */
static void
forget_unstarted (HttpCheckAcceptor *self, Entry *entry)
{
  g_hash_table_remove (self->unstarted, GINT_TO_POINTER (entry->fd));
  if (entry->closing)
    {
      list_remove (&self->closing_list, entry);
      self->closing--;
    }
  else
    list_remove (&self->idle, entry);
  self->held--;
  g_free (entry);
}

/* TRUE if entry's fd is still its socket (lock held). */
static gboolean
still_open (const Entry *entry)
{
  struct stat st;

  return entry->started || (fstat (entry->fd, &st) == 0 && S_ISSOCK (st.st_mode) && st.st_ino == entry->inode);
}

/*
 * Counts a new connection on fd and returns its entry (lock held), or NULL
 * if every connection is busy; at the limit, the longest-idle one makes room.
 */
static Entry *
admit (HttpCheckAcceptor *self, int fd)
{
  Entry *entry, *stale;
  struct stat st;

  /* An fd the kernel gives us again was closed: libmicrohttpd dropped that connection without a word. */
  stale = g_hash_table_lookup (self->unstarted, GINT_TO_POINTER (fd));
  if (stale != NULL)
    forget_unstarted (self, stale);
  if (self->held - self->closing >= self->limit)
    {
      Entry *victim;

      if (!self->at_limit)
        {
          self->at_limit = TRUE;
          g_warning ("check endpoint: %u connections held, the most it takes: the longest-idle one is closed for each "
                     "new one",
                     self->limit);
        }
      while ((victim = self->idle.head) != NULL && !still_open (victim))
        forget_unstarted (self, victim);
      if (victim == NULL)
        {
          warn_now_and_then (self, "every connection held is busy with a check: refusing new ones");
          return NULL;
        }
      /* libmicrohttpd reads the end of its input, closes it, and tells us (notify, closed). */
      list_remove (&self->idle, victim);
      victim->closing = TRUE;
      list_append (&self->closing_list, victim);
      self->closing++;
      shutdown (victim->fd, SHUT_RDWR);
    }
  entry = g_new0 (Entry, 1);
  entry->fd = fd;
  entry->inode = fstat (fd, &st) == 0 ? st.st_ino : 0;
  list_append (&self->idle, entry);
  g_hash_table_insert (self->unstarted, GINT_TO_POINTER (fd), entry);
  self->held++;
  return entry;
}

/*
 * FALSE while room could be made only by shutting down yet more connections
 * than CLOSING_MAX, which libmicrohttpd holds until it sees their end: new
 * ones then wait in the backlog, to be taken a moment later, rather than be
 * refused.
 */
static gboolean
may_accept (HttpCheckAcceptor *self)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  gint64 now;

  if (self->held - self->closing < self->limit || self->closing < CLOSING_MAX)
    {
      self->paused_usec = 0;
      return TRUE;
    }
  now = g_get_monotonic_time ();
  if (self->paused_usec == 0)
    self->paused_usec = now;
  else if (now - self->paused_usec >= CLOSING_KICK_USEC)
    {
      /*
       * libmicrohttpd learns of a shutdown from epoll; should it have missed
       * that wake-up (once, on a loaded machine, these waited until its idle
       * timeout), a second shutdown wakes it again.
       */
      for (Entry *entry = self->closing_list.head; entry != NULL; entry = entry->next)
        if (still_open (entry))
          shutdown (entry->fd, SHUT_RDWR);
      self->paused_usec = now;
    }
  return FALSE;
}

/* Accepts what waits; returns how long to wait before looking again (-1: until something comes). */
static int
accept_waiting (HttpCheckAcceptor *self)
{
  for (guint i = 0; i < ACCEPT_BATCH && may_accept (self); i++)
    {
      struct sockaddr_storage peer;
      socklen_t length = sizeof peer;
      Entry *entry;
      int fd = accept4 (self->listen_fd, (struct sockaddr *) &peer, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              g_autofree char *message = g_strdup_printf ("cannot accept connections: %s", g_strerror (errno));
              g_mutex_lock (&self->lock);
              warn_now_and_then (self, message);
              g_mutex_unlock (&self->lock);
              /* Pause a little rather than spin. */
              return ACCEPT_PAUSE_MS;
            }
          return -1; /* EAGAIN: nothing more */
        }
      g_mutex_lock (&self->lock);
      entry = admit (self, fd);
      g_mutex_unlock (&self->lock);
      if (entry == NULL)
        {
          close (fd);
          continue;
        }
      /* It closes the socket itself if it cannot take it. */
      if (MHD_add_connection (self->mhd, fd, (struct sockaddr *) &peer, length) != MHD_YES)
        {
          g_mutex_lock (&self->lock);
          if (g_hash_table_lookup (self->unstarted, GINT_TO_POINTER (fd)) == entry)
            forget_unstarted (self, entry);
          g_mutex_unlock (&self->lock);
        }
    }
  /* More may wait: look again at once, or once libmicrohttpd has closed some of those shut down. */
  return may_accept (self) ? 0 : CLOSING_PAUSE_MS;
}

static gpointer
accept_thread (gpointer data)
{
  HttpCheckAcceptor *self = data;
  int pause_ms = -1; /* while paused, only a stop is waited for */

  for (;;)
    {
      struct pollfd fds[2] = { { self->wake_fd, POLLIN, 0 }, { self->listen_fd, POLLIN, 0 } };
      int n = poll (fds, pause_ms >= 0 ? 1 : 2, pause_ms);

      if (n < 0 && errno != EINTR)
        {
          g_critical ("check endpoint: cannot wait for connections: %s", g_strerror (errno));
          return NULL;
        }
      if (n > 0 && fds[0].revents != 0)
        return NULL;
      if (pause_ms >= 0 || (n > 0 && fds[1].revents != 0))
        pause_ms = accept_waiting (self);
    }
}

HttpCheckAcceptor *
http_check_acceptor_new (int listen_fd, guint limit)
{
  HttpCheckAcceptor *self = g_new0 (HttpCheckAcceptor, 1);

  self->listen_fd = listen_fd;
  self->wake_fd = -1;
  self->limit = MAX (limit, 1);
  self->unstarted = g_hash_table_new (NULL, NULL);
  g_mutex_init (&self->lock);
  return self;
}

guint
http_check_acceptor_mhd_limit (HttpCheckAcceptor *self)
{
  /*
   * Beside the connections held, those shut down for room linger until
   * libmicrohttpd sees their end; and each of its threads has a share of its
   * limit, which connections handed over but not yet taken do not count
   * against: twice as many leaves room for an uneven share.
   */
  return 2 * (self->limit + CLOSING_MAX);
}

gboolean
http_check_acceptor_start (HttpCheckAcceptor *self, struct MHD_Daemon *mhd, GError **error)
{
  g_return_val_if_fail (self->thread == NULL && self->listen_fd >= 0, FALSE);
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "eventfd: %s", g_strerror (saved));
      return FALSE;
    }
  self->mhd = mhd;
  self->thread = g_thread_new ("hkp-check-accept", accept_thread, self);
  return TRUE;
}

void
http_check_acceptor_stop (HttpCheckAcceptor *self)
{
  if (self->thread != NULL)
    {
      guint64 one = 1;
      if (write (self->wake_fd, &one, sizeof one) < 0)
        g_critical ("check endpoint: cannot stop accepting: %s", g_strerror (errno));
      g_thread_join (self->thread);
      self->thread = NULL;
    }
  if (self->listen_fd >= 0)
    {
      close (self->listen_fd);
      self->listen_fd = -1;
    }
}

void
http_check_acceptor_free (HttpCheckAcceptor *self)
{
  if (self == NULL)
    return;
  http_check_acceptor_stop (self);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  /* libmicrohttpd has closed every connection it started; any other it dropped without a word. */
  while (g_hash_table_size (self->unstarted) > 0)
    {
      GHashTableIter iter;
      Entry *entry;

      g_hash_table_iter_init (&iter, self->unstarted);
      g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry);
      forget_unstarted (self, entry);
    }
  g_warn_if_fail (self->held == 0 && self->idle.head == NULL && self->closing_list.head == NULL);
  g_hash_table_unref (self->unstarted);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
http_check_acceptor_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
  HttpCheckAcceptor *self = cls;
  g_autoptr (GMutexLocker) locker = NULL;
  Entry *entry;

  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      int fd = info != NULL ? info->connect_fd : -1;

      locker = g_mutex_locker_new (&self->lock);
      entry = g_hash_table_lookup (self->unstarted, GINT_TO_POINTER (fd));
      if (entry == NULL)
        return; /* not one of ours: nothing to follow */
      g_hash_table_remove (self->unstarted, GINT_TO_POINTER (fd));
      entry->started = TRUE;
      *socket_context = entry;
      return;
    }
  /* Closed: libmicrohttpd closes the fd only after this returns, so the accepting thread never shuts a reused one. */
  entry = *socket_context;
  if (entry == NULL)
    return;
  *socket_context = NULL;
  locker = g_mutex_locker_new (&self->lock);
  if (entry->closing)
    {
      list_remove (&self->closing_list, entry);
      self->closing--;
    }
  else if (!entry->busy)
    list_remove (&self->idle, entry);
  self->held--;
  if (self->at_limit && self->held < self->limit - self->limit / 10)
    {
      self->at_limit = FALSE;
      g_message ("check endpoint: %u connection%s held, below the limit again", self->held, self->held == 1 ? "" : "s");
    }
  g_free (entry);
}

static Entry *
entry_of (struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return info != NULL ? info->socket_context : NULL;
}

void
http_check_acceptor_request_began (HttpCheckAcceptor *self, struct MHD_Connection *connection)
{
  Entry *entry = entry_of (connection);
  g_autoptr (GMutexLocker) locker = NULL;

  if (entry == NULL)
    return;
  locker = g_mutex_locker_new (&self->lock);
  if (!entry->busy && !entry->closing)
    list_remove (&self->idle, entry);
  entry->busy = TRUE;
}

void
http_check_acceptor_request_ended (HttpCheckAcceptor *self, struct MHD_Connection *connection)
{
  Entry *entry = entry_of (connection);
  g_autoptr (GMutexLocker) locker = NULL;

  if (entry == NULL)
    return;
  locker = g_mutex_locker_new (&self->lock);
  if (!entry->busy)
    return;
  entry->busy = FALSE;
  if (!entry->closing)
    list_append (&self->idle, entry);
}
