/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/* Whether a module file is whole, before the dynamic loader maps it. */

#include "hkp-elf.h"

#include <elf.h>
#include <link.h>
#include <string.h>

/* Whether count entries of size bytes from offset lie within len (without overflow). */
static gboolean
within (guint64 offset, guint64 count, guint64 size, gsize len)
{
  return offset <= len && (size == 0 || count <= (len - offset) / size);
}

gboolean
hkp_elf_is_whole (const guint8 *data, gsize len, char **why)
{
  ElfW (Ehdr) header;

  if (len < sizeof header || memcmp (data, ELFMAG, SELFMAG) != 0)
    {
      *why = g_strdup ("it is not an ELF file");
      return FALSE;
    }
  memcpy (&header, data, sizeof header);
  if (header.e_ident[EI_CLASS] != (sizeof (void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      header.e_phentsize != sizeof (ElfW (Phdr)))
    {
      *why = g_strdup ("it is not an ELF file of this machine's class");
      return FALSE;
    }
  if (!within (header.e_phoff, header.e_phnum, sizeof (ElfW (Phdr)), len) ||
      (header.e_shoff != 0 && !within (header.e_shoff, header.e_shnum, header.e_shentsize, len)))
    {
      *why = g_strdup_printf ("its headers point past its %" G_GSIZE_FORMAT " bytes: it is cut short (still being "
                              "copied?)",
                              len);
      return FALSE;
    }
  for (guint i = 0; i < header.e_phnum; i++)
    {
      ElfW (Phdr) segment;

      memcpy (&segment, data + header.e_phoff + (gsize) i * sizeof segment, sizeof segment);
      if (segment.p_filesz != 0 && !within (segment.p_offset, 1, segment.p_filesz, len))
        {
          *why = g_strdup_printf ("segment %u runs past its %" G_GSIZE_FORMAT " bytes: it is cut short (still being "
                                  "copied?)",
                                  i, len);
          return FALSE;
        }
    }
  return TRUE;
}
