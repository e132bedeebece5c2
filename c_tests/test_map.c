/*
 * Memory-mapped exporters: pybuf_map_fd, pybuf_map_path, pybuf_exporter_sync.
 *
 * Regions at unaligned offsets, the three modes (read-only views refuse PYBUF_WRITABLE,
 * shared writes reach the file after sync, private writes never do), files too short for
 * the region refused before mapping, empty regions, bad arguments, and no fd or mapping
 * left behind after any failure or after the last view goes (/proc/self/fd and
 * /proc/self/maps are counted).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "leaks.h"

/* Element k of doubles at p, which a mapping at a file offset need not align. */
static double get_double(const void *p, int k) {
    double x;
    memcpy(&x, (const char *)p + 8 * k, sizeof x);
    return x;
}

static void put_double(void *p, int k, double x) {
    memcpy((char *)p + 8 * k, &x, sizeof x);
}

static char path[64];

/* The test file: PAD bytes of 0xEE, then N doubles 0.5, 1.5, ... */
#define PAD 4099
#define N 1000

static void make_file(void) {
    unsigned char pad[PAD];
    double v[N];
    int i, fd;
    strcpy(path, "/tmp/pybuf-test-map-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    memset(pad, 0xEE, sizeof pad);
    for (i = 0; i < N; i++)
        v[i] = i + 0.5;
    CHECK_EQ(write(fd, pad, sizeof pad), PAD);
    CHECK_EQ(write(fd, v, sizeof v), (long)sizeof v);
    close(fd);
}

static double file_double(int k) {
    double x = -1;
    int fd = open(path, O_RDONLY);
    CHECK_EQ(pread(fd, &x, sizeof x, PAD + 8 * (off_t)k), 8);
    close(fd);
    return x;
}

static pybuf_exporter_desc vector(pybuf_ssize_t *shape, pybuf_ssize_t len) {
    pybuf_exporter_desc d;
    memset(&d, 0, sizeof d);
    d.len = len;
    d.format = "d";
    d.ndim = 1;
    d.shape = shape;
    return d;
}

static void read_only_at_an_unaligned_offset(void) {
    int fds = count_fds(), fd = open(path, O_RDONLY);
    pybuf_ssize_t shape[2] = {N / 2, 2}, strides[2] = {-16, 8};
    pybuf_exporter_desc d = vector(shape, 8 * N);
    pybuf_exporter *e = NULL;
    pybuf_buffer v, w;
    d.ndim = 2;
    d.strides = strides; /* pairs of elements, last pair first */
    d.offset = 8 * (N - 2);
    CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_OK);
    close(fd); /* the mapping does not need it */
    CHECK_EQ(count_maps(path), 1);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
    CHECK_EQ(v.readonly, 1);
    {
        /* The data is not 8-byte aligned here (PAD bytes into the file): read by memcpy. */
        double x[2], y;
        pybuf_ssize_t at[2] = {N / 2 - 1, 1};
        memcpy(x, v.buf, sizeof x);
        CHECK(x[0] == N - 2 + 0.5 && x[1] == N - 1 + 0.5);
        memcpy(&y, pybuf_get_pointer(&v, at), sizeof y);
        CHECK(y == 1.5);
    }
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_RECORDS), PYBUF_STATUS_READ_ONLY);
    CHECK_MSG("PYBUF_WRITABLE");
    CHECK_STATUS(pybuf_exporter_sync(e), PYBUF_STATUS_OK); /* nothing to flush */
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(path), 1); /* the view keeps it */
    pybuf_release(&v);
    CHECK_EQ(count_maps(path), 0);
    CHECK_EQ(count_fds(), fds);
}

static void shared_writes_reach_the_file(void) {
    pybuf_ssize_t shape[1] = {N};
    pybuf_exporter_desc d = vector(shape, -1);
    pybuf_exporter *e = NULL;
    pybuf_buffer v;
    CHECK_STATUS(pybuf_map_path(path, PAD, &d, PYBUF_MAP_SHARED, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_CONTIG), PYBUF_STATUS_OK);
    put_double(v.buf, 7, -2.5);
    CHECK_STATUS(pybuf_exporter_sync(e), PYBUF_STATUS_OK);
    CHECK(file_double(7) == -2.5);
    put_double(v.buf, 7, 7.5);
    CHECK_STATUS(pybuf_exporter_sync(e), PYBUF_STATUS_OK);
    CHECK(file_double(7) == 7.5);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(path), 0);
}

static void private_writes_stay_private(void) {
    pybuf_ssize_t shape[1] = {N};
    pybuf_exporter_desc d = vector(shape, 8 * N);
    pybuf_exporter *e = NULL;
    pybuf_buffer v;
    int fd = open(path, O_RDONLY); /* read-only is enough for copy-on-write */
    CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, PYBUF_MAP_PRIVATE, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(v.readonly, 0);
    put_double(v.buf, 3, 99);
    CHECK_STATUS(pybuf_exporter_sync(e), PYBUF_STATUS_OK);
    CHECK(get_double(v.buf, 3) == 99);
    CHECK(file_double(3) == 3.5);
    /* desc.readonly makes a private mapping's views read-only. */
    pybuf_exporter *r = NULL;
    pybuf_buffer w;
    d.readonly = 1;
    CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, PYBUF_MAP_PRIVATE, &r), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(r, &w, PYBUF_WRITABLE), PYBUF_STATUS_READ_ONLY);
    CHECK_EQ(count_maps(path), 2);
    pybuf_exporter_free(r);
    close(fd);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(path), 0);
}

static void empty_regions(void) {
    pybuf_ssize_t shape[2] = {0, 5};
    pybuf_exporter_desc d = vector(shape, 0);
    pybuf_exporter *e = NULL;
    pybuf_buffer v;
    d.ndim = 2;
    /* At the very end of the file, and in the middle. */
    CHECK_STATUS(pybuf_map_path(path, PAD + 8 * N, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK(v.buf != NULL && v.len == 0);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_map_path(path, 17, &d, PYBUF_MAP_SHARED, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_sync(e), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(path), 0);
}

/* Every failure returns its status, writes nothing to *out, and leaves no fd or mapping. */
static void failures_leave_nothing(void) {
    pybuf_ssize_t shape[1] = {N}, sub[1] = {0};
    pybuf_exporter_desc d = vector(shape, 8 * N), bad;
    pybuf_exporter *e = NULL, *plain = NULL;
    int fds = count_fds(), fd = open(path, O_RDONLY), p[2];
    double mem[1] = {0};
    for (int round = 0; round < 3; round++) {
        /* Regions past the end of the file: refused before mapping. */
        CHECK_STATUS(pybuf_map_fd(fd, PAD + 1, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
        CHECK_MSG("past the end");
        CHECK_STATUS(pybuf_map_path(path, 1 << 20, &d, PYBUF_MAP_PRIVATE, &e), PYBUF_STATUS_INVALID_FILE);
        bad = d;
        bad.len = -1;
        CHECK_STATUS(pybuf_map_fd(fd, PAD + 9, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_LENGTH_MISMATCH);
        /* The array past the region. */
        bad.len = 8 * N - 1;
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_LENGTH_MISMATCH);
        bad = d;
        bad.format = "T{";
        CHECK_STATUS(pybuf_map_path(path, PAD, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_FORMAT);
        /* Arguments. */
        CHECK_STATUS(pybuf_map_fd(fd, PAD, NULL, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, PYBUF_MAP_READONLY, NULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_map_path(NULL, PAD, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_NULL_POINTER);
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, 3, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(pybuf_map_fd(fd, -1, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        bad = d;
        bad.len = -2;
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        bad = d;
        bad.buf = mem;
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        bad = d;
        bad.strides = shape;
        bad.suboffsets = sub;
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &bad, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_SUBOFFSETS);
        /* The OS's refusals. */
        CHECK_STATUS(pybuf_map_fd(-1, 0, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_IO);
        CHECK_EQ(pybuf_last_errno(), EBADF);
        CHECK_STATUS(pybuf_map_fd(fd, PAD, &d, PYBUF_MAP_SHARED, &e), PYBUF_STATUS_IO);
        CHECK_EQ(pybuf_last_errno(), EACCES);
        CHECK_MSG("reading and writing");
        CHECK_STATUS(pybuf_map_path("/nonexistent/pybuf", 0, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_IO);
        CHECK_EQ(pybuf_last_errno(), ENOENT);
        CHECK_EQ(pipe(p), 0);
        CHECK_STATUS(pybuf_map_fd(p[0], 0, &d, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_MSG("not a regular file");
        close(p[0]);
        close(p[1]);
        CHECK(e == NULL);
    }
    /* sync needs a mapped exporter. */
    pybuf_exporter_desc m = vector(shape, sizeof mem);
    shape[0] = 1;
    m.buf = mem;
    CHECK_STATUS(pybuf_exporter_new(&m, NULL, NULL, &plain), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_sync(plain), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_exporter_sync(NULL), PYBUF_STATUS_NULL_POINTER);
    pybuf_exporter_free(plain);
    close(fd);
    CHECK_EQ(count_maps(path), 0);
    CHECK_EQ(count_fds(), fds);
}

int main(void) {
    make_file();
    RUN(read_only_at_an_unaligned_offset);
    RUN(shared_writes_reach_the_file);
    RUN(private_writes_stay_private);
    RUN(empty_regions);
    RUN(failures_leave_nothing);
    unlink(path);
    return check_report();
}
