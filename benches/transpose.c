/* Transposes and strided copies side by side, in one process (issue 17), built and run by
 * `make bench-transpose` and `make bench`:
 *
 *   - memcpy            glibc memcpy of the output's bytes, 1 thread: the unit of every ratio;
 *   - streaming copy    an AVX2 (else SSE2) streaming-store copy of the same bytes: the ceiling
 *                       (glibc's memcpy streams only far above 128 MiB);
 *   - naive             the loop a user writes: nested for over the destination, element by
 *                       element (itemsizes without a C type copied as bytes);
 *   - pybuf plan 1t/2t  pybuf_copy_plan_new once, pybuf_copy_plan_execute timed, with
 *                       pybuf_copy_plan_set_threads 1 or 2;
 *   - pybuf no plan     pybuf_to_contiguous on the view;
 *   - HPTT 1t/2t        when built with HPTT_DIR (benches/hptt_peer.cpp): a plan made once with
 *                       hptt::MEASURE, reused (float, double and double complex only).
 *
 * Every case allocates its buffers 64-byte aligned and touches them, checks every pybuf and
 * HPTT output once against the naive loop's bytes (a mismatch aborts: a wrong kernel gets no
 * number), then times all methods in interleaved rounds, best of ROUNDS. It prints one
 * markdown table of speed ratios to memcpy, with issue 17's targets beside each row.
 *
 * Usage: transpose [--rounds N] [--only SUBSTRING] [--mib N] [--thp] [--hptt-estimate]
 *   --rounds N       best of N rounds (default 9)
 *   --only S         only the cases whose name contains S (e.g. "4096", "a[:, ::2]", "4x4")
 *   --mib N          output size of the large cases (default 128)
 *   --thp            2 MiB-aligned buffers advised to transparent huge pages
 *   --hptt-estimate  HPTT plans with hptt::ESTIMATE instead of MEASURE
 * The machine may be shared: numbers are best-of, ratios are what to compare. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "pybuf.h"

#ifdef HAVE_HPTT
#include "hptt_peer.h"
#endif

/* ---- the naive loop ------------------------------------------------------------------ */

/* Nested for over a C-contiguous destination of up to 4 axes (padded with leading 1s),
 * reading the source at byte strides st; K-byte elements (memcpy of a constant K compiles
 * to one load and one store for 1, 2, 4, 8 and 16 bytes, to a few byte moves otherwise). */
#define NAIVE(K)                                                                                   \
    __attribute__((noinline)) static void naive_##K(char *restrict d, const char *restrict s,      \
                                                    const pybuf_ssize_t *n, const pybuf_ssize_t *st) { \
        for (pybuf_ssize_t i0 = 0; i0 < n[0]; i0++)                                                \
            for (pybuf_ssize_t i1 = 0; i1 < n[1]; i1++)                                            \
                for (pybuf_ssize_t i2 = 0; i2 < n[2]; i2++)                                        \
                    for (pybuf_ssize_t i3 = 0; i3 < n[3]; i3++) {                                  \
                        memcpy(d, s + i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3], K);       \
                        d += K;                                                                    \
                    }                                                                              \
    }
NAIVE(1)
NAIVE(2)
NAIVE(3)
NAIVE(4)
NAIVE(5)
NAIVE(6)
NAIVE(7)
NAIVE(8)
NAIVE(9)
NAIVE(10)
NAIVE(11)
NAIVE(12)
NAIVE(13)
NAIVE(14)
NAIVE(15)
NAIVE(16)
NAIVE(24)

typedef void (*naive_fn)(char *restrict, const char *restrict, const pybuf_ssize_t *, const pybuf_ssize_t *);

static naive_fn naive_for(size_t itemsize) {
    static const naive_fn fns[17] = {NULL,     naive_1,  naive_2,  naive_3,  naive_4,  naive_5,
                                     naive_6,  naive_7,  naive_8,  naive_9,  naive_10, naive_11,
                                     naive_12, naive_13, naive_14, naive_15, naive_16};
    if (itemsize == 24) return naive_24;
    return itemsize <= 16 ? fns[itemsize] : NULL;
}

/* ---- cases --------------------------------------------------------------------------- */

enum target_kind {
    T_TRANSPOSE_F8_2D, /* 1t >= 1.15 and >= HPTT 1t; 2t >= 1.6 */
    T_TRANSPOSE,       /* 1t >= 1.15 and >= HPTT 1t */
    T_U1,              /* 1t >= 0.8 */
    T_STRIDED_F8,      /* 1t >= 1.0 and >= naive */
    T_STRIDED_3,       /* 1t >= 0.9 */
    T_IN_CACHE,        /* 1t >= 0.4 */
};

static const char *target_text[] = {
    "1t ≥ 1.15 and ≥ HPTT 1t; 2t ≥ 1.6", "1t ≥ 1.15 and ≥ HPTT 1t", "1t ≥ 0.8",
    "1t ≥ 1.0 and ≥ naive",              "1t ≥ 0.9",                "1t ≥ 0.4",
};

typedef struct {
    char name[80];
    size_t itemsize;
    int ndim;                   /* of the destination, C-contiguous */
    pybuf_ssize_t shape[4];     /* destination shape */
    pybuf_ssize_t strides[4];   /* source byte strides, per destination axis */
    size_t src_bytes;           /* the source array's bytes */
    size_t out_bytes;           /* the destination's bytes */
    int reps;                   /* executions per timing (small, in-cache cases) */
    enum target_kind target;
    /* HPTT's description (row-major): out = src.transpose(hperm), src of extents hsize,
     * a block of an array of extents houter (has_outer) */
    int hndim, hperm[4], hsize[4], houter[4], has_outer;
} bench_case;

/* The transpose out = a.transpose(perm) of a C-contiguous array a of extents `ext`. */
static bench_case permute_case(const char *name, size_t itemsize, int ndim, const pybuf_ssize_t *ext,
                               const int *perm, enum target_kind target) {
    bench_case c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.itemsize = itemsize;
    c.ndim = ndim;
    c.target = target;
    c.reps = 1;
    pybuf_ssize_t a_strides[4];
    pybuf_ssize_t s = (pybuf_ssize_t)itemsize;
    for (int k = ndim - 1; k >= 0; k--) {
        a_strides[k] = s;
        s *= ext[k];
    }
    c.src_bytes = c.out_bytes = (size_t)s;
    for (int k = 0; k < ndim; k++) {
        c.shape[k] = ext[perm[k]];
        c.strides[k] = a_strides[perm[k]];
    }
    c.hndim = ndim;
    for (int k = 0; k < ndim; k++) {
        c.hperm[k] = perm[k];
        c.hsize[k] = (int)ext[k];
    }
    return c;
}

static bench_case transpose_case(const char *name, size_t itemsize, pybuf_ssize_t rows, pybuf_ssize_t cols,
                                 enum target_kind target) {
    pybuf_ssize_t ext[2] = {rows, cols};
    int perm[2] = {1, 0};
    return permute_case(name, itemsize, 2, ext, perm, target);
}

/* out = a[:, ::2] of a C-contiguous array a of rows x 2*cols. HPTT sees it as the block
 * [:, :, 0:1] of a rows x cols x 2 array, permuted by the identity. */
static bench_case every_other_case(const char *name, size_t itemsize, pybuf_ssize_t rows, pybuf_ssize_t cols,
                                   enum target_kind target) {
    bench_case c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.itemsize = itemsize;
    c.ndim = 2;
    c.target = target;
    c.reps = 1;
    c.shape[0] = rows;
    c.shape[1] = cols;
    c.strides[0] = 2 * cols * (pybuf_ssize_t)itemsize;
    c.strides[1] = 2 * (pybuf_ssize_t)itemsize;
    c.out_bytes = (size_t)(rows * cols) * itemsize;
    c.src_bytes = 2 * c.out_bytes;
    c.hndim = 3;
    c.has_outer = 1;
    int size[3] = {(int)rows, (int)cols, 1}, outer[3] = {(int)rows, (int)cols, 2};
    for (int k = 0; k < 3; k++) {
        c.hperm[k] = k;
        c.hsize[k] = size[k];
        c.houter[k] = outer[k];
    }
    return c;
}

/* The largest n with n^k <= x. */
static pybuf_ssize_t iroot(double x, int k) {
    pybuf_ssize_t n = (pybuf_ssize_t)pow(x, 1.0 / k);
    while (pow((double)(n + 1), k) <= x) n++;
    while (n > 1 && pow((double)n, k) > x) n--;
    return n;
}

/* ---- methods ------------------------------------------------------------------------- */

enum { M_MEMCPY, M_STREAM, M_NAIVE, M_PLAN1, M_PLAN2, M_NOPLAN, M_HPTT1, M_HPTT2, M_COUNT };
static const char *method_name[M_COUNT] = {"memcpy", "streaming copy", "naive", "pybuf plan 1t",
                                           "pybuf plan 2t", "pybuf no plan", "HPTT 1t", "HPTT 2t"};

typedef struct {
    const bench_case *c;
    char *src, *dst;
    pybuf_buffer srcv;
    pybuf_copy_plan *plan[2];
    void *hptt[2];
    pybuf_ssize_t n4[4], st4[4]; /* the naive loop's padded shape and strides */
    naive_fn naive;
} runner;

static void die_pybuf(const char *what, const char *name) {
    fprintf(stderr, "%s failed on %s: %s\n", what, name, pybuf_last_error());
    exit(1);
}

static void run(runner *r, int m) {
    const bench_case *c = r->c;
    switch (m) {
    case M_MEMCPY: memcpy(r->dst, r->src, c->out_bytes); break;
    case M_STREAM: bench_stream_copy(r->dst, r->src, c->out_bytes); break;
    case M_NAIVE: r->naive(r->dst, r->src, r->n4, r->st4); break;
    case M_PLAN1:
    case M_PLAN2:
        if (pybuf_copy_plan_execute(r->plan[m - M_PLAN1], r->dst, r->src) != 0)
            die_pybuf("pybuf_copy_plan_execute", c->name);
        break;
    case M_NOPLAN:
        r->srcv.buf = r->src;
        if (pybuf_to_contiguous(r->dst, &r->srcv, (pybuf_ssize_t)c->out_bytes, 'C') != 0)
            die_pybuf("pybuf_to_contiguous", c->name);
        break;
#ifdef HAVE_HPTT
    case M_HPTT1:
    case M_HPTT2: hptt_peer_execute(r->hptt[m - M_HPTT1]); break;
#endif
    default: break;
    }
    __asm__ volatile("" ::: "memory");
}

/* ---- one case ------------------------------------------------------------------------ */

typedef struct {
    double best[M_COUNT]; /* seconds per timing (reps executions); 0: not run */
    double plan_us;       /* pybuf_copy_plan_new */
    double hptt_plan_s[2];
    int hptt_tried;
} result;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Distinct-looking bytes; for float, double and double complex items, finite non-zero
 * values in ±[1, 2) (HPTT multiplies by alpha = 1, which keeps exactly those). */
static void fill(char *p, size_t n, size_t itemsize) {
    uint64_t state = 17;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w = splitmix64(&state);
        if (itemsize == 8 || itemsize == 16)
            w = (w & 0x800FFFFFFFFFFFFFu) | 0x3FF0000000000000u;
        else if (itemsize == 4)
            w = (w & 0x807FFFFF807FFFFFu) | 0x3F8000003F800000u;
        memcpy(p + k, &w, 8);
    }
    for (; k < n; k++) p[k] = (char)splitmix64(&state);
}

static void verify(runner *r, int m, const char *ref) {
    const bench_case *c = r->c;
    memset(r->dst, 0x5a, c->out_bytes);
    run(r, m);
    if (memcmp(r->dst, ref, c->out_bytes) != 0) {
        size_t k = 0;
        while (r->dst[k] == ref[k]) k++;
        fprintf(stderr, "%s: %s gives wrong bytes (first at byte %zu, element %zu); no timing\n", c->name,
                method_name[m], k, k / c->itemsize);
        exit(1);
    }
}

static void bench_one(const bench_case *c, int rounds, int huge, int hptt_estimate, result *res) {
    memset(res, 0, sizeof *res);
    runner r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.src = bench_alloc(c->src_bytes, 64, 0, huge);
    r.dst = bench_alloc(c->out_bytes, 64, 0, huge);
    char *ref = bench_alloc(c->out_bytes, 64, 0, huge);
    fill(r.src, c->src_bytes, c->itemsize);
    int pad = 4 - c->ndim;
    for (int k = 0; k < 4; k++) {
        r.n4[k] = k < pad ? 1 : c->shape[k - pad];
        r.st4[k] = k < pad ? 0 : c->strides[k - pad];
    }
    r.naive = naive_for(c->itemsize);
    r.naive(ref, r.src, r.n4, r.st4);

    pybuf_ssize_t shape[4], strides[4];
    memcpy(shape, c->shape, sizeof shape);
    memcpy(strides, c->strides, sizeof strides);
    r.srcv.len = (pybuf_ssize_t)c->out_bytes;
    r.srcv.itemsize = (pybuf_ssize_t)c->itemsize;
    r.srcv.readonly = 1;
    r.srcv.ndim = c->ndim;
    r.srcv.shape = shape;
    r.srcv.strides = strides;
    pybuf_buffer dstv = r.srcv;
    dstv.readonly = 0;
    dstv.strides = NULL;
    for (int t = 0; t < 2; t++) {
        double t0 = bench_now();
        if (pybuf_copy_plan_new(&dstv, &r.srcv, 0, &r.plan[t]) != 0) die_pybuf("pybuf_copy_plan_new", c->name);
        if (t == 0) res->plan_us = (bench_now() - t0) * 1e6;
        if (t == 1 && pybuf_copy_plan_set_threads(r.plan[t], 2) != 0)
            die_pybuf("pybuf_copy_plan_set_threads", c->name);
    }
    int on[M_COUNT] = {1, 1, 1, 1, 1, 1, 0, 0};
#ifdef HAVE_HPTT
    if (c->itemsize == 4 || c->itemsize == 8 || c->itemsize == 16) {
        res->hptt_tried = 1;
        for (int t = 0; t < 2; t++) {
            r.hptt[t] = hptt_peer_new((int)c->itemsize, c->hndim, c->hperm, c->hsize, c->has_outer ? c->houter : NULL,
                                      r.dst, r.src, t + 1, hptt_estimate, &res->hptt_plan_s[t]);
            if (r.hptt[t] == NULL)
                fprintf(stderr, "%s: HPTT made no plan for %d thread(s)\n", c->name, t + 1);
            else
                on[M_HPTT1 + t] = 1;
        }
    }
#else
    (void)hptt_estimate;
#endif
    for (int m = M_PLAN1; m < M_COUNT; m++)
        if (on[m]) verify(&r, m, ref);

    for (int m = 0; m < M_COUNT; m++) res->best[m] = on[m] ? 1e30 : 0;
    for (int round = 0; round < rounds; round++)
        for (int m = 0; m < M_COUNT; m++) {
            if (!on[m]) continue;
            double t0 = bench_now();
            for (int k = 0; k < c->reps; k++) run(&r, m);
            double t = bench_now() - t0;
            if (t < res->best[m]) res->best[m] = t;
        }

#ifdef HAVE_HPTT
    for (int t = 0; t < 2; t++)
        if (r.hptt[t] != NULL) hptt_peer_free(r.hptt[t]);
#endif
    pybuf_copy_plan_free(r.plan[0]);
    pybuf_copy_plan_free(r.plan[1]);
    free(r.src);
    free(r.dst);
    free(ref);
}

/* ---- 4x4 per call -------------------------------------------------------------------- */

typedef struct {
    double ns[M_COUNT]; /* per call; 0: not run */
} small_result;

static void bench_4x4(int rounds, small_result *res) {
    memset(res, 0, sizeof *res);
    double a[16], out[16], ref[16];
    for (int k = 0; k < 16; k++) a[k] = 1.0 + k / 16.0;
    pybuf_ssize_t shape[2] = {4, 4}, strides[2] = {8, 32}; /* the transpose of a 4x4 C array */
    pybuf_buffer t = {0};
    t.buf = a;
    t.len = sizeof a;
    t.itemsize = 8;
    t.readonly = 1;
    t.ndim = 2;
    t.shape = shape;
    t.strides = strides;
    pybuf_buffer c = t;
    c.readonly = 0;
    c.strides = NULL;
    pybuf_copy_plan *plan;
    if (pybuf_copy_plan_new(&c, &t, 0, &plan) != 0) die_pybuf("pybuf_copy_plan_new", "4x4");
    pybuf_ssize_t n4[4] = {1, 1, 4, 4}, st4[4] = {0, 0, 8, 32};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) ref[i * 4 + j] = a[j * 4 + i];
    int on[M_COUNT] = {0};
    on[M_NAIVE] = on[M_PLAN1] = on[M_NOPLAN] = 1;
#ifdef HAVE_HPTT
    int perm[2] = {1, 0}, size[2] = {4, 4};
    hptt_peer *h = hptt_peer_new(8, 2, perm, size, NULL, out, a, 1, 0, NULL);
    if (h != NULL) on[M_HPTT1] = 1;
#endif
    const long calls = 1000000;
    for (int m = 0; m < M_COUNT; m++) res->ns[m] = on[m] ? 1e30 : 0;
    for (int round = 0; round <= rounds; round++) /* round 0: the check */
        for (int m = 0; m < M_COUNT; m++) {
            if (!on[m]) continue;
            long n = round == 0 ? 1 : calls;
            if (round == 0) memset(out, 0, sizeof out);
            double t0 = bench_now();
            for (long i = 0; i < n; i++) {
                int rc = 0;
                switch (m) {
                case M_NAIVE: naive_8((char *)out, (const char *)a, n4, st4); break;
                case M_PLAN1: rc = pybuf_copy_plan_execute(plan, out, a); break;
                case M_NOPLAN: rc = pybuf_to_contiguous(out, &t, t.len, 'C'); break;
#ifdef HAVE_HPTT
                case M_HPTT1: hptt_peer_execute(h); break;
#endif
                default: break;
                }
                if (rc != 0) die_pybuf(method_name[m], "4x4");
                __asm__ volatile("" ::: "memory");
            }
            double per = (bench_now() - t0) / (double)n * 1e9;
            if (round == 0) {
                if (memcmp(out, ref, sizeof out) != 0) {
                    fprintf(stderr, "4x4 f8: %s gives wrong bytes; no timing\n", method_name[m]);
                    exit(1);
                }
            } else if (per < res->ns[m]) {
                res->ns[m] = per;
            }
        }
#ifdef HAVE_HPTT
    if (h != NULL) hptt_peer_free(h);
#endif
    pybuf_copy_plan_free(plan);
}

/* ---- the table ----------------------------------------------------------------------- */

static void cell_ratio(const result *res, int m) {
    if (res->best[m] <= 0)
        printf(" — |");
    else
        printf(" %.2f |", res->best[M_MEMCPY] / res->best[m]);
}

static double ratio(const result *res, int m) { return res->best[m] > 0 ? res->best[M_MEMCPY] / res->best[m] : -1; }

static void print_row(const bench_case *c, const result *res) {
    double gbs = (double)c->out_bytes * c->reps / res->best[M_MEMCPY] / 1e9;
    printf("| %s | %.1f |", c->name, gbs);
    static const int order[] = {M_PLAN1, M_PLAN2, M_NOPLAN, M_HPTT1, M_HPTT2, M_NAIVE, M_STREAM};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) cell_ratio(res, order[k]);
    double p1 = ratio(res, M_PLAN1), p2 = ratio(res, M_PLAN2), h1 = ratio(res, M_HPTT1), nv = ratio(res, M_NAIVE);
    char miss[96] = "";
    switch (c->target) {
    case T_TRANSPOSE_F8_2D:
        if (p2 < 1.6) strcat(miss, " 2t");
        /* fall through */
    case T_TRANSPOSE:
        if (p1 < 1.15) strcat(miss, " 1t");
        if (h1 > 0 && p1 < h1) strcat(miss, " <HPTT");
        break;
    case T_U1:
        if (p1 < 0.8) strcat(miss, " 1t");
        break;
    case T_STRIDED_F8:
        if (p1 < 1.0) strcat(miss, " 1t");
        if (p1 < nv) strcat(miss, " <naive");
        break;
    case T_STRIDED_3:
        if (p1 < 0.9) strcat(miss, " 1t");
        break;
    case T_IN_CACHE:
        if (p1 < 0.4) strcat(miss, " 1t");
        break;
    }
    printf(" %s | %s%s |\n", target_text[c->target], miss[0] ? "no:" : "yes", miss);
    fflush(stdout);
}

static void print_4x4(const small_result *s) {
    printf("| 4x4 f8, ns per call | — |");
    static const int order[] = {M_PLAN1, M_PLAN2, M_NOPLAN, M_HPTT1, M_HPTT2, M_NAIVE, M_STREAM};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        if (s->ns[order[k]] > 0)
            printf(" %.1f ns |", s->ns[order[k]]);
        else
            printf(" — |");
    }
    char miss[64] = "";
    if (s->ns[M_PLAN1] > 12) strcat(miss, " plan");
    if (s->ns[M_NOPLAN] > 30) strcat(miss, " no plan");
    printf(" plan ≤ 12 ns; no plan ≤ 30 ns | %s%s |\n", miss[0] ? "no:" : "yes", miss);
    fflush(stdout);
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--rounds N] [--only SUBSTRING] [--mib N] [--thp] [--hptt-estimate]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    int rounds = 9, mib = 128, huge = 0, estimate = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = atoi(argv[++i]);
        else if (strcmp(argv[i], "--thp") == 0)
            huge = 1;
        else if (strcmp(argv[i], "--hptt-estimate") == 0)
            estimate = 1;
        else
            usage(argv[0]);
    }
    if (rounds < 1 || mib < 1) usage(argv[0]);
    if (only != NULL && only[0] == '\0') only = NULL;

    /* The cases of issue 17's table, then a transpose for every other itemsize. */
    bench_case cases[40];
    int n = 0;
    double bytes = (double)mib * 1048576.0;
    char name[80];
    pybuf_ssize_t s8 = iroot(bytes / 8, 2);
    snprintf(name, sizeof name, "transpose f8 %ldx%ld", (long)s8, (long)s8);
    cases[n++] = transpose_case(name, 8, s8, s8, T_TRANSPOSE_F8_2D);
    double scale = sqrt(mib / 128.0);
    pybuf_ssize_t r8 = (pybuf_ssize_t)(4000 * scale + 0.5), c8 = (pybuf_ssize_t)(4100 * scale + 0.5);
    snprintf(name, sizeof name, "transpose f8 %ldx%ld", (long)r8, (long)c8);
    cases[n++] = transpose_case(name, 8, r8, c8, T_TRANSPOSE_F8_2D);
    pybuf_ssize_t s4 = iroot(bytes / 4, 2);
    snprintf(name, sizeof name, "transpose f4 %ldx%ld", (long)s4, (long)s4);
    cases[n++] = transpose_case(name, 4, s4, s4, T_TRANSPOSE);
    pybuf_ssize_t s1 = iroot(bytes, 2);
    snprintf(name, sizeof name, "transpose u1 %ldx%ld", (long)s1, (long)s1);
    cases[n++] = transpose_case(name, 1, s1, s1, T_U1);
    {
        pybuf_ssize_t e = iroot(bytes / 8, 3);
        pybuf_ssize_t ext[3] = {e, e, e};
        int perm[3] = {2, 0, 1};
        snprintf(name, sizeof name, "3-D permute (2,0,1) f8 %ld^3", (long)e);
        cases[n++] = permute_case(name, 8, 3, ext, perm, T_TRANSPOSE);
    }
    {
        pybuf_ssize_t e = iroot(bytes / 8, 4);
        pybuf_ssize_t ext[4] = {e, e, e, e};
        int perm[4] = {3, 2, 1, 0};
        snprintf(name, sizeof name, "4-D reversed axes f8 %ld^4", (long)e);
        cases[n++] = permute_case(name, 8, 4, ext, perm, T_TRANSPOSE);
    }
    snprintf(name, sizeof name, "f8 a[:, ::2] %ldx%ld of %ldx%ld", (long)s8, (long)s8, (long)s8, (long)(2 * s8));
    cases[n++] = every_other_case(name, 8, s8, s8, T_STRIDED_F8);
    pybuf_ssize_t s3 = iroot(bytes / 3, 2);
    snprintf(name, sizeof name, "3-byte a[:, ::2] %ldx%ld of %ldx%ld", (long)s3, (long)s3, (long)s3,
             (long)(2 * s3));
    cases[n++] = every_other_case(name, 3, s3, s3, T_STRIDED_3);
    cases[n] = transpose_case("transpose f8 512x512 (in cache)", 8, 512, 512, T_IN_CACHE);
    cases[n].reps = (int)(bytes / (double)cases[n].out_bytes) > 1 ? (int)(bytes / (double)cases[n].out_bytes) : 1;
    n++;
    int first_sweep = n;
    static const int sweep[] = {2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 24};
    for (size_t k = 0; k < sizeof sweep / sizeof sweep[0]; k++) {
        pybuf_ssize_t e = iroot(bytes / sweep[k], 2);
        snprintf(name, sizeof name, "transpose itemsize %d %ldx%ld", sweep[k], (long)e, (long)e);
        cases[n++] = transpose_case(name, (size_t)sweep[k], e, e, T_TRANSPOSE);
    }

    FILE *cpu = fopen("/proc/cpuinfo", "r");
    char model[128] = "unknown CPU", line[256];
    while (cpu != NULL && fgets(line, sizeof line, cpu) != NULL)
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p != NULL) snprintf(model, sizeof model, "%s", p + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (cpu != NULL) fclose(cpu);
    printf("benches/transpose.c: best of %d interleaved rounds, %d MiB outputs, speed relative to a 1-thread "
           "glibc memcpy of the same bytes; %s, streaming copy %s; buffers %s; HPTT %s\n\n",
           rounds, mib, model, bench_stream_copy_name(), huge ? "on transparent huge pages" : "64-byte aligned",
#ifdef HAVE_HPTT
           estimate ? "plans ESTIMATE, reused" : "plans MEASURE, reused"
#else
           "not built (make bench-transpose HPTT_DIR=...)"
#endif
    );
    printf("| case | memcpy GB/s | pybuf plan 1t | plan 2t | pybuf no plan | HPTT 1t | HPTT 2t | naive | streaming copy "
           "| target | met |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    fflush(stdout);

    static result res[40];
    int ran[40] = {0};
    for (int k = 0; k < n; k++) {
        if (only != NULL && strstr(cases[k].name, only) == NULL) continue;
        bench_one(&cases[k], rounds, huge, estimate, &res[k]);
        ran[k] = 1;
        print_row(&cases[k], &res[k]);
    }
    if (only == NULL || strstr("4x4 f8, ns per call", only) != NULL) {
        small_result s;
        bench_4x4(rounds, &s);
        print_4x4(&s);
    }

    printf("\nRatios: memcpy time / method time on the same output bytes (higher is faster). \"met\" judges "
           "pybuf's plan (1 thread; 2 threads where a target says 2t) against issue 17's targets; the itemsize "
           "sweep (itemsizes 1, 4 and 8 are the u1, f4 and f8 rows) carries the transpose target. HPTT runs only "
           "float, double and double complex (itemsize 16); `—`: not run. The in-cache row times %d copies per "
           "round.\n",
           cases[first_sweep - 1].reps);
    int any_plan = 0;
    for (int k = 0; k < n; k++) any_plan |= ran[k];
    if (any_plan) {
        printf("\nPlan creation, once per case: pybuf_copy_plan_new (µs)");
#ifdef HAVE_HPTT
        printf("; HPTT %s 1t / 2t (s)", estimate ? "ESTIMATE" : "MEASURE");
#endif
        printf(":\n");
        for (int k = 0; k < n; k++) {
            if (!ran[k]) continue;
            printf("  %-40s %8.1f µs", cases[k].name, res[k].plan_us);
            if (res[k].hptt_tried) printf("   HPTT %.2f s / %.2f s", res[k].hptt_plan_s[0], res[k].hptt_plan_s[1]);
            printf("\n");
        }
    }
    return 0;
}
