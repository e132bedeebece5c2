"""pybuf's documented refusals on real exporters' views, where CPython has no counterpart
or is not compared (it writes read-only or aliased memory, or does not check)."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import _testbuffer as tb

import cpython_buffer as cb
import pybuf_ctypes as pc

byref = ctypes.byref


def test_copy_refuses_different_shapes_and_itemsizes(lib):
    a = np.arange(12, dtype="i4").reshape(3, 4)
    snapshot = a.tobytes()
    cases = [
        (a, np.zeros((4, 3), "i4")),       # shape
        (a, np.zeros((3, 4, 1), "i4")),    # ndim
        (a, np.zeros((3, 4), "i8")),       # itemsize
        (a[:, :2], np.zeros((3, 2), "i2")),
    ]
    for dst, src in cases:
        with cb.buffer(dst) as d, cb.buffer(src) as s:
            assert lib.pybuf_copy(byref(d), byref(s)) == pc.PYBUF_STATUS_SHAPE_MISMATCH, pc.last_error(lib)
        assert a.tobytes() == snapshot


def test_copy_ignores_formats(lib):
    """Shapes and itemsizes must agree, formats are not compared (memoryview does)."""
    dst = np.zeros(4, "i4")
    src = np.arange(4, dtype="f4")
    with cb.buffer(dst) as d, cb.buffer(src) as s:
        assert lib.pybuf_copy(byref(d), byref(s)) == 0
    assert dst.tobytes() == src.tobytes()


def test_copy_and_from_contiguous_refuse_read_only_destinations(lib):
    for dst in (np.arange(6.0).reshape(2, 3).T.copy(order="K"), tb.ndarray(list(range(6)), shape=[2, 3])):
        if isinstance(dst, np.ndarray):
            dst.flags.writeable = False
        before = bytes(memoryview(dst).tobytes())
        with cb.buffer(dst, pc.PYBUF_FULL_RO) as d, cb.buffer(dst, pc.PYBUF_FULL_RO) as s:
            assert d.readonly == 1
            assert lib.pybuf_copy(byref(d), byref(s)) == pc.PYBUF_STATUS_READ_ONLY
            for o in (b"C", b"F", b"A"):
                assert lib.pybuf_from_contiguous(byref(d), b"\0" * d.len, d.len, o) == pc.PYBUF_STATUS_READ_ONLY
        assert memoryview(dst).tobytes() == before


def test_copy_and_from_contiguous_refuse_aliased_destinations(lib):
    base = np.arange(4, dtype="i8")
    dst = as_strided(base, shape=(3, 4), strides=(0, 8), writeable=True)
    with cb.buffer(dst) as d, cb.buffer(np.ones((3, 4), "i8")) as s:
        assert lib.pybuf_copy(byref(d), byref(s)) == pc.PYBUF_STATUS_INVALID_STRIDES
        for o in (b"C", b"F", b"A"):
            assert lib.pybuf_from_contiguous(byref(d), b"\1" * d.len, d.len, o) == pc.PYBUF_STATUS_INVALID_STRIDES
    assert base.tolist() == [0, 1, 2, 3]
    # A zero stride on a dimension of length 1 aliases nothing: accepted.
    dst = as_strided(base, shape=(1, 4), strides=(0, 8), writeable=True)
    with cb.buffer(dst) as d:
        assert lib.pybuf_from_contiguous(byref(d), np.full(4, 9, "i8").tobytes(), 32, b"F") == 0
    assert base.tolist() == [9, 9, 9, 9]


def test_from_contiguous_argument_refusals(lib):
    a = np.zeros((2, 3), "i2")[:, ::-1]
    with cb.buffer(a) as d:
        assert lib.pybuf_from_contiguous(byref(d), b"\0" * 12, -1, b"C") == pc.PYBUF_STATUS_INVALID_ARGUMENT
        assert lib.pybuf_from_contiguous(byref(d), None, 12, b"C") == pc.PYBUF_STATUS_NULL_POINTER
        assert lib.pybuf_from_contiguous(None, b"\0" * 12, 12, b"C") == pc.PYBUF_STATUS_NULL_POINTER
        assert lib.pybuf_to_contiguous(None, byref(d), 12, b"C") == pc.PYBUF_STATUS_NULL_POINTER
        assert lib.pybuf_to_contiguous(ctypes.create_string_buffer(12), None, 12, b"C") == pc.PYBUF_STATUS_NULL_POINTER
    assert not a.any()


@pytest.mark.parametrize("order", [b"X", b"c", b"\0"])
def test_other_orders(lib, order):
    a = np.arange(6, dtype="u1").reshape(2, 3)
    with cb.buffer(a) as v:
        assert lib.pybuf_is_contiguous(byref(v), order) == 0
        out = ctypes.create_string_buffer(b"\x77" * 6, 6)
        assert lib.pybuf_to_contiguous(out, byref(v), 6, order) == pc.PYBUF_STATUS_INVALID_ARGUMENT
        assert out.raw == b"\x77" * 6
        assert lib.pybuf_from_contiguous(byref(v), b"\0" * 6, 6, order) == pc.PYBUF_STATUS_INVALID_ARGUMENT
        strides = (ctypes.c_ssize_t * 2)(-1, -1)
        assert lib.pybuf_fill_contiguous_strides(2, v.shape, strides, 1, order) == pc.PYBUF_STATUS_INVALID_ARGUMENT
        assert list(strides) == [-1, -1]
    assert a.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("ndim", [64, 65, 128])
def test_ndim_limit(lib, ndim):
    """_testbuffer makes views of up to 128 dimensions, which CPython's functions handle;
    pybuf takes up to PYBUF_MAX_NDIM (64), as memoryview does, and refuses more with
    PYBUF_STATUS_INVALID_NDIM (a documented divergence)."""
    shape = [1] * ndim
    shape[3], shape[-1] = 2, 3
    a = tb.ndarray(list(range(6)), shape=shape, format="B", flags=tb.ND_WRITABLE)
    with cb.buffer(a) as v:
        pv = byref(v)
        out_c, out_p = ctypes.create_string_buffer(6), ctypes.create_string_buffer(6)
        for o in (b"C", b"F", b"A"):
            cb.PyBuffer_ToContiguous(out_c, pv, 6, o)
            r = lib.pybuf_to_contiguous(out_p, pv, 6, o)
            if ndim <= pc.PYBUF_MAX_NDIM:
                assert lib.pybuf_is_contiguous(pv, o) == cb.PyBuffer_IsContiguous(pv, o)
                assert r == 0 and out_p.raw == out_c.raw
            else:
                assert lib.pybuf_is_contiguous(pv, o) == 0
                assert lib.pybuf_last_status() == pc.PYBUF_STATUS_INVALID_NDIM
                assert r == pc.PYBUF_STATUS_INVALID_NDIM
        idx = (ctypes.c_ssize_t * ndim)()
        idx[3], idx[ndim - 1] = 1, 2
        p = lib.pybuf_get_pointer(pv, idx)
        assert p == (cb.PyBuffer_GetPointer(pv, idx) if ndim <= pc.PYBUF_MAX_NDIM else None)
