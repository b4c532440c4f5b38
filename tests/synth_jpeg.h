/* Generated test pictures for the benchmarks and the soak test. */
#ifndef ALEXNET_SYNTH_JPEG_H
#define ALEXNET_SYNTH_JPEG_H

/* Writes a photo-like w x h picture (gradients plus noise from seed) as a
 * JPEG of quality 85.  Returns 0, or -1 when the file cannot be written. */
int write_synth_jpeg(const char *path, int w, int h, unsigned seed);

#endif
