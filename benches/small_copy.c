/* Per-call overhead of small copies from C, and copy plans on large transposes, built and
 * run by `make bench`:
 *   - a 4x4 float64 transpose made contiguous with pybuf_to_contiguous, and with a reused
 *     copy plan (pybuf_copy_plan_execute), timed over many calls (best of several rounds);
 *   - a 128 MiB float64 transpose (4096 x 4096) through a plan on 1 and 2 threads, beside a
 *     memcpy of the same bytes and a streaming-store copy (AVX2 _mm256_stream_si256,
 *     chosen at run time; SSE2 otherwise), as ratios of speed to memcpy (best of ROUNDS).
 * The machine may be shared: numbers are best-of, and ratios are what to compare. */
#define _POSIX_C_SOURCE 200112L
#include <emmintrin.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pybuf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A streaming-store copy of n bytes (dst and src 64-byte aligned, n a multiple of 64). */
__attribute__((target("avx2"))) static void stream_copy_avx2(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    for (size_t k = 0; k < n; k += 64) {
        __m256i a = _mm256_load_si256((const __m256i *)(s + k));
        __m256i b = _mm256_load_si256((const __m256i *)(s + k + 32));
        _mm256_stream_si256((__m256i *)(d + k), a);
        _mm256_stream_si256((__m256i *)(d + k + 32), b);
    }
    _mm_sfence();
}

static void stream_copy_sse2(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    for (size_t k = 0; k < n; k += 16)
        _mm_stream_si128((__m128i *)(d + k), _mm_load_si128((const __m128i *)(s + k)));
    _mm_sfence();
}

static int small_copies(void) {
    double a[16], out[16];
    for (int k = 0; k < 16; k++) a[k] = k;
    pybuf_ssize_t shape[2] = {4, 4}, strides[2] = {8, 32}; /* the transpose of a 4x4 C array */
    pybuf_buffer t = {0};
    t.buf = a;
    t.len = sizeof a;
    t.itemsize = 8;
    t.ndim = 2;
    t.shape = shape;
    t.strides = strides;
    pybuf_buffer c = t;
    c.strides = NULL;
    pybuf_copy_plan *plan;
    if (pybuf_copy_plan_new(&c, &t, 0, &plan) != 0) {
        fprintf(stderr, "failed: %s\n", pybuf_last_error());
        return 1;
    }
    const long calls = 2000000;
    double best[2] = {1e9, 1e9};
    for (int round = 0; round < 9; round++) {
        for (int way = 0; way < 2; way++) {
            double t0 = now();
            for (long i = 0; i < calls; i++) {
                int rc = way == 0 ? pybuf_to_contiguous(out, &t, t.len, 'C') : pybuf_copy_plan_execute(plan, out, a);
                if (rc != 0) {
                    fprintf(stderr, "failed: %s\n", pybuf_last_error());
                    return 1;
                }
                __asm__ volatile("" ::: "memory");
            }
            double per = (now() - t0) / (double)calls * 1e9;
            if (per < best[way]) best[way] = per;
        }
    }
    pybuf_copy_plan_free(plan);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (out[i * 4 + j] != a[j * 4 + i]) {
                fprintf(stderr, "wrong result at (%d, %d)\n", i, j);
                return 1;
            }
    printf("4x4 float64 transpose, pybuf_to_contiguous from C: %.1f ns per call (target <= 30 ns)\n", best[0]);
    printf("4x4 float64 transpose, reused plan (pybuf_copy_plan_execute): %.1f ns per call (target <= 12 ns)\n", best[1]);
    return 0;
}

static int large_transposes(int rounds) {
    const pybuf_ssize_t n = 4096;
    const size_t bytes = (size_t)n * n * 8;
    void *a, *b;
    if (posix_memalign(&a, 64, bytes) != 0 || posix_memalign(&b, 64, bytes) != 0) return 1;
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    pybuf_ssize_t shape[2] = {n, n}, ts[2] = {8, 8 * n};
    pybuf_buffer src = {0};
    src.len = (pybuf_ssize_t)bytes;
    src.itemsize = 8;
    src.ndim = 2;
    src.shape = shape;
    src.strides = ts;
    pybuf_buffer dst = src;
    dst.strides = NULL;
    pybuf_copy_plan *plan;
    if (pybuf_copy_plan_new(&dst, &src, 0, &plan) != 0) {
        fprintf(stderr, "failed: %s\n", pybuf_last_error());
        return 1;
    }
    int avx2 = __builtin_cpu_supports("avx2");
    /* 0 memcpy, 1 streaming copy, 2 plan 1 thread, 3 plan 2 threads, 4 pybuf_to_contiguous */
    double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
    for (int r = 0; r < rounds; r++) {
        for (int w = 0; w < 5; w++) {
            if (w >= 2 && w <= 3) pybuf_copy_plan_set_threads(plan, w - 1);
            src.buf = a;
            double t0 = now();
            int rc = 0;
            switch (w) {
            case 0: memcpy(b, a, bytes); break;
            case 1: (avx2 ? stream_copy_avx2 : stream_copy_sse2)(b, a, bytes); break;
            case 2:
            case 3: rc = pybuf_copy_plan_execute(plan, b, a); break;
            default: rc = pybuf_to_contiguous(b, &src, src.len, 'C'); break;
            }
            double t = now() - t0;
            if (rc != 0) {
                fprintf(stderr, "failed: %s\n", pybuf_last_error());
                return 1;
            }
            if (t < best[w]) best[w] = t;
        }
    }
    pybuf_copy_plan_free(plan);
    printf("128 MiB, best of %d, speed relative to memcpy (%.2f GB/s):\n", rounds, (double)bytes / best[0] / 1e9);
    printf("  streaming-store copy (%s)       %.2f\n", avx2 ? "AVX2" : "SSE2", best[0] / best[1]);
    printf("  transpose 4096^2, plan, 1 thread    %.2f\n", best[0] / best[2]);
    printf("  transpose 4096^2, plan, 2 threads   %.2f\n", best[0] / best[3]);
    printf("  transpose 4096^2, pybuf_to_contiguous %.2f\n", best[0] / best[4]);
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (small_copies() != 0) return 1;
    return large_transposes(rounds > 0 ? rounds : 7);
}
