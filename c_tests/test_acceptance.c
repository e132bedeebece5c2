/*
 * Which views pybuf accepts, from C (issue 12, defects 8-10; tests/ffi_acceptance.rs has
 * the same cases for Miri and the property test that pybuf_validate accepts exactly what
 * the consumers accept):
 * - numpy's empty 0-d answer (ndim 0, shape NULL, len 0) is a 0-d view that holds no item
 *   for every function;
 * - shape {2^32, 2^32, 0} copies in F order as in C order;
 * - suboffsets without strides are refused by pybuf_validate and by every consumer alike.
 */
#include <stdint.h>

#include "check.h"

static void empty_0d_view(void) {
    double x = 0;
    pybuf_buffer v = make_view(&x, 8, 0, NULL, NULL, NULL);
    v.len = 0; /* numpy's answer for an empty array */
    v.format = "d";
    pybuf_buffer d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(pybuf_validate(&v, PYBUF_VALIDATE_FORMAT, NULL, 0), 0);
    CHECK_EQ(pybuf_slice(&d, &v, 0, 0, 1, 1), PYBUF_STATUS_INVALID_ARGUMENT);
    CHECK(d.internal == NULL);
    CHECK_EQ(pybuf_transpose(&d, &v), 0);
    CHECK_EQ(d.ndim, 0);
    CHECK_EQ(d.len, 0);
    CHECK_EQ(d.itemsize, 8);
    CHECK(d.shape == NULL);
    pybuf_release(&d);
    pybuf_ssize_t to[2] = {3, 5};
    CHECK_EQ(pybuf_broadcast_to(&d, &v, 2, to), PYBUF_STATUS_LENGTH_MISMATCH);
    CHECK_MSG("holds no item");
    DLManagedTensorVersioned *t = NULL;
    CHECK_EQ(pybuf_to_dlpack(&v, NULL, NULL, &t), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK(t == NULL);
    CHECK_EQ(pybuf_item_fields(&v), 1);
    pybuf_value val;
    CHECK_EQ(pybuf_get_item(&v, NULL, 0, &val), PYBUF_STATUS_INDEX_OUT_OF_RANGE);
    CHECK_EQ(pybuf_is_contiguous(&v, 'F'), 1);
}

static void empty_view_huge_dims(void) {
    double x = 0;
    pybuf_ssize_t shape[3] = {(pybuf_ssize_t)1 << 32, (pybuf_ssize_t)1 << 32, 0}, strides[3] = {8, 8, 8};
    pybuf_buffer v = make_view(&x, 8, 3, shape, strides, NULL); /* len 0 */
    v.format = "d";
    char out = 'z';
    CHECK_EQ(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, NULL, 0), 0);
    CHECK_EQ(pybuf_to_contiguous(&out, &v, 0, 'C'), 0);
    CHECK_EQ(pybuf_to_contiguous(&out, &v, 0, 'F'), 0);
    CHECK_EQ(pybuf_from_contiguous(&v, &out, 0, 'F'), 0);
    CHECK_EQ(out, 'z');
}

static void suboffsets_without_strides(void) {
    double mem[4] = {0};
    pybuf_ssize_t shape[2] = {2, 2}, subs[2] = {-1, 0};
    pybuf_buffer v = make_view(mem, 8, 2, shape, NULL, subs);
    v.format = "d";
    pybuf_ssize_t idx[2] = {0, 0};
    CHECK_EQ(pybuf_validate(&v, PYBUF_VALIDATE_LAYOUT, NULL, 0), PYBUF_STATUS_INVALID_SUBOFFSETS);
    CHECK_EQ(pybuf_is_contiguous(&v, 'C'), 0);
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_INVALID_SUBOFFSETS);
    CHECK(pybuf_get_pointer(&v, idx) == NULL);
    CHECK_EQ(pybuf_last_status(), PYBUF_STATUS_INVALID_SUBOFFSETS);
    double out[4];
    CHECK_EQ(pybuf_to_contiguous(out, &v, 32, 'C'), PYBUF_STATUS_INVALID_SUBOFFSETS);
    pybuf_buffer d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(pybuf_transpose(&d, &v), PYBUF_STATUS_INVALID_SUBOFFSETS);
}

int main(void) {
    RUN(empty_0d_view);
    RUN(empty_view_huge_dims);
    RUN(suboffsets_without_strides);
    return check_report();
}
