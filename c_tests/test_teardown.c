/*
 * pybuf during thread and process teardown (issue 12, defect 1): every exported function is
 * called from an `atexit` handler and from pthread key destructors, after an earlier error
 * on the same thread (so that the thread's message slot existed and was destroyed) and on a
 * thread that never called pybuf before its destructor ran. Each call must return its
 * documented answer (a status on bad input, the right value on good input), and
 * pybuf_last_error() must stay a readable string: no abort, no crash.
 *
 * glibc destroys a thread's C++/Rust thread-local storage before it runs the pthread key
 * destructors, and the main thread's before the `atexit` handlers; that is the state the
 * calls below meet.
 *
 * tests/c_tests.rs checks that this file names every function of pybuf.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* 1024 x 1024 doubles: 8 MiB, large enough for the streamed transpose, which uses a
 * thread-local staging buffer. */
#define N 1024

static int owner_calls;
static void count_owner(void *user) {
    (void)user;
    ++owner_calls;
}

/* The last call failed with `status` and left a non-empty, readable message. */
#define CHECK_FAILED(rc, status)                                                           \
    do {                                                                                   \
        CHECK_EQ((rc), (status));                                                          \
        CHECK_EQ(pybuf_last_status(), (status));                                           \
        CHECK(pybuf_last_error() != NULL && pybuf_last_error()[0] != '\0');                \
    } while (0)

/* The last call succeeded: status 0 and the empty message. */
#define CHECK_OK(rc)                                                                       \
    do {                                                                                   \
        CHECK_EQ((rc), 0);                                                                 \
        CHECK_EQ(pybuf_last_status(), 0);                                                  \
        CHECK(pybuf_last_error() != NULL && pybuf_last_error()[0] == '\0');                \
    } while (0)

/* Two N x N double arrays, the first holding 0, 1, 2, ...; 0 (both NULL) if out of memory. */
static int two_arrays(double **a, double **b) {
    *a = malloc(sizeof(double) * N * N);
    *b = malloc(sizeof(double) * N * N);
    CHECK(*a != NULL && *b != NULL);
    if (*a == NULL || *b == NULL) {
        free(*a);
        free(*b);
        return 0;
    }
    for (long i = 0; i < (long)N * N; i++)
        (*a)[i] = (double)i;
    return 1;
}

/* A streamed transpose of an N x N double array, checked element by element. */
static void big_transpose(void) {
    double *a, *b;
    if (!two_arrays(&a, &b))
        return;
    pybuf_ssize_t shape[2] = {N, N}, t_strides[2] = {8, 8 * N};
    pybuf_buffer src = {0}, dst = {0};
    src.buf = a;
    src.len = (pybuf_ssize_t)sizeof(double) * N * N;
    src.readonly = 1;
    src.format = "d";
    src.itemsize = 8;
    src.ndim = 2;
    src.shape = shape;
    src.strides = t_strides; /* the transpose of a */
    dst = src;
    dst.buf = b;
    dst.readonly = 0;
    dst.strides = NULL;
    CHECK_OK(pybuf_copy(&dst, &src));
    long bad = 0;
    for (long i = 0; i < N; i++)
        for (long j = 0; j < N; j++)
            bad += b[i * N + j] != a[j * N + i];
    CHECK_EQ(bad, 0);
    free(a);
    free(b);
}

/* An .npz archive of `view` (2 x 3 doubles) written, listed and read back. */
/* Copy plans: a streamed transpose planned once, executed whole and part by part (the
 * plan's own staging buffers), and the refusals. */
static void plan_round_trip(void) {
    double *a, *b;
    if (!two_arrays(&a, &b))
        return;
    pybuf_ssize_t shape[2] = {N, N}, t_strides[2] = {8, 8 * N};
    pybuf_buffer src = {0}, dst = {0};
    src.len = (pybuf_ssize_t)sizeof(double) * N * N;
    src.itemsize = 8;
    src.ndim = 2;
    src.shape = shape;
    src.strides = t_strides;
    dst = src;
    dst.strides = NULL;
    pybuf_copy_plan *plan = NULL;
    CHECK_FAILED(pybuf_copy_plan_new(&dst, &src, 1, &plan), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pybuf_copy_plan_new(&dst, &src, 0, &plan));
    CHECK_FAILED(pybuf_copy_plan_set_threads(plan, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pybuf_copy_plan_set_threads(plan, 1));
    CHECK_OK(pybuf_copy_plan_execute(plan, b, a));
    pybuf_ssize_t parts = pybuf_copy_plan_parts(plan);
    CHECK(parts >= 1 && parts <= 4096);
    memset(b, 0, sizeof(double) * N * N);
    for (pybuf_ssize_t p = parts - 1; p >= 0; p--)
        CHECK_OK(pybuf_copy_plan_execute_part(plan, p, b, a));
    CHECK_FAILED(pybuf_copy_plan_execute_part(plan, parts, b, a), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    long bad = 0;
    for (long i = 0; i < N; i++)
        for (long j = 0; j < N; j++)
            bad += b[i * N + j] != a[j * N + i];
    CHECK_EQ(bad, 0);
    pybuf_copy_plan_free(plan);
    pybuf_copy_plan_free(NULL);
    CHECK_FAILED(pybuf_copy_plan_execute(NULL, b, a), PYBUF_STATUS_NULL_POINTER);
    free(a);
    free(b);
}

static void npz_round_trip(const pybuf_buffer *view) {
    char path[64];
    const char *names[1] = {"m"};
    pybuf_npz *a = NULL;
    pybuf_npz_member m;
    pybuf_exporter *e = NULL;
    pybuf_buffer back = {0};
    snprintf(path, sizeof path, "/tmp/pybuf-teardown-%ld.npz", (long)getpid());
    CHECK_FAILED(pybuf_npz_save(NULL, 1, names, view, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_OK(pybuf_npz_save(path, 1, names, view, PYBUF_NPZ_DEFLATE));
    CHECK_FAILED(pybuf_npz_open(NULL, &a), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_npz_open_fd(-1, &a), PYBUF_STATUS_IO);
    CHECK_OK(pybuf_npz_open(path, &a));
    if (a != NULL) {
        CHECK_EQ(pybuf_npz_count(a), 1);
        CHECK_OK(pybuf_npz_member_info(a, 0, &m));
        CHECK(strcmp(m.name, "m.npy") == 0 && m.method == 8);
        CHECK_EQ(pybuf_npz_find(a, "m"), 0);
        CHECK_OK(pybuf_npz_load(a, 0, PYBUF_MAP_READONLY, &e));
        CHECK_FAILED(pybuf_npz_load(a, 0, PYBUF_MAP_SHARED, &e), PYBUF_STATUS_INVALID_ARGUMENT);
        pybuf_npz_close(a);
    }
    pybuf_npz_close(NULL);
    if (e != NULL) {
        CHECK_OK(pybuf_exporter_get_buffer(e, &back, PYBUF_RECORDS_RO));
        CHECK_EQ(pybuf_equal(&back, view), 1);
        pybuf_release(&back);
        pybuf_exporter_free(e);
    }
    unlink(path);
}

/* A shared segment of `view`'s elements handed over a socketpair to this same process,
 * and a named segment made, opened by name, sealed-refused and unlinked. */
static void share_round_trip(const pybuf_buffer *view) {
    char name[64];
    int sv[2], fd = -1;
    pybuf_exporter *e = NULL, *r = NULL, *n = NULL, *o = NULL;
    pybuf_buffer v = {0}, back = {0};
    pybuf_ssize_t shape[1] = {4};
    pybuf_exporter_desc d = {0};
    d.len = -1;
    d.format = "d";
    d.ndim = 1;
    d.shape = shape;
    snprintf(name, sizeof name, "pybuf-teardown-%ld", (long)getpid());
    CHECK_FAILED(pybuf_share_copy(NULL, 'C', NULL, 0, &e), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_send_view(-1, view, 0), PYBUF_STATUS_NOT_SHARED);
    CHECK_FAILED(pybuf_recv_view(-1, 0, &r), PYBUF_STATUS_IO);
    CHECK_FAILED(pybuf_share_fd(NULL, &fd), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_share_seal(NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_share_unlink(NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_share_open(NULL, &d, 0, &o), PYBUF_STATUS_NULL_POINTER);
    CHECK_OK(pybuf_share_copy(view, 'C', NULL, 0, &e));
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    if (e != NULL) {
        CHECK_OK(pybuf_share_fd(e, &fd));
        CHECK(fd >= 0);
        CHECK_OK(pybuf_exporter_get_buffer(e, &v, PYBUF_RECORDS_RO));
        CHECK_OK(pybuf_send_view(sv[0], &v, PYBUF_SEND_READONLY));
        pybuf_release(&v);
        CHECK_OK(pybuf_share_seal(e));
        CHECK_OK(pybuf_recv_view(sv[1], 0, &r));
        pybuf_exporter_free(e);
    }
    if (r != NULL) {
        CHECK_OK(pybuf_exporter_get_buffer(r, &back, PYBUF_RECORDS_RO));
        CHECK_EQ(pybuf_equal(&back, view), 1);
        pybuf_release(&back);
        pybuf_exporter_free(r);
    }
    close(sv[0]);
    close(sv[1]);
    CHECK_OK(pybuf_share_new(name, &d, 0, &n));
    CHECK_OK(pybuf_share_open(name, &d, PYBUF_SHARE_READONLY, &o));
    if (n != NULL)
        CHECK_FAILED(pybuf_share_seal(n), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pybuf_share_unlink(name));
    pybuf_exporter_free(o);
    pybuf_exporter_free(n);
}

/* A view described for MPI (pybuf_datatype): the transpose of a 2x3 matrix of doubles is
 * 3 vectors of 2, 8 and 24 bytes apart. */
static void datatype_round(double *mem) {
    pybuf_ssize_t shape[2] = {3, 2}, strides[2] = {8, 24};
    pybuf_buffer t = {0};
    pybuf_datatype *d = NULL;
    t.buf = mem;
    t.len = 48;
    t.itemsize = 8;
    t.format = "d";
    t.ndim = 2;
    t.shape = shape;
    t.strides = strides;
    CHECK_FAILED(pybuf_datatype_new(NULL, 1, &d), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_datatype_new(&t, 0, &d), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pybuf_datatype_new(&t, 1 << 30, &d));
    if (d != NULL) {
        CHECK_EQ(d->kind, PYBUF_DATATYPE_KIND_DOUBLE);
        CHECK_EQ(d->block, 1);
        CHECK_EQ(d->ndim, 2);
        CHECK_EQ(d->dims[0].count, 3);
        CHECK_EQ(d->dims[0].stride, 8);
        CHECK_EQ(d->dims[1].count, 2);
        CHECK_EQ(d->dims[1].stride, 24);
    }
    pybuf_datatype_free(d);
    pybuf_datatype_free(NULL);
}

/* Every exported function, on bad input and on good input. */
static void exercise(void) {
    double mem[6] = {0, 1, 2, 3, 4, 5}, out6[6];
    pybuf_ssize_t shape[2] = {2, 3}, strides[2] = {0, 0}, idx[2] = {1, 2};
    char text[256];

    /* Errors first: the message slot (if it still exists) is written. */
    CHECK_EQ(pybuf_is_contiguous(NULL, 'C'), 0); /* 0, with an error recorded */
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_NULL_POINTER);
    CHECK(pybuf_last_error() != NULL && pybuf_last_error()[0] != '\0');
    CHECK_EQ(pybuf_last_errno(), 0); /* not an I/O error */
    CHECK(strcmp(pybuf_status_name(PYBUF_STATUS_OVERFLOW), "PYBUF_STATUS_OVERFLOW") == 0);
    CHECK(pybuf_version() != 0);
    CHECK(pybuf_version_string() != NULL && pybuf_version_string()[0] != '\0');

    /* An exporter of a 2 x 3 C array of doubles. */
    pybuf_exporter_desc desc = {0};
    desc.buf = mem;
    desc.len = sizeof mem;
    desc.format = "d";
    desc.itemsize = 8;
    desc.ndim = 2;
    desc.shape = shape;
    pybuf_exporter *e = NULL;
    CHECK_FAILED(pybuf_exporter_new(NULL, NULL, NULL, &e), PYBUF_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    owner_calls = 0;
    CHECK_OK(pybuf_exporter_new(&desc, count_owner, NULL, &e));
    if (e == NULL)
        return;
    pybuf_exporter *e2 = pybuf_exporter_clone(e);
    CHECK(e2 == e);
    CHECK(pybuf_exporter_clone(NULL) == NULL);
    pybuf_buffer v = {0};
    CHECK_FAILED(pybuf_exporter_get_buffer(NULL, &v, PYBUF_FULL_RO), PYBUF_STATUS_NULL_POINTER);
    CHECK_OK(pybuf_exporter_get_buffer(e, &v, PYBUF_FULL));
    CHECK_EQ(pybuf_exporter_exports(e), 1);
    CHECK_FAILED(pybuf_exporter_replace(e, &desc), PYBUF_STATUS_EXPORTS_EXIST);
    pybuf_object obj = pybuf_exporter_as_object(e);
    pybuf_buffer w = {0};
    CHECK_OK(pybuf_object_get_buffer(&obj, &w, PYBUF_RECORDS_RO));
    CHECK_EQ(pybuf_exporter_exports(e), 2);
    CHECK_FAILED(pybuf_object_get_buffer(NULL, &w, 0), PYBUF_STATUS_NULL_POINTER);

    /* Consumers. */
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK(pybuf_get_pointer(&v, idx) == (void *)&mem[5]);
    CHECK(pybuf_get_pointer(NULL, idx) == NULL);
    CHECK_OK(pybuf_fill_contiguous_strides(2, shape, strides, 8, 'F'));
    CHECK(strides[0] == 8 && strides[1] == 16);
    CHECK_FAILED(pybuf_fill_contiguous_strides(2, shape, strides, 8, 'X'), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pybuf_to_contiguous(out6, &v, sizeof out6, 'F'));
    CHECK(out6[1] == 3.0 && out6[2] == 1.0);
    CHECK_FAILED(pybuf_to_contiguous(out6, &v, 8, 'C'), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_OK(pybuf_from_contiguous(&v, out6, sizeof out6, 'F'));
    CHECK(mem[5] == 5.0);
    CHECK_OK(pybuf_copy(&v, &w));

    /* File descriptors: the view through a pipe, blocking and resumable. */
    {
        int p[2];
        double back[6] = {0};
        pybuf_io *io = NULL;
        CHECK_EQ(pipe(p), 0);
        CHECK_FAILED(pybuf_write_fd(-1, &v, 'C'), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_OK(pybuf_write_fd(p[1], &v, 'F'));
        CHECK_OK(pybuf_read_fd(p[0], &v, 'F'));
        CHECK(mem[5] == 5.0);
        CHECK_FAILED(pybuf_pwrite_fd(p[1], &v, 'C', -1), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_FAILED(pybuf_pread_fd(p[0], &v, 'C', 0), PYBUF_STATUS_IO);
        CHECK_EQ(pybuf_last_errno(), ESPIPE);
        CHECK_OK(pybuf_io_new(p[1], &v, 'C', PYBUF_IO_WRITE, -1, &io));
        CHECK_EQ(pybuf_io_total(io), 48);
        CHECK_OK(pybuf_io_step(io));
        CHECK_EQ(pybuf_io_done(io), 48);
        CHECK_EQ(pybuf_io_done(NULL), -1);
        pybuf_io_free(io);
        CHECK_EQ(read(p[0], back, sizeof back), (ssize_t)sizeof back);
        CHECK(back[5] == 5.0);
        close(p[0]);
        close(p[1]);
    }
    /* .npy files: the view through a pipe and a temporary file. */
    {
        int p[2];
        char npy[] = "/tmp/pybuf-teardown-npy-XXXXXX";
        int fd = mkstemp(npy);
        pybuf_exporter *ne = NULL;
        CHECK(fd >= 0);
        close(fd);
        CHECK_EQ(pipe(p), 0);
        CHECK_FAILED(pybuf_npy_write_fd(p[1], NULL), PYBUF_STATUS_NULL_POINTER);
        CHECK_OK(pybuf_npy_write_fd(p[1], &v));
        CHECK_OK(pybuf_npy_write_fd(p[1], &v));
        CHECK_OK(pybuf_npy_load_fd(p[0], PYBUF_NPY_PRIVATE, &ne));
        pybuf_exporter_free(ne);
        CHECK_OK(pybuf_npy_read_fd(p[0], &v));
        close(p[0]);
        close(p[1]);
        CHECK_OK(pybuf_npy_save(npy, &v));
        CHECK_OK(pybuf_npy_read(npy, &v));
        CHECK(mem[5] == 5.0);
        CHECK_FAILED(pybuf_npy_load(npy, 9, &ne), PYBUF_STATUS_INVALID_ARGUMENT);
        CHECK_OK(pybuf_npy_load(npy, PYBUF_NPY_READONLY, &ne));
        pybuf_exporter_free(ne);
        unlink(npy);
    }
    pybuf_buffer r = w; /* a read-only description of the same memory */
    r.readonly = 1;
    CHECK_FAILED(pybuf_copy(&r, &v), PYBUF_STATUS_READ_ONLY);
    CHECK_OK(pybuf_check_format(&v, "d"));
    CHECK_EQ(pybuf_check_format(&v, "i"), PYBUF_STATUS_FORMAT_MISMATCH);
    CHECK_OK(pybuf_check_format_ex(&v, "d", 2, 'C'));
    CHECK_OK(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, sizeof mem));
    CHECK_FAILED(pybuf_validate(&v, PYBUF_VALIDATE_MEMORY, mem, 8), PYBUF_STATUS_LENGTH_MISMATCH);
    pybuf_ssize_t lo = -1, hi = -1;
    CHECK_OK(pybuf_extent(&v, &lo, &hi));
    CHECK(lo == 0 && hi == (pybuf_ssize_t)sizeof mem);
    CHECK_EQ(pybuf_equal(&v, &w), 1);

    /* Items. */
    pybuf_value val;
    CHECK_EQ(pybuf_item_fields(&v), 1);
    CHECK_OK(pybuf_get_item(&v, idx, 0, &val));
    CHECK(val.kind == PYBUF_VALUE_DOUBLE && val.real == 5.0);
    val.real = 7.5;
    CHECK_OK(pybuf_set_item(&v, idx, 0, &val));
    CHECK(mem[5] == 7.5);
    CHECK_FAILED(pybuf_set_item(&r, idx, 0, &val), PYBUF_STATUS_READ_ONLY);

    /* Derived views. */
    pybuf_buffer d = {0};
    CHECK_OK(pybuf_slice(&d, &v, 1, 0, 3, 2));
    pybuf_release(&d);
    CHECK_OK(pybuf_index(&d, &v, 0, 1));
    pybuf_release(&d);
    pybuf_ssize_t start[2] = {0, 1}, sub[2] = {2, 2};
    CHECK_OK(pybuf_subview(&d, &v, start, sub));
    pybuf_release(&d);
    CHECK_OK(pybuf_transpose(&d, &v));
    pybuf_release(&d);
    int axes[2] = {1, 0};
    CHECK_OK(pybuf_permute(&d, &v, axes));
    pybuf_release(&d);
    pybuf_ssize_t flat[1] = {12};
    CHECK_OK(pybuf_cast(&d, &v, "f", 1, flat));
    pybuf_release(&d);
    CHECK_FAILED(pybuf_broadcast(&d, &v, 0, 4), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK_OK(pybuf_broadcast(&d, &v, 0, 2));
    pybuf_release(&d);
    pybuf_ssize_t bshape[3] = {4, 2, 3};
    CHECK_OK(pybuf_broadcast_to(&d, &v, 3, bshape));
    pybuf_release(&d);
    CHECK_FAILED(pybuf_slice(&d, &v, 5, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_FAILED(pybuf_transpose(NULL, &v), PYBUF_STATUS_NULL_POINTER);

    /* Iterators. */
    pybuf_iter *it = NULL;
    CHECK_OK(pybuf_iter_new(&v, 'F', &it));
    void *el = NULL;
    pybuf_ssize_t at[2];
    int steps = 0;
    while (pybuf_iter_next(it, &el, at) == 1)
        ++steps;
    CHECK_EQ(steps, 6);
    pybuf_iter_free(it);
    pybuf_iter_free(NULL);
    CHECK_FAILED(pybuf_iter_new(&v, 'Q', &it), PYBUF_STATUS_INVALID_ARGUMENT);

    /* DLPack, both ways and both versions. */
    DLManagedTensorVersioned *t = NULL;
    CHECK_OK(pybuf_to_dlpack(&v, NULL, NULL, &t));
    if (t != NULL) {
        pybuf_buffer imported = {0};
        CHECK_OK(pybuf_from_dlpack(&imported, t, PYBUF_RECORDS_RO));
        CHECK_EQ(pybuf_is_contiguous(&imported, 'C'), 1);
        pybuf_release(&imported); /* runs the tensor's deleter */
    }
    DLManagedTensor *lt = NULL;
    CHECK_OK(pybuf_to_dlpack_legacy(&v, NULL, NULL, &lt));
    if (lt != NULL) {
        pybuf_buffer imported = {0};
        CHECK_OK(pybuf_from_dlpack_legacy(&imported, lt, PYBUF_RECORDS_RO));
        pybuf_release(&imported);
    }
    CHECK_FAILED(pybuf_from_dlpack(&d, NULL, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_from_dlpack_legacy(&d, NULL, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_to_dlpack_legacy(NULL, NULL, NULL, &lt), PYBUF_STATUS_NULL_POINTER);

    /* Releases, the exporter's last reference, its owner. */
    pybuf_release(&w);
    pybuf_release(&v);
    pybuf_release(NULL);
    CHECK_EQ(pybuf_exporter_exports(e), 0);
    CHECK_OK(pybuf_exporter_replace(e, &desc));
    pybuf_exporter_free(e2);
    CHECK_EQ(owner_calls, 0);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 1);
    pybuf_exporter_free(NULL);

    /* Mapped files: the first bytes of this program, read-only. */
    CHECK_FAILED(pybuf_map_fd(-1, 0, &desc, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_FAILED(pybuf_map_path(NULL, 0, &desc, PYBUF_MAP_READONLY, &e), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_exporter_sync(NULL), PYBUF_STATUS_NULL_POINTER);
    {
        pybuf_ssize_t four[1] = {4};
        pybuf_exporter_desc md = {0};
        pybuf_exporter *me = NULL;
        pybuf_buffer mv = {0};
        md.len = 4;
        md.ndim = 1;
        md.shape = four;
        CHECK_OK(pybuf_map_path("/proc/self/exe", 0, &md, PYBUF_MAP_READONLY, &me));
        if (me != NULL) {
            CHECK_OK(pybuf_exporter_sync(me));
            CHECK_OK(pybuf_exporter_get_buffer(me, &mv, PYBUF_SIMPLE));
            CHECK(mv.len == 4 && memcmp(mv.buf, "\177ELF", 4) == 0);
            pybuf_release(&mv);
            pybuf_exporter_free(me);
        }
    }

    /* A view described in place. */
    pybuf_buffer f = {0};
    CHECK_OK(pybuf_fill_view(&f, &desc, PYBUF_FULL_RO));
    npz_round_trip(&f);
    share_round_trip(&f);
    pybuf_release(&f);
    CHECK_FAILED(pybuf_fill_view(&f, NULL, 0), PYBUF_STATUS_NULL_POINTER);
    CHECK_FAILED(pybuf_fill_info(NULL, NULL, mem, 8, 0, 0), PYBUF_STATUS_NULL_POINTER);

    /* Formats. */
    CHECK_EQ(pybuf_size_from_format("<id"), 12);
    CHECK_EQ(pybuf_size_from_format("T{"), -1);
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_INVALID_FORMAT);
    pybuf_format *fa = NULL, *fb = NULL;
    CHECK_OK(pybuf_format_parse("id", &fa));
    CHECK_OK(pybuf_format_parse("ixxxxd", &fb)); /* the same bytes, padding spelled out */
    CHECK_FAILED(pybuf_format_parse("T{", &fb), PYBUF_STATUS_INVALID_FORMAT);
    if (fa != NULL && fb != NULL) {
        CHECK_EQ(pybuf_format_itemsize(fa), 16);
        CHECK_EQ(pybuf_format_alignment(fa), 8);
        CHECK_EQ(pybuf_format_field_count(fa), 2);
        pybuf_format_field field;
        CHECK_OK(pybuf_format_get_field(fa, 1, &field));
        CHECK_FAILED(pybuf_format_get_field(fa, 2, &field), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
        CHECK_EQ(pybuf_format_leaf_count(fa), 2);
        pybuf_format_leaf leaf;
        CHECK_OK(pybuf_format_get_leaf(fa, 0, &leaf));
        CHECK(pybuf_format_canonical(fa) != NULL);
        CHECK(pybuf_format_canonical(NULL) == NULL);
        CHECK_EQ(pybuf_format_equal(fa, fb), 0);
        CHECK_EQ(pybuf_format_compatible(fa, fb), 1);
        pybuf_format_runs *runs = NULL;
        CHECK_OK(pybuf_format_runs_new(fa, &runs));
        pybuf_format_run run;
        int nruns = 0;
        while (pybuf_format_runs_next(runs, &run) == 1)
            ++nruns;
        CHECK(nruns >= 2);
        pybuf_format_runs_free(runs);
        pybuf_format_runs_free(NULL);
    }
    pybuf_format_free(fa);
    pybuf_format_free(fb);
    pybuf_format_free(NULL);
    CHECK(pybuf_format_to_typestr("<d", 8, text, sizeof text) > 0 && strcmp(text, "<f8") == 0);
    CHECK(pybuf_format_to_descr("T{<i:a:}", 4, text, sizeof text) > 0);
    CHECK(pybuf_format_from_typestr("<f8", text, sizeof text) > 0);
    CHECK(pybuf_format_from_descr("[('a', '<i4')]", text, sizeof text) > 0);
    CHECK_FAILED(pybuf_format_from_typestr("<f7", text, sizeof text), PYBUF_STATUS_UNREPRESENTABLE);

    datatype_round(mem);

    /* Large copies use a thread-local staging buffer. */
    big_transpose();
    plan_round_trip();

    /* And an error at the end, readable. */
    CHECK_FAILED(pybuf_get_item(NULL, idx, 0, &val), PYBUF_STATUS_NULL_POINTER);
}

static pthread_key_t key;
static int destructor_runs;

static void key_destructor(void *value) {
    (void)value;
    ++destructor_runs;
    exercise();
}

/* A thread that used pybuf (an error and a streamed copy) before it exits. */
static void *used_thread(void *arg) {
    (void)arg;
    CHECK(pybuf_is_contiguous(NULL, 'C') == 0 && pybuf_last_status() == PYBUF_STATUS_NULL_POINTER);
    big_transpose();
    CHECK(pybuf_size_from_format("T{") == -1 && pybuf_last_status() == PYBUF_STATUS_INVALID_FORMAT);
    pthread_setspecific(key, &key);
    return NULL;
}

/* A thread whose first pybuf call is in its key destructor. */
static void *fresh_thread(void *arg) {
    (void)arg;
    pthread_setspecific(key, &key);
    return NULL;
}

static void at_exit(void) {
    exercise();
    /* A second round: the first one re-created nothing that the second could trip on. */
    exercise();
    int rc = check_report();
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}

int main(void) {
    CHECK_EQ(pthread_key_create(&key, key_destructor), 0);
    void *(*bodies[2])(void *) = {used_thread, fresh_thread};
    for (int k = 0; k < 2; k++) {
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, bodies[k], NULL), 0);
        CHECK_EQ(pthread_join(th, NULL), 0);
    }
    CHECK_EQ(destructor_runs, 2);
    /* The main thread: an error now, the calls in the atexit handler. */
    CHECK(atexit(at_exit) == 0);
    big_transpose();
    CHECK(pybuf_is_contiguous(NULL, 'C') == 0 && pybuf_last_status() == PYBUF_STATUS_NULL_POINTER);
    printf("test_teardown: the atexit handler checks and reports\n");
    return 0; /* at_exit() ends the process with the checks' status */
}
