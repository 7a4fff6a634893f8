/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A compromised plugin: run in a plugin host, it writes records of its own
 * on the host's socket to the daemon (fd 3), as any code in the host can.
 * Its description is ROGUE_TEXT_BYTES long.  Config "mode":
 *   fail-long: init sends FAILED with a message of ROGUE_TEXT_BYTES, then fails.
 *   validated-long: each validate_config after init sends VALIDATED (refused,
 *     a message of ROGUE_TEXT_BYTES) twice for each of the ids 1 to 16, then accepts.
 *   log-long-domain: init sends a LOG record "rogue: long domain" whose GLib
 *     domain is ROGUE_TEXT_BYTES of "D".
 *   catch-sigsys: init installs a SIGSYS handler of its own (so that refused
 *     calls would merely fail), then makes one.
 *   stop-reading: the first handle() logs "rogue: stopping reading", parks
 *     every other thread of the host (SIGUSR1), shuts the socket's reading
 *     side and parks itself: the host reads nothing more, and no thread of
 *     it notices.
 *   answer-unasked: each handle() first sends an ANSWER for request
 *     ROGUE_UNASKED_ID, which the daemon never asked.
 * Built as rogue-ctor.so with ROGUE_CONSTRUCTOR, its constructor calls
 * socket(), which the host's system-call filter must refuse: plugin code
 * runs confined from its first instruction.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hkp-host-protocol.h"
#include "test-plugin-util.h"

#define ROGUE_TEXT_BYTES (1024 * 1024)
#define HOST_SOCKET_FD 3
#define ROGUE_UNASKED_ID 1000000

#ifdef ROGUE_CONSTRUCTOR
__attribute__ ((constructor)) static void
rogue_constructor (void)
{
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);

  if (fd >= 0)
    close (fd);
}
#endif

static char *
long_text (char c)
{
  char *text = g_malloc (ROGUE_TEXT_BYTES + 1);

  memset (text, c, ROGUE_TEXT_BYTES);
  text[ROGUE_TEXT_BYTES] = '\0';
  return text;
}

/* Writes record whole on the host's socket, past the host's own channel. */
static void
send_raw (const HkpHostRecord *record)
{
  HkpHostBuf buf = { 0 };
  gsize done = 0;

  g_assert (hkp_host_record_encode (&buf, record) == 0);
  while (done < buf.len)
    {
      ssize_t n = send (HOST_SOCKET_FD, buf.data + done, buf.len - done, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  hkp_host_buf_clear (&buf);
}

typedef struct {
  char *mode;
} Rogue;

static void
ignore_signal (int sig)
{
}

static void
park_thread (int sig)
{
  for (;;)
    pause ();
}

/* Parks every other thread of the process, then shuts the socket's reading side and parks this one. */
static void
stop_reading (void)
{
  struct sigaction park = { .sa_handler = park_thread };
  g_autoptr (GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  long self = syscall (SYS_gettid);
  const char *task;

  /* Said first: a thread parked while it writes to the daemon would hold up anything said after. */
  g_warning ("rogue: stopping reading");
  sigaction (SIGUSR1, &park, NULL);
  while (tasks != NULL && (task = g_dir_read_name (tasks)) != NULL)
    if (atol (task) != self)
      syscall (SYS_tgkill, getpid (), atol (task), SIGUSR1);
  shutdown (HOST_SOCKET_FD, SHUT_RD);
  park_thread (0);
}

static gboolean initialised; /* validate_config is called before init too */

static int
rogue_validate (const char *config_json, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);

  if (config == NULL)
    return -1;
  if (initialised && g_str_equal (test_plugin_string (config, "mode", ""), "validated-long"))
    {
      g_autofree char *message = long_text ('V');
      HkpHostRecord record;

      hkp_host_record_init (&record, HKP_HOST_MSG_VALIDATED);
      record.nums[0] = 0;
      record.strs[0] = hkp_host_string (message);
      for (record.id = 1; record.id <= 16; record.id++)
        for (int i = 0; i < 2; i++)
          send_raw (&record);
    }
  return 0;
}

static int
rogue_init (const char *config_json, void **instance, char *error, size_t error_size)
{
  g_autoptr (JsonObject) config = test_plugin_parse_config (config_json, error, error_size);
  const char *mode;
  HkpHostRecord record;
  Rogue *rogue;

  if (config == NULL)
    return -1;
  mode = test_plugin_string (config, "mode", "");
  if (g_str_equal (mode, "fail-long"))
    {
      g_autofree char *message = long_text ('F');

      hkp_host_record_init (&record, HKP_HOST_MSG_FAILED);
      record.nums[0] = HKP_HOST_FAILURE_INIT;
      record.strs[0] = hkp_host_string (message);
      send_raw (&record);
      snprintf (error, error_size, "rogue: failed");
      return -1;
    }
  if (g_str_equal (mode, "log-long-domain"))
    {
      g_autofree char *domain = long_text ('D');

      hkp_host_record_init (&record, HKP_HOST_MSG_LOG);
      record.nums[0] = 4;
      record.strs[0] = hkp_host_string (domain);
      record.strs[1] = hkp_host_string ("rogue: long domain");
      send_raw (&record);
    }
  if (g_str_equal (mode, "catch-sigsys"))
    {
      struct sigaction quiet = { .sa_handler = ignore_signal };
      int fd;

      sigaction (SIGSYS, &quiet, NULL);
      fd = socket (AF_UNIX, SOCK_STREAM, 0);
      snprintf (error, error_size, "rogue: caught SIGSYS, socket() gave %d", fd);
      return -1;
    }
  initialised = TRUE;
  rogue = g_new0 (Rogue, 1);
  rogue->mode = g_strdup (mode);
  *instance = rogue;
  return 0;
}

static hkp_verdict
rogue_handle (void *instance, const hkp_request *request, hkp_response *response)
{
  Rogue *rogue = instance;

  if (g_str_equal (rogue->mode, "stop-reading"))
    stop_reading ();
  if (g_str_equal (rogue->mode, "answer-unasked"))
    {
      HkpHostRecord record;

      hkp_host_record_init (&record, HKP_HOST_MSG_ANSWER);
      record.id = ROGUE_UNASKED_ID;
      record.nums[HKP_HOST_ANSWER_VERDICT] = HKP_VERDICT_ALLOW;
      send_raw (&record);
    }
  return HKP_VERDICT_CONTINUE;
}

static void
rogue_shutdown (void *instance)
{
  Rogue *rogue = instance;

  g_free (rogue->mode);
  g_free (rogue);
}

static hkp_plugin_descriptor descriptor = {
  .abi_version = HKP_PLUGIN_ABI_VERSION,
  .struct_size = sizeof (hkp_plugin_descriptor),
  .name = "rogue",
  .version = "1.0",
  .init = rogue_init,
  .validate_config = rogue_validate,
  .handle = rogue_handle,
  .shutdown = rogue_shutdown,
};

HKP_PLUGIN_EXPORT const hkp_plugin_descriptor *
hkp_plugin_entry (void)
{
  if (descriptor.description == NULL)
    descriptor.description = long_text ('d');
  return &descriptor;
}
