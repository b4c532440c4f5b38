/* The machine's FP32 peak for the benchmarks: an FMA loop on every OpenMP
 * thread (AVX-512, else AVX2+FMA), best of three runs. */
#ifndef ALEXNET_BENCH_PEAK_H
#define ALEXNET_BENCH_PEAK_H

/* FLOP/s; *isa names the instruction set used ("none": 0 returned). */
double measure_peak(const char **isa);

#endif
