/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-plugin-host PLUGIN: the confined process one isolated plugin instance
 * runs in.  hkp-plugind starts it with its socket as fd 3 and an empty
 * environment; the private protocol (hkp-host-protocol.h) carries the module
 * to load, the config, the requests and everything the plugin says back.
 *
 * Order of things: confine what can be confined before any plugin code runs
 * (no new privileges, death with the daemon, memory limits), load the module
 * and check its descriptor, route its log output to the daemon, install the
 * system-call allow-list, then run validate_config and init and serve:
 * handle() on a pool of threads that also read the socket in turn,
 * health() and validate_config() on a thread each, shutdown() once every call
 * has returned.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hkp-descriptor.h"
#include "hkp-host-protocol.h"
#include "hkp-plugin.h"
#include "host-calls.h"
#include "host-channel.h"
#include "host-confine.h"
#include "host-log.h"
#include "host-pool.h"

#if HOST_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define SOCKET_FD 3
/* Small stacks: a host runs a dozen threads, and plugin calls are not deeply recursive; ASan needs more. */
#define STACK_SIZE ((size_t) (HOST_SANITIZED ? 2048 : 512) * 1024)
/* Each malloc arena reserves 64 MiB of address space: two are plenty for a host, and fit RLIMIT_AS. */
#define ARENA_MAX 2
#define MESSAGE_MAX HKP_HOST_MESSAGE_MAX
/* LSan's own exit status when it finds leaks. */
#define LEAKS_EXIT_STATUS 23

#if HOST_SANITIZED
/* The host's environment is empty: its sanitizer defaults live here.  A plugin's crash must be the
 * host's death by that signal (as without ASan), and a failed allocation within memory_max_mb NULL. */
__attribute__ ((visibility ("default"))) const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:allocator_may_return_null=1";
}
#endif

typedef struct {
  HostChannel channel;
  HostReader reader;
  HostLog *log;
  HostPlugin plugin;
  HostPool *requests;
  HostPool *health;
  HostPool *validation;
  int finishing; /* SHUTDOWN came (read and written by the thread leading the request pool) */
  HostPool *draining; /* the request pool, for the finisher */
} Host;

/* Sends FAILED with a formatted message and ends the process: nothing of the plugin is left to shut down. */
static void fail (Host *host, HkpHostFailure failure, const char *format, ...)
  __attribute__ ((format (printf, 3, 4), noreturn));

static void
fail (Host *host, HkpHostFailure failure, const char *format, ...)
{
  char message[MESSAGE_MAX];
  HkpHostRecord record;
  va_list args;

  va_start (args, format);
  vsnprintf (message, sizeof message, format, args);
  va_end (args);
  hkp_host_record_init (&record, HKP_HOST_MSG_FAILED);
  record.nums[0] = failure;
  record.strs[0] = hkp_host_string (message);
  host_channel_send (&host->channel, &record);
  if (host->log != NULL)
    host_log_finish (host->log);
  host_channel_flush (&host->channel);
  _exit (1);
}

/* The protocol version this host speaks: a test may make it speak another, to see the mismatch handled. */
static uint32_t
protocol_version (void)
{
  const char *forced = getenv ("HKP_PLUGIN_HOST_PROTOCOL_VERSION");

  return forced != NULL ? (uint32_t) strtoul (forced, NULL, 10) : HKP_HOST_PROTOCOL_VERSION;
}

/* Returns a copy of a received string, or ends the process if memory ran out. */
static char *
copy_string (Host *host, HkpHostString s)
{
  char *copy = strndup (s.str, s.len);

  if (copy == NULL)
    fail (host, HKP_HOST_FAILURE_SETUP, "out of memory");
  return copy;
}

/* Runs once SHUTDOWN came: waits for every call, shuts the instance down, and exits. */
static void *
finish (void *data)
{
  Host *host = data;
  int status = 0;

  host_pool_drain (host->draining);
  host_pool_drain (host->health);
  host_pool_drain (host->validation);
  host->plugin.descriptor->shutdown (host->plugin.instance);
#if HOST_SANITIZED
  /* While stderr still reaches the daemon: a stopped host is leak-checked like the daemon. */
  if (__lsan_do_recoverable_leak_check () != 0)
    status = LEAKS_EXIT_STATUS;
#endif
  host_log_finish (host->log);
  host->log = NULL;
  host_channel_flush (&host->channel);
  /* _exit: the plugin's destructors must not run while its threads may still be running. */
  _exit (status);
  return NULL;
}

static void
start_finishing (Host *host, HostPool *requests)
{
  pthread_attr_t attr;
  pthread_t thread;

  if (host->finishing)
    return;
  /* Calls sent before SHUTDOWN run to their end (the daemon drains or cancels them); later ones do not. */
  host->finishing = 1;
  host->draining = requests;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, STACK_SIZE);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create (&thread, &attr, finish, host) != 0)
    _exit (1);
  pthread_attr_destroy (&attr);
}

/* The request pool's lead function: reads the daemon's records, handling all but requests, until a request
 * comes; returns its job.  Ends the process when the daemon closes the socket, unless it is shutting down. */
static HostJob *
lead (HostPool *requests, void *data)
{
  Host *host = data;

  for (;;)
    {
      HkpHostRecord record;
      const char *problem = NULL;
      HostJob *job = NULL;
      int result = host_channel_receive (&host->channel, &host->reader, &record, &problem);

      if (result < 0)
        {
          /* The daemon closed its end: after SHUTDOWN the finisher exits; otherwise nobody wants us. */
          if (host->finishing)
            for (;;)
              pause ();
          _exit (0);
        }
      if (result != HKP_HOST_DECODE_OK)
        {
          char message[MESSAGE_MAX];
          int len = snprintf (message, sizeof message, "hkp-plugin-host: malformed record from the daemon: %s",
                              problem != NULL ? problem : "wrong version");
          host_log_send (&host->channel, 3, NULL, message, (size_t) len);
          host_channel_flush (&host->channel);
          _exit (2);
        }
      switch (record.type)
        {
        case HKP_HOST_MSG_REQUEST:
          if ((job = host_call_request_new (&record)) == NULL)
            _exit (1);
          /* After SHUTDOWN nothing reaches the plugin any more: it is answered without it. */
          job->cancelled = host->finishing;
          /* Its answer goes out with those of the requests read with it, once this thread reads again. */
          host_channel_hold (&host->channel);
          return job;
        case HKP_HOST_MSG_CANCEL:
          host_pool_cancel (requests, record.id);
          break;
        case HKP_HOST_MSG_CANCEL_ALL:
          host_pool_cancel_all (requests);
          break;
        case HKP_HOST_MSG_HEALTH:
          if (host->finishing)
            break;
          if ((job = host_call_health_new (record.id)) == NULL)
            _exit (1);
          host_pool_push (host->health, job);
          break;
        case HKP_HOST_MSG_VALIDATE:
          if ((job = host_call_validate_new (record.id, record.strs[0])) == NULL)
            _exit (1);
          host_pool_push (host->validation, job);
          break;
        case HKP_HOST_MSG_SHUTDOWN:
          start_finishing (host, requests);
          break;
        default:
          _exit (2);
        }
    }
}

/* Receives the daemon's HELLO into record, or ends the process. */
static void
receive_hello (Host *host, HkpHostRecord *record)
{
  const char *problem = NULL;
  int result = host_channel_receive (&host->channel, &host->reader, record, &problem);

  if (result < 0)
    _exit (1);
  if (result == HKP_HOST_DECODE_VERSION)
    fail (host, HKP_HOST_FAILURE_PROTOCOL, "the daemon speaks protocol version %u; this hkp-plugin-host speaks %u",
          record->nums[HKP_HOST_HELLO_VERSION], HKP_HOST_PROTOCOL_VERSION);
  if (result != HKP_HOST_DECODE_OK || record->type != HKP_HOST_MSG_HELLO)
    fail (host, HKP_HOST_FAILURE_PROTOCOL, "expected HELLO from the daemon: %s",
          problem != NULL ? problem : "another record came first");
}

/* Loads the module and checks its descriptor as the daemon's own loader does; returns its dlopen handle. */
static void *
load_module (Host *host, const char *path, const char *display_path)
{
  char message[MESSAGE_MAX];
  const hkp_plugin_descriptor *(*entry) (void);
  void *module = dlopen (path, RTLD_NOW | RTLD_LOCAL);

  if (module == NULL)
    fail (host, HKP_HOST_FAILURE_MODULE, "module %s is not a loadable shared object: %s", display_path, dlerror ());
  *(void **) &entry = dlsym (module, HKP_PLUGIN_ENTRY_SYMBOL);
  if (entry == NULL)
    fail (host, HKP_HOST_FAILURE_MODULE, "module %s has no entry symbol %s(): it is not an hkp-plugind plugin",
          display_path, HKP_PLUGIN_ENTRY_SYMBOL);
  host->plugin.descriptor = entry ();
  switch (hkp_descriptor_check (host->plugin.descriptor, display_path, message, sizeof message))
    {
    case HKP_DESCRIPTOR_OK:
      return module;
    case HKP_DESCRIPTOR_ABI_MISMATCH:
      fail (host, HKP_HOST_FAILURE_ABI_MISMATCH, "%s", message);
    case HKP_DESCRIPTOR_BAD:
    default:
      fail (host, HKP_HOST_FAILURE_MODULE, "%s", message);
    }
}

/* Runs validate_config and init with config; ends the process with FAILED if either refuses. */
static void
create_instance (Host *host, const char *config)
{
  const hkp_plugin_descriptor *d = host->plugin.descriptor;
  char message[HKP_PLUGIN_ERROR_SIZE] = "";

  if (d->validate_config != NULL && d->validate_config (config, message, sizeof message) != 0)
    {
      message[sizeof message - 1] = '\0';
      fail (host, HKP_HOST_FAILURE_INVALID_CONFIG, "config rejected: %s",
            message[0] != '\0' ? message : "no reason given");
    }
  if (d->init (config, &host->plugin.instance, message, sizeof message) != 0)
    {
      message[sizeof message - 1] = '\0';
      fail (host, HKP_HOST_FAILURE_INIT, "init failed: %s", message[0] != '\0' ? message : "no reason given");
    }
}

static unsigned
request_threads (void)
{
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);

  /* Enough that a few slow calls do not hold up the rest at first; the pool grows while more do. */
  return cpus < 2 ? 4 : cpus > 8 ? 16 : (unsigned) (2 * cpus);
}

/* What the request threads may grow to while calls wait behind slow ones: bounded, each is a stack and a tcache. */
#define REQUEST_THREADS_MAX 64

int
main (int argc, char **argv)
{
  static Host host; /* threads use it until the process ends */
  char message[MESSAGE_MAX];
  HkpHostRecord hello;
  char *module_path, *display_path, *config;
  uint32_t memory_max_mb, flags;
  struct stat st;
  void *module;

  /* First of all: from here on no other process of our user reads our memory or environment through /proc. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return 2;
  if (argc != 2)
    {
      fprintf (stderr, "usage: hkp-plugin-host PLUGIN\nhkp-plugind starts this program; it is not run by hand.\n");
      return 2;
    }
  /* Whatever the daemon forgot to close is not the plugin's. */
  close_range (SOCKET_FD + 1, ~0u, 0);
  if (fstat (SOCKET_FD, &st) < 0 || !S_ISSOCK (st.st_mode))
    {
      fprintf (stderr, "hkp-plugin-host: fd %d is not the daemon's socket\n", SOCKET_FD);
      return 2;
    }
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return 2;
  host_channel_init (&host.channel, SOCKET_FD);
  if (host_channel_write_on_crash (&host.channel) < 0)
    return 2;

  {
    HkpHostRecord record;
    hkp_host_record_init (&record, HKP_HOST_MSG_HOST_HELLO);
    record.nums[HKP_HOST_HELLO_VERSION] = protocol_version ();
    record.nums[HKP_HOST_HOST_HELLO_PID] = (uint32_t) getpid ();
    if (host_channel_send (&host.channel, &record) < 0)
      return 1;
  }
  receive_hello (&host, &hello);
  /* The daemon may have gone between starting us and PR_SET_PDEATHSIG: then we are someone else's child. */
  if (hello.nums[HKP_HOST_HELLO_DAEMON_PID] != 0 && (uint32_t) getppid () != hello.nums[HKP_HOST_HELLO_DAEMON_PID])
    return 1;
  memory_max_mb = hello.nums[HKP_HOST_HELLO_MEMORY_MAX_MB];
  flags = hello.nums[HKP_HOST_HELLO_FLAGS];
  module_path = copy_string (&host, hello.strs[HKP_HOST_HELLO_MODULE_PATH]);
  display_path = copy_string (&host, hello.strs[HKP_HOST_HELLO_DISPLAY_PATH]);
  config = copy_string (&host, hello.strs[HKP_HOST_HELLO_CONFIG]);

  mallopt (M_ARENA_MAX, ARENA_MAX);
  if (host_confine_memory (memory_max_mb, message, sizeof message) < 0 ||
      host_confine_files (message, sizeof message) < 0 || host_confine_capabilities (message, sizeof message) < 0)
    fail (&host, HKP_HOST_FAILURE_SETUP, "%s", message);
  /*
   * The filter before any plugin code (the module's constructors and entry
   * point run in dlopen()), and before the first thread, so that every
   * thread has it: a filter binds the thread that loads it and those it
   * starts later, never one running already.
   */
  if (!(flags & HKP_HOST_FLAG_NO_SECCOMP) && host_confine_seccomp (&host.channel, message, sizeof message) < 0)
    fail (&host, HKP_HOST_FAILURE_SETUP, "%s", message);
  host.log = host_log_start (&host.channel, STACK_SIZE);
  if (host.log == NULL)
    fail (&host, HKP_HOST_FAILURE_SETUP, "cannot capture the plugin's output: %s", strerror (errno));

  module = load_module (&host, module_path, display_path[0] != '\0' ? display_path : module_path);
  free (module_path);
  free (display_path);
  host_log_hook_glib (host.log, module);
  host.plugin.channel = &host.channel;

  create_instance (&host, config);
  free (config);
  host.health = host_pool_new ("health", 1, STACK_SIZE, &host.plugin, NULL, NULL);
  host.validation = host_pool_new ("validate", 1, STACK_SIZE, &host.plugin, NULL, NULL);
  /* Last: its threads start reading at once, and hand health and validation to the others. */
  if (host.health != NULL && host.validation != NULL)
    host.requests = host_pool_new ("handle", request_threads (), STACK_SIZE, &host.plugin, lead, &host);
  if (host.requests != NULL)
    host_pool_set_max_threads (host.requests, REQUEST_THREADS_MAX);
  if (host.requests == NULL || host.health == NULL || host.validation == NULL)
    {
      /* The instance exists: shut it down before saying so. */
      host.plugin.descriptor->shutdown (host.plugin.instance);
      fail (&host, HKP_HOST_FAILURE_SETUP, "cannot start threads: %s", strerror (errno));
    }

  {
    HkpHostRecord record;
    const hkp_plugin_descriptor *d = host.plugin.descriptor;
    hkp_host_record_init (&record, HKP_HOST_MSG_READY);
    record.strs[HKP_HOST_READY_NAME] = hkp_host_string (d->name);
    record.strs[HKP_HOST_READY_VERSION] = hkp_host_string (d->version);
    record.strs[HKP_HOST_READY_DESCRIPTION] = hkp_host_string (d->description);
    if (host_channel_send (&host.channel, &record) < 0)
      _exit (1);
  }
  host_pool_join (host.requests);
}
