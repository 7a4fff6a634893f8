/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A tiny shared library that the test plugins and the tests both link: one
 * copy in the process however many copies of a plugin module are loaded, so
 * it can count across instances and let a test wait for plugin events.  With
 * $HKP_TEST_PROBE_FILE set (in the test and in the plugin hosts' environment)
 * the counters live in that file, shared with test plugins in plugin hosts.
 */

#include <glib.h>

#define HKP_TEST_PROBE_API __attribute__ ((visibility ("default")))

/* Records that a call reached an instance after its shutdown began. */
HKP_TEST_PROBE_API void hkp_test_probe_violation (void);

/* Returns how many such calls there were. */
HKP_TEST_PROBE_API gint64 hkp_test_probe_violations (void);

/* Keeps a shut-down instance's memory until exit, so later calls can be detected rather than crash. */
HKP_TEST_PROBE_API void hkp_test_probe_bury (gpointer memory);

/* Counts one call entering handle(), waking hkp_test_probe_wait_entered(). */
HKP_TEST_PROBE_API void hkp_test_probe_entered (void);

/* Counts one call that saw request->cancelled. */
HKP_TEST_PROBE_API void hkp_test_probe_cancelled (void);

/* Returns the counters. */
HKP_TEST_PROBE_API gint64 hkp_test_probe_entered_count (void);
HKP_TEST_PROBE_API gint64 hkp_test_probe_cancelled_count (void);

/* Returns a new instance number, counting inits across every copy of every module. */
HKP_TEST_PROBE_API gint64 hkp_test_probe_next_instance (void);

/* Blocks until at least n calls have entered (fails the test after 60 s).  When the calls are
 * started by the caller's own main loop, iterate it instead, checking hkp_test_probe_entered_count():
 * every entry wakes the default main context. */
HKP_TEST_PROBE_API void hkp_test_probe_wait_entered (gint64 n);

/* Keeps the counters in the file at path from now on, shared with every process that maps it (the plugin hosts get
 * $HKP_TEST_PROBE_FILE). */
HKP_TEST_PROBE_API void hkp_test_probe_share (const char *path);

/* Sets every counter back to zero. */
HKP_TEST_PROBE_API void hkp_test_probe_reset (void);
