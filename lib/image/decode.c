/* Decoding a file: sniffing its format from the first bytes and handing it
 * to that format's decoder. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "base/file_read.h"
#include "image/decoders.h"

/* Compressed files larger than this are refused before reading them: no
 * photo within the pixel limit needs more. */
#define MAX_FILE_BYTES ((uint64_t)1 << 31)
#define MAX_METADATA   ((uint64_t)16 << 20)

enum an_status image_decode(struct image *img, const uint8_t *data, size_t size,
                            const struct image_options *opt,
                            struct an_error *err)
{
        static const uint8_t png_magic[8] = {0x89, 'P',  'N',  'G',
                                             '\r', '\n', 0x1a, '\n'};
        memset(img, 0, sizeof *img);
        if (size == 0)
                return an_error_set(err, AN_E_FORMAT, "empty file");
        enum an_status st;
        if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
                st = jpeg_decode(img, data, size, opt, err);
        else if (size >= 8 && !memcmp(data, png_magic, 8))
                st = png_decode(img, data, size, opt, err);
        else
                return an_error_set(err, AN_E_FORMAT,
                                    "not a JPEG or PNG image");
        if (st != AN_OK)
                image_free(img);
        return st;
}

enum an_status image_load(struct image *img, const char *path,
                          const struct image_options *opt, struct an_error *err)
{
        uint8_t *data = NULL;
        size_t size = 0;
        memset(img, 0, sizeof *img);
        /* No image within the pixel limit is larger than 8 bytes a pixel
         * (16-bit RGBA stored uncompressed) plus its metadata (ICC, EXIF),
         * so a larger file is not read into memory at all. */
        uint64_t most = opt->max_pixels < (MAX_FILE_BYTES - MAX_METADATA) / 8
                                ? 8 * opt->max_pixels + MAX_METADATA
                                : MAX_FILE_BYTES;
        enum an_status st = file_read_whole(path, most, &data, &size, err);
        if (st != AN_OK)
                return st;
        st = image_decode(img, data, size, opt, err);
        free(data);
        return st;
}
