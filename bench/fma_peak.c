// One core's single-precision multiply-add peak, the ceiling that bench/RESULTS.md compares GEMM kernels with:
// 12 independent chains of eight-lane fused multiply-adds, enough to keep both FMA units busy through their latency.
// With THREADS > 1, that many copies run at once, one per thread, and each reports its own rate.
//
//   cc -O2 -mavx2 -mfma -pthread bench/fma_peak.c -o /tmp/fma_peak
//   /tmp/fma_peak [THREADS]
//
// Prints one JSON object with each thread's GFLOP/s.
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { chains = 12, steps = 400000000 };

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec * 1e-9;
}

static void *measure(void *result) {
    __m256 sums[chains];
    const __m256 a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
    for (int chain = 0; chain < chains; chain++) sums[chain] = _mm256_set1_ps((float)chain);
    double start = seconds();
    for (long step = 0; step < steps; step++) {
#pragma GCC unroll 12
        for (int chain = 0; chain < chains; chain++) sums[chain] = _mm256_fmadd_ps(a, b, sums[chain]);
    }
    double elapsed = seconds() - start;
    float total = 0, lanes[8];
    for (int chain = 0; chain < chains; chain++) {
        _mm256_storeu_ps(lanes, sums[chain]);
        total += lanes[0];
    }
    // Using the sums keeps the compiler from dropping the loop.
    *(double *)result = total > 0 ? (double)steps * chains * 16 / elapsed / 1e9 : 0;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: fma_peak [THREADS]\n");
        return 2;
    }
    pthread_t ids[256];
    double rates[256];
    for (int thread = 0; thread < threads; thread++) pthread_create(&ids[thread], NULL, measure, &rates[thread]);
    for (int thread = 0; thread < threads; thread++) pthread_join(ids[thread], NULL);
    printf("{\"threads\": %d, \"gflops_per_second_per_thread\": [", threads);
    for (int thread = 0; thread < threads; thread++) printf("%s%.1f", thread ? ", " : "", rates[thread]);
    printf("]}\n");
    return 0;
}
