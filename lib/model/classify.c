#include "model/classify.h"

#include <string.h>

#include "layers/activation.h"

enum an_status classify_batch(struct net *net, const float *input, int images,
                              int crops, float *probs, struct an_error *err)
{
        const float *out;
        int rows = images * crops;
        enum an_status st = net_forward(net, input, rows, &out, err);
        if (st != AN_OK)
                return st;
        int classes = (int)net_outputs(net);
        const struct layer *last = &net->arch.layers[net->arch.n_layers - 1];
        /* The arena output may be overwritten in place: it is ours until
         * the next forward pass. */
        float *logits = (float *)out;
        if (last->type != LAYER_SOFTMAX)
                softmax_forward(rows, classes, logits, logits);
        for (int i = 0; i < images; i++) {
                float *dst = probs + (size_t)i * classes;
                const float *src = logits + (size_t)i * crops * classes;
                memcpy(dst, src, classes * sizeof *dst);
                for (int c = 1; c < crops; c++)
                        for (int j = 0; j < classes; j++)
                                dst[j] += src[(size_t)c * classes + j];
                if (crops > 1)
                        for (int j = 0; j < classes; j++)
                                dst[j] /= (float)crops;
        }
        return AN_OK;
}

static bool ranks_before(struct prediction a, struct prediction b)
{
        return a.prob > b.prob || (a.prob == b.prob && a.index < b.index);
}

int top_k(const float *probs, int classes, int k, struct prediction *out)
{
        if (k > classes)
                k = classes;
        int n = 0;
        /* Insertion into a sorted list of k: classes is ~1000, k ~5. */
        for (int i = 0; i < classes; i++) {
                struct prediction p = {i, probs[i]};
                if (n == k && !ranks_before(p, out[k - 1]))
                        continue;
                int j = n < k ? n++ : k - 1;
                while (j > 0 && ranks_before(p, out[j - 1])) {
                        out[j] = out[j - 1];
                        j--;
                }
                out[j] = p;
        }
        return n;
}
