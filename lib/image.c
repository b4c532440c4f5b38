#include "image.h"

#include <stdlib.h>
#include <string.h>

#include "file_read.h"

/* Compressed files larger than this are refused before reading them: no
 * photo within the pixel limit needs more. */
#define MAX_FILE_BYTES ((uint64_t)1 << 31)

struct image_options image_defaults(void)
{
        return (struct image_options){
                (uint64_t)IMAGE_DEFAULT_MAX_MEGAPIXELS * 1000 * 1000, 0};
}

void image_free(struct image *img)
{
        free(img->rgb);
        memset(img, 0, sizeof *img);
}

enum an_status image_check_size(uint64_t width, uint64_t height,
                                const struct image_options *opt,
                                struct an_error *err)
{
        if (width == 0 || height == 0)
                return an_error_set(err, AN_E_FORMAT, "image has no pixels");
        if (width > INT32_MAX / 4 || height > INT32_MAX / 4 ||
            width * height > opt->max_pixels)
                return an_error_set(err, AN_E_FORMAT,
                                    "image is %llux%llu, over the limit of "
                                    "%llu pixels",
                                    (unsigned long long)width,
                                    (unsigned long long)height,
                                    (unsigned long long)opt->max_pixels);
        return AN_OK;
}

enum an_status image_alloc(struct image *img, int width, int height,
                           const struct image_options *opt,
                           struct an_error *err)
{
        enum an_status st =
                image_check_size((uint64_t)width, (uint64_t)height, opt, err);
        if (st != AN_OK)
                return st;
        img->rgb = malloc((size_t)width * height * 3);
        if (!img->rgb)
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for a %dx%d image", width,
                                    height);
        img->width = width;
        img->height = height;
        return AN_OK;
}

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
        enum an_status st =
                read_whole_file(path, MAX_FILE_BYTES, &data, &size, err);
        if (st != AN_OK)
                return st;
        st = image_decode(img, data, size, opt, err);
        free(data);
        return st;
}
