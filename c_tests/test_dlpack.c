/*
 * DLPack: pybuf_to_dlpack (and _legacy) and pybuf_from_dlpack (and _legacy): the tensor's
 * fields, element strides, the read-only flag, every refusal with its message, and who
 * keeps the memory alive until which moment (the deleter, the owner callbacks, the
 * exporter's export count).
 *
 * pybuf.h comes first here and dlpack.h (c_tests/reference, a stand-in for DLPack's)
 * after it: dlpack.h is then skipped, its include guard being defined by pybuf.h, and
 * this file compiles against pybuf.h's declarations alone.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "reference/dlpack/dlpack.h"

#ifdef REFERENCE_DLPACK_H
#error "dlpack.h after pybuf.h should have been skipped"
#endif

static int owner_calls = 0;
static void *owner_user = NULL;
static void count_owner(void *user) {
    owner_calls++;
    owner_user = user;
}

/* An exporter of 12 doubles, as a 3x4 matrix in Fortran order. */
static double matrix[12];
static pybuf_exporter *fortran_exporter(int readonly) {
    static pybuf_ssize_t shape[2] = {3, 4};
    static pybuf_ssize_t strides[2] = {8, 24};
    pybuf_exporter_desc d;
    pybuf_exporter *e = NULL;
    int i;
    for (i = 0; i < 12; i++)
        matrix[i] = i;
    memset(&d, 0, sizeof d);
    d.buf = matrix;
    d.len = sizeof matrix;
    d.readonly = readonly;
    d.format = "d";
    d.ndim = 2;
    d.shape = shape;
    d.strides = strides;
    CHECK_STATUS(pybuf_exporter_new(&d, count_owner, matrix, &e), PYBUF_STATUS_OK);
    return e;
}

static void export_from_an_exporter(void) {
    pybuf_exporter *e = fortran_exporter(0);
    pybuf_buffer view;
    DLManagedTensorVersioned *t = NULL;
    DLTensor *dl;
    owner_calls = 0;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_to_dlpack(&view, NULL, NULL, &t), PYBUF_STATUS_OK);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    dl = &t->dl_tensor;
    CHECK_EQ(t->version.major, DLPACK_MAJOR_VERSION);
    CHECK_EQ(t->version.minor, DLPACK_MINOR_VERSION);
    CHECK_EQ(t->flags, 0);
    CHECK(t->deleter != NULL);
    CHECK_PTR_EQ(dl->data, matrix);
    CHECK_EQ(dl->byte_offset, 0);
    CHECK_EQ(dl->device.device_type, kDLCPU);
    CHECK_EQ(dl->device.device_id, 0);
    CHECK_EQ(dl->ndim, 2);
    CHECK_EQ(dl->dtype.code, kDLFloat);
    CHECK_EQ(dl->dtype.bits, 64);
    CHECK_EQ(dl->dtype.lanes, 1);
    CHECK_EQ(dl->shape[0], 3);
    CHECK_EQ(dl->shape[1], 4);
    CHECK_EQ(dl->strides[0], 1); /* bytes 8 and 24 are elements 1 and 3 */
    CHECK_EQ(dl->strides[1], 3);
    /* The tensor holds its own export: the view and the handle may go first. */
    CHECK_EQ(pybuf_exporter_exports(e), 2);
    pybuf_release(&view);
    pybuf_exporter_free(e);
    CHECK_EQ(owner_calls, 0);
    CHECK_EQ(dl->shape[1], 4); /* the tensor's arrays are its own */
    t->deleter(t);
    CHECK_EQ(owner_calls, 1); /* the last holder of the memory was the tensor */
    CHECK_PTR_EQ(owner_user, matrix);
}

static void read_only_views_set_the_flag(void) {
    pybuf_exporter *e = fortran_exporter(1);
    pybuf_buffer view;
    DLManagedTensorVersioned *t = NULL;
    DLManagedTensor *legacy = (DLManagedTensor *)&view; /* a sentinel: must stay */
    owner_calls = 0;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_to_dlpack(&view, NULL, NULL, &t), PYBUF_STATUS_OK);
    CHECK_EQ(t->flags & DLPACK_FLAG_BITMASK_READ_ONLY, DLPACK_FLAG_BITMASK_READ_ONLY);
    /* A legacy tensor cannot say "read-only": refused, as NumPy refuses it. */
    CHECK_STATUS(pybuf_to_dlpack_legacy(&view, NULL, NULL, &legacy), PYBUF_STATUS_READ_ONLY);
    CHECK_MSG("legacy DLManagedTensor cannot say so");
    CHECK_PTR_EQ(legacy, &view);
    pybuf_release(&view);
    pybuf_exporter_free(e);
    t->deleter(t);
    CHECK_EQ(owner_calls, 1);
}

static void legacy_export(void) {
    pybuf_exporter *e = fortran_exporter(0);
    pybuf_buffer view;
    DLManagedTensor *t = NULL;
    owner_calls = 0;
    /* Without PYBUF_FORMAT the view says "B" (NULL) with itemsize 8: refused. */
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_STRIDED), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_to_dlpack_legacy(&view, NULL, NULL, &t), PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_MSG("ask the exporter for PYBUF_FORMAT");
    pybuf_release(&view);
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_RECORDS), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_to_dlpack_legacy(&view, NULL, NULL, &t), PYBUF_STATUS_OK);
    pybuf_release(&view);
    CHECK_EQ(t->dl_tensor.dtype.code, kDLFloat);
    CHECK_EQ(t->dl_tensor.dtype.bits, 64);
    CHECK_EQ(t->dl_tensor.strides[1], 3);
    CHECK_EQ(owner_calls, 0);
    t->deleter(t);
    CHECK_EQ(owner_calls, 1);
}

/* A view pybuf did not fill from an exporter: the caller keeps the memory alive, and
   the owner callback says when the tensor lets go. */
static void foreign_views_take_an_owner(void) {
    unsigned char bytes[6] = {1, 2, 3, 4, 5, 6};
    pybuf_buffer view;
    DLManagedTensorVersioned *t = NULL;
    int marker;
    owner_calls = 0;
    CHECK_STATUS(pybuf_fill_info(&view, NULL, bytes, 6, 0, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_to_dlpack(&view, count_owner, &marker, &t), PYBUF_STATUS_OK);
    pybuf_release(&view);
    CHECK_EQ(t->dl_tensor.ndim, 1);
    CHECK_EQ(t->dl_tensor.shape[0], 6);
    CHECK_EQ(t->dl_tensor.strides[0], 1);
    CHECK_EQ(t->dl_tensor.dtype.code, kDLUInt);
    CHECK_EQ(owner_calls, 0);
    t->deleter(t);
    CHECK_EQ(owner_calls, 1);
    CHECK_PTR_EQ(owner_user, &marker);
}

/* Hand-made views of doubles that pybuf_to_dlpack refuses, each with its reason. */
static void refusals(void) {
    double d[8] = {0};
    pybuf_ssize_t shape[2] = {2, 2};
    pybuf_ssize_t strides[2] = {16, 8};
    pybuf_ssize_t odd[2] = {12, 4};
    pybuf_ssize_t subs[2] = {0, -1};
    pybuf_buffer v;
    DLManagedTensorVersioned *t = (DLManagedTensorVersioned *)d; /* a sentinel */
    static const struct {
        const char *format;
        pybuf_ssize_t itemsize;
        const char *text;
    } formats[] = {
        {"T{i:a:i:b:}", 8, "is a struct"},
        {"2i", 8, "holds 2 values of 'i'"},
        {"ii", 8, "has 2 fields"},
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        {"<q", 8, "is little-endian: DLPack holds values in the native byte order"},
#else
        {">q", 8, "is big-endian: DLPack holds values in the native byte order"},
#endif
        {"8s", 8, "holds bytes"},
        {"2w", 8, "holds text"},
        {"P", 8, "pointer"},
    };
    size_t i;
    owner_calls = 0;
    memset(&v, 0, sizeof v);
    v.buf = d;
    v.len = 32;
    v.itemsize = 8;
    v.ndim = 2;
    v.format = (char *)"d";
    v.shape = shape;
    v.strides = strides;
    for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (sizeof(void *) != 8 && formats[i].format[0] == 'P')
            continue;
        v.format = (char *)formats[i].format;
        v.itemsize = formats[i].itemsize;
        CHECK_STATUS(pybuf_to_dlpack(&v, count_owner, NULL, &t), PYBUF_STATUS_UNREPRESENTABLE);
        CHECK_MSG(formats[i].text);
        CHECK_MSG(formats[i].format);
    }
    v.format = (char *)"d";
    v.strides = odd;
    v.len = 32;
    CHECK_STATUS(pybuf_to_dlpack(&v, count_owner, NULL, &t), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK_STR_EQ(pybuf_last_error(),
                 "strides[0] = 12 is not a multiple of itemsize 8: DLPack strides count elements");
    v.strides = strides;
    v.suboffsets = subs;
    CHECK_STATUS(pybuf_to_dlpack(&v, count_owner, NULL, &t), PYBUF_STATUS_UNREPRESENTABLE);
    CHECK_MSG("suboffsets[0] = 0: DLPack cannot describe an indirect (PIL-style) dimension");
    v.suboffsets = NULL;
    v.format = (char *)"i";
    CHECK_STATUS(pybuf_to_dlpack(&v, count_owner, NULL, &t), PYBUF_STATUS_INVALID_ITEMSIZE);
    CHECK_MSG("itemsize = 8 but format \"i\" has size 4");
    v.format = (char *)"d";
    CHECK_STATUS(pybuf_to_dlpack(NULL, count_owner, NULL, &t), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_to_dlpack(&v, count_owner, NULL, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_to_dlpack_legacy(&v, count_owner, NULL, NULL), PYBUF_STATUS_NULL_POINTER);
    CHECK_PTR_EQ(t, d); /* never written on failure */
    CHECK_EQ(owner_calls, 0); /* nor the owner called */
}

/* ---- tensor -> view ---------------------------------------------------------------- */

static int deleted = 0;
static void count_delete(DLManagedTensorVersioned *self) {
    deleted++;
    CHECK_PTR_EQ(self->manager_ctx, &deleted);
}
static void count_delete_legacy(DLManagedTensor *self) {
    deleted++;
    CHECK_PTR_EQ(self->manager_ctx, &deleted);
}

static int32_t cells[24];
static int64_t t_shape[3] = {2, 3, 4};
static int64_t t_strides[3] = {12, 4, 1};

static DLManagedTensorVersioned versioned(uint64_t flags) {
    DLManagedTensorVersioned t;
    int i;
    for (i = 0; i < 24; i++)
        cells[i] = i;
    memset(&t, 0, sizeof t);
    t.version.major = 1;
    t.version.minor = 0;
    t.manager_ctx = &deleted;
    t.deleter = count_delete;
    t.flags = flags;
    t.dl_tensor.data = cells;
    t.dl_tensor.device.device_type = kDLCPU;
    t.dl_tensor.ndim = 3;
    t.dl_tensor.dtype.code = kDLInt;
    t.dl_tensor.dtype.bits = 32;
    t.dl_tensor.dtype.lanes = 1;
    t.dl_tensor.shape = t_shape;
    t.dl_tensor.strides = t_strides;
    return t;
}

static void import_a_tensor(void) {
    DLManagedTensorVersioned t = versioned(0);
    pybuf_buffer view;
    pybuf_ssize_t at[3] = {1, 2, 3};
    deleted = 0;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_PTR_EQ(view.buf, cells);
    CHECK_EQ(view.len, 96);
    CHECK_EQ(view.itemsize, 4);
    CHECK_EQ(view.ndim, 3);
    CHECK_EQ(view.readonly, 0);
    CHECK_STR_EQ(view.format, "i");
    CHECK_EQ(view.shape[2], 4);
    CHECK_EQ(view.strides[0], 48);
    CHECK_EQ(view.strides[2], 4);
    CHECK(view.suboffsets == NULL);
    CHECK_EQ(pybuf_is_contiguous(&view, 'C'), 1);
    /* the same memory, both ways */
    CHECK_EQ(*(int32_t *)pybuf_get_pointer(&view, at), 23);
    *(int32_t *)pybuf_get_pointer(&view, at) = -5;
    CHECK_EQ(cells[23], -5);
    CHECK_EQ(deleted, 0);
    pybuf_release(&view);
    CHECK_EQ(deleted, 1); /* the view owned the tensor */
    pybuf_release(&view);
    CHECK_EQ(deleted, 1);
}

static void import_strides_offsets_and_requests(void) {
    DLManagedTensorVersioned t = versioned(0);
    int64_t shape[2] = {3, 2};
    int64_t reversed[2] = {-4, 1}; /* rows backwards, from the last row */
    pybuf_buffer view;
    pybuf_ssize_t at[2] = {0, 1};
    deleted = 0;
    t.dl_tensor.ndim = 2;
    t.dl_tensor.shape = shape;
    t.dl_tensor.strides = reversed;
    t.dl_tensor.byte_offset = 8 * 4 + 4; /* element 9: row 2 of a 4-wide matrix, col 1 */
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_C_CONTIGUOUS), PYBUF_STATUS_BUFFER_REQUEST);
    CHECK_EQ(deleted, 0); /* refused: the tensor is still the caller's */
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_STRIDED_RO), PYBUF_STATUS_OK);
    CHECK_PTR_EQ(view.buf, cells + 9);
    CHECK_EQ(view.strides[0], -16);
    CHECK_EQ(view.strides[1], 4);
    CHECK(view.format == NULL); /* not requested */
    CHECK_EQ(*(int32_t *)pybuf_get_pointer(&view, at), 10);
    at[0] = 2;
    CHECK_EQ(*(int32_t *)pybuf_get_pointer(&view, at), 2);
    pybuf_release(&view);
    CHECK_EQ(deleted, 1);

    /* NULL strides: C-contiguous, as before DLPack 1.0 */
    t = versioned(0);
    t.dl_tensor.strides = NULL;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_C_CONTIGUOUS), PYBUF_STATUS_OK);
    CHECK_EQ(view.strides[0], 48);
    pybuf_release(&view);
    CHECK_EQ(deleted, 2);

    /* 0-d */
    t = versioned(0);
    t.dl_tensor.ndim = 0;
    t.dl_tensor.shape = NULL;
    t.dl_tensor.strides = NULL;
    t.dl_tensor.dtype.code = kDLComplex;
    t.dl_tensor.dtype.bits = 64;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(view.ndim, 0);
    CHECK_EQ(view.len, 8);
    CHECK_STR_EQ(view.format, "Zf");
    pybuf_release(&view);
    CHECK_EQ(deleted, 3);
}

static void import_read_only(void) {
    DLManagedTensorVersioned t = versioned(DLPACK_FLAG_BITMASK_READ_ONLY);
    pybuf_buffer view;
    deleted = 0;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL), PYBUF_STATUS_READ_ONLY);
    CHECK_MSG("the tensor is read-only");
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_OK);
    CHECK_EQ(view.readonly, 1);
    pybuf_release(&view);
    CHECK_EQ(deleted, 1);
}

static void import_refusals(void) {
    DLManagedTensorVersioned t = versioned(0);
    pybuf_buffer view;
    int64_t negative[3] = {2, -3, 4};
    static const struct {
        uint8_t code, bits;
        uint16_t lanes;
        const char *text;
    } types[] = {
        {kDLBfloat, 16, 1, "kDLBfloat"},
        {kDLFloat, 32, 4, "lanes != 1"},
        {kDLFloat8_e4m3fn, 8, 1, "8-bit float"},
        {kDLFloat, 128, 1, "bits 128"},
        {kDLOpaqueHandle, 64, 1, "kDLOpaqueHandle"},
    };
    size_t i;
    deleted = 0;
    memset(&view, 0xA5, sizeof view);
    t.version.major = 2;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_UNSUPPORTED_VERSION);
    CHECK_MSG("DLPack version 2.0");
    t = versioned(0);
    t.dl_tensor.device.device_type = kDLCUDA;
    t.dl_tensor.device.device_id = 1;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_UNSUPPORTED_DEVICE);
    CHECK_MSG("device (2, 1) is kDLCUDA");
    t = versioned(0);
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        t.dl_tensor.dtype.code = types[i].code;
        t.dl_tensor.dtype.bits = types[i].bits;
        t.dl_tensor.dtype.lanes = types[i].lanes;
        CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_UNREPRESENTABLE);
        CHECK_MSG(types[i].text);
    }
    t = versioned(0);
    t.dl_tensor.shape = negative;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_INVALID_SHAPE);
    CHECK_MSG("shape[1] = -3 is negative");
    t = versioned(0);
    t.dl_tensor.ndim = 65;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_INVALID_NDIM);
    t = versioned(0);
    t.dl_tensor.shape = NULL;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_INVALID_SHAPE);
    t = versioned(0);
    t.dl_tensor.data = NULL;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_FULL_RO), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_from_dlpack(NULL, &t, PYBUF_FULL_RO), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_from_dlpack(&view, NULL, PYBUF_FULL_RO), PYBUF_STATUS_NULL_POINTER);
    CHECK_STATUS(pybuf_from_dlpack_legacy(&view, NULL, PYBUF_FULL_RO), PYBUF_STATUS_NULL_POINTER);
    CHECK_EQ(deleted, 0); /* a refused tensor stays the caller's */
    {
        unsigned char *p = (unsigned char *)&view;
        size_t k;
        for (k = 0; k < sizeof view; k++)
            CHECK_EQ(p[k], 0xA5); /* and the view untouched */
    }
}

static void import_legacy(void) {
    DLManagedTensorVersioned v = versioned(0);
    DLManagedTensor t;
    pybuf_buffer view;
    deleted = 0;
    t.dl_tensor = v.dl_tensor;
    t.manager_ctx = &deleted;
    t.deleter = count_delete_legacy;
    CHECK_STATUS(pybuf_from_dlpack_legacy(&view, &t, PYBUF_FULL), PYBUF_STATUS_OK);
    CHECK_EQ(view.readonly, 0);
    CHECK_EQ(view.len, 96);
    pybuf_release(&view);
    CHECK_EQ(deleted, 1);
}

/* tensor -> view -> tensor: the new tensor holds the first one, whose deleter runs when
   the last of the view and the new tensor goes. */
static void round_trip_holds_the_original(void) {
    DLManagedTensorVersioned t = versioned(DLPACK_FLAG_BITMASK_READ_ONLY);
    DLManagedTensorVersioned *again = NULL;
    pybuf_buffer view;
    deleted = 0;
    CHECK_STATUS(pybuf_from_dlpack(&view, &t, PYBUF_RECORDS_RO), PYBUF_STATUS_OK);
    CHECK_STATUS(pybuf_to_dlpack(&view, NULL, NULL, &again), PYBUF_STATUS_OK);
    pybuf_release(&view);
    CHECK_EQ(deleted, 0);
    CHECK_PTR_EQ(again->dl_tensor.data, cells);
    CHECK_EQ(again->dl_tensor.strides[0], 12);
    CHECK_EQ(again->dl_tensor.dtype.code, kDLInt);
    CHECK_EQ(again->flags, DLPACK_FLAG_BITMASK_READ_ONLY);
    again->deleter(again);
    CHECK_EQ(deleted, 1);
}

/* A view derived from an exporter's view (pybuf_slice) still keeps the exporter. */
static void derived_views_keep_the_exporter(void) {
    pybuf_exporter *e = fortran_exporter(0);
    pybuf_buffer view, row;
    DLManagedTensorVersioned *t = NULL;
    owner_calls = 0;
    CHECK_STATUS(pybuf_exporter_get_buffer(e, &view, PYBUF_RECORDS), PYBUF_STATUS_OK);
    pybuf_exporter_free(e);
    CHECK_STATUS(pybuf_index(&row, &view, 0, 1), PYBUF_STATUS_OK);
    pybuf_release(&view);
    CHECK_STATUS(pybuf_to_dlpack(&row, NULL, NULL, &t), PYBUF_STATUS_OK);
    pybuf_release(&row);
    CHECK_EQ(owner_calls, 0);
    CHECK_EQ(t->dl_tensor.ndim, 1);
    CHECK_EQ(t->dl_tensor.shape[0], 4);
    CHECK_EQ(t->dl_tensor.strides[0], 3);
    CHECK_PTR_EQ(t->dl_tensor.data, matrix + 1);
    t->deleter(t);
    CHECK_EQ(owner_calls, 1);
}

int main(void) {
    RUN(export_from_an_exporter);
    RUN(read_only_views_set_the_flag);
    RUN(legacy_export);
    RUN(foreign_views_take_an_owner);
    RUN(refusals);
    RUN(import_a_tensor);
    RUN(import_strides_offsets_and_requests);
    RUN(import_read_only);
    RUN(import_refusals);
    RUN(import_legacy);
    RUN(round_trip_holds_the_original);
    RUN(derived_views_keep_the_exporter);
    return check_report();
}
