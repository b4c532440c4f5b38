#include "model/features.h"

#include <string.h>

#include "model/explain.h"

int feature_layer_default(const struct arch *a)
{
        int i = score_layer(a) - 1;
        while (i > 0 && a->layers[i].type == LAYER_DROPOUT)
                i--;
        return i;
}

size_t feature_size(const struct net *net, int layer)
{
        return shape_count(net->shapes[layer + 1]);
}

enum an_status features_batch(struct net *net, const float *input, int images,
                              int crops, int layer, float *out,
                              struct an_error *err)
{
        const float *y;
        enum an_status st =
                net_forward_to(net, input, images * crops, layer, &y, err);
        if (st != AN_OK)
                return st;
        size_t n = feature_size(net, layer);
        for (int i = 0; i < images; i++) {
                float *dst = out + (size_t)i * n;
                const float *src = y + (size_t)i * crops * n;
                memcpy(dst, src, n * sizeof *dst);
                for (int c = 1; c < crops; c++)
                        for (size_t j = 0; j < n; j++)
                                dst[j] += src[(size_t)c * n + j];
                if (crops > 1)
                        for (size_t j = 0; j < n; j++)
                                dst[j] /= (float)crops;
        }
        return AN_OK;
}
