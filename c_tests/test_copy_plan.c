/*
 * Copy plans from C: planned once, executed at shifted base addresses, whole (on 1 to 3
 * threads of pybuf's) and part by part on this test's own pthreads (the way an OpenMP or
 * TBB program runs them), in every case byte-identical to pybuf_copy; and the refusals.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* A worker pool of the test's own: WORKERS threads take parts from a shared counter. */
#define WORKERS 4

struct job {
    const pybuf_copy_plan *plan;
    void *dst;
    const void *src;
    pybuf_ssize_t parts, next;
    pthread_mutex_t lock;
    int failures;
};

static void *worker(void *arg) {
    struct job *job = arg;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        pybuf_ssize_t part = job->next++;
        pthread_mutex_unlock(&job->lock);
        if (part >= job->parts)
            return NULL;
        /* Back to front, so that parts finish out of order. */
        if (pybuf_copy_plan_execute_part(job->plan, job->parts - 1 - part, job->dst, job->src) != 0) {
            pthread_mutex_lock(&job->lock);
            job->failures++;
            pthread_mutex_unlock(&job->lock);
        }
    }
}

/* Run every part of `plan` on WORKERS pthreads. */
static int run_parts(const pybuf_copy_plan *plan, void *dst, const void *src) {
    struct job job = {plan, dst, src, pybuf_copy_plan_parts(plan), 0, PTHREAD_MUTEX_INITIALIZER, 0};
    pthread_t t[WORKERS];
    for (int k = 0; k < WORKERS; k++)
        if (pthread_create(&t[k], NULL, worker, &job) != 0)
            return -1;
    for (int k = 0; k < WORKERS; k++)
        pthread_join(t[k], NULL);
    pthread_mutex_destroy(&job.lock);
    return job.failures;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 0x2545F4914F6CDD1Du) >> 33) % n;
}

/* A case: the source is a view of `src_mem` with `sstrides` from offset `soff`; the
 * destination a view with `dstrides` from `doff`. Sizes in bytes of each memory. */
struct side {
    pybuf_ssize_t strides[4], off, size;
};

static void check_case(int ndim, const pybuf_ssize_t *shape, pybuf_ssize_t itemsize, const struct side *d,
                       const struct side *s, const char *what) {
    pybuf_ssize_t slack = 64, len = itemsize;
    for (int k = 0; k < ndim; k++)
        len *= shape[k];
    unsigned char *src = malloc((size_t)(s->size + 2 * slack));
    unsigned char *want = malloc((size_t)(d->size + 2 * slack));
    unsigned char *got = malloc((size_t)(d->size + 2 * slack));
    CHECK(src != NULL && want != NULL && got != NULL);
    if (src == NULL || want == NULL || got == NULL)
        goto out;
    for (pybuf_ssize_t k = 0; k < s->size + 2 * slack; k++)
        src[k] = (unsigned char)rnd(256);
    pybuf_buffer sv = {0}, dv = {0};
    sv.len = dv.len = len;
    sv.itemsize = dv.itemsize = itemsize;
    sv.ndim = dv.ndim = ndim;
    sv.shape = dv.shape = (pybuf_ssize_t *)shape;
    sv.strides = (pybuf_ssize_t *)s->strides;
    dv.strides = (pybuf_ssize_t *)d->strides;
    pybuf_copy_plan *plan = NULL;
    CHECK_STATUS(pybuf_copy_plan_new(&dv, &sv, 0, &plan), 0); /* buf NULL: any base */
    if (plan == NULL)
        goto out;
    for (int round = 0; round < 6; round++) {
        pybuf_ssize_t ds = rnd(64), ss = rnd(64);
        for (pybuf_ssize_t k = 0; k < d->size + 2 * slack; k++)
            want[k] = got[k] = (unsigned char)(k * 7);
        sv.buf = src + ss + s->off;
        dv.buf = want + ds + d->off;
        CHECK_STATUS(pybuf_copy(&dv, &sv), 0);
        void *base = got + ds + d->off;
        if (round % 3 == 0) {
            CHECK_STATUS(pybuf_copy_plan_set_threads(plan, 1 + round / 3 * 2), 0);
            CHECK_STATUS(pybuf_copy_plan_execute(plan, base, sv.buf), 0);
        } else if (round % 3 == 1) {
            CHECK_EQ(run_parts(plan, base, sv.buf), 0);
        } else {
            for (pybuf_ssize_t p = 0; p < pybuf_copy_plan_parts(plan); p++)
                CHECK_STATUS(pybuf_copy_plan_execute_part(plan, p, base, sv.buf), 0);
        }
        if (memcmp(got, want, (size_t)(d->size + 2 * slack)) != 0)
            CHECK_FAIL_("%s:%d: %s, round %d (%ld parts): the plan's bytes differ from pybuf_copy's\n", __FILE__,
                        __LINE__, what, round, (long)pybuf_copy_plan_parts(plan));
    }
    pybuf_copy_plan_free(plan);
out:
    free(src);
    free(want);
    free(got);
}

static void transposes_and_slices(void) {
    /* A 1500 x 1700 transpose of doubles (19 MiB: streamed, many parts). */
    {
        pybuf_ssize_t shape[2] = {1500, 1700};
        struct side d = {{1700 * 8, 8}, 0, 1500 * 1700 * 8}, s = {{8, 1500 * 8}, 0, 1500 * 1700 * 8};
        check_case(2, shape, 8, &d, &s, "transpose f8");
    }
    /* 3-byte items, every other column, the rows reversed. */
    {
        pybuf_ssize_t shape[2] = {300, 500};
        struct side d = {{500 * 3, 3}, 0, 300 * 500 * 3}, s = {{-1000 * 3, 6}, 299 * 1000 * 3, 300 * 1000 * 3};
        check_case(2, shape, 3, &d, &s, "3-byte items, a[::-1, ::2]");
    }
    /* A 3-D permutation (2, 0, 1) of 12-byte items into F order. */
    {
        pybuf_ssize_t shape[3] = {40, 50, 60};
        pybuf_ssize_t e = 12;
        struct side d = {{e, 40 * e, 40 * 50 * e}, 0, 40 * 50 * 60 * e};
        struct side s = {{60 * e, 40 * 60 * e, e}, 0, 40 * 50 * 60 * e};
        check_case(3, shape, e, &d, &s, "3-D permute, itemsize 12");
    }
    /* A contiguous copy of 1-byte items (4 MiB): one run, split in parts. */
    {
        pybuf_ssize_t shape[1] = {4 << 20};
        struct side d = {{1}, 0, 4 << 20}, s = {{1}, 0, 4 << 20};
        check_case(1, shape, 1, &d, &s, "contiguous u1");
    }
}

/* A plan for pybuf_to_contiguous: the destination is the view's shape with C strides. */
static void to_contiguous_through_a_plan(void) {
    double a[4][4], out[16], want[16];
    for (int i = 0; i < 16; i++)
        a[i / 4][i % 4] = i;
    pybuf_ssize_t shape[2] = {4, 4}, t[2] = {8, 32};
    pybuf_buffer v = {0};
    v.buf = a;
    v.len = sizeof a;
    v.itemsize = 8;
    v.ndim = 2;
    v.shape = shape;
    v.strides = t;
    pybuf_buffer c = v;
    c.buf = NULL;
    c.strides = NULL;
    pybuf_copy_plan *plan = NULL;
    CHECK_STATUS(pybuf_copy_plan_new(&c, &v, 0, &plan), 0);
    CHECK_EQ(pybuf_copy_plan_parts(plan), 1);
    CHECK_STATUS(pybuf_copy_plan_execute(plan, out, a), 0);
    CHECK_STATUS(pybuf_to_contiguous(want, &v, v.len, 'C'), 0);
    CHECK(memcmp(out, want, sizeof out) == 0);
    pybuf_copy_plan_free(plan);
}

static void refusals(void) {
    double mem[32];
    for (int i = 0; i < 32; i++)
        mem[i] = i;
    pybuf_ssize_t shape[2] = {4, 4}, c[2] = {32, 8}, t[2] = {8, 32}, sub[2] = {0, -1};
    pybuf_buffer v = {0};
    v.buf = mem;
    v.len = 128;
    v.itemsize = 8;
    v.ndim = 2;
    v.shape = shape;
    v.strides = c;
    pybuf_buffer w = v;
    w.strides = t;
    pybuf_copy_plan *plan = NULL;
    CHECK_STATUS(pybuf_copy_plan_new(NULL, &v, 0, &plan), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_copy_plan_new(&v, &w, 0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_copy_plan_new(&v, &w, 4, &plan), PYBUF_STATUS_INVALID_ARGUMENT);
    pybuf_buffer ro = v;
    ro.readonly = 1;
    CHECK_STATUS(pybuf_copy_plan_new(&ro, &w, 0, &plan), PYBUF_STATUS_READ_ONLY);
    pybuf_buffer s = w;
    s.suboffsets = sub;
    CHECK_STATUS(pybuf_copy_plan_new(&v, &s, 0, &plan), PYBUF_STATUS_UNREPRESENTABLE);
    pybuf_buffer other = w;
    pybuf_ssize_t shape2[2] = {2, 8};
    other.shape = shape2;
    CHECK_STATUS(pybuf_copy_plan_new(&v, &other, 0, &plan), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK(plan == NULL);
    /* A transposing copy onto overlapping memory is refused, nothing written. */
    CHECK_STATUS(pybuf_copy_plan_new(&v, &w, 0, &plan), 0);
    double before[32];
    memcpy(before, mem, sizeof mem);
    CHECK_STATUS(pybuf_copy_plan_execute(plan, mem, mem + 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_copy_plan_execute_part(plan, 0, mem, mem + 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_copy_plan_execute_part(plan, -1, mem, mem + 16), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(pybuf_copy_plan_execute(plan, NULL, mem), PYBUF_STATUS_NULL_POINTER);
    CHECK(memcmp(before, mem, sizeof mem) == 0);
    CHECK_STATUS(pybuf_copy_plan_set_threads(plan, PYBUF_COPY_PLAN_MAX_THREADS + 1), PYBUF_STATUS_INVALID_ARGUMENT);
    pybuf_copy_plan_free(plan);
    /* A shifted slice of one layout is copied in place. */
    pybuf_buffer row = v;
    pybuf_ssize_t shape1[1] = {16}, s1[1] = {8};
    row.ndim = 1;
    row.shape = shape1;
    row.strides = s1;
    CHECK_STATUS(pybuf_copy_plan_new(&row, &row, 0, &plan), 0);
    CHECK_STATUS(pybuf_copy_plan_execute(plan, mem, mem + 3), 0);
    for (int i = 0; i < 16; i++)
        CHECK_EQ((long)mem[i], i + 3);
    pybuf_copy_plan_free(plan);
    CHECK_EQ(pybuf_copy_plan_parts(NULL), -1);
    CHECK_STATUS(pybuf_copy_plan_set_threads(NULL, 2), PYBUF_STATUS_NULL_POINTER);
    pybuf_copy_plan_free(NULL);
}

int main(void) {
    RUN(transposes_and_slices);
    RUN(to_contiguous_through_a_plan);
    RUN(refusals);
    return check_report();
}
