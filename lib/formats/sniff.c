#include "formats/sniff.h"

#include <string.h>

enum file_kind file_kind_of(const uint8_t *b, size_t n)
{
        if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
                return KIND_PNG;
        if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
                return KIND_JPEG;
        if (n >= 4 && !memcmp(b, "PK\3\4", 4))
                return KIND_TORCH_ZIP;
        if (n >= 3 && b[0] == 0x80 && b[1] <= 5 && b[2] == 0x8a)
                return KIND_TORCH_LEGACY; /* pickled LONG1 magic number */
        /* u64 header length (below 2^48), then the JSON header */
        if (n >= 9 && b[8] == '{' && b[6] == 0 && b[7] == 0)
                return KIND_SAFETENSORS;
        if (n >= 1 && (b[0] == '[' || b[0] == '#' || b[0] == '\n'))
                return KIND_DARKNET_CFG;
        if (n >= 2 && b[0] == 0x08) /* protobuf field 1 (ir_version) */
                return KIND_ONNX;
        return KIND_UNKNOWN;
}

const char *file_kind_description(enum file_kind k)
{
        switch (k) {
        case KIND_SAFETENSORS: return "a safetensors file";
        case KIND_TORCH_ZIP:
        case KIND_TORCH_LEGACY: return "a PyTorch file (torch.save)";
        case KIND_ONNX: return "an ONNX file";
        case KIND_DARKNET_CFG: return "a darknet .cfg";
        case KIND_PNG: return "a PNG image";
        case KIND_JPEG: return "a JPEG image";
        default: return NULL;
        }
}
