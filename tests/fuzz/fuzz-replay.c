/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer: runs the target over every file of the corpus directories given. */
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  guint runs = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
      const char *entry;

      if (dir == NULL)
        {
          fprintf (stderr, "cannot open corpus %s\n", argv[i]);
          return 1;
        }
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], entry, NULL);
          g_autofree char *data = NULL;
          gsize len = 0;

          if (!g_file_get_contents (path, &data, &len, NULL))
            continue;
          LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
          /* Every prefix too: truncated input is the commonest malformation. */
          for (gsize cut = 0; cut < len; cut += 1 + len / 64)
            LLVMFuzzerTestOneInput ((const uint8_t *) data, cut);
          runs++;
        }
    }
  printf ("replayed %u corpus files\n", runs);
  return runs > 0 ? 0 : 1;
}
