/* pybuf_fill_contiguous_strides: values in every order, and strides untouched on failure. */
#include <stdint.h>

#include "check.h"

/* Fill `n` strides into a guarded array and compare them with `expected`. */
static void check_fill(int line, int ndim, const pybuf_ssize_t *shape, pybuf_ssize_t itemsize,
                       char order, const pybuf_ssize_t *expected) {
    GUARDED(pybuf_ssize_t, strides, 64);
    int i;
    GUARD_INIT(strides);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_fill_contiguous_strides(ndim, shape, strides, itemsize, order),
                 PYBUF_STATUS_OK);
    for (i = 0; i < ndim; i++) {
        if (strides[i] != expected[i])
            fprintf(stderr, "  (line %d: order '%c', strides[%d])\n", line, order, i);
        CHECK_EQ(strides[i], expected[i]);
    }
    /* nothing written beyond strides[ndim - 1] */
    for (i = ndim; i < 64; i++) {
        const unsigned char *p = (const unsigned char *)&strides[i];
        size_t b;
        for (b = 0; b < sizeof(pybuf_ssize_t); b++)
            CHECK_EQ(p[b], GUARD_BYTE);
    }
    CHECK_GUARDS(strides);
}

/* A failing call leaves a guarded strides array (and its guards) untouched. */
static void check_fail(int ndim, const pybuf_ssize_t *shape, pybuf_ssize_t itemsize, char order,
                       int status) {
    GUARDED(pybuf_ssize_t, strides, 65);
    int i;
    GUARD_INIT(strides);
    for (i = 0; i < 65; i++)
        strides[i] = 1000 + i;
    SNAPSHOT(strides);
    CHECK_STATUS(pybuf_fill_contiguous_strides(ndim, shape, strides, itemsize, order), status);
    CHECK_UNCHANGED(strides);
}

static void three_d_orders(void) {
    pybuf_ssize_t shape[3] = {2, 3, 4};
    pybuf_ssize_t c[3] = {96, 32, 8}, f[3] = {8, 16, 48};
    check_fill(__LINE__, 3, shape, 8, 'C', c);
    check_fill(__LINE__, 3, shape, 8, 'F', f);
    /* 'A' means C, as in CPython */
    check_fill(__LINE__, 3, shape, 8, 'A', c);
}

static void odd_itemsizes(void) {
    pybuf_ssize_t shape[2] = {5, 7};
    pybuf_ssize_t c3[2] = {21, 3}, f3[2] = {3, 15};
    pybuf_ssize_t c1[2] = {7, 1}, f1[2] = {1, 5};
    check_fill(__LINE__, 2, shape, 3, 'C', c3);
    check_fill(__LINE__, 2, shape, 3, 'F', f3);
    check_fill(__LINE__, 2, shape, 1, 'C', c1);
    check_fill(__LINE__, 2, shape, 1, 'F', f1);
}

static void one_d_and_zero_d(void) {
    pybuf_ssize_t shape[1] = {5}, s[1] = {24};
    check_fill(__LINE__, 1, shape, 24, 'C', s);
    check_fill(__LINE__, 1, shape, 24, 'F', s);
    check_fill(__LINE__, 1, shape, 24, 'A', s);
    /* ndim 0: nothing written, NULL pointers allowed */
    check_fill(__LINE__, 0, shape, 8, 'C', NULL);
    PROVOKE_ERROR();
    CHECK_STATUS(pybuf_fill_contiguous_strides(0, NULL, NULL, 8, 'C'), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_fill_contiguous_strides(0, NULL, NULL, 8, 'F'), PYBUF_STATUS_OK);
}

static void zero_size_dims(void) {
    /* CPython multiplies by 0, so every later stride is 0 */
    pybuf_ssize_t shape[3] = {2, 0, 4};
    pybuf_ssize_t c[3] = {0, 32, 8}, f[3] = {8, 16, 0};
    check_fill(__LINE__, 3, shape, 8, 'C', c);
    check_fill(__LINE__, 3, shape, 8, 'F', f);
}

static void max_ndim(void) {
    pybuf_ssize_t shape[64], c[64], f[64];
    int i;
    for (i = 0; i < 64; i++)
        shape[i] = 1;
    shape[0] = 2;
    shape[63] = 3;
    /* C: strides[63] = 4, strides[1..62] = 12, strides[0] = 12
       F: strides[0] = 4, strides[1..62] = 8, strides[63] = 8 */
    for (i = 0; i < 64; i++) {
        c[i] = 12;
        f[i] = 8;
    }
    c[63] = 4;
    f[0] = 4;
    check_fill(__LINE__, 64, shape, 4, 'C', c);
    check_fill(__LINE__, 64, shape, 4, 'F', f);
}

static void bad_ndim(void) {
    pybuf_ssize_t shape[65];
    int i;
    for (i = 0; i < 65; i++)
        shape[i] = 1;
    check_fail(-1, shape, 8, 'C', PYBUF_STATUS_INVALID_NDIM);
    check_fail(65, shape, 8, 'C', PYBUF_STATUS_INVALID_NDIM);
    check_fail(1000, shape, 8, 'F', PYBUF_STATUS_INVALID_NDIM);
}

static void bad_shape(void) {
    pybuf_ssize_t shape[3] = {2, -3, 4};
    check_fail(3, shape, 8, 'C', PYBUF_STATUS_INVALID_SHAPE);
    check_fail(3, shape, 8, 'F', PYBUF_STATUS_INVALID_SHAPE);
    shape[1] = 0;
    shape[2] = -1; /* negative even after a zero */
    check_fail(3, shape, 8, 'C', PYBUF_STATUS_INVALID_SHAPE);
    shape[0] = PTRDIFF_MIN;
    check_fail(1, shape, 8, 'C', PYBUF_STATUS_INVALID_SHAPE);
}

static void bad_itemsize(void) {
    pybuf_ssize_t shape[2] = {2, 3};
    check_fail(2, shape, 0, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
    check_fail(2, shape, -8, 'F', PYBUF_STATUS_INVALID_ITEMSIZE);
    check_fail(2, shape, PTRDIFF_MIN, 'C', PYBUF_STATUS_INVALID_ITEMSIZE);
}

static void bad_order(void) {
    pybuf_ssize_t shape[2] = {2, 3};
    check_fail(2, shape, 8, 'X', PYBUF_STATUS_INVALID_ARGUMENT);
    check_fail(2, shape, 8, 0, PYBUF_STATUS_INVALID_ARGUMENT);
    check_fail(2, shape, 8, 'c', PYBUF_STATUS_INVALID_ARGUMENT);
    check_fail(2, shape, 8, 'f', PYBUF_STATUS_INVALID_ARGUMENT);
    check_fail(0, NULL, 8, 'X', PYBUF_STATUS_INVALID_ARGUMENT);
}

static void overflow(void) {
    pybuf_ssize_t shape[2] = {PTRDIFF_MAX / 2, 4};
    /* product(shape) overflows */
    check_fail(2, shape, 1, 'C', PYBUF_STATUS_OVERFLOW);
    check_fail(2, shape, 1, 'F', PYBUF_STATUS_OVERFLOW);
    /* shape * itemsize overflows */
    check_fail(1, shape, 4, 'C', PYBUF_STATUS_OVERFLOW);
    shape[0] = 3;
    shape[1] = PTRDIFF_MAX / 2;
    check_fail(2, shape, 2, 'C', PYBUF_STATUS_OVERFLOW);
    check_fail(2, shape, 2, 'F', PYBUF_STATUS_OVERFLOW);
}

static void null_pointers(void) {
    pybuf_ssize_t shape[2] = {2, 3};
    GUARDED(pybuf_ssize_t, strides, 2);
    GUARD_INIT(strides);
    SNAPSHOT(strides);
    CHECK_STATUS(pybuf_fill_contiguous_strides(2, NULL, strides, 8, 'C'),
                 PYBUF_STATUS_NULL_POINTER);
    CHECK_UNCHANGED(strides);
    CHECK_STATUS(pybuf_fill_contiguous_strides(2, shape, NULL, 8, 'C'),
                 PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_fill_contiguous_strides(1, NULL, NULL, 8, 'F'),
                 PYBUF_STATUS_NULL_POINTER);
}

int main(void) {
    RUN(three_d_orders);
    RUN(odd_itemsizes);
    RUN(one_d_and_zero_d);
    RUN(zero_size_dims);
    RUN(max_ndim);
    RUN(bad_ndim);
    RUN(bad_shape);
    RUN(bad_itemsize);
    RUN(bad_order);
    RUN(overflow);
    RUN(null_pointers);
    return check_report();
}
