/* What a file's first bytes say it is: for choosing an importer (alexnet
 * convert without --from) and for saying what a file given as a model
 * really is ("a PNG image", "a PyTorch file") instead of how it fails to
 * parse as one. */
#ifndef ALEXNET_SNIFF_H
#define ALEXNET_SNIFF_H

#include <stddef.h>
#include <stdint.h>

enum file_kind {
        KIND_UNKNOWN,
        KIND_SAFETENSORS,
        KIND_TORCH_ZIP,    /* torch.save since PyTorch 1.6 */
        KIND_TORCH_LEGACY, /* older torch.save: pickles */
        KIND_ONNX,
        KIND_DARKNET_CFG,
        KIND_PNG,
        KIND_JPEG,
};

/* Needs up to SNIFF_BYTES bytes of the file's start (fewer for a short
 * file). */
enum { SNIFF_BYTES = 16 };
enum file_kind file_kind_of(const uint8_t *start, size_t n);

/* "a PNG image", "a PyTorch file (torch.save)", ...; NULL for unknown. */
const char *file_kind_description(enum file_kind k);

#endif
