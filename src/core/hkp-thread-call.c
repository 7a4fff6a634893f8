/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-thread-call.h"

#include "hkp-error.h"

typedef struct {
  gint ref; /* the worker and the deadline each hold one */
  gint settled; /* 0 until the worker or the deadline wins */
  GTask *task;
  GSource *deadline;
  HkpBlockingFunc func;
  HkpLateFunc late;
  gpointer data;
  GDestroyNotify data_free;
  guint timeout_ms;
} ThreadCall;

static void
thread_call_unref (ThreadCall *call)
{
  if (!g_atomic_int_dec_and_test (&call->ref))
    return;
  if (call->data_free != NULL)
    call->data_free (call->data);
  g_clear_object (&call->task);
  if (call->deadline != NULL)
    g_source_unref (call->deadline);
  g_free (call);
}

static gboolean
thread_call_deadline (gpointer user_data)
{
  ThreadCall *call = user_data;

  if (g_atomic_int_compare_and_exchange (&call->settled, 0, 1))
    g_task_return_new_error (call->task, HKP_ERROR, HKP_ERROR_TIMED_OUT, "did not finish within %.3g s",
                             call->timeout_ms / 1000.0);
  return G_SOURCE_REMOVE;
}

static gpointer
thread_call_run (gpointer user_data)
{
  ThreadCall *call = user_data;
  GError *error = NULL;
  gpointer result = call->func (call->data, &error);

  if (g_atomic_int_compare_and_exchange (&call->settled, 0, 1))
    {
      if (call->deadline != NULL)
        g_source_destroy (call->deadline);
      if (error != NULL)
        g_task_return_error (call->task, error);
      else
        g_task_return_pointer (call->task, result, NULL);
    }
  else
    {
      g_clear_error (&error);
      if (call->late != NULL)
        call->late (result, call->data);
    }
  thread_call_unref (call);
  return NULL;
}

void
hkp_thread_call_async (const char *thread_name, guint timeout_ms, HkpBlockingFunc func, HkpLateFunc late, gpointer data,
                       GDestroyNotify data_free, GAsyncReadyCallback callback, gpointer user_data)
{
  ThreadCall *call = g_new0 (ThreadCall, 1);
  g_autoptr (GError) error = NULL;
  GThread *thread;

  call->ref = 2;
  call->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (call->task, hkp_thread_call_async);
  call->func = func;
  call->late = late;
  call->data = data;
  call->data_free = data_free;
  call->timeout_ms = timeout_ms;
  if (timeout_ms > 0)
    {
      call->deadline = g_timeout_source_new (timeout_ms);
      g_source_set_callback (call->deadline, thread_call_deadline, call, (GDestroyNotify) thread_call_unref);
      g_source_attach (call->deadline, g_task_get_context (call->task));
    }
  else
    call->ref = 1;

  thread = g_thread_try_new (thread_name, thread_call_run, call, &error);
  if (thread == NULL)
    {
      /* Nothing ran: settle here and drop the worker's reference ourselves. */
      g_atomic_int_set (&call->settled, 1);
      if (call->deadline != NULL)
        g_source_destroy (call->deadline);
      g_task_return_new_error (call->task, HKP_ERROR, HKP_ERROR_FAILED, "cannot start a thread: %s", error->message);
      thread_call_unref (call);
      return;
    }
  g_thread_unref (thread);
}

gpointer
hkp_thread_call_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
