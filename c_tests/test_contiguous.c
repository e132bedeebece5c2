/* pybuf_is_contiguous: every order, every kind of view, and malformed views. */
#include <limits.h>
#include <stdint.h>

#include "check.h"
#include "pybuf.h" /* a second time, on purpose: the include guard must work */

/* Check the three orders, and that each call records success. */
#define CHECK_CFA(view, c, f, a)                                                           \
    do {                                                                                   \
        PROVOKE_ERROR();                                                                   \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'C'), (c));                                  \
        CHECK_LAST(PYBUF_STATUS_OK);                                                       \
        PROVOKE_ERROR();                                                                   \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'F'), (f));                                  \
        CHECK_LAST(PYBUF_STATUS_OK);                                                       \
        PROVOKE_ERROR();                                                                   \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'A'), (a));                                  \
        CHECK_LAST(PYBUF_STATUS_OK);                                                       \
    } while (0)

/* A malformed view: 0 for every order, with `status` recorded. */
#define CHECK_MALFORMED(view, status)                                                      \
    do {                                                                                   \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'C'), 0);                                    \
        CHECK_LAST(status);                                                                \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'F'), 0);                                    \
        CHECK_LAST(status);                                                                \
        CHECK_EQ(pybuf_is_contiguous(&(view), 'A'), 0);                                    \
        CHECK_LAST(status);                                                                \
    } while (0)

static double mem[64];

static void c_order_2d(void) {
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {32, 8};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_CFA(v, 1, 0, 1);
    /* NULL strides mean C-contiguous. */
    v.strides = NULL;
    CHECK_CFA(v, 1, 0, 1);
}

static void f_order_2d(void) {
    /* The transpose of a C-contiguous 3x4: shape 4x3, strides {8, 32}. */
    pybuf_ssize_t shape[2] = {4, 3}, strides[2] = {8, 32};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_CFA(v, 0, 1, 1);
}

static void three_d(void) {
    pybuf_ssize_t shape[3] = {2, 3, 4};
    pybuf_ssize_t c[3] = {48, 16, 4}, f[3] = {4, 8, 24}, bad[3] = {48, 16, 8};
    pybuf_buffer v = make_view(mem, 4, 3, shape, c, NULL);
    CHECK_CFA(v, 1, 0, 1);
    v.strides = f;
    CHECK_CFA(v, 0, 1, 1);
    v.strides = bad;
    CHECK_CFA(v, 0, 0, 0);
}

static void one_d(void) {
    pybuf_ssize_t shape[1] = {5}, strides[1] = {8}, gap[1] = {16};
    pybuf_buffer v = make_view(mem, 8, 1, shape, strides, NULL);
    CHECK_CFA(v, 1, 1, 1);
    v.strides = NULL;
    CHECK_CFA(v, 1, 1, 1);
    /* NULL shape with ndim 1: len / itemsize elements. */
    v.shape = NULL;
    CHECK_CFA(v, 1, 1, 1);
    v.shape = shape;
    v.strides = gap;
    CHECK_CFA(v, 0, 0, 0);
    /* A one-element dimension may have any stride. */
    shape[0] = 1;
    v.len = 8;
    CHECK_CFA(v, 1, 1, 1);
}

static void effectively_one_d(void) {
    /* Length-1 dimensions may have any stride, in both orders. */
    pybuf_ssize_t shape[2] = {1, 4}, strides[2] = {999, 8};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_CFA(v, 1, 1, 1);
    /* NULL strides: C-contiguous, and F-contiguous only when effectively 1-D. */
    v.strides = NULL;
    CHECK_CFA(v, 1, 1, 1);
    shape[0] = 4;
    shape[1] = 1;
    CHECK_CFA(v, 1, 1, 1);
    shape[1] = 2;
    v.len = 64;
    CHECK_CFA(v, 1, 0, 1);
}

static void negative_strides(void) {
    pybuf_ssize_t shape[1] = {3}, strides[1] = {-8};
    pybuf_buffer v = make_view(&mem[2], 8, 1, shape, strides, NULL);
    CHECK_CFA(v, 0, 0, 0);
    {
        pybuf_ssize_t shape2[2] = {3, 4}, rows_reversed[2] = {-32, 8};
        pybuf_buffer w = make_view(&mem[8], 8, 2, shape2, rows_reversed, NULL);
        CHECK_CFA(w, 0, 0, 0);
    }
}

static void with_suboffsets(void) {
    /* A view with suboffsets is never contiguous, even if every entry is negative. */
    pybuf_ssize_t shape[2] = {3, 4}, strides[2] = {32, 8}, subs[2] = {-1, -1};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, subs);
    CHECK_CFA(v, 0, 0, 0);
    /* Suboffsets without strides are malformed (PEP 3118: PyBUF_INDIRECT implies
     * PyBUF_STRIDES): 0, with the error pybuf_validate reports for the same view. */
    v.strides = NULL;
    CHECK_EQ(pybuf_is_contiguous(&v, 'A'), 0);
    CHECK_LAST(PYBUF_STATUS_INVALID_SUBOFFSETS);
    CHECK_EQ(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, NULL, 0), PYBUF_STATUS_INVALID_SUBOFFSETS);
}

static void empty_views(void) {
    /* An empty view is contiguous in every order, whatever its strides. */
    pybuf_ssize_t shape[2] = {0, 4}, strides[2] = {-5, 3};
    pybuf_buffer v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_EQ(v.len, 0);
    CHECK_CFA(v, 1, 1, 1);
    shape[0] = 4;
    shape[1] = 0;
    CHECK_CFA(v, 1, 1, 1);
    v.strides = NULL;
    CHECK_CFA(v, 1, 1, 1);
    /* buf may be NULL when len is 0. */
    v.buf = NULL;
    CHECK_CFA(v, 1, 1, 1);
}

static void zero_d(void) {
    pybuf_buffer v = make_view(mem, 8, 0, NULL, NULL, NULL);
    CHECK_EQ(v.len, 8);
    CHECK_CFA(v, 1, 1, 1);
}

static void max_ndim(void) {
    pybuf_ssize_t shape[64], strides[64];
    int i;
    for (i = 0; i < 64; i++) {
        shape[i] = 1;
        strides[i] = 8;
    }
    shape[63] = 2;
    {
        pybuf_buffer v = make_view(mem, 8, 64, shape, strides, NULL);
        CHECK_EQ(v.len, 16);
        CHECK_CFA(v, 1, 1, 1);
        strides[63] = 16;
        CHECK_CFA(v, 0, 0, 0);
    }
}

static void bad_orders(void) {
    /* Any other order: 0, not an error (as PyBuffer_IsContiguous). */
    pybuf_ssize_t shape[1] = {4};
    pybuf_buffer v = make_view(mem, 8, 1, shape, NULL, NULL);
    const char orders[] = {'X', 0, 'c', 'f', 'a', ' '};
    size_t i;
    for (i = 0; i < sizeof orders; i++) {
        PROVOKE_ERROR();
        CHECK_EQ(pybuf_is_contiguous(&v, orders[i]), 0);
        CHECK_LAST(PYBUF_STATUS_OK);
    }
}

static void null_view(void) {
    CHECK_EQ(pybuf_is_contiguous(NULL, 'C'), 0);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(pybuf_is_contiguous(NULL, 'A'), 0);
    CHECK_LAST(PYBUF_STATUS_NULL_POINTER);
}

static void malformed_views(void) {
    pybuf_ssize_t shape[65], strides[65];
    pybuf_buffer v;
    int i;
    for (i = 0; i < 65; i++) {
        shape[i] = 1;
        strides[i] = 8;
    }
    /* ndim -1 and 65 */
    v = make_view(mem, 8, 1, shape, strides, NULL);
    v.ndim = -1;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_NDIM);
    v.ndim = 65;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_NDIM);
    v.ndim = INT_MIN;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_NDIM);

    /* a negative shape entry */
    shape[0] = 2;
    shape[1] = -3;
    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.len = 0;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_SHAPE);
    v.strides = strides;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_SHAPE);
    shape[1] = 1;

    /* NULL shape with ndim 2 */
    v = make_view(mem, 8, 2, shape, NULL, NULL);
    v.shape = NULL;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_SHAPE);

    /* itemsize 0 and negative */
    v = make_view(mem, 8, 1, shape, NULL, NULL);
    v.itemsize = 0;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = -8;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_ITEMSIZE);

    /* len that disagrees with shape */
    shape[0] = 3;
    v = make_view(mem, 8, 1, shape, NULL, NULL);
    v.len = 23;
    CHECK_MALFORMED(v, PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = 32;
    CHECK_MALFORMED(v, PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = -24;
    CHECK_MALFORMED(v, PYBUF_STATUS_LENGTH_MISMATCH);
    /* NULL shape: len unsigned bytes (PEP 3118), whatever itemsize says; with strides
       it is malformed */
    v.shape = NULL;
    v.len = 20;
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK_EQ(pybuf_is_contiguous(&v, 'F'), 1);
    CHECK_LAST(PYBUF_STATUS_OK);
    v.len = -1;
    CHECK_MALFORMED(v, PYBUF_STATUS_LENGTH_MISMATCH);
    v.len = 24;
    {
        pybuf_ssize_t one_stride[1] = {8};
        v.strides = one_stride;
        CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_STRIDES);
        v.strides = NULL;
    }

    /* product(shape) overflows */
    shape[0] = PTRDIFF_MAX / 2;
    shape[1] = 4;
    v = make_view(mem, 1, 2, shape, NULL, NULL);
    v.len = 0;
    CHECK_MALFORMED(v, PYBUF_STATUS_OVERFLOW);
    /* shape * itemsize overflows */
    v = make_view(mem, 4, 1, shape, NULL, NULL);
    v.len = 0;
    CHECK_MALFORMED(v, PYBUF_STATUS_OVERFLOW);
    /* strides overflow */
    shape[0] = 2;
    shape[1] = 2;
    strides[0] = PTRDIFF_MAX;
    strides[1] = 8;
    v = make_view(mem, 8, 2, shape, strides, NULL);
    CHECK_MALFORMED(v, PYBUF_STATUS_OVERFLOW);
    strides[0] = PTRDIFF_MIN;
    CHECK_MALFORMED(v, PYBUF_STATUS_OVERFLOW);
    strides[0] = PTRDIFF_MAX / 2 + 1;
    strides[1] = PTRDIFF_MAX / 2 + 1;
    CHECK_MALFORMED(v, PYBUF_STATUS_OVERFLOW);
    strides[0] = 16;
    strides[1] = 8;

    /* NULL buf with len > 0 */
    v = make_view(NULL, 8, 2, shape, strides, NULL);
    CHECK_MALFORMED(v, PYBUF_STATUS_NULL_POINTER);

    /* readonly other than 0 or 1 */
    v = make_view(mem, 8, 2, shape, strides, NULL);
    v.readonly = 2;
    CHECK_MALFORMED(v, PYBUF_STATUS_INVALID_ARGUMENT);
    v.readonly = 1;
    CHECK_CFA(v, 1, 0, 1);
}

static void error_then_success(void) {
    /* A success after a failure clears the thread's status and message. */
    pybuf_ssize_t shape[1] = {2};
    pybuf_buffer v = make_view(mem, 8, 1, shape, NULL, NULL);
    v.itemsize = 0;
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 0);
    CHECK_LAST(PYBUF_STATUS_INVALID_ITEMSIZE);
    v.itemsize = 8;
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 1);
    CHECK_LAST(PYBUF_STATUS_OK);
}

int main(void) {
    RUN(c_order_2d);
    RUN(f_order_2d);
    RUN(three_d);
    RUN(one_d);
    RUN(effectively_one_d);
    RUN(negative_strides);
    RUN(with_suboffsets);
    RUN(empty_views);
    RUN(zero_d);
    RUN(max_ndim);
    RUN(bad_orders);
    RUN(null_view);
    RUN(malformed_views);
    RUN(error_then_success);
    return check_report();
}
