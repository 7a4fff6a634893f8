/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's objects and their properties, read in one call (GetManagedObjects or GetAll). */

#include "ctl.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  GVariant *value; /* a basic type */
} CtlProperty;

/* One object: its path, its plugin name (NULL for the manager) and its properties in the daemon's order. */
typedef struct {
  char *path;
  char *name;
  GPtrArray *properties; /* CtlProperty */
} CtlObject;

typedef struct {
  CtlObject *manager;
  GPtrArray *plugins; /* CtlObject, by priority then name */
} CtlModel;

/*
 * Reads every plugin with one GetManagedObjects, and with_manager the
 * manager's properties with one GetAll sent alongside; NULL after a message.
 * Free with ctl_model_free().
 */
CtlModel *ctl_model_load (Ctl *ctl, gboolean with_manager);
void ctl_model_free (CtlModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlModel, ctl_model_free)

/*
 * Reads every property of interface at path (plugin: its name, or NULL for
 * the manager) with one GetAll.  NULL with error set if the call failed.
 */
CtlObject *ctl_object_load (Ctl *ctl, const char *path, const char *interface, const char *plugin, sd_bus_error *error);
void ctl_object_free (CtlObject *object);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CtlObject, ctl_object_free)

/*
 * Reads an a{sv} of properties from message into properties (CtlProperty);
 * values that are not basic types are skipped.  Returns a negative errno on a malformed message.
 */
int ctl_read_properties (sd_bus_message *message, GPtrArray *properties);

/* Frees a CtlProperty. */
void ctl_property_free (gpointer property);

/* Returns the value of property name of object (owned by object), or NULL if it has none. */
GVariant *ctl_object_get (const CtlObject *object, const char *name);

/* Returns string property name, or fallback when absent or not a string. */
const char *ctl_object_get_string (const CtlObject *object, const char *name, const char *fallback);

/* Returns integer property name (any integer type), or fallback when absent. */
gint64 ctl_object_get_int (const CtlObject *object, const char *name, gint64 fallback);

/* Returns value as text for Key=Value lines and tables (caller frees). */
char *ctl_variant_to_text (GVariant *value);

G_END_DECLS
