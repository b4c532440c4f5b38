/* The machine's limits for the benchmarks: the FP32 peak (an FMA loop on
 * every OpenMP thread, AVX-512, else AVX2+FMA, best of seven runs), the
 * bfloat16 dot-product peak where the CPU has AVX512_BF16, and the
 * memory read bandwidth (a sum over 512 MiB on every thread, best of five),
 * which bounds the fully connected layers at small batches. */
#ifndef ALEXNET_BENCH_PEAK_H
#define ALEXNET_BENCH_PEAK_H

/* FLOP/s; *isa names the instruction set used ("none": 0 returned). */
double measure_peak(const char **isa);

/* FLOP/s of the AVX512_BF16 dot product (VDPBF16PS: 32 multiply-adds an
 * instruction) on every thread, or 0 where the CPU lacks it. */
double measure_bf16_peak(void);

/* Bytes per second read from memory by all threads. */
double measure_read_bandwidth(void);

/* qsort's comparison of doubles, for the best and median of trials. */
int compare_doubles(const void *a, const void *b);

#endif
