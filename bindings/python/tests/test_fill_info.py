"""PyBuffer_FillInfo vs pybuf_fill_info for every combination of the PyBUF_* request bits,
read-only and writable memory, several lengths; and the views each fills, handed to the
other side's functions.

Deliberate divergences (pybuf is held to its documented behaviour, CPython not called or
not compared): pybuf refuses flag bits that are no PyBUF_* request, readonly other than 0
or 1, a negative len and a NULL buf with len > 0 (CPython accepts them all), and flags
equal to PyBUF_READ (as CPython >= 3.12 does; 3.11 accepts it); pybuf marks
the views it fills in `internal` (CPython leaves it NULL) and refuses to release a view
it did not fill.
"""

from __future__ import annotations

import ctypes
import itertools

import pytest

import cpython_buffer as cb
import pybuf_ctypes as pc
from pybuf_ctypes import Py_buffer

byref = ctypes.byref
SENTINEL = b"\xee" * ctypes.sizeof(Py_buffer)

ALL_REQUESTS = sorted({sum(c) for k in range(len(pc.REQUEST_BITS) + 1)
                       for c in itertools.combinations(pc.REQUEST_BITS, k)})


def sentinel_view() -> Py_buffer:
    return Py_buffer.from_buffer_copy(SENTINEL)


def raw(v: Py_buffer) -> bytes:
    return ctypes.string_at(ctypes.addressof(v), ctypes.sizeof(v))


def fields(v: Py_buffer) -> dict:
    """The view's fields, its shape/strides pointers as offsets into the view itself."""
    base = ctypes.addressof(v)

    def rel(p):
        a = ctypes.cast(p, ctypes.c_void_p).value
        return None if a is None else a - base

    return {
        "buf": v.buf, "obj": v.obj, "len": v.len, "itemsize": v.itemsize,
        "readonly": v.readonly, "ndim": v.ndim, "format": v.format,
        "shape": rel(v.shape), "strides": rel(v.strides), "suboffsets": rel(v.suboffsets),
    }


def test_requests_cover_every_bit_combination():
    assert len(ALL_REQUESTS) == 256
    assert pc.PYBUF_FULL in ALL_REQUESTS and pc.PYBUF_SIMPLE in ALL_REQUESTS


@pytest.mark.parametrize("readonly", [0, 1])
@pytest.mark.parametrize("length", [0, 1, 7, 64])
def test_fill_info_every_request(lib, readonly, length):
    mem = ctypes.create_string_buffer(bytes(range(64)), 64)
    addr = ctypes.addressof(mem)
    for flags in ALL_REQUESTS:
        cv, pv = sentinel_view(), sentinel_view()
        try:
            cb.PyBuffer_FillInfo(byref(cv), None, addr, length, readonly, flags)
            c = None
        except BufferError as e:
            c = e
        except SystemError as e:  # CPython >= 3.12: PyErr_BadInternalCall for PyBUF_READ
            c = e
        r = lib.pybuf_fill_info(byref(pv), None, addr, length, readonly, flags)
        where = f"flags={flags:#x} readonly={readonly} len={length}"
        if flags == pc.PYBUF_READ:
            # pybuf refuses it as CPython >= 3.12 does (3.11 accepts it): not compared.
            assert r == pc.PYBUF_STATUS_INVALID_ARGUMENT, (where, r, pc.last_error(lib))
            assert raw(pv) == SENTINEL, where
            continue
        if c is not None:
            # Only the read-only refusal: PyBUF_WRITABLE on read-only memory.
            assert flags & pc.PYBUF_WRITABLE and readonly == 1, (where, c)
            assert r == pc.PYBUF_STATUS_READ_ONLY, (where, r, pc.last_error(lib))
            assert raw(cv) == SENTINEL and raw(pv) == SENTINEL, where
            continue
        assert r == 0, (where, r, pc.last_error(lib))
        assert fields(pv) == fields(cv), where
        assert cv.internal is None  # CPython: NULL; pybuf: its own marker (documented)
        assert pv.internal is not None, where
        # A view pybuf filled is released by pybuf (twice is harmless); CPython's is not.
        lib.pybuf_release(byref(pv))
        assert lib.pybuf_last_status() == 0, (where, pc.last_error(lib))
        lib.pybuf_release(byref(pv))
        assert lib.pybuf_last_status() == 0, (where, pc.last_error(lib))
        before = raw(cv)
        lib.pybuf_release(byref(cv))
        assert lib.pybuf_last_status() == pc.PYBUF_STATUS_FOREIGN_VIEW, where
        assert raw(cv) == before, where


@pytest.mark.parametrize("flags", [pc.PYBUF_SIMPLE, pc.PYBUF_WRITABLE, pc.PYBUF_ND,
                                   pc.PYBUF_STRIDES, pc.PYBUF_FULL_RO, pc.PYBUF_FULL,
                                   pc.PYBUF_RECORDS, pc.PYBUF_CONTIG])
def test_filled_views_interchange(lib, flags):
    """Each side's functions give the same results on the views the other side filled."""
    data = bytes(range(37))
    mem = ctypes.create_string_buffer(data, len(data))
    addr = ctypes.addressof(mem)
    cv, pv = Py_buffer(), Py_buffer()
    cb.PyBuffer_FillInfo(byref(cv), None, addr, len(data), 0, flags)
    assert lib.pybuf_fill_info(byref(pv), None, addr, len(data), 0, flags) == 0
    for v in (cv, pv):
        for o in (b"C", b"F", b"A"):
            assert cb.PyBuffer_IsContiguous(byref(v), o) == lib.pybuf_is_contiguous(byref(v), o) == 1
            a = ctypes.create_string_buffer(len(data))
            b = ctypes.create_string_buffer(len(data))
            cb.PyBuffer_ToContiguous(a, byref(v), len(data), o)
            assert lib.pybuf_to_contiguous(b, byref(v), len(data), o) == 0
            assert a.raw == b.raw == data
        if v.strides:
            idx = (ctypes.c_ssize_t * 1)(5)
            assert cb.PyBuffer_GetPointer(byref(v), idx) == lib.pybuf_get_pointer(byref(v), idx) == addr + 5
    lib.pybuf_release(byref(pv))


def test_fill_info_obj_is_stored_untouched(lib):
    v = Py_buffer()
    assert lib.pybuf_fill_info(byref(v), 0x1234, None, 0, 1, pc.PYBUF_FULL_RO) == 0
    assert v.obj == 0x1234 and v.buf is None and v.len == 0
    lib.pybuf_release(byref(v))
    assert v.obj == 0x1234


def test_fill_info_null_view_both_refuse(lib):
    with pytest.raises(BufferError):
        cb.PyBuffer_FillInfo(None, None, None, 0, 0, pc.PYBUF_SIMPLE)
    assert lib.pybuf_fill_info(None, None, None, 0, 0, pc.PYBUF_SIMPLE) == pc.PYBUF_STATUS_NULL_POINTER


@pytest.mark.parametrize("case", [
    # (what, buf is NULL, len, readonly, flags, expected status); CPython accepts each.
    ("unknown flag bit 0x2", False, 8, 0, 0x2, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("PyBUF_WRITE (0x200) is no request", False, 8, 0, pc.PYBUF_WRITE, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("unknown flag bit 0x400", False, 8, 0, 0x400 | pc.PYBUF_FULL, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("unknown flag bit 1<<30", False, 8, 0, 1 << 30, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("negative flags", False, 8, 0, -1, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("readonly = 2", False, 8, 2, pc.PYBUF_SIMPLE, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("readonly = -1", False, 8, -1, pc.PYBUF_SIMPLE, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("negative len", False, -1, 0, pc.PYBUF_SIMPLE, pc.PYBUF_STATUS_INVALID_ARGUMENT),
    ("NULL buf with len > 0", True, 8, 0, pc.PYBUF_SIMPLE, pc.PYBUF_STATUS_NULL_POINTER),
], ids=lambda c: c[0])
def test_fill_info_documented_refusals(lib, case):
    _, null_buf, length, readonly, flags, expected = case
    mem = ctypes.create_string_buffer(8)
    buf = None if null_buf else ctypes.addressof(mem)
    cv = sentinel_view()
    cb.PyBuffer_FillInfo(byref(cv), None, buf, length, readonly, flags)  # CPython accepts
    pv = sentinel_view()
    assert lib.pybuf_fill_info(byref(pv), None, buf, length, readonly, flags) == expected, pc.last_error(lib)
    assert lib.pybuf_last_status() == expected
    assert raw(pv) == SENTINEL  # untouched
