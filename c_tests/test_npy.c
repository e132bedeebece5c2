/*
 * .npy files from C: pybuf_npy_save, pybuf_npy_write_fd, pybuf_npy_load, pybuf_npy_load_fd,
 * pybuf_npy_read, pybuf_npy_read_fd.
 *
 * The exact header np.save writes for a transposed matrix (fortran_order True) and for a
 * strided view of it (False, the data gathered in C order); loads by mapping (read-only,
 * writable, private), from a pipe, into strided views; a header that promises more data
 * than the file has, every truncation of a file, a corrupted header, bad arguments; and no
 * fd or mapping left behind (/proc/self/fd and /proc/self/maps are counted).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "leaks.h"

static char path[64];

static long read_file(unsigned char *out, long cap) {
    int fd = open(path, O_RDONLY);
    long n = read(fd, out, (size_t)cap);
    close(fd);
    return n;
}

static void write_file(const unsigned char *bytes, long n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, bytes, (size_t)n), n);
    close(fd);
}

/* m: 3 x 4 doubles 0..11; a view of it. */
static double m[3][4];

static pybuf_buffer matrix_view(pybuf_ssize_t *shape, pybuf_ssize_t *strides, int ndim) {
    pybuf_buffer v;
    memset(&v, 0, sizeof v);
    v.buf = m;
    v.itemsize = 8;
    v.format = "d";
    v.ndim = ndim;
    v.shape = shape;
    v.strides = strides;
    v.readonly = 1;
    v.len = 8;
    for (int k = 0; k < ndim; k++)
        v.len *= shape[k];
    return v;
}

/* The header np.save writes for `text` (NumPy 2.4.6: magic, 1.0, length 118, the dict
   padded with spaces to 127 bytes, a newline). */
static void check_header(const unsigned char *file, const char *dict) {
    size_t n = strlen(dict);
    CHECK_MEM_EQ(file, "\x93NUMPY\x01\x00\x76\x00", 10);
    CHECK_MEM_EQ(file + 10, dict, n);
    for (size_t k = 10 + n; k < 127; k++)
        CHECK_EQ(file[k], ' ');
    CHECK_EQ(file[127], '\n');
}

static void save_transposed_and_strided(void) {
    unsigned char file[1024];
    pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
    pybuf_buffer t = matrix_view(shape, strides, 2);
    CHECK_STATUS(pybuf_npy_save(path, &t), PYBUF_STATUS_OK);
    CHECK_EQ(read_file(file, sizeof file), 128 + 96);
    check_header(file, "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }");
    CHECK_MEM_EQ(file + 128, m, 96); /* F order: the memory as it lies */

    /* Every other column, last first: C order, gathered. */
    pybuf_ssize_t hs[2] = {3, 2}, hst[2] = {32, -16};
    pybuf_buffer h = matrix_view(hs, hst, 2);
    h.buf = &m[0][3];
    CHECK_STATUS(pybuf_npy_save(path, &h), PYBUF_STATUS_OK);
    CHECK_EQ(read_file(file, sizeof file), 128 + 48);
    check_header(file, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }");
    double want[6] = {3, 1, 7, 5, 11, 9}, got[6];
    memcpy(got, file + 128, sizeof got);
    CHECK_MEM_EQ(got, want, sizeof want);
}

static void load_mapped(void) {
    pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
    pybuf_buffer t = matrix_view(shape, strides, 2), v, w;
    pybuf_exporter *e = NULL;
    int fds = count_fds();
    CHECK_STATUS(pybuf_npy_save(path, &t), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_OK);
    CHECK_EQ(count_fds(), fds); /* the file is closed, the mapping stays */
    CHECK_EQ(count_maps(path), 1);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
    CHECK_STR_EQ(v.format, "<d");
    CHECK(v.ndim == 2 && v.shape[0] == 4 && v.shape[1] == 3);
    CHECK(v.strides[0] == 8 && v.strides[1] == 32); /* fortran_order */
    CHECK_EQ(pybuf_equal(&v, &t), 1);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &w, PYBUF_RECORDS), PYBUF_STATUS_READ_ONLY);
    pybuf_exporter_free(e);
    CHECK_EQ(count_maps(path), 1); /* the view keeps it */
    pybuf_release(&v);
    CHECK_EQ(count_maps(path), 0);

    /* Writable: writes reach the file; private: they do not. */
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_WRITABLE, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS), PYBUF_STATUS_OK);
    ((double *)v.buf)[1] = -7.0;
    pybuf_release(&v);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_PRIVATE, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS), PYBUF_STATUS_OK);
    CHECK(((double *)v.buf)[1] == -7.0);
    ((double *)v.buf)[1] = 99.0;
    pybuf_release(&v);
    pybuf_exporter_free(e);
    double back[3][4];
    pybuf_ssize_t bs[2] = {4, 3}, bst[2] = {8, 32};
    pybuf_buffer b = matrix_view(bs, bst, 2);
    b.buf = back;
    b.readonly = 0;
    CHECK_STATUS(pybuf_npy_read(path, &b), PYBUF_STATUS_OK);
    CHECK(back[0][1] == -7.0 && back[2][3] == 11.0); /* t[1][0] and t[3][2] */
    CHECK_EQ(count_fds(), fds);
    CHECK_EQ(count_maps(path), 0);
}

static void through_a_pipe(void) {
    int p[2];
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer c = matrix_view(shape, NULL, 2), v;
    pybuf_exporter *e = NULL;
    double into[4][3];
    CHECK_EQ(pipe(p), 0);
    /* Two arrays in one stream (small enough for the pipe's buffer). */
    CHECK_STATUS(pybuf_npy_write_fd(p[1], &c), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_npy_write_fd(p[1], &c), PYBUF_STATUS_OK);
    close(p[1]);
    /* Writes could not reach a pipe: refused before anything is read. */
    CHECK_STATUS(pybuf_npy_load_fd(p[0], PYBUF_NPY_WRITABLE, &e), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npy_load_fd(p[0], PYBUF_NPY_PRIVATE, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS), PYBUF_STATUS_OK);
    CHECK_EQ(pybuf_equal(&v, &c), 1);
    pybuf_release(&v);
    pybuf_exporter_free(e);
    /* The second one into a transposed destination. */
    pybuf_ssize_t ts[2] = {3, 4}, tst[2] = {8, 24};
    pybuf_buffer t = matrix_view(ts, tst, 2);
    t.buf = into;
    t.readonly = 0;
    CHECK_STATUS(pybuf_npy_read_fd(p[0], &t), PYBUF_STATUS_OK);
    CHECK(into[3][2] == 11.0 && into[1][0] == 1.0);
    CHECK_STATUS(pybuf_npy_read_fd(p[0], &t), PYBUF_STATUS_INVALID_FILE); /* the end */
    close(p[0]);
}

static void damaged_files(void) {
    unsigned char good[1024], bad[1024];
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer c = matrix_view(shape, NULL, 2);
    pybuf_exporter *e = NULL;
    int fds = count_fds();
    long n;
    CHECK_STATUS(pybuf_npy_save(path, &c), PYBUF_STATUS_OK);
    n = read_file(good, sizeof good);
    CHECK_EQ(n, 128 + 96);
    /* Every truncation: refused before mapping (no SIGBUS), by path and by fd. */
    for (long k = 0; k < n; k++) {
        write_file(good, k);
        CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
        int fd = open(path, O_RDONLY);
        CHECK_STATUS(pybuf_npy_load_fd(fd, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
        close(fd);
    }
    CHECK(e == NULL); /* never written on failure */
    /* A header that promises more rows than the file has. */
    memcpy(bad, good, (size_t)n);
    memcpy(strstr((char *)bad + 10, "(3, 4)"), "(9, 4)", 6);
    write_file(bad, n);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
    CHECK_MSG("promises 288 bytes");
    /* Version 9.9, bad magic, an object descr, a negative shape. */
    memcpy(bad, good, (size_t)n);
    bad[6] = 9;
    bad[7] = 9;
    write_file(bad, n);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_UNSUPPORTED_VERSION);
    CHECK_MSG("9.9");
    memcpy(bad, good, (size_t)n);
    bad[1] = 'X';
    write_file(bad, n);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
    CHECK_MSG("magic");
    memcpy(bad, good, (size_t)n);
    memcpy(strstr((char *)bad + 10, "'<f8'"), "'|O' ", 5);
    write_file(bad, n);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
    CHECK_MSG("objects");
    memcpy(bad, good, (size_t)n);
    memcpy(strstr((char *)bad + 10, "(3, 4)"), "(3,-4)", 6);
    write_file(bad, n);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_INVALID_FILE);
    CHECK_MSG("negative");
    CHECK_EQ(count_fds(), fds);
    CHECK_EQ(count_maps(path), 0);
}

static void bad_arguments(void) {
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer c = matrix_view(shape, NULL, 2), wrong = c;
    pybuf_exporter *e = NULL;
    double other[12];
    CHECK_STATUS(pybuf_npy_save(NULL, &c), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_npy_save(path, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_npy_write_fd(-1, &c), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), EBADF);
    CHECK_STATUS(pybuf_npy_save("/nonexistent-dir/x.npy", &c), PYBUF_STATUS_IO);
    CHECK_STATUS(pybuf_npy_load(path, 7, &e), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npy_load(path, PYBUF_NPY_READONLY, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_npy_load(NULL, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_npy_load_fd(-1, PYBUF_NPY_READONLY, &e), PYBUF_STATUS_IO);
    /* A pointer format has no NumPy type: no file is written. */
    unlink(path);
    wrong.format = "P";
    CHECK_STATUS(pybuf_npy_save(path, &wrong), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK(access(path, F_OK) != 0);
    /* Reads: shape, format, read-only. */
    CHECK_STATUS(pybuf_npy_save(path, &c), PYBUF_STATUS_OK);
    wrong = c;
    wrong.buf = other;
    CHECK_STATUS(pybuf_npy_read(path, &wrong), PYBUF_STATUS_READ_ONLY);
    wrong.readonly = 0;
    wrong.format = "q";
    CHECK_STATUS(pybuf_npy_read(path, &wrong), PYBUF_STATUS_FORMAT_MISMATCH);
    wrong.format = "d";
    pybuf_ssize_t flat[1] = {12};
    wrong.ndim = 1;
    wrong.shape = flat;
    CHECK_STATUS(pybuf_npy_read(path, &wrong), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(pybuf_npy_read_fd(0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK(e == NULL);
}

int main(void) {
    int fd;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            m[i][j] = 4 * i + j;
    strcpy(path, "/tmp/pybuf-test-npy-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    RUN(save_transposed_and_strided);
    RUN(load_mapped);
    RUN(through_a_pipe);
    RUN(damaged_files);
    RUN(bad_arguments);
    unlink(path);
    return check_report();
}
