/* pybuf_get_pointer: strided, negative-stride, 0-d and suboffset (PIL-style) views. */
#include <stdint.h>

#include "check.h"

static double mem[64];

/* get_pointer(view, indices) is `expected`, with success recorded after a failure. */
#define CHECK_GP(view, indices, expected)                                                  \
    do {                                                                                   \
        PROVOKE_ERROR();                                                                   \
        CHECK_PTR_EQ(pybuf_get_pointer(&(view), (indices)), (expected));                   \
        CHECK_LAST(PYBUF_STATUS_OK);                                                       \
    } while (0)

/* get_pointer fails with NULL and `status`. */
#define CHECK_GP_FAILS(view_ptr, indices, status)                                          \
    do {                                                                                   \
        CHECK_PTR_EQ(pybuf_get_pointer((view_ptr), (indices)), NULL);                      \
        CHECK_LAST(status);                                                                \
    } while (0)

static void c_contiguous(void) {
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {32, 8};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    pybuf_ssize_t i, j, ix[2];
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &mem[i * 4 + j]);
        }
    /* NULL strides: C-contiguous */
    v.strides = NULL;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &mem[i * 4 + j]);
        }
}

static void f_contiguous_and_strided(void) {
    /* 3x4 in F order: element (i, j) at i + 3 * j. */
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {8, 24};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    pybuf_ssize_t i, j, ix[2];
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &mem[i + 3 * j]);
        }
    /* every other column of a 3x8 int32 array, itemsize 4: (i, j) at 8i + 2j ints */
    {
        int32_t *ints = (int32_t *)(void *)mem;
        pybuf_ssize_t s2[2] = {32, 8};
        pybuf_buffer w = make_view(ints, 4, 2, shape, s2, NULL);
        for (i = 0; i < 3; i++)
            for (j = 0; j < 4; j++) {
                ix[0] = i;
                ix[1] = j;
                CHECK_GP(w, ix, &ints[8 * i + 2 * j]);
            }
    }
}

static void negative_strides(void) {
    /* rows reversed: buf is row 2 of a 3x4 array */
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {-32, 8}, both[2] = {-32, -8};
    pybuf_buffer v = make_view(&mem[8], 8, 2, shape, strides, NULL);
    pybuf_ssize_t i, j, ix[2];
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &mem[(2 - i) * 4 + j]);
        }
    /* both reversed: buf is the last element */
    v.buf = &mem[11];
    v.strides = both;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &mem[(2 - i) * 4 + (3 - j)]);
        }
}

static void zero_stride(void) {
    /* a broadcast row: every (i, j) is column j of the same row */
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {0, 8};
    pybuf_buffer v = make_view(&mem[4], 8, 2, shape, strides, NULL);
    pybuf_ssize_t ix[2] = {2, 3};
    CHECK_GP(v, ix, &mem[7]);
    ix[0] = 1;
    ix[1] = 0;
    CHECK_GP(v, ix, &mem[4]);
}

static void one_d_null_shape(void) {
    /* ndim 1 with NULL shape (a PYBUF_SIMPLE answer): len unsigned bytes, itemsize
       disregarded (PEP 3118) */
    pybuf_buffer v = make_view(mem, 8, 0, NULL, NULL, NULL);
    pybuf_ssize_t ix[1] = {4};
    v.ndim = 1;
    v.len = 40;
    CHECK_GP(v, ix, (char *)mem + 4);
    ix[0] = 39;
    CHECK_GP(v, ix, (char *)mem + 39);
    ix[0] = 40;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INDEX_OUT_OF_RANGE);
}

static void zero_d(void) {
    pybuf_buffer v = make_view(&mem[3], 8, 0, NULL, NULL, NULL);
    pybuf_ssize_t unused[1] = {99};
    CHECK_GP(v, NULL, &mem[3]);
    /* non-NULL indices are not read for ndim 0 */
    CHECK_GP(v, unused, &mem[3]);
}

static void suboffsets_pil(void) {
    /* A PIL-style 3x4 int32 image: buf is an array of row pointers, each row lives
       elsewhere (here in reverse order of memory) and starts 8 bytes after the pointer
       stored for it (a row header). */
    static int32_t rows_mem[3][2 + 4];
    int32_t *row_ptrs[3];
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_ssize_t strides[2] = {(pybuf_ssize_t)sizeof(int32_t *), 4};
    pybuf_ssize_t subs[2] = {8, -1};
    pybuf_buffer v;
    pybuf_ssize_t i, j, ix[2];
    for (i = 0; i < 3; i++)
        row_ptrs[i] = rows_mem[2 - i];
    v = make_view(row_ptrs, 4, 2, shape, strides, subs);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &rows_mem[2 - i][2 + j]);
        }
    /* suboffset 0 */
    subs[0] = 0;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++) {
            ix[0] = i;
            ix[1] = j;
            CHECK_GP(v, ix, &rows_mem[2 - i][j]);
        }
    /* a negative suboffset everywhere means no dereference at all */
    subs[0] = -1;
    ix[0] = 2;
    ix[1] = 1;
    CHECK_GP(v, ix, (char *)row_ptrs + 2 * sizeof(int32_t *) + 4);
}

static void suboffsets_last_dim(void) {
    /* A 1-D array of pointers to items: suboffset in the last (only) dimension. */
    static double items[3] = {1.0, 2.0, 3.0};
    double *ptrs[3];
    pybuf_ssize_t shape[1] = {3};
    pybuf_ssize_t strides[1] = {(pybuf_ssize_t)sizeof(double *)};
    pybuf_ssize_t subs[1] = {0};
    pybuf_buffer v;
    pybuf_ssize_t ix[1];
    ptrs[0] = &items[2];
    ptrs[1] = &items[0];
    ptrs[2] = &items[1];
    v = make_view(ptrs, 8, 1, shape, strides, subs);
    ix[0] = 0;
    CHECK_GP(v, ix, &items[2]);
    ix[0] = 1;
    CHECK_GP(v, ix, &items[0]);
    ix[0] = 2;
    CHECK_GP(v, ix, &items[1]);
}

static void out_of_range(void) {
    pybuf_ssize_t shape[2] = {3, 4};
    pybuf_buffer v = make_view(mem, 8, 2, shape, NULL, NULL);
    pybuf_ssize_t bad[][2] = {{3, 0}, {0, 4}, {-1, 0}, {0, -1}, {PTRDIFF_MAX, 0},
                              {PTRDIFF_MIN, PTRDIFF_MIN}};
    size_t k;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK_GP_FAILS(&v, bad[k], PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    /* a zero-size dimension has no valid index */
    shape[1] = 0;
    v.len = 0;
    {
        pybuf_ssize_t ix[2] = {0, 0};
        CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    }
}

static void null_arguments(void) {
    pybuf_ssize_t shape[2] = {3, 4}, ix[2] = {0, 0};
    pybuf_buffer v = make_view(mem, 8, 2, shape, NULL, NULL);
    CHECK_GP_FAILS(NULL, ix, PYBUF_STATUS_NULL_POINTER);
    CHECK_GP_FAILS(&v, NULL, PYBUF_STATUS_NULL_POINTER);
    v.buf = NULL;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_NULL_POINTER);
}

static void malformed_views(void) {
    pybuf_ssize_t shape[65], strides[65], ix[65];
    pybuf_buffer v;
    int i;
    for (i = 0; i < 65; i++) {
        shape[i] = 1;
        strides[i] = 8;
        ix[i] = 0;
    }
    v = make_view(mem, 8, 64, shape, strides, NULL);
    CHECK_GP(v, ix, mem); /* 64 dimensions are fine */
    v.ndim = 65;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_NDIM);
    v.ndim = -1;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_NDIM);

    shape[0] = 2;
    shape[1] = -1;
    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.len = 16;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_SHAPE);
    shape[1] = 1;
    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.shape = NULL;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_SHAPE);

    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.itemsize = 0;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = -8;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_ITEMSIZE);

    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.len = 15;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_LENGTH_MISMATCH);

    shape[0] = PTRDIFF_MAX / 2;
    shape[1] = 4;
    v = make_view(mem, 1, 2, shape, NULL, NULL);
    v.len = 0;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_OVERFLOW);

    shape[0] = 2;
    shape[1] = 2;
    strides[0] = PTRDIFF_MAX;
    v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_OVERFLOW);

    strides[0] = 16;
    v = make_view(mem, 8, 2, shape, strides, NULL);
    v.readonly = -1;
    CHECK_GP_FAILS(&v, ix, PYBUF_STATUS_INVALID_ARGUMENT);
}

int main(void) {
    RUN(c_contiguous);
    RUN(f_contiguous_and_strided);
    RUN(negative_strides);
    RUN(zero_stride);
    RUN(one_d_null_shape);
    RUN(zero_d);
    RUN(suboffsets_pil);
    RUN(suboffsets_last_dim);
    RUN(out_of_range);
    RUN(null_arguments);
    RUN(malformed_views);
    return check_report();
}
