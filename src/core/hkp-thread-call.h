/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs on the worker thread; returns a result (or NULL with error). */
typedef gpointer (*HkpBlockingFunc) (gpointer data, GError **error);

/* Runs on the worker thread when func returned after the deadline: disposes of result (may be NULL). */
typedef void (*HkpLateFunc) (gpointer result, gpointer data);

/*
 * Runs func(data) on a thread of its own, so a plugin call that hangs can
 * neither stall the caller's main context nor hold a pool thread others
 * need.  callback runs in the thread-default main context of the caller when
 * func returns, or with HKP_ERROR_TIMED_OUT once timeout_ms passes (0: no
 * bound).  A func that returns after the deadline has its result handed to
 * late on the worker thread instead.  data is freed with data_free on
 * whichever side finishes last.
 */
void hkp_thread_call_async (const char *thread_name, guint timeout_ms, HkpBlockingFunc func, HkpLateFunc late,
                            gpointer data, GDestroyNotify data_free, GAsyncReadyCallback callback, gpointer user_data);

/* Returns the result of func (transfer full) or NULL with an error. */
gpointer hkp_thread_call_finish (GAsyncResult *result, GError **error);

G_END_DECLS
