/* Writing a model as an ONNX graph (opset 13) that other runtimes (OpenCV's
 * DNN module, onnxruntime, ...) can run: same layers, same weights, one
 * input "input" [N, C, H, W] and one output "output" [N, classes] (logits,
 * or probabilities with softmax set: a Softmax node is appended unless the
 * network ends with one).  The model's labels, preprocessing and
 * provenance go along as JSON in metadata_props ("alexnet.labels",
 * "alexnet.preprocess", "alexnet.provenance"). */
#ifndef ALEXNET_EXPORT_ONNX_H
#define ALEXNET_EXPORT_ONNX_H

#include <stdbool.h>

#include "base/errors.h"
#include "model/model.h"

enum an_status model_export_onnx(const struct model *m, const char *path,
                                 bool softmax, struct an_error *err);

#endif
