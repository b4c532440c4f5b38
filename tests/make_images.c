/* Writes a directory of test images for the soak test (`make soak`):
 *
 *   make_images N DIR [BAD_EVERY]
 *
 * N JPEGs of mixed sizes (24x24 to 800x600) named DIR/good-NNNNNNN.jpg,
 * except that every BAD_EVERY-th (default 100) is broken in one of four
 * ways and named DIR/bad-NNNNNNN.jpg: cut short, the scan overwritten in
 * the middle and ended by an end-of-image marker, an empty file, or text.
 * Prints the counts of good and bad files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synth_jpeg.h"

static const int sizes[][2] = {{24, 24},   {64, 48},   {160, 120},
                               {227, 227}, {256, 256}, {320, 240},
                               {300, 500}, {640, 480}, {800, 600}};

/* Breaks the JPEG at path in the way numbered kind (0..3). */
static int spoil(const char *path, int kind)
{
        struct stat st;
        if (stat(path, &st) != 0)
                return -1;
        switch (kind) {
        case 0: /* cut short */ return truncate(path, st.st_size / 2);
        case 1: { /* garbage, then an end-of-image marker, mid-scan */
                /* (garbage alone is not always detectable: entropy-coded
                 * data can resynchronise and decode to wrong pixels) */
                FILE *f = fopen(path, "r+b");
                if (!f)
                        return -1;
                fseek(f, st.st_size / 2, SEEK_SET);
                for (int i = 0; i < 62; i++)
                        fputc(0x5A, f);
                fputc(0xFF, f);
                fputc(0xD9, f);
                return fclose(f);
        }
        case 2: /* empty */ return truncate(path, 0);
        default: { /* not an image at all */
                FILE *f = fopen(path, "wb");
                if (!f)
                        return -1;
                fputs("this is not a picture\n", f);
                return fclose(f);
        }
        }
}

int main(int argc, char **argv)
{
        if (argc < 3 || argc > 4) {
                fprintf(stderr, "usage: make_images N DIR [BAD_EVERY]\n");
                return 2;
        }
        long n = atol(argv[1]);
        long bad_every = argc > 3 ? atol(argv[3]) : 100;
        const char *dir = argv[2];
        long good = 0, bad = 0;
        for (long i = 0; i < n; i++) {
                const int *s = sizes[i % (sizeof sizes / sizeof sizes[0])];
                int is_bad = bad_every > 0 && i % bad_every == bad_every - 1;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s-%07ld.jpg", dir,
                         is_bad ? "bad" : "good", i);
                if (write_synth_jpeg(path, s[0], s[1], (unsigned)i) != 0 ||
                    (is_bad && spoil(path, (int)(i / bad_every) % 4) != 0)) {
                        perror(path);
                        return 1;
                }
                if (is_bad)
                        bad++;
                else
                        good++;
        }
        printf("%ld good %ld bad\n", good, bad);
        return 0;
}
