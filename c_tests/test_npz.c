/*
 * .npz archives: pybuf_npz_save of views of every layout (C, transposed, strided,
 * negative strides, suboffsets, 0-d, empty, larger than the 1 MiB staging buffer), read
 * back with pybuf_npz_load (mapped and copied, stored and deflated) and compared with
 * pybuf_equal; every truncation of an archive refused or loaded safely, with no fd or
 * mapping left behind (/proc/self/fd and /proc/self/maps counted); bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static char path[64], cut_path[64];

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

static int count_maps(const char *file) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, file) != NULL;
    fclose(f);
    return n;
}

#define NV 8
static double mat[6][8];
static unsigned char big[1500][1500]; /* 2.1 MiB: written through the staging buffer */
static short scalar = -7;
static void *rows[6];                  /* PIL-style: pointers to the rows of mat */

static pybuf_buffer views[NV];
static const char *names[NV] = {"c", "t", "cols", "rev", "pil", "zero_d", "empty", "big"};
static pybuf_ssize_t sh_c[2] = {6, 8}, sh_t[2] = {8, 6}, st_t[2] = {8, 64};
static pybuf_ssize_t sh_cols[2] = {6, 4}, st_cols[2] = {64, 16};
static pybuf_ssize_t sh_rev[2] = {3, 8}, st_rev[2] = {-128, 8};
static pybuf_ssize_t sh_pil[2] = {6, 8}, st_pil[2] = {sizeof(void *), 8}, so_pil[2] = {0, -1};
static pybuf_ssize_t sh_empty[2] = {0, 3};
static pybuf_ssize_t sh_big[2] = {1500, 750}, st_big[2] = {1500, 2};

static void make_views(void) {
    int i, j;
    for (i = 0; i < 6; i++) {
        rows[i] = mat[i];
        for (j = 0; j < 8; j++)
            mat[i][j] = i * 10 + j + 0.25;
    }
    for (i = 0; i < 1500; i++)
        for (j = 0; j < 1500; j++)
            big[i][j] = (unsigned char)(i * 7 + j * 13);
    views[0] = make_view(mat, 8, 2, sh_c, NULL, NULL);
    views[1] = make_view(mat, 8, 2, sh_t, st_t, NULL);
    views[2] = make_view(&mat[0][1], 8, 2, sh_cols, st_cols, NULL);
    views[3] = make_view(&mat[5][0], 8, 2, sh_rev, st_rev, NULL);
    views[4] = make_view(rows, 8, 2, sh_pil, st_pil, so_pil);
    views[5] = make_view(&scalar, 2, 0, NULL, NULL, NULL);
    views[6] = make_view(mat, 8, 2, sh_empty, NULL, NULL);
    views[7] = make_view(big, 1, 2, sh_big, st_big, NULL);
    for (i = 0; i < NV; i++) {
        views[i].readonly = 1;
        views[i].format = i == 5 ? "<h" : i == 7 ? "B" : "<d";
    }
}

static void round_trip(int flags) {
    pybuf_npz *a = NULL;
    pybuf_npz_member m;
    int fds = count_fds(), i, copy;
    CHECK_STATUS(pybuf_npz_save(path, NV, names, views, flags), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_npz_open(path, &a), PYBUF_STATUS_OK);
    if (a == NULL)
        return;
    CHECK_EQ(pybuf_npz_count(a), NV);
    for (i = 0; i < NV; i++) {
        char want[32];
        CHECK_STATUS(pybuf_npz_member_info(a, i, &m), PYBUF_STATUS_OK);
        snprintf(want, sizeof want, "%s.npy", names[i]);
        CHECK_STR_EQ(m.name, want);
        CHECK_EQ(m.method, flags ? 8 : 0);
        CHECK_EQ(pybuf_npz_find(a, names[i]), i);
        for (copy = 0; copy < 2; copy++) {
            pybuf_exporter *e = NULL;
            pybuf_buffer v;
            CHECK_STATUS(pybuf_npz_load(a, i, copy ? PYBUF_NPZ_COPY | PYBUF_MAP_PRIVATE : 0, &e),
                         PYBUF_STATUS_OK);
            if (e == NULL)
                continue;
            CHECK_STATUS(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL_RO), PYBUF_STATUS_OK);
            CHECK_EQ(v.ndim, views[i].ndim);
            CHECK_EQ(pybuf_equal(&v, &views[i]), 1);
            CHECK_EQ(v.readonly, !copy);
            if (v.len > 0)
                CHECK_EQ((long)((size_t)v.buf % 64), 0);
            pybuf_release(&v);
            pybuf_exporter_free(e);
        }
    }
    CHECK_STATUS(pybuf_npz_member_info(a, NV, &m), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_EQ(pybuf_npz_find(a, "missing"), -1);
    CHECK_LAST(PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    pybuf_npz_close(a);
    CHECK_EQ(count_maps(path), 0);
    CHECK_EQ(count_fds(), fds);
}

static void stored(void) { round_trip(0); }
static void deflated(void) { round_trip(PYBUF_NPZ_DEFLATE); }

/* Every truncation of a small archive: refused, or each member loads or is refused. */
static void truncations(int flags) {
    static unsigned char whole[1 << 12];
    int fd, n, cut, fds = count_fds(), refused = 0;
    CHECK_STATUS(pybuf_npz_save(path, 4, names, views, flags), PYBUF_STATUS_OK); /* 2 KiB */
    fd = open(path, O_RDONLY);
    n = (int)read(fd, whole, sizeof whole);
    close(fd);
    CHECK(n > 0 && n < (int)sizeof whole);
    for (cut = 0; cut < n; cut++) {
        pybuf_npz *a = NULL;
        int rc, i;
        fd = open(cut_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK_EQ(write(fd, whole, cut), cut);
        close(fd);
        rc = pybuf_npz_open(cut_path, &a);
        if (rc != 0) {
            CHECK_EQ(rc, PYBUF_STATUS_INVALID_FILE);
            CHECK(a == NULL);
            ++refused;
            continue;
        }
        for (i = 0; i < pybuf_npz_count(a); i++) {
            pybuf_exporter *e = NULL;
            rc = pybuf_npz_load(a, i, 0, &e);
            CHECK(rc == 0 || rc == PYBUF_STATUS_INVALID_FILE);
            pybuf_exporter_free(e);
        }
        pybuf_npz_close(a);
    }
    CHECK_EQ(refused, n); /* the directory is at the end: every cut loses it */
    CHECK_EQ(count_maps(cut_path), 0);
    CHECK_EQ(count_fds(), fds);
}

static void truncated_stored(void) { truncations(0); }
static void truncated_deflated(void) { truncations(PYBUF_NPZ_DEFLATE); }

static void bad_arguments(void) {
    pybuf_npz *a = NULL;
    pybuf_exporter *e = NULL;
    const char *dup[2] = {"x", "x"};
    int fds = count_fds(), fd;
    unlink(path);
    CHECK_STATUS(pybuf_npz_save(path, 2, dup, views, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_MSG("twice");
    CHECK(access(path, F_OK) != 0); /* nothing left behind */
    CHECK_STATUS(pybuf_npz_save(path, -1, names, views, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npz_save(path, 1, names, views, 2), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npz_save(path, 1, NULL, views, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_npz_save("/nonexistent/dir/a.npz", 1, names, views, 0), PYBUF_STATUS_IO);
    CHECK_EQ(pybuf_last_errno(), ENOENT);
    CHECK_STATUS(pybuf_npz_open("/nonexistent.npz", &a), PYBUF_STATUS_IO);
    CHECK_STATUS(pybuf_npz_open(path, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_npz_count(NULL), -1);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    /* Not an archive. */
    fd = open(cut_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK_EQ(write(fd, "PK\3\4 not really", 15), 15);
    close(fd);
    CHECK_STATUS(pybuf_npz_open(cut_path, &a), PYBUF_STATUS_INVALID_FILE);
    /* Through an fd, which stays the caller's. */
    CHECK_STATUS(pybuf_npz_save(path, 1, names, views, 0), PYBUF_STATUS_OK);
    fd = open(path, O_RDONLY);
    CHECK_STATUS(pybuf_npz_open_fd(fd, &a), PYBUF_STATUS_OK);
    close(fd);
    CHECK_STATUS(pybuf_npz_load(a, 0, PYBUF_MAP_SHARED, &e), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npz_load(a, 0, 8, &e), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pybuf_npz_load(a, -1, 0, &e), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(pybuf_npz_load(a, 0, 0, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    pybuf_npz_close(a);
    CHECK_EQ(count_fds(), fds);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/pybuf-test-npz-%ld.npz", (long)getpid());
    snprintf(cut_path, sizeof cut_path, "/tmp/pybuf-test-npz-cut-%ld.npz", (long)getpid());
    make_views();
    RUN(stored);
    RUN(deflated);
    RUN(truncated_stored);
    RUN(truncated_deflated);
    RUN(bad_arguments);
    unlink(path);
    unlink(cut_path);
    return check_report();
}
