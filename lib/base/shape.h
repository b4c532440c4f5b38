/* Shapes of activations and the sliding-window geometry shared by
 * convolution and pooling.  Activations are NCHW float32; a `struct shape`
 * describes one sample (C x H x W), the batch size travels separately. */
#ifndef ALEXNET_SHAPE_H
#define ALEXNET_SHAPE_H

#include <stddef.h>

struct shape {
        int c, h, w;
};

static inline size_t shape_count(struct shape s)
{
        return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* A kernel sliding over H x W with a stride and zero (or, for max pooling,
 * ignored) padding.  Padding may differ on each side, as ONNX allows. */
struct window {
        int kernel_h, kernel_w;
        int stride_h, stride_w;
        int pad_top, pad_left, pad_bottom, pad_right;
};

/* Output extent along one axis, or 0 when the kernel does not fit. */
static inline int window_extent(int in, int kernel, int stride, int pad_before,
                                int pad_after)
{
        long span = (long)in + pad_before + pad_after - kernel;
        if (span < 0 || stride <= 0)
                return 0;
        return (int)(span / stride + 1);
}

static inline int window_out_h(const struct window *w, int in_h)
{
        return window_extent(in_h, w->kernel_h, w->stride_h, w->pad_top,
                             w->pad_bottom);
}

static inline int window_out_w(const struct window *w, int in_w)
{
        return window_extent(in_w, w->kernel_w, w->stride_w, w->pad_left,
                             w->pad_right);
}

#endif
