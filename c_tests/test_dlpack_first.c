/*
 * dlpack.h before pybuf.h: pybuf.h skips its own DLPack declarations and its functions
 * take dlpack.h's types (c_tests/reference/dlpack/dlpack.h stands in for DLPack's), which
 * stay complete, the parts pybuf.h does not declare included. A round trip through
 * pybuf_to_dlpack and pybuf_from_dlpack, with dlpack.h's types only.
 */
#include "reference/dlpack/dlpack.h"

#include "check.h"

#ifndef REFERENCE_DLPACK_H
#error "dlpack.h's own declarations should be in use"
#endif

static int owned = 0;
static void owner(void *user) {
    (void)user;
    owned++;
}

static void round_trip_with_dlpack_h_types(void) {
    float data[6] = {0, 1, 2, 3, 4, 5};
    pybuf_ssize_t shape[2] = {2, 3};
    pybuf_exporter_desc d;
    pybuf_exporter *e = NULL;
    pybuf_buffer view, back;
    DLManagedTensorVersioned *t = NULL;
    DLPackExchangeAPIHeader header; /* dlpack.h's, not pybuf.h's */
    pybuf_ssize_t at[2] = {1, 2};
    memset(&header, 0, sizeof header);
    CHECK(header.prev_api == NULL);
    memset(&d, 0, sizeof d);
    d.buf = data;
    d.len = sizeof data;
    d.format = "f";
    d.ndim = 2;
    d.shape = shape;
    CHECK_STATUS(pybuf_exporter_new(&d, owner, NULL, &e), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_RECORDS), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_to_dlpack(&view, NULL, NULL, &t), PYBUF_STATUS_OK);
    pybuf_release(&view);
    CHECK_EQ(t->dl_tensor.dtype.code, kDLFloat);
    CHECK_EQ(t->dl_tensor.dtype.bits, 32);
    CHECK_EQ(t->dl_tensor.strides[0], 3);
    CHECK_STATUS(pybuf_from_dlpack(&back, t, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_STR_EQ(back.format, "f");
    *(float *)pybuf_get_pointer(&back, at) = 42.0f;
    CHECK(data[5] == 42.0f);
    CHECK_EQ(owned, 0);
    pybuf_release(&back); /* the tensor's deleter, then the exporter's owner */
    CHECK_EQ(owned, 1);
}

int main(void) {
    RUN(round_trip_with_dlpack_h_types);
    return check_report();
}
