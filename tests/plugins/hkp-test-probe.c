/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-probe.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The counters: in this process, or — when $HKP_TEST_PROBE_FILE names a
 * file — in that file, mapped shared, so test plugins in plugin host
 * processes count where the test reads.  seq changes at every event and is
 * a futex to wait on across processes.
 */
typedef struct {
  gint64 violations;
  gint64 entered;
  gint64 cancelled;
  gint64 instances;
  gint32 seq;
} Counters;

/* Process-wide by design: this library exists to be the one shared place test plugins report to. */
static Counters local;
static Counters *counters; /* a shared mapping, or NULL: local */
static GMutex lock;
static GPtrArray *graveyard;

/* Maps the counters in the file at path (made if need be); FALSE if it cannot. */
static gboolean
map_file (const char *path)
{
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  void *map = MAP_FAILED;

  if (fd < 0)
    return FALSE;
  if (ftruncate (fd, sizeof (Counters)) == 0)
    map = mmap (NULL, sizeof (Counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED)
    return FALSE;
  __atomic_store_n (&counters, (Counters *) map, __ATOMIC_RELEASE);
  return TRUE;
}

/*
 * In a plugin host the file is mapped as the host starts, before its
 * system-call filter would refuse to open it for writing: the tests preload
 * this library into their hosts (see hkp-test-engine.c).
 */
static void __attribute__ ((constructor)) probe_map_at_load (void)
{
  const char *path = g_getenv ("HKP_TEST_PROBE_FILE");

  if (path != NULL)
    map_file (path);
}

static Counters *
shared (void)
{
  Counters *found = __atomic_load_n (&counters, __ATOMIC_ACQUIRE);

  return found != NULL ? found : &local;
}

void
hkp_test_probe_share (const char *path)
{
  if (!map_file (path))
    g_error ("cannot share the probe's counters in %s", path);
}

/* Counts an event: every waiter, in any process, looks again; a test iterating its loop is woken too. */
static void
bump (gint64 *counter)
{
  Counters *c = shared ();

  __atomic_fetch_add (counter, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add (&c->seq, 1, __ATOMIC_SEQ_CST);
  syscall (SYS_futex, &c->seq, FUTEX_WAKE, G_MAXINT, NULL, NULL, 0);
  g_main_context_wakeup (NULL);
}

void
hkp_test_probe_violation (void)
{
  bump (&shared ()->violations);
}

gint64
hkp_test_probe_violations (void)
{
  return __atomic_load_n (&shared ()->violations, __ATOMIC_SEQ_CST);
}

void
hkp_test_probe_bury (gpointer memory)
{
  g_mutex_lock (&lock);
  if (graveyard == NULL)
    graveyard = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (graveyard, memory);
  g_mutex_unlock (&lock);
}

void
hkp_test_probe_entered (void)
{
  bump (&shared ()->entered);
}

void
hkp_test_probe_cancelled (void)
{
  bump (&shared ()->cancelled);
}

gint64
hkp_test_probe_entered_count (void)
{
  return __atomic_load_n (&shared ()->entered, __ATOMIC_SEQ_CST);
}

gint64
hkp_test_probe_cancelled_count (void)
{
  return __atomic_load_n (&shared ()->cancelled, __ATOMIC_SEQ_CST);
}

gint64
hkp_test_probe_next_instance (void)
{
  return __atomic_add_fetch (&shared ()->instances, 1, __ATOMIC_SEQ_CST);
}

void
hkp_test_probe_wait_entered (gint64 n)
{
  Counters *c = shared ();
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (;;)
    {
      gint32 seq = __atomic_load_n (&c->seq, __ATOMIC_SEQ_CST);
      gint64 left = deadline - g_get_monotonic_time ();
      struct timespec timeout = { left / G_USEC_PER_SEC, (left % G_USEC_PER_SEC) * 1000 };

      if (__atomic_load_n (&c->entered, __ATOMIC_SEQ_CST) >= n)
        return;
      if (left <= 0)
        g_error ("only %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " calls entered the plugin",
                 __atomic_load_n (&c->entered, __ATOMIC_SEQ_CST), n);
      /* Wakes at the next event (from any process), or returns at once if one came since seq was read. */
      syscall (SYS_futex, &c->seq, FUTEX_WAIT, seq, &timeout, NULL, 0);
    }
}

void
hkp_test_probe_reset (void)
{
  Counters *c = shared ();

  __atomic_store_n (&c->entered, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&c->violations, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&c->cancelled, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&c->instances, 0, __ATOMIC_SEQ_CST);
}

static void __attribute__ ((destructor)) probe_cleanup (void)
{
  g_clear_pointer (&graveyard, g_ptr_array_unref);
}
