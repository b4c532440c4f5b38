/* JPEG and PNG decoding (libjpeg-turbo, libpng, our EXIF reader), then the
 * resize and crop into a tensor that predict would do. */
#include <stdlib.h>

#include "fuzz.h"
#include "image/image.h"
#include "model/model.h"
#include "image/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct image_options opt = image_defaults();
        opt.max_pixels = 1 << 22; /* keep each input fast */
        opt.resize_side = 40;
        opt.reduced_jpeg = size & 1; /* both JPEG decoding paths */
        struct image img;
        if (image_decode(&img, data, size, &opt, NULL) != AN_OK)
                return 0;
        struct preprocess pre = preprocess_torchvision(40);
        struct shape input = {3, 32, 32};
        float *out = malloc(sizeof(float) * 3 * 32 * 32);
        if (out)
                image_preprocess(&img, &pre, input, 1, out, NULL);
        free(out);
        image_free(&img);
        return 0;
}
