/*
 * Exporting and releasing from many threads at once: 8 threads, 10^6 export/release
 * operations in total on shared exporters (each thread works on its own clone), views
 * released by another thread than the one that filled them, the last reference dropped on a
 * worker thread, and each thread's own last error. The export counts and the number of
 * owner callbacks must come out exact.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define THREADS 8
#define EXPORTERS 3
#ifndef OPERATIONS /* fewer under valgrind and TSan (scripts/check.sh) */
#define OPERATIONS 1000000L /* export + release pairs, all threads together */
#endif
#define HELD 4              /* views a thread holds at once */
#define HANDOFF 64          /* views per thread in the cross-thread phase */

static double mem[EXPORTERS][24];
static pybuf_ssize_t shape[2] = {4, 6};
static pybuf_ssize_t f_strides[2] = {8, 32}; /* a 4x6 F-contiguous array */

/* The owner callback: counted under a mutex (C99 has no atomics). */
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static int owner_calls[EXPORTERS];

static void count_owner(void *user) {
    int k = (int)((double(*)[24])user - mem);
    pthread_mutex_lock(&owner_lock);
    owner_calls[k]++;
    pthread_mutex_unlock(&owner_lock);
}

static int owner_count(int k) {
    int n;
    pthread_mutex_lock(&owner_lock);
    n = owner_calls[k];
    pthread_mutex_unlock(&owner_lock);
    return n;
}

static pybuf_exporter *exporters[EXPORTERS];

/* What each thread found wrong; checked by the main thread (check.h is not thread-safe). */
struct worker {
    int id;
    pybuf_exporter *e; /* this thread's own clone */
    int k;             /* which exporter */
    long operations;
    long refusals;
    long errors;       /* anything unexpected */
    const char *first_error;
    pybuf_buffer handoff[HANDOFF];
};

static struct worker workers[THREADS];
static pthread_barrier_t barrier;

static void fail(struct worker *w, const char *what) {
    if (w->errors++ == 0)
        w->first_error = what;
}

/* The requests a thread cycles through; exporter 1 is read-only, exporter 2 F-contiguous. */
static const int requests[] = {PYBUF_FULL_RO, PYBUF_RECORDS, PYBUF_SIMPLE, PYBUF_ND,
                               PYBUF_C_CONTIGUOUS, PYBUF_F_CONTIGUOUS, PYBUF_ANY_CONTIGUOUS,
                               PYBUF_STRIDES | PYBUF_FORMAT};
#define NREQUESTS ((int)(sizeof requests / sizeof requests[0]))

static int expected_status(int k, int flags) {
    int c = k != 2, f = k == 2;
    if ((flags & PYBUF_WRITABLE) && k == 1)
        return PYBUF_STATUS_READ_ONLY;
    if ((flags & PYBUF_C_CONTIGUOUS) == PYBUF_C_CONTIGUOUS && !c)
        return PYBUF_STATUS_BUFFER_REQUEST;
    if ((flags & PYBUF_F_CONTIGUOUS) == PYBUF_F_CONTIGUOUS && !f)
        return PYBUF_STATUS_BUFFER_REQUEST;
    if ((flags & PYBUF_STRIDES) != PYBUF_STRIDES && !c)
        return PYBUF_STATUS_BUFFER_REQUEST;
    return PYBUF_STATUS_OK;
}

static void *work(void *arg) {
    struct worker *w = (struct worker *)arg;
    pybuf_buffer held[HELD];
    long per_thread = OPERATIONS / THREADS, i;
    int j;

    /* Phase 1: export and release as fast as possible, several views held at once. */
    for (i = 0; i < per_thread; i += HELD) {
        int filled = 0;
        for (j = 0; j < HELD; j++) {
            int flags = requests[(i + j + w->id) % NREQUESTS];
            int want = expected_status(w->k, flags);
            int rc = pybuf_exporter_get_buffer(w->e, &held[filled], flags);
            w->operations++;
            if (rc != want) {
                fail(w, "pybuf_exporter_get_buffer: unexpected status");
                continue;
            }
            if (pybuf_last_status() != want)
                fail(w, "pybuf_last_status() is not this thread's last status");
            if (rc != 0) {
                w->refusals++;
                if (pybuf_last_error()[0] == '\0')
                    fail(w, "a refusal without a message");
                continue;
            }
            if (held[filled].buf != mem[w->k] || held[filled].len != 24 * 8)
                fail(w, "a view of the wrong memory");
            if (pybuf_exporter_exports(w->e) < 1)
                fail(w, "a live view is not counted");
            filled++;
        }
        while (filled > 0) {
            pybuf_release(&held[--filled]);
            if (pybuf_last_status() != PYBUF_STATUS_OK)
                fail(w, "pybuf_release failed");
            pybuf_release(&held[filled]); /* twice: a no-op */
        }
        /* replace must be refused whenever another thread holds a view; when it is
           allowed, put the same description back (harmless to the others) */
        if (i % 4096 == 0) {
            pybuf_exporter_desc d;
            int rc;
            memset(&d, 0, sizeof d);
            d.buf = mem[w->k];
            d.len = sizeof mem[w->k];
            d.format = "d";
            d.ndim = 2;
            d.shape = shape;
            d.strides = w->k == 2 ? f_strides : NULL;
            d.readonly = w->k == 1;
            rc = pybuf_exporter_replace(w->e, &d);
            if (rc != 0 && rc != PYBUF_STATUS_EXPORTS_EXIST)
                fail(w, "pybuf_exporter_replace: unexpected status");
        }
    }

    /* Phase 2: fill views here, release them on another thread. */
    for (j = 0; j < HANDOFF; j++) {
        if (pybuf_exporter_get_buffer(w->e, &w->handoff[j], PYBUF_FULL_RO) != 0)
            fail(w, "handoff export failed");
    }
    pthread_barrier_wait(&barrier);
    {
        struct worker *other = &workers[(w->id + 1) % THREADS];
        for (j = 0; j < HANDOFF; j++) {
            pybuf_release(&other->handoff[j]);
            if (pybuf_last_status() != PYBUF_STATUS_OK)
                fail(w, "releasing another thread's view failed");
        }
    }
    pthread_barrier_wait(&barrier);

    /* Phase 3: give back this thread's reference while views of it may be alive
       elsewhere; one of the threads drops the last reference, and runs the callback. */
    {
        pybuf_buffer last;
        if (pybuf_exporter_get_buffer(w->e, &last, PYBUF_FULL_RO) != 0)
            fail(w, "final export failed");
        pybuf_exporter_free(w->e);
        pthread_barrier_wait(&barrier);
        /* every reference is gone, but this thread's view keeps the exporter alive */
        if (owner_count(w->k) != 0)
            fail(w, "the owner callback ran while a view was alive");
        pybuf_release(&last);
    }
    return NULL;
}

static void many_threads(void) {
    pthread_t threads[THREADS];
    int i, k;
    long operations = 0, refusals = 0;

    for (k = 0; k < EXPORTERS; k++) {
        pybuf_exporter_desc d;
        memset(&d, 0, sizeof d);
        d.buf = mem[k];
        d.len = sizeof mem[k];
        d.format = "d";
        d.ndim = 2;
        d.shape = shape;
        d.strides = k == 2 ? f_strides : NULL;
        d.readonly = k == 1;
        CHECK_STATUS(pybuf_exporter_new(&d, count_owner, mem[k], &exporters[k]), PYBUF_STATUS_OK);
    }
    CHECK_EQ(pthread_barrier_init(&barrier, NULL, THREADS), 0);
    for (i = 0; i < THREADS; i++) {
        workers[i].id = i;
        workers[i].k = i % EXPORTERS;
        workers[i].e = pybuf_exporter_clone(exporters[workers[i].k]);
        CHECK_PTR_EQ(workers[i].e, exporters[workers[i].k]);
    }
    /* the main thread lets go of its references before the threads start: the clones and
       the views keep the exporters alive */
    for (k = 0; k < EXPORTERS; k++)
        pybuf_exporter_free(exporters[k]);
    for (k = 0; k < EXPORTERS; k++)
        CHECK_EQ(owner_count(k), 0);
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    for (i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    pthread_barrier_destroy(&barrier);

    for (i = 0; i < THREADS; i++) {
        if (workers[i].errors)
            fprintf(stderr, "thread %d: %ld errors, first: %s\n", i, workers[i].errors,
                    workers[i].first_error);
        CHECK_EQ(workers[i].errors, 0);
        operations += workers[i].operations;
        refusals += workers[i].refusals;
    }
    CHECK_EQ(operations, OPERATIONS);
    CHECK(refusals > 0 && refusals < operations);
    /* every exporter is gone, and its owner callback ran exactly once */
    for (k = 0; k < EXPORTERS; k++)
        CHECK_EQ(owner_count(k), 1);
    printf("%ld export/release operations on %d threads (%ld refused)\n", operations, THREADS,
           refusals);
}

/* The export count stays exact while threads export and release, then is 0. */
struct counter_arg {
    pybuf_exporter *e;
    int rounds;
    int bad;
};

static void *hold_and_release(void *arg) {
    struct counter_arg *a = (struct counter_arg *)arg;
    pybuf_buffer v[8];
    int r, j;
    for (r = 0; r < a->rounds; r++) {
        for (j = 0; j < 8; j++)
            a->bad += pybuf_exporter_get_buffer(a->e, &v[j], PYBUF_FULL) != 0;
        for (j = 0; j < 8; j++)
            pybuf_release(&v[j]);
    }
    return NULL;
}

static void export_count_is_exact(void) {
    pybuf_exporter_desc d;
    pybuf_exporter *e;
    pthread_t threads[THREADS];
    struct counter_arg args[THREADS];
    pybuf_buffer mine;
    int i;
    memset(&d, 0, sizeof d);
    d.buf = mem[0];
    d.len = sizeof mem[0];
    d.format = "d";
    d.ndim = 2;
    d.shape = shape;
    CHECK_STATUS(pybuf_exporter_new(&d, NULL, NULL, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &mine, PYBUF_FULL), PYBUF_STATUS_OK);
    for (i = 0; i < THREADS; i++) {
        args[i].e = pybuf_exporter_clone(e);
        args[i].rounds = 2000;
        args[i].bad = 0;
        CHECK_EQ(pthread_create(&threads[i], NULL, hold_and_release, &args[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pybuf_ssize_t n = pybuf_exporter_exports(e);
        CHECK(n >= 1 && n <= 1 + 8 * THREADS);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
        CHECK_EQ(args[i].bad, 0);
        pybuf_exporter_free(args[i].e);
    }
    CHECK_EQ(pybuf_exporter_exports(e), 1);
    CHECK_STATUS(pybuf_exporter_replace(e, &d), PYBUF_STATUS_EXPORTS_EXIST);
    pybuf_release(&mine);
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    CHECK_STATUS(pybuf_exporter_replace(e, &d), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
}

int main(void) {
    RUN(many_threads);
    RUN(export_count_is_exact);
    return check_report();
}
