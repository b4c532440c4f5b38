/* The image object: its limits, allocation and release. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct image_options image_defaults(void)
{
        return (struct image_options){
                (uint64_t)IMAGE_DEFAULT_MAX_MEGAPIXELS * 1000 * 1000, 0, false};
}

bool image_file_name(const char *name)
{
        const char *dot = strrchr(name, '.');
        return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                       !strcasecmp(dot, ".png"));
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
        /* The resize to resize_side (its shorter side) grows a long thin
         * image: 1x20000 becomes 256x5120000.  Its size, rounded up, is
         * held to the same limit, or to 16 squares of the side if that is
         * more (an image up to 16:1 is always allowed its resize, however
         * small the limit). */
        uint64_t shorter = width < height ? width : height,
                 longer = width < height ? height : width;
        uint64_t side = opt->resize_side > 0 ? (uint64_t)opt->resize_side : 0;
        uint64_t limit = opt->max_pixels > 16 * side * side ? opt->max_pixels
                                                            : 16 * side * side;
        if (side > shorter) {
                uint64_t grown = (longer * side + shorter - 1) / shorter;
                if (grown > limit / side)
                        return an_error_set(
                                err, AN_E_FORMAT,
                                "image is %llux%llu: resized to %llu on its "
                                "shorter side it would be over the limit of "
                                "%llu pixels",
                                (unsigned long long)width,
                                (unsigned long long)height,
                                (unsigned long long)side,
                                (unsigned long long)limit);
        }
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
