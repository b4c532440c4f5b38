#include "train/init.h"

#include <math.h>
#include <stdbool.h>

#include "base/rng.h"

void model_init_weights(struct model *m, enum init_mode mode, uint64_t seed,
                        int first_layer)
{
        struct net *net = &m->net;
        int conv_index = 0, last_linear = -1;
        for (int i = 0; i < net->arch.n_layers; i++)
                if (net->arch.layers[i].type == LAYER_LINEAR)
                        last_linear = i;
        for (int i = 0; i < net->arch.n_layers; i++) {
                const struct layer *l = &net->arch.layers[i];
                if (l->type == LAYER_CONV)
                        conv_index++;
                if (i < first_layer || !net->weights[i])
                        continue;
                int64_t dims[2][4];
                int ranks[2];
                layer_param_tensors(l, net->shapes[i], dims, ranks);
                size_t count = 1, fan_in = 1;
                for (int d = 0; d < ranks[0]; d++)
                        count *= (size_t)dims[0][d];
                fan_in = count / (size_t)dims[0][0];
                float sigma = mode == INIT_PAPER
                                      ? 0.01f
                                      : (float)sqrt(2.0 / (double)fan_in);
                float *w = (float *)net->weights[i];
                for (size_t j = 0; j < count; j++)
                        w[j] = sigma * rng_normal(seed, (uint64_t)i, j);
                if (!net->biases[i])
                        continue;
                bool one = mode == INIT_PAPER &&
                           ((l->type == LAYER_CONV &&
                             (conv_index == 2 || conv_index == 4 ||
                              conv_index == 5)) ||
                            (l->type == LAYER_LINEAR && i != last_linear));
                float *b = (float *)net->biases[i];
                for (int j = 0; j < l->out; j++)
                        b[j] = one ? 1.0f : 0.0f;
        }
}
