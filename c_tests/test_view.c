/* Derived views: pybuf_slice, pybuf_index, pybuf_subview, pybuf_transpose, pybuf_permute,
   pybuf_cast, pybuf_broadcast, pybuf_broadcast_to; what they own and hold, release in
   every order, and every refusal with its status (dst untouched). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define NONE PYBUF_SLICE_NONE

/* A 3x4 matrix of doubles, m[i][j] = 10 i + j. */
static double m[3][4];

static void fill_matrix(void) {
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            m[i][j] = 10 * i + j;
}

/* dst is filled with 0xAB before each refused call, and must still be afterwards. */
static pybuf_buffer poisoned(void) {
    pybuf_buffer b;
    memset(&b, 0xAB, sizeof b);
    return b;
}

static int untouched(const pybuf_buffer *b) {
    const unsigned char *p = (const unsigned char *)b;
    size_t i;
    for (i = 0; i < sizeof *b; i++)
        if (p[i] != 0xAB)
            return 0;
    return 1;
}

/* `call` (which writes into `d`) fails with `status`, and `d` is untouched. */
#define CHECK_REFUSED(d, call, status)                                                     \
    do {                                                                                   \
        d = poisoned();                                                                    \
        CHECK_STATUS(call, status);                                                        \
        CHECK(untouched(&d));                                                              \
    } while (0)

/* The element (i, j) of a 2-D view is at `expected`. */
static void check_at2(const pybuf_buffer *v, pybuf_ssize_t i, pybuf_ssize_t j, const void *expected) {
    pybuf_ssize_t ix[2];
    ix[0] = i;
    ix[1] = j;
    CHECK_PTR_EQ(pybuf_get_pointer(v, ix), expected);
}

static void check_shape2(const pybuf_buffer *v, pybuf_ssize_t n0, pybuf_ssize_t n1) {
    CHECK_EQ(v->ndim, 2);
    CHECK_EQ(v->shape[0], n0);
    CHECK_EQ(v->shape[1], n1);
    CHECK_EQ(v->len, n0 * n1 * v->itemsize);
}

static void slices(void) {
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d, e;
    pybuf_ssize_t i, j;
    fill_matrix();
    src.format = (char *)"d";
    /* [::-1, 1::2] */
    CHECK_STATUS(pybuf_slice(&d, &src, 0, NONE, NONE, -1), 0);
    CHECK_STATUS(pybuf_slice(&e, &d, 1, 1, NONE, 2), 0);
    check_shape2(&e, 3, 2);
    CHECK_EQ(e.strides[0], -32);
    CHECK_EQ(e.strides[1], 16);
    CHECK_STR_EQ(e.format, "d");
    CHECK(e.format != src.format); /* a copy owned by the view */
    CHECK_PTR_EQ(e.obj, NULL);
    CHECK_PTR_EQ(e.suboffsets, NULL);
    CHECK_EQ(e.readonly, 0);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 2; j++)
            check_at2(&e, i, j, &m[2 - i][1 + 2 * j]);
    /* Python's clamping: [-100:100:3] in dim 1 is [0, 3]; [10::-2] in dim 0 is [2, 0] */
    pybuf_release(&e);
    CHECK_STATUS(pybuf_slice(&e, &src, 1, -100, 100, 3), 0);
    check_shape2(&e, 3, 2);
    check_at2(&e, 1, 1, &m[1][3]);
    pybuf_release(&e);
    CHECK_STATUS(pybuf_slice(&e, &src, 0, 10, NONE, -2), 0);
    check_shape2(&e, 2, 4);
    check_at2(&e, 1, 2, &m[0][2]);
    pybuf_release(&e);
    /* an empty slice moves buf by stride * start, as CPython does */
    CHECK_STATUS(pybuf_slice(&e, &src, 1, 3, 1, NONE), 0);
    check_shape2(&e, 3, 0);
    CHECK_PTR_EQ(e.buf, &m[0][3]);
    pybuf_release(&e);
    pybuf_release(&d);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void index_and_subview(void) {
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_ssize_t start[2] = {1, 1}, size[2] = {2, 3};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d, e;
    pybuf_ssize_t j, ix[1];
    fill_matrix();
    /* column -1, then row 2 of that: a 0-d view of m[2][3] */
    CHECK_STATUS(pybuf_index(&d, &src, 1, -1), 0);
    CHECK_EQ(d.ndim, 1);
    CHECK_EQ(d.shape[0], 3);
    CHECK_EQ(d.strides[0], 32);
    for (j = 0; j < 3; j++) {
        ix[0] = j;
        CHECK_PTR_EQ(pybuf_get_pointer(&d, ix), &m[j][3]);
    }
    CHECK_STATUS(pybuf_index(&e, &d, 0, 2), 0);
    CHECK_EQ(e.ndim, 0);
    CHECK_PTR_EQ(e.shape, NULL);
    CHECK_PTR_EQ(e.strides, NULL);
    CHECK_EQ(e.len, 8);
    CHECK_PTR_EQ(e.buf, &m[2][3]);
    CHECK_PTR_EQ(pybuf_get_pointer(&e, NULL), &m[2][3]);
    pybuf_release(&e);
    pybuf_release(&d);
    /* the 2x3 block at (1, 1) */
    CHECK_STATUS(pybuf_subview(&d, &src, start, size), 0);
    check_shape2(&d, 2, 3);
    check_at2(&d, 0, 0, &m[1][1]);
    check_at2(&d, 1, 2, &m[2][3]);
    pybuf_release(&d);
}

static void transpose_and_permute(void) {
    static int32_t a[2][3][4];
    pybuf_ssize_t shape[3] = {2, 3, 4};
    pybuf_buffer src = make_view(a, 4, 3, shape, NULL, NULL), d;
    int axes[3] = {1, 2, 0};
    pybuf_ssize_t ix[3] = {3, 2, 1}, jx[3] = {2, 3, 1};
    CHECK_STATUS(pybuf_transpose(&d, &src), 0);
    CHECK_EQ(d.ndim, 3);
    CHECK_EQ(d.shape[0], 4);
    CHECK_EQ(d.shape[2], 2);
    CHECK_EQ(d.strides[0], 4);
    CHECK_EQ(d.strides[2], 48);
    CHECK_PTR_EQ(pybuf_get_pointer(&d, ix), &a[1][2][3]);
    CHECK_EQ(pybuf_is_contiguous(&d, 'F'), 1);
    pybuf_release(&d);
    CHECK_STATUS(pybuf_permute(&d, &src, axes), 0);
    CHECK_EQ(d.shape[0], 3);
    CHECK_EQ(d.shape[1], 4);
    CHECK_EQ(d.shape[2], 2);
    CHECK_PTR_EQ(pybuf_get_pointer(&d, jx), &a[1][2][3]);
    pybuf_release(&d);
}

static void casts(void) {
    static unsigned char bytes[24];
    pybuf_ssize_t n = 24, shape[3] = {2, 3, 2}, flat[2] = {3, 4};
    pybuf_buffer src = make_view(bytes, 1, 1, &n, NULL, NULL), d, e, f;
    CHECK_STATUS(pybuf_cast(&d, &src, "d", -1, NULL), 0); /* memoryview.cast('d') */
    CHECK_EQ(d.ndim, 1);
    CHECK_EQ(d.shape[0], 3);
    CHECK_EQ(d.itemsize, 8);
    CHECK_STR_EQ(d.format, "d");
    CHECK_STATUS(pybuf_cast(&e, &d, "<h", 3, shape), 0); /* N-D, non-byte to non-byte */
    CHECK_EQ(e.ndim, 3);
    CHECK_EQ(e.strides[0], 12);
    CHECK_EQ(e.strides[2], 2);
    CHECK_STR_EQ(e.format, "<h");
    CHECK_STATUS(pybuf_cast(&f, &e, NULL, 2, flat), 0); /* a reshape: N-D to N-D */
    CHECK_EQ(f.itemsize, 2);
    CHECK_STR_EQ(f.format, "<h");
    CHECK_EQ(f.strides[0], 8);
    pybuf_release(&f);
    CHECK_REFUSED(f, pybuf_cast(&f, &e, "T{ii}", 0, NULL), PYBUF_STATUS_LENGTH_MISMATCH);
    pybuf_release(&e);
    pybuf_release(&d);
    /* a 0-d cast of exactly one item */
    src.len = 8;
    n = 8;
    CHECK_STATUS(pybuf_cast(&d, &src, "@q", 0, NULL), 0);
    CHECK_EQ(d.ndim, 0);
    CHECK_EQ(d.len, 8);
    CHECK_STR_EQ(d.format, "@q");
    pybuf_release(&d);
    /* a reshape keeps a NULL format NULL */
    flat[0] = 2;
    flat[1] = 4;
    CHECK_STATUS(pybuf_cast(&d, &src, NULL, 2, flat), 0);
    CHECK_PTR_EQ(d.format, NULL);
    CHECK_EQ(d.itemsize, 1);
    CHECK_EQ(d.strides[0], 4);
    pybuf_release(&d);
}

static void broadcasts(void) {
    static double row[3] = {1, 2, 3};
    pybuf_ssize_t shape[2] = {1, 3}, target[3] = {2, 4, 3};
    pybuf_buffer src = make_view(row, 8, 2, shape, NULL, NULL), d, e;
    pybuf_ssize_t ix[3] = {1, 3, 2};
    CHECK_STATUS(pybuf_broadcast(&d, &src, 0, 5), 0);
    check_shape2(&d, 5, 3);
    CHECK_EQ(d.strides[0], 0);
    CHECK_EQ(d.readonly, 1);
    check_at2(&d, 4, 1, &row[1]);
    CHECK_STATUS(pybuf_broadcast_to(&e, &src, 3, target), 0);
    CHECK_EQ(e.ndim, 3);
    CHECK_EQ(e.strides[0], 0);
    CHECK_EQ(e.strides[1], 0);
    CHECK_EQ(e.strides[2], 8);
    CHECK_PTR_EQ(pybuf_get_pointer(&e, ix), &row[2]);
    /* a broadcast view is read-only: pybuf_copy into it is refused */
    CHECK_STATUS(pybuf_copy(&e, &e), PYBUF_STATUS_READ_ONLY);
    pybuf_release(&e);
    pybuf_release(&d);
}

/* A PIL-style 3x4 int32 image: row pointers, rows elsewhere (in reverse order), each
   starting 8 bytes after the pointer stored for it. */
static int32_t rows_mem[3][2 + 4];
static int32_t *row_ptrs[3];

static pybuf_buffer pil_view(pybuf_ssize_t *shape, pybuf_ssize_t *strides, pybuf_ssize_t *subs) {
    int i, j;
    for (i = 0; i < 3; i++) {
        row_ptrs[i] = rows_mem[2 - i];
        for (j = 0; j < 4; j++)
            rows_mem[2 - i][2 + j] = 10 * i + j;
    }
    shape[0] = 3;
    shape[1] = 4;
    strides[0] = (pybuf_ssize_t)sizeof(int32_t *);
    strides[1] = 4;
    subs[0] = 8;
    subs[1] = -1;
    return make_view(row_ptrs, 4, 2, shape, strides, subs);
}

static void suboffsets(void) {
    pybuf_ssize_t shape[2], strides[2], subs[2];
    pybuf_buffer src = pil_view(shape, strides, subs), d, e;
    int swap[2] = {1, 0};
    pybuf_ssize_t i, j, ix[1];
    /* [::2, 1:] : the column start goes into suboffsets[0], the row start into buf */
    CHECK_STATUS(pybuf_slice(&d, &src, 1, 1, NONE, NONE), 0);
    CHECK_EQ(d.suboffsets[0], 12);
    CHECK_EQ(d.suboffsets[1], -1);
    CHECK_PTR_EQ(d.buf, row_ptrs);
    CHECK_STATUS(pybuf_slice(&e, &d, 0, NONE, NONE, 2), 0);
    check_shape2(&e, 2, 3);
    for (i = 0; i < 2; i++)
        for (j = 0; j < 3; j++)
            check_at2(&e, i, j, &rows_mem[2 - 2 * i][3 + j]);
    pybuf_release(&e);
    /* a row: the pointer is read, as _testbuffer reads it */
    CHECK_STATUS(pybuf_index(&e, &d, 0, 1), 0);
    CHECK_EQ(e.ndim, 1);
    CHECK_PTR_EQ(e.buf, &rows_mem[1][3]);
    CHECK(e.suboffsets != NULL && e.suboffsets[0] == -1);
    ix[0] = 2;
    CHECK_PTR_EQ(pybuf_get_pointer(&e, ix), &rows_mem[1][5]);
    pybuf_release(&e);
    /* a column: no pointer read, the offset goes into suboffsets[0] */
    CHECK_STATUS(pybuf_index(&e, &d, 1, 2), 0);
    CHECK_EQ(e.suboffsets[0], 20);
    ix[0] = 0;
    CHECK_PTR_EQ(pybuf_get_pointer(&e, ix), &rows_mem[2][5]);
    pybuf_release(&e);
    /* a transpose would move a dimension across the pointer read */
    CHECK_REFUSED(e, pybuf_transpose(&e, &d), PYBUF_STATUS_BUFFER_REQUEST);
    CHECK_REFUSED(e, pybuf_permute(&e, &d, swap), PYBUF_STATUS_BUFFER_REQUEST);
    CHECK_REFUSED(e, pybuf_cast(&e, &d, "B", -1, NULL), PYBUF_STATUS_BUFFER_REQUEST);
    pybuf_release(&d);
    /* two pointer reads in a row cannot be merged by indexing the second */
    subs[1] = 0;
    CHECK_REFUSED(e, pybuf_index(&e, &src, 1, 0), PYBUF_STATUS_BUFFER_REQUEST);
}

/* --- ownership -------------------------------------------------------------------- */

static int owner_calls;
static void owner(void *user) {
    (void)user;
    owner_calls++;
}

/* Derive three times from an exporter's view and release the four views in the order
   `order` (a permutation of 0..3): the exporter counts every live view, the memory stays
   until the last release, and the owner runs exactly once. */
static void release_in_order(const int order[4]) {
    static double mem[12];
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_exporter_desc desc;
    pybuf_exporter *ex;
    pybuf_buffer v[4];
    int k;
    memset(&desc, 0, sizeof desc);
    desc.buf = mem;
    desc.len = sizeof mem;
    desc.format = "d";
    desc.ndim = 2;
    desc.shape = shape;
    owner_calls = 0;
    CHECK_STATUS(pybuf_exporter_new(&desc, owner, NULL, &ex), 0);
    CHECK_STATUS(pybuf_exporter_get_buffer(ex, &v[0], PYBUF_FULL), 0);
    CHECK_STATUS(pybuf_slice(&v[1], &v[0], 1, NONE, NONE, -1), 0);
    CHECK_STATUS(pybuf_transpose(&v[2], &v[1]), 0);
    CHECK_STATUS(pybuf_index(&v[3], &v[2], 1, 2), 0);
    CHECK_PTR_EQ(v[3].buf, &mem[2 * 4 + 3]);
    CHECK_EQ(pybuf_exporter_exports(ex), 4);
    CHECK_STATUS(pybuf_exporter_replace(ex, &desc), PYBUF_STATUS_EXPORTS_EXIST);
    pybuf_exporter_free(ex);
    for (k = 0; k < 4; k++) {
        CHECK_EQ(owner_calls, 0);
        pybuf_release(&v[order[k]]);
        CHECK_LAST(PYBUF_STATUS_OK);
        pybuf_release(&v[order[k]]); /* twice: a no-op */
        CHECK_LAST(PYBUF_STATUS_OK);
    }
    CHECK_EQ(owner_calls, 1);
}

static void release_orders(void) {
    int order[4], a, b, c, d, n = 0;
    for (a = 0; a < 4; a++)
        for (b = 0; b < 4; b++)
            for (c = 0; c < 4; c++)
                for (d = 0; d < 4; d++) {
                    if (a == b || a == c || a == d || b == c || b == d || c == d)
                        continue;
                    order[0] = a;
                    order[1] = b;
                    order[2] = c;
                    order[3] = d;
                    release_in_order(order);
                    n++;
                }
    CHECK_EQ(n, 24);
}

static void foreign_sources(void) {
    /* a view pybuf did not fill: nothing is held, derived views are released alone */
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), a, b, c, copy;
    CHECK_STATUS(pybuf_slice(&a, &src, 0, 1, NONE, NONE), 0);
    CHECK_STATUS(pybuf_slice(&b, &a, 1, NONE, NONE, 3), 0);
    CHECK_STATUS(pybuf_broadcast_to(&c, &b, 3, (pybuf_ssize_t[]){5, 2, 2}), 0);
    pybuf_release(&b);
    CHECK_EQ(c.shape[0], 5); /* c owns its arrays: b's release does not touch them */
    check_at2(&a, 1, 3, &m[2][3]);
    /* a copy of a derived view (another address) cannot release it */
    copy = c;
    pybuf_release(&copy);
    CHECK_LAST(PYBUF_STATUS_FOREIGN_VIEW);
    pybuf_release(&c);
    pybuf_release(&a);
    CHECK_LAST(PYBUF_STATUS_OK);
    /* from pybuf_fill_info and pybuf_fill_view views */
    CHECK_STATUS(pybuf_fill_info(&src, NULL, m, sizeof m, 1, PYBUF_FULL_RO), 0);
    CHECK_STATUS(pybuf_cast(&a, &src, "d", 2, shape), 0);
    CHECK_EQ(a.readonly, 1);
    pybuf_release(&src);
    check_at2(&a, 2, 1, &m[2][1]);
    pybuf_release(&a);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void deep_chains(void) {
    /* derive 200 times, each from the previous, then release from the first */
    static pybuf_buffer v[201];
    pybuf_ssize_t shape[1] = {64};
    static unsigned char bytes[64];
    int k;
    v[0] = make_view(bytes, 1, 1, shape, NULL, NULL);
    for (k = 1; k <= 200; k++)
        CHECK_STATUS(pybuf_slice(&v[k], &v[k - 1], 0, NONE, NONE, -1), 0);
    CHECK_PTR_EQ(v[200].buf, bytes);
    CHECK_EQ(v[199].strides[0], -1);
    for (k = 1; k <= 200; k++)
        pybuf_release(&v[k]);
    CHECK_LAST(PYBUF_STATUS_OK);
}

/* --- refusals ---------------------------------------------------------------------- */

static void refusals_common(void) {
    pybuf_ssize_t shape[2] = {3, 4}, bad[2] = {3, -4};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d, released;
    CHECK_REFUSED(d, pybuf_slice(&d, NULL, 0, 0, 1, 1), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_slice(NULL, &src, 0, 0, 1, 1), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_slice(&src, &src, 0, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    /* malformed sources, as pybuf_is_contiguous reports them */
    src.ndim = 65;
    CHECK_REFUSED(d, pybuf_transpose(&d, &src), PYBUF_STATUS_INVALID_NDIM);
    src.ndim = 2;
    src.shape = bad;
    CHECK_REFUSED(d, pybuf_transpose(&d, &src), PYBUF_STATUS_INVALID_SHAPE);
    src.shape = shape;
    src.itemsize = 0;
    CHECK_REFUSED(d, pybuf_transpose(&d, &src), PYBUF_STATUS_INVALID_ITEMSIZE);
    src.itemsize = 8;
    src.len = 95;
    CHECK_REFUSED(d, pybuf_transpose(&d, &src), PYBUF_STATUS_LENGTH_MISMATCH);
    src.len = 96;
    src.readonly = 2;
    CHECK_REFUSED(d, pybuf_transpose(&d, &src), PYBUF_STATUS_INVALID_ARGUMENT);
    src.readonly = 0;
    /* a released source */
    CHECK_STATUS(pybuf_fill_info(&released, NULL, m, 96, 0, PYBUF_FULL), 0);
    pybuf_release(&released);
    CHECK_REFUSED(d, pybuf_slice(&d, &released, 0, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_transpose(&d, &src), 0);
    pybuf_release(&d);
}

static void refusals_slice_index_subview(void) {
    pybuf_ssize_t shape[2] = {3, 4}, start[2] = {1, 1}, size[2] = {2, 3};
    pybuf_ssize_t one[1] = {2}, huge[1] = {PTRDIFF_MAX / 2 + 1};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d, wide;
    CHECK_REFUSED(d, pybuf_slice(&d, &src, 2, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_REFUSED(d, pybuf_slice(&d, &src, -1, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_REFUSED(d, pybuf_slice(&d, &src, 0, 0, 1, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    /* an empty slice whose start offset overflows: 2 * (PTRDIFF_MAX / 2 + 1) */
    wide = make_view(m, 1, 1, one, huge, NULL);
    CHECK_REFUSED(d, pybuf_slice(&d, &wide, 0, 5, NONE, NONE), PYBUF_STATUS_OVERFLOW);
    CHECK_REFUSED(d, pybuf_index(&d, &src, 2, 0), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_REFUSED(d, pybuf_index(&d, &src, 0, 3), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_REFUSED(d, pybuf_index(&d, &src, 1, -5), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK(strcmp(pybuf_last_error(), "index = -5 is out of range for shape[1] = 4") == 0);
    CHECK_REFUSED(d, pybuf_subview(&d, &src, NULL, size), PYBUF_STATUS_NULL_POINTER);
    CHECK_REFUSED(d, pybuf_subview(&d, &src, start, NULL), PYBUF_STATUS_NULL_POINTER);
    size[1] = -1;
    CHECK_REFUSED(d, pybuf_subview(&d, &src, start, size), PYBUF_STATUS_INVALID_SHAPE);
    size[1] = 4;
    CHECK_REFUSED(d, pybuf_subview(&d, &src, start, size), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    size[1] = 3;
    start[0] = -1;
    CHECK_REFUSED(d, pybuf_subview(&d, &src, start, size), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
}

static void refusals_permute_broadcast(void) {
    pybuf_ssize_t shape[2] = {3, 4}, target[2] = {3, 5}, neg[2] = {-1, 4};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d;
    int out_of_range[2] = {0, 2}, repeated[2] = {1, 1};
    CHECK_REFUSED(d, pybuf_permute(&d, &src, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_REFUSED(d, pybuf_permute(&d, &src, out_of_range), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_REFUSED(d, pybuf_permute(&d, &src, repeated), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(pybuf_last_error(), "axes[1] = 1 repeats axes[0]") == 0);
    CHECK_REFUSED(d, pybuf_broadcast(&d, &src, 2, 5), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK_REFUSED(d, pybuf_broadcast(&d, &src, 0, -1), PYBUF_STATUS_INVALID_SHAPE);
    CHECK_REFUSED(d, pybuf_broadcast(&d, &src, 0, 5), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK_REFUSED(d, pybuf_broadcast_to(&d, &src, 2, target), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK_REFUSED(d, pybuf_broadcast_to(&d, &src, 1, target), PYBUF_STATUS_SHAPE_MISMATCH);
    CHECK_REFUSED(d, pybuf_broadcast_to(&d, &src, 2, neg), PYBUF_STATUS_INVALID_SHAPE);
    CHECK_REFUSED(d, pybuf_broadcast_to(&d, &src, 65, target), PYBUF_STATUS_INVALID_NDIM);
    CHECK_REFUSED(d, pybuf_broadcast_to(&d, &src, 2, NULL), PYBUF_STATUS_NULL_POINTER);
}

static void refusals_cast(void) {
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {64, 8}, s[2] = {4, 4}, neg[2] = {-3, -4};
    pybuf_ssize_t big[2] = {PTRDIFF_MAX / 4, 8};
    pybuf_buffer src = make_view(m, 8, 2, shape, NULL, NULL), d;
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", 2, s), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK(strcmp(pybuf_last_error(),
                 "product(shape) * itemsize = 16 * 8 = 128 but the source's len = 96") == 0);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "5s", -1, NULL), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", -2, s), PYBUF_STATUS_INVALID_NDIM);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", 65, s), PYBUF_STATUS_INVALID_NDIM);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", 2, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", 2, neg), PYBUF_STATUS_INVALID_SHAPE);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "d", 2, big), PYBUF_STATUS_OVERFLOW);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "T{i", -1, NULL), PYBUF_STATUS_INVALID_FORMAT);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "t", -1, NULL), PYBUF_STATUS_UNSUPPORTED_FORMAT);
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "0i", -1, NULL), PYBUF_STATUS_INVALID_ITEMSIZE);
    src.strides = strides; /* every other row of a 6x4 array: not C-contiguous */
    CHECK_REFUSED(d, pybuf_cast(&d, &src, "B", -1, NULL), PYBUF_STATUS_BUFFER_REQUEST);
}

/* Regression (found by the views fuzz target): moving a group's suboffset below 0 would
   make PEP 3118 read it as "no pointer", so the derived view would address the pointer
   table itself. It is refused, whichever derivation moves it. */
static void negative_suboffsets_refused(void) {
    char row[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    char *table[1];
    pybuf_ssize_t shape[2] = {1, 4}, strides[2] = {(pybuf_ssize_t)sizeof(char *), -1}, subs[2] = {2, -1};
    pybuf_ssize_t ix[2] = {0, 3}, start[2] = {0, 3}, sub_shape[2] = {1, 1};
    pybuf_buffer v, d;
    table[0] = row + 4; /* elements v[0, j] = row[6 - j] */
    memset(&v, 0, sizeof v);
    v.buf = table;
    v.len = 4;
    v.itemsize = 1;
    v.ndim = 2;
    v.readonly = 1;
    v.shape = shape;
    v.strides = strides;
    v.suboffsets = subs;
    CHECK_PTR_EQ(pybuf_get_pointer(&v, ix), &row[3]);
    CHECK_REFUSED(d, pybuf_index(&d, &v, 1, 3), PYBUF_STATUS_BUFFER_REQUEST);
    CHECK(strstr(pybuf_last_error(), "would be negative") != NULL);
    CHECK_REFUSED(d, pybuf_slice(&d, &v, 1, 3, NONE, NONE), PYBUF_STATUS_BUFFER_REQUEST);
    CHECK_REFUSED(d, pybuf_subview(&d, &v, start, sub_shape), PYBUF_STATUS_BUFFER_REQUEST);
    /* a shift that keeps it non-negative is fine: v[:, 2] is row[4] */
    CHECK_STATUS(pybuf_index(&d, &v, 1, 2), PYBUF_STATUS_OK);
    ix[0] = 0;
    CHECK_PTR_EQ(pybuf_get_pointer(&d, ix), &row[4]);
    pybuf_release(&d);
}

/* Regression (found by the views fuzz target): broadcasting a view that has a zero-length
   dimension to a huge length: product(shape) is 0, not an overflow. */
static void broadcast_of_an_empty_view(void) {
    double m[4];
    pybuf_ssize_t shape[4] = {1, (pybuf_ssize_t)1 << 40, 2, 0}, strides[4] = {8, 0, 8, 8};
    pybuf_buffer v, d;
    memset(&v, 0, sizeof v);
    v.buf = m;
    v.itemsize = 8;
    v.ndim = 4;
    v.readonly = 1;
    v.shape = shape;
    v.strides = strides;
    CHECK_STATUS(pybuf_broadcast(&d, &v, 0, (pybuf_ssize_t)1 << 40), PYBUF_STATUS_OK);
    CHECK_EQ(d.len, 0);
    CHECK_EQ(d.shape[0], (pybuf_ssize_t)1 << 40);
    CHECK_EQ(d.strides[0], 0);
    CHECK_EQ(pybuf_is_contiguous(&d, 'C'), 1);
    pybuf_release(&d);
    CHECK_LAST(PYBUF_STATUS_OK);
}

static void new_statuses(void) {
    CHECK_EQ(PYBUF_STATUS_TYPE_MISMATCH, -24);
    CHECK_EQ(PYBUF_STATUS_VALUE_OUT_OF_RANGE, -25);
    CHECK_EQ(PYBUF_STATUS_VALUE_MISMATCH, -26);
    CHECK_STR_EQ(pybuf_status_name(-24), "PYBUF_STATUS_TYPE_MISMATCH");
    CHECK_STR_EQ(pybuf_status_name(-25), "PYBUF_STATUS_VALUE_OUT_OF_RANGE");
    CHECK_STR_EQ(pybuf_status_name(-26), "PYBUF_STATUS_VALUE_MISMATCH");
    CHECK(PYBUF_SLICE_NONE == PTRDIFF_MIN);
}

int main(void) {
    RUN(slices);
    RUN(index_and_subview);
    RUN(transpose_and_permute);
    RUN(casts);
    RUN(broadcasts);
    RUN(suboffsets);
    RUN(release_orders);
    RUN(foreign_sources);
    RUN(deep_chains);
    RUN(refusals_common);
    RUN(refusals_slice_index_subview);
    RUN(refusals_permute_broadcast);
    RUN(refusals_cast);
    RUN(negative_suboffsets_refused);
    RUN(broadcast_of_an_empty_view);
    RUN(new_statuses);
    return check_report();
}
