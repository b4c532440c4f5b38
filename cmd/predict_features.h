/* predict's feature modes, on the same pipeline as classification:
 *
 *   --features       a layer's output per image (fc7 after its ReLU by
 *                    default): tsv/text "PATH<TAB>V1<TAB>V2...", json
 *                    {"file":PATH,"layer":NAME,"features":[...]}, or npy:
 *                    -o FILE.npy, a float32 matrix of one row per image
 *                    read, and FILE.txt, their paths one a line, escaped
 *                    as in tsv
 *   --index F.npy    each image's k nearest rows of an earlier --features
 *                    -f npy output: tsv "PATH<TAB>RANK<TAB>NEIGHBOUR<TAB>
 *                    SCORE", text "PATH: NEIGHBOUR SCORE, ...", json
 *                    {"file":PATH,"neighbours":[{"rank":1,"file":NEIGHBOUR,
 *                    "similarity":S}]} ("distance" for --metric euclidean)
 *   --duplicates T   every pair of images (of the index, then of the
 *                    inputs) at least T similar (at most T apart):
 *                    tsv/text "PATH<TAB>OTHER<TAB>SCORE", json
 *                    {"file":PATH,"other":OTHER,"similarity":S}; in order
 *                    of the first, then of the second
 *
 * Scores are written with 6 decimals in tsv and text, and features with 9
 * significant digits (every digit a float32 has). */
#ifndef ALEXNET_PREDICT_FEATURES_H
#define ALEXNET_PREDICT_FEATURES_H

#include <stdbool.h>

#include "predict_pipeline.h"
#include "predict_records.h"

enum { FORMAT_NPY = FORMAT_JSON + 1 };

enum feature_mode { MODE_FEATURES, MODE_NEIGHBOURS, MODE_DUPLICATES };

struct feature_options {
        enum feature_mode mode;
        const char *layer;  /* --layer, or NULL: the last hidden layer */
        int format;         /* enum record_format, or FORMAT_NPY */
        const char *output; /* -o FILE: npy's matrix (FILE.txt: names) */
        bool header;        /* tsv: a header line first */
        const char *index;  /* --index FILE.npy, or NULL */
        int metric;         /* enum metric */
        int k;              /* neighbours per image */
        double threshold;   /* --duplicates */
        bool recursive;     /* for the message on a directory */
};

/* Runs the pipeline to the end in o's mode; the exit status (failures
 * reported). */
int features_run(struct model *m, struct pipeline *p,
                 const struct feature_options *o);

/* The names file beside an npy matrix: "a.npy" gives "a.txt", any other
 * name gets ".txt" added.  Freed by the caller. */
char *npy_names_path(const char *npy_path);

#endif
