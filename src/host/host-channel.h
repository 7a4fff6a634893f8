/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The host's end of the socket to the daemon, written from any thread.
 * Records are appended whole to one buffer under a short lock; one thread at
 * a time writes the buffer out, without the lock, taking along what others
 * appended meanwhile (so answers from many workers go out in few system
 * calls).  The lock is a bare futex so that the SIGSYS handler can take it
 * too (async-signal-safe).
 *
 * Requests that came in one read are answered in one write: once the thread
 * that received one holds the channel (host_channel_hold()), the answers it
 * sends wait in pending until it reads again, or another thread writes; its
 * next answer 50 µs or more after the first held one takes them along.  No
 * clock bounds the wait otherwise: the next request read with them holds
 * them up while it runs, a slow one until the watchdog hands the lead on
 * (1-2 ms, host-pool.h) and the thread that takes it over writes what was
 * held before it reads.  Anything else goes at once, taking held answers
 * along: a plugin's last log line before it crashes is not lost; a crash
 * signal writes them too (host_channel_write_on_crash()).
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hkp-host-protocol.h"

typedef struct {
  int fd;
  int lock; /* 0 free, 1 held, 2 held with waiters: guards the rest */
  int writing; /* a thread is writing, outside the lock */
  HkpHostBuf pending; /* records not yet taken by a writer */
  int holding; /* holder's own answers wait in pending until it reads again */
  pthread_t holder;
  uint64_t held_since_nsec; /* monotonic, when pending first held a record back; 0 if it holds none */
} HostChannel;

/* Sets channel up over fd (the socket, fd 3). */
void host_channel_init (HostChannel *channel, int fd);

/* Encodes and sends record; returns 0, or -1 if it cannot be encoded or the daemon is gone. */
int host_channel_send (HostChannel *channel, const HkpHostRecord *record);

/* Returns once everything sent so far is written (or the daemon is gone): before the process exits. */
void host_channel_flush (HostChannel *channel);

/* Holds back the answers the calling thread sends, until it next reads from the channel: it is to run a request. */
void host_channel_hold (HostChannel *channel);

/*
 * Makes a crash of the process (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
 * SIGTRAP) write what is pending first, answers held back included: a
 * request answered before the crash is not lost with it.  The process still
 * dies of the signal.  Before the plugin is loaded, so that its own handlers
 * win.  0, or -1 with errno.
 */
int host_channel_write_on_crash (HostChannel *channel);

/* Async-signal-safe: sends encoded bytes whole after what is pending, waiting at most about a second for the
 * writer; 0 or -1.  For a thread about to die: others may not send afterwards. */
int host_channel_send_raw (HostChannel *channel, const uint8_t *data, size_t len);

/* What has been read from the channel and not yet decoded: buf.data[start..buf.len). */
typedef struct {
  HkpHostBuf buf;
  size_t start;
} HostReader;

/*
 * Reads until reader holds one whole record and decodes it into record, whose
 * strings stay valid until the next call.  Returns the decode result (never
 * SHORT), or -1 at end of file or on a read error.  Before it reads, it
 * writes what was held back.
 */
int host_channel_receive (HostChannel *channel, HostReader *reader, HkpHostRecord *record, const char **problem);
