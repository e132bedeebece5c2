/* A C view of HPTT (github.com/springer13/hptt), the tensor transposer benches/transpose.c
 * compares pybuf with: benches/hptt_peer.cpp, compiled only when `make bench-transpose` is
 * given HPTT_DIR (an HPTT built by hand, see docs/benchmarks.md). HPTT itself is not part
 * of this repository. */
#ifndef PYBUF_BENCH_HPTT_PEER_H
#define PYBUF_BENCH_HPTT_PEER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hptt_peer hptt_peer;

/* A reusable HPTT plan writing dst[...] = src.transpose(perm) (numpy's meaning, row-major:
 * axis k of the output is axis perm[k] of the source) into a C-contiguous dst, for
 * elements of `elem_size` bytes: 4 (float), 8 (double) or 16 (double complex); other sizes
 * give NULL (HPTT has no kernel for them). `size` holds the source's `ndim` extents,
 * `outer` NULL or the extents of the array the source is a block of (HPTT's sub-tensors:
 * outer[k] >= size[k]). alpha = 1, beta = 0, so the output is the source's values
 * multiplied by 1: bit-identical for finite, non-NaN floats. The plan is made with
 * hptt::MEASURE (autotuned, writes dst while tuning) unless `estimate`; its creation time
 * in seconds goes to `*plan_seconds` (if not NULL). NULL on failure. */
hptt_peer *hptt_peer_new(int elem_size, int ndim, const int *perm, const int *size, const int *outer,
                         void *dst, const void *src, int threads, int estimate, double *plan_seconds);

/* Execute the plan on the buffers it was made for. */
void hptt_peer_execute(hptt_peer *peer);

/* Execute the plan on other buffers of the same geometry. */
void hptt_peer_execute_at(hptt_peer *peer, void *dst, const void *src);

void hptt_peer_free(hptt_peer *peer);

#ifdef __cplusplus
}
#endif

#endif
