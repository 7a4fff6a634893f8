/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-channel.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "host-clock.h"

#define READ_CHUNK 65536

/* How long after the first held answer the receiving thread's next answer is held back too; not a bound on the wait of
 * the first (host-channel.h). */
#define HOLD_MAX_NSEC 50000

static long
futex (int *word, int op, int value, const struct timespec *timeout)
{
  return syscall (SYS_futex, word, op, value, timeout, NULL, 0);
}

/* Takes the lock, waiting at most timeout_ms (negative: for ever); 0 or -1 on timeout. */
static int
lock_take (int *word, long timeout_ms)
{
  struct timespec step = { 0, 10 * 1000 * 1000 };
  int c = 0;

  if (__atomic_compare_exchange_n (word, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return 0;
  if (c != 2)
    c = __atomic_exchange_n (word, 2, __ATOMIC_ACQUIRE);
  while (c != 0)
    {
      if (timeout_ms >= 0 && (timeout_ms -= 10) < 0)
        return -1;
      futex (word, FUTEX_WAIT_PRIVATE, 2, timeout_ms >= 0 ? &step : NULL);
      c = __atomic_exchange_n (word, 2, __ATOMIC_ACQUIRE);
    }
  return 0;
}

static void
lock_release (int *word)
{
  if (__atomic_exchange_n (word, 0, __ATOMIC_RELEASE) != 1)
    futex (word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void
host_channel_init (HostChannel *channel, int fd)
{
  memset (channel, 0, sizeof *channel);
  channel->fd = fd;
}

/* Writes all of data; MSG_NOSIGNAL so a daemon that went away is an error, not SIGPIPE. */
static int
write_all (int fd, const uint8_t *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      data += n;
      len -= (size_t) n;
    }
  return 0;
}

int
host_channel_send_raw (HostChannel *channel, const uint8_t *data, size_t len)
{
  struct timespec pause = { 0, 10 * 1000 * 1000 };
  int saved = errno;
  int ok = -1;

  /* Become the writer: wait (bounded) for one that is busy writing, since nothing may come between. */
  for (int tries = 0; tries < 100; tries++)
    {
      if (lock_take (&channel->lock, 1000) < 0)
        break;
      if (!channel->writing)
        {
          channel->writing = 1;
          /* Keeps the lock: nobody appends or writes after this. */
          ok = write_all (channel->fd, channel->pending.data, channel->pending.len);
          if (ok == 0)
            ok = write_all (channel->fd, data, len);
          break;
        }
      lock_release (&channel->lock);
      nanosleep (&pause, NULL);
    }
  errno = saved;
  return ok;
}

/* The channel the crash handler writes out: a signal handler has no other context.  Set once. */
static HostChannel *crash_channel;

/* A crash: what is pending (answers held back included) goes out, then the process dies of the signal. */
static void
on_crash (int sig)
{
  /* SA_RESETHAND made the action the default again, and SA_NODEFER lets the signal through at once. */
  host_channel_send_raw (crash_channel, NULL, 0);
  syscall (SYS_tgkill, getpid (), syscall (SYS_gettid), sig);
}

int
host_channel_write_on_crash (HostChannel *channel)
{
  static const int signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };
  struct sigaction action = { .sa_handler = on_crash, .sa_flags = SA_RESETHAND | SA_NODEFER };

  crash_channel = channel;
  sigemptyset (&action.sa_mask);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (sigaction (signals[i], &action, NULL) < 0)
      return -1;
  return 0;
}

/* Writes everything pending as the writer (lock held; released while writing); 0 or -1. */
static int
write_pending_locked (HostChannel *channel)
{
  HkpHostBuf out = { 0 };
  int ok = 0;

  channel->writing = 1;
  channel->held_since_nsec = 0;
  while (channel->pending.len > 0 && ok == 0)
    {
      HkpHostBuf taken = channel->pending;
      channel->pending = out;
      lock_release (&channel->lock);
      ok = write_all (channel->fd, taken.data, taken.len);
      taken.len = 0;
      out = taken;
      lock_take (&channel->lock, -1);
    }
  channel->writing = 0;
  hkp_host_buf_clear (&out);
  return ok;
}

/* Whether the calling thread holds back the answer it just appended (lock held): it is the holder, not for long yet. */
static int
holds_back_locked (HostChannel *channel)
{
  uint64_t now;

  if (!channel->holding || !pthread_equal (channel->holder, pthread_self ()))
    return 0;
  now = host_now_nsec ();
  if (channel->held_since_nsec == 0)
    channel->held_since_nsec = now;
  return now - channel->held_since_nsec < HOLD_MAX_NSEC;
}

int
host_channel_send (HostChannel *channel, const HkpHostRecord *record)
{
  int ok = 0;

  lock_take (&channel->lock, -1);
  if (hkp_host_record_encode (&channel->pending, record) < 0)
    ok = -1;
  /* If a writer is busy, it takes this along before it stops.  Only answers are held back. */
  else if (!channel->writing && !(record->type == HKP_HOST_MSG_ANSWER && holds_back_locked (channel)))
    ok = write_pending_locked (channel);
  lock_release (&channel->lock);
  return ok;
}

void
host_channel_hold (HostChannel *channel)
{
  lock_take (&channel->lock, -1);
  channel->holding = 1;
  channel->holder = pthread_self ();
  lock_release (&channel->lock);
}

/* Stops holding back what the receiving thread sent, and writes it (before the thread reads). */
static void
let_go (HostChannel *channel)
{
  lock_take (&channel->lock, -1);
  channel->holding = 0;
  if (!channel->writing && channel->pending.len > 0)
    write_pending_locked (channel);
  lock_release (&channel->lock);
}

void
host_channel_flush (HostChannel *channel)
{
  struct timespec pause = { 0, 1000 * 1000 };

  for (;;)
    {
      lock_take (&channel->lock, -1);
      if (!channel->writing)
        {
          write_pending_locked (channel);
          lock_release (&channel->lock);
          return;
        }
      lock_release (&channel->lock);
      nanosleep (&pause, NULL);
    }
}

int
host_channel_receive (HostChannel *channel, HostReader *reader, HkpHostRecord *record, const char **problem)
{
  HkpHostBuf *buf = &reader->buf;

  if (buf->data == NULL && hkp_host_buf_reserve (buf, READ_CHUNK) < 0)
    return -1;
  for (;;)
    {
      size_t size;
      HkpHostDecodeResult result = hkp_host_record_decode (buf->data + reader->start, buf->len - reader->start, record,
                                                           &size, problem);
      ssize_t n;

      if (result != HKP_HOST_DECODE_SHORT)
        {
          reader->start += size;
          return (int) result;
        }
      let_go (channel);
      /* Move the partial record to the front once, rather than after every record. */
      hkp_host_buf_consume (buf, reader->start);
      reader->start = 0;
      if (hkp_host_buf_reserve (buf, size - buf->len > READ_CHUNK ? size - buf->len : READ_CHUNK) < 0)
        return -1;
      n = read (channel->fd, buf->data + buf->len, buf->cap - buf->len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      buf->len += (size_t) n;
    }
}
