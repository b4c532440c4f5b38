/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput.  Linked with clang's
 * -fsanitize=fuzzer it is a libFuzzer target (`make fuzz`); linked with
 * replay.c it is a plain program that runs the committed corpus and every
 * past finding through the same code (`make check`, also under the
 * sanitizers in CI). */
#ifndef ALEXNET_FUZZ_H
#define ALEXNET_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path whose contents are exactly data[0..size): an anonymous in-memory
 * file (memfd) reused by every call, for the parsers that take a path and
 * may mmap it.  NULL if the file cannot be written. */
const char *fuzz_file(int slot, const uint8_t *data, size_t size);

#endif
