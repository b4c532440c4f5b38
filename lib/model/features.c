#include "model/features.h"

#include "model/classify.h"
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
        mean_over_crops(y, images, crops, feature_size(net, layer), out);
        return AN_OK;
}
