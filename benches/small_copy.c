/* Per-call overhead of small copies from C: a 4x4 float64 transpose made contiguous with
 * pybuf_to_contiguous, timed over many calls (best of several rounds). Built and run by
 * `make bench`. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "pybuf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void) {
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
    const long calls = 2000000;
    double best = 1e9;
    for (int round = 0; round < 7; round++) {
        double t0 = now();
        for (long i = 0; i < calls; i++) {
            if (pybuf_to_contiguous(out, &t, t.len, 'C') != 0) {
                fprintf(stderr, "failed: %s\n", pybuf_last_error());
                return 1;
            }
            __asm__ volatile("" ::: "memory");
        }
        double per = (now() - t0) / (double)calls * 1e9;
        if (per < best) best = per;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (out[i * 4 + j] != a[j * 4 + i]) {
                fprintf(stderr, "wrong result at (%d, %d)\n", i, j);
                return 1;
            }
    printf("4x4 float64 transpose, pybuf_to_contiguous from C: %.1f ns per call (target <= 60 ns)\n", best);
    return 0;
}
