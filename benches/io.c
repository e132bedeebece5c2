/* The C side of `make bench-io` (benches/io_side_by_side.py runs it and numpy in one run
 * and prints the ratios): views of a 4096 x 8192 float64 array (256 MiB by default) written
 * to and read from a file in DIR (tmpfs or the page cache) by pybuf, against raw write(2) /
 * read(2) of the same number of contiguous bytes; the peak extra memory of each pybuf call
 * (VmHWM after resetting it through /proc/self/clear_refs, less the RSS before); and
 * pybuf_npy_load of .npy files of 1 MiB and 1 GiB; pybuf_npz_load of a stored member of
 * 1 MiB and 1 GiB (mapped in place).
 *
 * Usage: io DIR ROWS COLS ROUNDS. Prints one line per measurement:
 *   NAME SECONDS BYTES PEAK_EXTRA_BYTES
 * (SECONDS the best of ROUNDS; PEAK_EXTRA -1 when not measured). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pybuf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in bytes ("VmHWM:", "VmRSS:"). */
static long long status_bytes(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atoll(line + strlen(field));
    fclose(f);
    return kb * 1024;
}

/* Reset the peak RSS to the current RSS (Linux >= 4.0). */
static int reset_peak(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    int ok = fd >= 0 && write(fd, "5", 1) == 1;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void die(const char *what) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, pybuf_last_error(), pybuf_status_name(pybuf_last_status()));
    exit(1);
}

static int rounds;

static void rewind_empty(int fd) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        perror("ftruncate");
        exit(1);
    }
}

static void raw_write(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k <= 0) {
            perror("write");
            exit(1);
        }
        p += k;
        n -= (size_t)k;
    }
}

static void raw_read(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k <= 0) {
            perror("read");
            exit(1);
        }
        p += k;
        n -= (size_t)k;
    }
}

/* The best time and the largest peak extra memory of a pybuf call over the rounds. */
struct best {
    double seconds;
    long long peak;
};

/* One pybuf call: fd or path, the view. */
struct call {
    int fd;
    const char *path;
    const pybuf_buffer *v;
};

/* Run `op` once, keeping the best time and the largest peak extra memory in `b`. */
static void measure(struct best *b, int (*op)(const struct call *), const struct call *c, const char *name) {
    long long rss = status_bytes("VmRSS:");
    int measured = reset_peak();
    double t0 = now();
    if (op(c) != 0)
        die(name);
    double t = now() - t0;
    if (measured && status_bytes("VmHWM:") - rss > b->peak)
        b->peak = status_bytes("VmHWM:") - rss;
    if (t < b->seconds)
        b->seconds = t;
}

static int write_op(const struct call *c) { return pybuf_write_fd(c->fd, c->v, 'C'); }
static int read_op(const struct call *c) { return pybuf_pread_fd(c->fd, c->v, 'C', 0); }

/* Time writes of `v` (and, for the raw line, of the same number of contiguous bytes). */
static void bench_write(const char *name, int fd, const pybuf_buffer *v, const char *contig) {
    struct best b = {1e9, -1};
    struct call c = {fd, NULL, v};
    double raw = 1e9;
    for (int r = 0; r < rounds; r++) {
        rewind_empty(fd);
        measure(&b, write_op, &c, name);
        rewind_empty(fd);
        double t0 = now();
        raw_write(fd, contig, (size_t)v->len);
        if (now() - t0 < raw)
            raw = now() - t0;
    }
    printf("pybuf_write_fd:%s %.6f %lld %lld\n", name, b.seconds, (long long)v->len, b.peak);
    printf("raw_write:%s %.6f %lld -1\n", name, raw, (long long)v->len);
}

/* Time reads into `v` from the start of the file (and raw reads of as many bytes). */
static void bench_read(const char *name, int fd, const pybuf_buffer *v, char *contig) {
    struct best b = {1e9, -1};
    struct call c = {fd, NULL, v};
    double raw = 1e9;
    for (int r = 0; r < rounds; r++) {
        measure(&b, read_op, &c, name);
        if (lseek(fd, 0, SEEK_SET) != 0)
            exit(1);
        double t0 = now();
        raw_read(fd, contig, (size_t)v->len);
        if (now() - t0 < raw)
            raw = now() - t0;
    }
    printf("pybuf_read_fd:%s %.6f %lld %lld\n", name, b.seconds, (long long)v->len, b.peak);
    printf("raw_read:%s %.6f %lld -1\n", name, raw, (long long)v->len);
}

#ifdef PYBUF_NPY_READONLY /* a pybuf with .npy support */
static int npy_save_op(const struct call *c) { return pybuf_npy_save(c->path, c->v); }

/* pybuf_npy_save of `v` to a fresh file each round (the raw line of bench_write is the
 * reference). */
static void bench_npy_save(const char *name, const char *path, const pybuf_buffer *v) {
    struct best b = {1e9, -1};
    struct call c = {-1, path, v};
    for (int r = 0; r < rounds; r++) {
        unlink(path);
        measure(&b, npy_save_op, &c, name);
    }
    unlink(path);
    printf("pybuf_npy_save:%s %.6f %lld %lld\n", name, b.seconds, (long long)v->len, b.peak);
}

/* A file of `bytes` bytes of float64 zeros written by `save`, then loaded by `load` (the
 * exporter's free outside the timing), best of 200; one line "LABEL:NAME SECONDS BYTES -1". */
static void bench_load(const char *label, const char *name, const char *path, size_t bytes,
                       const double *zeros, int (*save)(const char *, const pybuf_buffer *),
                       int (*load)(const char *, pybuf_exporter **)) {
    pybuf_ssize_t n = (pybuf_ssize_t)(bytes / 8);
    pybuf_buffer v;
    memset(&v, 0, sizeof v);
    v.buf = (void *)zeros;
    v.itemsize = 8;
    v.format = "d";
    v.ndim = 1;
    v.shape = &n;
    v.len = (pybuf_ssize_t)bytes;
    if (save(path, &v) != 0)
        die(label);
    double best = 1e9;
    for (int r = 0; r < 200; r++) {
        pybuf_exporter *e = NULL;
        double t0 = now();
        if (load(path, &e) != 0)
            die(name);
        double t = now() - t0;
        pybuf_exporter_free(e);
        if (t < best)
            best = t;
    }
    unlink(path);
    printf("%s:%s %.9f %lld -1\n", label, name, best, (long long)bytes);
}

/* The load alone: open, header, mapping, exporter. */
static int npy_load(const char *path, pybuf_exporter **e) { return pybuf_npy_load(path, PYBUF_NPY_READONLY, e); }
#endif

#ifdef PYBUF_NPZ_COPY
/* An archive with one stored member "a", written by pybuf_npz_save. */
static int npz_save_one(const char *path, const pybuf_buffer *v) {
    const char *key = "a";
    return pybuf_npz_save(path, 1, &key, v, 0);
}

/* pybuf_npz_open + pybuf_npz_load (the member mapped in place) + pybuf_npz_close. */
static int npz_load(const char *path, pybuf_exporter **e) {
    pybuf_npz *z = NULL;
    int rc = pybuf_npz_open(path, &z);
    if (rc == 0)
        rc = pybuf_npz_load(z, 0, PYBUF_MAP_READONLY, e);
    pybuf_npz_close(z);
    return rc;
}
#endif

static pybuf_buffer view(void *buf, pybuf_ssize_t itemsize, const char *format, int ndim,
                         pybuf_ssize_t *shape, pybuf_ssize_t *strides) {
    pybuf_buffer v;
    memset(&v, 0, sizeof v);
    v.buf = buf;
    v.itemsize = itemsize;
    v.format = (char *)format;
    v.ndim = ndim;
    v.shape = shape;
    v.strides = strides;
    v.len = itemsize;
    for (int k = 0; k < ndim; k++)
        v.len *= shape[k];
    return v;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIR ROWS COLS ROUNDS\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    pybuf_ssize_t rows = atol(argv[2]), cols = atol(argv[3]);
    rounds = atoi(argv[4]);
    size_t bytes = (size_t)rows * (size_t)cols * 8;
    /* Huge pages for the arrays, as numpy asks for its large arrays (madvise
     * MADV_HUGEPAGE): the numpy side of the run has them too. */
    double *a = aligned_alloc(1 << 21, (bytes + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1));
    char *contig = aligned_alloc(1 << 21, (bytes + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1));
    if (a == NULL || contig == NULL)
        return 1;
    madvise(a, bytes, MADV_HUGEPAGE);
    madvise(contig, bytes, MADV_HUGEPAGE);
    for (size_t k = 0; k < bytes / 8; k++)
        a[k] = (double)k;
    memset(contig, 1, bytes);
    char path[4096];
    snprintf(path, sizeof path, "%s/pybuf-bench-io-%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }

    /* a.T: (cols, rows), strides (8, 8 * cols). */
    pybuf_ssize_t tshape[2] = {cols, rows}, tstrides[2] = {8, 8 * cols};
    pybuf_buffer t = view(a, 8, "d", 2, tshape, tstrides);
    bench_write("a.T", fd, &t, contig);
    /* a[:, ::2]: (rows, cols / 2), strides (8 * cols, 16). */
    pybuf_ssize_t hshape[2] = {rows, cols / 2}, hstrides[2] = {8 * cols, 16};
    pybuf_buffer h = view(a, 8, "d", 2, hshape, hstrides);
    bench_write("a[:,::2]", fd, &h, contig);
    /* 3-byte items, every other one, over the same memory. */
    pybuf_ssize_t n3 = (pybuf_ssize_t)(bytes / 6), s3 = 6;
    pybuf_buffer b3 = view(a, 3, "3s", 1, &n3, &s3);
    bench_write("3-byte-stride-2", fd, &b3, contig);
    /* The whole array, contiguous: pybuf's one-iovec path against write(2). */
    pybuf_ssize_t cshape[2] = {rows, cols};
    pybuf_buffer c = view(a, 8, "d", 2, cshape, NULL);
    bench_write("a", fd, &c, contig);

    /* The same views as .npy files (a.T is F-contiguous: numpy and pybuf write its memory
     * as it lies, with fortran_order True). */
#ifdef PYBUF_NPY_READONLY
    char npy[4096];
    snprintf(npy, sizeof npy, "%s/pybuf-bench-io-%d.npy", dir, (int)getpid());
    bench_npy_save("a.T", npy, &t);
    bench_npy_save("a[:,::2]", npy, &h);
    bench_npy_save("3-byte-stride-2", npy, &b3);
#endif

    /* Reads into a.T from a file of the same size. */
    rewind_empty(fd);
    raw_write(fd, contig, bytes);
    bench_read("a.T", fd, &t, contig);
    bench_read("a", fd, &c, contig);

    /* Loads of a 1 MiB and a 1 GiB file: a mapping, so the time should not depend on the
     * size. */
#ifdef PYBUF_NPY_READONLY
    {
        size_t big = (size_t)1 << 30;
        double *zeros = calloc(big / 8, 8);
        if (zeros == NULL)
            return 1;
        bench_load("pybuf_npy_load", "1MiB", npy, (size_t)1 << 20, zeros, pybuf_npy_save, npy_load);
        bench_load("pybuf_npy_load", "1GiB", npy, big, zeros, pybuf_npy_save, npy_load);
        free(zeros);
    }
#endif
#ifdef PYBUF_NPZ_COPY
    {
        size_t big = (size_t)1 << 30;
        double *zeros = calloc(big / 8, 8);
        char npz[4096];
        if (zeros == NULL)
            return 1;
        snprintf(npz, sizeof npz, "%s/pybuf-bench-io-%d.npz", dir, (int)getpid());
        bench_load("pybuf_npz_load", "1MiB", npz, (size_t)1 << 20, zeros, npz_save_one, npz_load);
        bench_load("pybuf_npz_load", "1GiB", npz, big, zeros, npz_save_one, npz_load);
        free(zeros);
    }
#endif

    close(fd);
    unlink(path);
    free(a);
    free(contig);
    return 0;
}
