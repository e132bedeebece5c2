/* Helpers shared by the C benchmarks: a monotonic clock, page-touched aligned buffers and
 * the streaming-store copy that is the ceiling of a large copy (glibc's memcpy switches to
 * streaming stores only far above 128 MiB). x86-64 only, like the benchmarks. */
#ifndef PYBUF_BENCH_UTIL_H
#define PYBUF_BENCH_UTIL_H

#include <emmintrin.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n bytes aligned to `align` (a power of two, at least sizeof(void *)), every page touched
 * (memset to `fill`) so that no timing pays for page faults; with `huge`, aligned to 2 MiB
 * and advised to transparent huge pages first. Exits on failure. */
static inline void *bench_alloc(size_t n, size_t align, int fill, int huge) {
    void *p = NULL;
    if (huge && align < ((size_t)2 << 20)) align = (size_t)2 << 20;
    if (posix_memalign(&p, align, n ? n : 1) != 0) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
#ifdef MADV_HUGEPAGE
    if (huge) (void)madvise(p, (n + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1), MADV_HUGEPAGE);
#endif
    memset(p, fill, n);
    return p;
}

/* Streaming-store copies of n bytes, dst 16-byte (SSE2) or 32-byte (AVX2) aligned; src any
 * alignment; a tail under one vector is copied with memcpy. */
__attribute__((target("avx2"))) static inline void bench_stream_copy_avx2(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    size_t k = 0;
    for (; k + 64 <= n; k += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + k));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + k + 32));
        _mm256_stream_si256((__m256i *)(d + k), a);
        _mm256_stream_si256((__m256i *)(d + k + 32), b);
    }
    _mm_sfence();
    if (k < n) memcpy(d + k, s + k, n - k);
}

static inline void bench_stream_copy_sse2(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    size_t k = 0;
    for (; k + 16 <= n; k += 16) _mm_stream_si128((__m128i *)(d + k), _mm_loadu_si128((const __m128i *)(s + k)));
    _mm_sfence();
    if (k < n) memcpy(d + k, s + k, n - k);
}

/* The best streaming copy this CPU has (AVX2 chosen at run time), and its name. */
static inline void bench_stream_copy(void *dst, const void *src, size_t n) {
    if (__builtin_cpu_supports("avx2"))
        bench_stream_copy_avx2(dst, src, n);
    else
        bench_stream_copy_sse2(dst, src, n);
}

static inline const char *bench_stream_copy_name(void) { return __builtin_cpu_supports("avx2") ? "AVX2" : "SSE2"; }

#endif
