"""Views from requests without PyBUF_ND (PyBUF_SIMPLE, PyBUF_WRITABLE): the commonest
request of all (`y*`/`w*` argument parsing asks exactly this), compared like the random
views.

The exporters answer it differently:
- memoryview, bytearray, bytes and _testbuffer: ndim 1, shape NULL, strides NULL;
- numpy: ndim 0, shape NULL, strides NULL, len = nbytes and itemsize = the element size,
  so len != itemsize as soon as the array has other than one element. CPython's
  functions treat such a view as len contiguous bytes (PyBuffer_IsContiguous is 1,
  PyBuffer_ToContiguous/FromContiguous copy len bytes, PyBuffer_GetPointer at ndim 0
  gives buf).
"""

from __future__ import annotations

import ctypes
import random

import numpy as np
import pytest

import _testbuffer as tb

import cpython_buffer as cb
import pybuf_ctypes as pc

byref = ctypes.byref
ORDERS = (b"C", b"F", b"A")


def _numpy(shape, dtype, order="C"):
    n = int(np.prod(shape))
    a = np.frombuffer(bytearray(random.Random(n).randbytes(n * np.dtype(dtype).itemsize)), dtype)
    return a.reshape(shape, order=order)


EXPORTERS = {
    "numpy i4 (2, 3)": lambda: _numpy((2, 3), "i4"),
    "numpy f8 (4,)": lambda: _numpy((4,), "f8"),
    "numpy u1 (5, 2)": lambda: _numpy((5, 2), "u1"),
    "numpy c16 (3,)": lambda: _numpy((3,), "c16"),
    "numpy f8 (0,)": lambda: _numpy((0,), "f8"),
    "numpy i2 (1,)": lambda: _numpy((1,), "i2"),
    "numpy f8 ()": lambda: _numpy((), "f8"),
    "bytearray": lambda: bytearray(b"0123456789"),
    "memoryview i (2, 3)": lambda: memoryview(bytearray(range(24))).cast("i", [2, 3]),
    "_testbuffer h (2, 3)": lambda: tb.ndarray(list(range(6)), shape=[2, 3], format="h",
                                               flags=tb.ND_WRITABLE),
    "_testbuffer d (3,) F": lambda: tb.ndarray([1.0, 2.0, 3.0], shape=[3], format="d",
                                               flags=tb.ND_WRITABLE | tb.ND_FORTRAN),
}


@pytest.mark.parametrize("flags", [pc.PYBUF_SIMPLE, pc.PYBUF_WRITABLE], ids=["SIMPLE", "WRITABLE"])
@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_simple_request_views_agree(lib, name, flags):
    """CPython and pybuf agree on views requested without PyBUF_ND.

    Found by this test: pybuf read numpy's answer (ndim 0, shape NULL, len = nbytes !=
    itemsize) as a malformed scalar and refused it (PYBUF_STATUS_LENGTH_MISMATCH from
    to/from_contiguous, 0 from is_contiguous, NULL from get_pointer) where CPython copies
    len contiguous bytes. pybuf now reads a shapeless view as PEP 3118 says: len bytes,
    whatever itemsize says.
    """
    obj = EXPORTERS[name]()
    v = cb.get_buffer(obj, flags)
    problems = []

    def check(ok, what):
        if not ok:
            problems.append(what)

    try:
        pv = byref(v)
        where = (f"{name}, request {flags:#x}: ndim={v.ndim} len={v.len} itemsize={v.itemsize} "
                 f"shape={'NULL' if not v.shape else 'set'} strides={'NULL' if not v.strides else 'set'}")
        for o in ORDERS:
            c = cb.PyBuffer_IsContiguous(pv, o)
            p = lib.pybuf_is_contiguous(pv, o)
            check(p == c, f"is_contiguous({o!r}): CPython {c}, pybuf {p} ({pc.last_error(lib)})")
        if v.ndim == 0:
            c = cb.PyBuffer_GetPointer(pv, None)
            p = lib.pybuf_get_pointer(pv, None)
            check(p == c, f"get_pointer(): CPython {c:#x}, pybuf {p} ({pc.last_error(lib)})")
        n = v.len
        for o in ORDERS:
            a = ctypes.create_string_buffer(b"\xa5" * n, n)
            b = ctypes.create_string_buffer(b"\xa5" * n, n)
            cb.PyBuffer_ToContiguous(a, pv, n, o)
            r = lib.pybuf_to_contiguous(b, pv, n, o)
            check(r == 0 and a.raw == b.raw,
                  f"to_contiguous({o!r}): CPython copies {n} bytes, pybuf {r} ({pc.last_error(lib)})")
        if not v.readonly:  # CPython into this exporter, pybuf into a second, identical one
            twin = EXPORTERS[name]()
            w = cb.get_buffer(twin, flags)
            try:
                assert ctypes.string_at(v.buf, n) == ctypes.string_at(w.buf, n)
                src = bytes(random.Random(7).randbytes(n))
                for o in ORDERS:
                    cb.PyBuffer_FromContiguous(pv, src, n, o)
                    r = lib.pybuf_from_contiguous(byref(w), src, n, o)
                    c_mem, p_mem = ctypes.string_at(v.buf, n), ctypes.string_at(w.buf, n)
                    check(r == 0 and c_mem == p_mem,
                          f"from_contiguous({o!r}): CPython writes {n} bytes, pybuf {r} ({pc.last_error(lib)})")
                    src = src[::-1]
            finally:
                cb.release(w)
    finally:
        cb.release(v)
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)
