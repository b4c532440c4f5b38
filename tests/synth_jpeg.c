/* Generated test pictures (see synth_jpeg.h). */
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "synth_jpeg.h"

int write_synth_jpeg(const char *path, int w, int h, unsigned seed)
{
        FILE *f = fopen(path, "wb");
        if (!f)
                return -1;
        unsigned char *row = malloc((size_t)w * 3);
        if (!row) {
                fclose(f);
                return -1;
        }
        struct jpeg_compress_struct c;
        struct jpeg_error_mgr jerr;
        c.err = jpeg_std_error(&jerr);
        jpeg_create_compress(&c);
        jpeg_stdio_dest(&c, f);
        c.image_width = w;
        c.image_height = h;
        c.input_components = 3;
        c.in_color_space = JCS_RGB;
        jpeg_set_defaults(&c);
        jpeg_set_quality(&c, 85, TRUE);
        jpeg_start_compress(&c, TRUE);
        for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                        seed = seed * 1103515245u + 12345u;
                        int noise = (int)(seed >> 27) - 16;
                        for (int ch = 0; ch < 3; ch++) {
                                int v = (x * (ch + 1) * 255 / w +
                                         y * (3 - ch) * 255 / h) /
                                                2 +
                                        noise;
                                row[x * 3 + ch] =
                                        (unsigned char)(v < 0     ? 0
                                                        : v > 255 ? 255
                                                                  : v);
                        }
                }
                JSAMPROW r = row;
                jpeg_write_scanlines(&c, &r, 1);
        }
        jpeg_finish_compress(&c);
        jpeg_destroy_compress(&c);
        free(row);
        return fclose(f);
}
