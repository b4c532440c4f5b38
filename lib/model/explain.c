#include "model/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/layer.h"

int gradcam_default_layer(const struct arch *a)
{
        int last = -1;
        for (int i = 0; i < a->n_layers; i++)
                if (a->layers[i].type == LAYER_CONV)
                        last = i;
        if (last >= 0 && last + 1 < a->n_layers &&
            a->layers[last + 1].type == LAYER_RELU)
                last++;
        return last;
}

int score_layer(const struct arch *a)
{
        int last = a->n_layers - 1;
        if (last > 0 && a->layers[last].type == LAYER_SOFTMAX)
                last--;
        return last;
}

/* Every layer's output for one image: acts[i + 1] is layer i's output,
 * acts[0] the input (not owned). */
struct activations {
        float **acts;
        float *workspace;
        float *grad[2];
};

static void activations_free(struct activations *a, int n)
{
        if (a->acts)
                for (int i = 1; i <= n; i++)
                        free(a->acts[i]);
        free(a->acts);
        free(a->workspace);
        free(a->grad[0]);
        free(a->grad[1]);
}

static enum an_status activations_alloc(const struct net *net, int top,
                                        struct activations *a,
                                        struct an_error *err)
{
        memset(a, 0, sizeof *a);
        size_t work = 0, largest = 0;
        a->acts = calloc((size_t)top + 2, sizeof *a->acts);
        bool ok = a->acts != NULL;
        for (int i = 0; ok && i <= top; i++) {
                const struct layer *l = &net->arch.layers[i];
                size_t need =
                        layer_workspace_floats(l, net->shapes[i], 1, true);
                work = need > work ? need : work;
                size_t n = shape_count(net->shapes[i + 1]);
                largest = n > largest ? n : largest;
                largest = shape_count(net->shapes[i]) > largest
                                  ? shape_count(net->shapes[i])
                                  : largest;
                ok = (a->acts[i + 1] = malloc(n * sizeof(float))) != NULL;
        }
        if (ok) {
                a->workspace = malloc((work ? work : 1) * sizeof(float));
                a->grad[0] = malloc(largest * sizeof(float));
                a->grad[1] = malloc(largest * sizeof(float));
                ok = a->workspace && a->grad[0] && a->grad[1];
        }
        if (!ok) {
                activations_free(a, top + 1);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        return AN_OK;
}

static enum an_status forward_keeping(const struct net *net, int top,
                                      struct activations *a,
                                      struct an_error *err)
{
        for (int i = 0; i <= top; i++) {
                const struct layer *l = &net->arch.layers[i];
                struct layer_params p = {net->weights[i], net->biases[i], NULL,
                                         NULL};
                enum an_status st = layer_forward(l, net->shapes[i], &p, 1,
                                                  a->acts[i], a->acts[i + 1],
                                                  false, a->workspace, NULL);
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s", l->name,
                                            an_status_string(st));
        }
        return AN_OK;
}

/* The gradient of the score of cls at the output of `layer`, into
 * a->grad[0]. */
static enum an_status backward_to(const struct net *net, int layer, int top,
                                  int cls, struct activations *a,
                                  struct an_error *err)
{
        size_t classes = shape_count(net->shapes[top + 1]);
        memset(a->grad[0], 0, classes * sizeof(float));
        a->grad[0][cls] = 1;
        for (int i = top; i > layer; i--) {
                const struct layer *l = &net->arch.layers[i];
                enum an_status st = layer_backward(
                        l, net->shapes[i], net->weights[i], 1, a->acts[i],
                        a->acts[i + 1], a->grad[0], a->grad[1], NULL, NULL,
                        a->workspace, NULL);
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s", l->name,
                                            an_status_string(st));
                float *t = a->grad[0];
                a->grad[0] = a->grad[1];
                a->grad[1] = t;
        }
        return AN_OK;
}

/* map = ReLU(sum_k mean(grad_k) A_k); alpha: room for s.c values. */
static void weigh_channels(struct shape s, const float *act, const float *grad,
                           float *alpha, float *map)
{
        size_t plane = (size_t)s.h * s.w;
        for (int k = 0; k < s.c; k++) {
                double sum = 0;
                for (size_t j = 0; j < plane; j++)
                        sum += grad[k * plane + j];
                alpha[k] = (float)(sum / (double)plane);
        }
        for (size_t j = 0; j < plane; j++) {
                double sum = 0;
                for (int k = 0; k < s.c; k++)
                        sum += (double)alpha[k] * act[k * plane + j];
                map[j] = sum > 0 ? (float)sum : 0;
        }
}

enum an_status gradcam(const struct net *net, const float *input, int layer,
                       int cls, float *map, float *score, struct an_error *err)
{
        int top = score_layer(&net->arch);
        if (layer < 0 || layer >= top)
                return an_error_set(err, AN_E_INVALID,
                                    "layer %d is not below the class scores",
                                    layer);
        if (cls < 0 || (size_t)cls >= shape_count(net->shapes[top + 1]))
                return an_error_set(err, AN_E_INVALID, "no class %d", cls);
        struct shape s = net->shapes[layer + 1];
        if (s.h * s.w < 1 || s.c < 1)
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s has no spatial output",
                                    net->arch.layers[layer].name);
        struct activations a;
        enum an_status st = activations_alloc(net, top, &a, err);
        if (st != AN_OK)
                return st;
        a.acts[0] = (float *)input; /* read only: never freed or written */
        st = forward_keeping(net, top, &a, err);
        if (st == AN_OK)
                st = backward_to(net, layer, top, cls, &a, err);
        if (st == AN_OK) {
                if (score)
                        *score = a.acts[top + 1][cls];
                weigh_channels(s, a.acts[layer + 1], a.grad[0], a.grad[1], map);
        }
        activations_free(&a, top + 1);
        return st;
}

/* PyTorch's source index for align_corners=False, clamped at 0. */
static void source_of(int i, int in, int out, int *i0, int *i1, float *t)
{
        float x = ((float)i + 0.5f) * ((float)in / (float)out) - 0.5f;
        if (x < 0)
                x = 0;
        *i0 = (int)x;
        *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
        *t = x - (float)*i0;
}

void map_resize(const float *map, int h, int w, float *out, int out_h,
                int out_w)
{
        for (int y = 0; y < out_h; y++) {
                int y0, y1;
                float ty;
                source_of(y, h, out_h, &y0, &y1, &ty);
                for (int x = 0; x < out_w; x++) {
                        int x0, x1;
                        float tx;
                        source_of(x, w, out_w, &x0, &x1, &tx);
                        float top = map[y0 * w + x0] * (1 - tx) +
                                    map[y0 * w + x1] * tx;
                        float bottom = map[y1 * w + x0] * (1 - tx) +
                                       map[y1 * w + x1] * tx;
                        out[(size_t)y * out_w + x] =
                                top * (1 - ty) + bottom * ty;
                }
        }
}

void map_normalise(float *map, size_t n)
{
        float most = 0;
        for (size_t i = 0; i < n; i++)
                most = map[i] > most ? map[i] : most;
        for (size_t i = 0; i < n && most > 0; i++)
                map[i] /= most;
}
