/* predict --heatmap FILE.png: for one image, where the network found the
 * evidence for a class (Grad-CAM, lib/model/explain.h), drawn over the
 * picture as the network saw it (resized and cropped). */
#ifndef ALEXNET_PREDICT_HEATMAP_H
#define ALEXNET_PREDICT_HEATMAP_H

#include "predict_pipeline.h"

struct heatmap_options {
        const char *path;  /* the PNG */
        const char *class; /* a label or an index, or NULL: the top class */
        const char *layer; /* or NULL: the last convolution's ReLU */
        int format;        /* enum record_format, for a failure */
};

/* Explains the one image the pipeline yields, for the class asked or the
 * most probable: draws the PNG, and writes the map's class and its
 * probability on stdout as one record:
 *   tsv/text "PATH<TAB>INDEX<TAB>PROBABILITY<TAB>LABEL<TAB>PNG"
 *   json {"file":PATH,"index":I,"label":L,"prob":P,"heatmap":PNG,
 *         "layer":NAME,"map":[[...]]} (map: the layer's h x w values,
 *         0..1, before resizing)
 * The exit status. */
int explain_image(struct model *m, struct pipeline *p,
                  const struct heatmap_options *o);

#endif
