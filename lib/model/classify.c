#include "model/classify.h"

#include <stdlib.h>
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
        mean_over_crops(logits, images, crops, (size_t)classes, probs);
        return AN_OK;
}

void mean_over_crops(const float *rows, int images, int crops, size_t n,
                     float *out)
{
        for (int i = 0; i < images; i++) {
                float *dst = out + (size_t)i * n;
                const float *src = rows + (size_t)i * crops * n;
                memcpy(dst, src, n * sizeof *dst);
                for (int c = 1; c < crops; c++)
                        for (size_t j = 0; j < n; j++)
                                dst[j] += src[(size_t)c * n + j];
                if (crops > 1)
                        for (size_t j = 0; j < n; j++)
                                dst[j] /= (float)crops;
        }
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

int class_rank(const float *probs, int classes, int label)
{
        struct prediction mine = {label, probs[label]};
        int rank = 0;
        for (int i = 0; i < classes; i++)
                rank += ranks_before((struct prediction){i, probs[i]}, mine);
        return rank;
}

enum an_status accuracy_init(struct accuracy *a, int classes, bool confusion,
                             struct an_error *err)
{
        memset(a, 0, sizeof *a);
        a->classes = classes;
        if (confusion) {
                a->confusion =
                        calloc((size_t)classes * classes, sizeof *a->confusion);
                if (!a->confusion)
                        return an_error_set(err, AN_E_NOMEM,
                                            "out of memory for a %d-class "
                                            "confusion matrix",
                                            classes);
        }
        return AN_OK;
}

void accuracy_add(struct accuracy *a, const float *probs, const int *labels,
                  int n)
{
        for (int i = 0; i < n; i++) {
                const float *p = probs + (size_t)i * a->classes;
                int rank = class_rank(p, a->classes, labels[i]);
                a->seen++;
                a->top1 += rank == 0;
                a->top5 += rank < 5;
                if (a->confusion) {
                        struct prediction first;
                        top_k(p, a->classes, 1, &first);
                        a->confusion[(size_t)labels[i] * a->classes +
                                     first.index]++;
                }
        }
}

double accuracy_top1(const struct accuracy *a)
{
        return a->seen ? (double)a->top1 / a->seen : 0;
}

double accuracy_top5(const struct accuracy *a)
{
        return a->seen ? (double)a->top5 / a->seen : 0;
}

void accuracy_free(struct accuracy *a)
{
        free(a->confusion);
        memset(a, 0, sizeof *a);
}
