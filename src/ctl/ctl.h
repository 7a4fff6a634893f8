/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every part of hkp-pluginctl shares: the options, the run's context, exit codes and the verb table type. */

#include <sys/types.h>

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define CTL_SERVICE "org.hkp.PluginManager1"
#define CTL_MANAGER_PATH "/org/hkp/PluginManager1"
#define CTL_PLUGIN_PREFIX "/org/hkp/PluginManager1/plugin"
#define CTL_MANAGER_INTERFACE "org.hkp.PluginManager1.Manager"
#define CTL_PLUGIN_INTERFACE "org.hkp.PluginManager1.Plugin"

/* Exit status, the LSB convention systemctl follows. */
enum {
  CTL_EXIT_SUCCESS = 0,
  CTL_EXIT_FAILURE = 1,
  CTL_EXIT_USAGE = 2,
  CTL_EXIT_NO_SUCH_PLUGIN = 4,
};

typedef enum {
  CTL_JSON_OFF,
  CTL_JSON_SHORT,
  CTL_JSON_PRETTY,
} CtlJsonMode;

/* The command line, parsed once in main(). */
typedef struct {
  CtlJsonMode json;
  char *host; /* -H: [USER@]HOST over ssh */
  char *address; /* --address */
  gboolean no_ask_password;
  gboolean no_legend;
  gboolean no_pager;
  gboolean quiet;
  gboolean show_secrets; /* config get/edit */
  gboolean has_to; /* rollback --to= */
  guint32 to_version;
} CtlOptions;

/* One run of the program: the options, what the terminal allows, and what was opened on the way. */
typedef struct {
  CtlOptions options;
  sd_bus *bus; /* opened by ctl_bus_get() on first use */
  gboolean color; /* stdout is a terminal and NO_COLOR is unset */
  gboolean progress; /* stderr is a terminal and -q was not given */
  pid_t pager_pid; /* 0: none */
  pid_t agent_pid; /* the polkit text agent; 0: none */
} Ctl;

typedef int (*CtlVerbFunc) (Ctl *ctl, int argc, char **argv);

#define CTL_ARGS_ANY (-1)

/* A verb: its name, how many words it takes with itself (min, max or CTL_ARGS_ANY), and what runs it. */
typedef struct {
  const char *name;
  int min_args;
  int max_args;
  CtlVerbFunc run;
  gboolean is_default; /* runs when no verb is given */
} CtlVerb;

/* Runs the verb argv[0] from verbs (NULL-name-terminated), or the default one when argc is 0; returns the exit status. */
int ctl_dispatch (Ctl *ctl, const CtlVerb *verbs, int argc, char **argv);

/* Prints "hkp-pluginctl: " and the message to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Prints the message to stderr (a line) and returns status. */
int ctl_fail (int status, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Prints the message to stderr unless -q; for notes that are not results. */
void ctl_note (Ctl *ctl, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* TRUE if name is a valid plugin name ([a-z0-9][a-z0-9_-]{0,63}). */
gboolean ctl_plugin_name_is_valid (const char *name);

/* Checks each of names is a plugin name: CTL_EXIT_SUCCESS, or a message and CTL_EXIT_USAGE. */
int ctl_check_names (int n, char **names);

/* The verbs (ctl-verb-*.c). */
int ctl_verb_status (Ctl *ctl, int argc, char **argv);
int ctl_verb_list (Ctl *ctl, int argc, char **argv);
int ctl_verb_show (Ctl *ctl, int argc, char **argv);
int ctl_verb_change (Ctl *ctl, int argc, char **argv); /* reload, enable, disable */
int ctl_verb_rescan (Ctl *ctl, int argc, char **argv);
int ctl_verb_rollback (Ctl *ctl, int argc, char **argv);
int ctl_verb_config (Ctl *ctl, int argc, char **argv);
int ctl_verb_history (Ctl *ctl, int argc, char **argv);
int ctl_verb_monitor (Ctl *ctl, int argc, char **argv);
int ctl_verb_check_config (Ctl *ctl, int argc, char **argv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)

G_END_DECLS
