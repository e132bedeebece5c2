"""CPython's own buffer functions through ctypes, on a private handle of the running
interpreter (so the argtypes set here never leak into `ctypes.pythonapi`).

The handle is a PyDLL: the GIL stays held during each call, and a Python exception set by
the function (BufferError, ValueError, struct.error, ...) is raised on return.

What these functions do in CPython 3.11 (Objects/abstract.c, Objects/memoryobject.c) and
where they may not be called:
- PyBuffer_GetPointer reads view->strides unchecked: never call it with NULL strides
  (ndim > 0).
- PyBuffer_FromContiguous falls back to PyBuffer_GetPointer when the view is not
  contiguous in the requested order: never with NULL strides there.
- PyBuffer_ToContiguous only asserts the order; give it 'C', 'F' or 'A' only.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager

from ctypes import POINTER, c_char, c_char_p, c_int, c_ssize_t, c_void_p

from pybuf_ctypes import Py_buffer, PYBUF_FULL, PYBUF_FULL_RO

api = ctypes.PyDLL(None, handle=ctypes.pythonapi._handle)

_BUF_P = POINTER(Py_buffer)
_SSIZE_P = POINTER(c_ssize_t)

PyObject_GetBuffer = api.PyObject_GetBuffer
PyObject_GetBuffer.argtypes = [ctypes.py_object, _BUF_P, c_int]
PyObject_GetBuffer.restype = c_int

PyBuffer_Release = api.PyBuffer_Release
PyBuffer_Release.argtypes = [_BUF_P]
PyBuffer_Release.restype = None

PyBuffer_IsContiguous = api.PyBuffer_IsContiguous
PyBuffer_IsContiguous.argtypes = [_BUF_P, c_char]
PyBuffer_IsContiguous.restype = c_int

PyBuffer_GetPointer = api.PyBuffer_GetPointer
PyBuffer_GetPointer.argtypes = [_BUF_P, _SSIZE_P]
PyBuffer_GetPointer.restype = c_void_p

PyBuffer_SizeFromFormat = api.PyBuffer_SizeFromFormat
PyBuffer_SizeFromFormat.argtypes = [c_char_p]
PyBuffer_SizeFromFormat.restype = c_ssize_t

# void PyBuffer_FillContiguousStrides(int ndims, Py_ssize_t *shape, Py_ssize_t *strides,
#                                     int itemsize, char order)
PyBuffer_FillContiguousStrides = api.PyBuffer_FillContiguousStrides
PyBuffer_FillContiguousStrides.argtypes = [c_int, _SSIZE_P, _SSIZE_P, c_int, c_char]
PyBuffer_FillContiguousStrides.restype = None

PyBuffer_ToContiguous = api.PyBuffer_ToContiguous
PyBuffer_ToContiguous.argtypes = [c_void_p, _BUF_P, c_ssize_t, c_char]
PyBuffer_ToContiguous.restype = c_int

PyBuffer_FromContiguous = api.PyBuffer_FromContiguous
PyBuffer_FromContiguous.argtypes = [_BUF_P, c_void_p, c_ssize_t, c_char]
PyBuffer_FromContiguous.restype = c_int

# obj is passed as a plain pointer so that NULL can be given (ctypes' py_object cannot).
PyBuffer_FillInfo = api.PyBuffer_FillInfo
PyBuffer_FillInfo.argtypes = [_BUF_P, c_void_p, c_void_p, c_ssize_t, c_int, c_int]
PyBuffer_FillInfo.restype = c_int

PyObject_CopyData = api.PyObject_CopyData
PyObject_CopyData.argtypes = [ctypes.py_object, ctypes.py_object]
PyObject_CopyData.restype = c_int


def get_buffer(obj, flags: int) -> Py_buffer:
    """A filled Py_buffer for `obj` (raises what the exporter raises). Release it."""
    view = Py_buffer()
    PyObject_GetBuffer(obj, ctypes.byref(view), flags)
    return view


def release(view: Py_buffer) -> None:
    PyBuffer_Release(ctypes.byref(view))


@contextmanager
def buffer(obj, flags: int | None = None):
    """`with buffer(obj) as view:` a Py_buffer of `obj`, released on exit. The default
    request is PyBUF_FULL, or PyBUF_FULL_RO for read-only exporters."""
    if flags is None:
        try:
            view = get_buffer(obj, PYBUF_FULL)
        except BufferError:
            view = get_buffer(obj, PYBUF_FULL_RO)
        except ValueError:  # numpy raises ValueError for a read-only array
            view = get_buffer(obj, PYBUF_FULL_RO)
    else:
        view = get_buffer(obj, flags)
    try:
        yield view
    finally:
        release(view)
