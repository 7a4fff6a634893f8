/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The private D-Bus conversation between the daemon and its HTTP worker
 * processes, peer to peer over a socket pair (no bus).  The daemon answers
 * Hello (what the worker needs to serve, and the current snapshot) and
 * Change (a mutation the worker received, run on the daemon's engine); the
 * worker answers Publish (a newer snapshot to serve from) and Sync (nothing:
 * its answer tells that every Publish sent before it has been taken).
 */
#define HTTP_WORKER_OBJECT_PATH "/org/hkp/PluginManager1/HttpWorker"
#define HTTP_WORKER_DAEMON_INTERFACE "org.hkp.PluginManager1.HttpDaemon"
#define HTTP_WORKER_INTERFACE "org.hkp.PluginManager1.HttpWorker"

#define HTTP_WORKER_DAEMON_XML \
  "<node><interface name='" HTTP_WORKER_DAEMON_INTERFACE "'>" \
  "<method name='Hello'><arg type='a{sv}' direction='out'/><arg type='v' direction='out'/></method>" \
  "<method name='Change'><arg type='v' direction='in'/><arg type='v' direction='out'/></method>" \
  "</interface></node>"

#define HTTP_WORKER_XML \
  "<node><interface name='" HTTP_WORKER_INTERFACE "'>" \
  "<method name='Publish'><arg type='v' direction='in'/></method>" \
  "<method name='Sync'/>" \
  "</interface></node>"

/* In a worker, the listening socket and the daemon's end of the conversation. */
#define HTTP_WORKER_LISTEN_FD 3
#define HTTP_WORKER_CONTROL_FD 4
