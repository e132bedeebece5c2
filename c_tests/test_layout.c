/*
 * pybuf_buffer is byte for byte CPython's Py_buffer, and the PYBUF_* flags equal the
 * PyBUF_* flags: checked at compile time against Python.h itself. Needs only Python's
 * include directory (no libpython is linked, no Python function is called).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>

#include "pybuf.h"

#define SAME_FIELD(f)                                                                      \
    _Static_assert(offsetof(pybuf_buffer, f) == offsetof(Py_buffer, f),                    \
                   "offset of " #f " differs from Py_buffer's");                           \
    _Static_assert(sizeof(((pybuf_buffer *)0)->f) == sizeof(((Py_buffer *)0)->f),          \
                   "size of " #f " differs from Py_buffer's")

#define SAME_FLAG(name)                                                                    \
    _Static_assert(PYBUF_##name == PyBUF_##name, "PYBUF_" #name " differs from PyBUF_" #name)

_Static_assert(sizeof(pybuf_buffer) == sizeof(Py_buffer), "sizeof(pybuf_buffer)");
_Static_assert(_Alignof(pybuf_buffer) == _Alignof(Py_buffer), "alignment of pybuf_buffer");
_Static_assert(sizeof(pybuf_ssize_t) == sizeof(Py_ssize_t), "sizeof(pybuf_ssize_t)");
_Static_assert((pybuf_ssize_t)-1 < 0, "pybuf_ssize_t is signed");

SAME_FIELD(buf);
SAME_FIELD(obj);
SAME_FIELD(len);
SAME_FIELD(itemsize);
SAME_FIELD(readonly);
SAME_FIELD(ndim);
SAME_FIELD(format);
SAME_FIELD(shape);
SAME_FIELD(strides);
SAME_FIELD(suboffsets);
SAME_FIELD(internal);

SAME_FLAG(SIMPLE);
SAME_FLAG(WRITABLE);
SAME_FLAG(FORMAT);
SAME_FLAG(ND);
SAME_FLAG(STRIDES);
SAME_FLAG(C_CONTIGUOUS);
SAME_FLAG(F_CONTIGUOUS);
SAME_FLAG(ANY_CONTIGUOUS);
SAME_FLAG(INDIRECT);
SAME_FLAG(CONTIG);
SAME_FLAG(CONTIG_RO);
SAME_FLAG(STRIDED);
SAME_FLAG(STRIDED_RO);
SAME_FLAG(RECORDS);
SAME_FLAG(RECORDS_RO);
SAME_FLAG(FULL);
SAME_FLAG(FULL_RO);
SAME_FLAG(READ);
SAME_FLAG(WRITE);
_Static_assert(PYBUF_MAX_NDIM == PyBUF_MAX_NDIM, "PYBUF_MAX_NDIM differs from PyBUF_MAX_NDIM");

int main(void) {
    /* The same field types, through pointer assignment without casts (a mismatch would be
       an incompatible-pointer-types warning, an error under -Werror). */
    pybuf_buffer p;
    Py_buffer *q = (Py_buffer *)(void *)&p;
    void **buf = &q->buf;
    Py_ssize_t *len = &p.len, *itemsize = &p.itemsize;
    int *readonly = &q->readonly, *ndim = &q->ndim;
    char **format = &p.format;
    Py_ssize_t **shape = &p.shape, **strides = &p.strides, **suboffsets = &p.suboffsets;
    void **internal = &q->internal;
    (void)buf;
    (void)len;
    (void)itemsize;
    (void)readonly;
    (void)ndim;
    (void)format;
    (void)shape;
    (void)strides;
    (void)suboffsets;
    (void)internal;
    return 0;
}
