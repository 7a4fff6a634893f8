/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Checks that data, len bytes of a shared object, holds everything its ELF
 * headers point at: a file cut short (still being copied, say) would make
 * the dynamic loader map pages past its end, and the first touch of one
 * kills the process with SIGBUS.  FALSE with a reason in *why (caller
 * frees) if it is not a whole ELF file of this machine's class.
 */
gboolean hkp_elf_is_whole (const guint8 *data, gsize len, char **why);

G_END_DECLS
