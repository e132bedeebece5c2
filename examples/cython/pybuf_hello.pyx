"""A Cython module that uses libpybuf: built by setup.py (next to it) against the installed
library. `to_contiguous(a.T)` equals `a.T.tobytes()` for any numpy array `a`."""

from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_Release, PyObject_GetBuffer
from pybuf cimport pybuf_buffer, pybuf_last_error, pybuf_to_contiguous, pybuf_version_string


def version():
    """The version of the libpybuf this module runs with."""
    return pybuf_version_string().decode()


def to_contiguous(obj, order="C"):
    """The elements of any buffer (numpy array, memoryview, ...) as bytes in `order`."""
    cdef Py_buffer view
    PyObject_GetBuffer(obj, &view, PyBUF_FULL_RO)  # raises if obj has no buffer
    try:
        out = bytearray(view.len)
        if pybuf_to_contiguous(<char *>out, <pybuf_buffer *>&view, view.len,
                               ord(order)) != 0:
            raise ValueError(pybuf_last_error().decode())
        return bytes(out)
    finally:
        PyBuffer_Release(&view)
