"""libpybuf's exporter seen from Python, through the Cython example module, against CPython.

The modules come from bindings/cython, built by `make cython` into build/cython (libpybuf.a
linked in statically, so no LD_LIBRARY_PATH; `make test` builds them before pytest).

- The request matrix: random structures (C, F, strided, negative and zero strides, zero-size,
  0-d, PIL-style suboffsets; read-only or writable) built once as CPython's own
  `_testbuffer.ndarray` and once as a pybuf exporter over the same bytes; every subset of
  the request bits is asked of both with PyObject_GetBuffer (ctypes), and success or
  failure, ndim, shape, strides, suboffsets, format, readonly, len and itemsize must agree.
- numpy over the exporter: what numpy sees, no copy, writes both ways, and the moment the
  owner callback runs.
- Lifetimes: export counts, replace, pybuf_release on views pybuf did not fill.
- The consumer functions of the module on numpy arrays and memoryviews.
- pybuf.pxd against include/pybuf.h, and the snippets of docs/exporters.md (export and
  consume) against the files that are compiled and run here.

Environment: PYBUF_SEED (as the other randomized tests; printed in every mismatch) and
PYBUF_EXPORT_STRUCTURES (how many random structures, default 400).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import importlib
import itertools
import math
import os
import random
import re
import secrets
import shutil
import struct
import subprocess
import sys
import sysconfig
import threading
from ctypes import POINTER, byref, c_char, c_char_p, c_int, c_ssize_t, c_void_p
from pathlib import Path

import numpy as np
import pytest

import _testbuffer as tb

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build" / "cython"
HEADER = REPO / "include" / "pybuf.h"
CYTHON_DIR = REPO / "bindings" / "cython"
PXD = CYTHON_DIR / "pybuf.pxd"
PYX = CYTHON_DIR / "pybuf_example.pyx"
SNIPPETS = REPO / "docs" / "exporters.md"
EXPORT_C = REPO / "examples" / "export.c"

SEED = int(os.environ["PYBUF_SEED"]) if os.environ.get("PYBUF_SEED") else secrets.randbits(32)
STRUCTURES = int(os.environ.get("PYBUF_EXPORT_STRUCTURES", 400))

PTR = ctypes.sizeof(c_void_p)

# pybuf_status values used here (test_pxd_constants checks them against the header)
READ_ONLY, BUFFER_REQUEST, FOREIGN_VIEW, EXPORTS_EXIST = -13, -15, -16, -17
LENGTH_MISMATCH, INVALID_ITEMSIZE, INVALID_SHAPE, INVALID_FORMAT = -8, -5, -4, -11

# ---------------------------------------------------------------------------------------
# The built modules


def _import_built(name: str):
    if str(BUILD) not in sys.path:
        sys.path.insert(0, str(BUILD))
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(f"the Cython module {name} is not built in {BUILD} ({e}): run `make cython`")


@pytest.fixture(scope="module")
def ex():
    return _import_built("pybuf_example")


@pytest.fixture(scope="module")
def pxd_check():
    return _import_built("pybuf_pxd_check")


# ---------------------------------------------------------------------------------------
# CPython's buffer functions through ctypes (a private handle on ctypes.pythonapi, so the
# argtypes set here do not leak into other tests; PyDLL: the GIL is held and a Python
# exception set by the call is raised)


class Py_buffer(ctypes.Structure):
    _fields_ = [
        ("buf", c_void_p),
        ("obj", c_void_p),
        ("len", c_ssize_t),
        ("itemsize", c_ssize_t),
        ("readonly", c_int),
        ("ndim", c_int),
        ("format", c_char_p),
        ("shape", POINTER(c_ssize_t)),
        ("strides", POINTER(c_ssize_t)),
        ("suboffsets", POINTER(c_ssize_t)),
        ("internal", c_void_p),
    ]


_api = ctypes.PyDLL(None, handle=ctypes.pythonapi._handle)
PyObject_GetBuffer = _api.PyObject_GetBuffer
PyObject_GetBuffer.argtypes = [ctypes.py_object, POINTER(Py_buffer), c_int]
PyObject_GetBuffer.restype = c_int
PyBuffer_Release = _api.PyBuffer_Release
PyBuffer_Release.argtypes = [POINTER(Py_buffer)]
PyBuffer_Release.restype = None
PyBuffer_IsContiguous = _api.PyBuffer_IsContiguous
PyBuffer_IsContiguous.argtypes = [POINTER(Py_buffer), c_char]
PyBuffer_IsContiguous.restype = c_int

# Request flags (CPython's PyBUF_*, equal to PYBUF_*).
WRITABLE, FORMAT, ND = 0x1, 0x4, 0x8
STRIDES = 0x10 | ND
C_CONTIGUOUS, F_CONTIGUOUS, ANY_CONTIGUOUS = 0x20 | STRIDES, 0x40 | STRIDES, 0x80 | STRIDES
INDIRECT = 0x100 | STRIDES
FULL, FULL_RO, RECORDS_RO = INDIRECT | WRITABLE | FORMAT, INDIRECT | FORMAT, STRIDES | FORMAT
REQUEST_BITS = (0x1, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100)

# Every value of the request bits: all 256 subsets.
ALL_REQUESTS = sorted({sum(c) for n in range(9) for c in itertools.combinations(REQUEST_BITS, n)})
# The meaningful ones: ORs of the named requests (WRITABLE, FORMAT, ND, STRIDES, C_, F_,
# ANY_CONTIGUOUS, INDIRECT), where a bit never appears without the bits it implies.
NAMED = (WRITABLE, FORMAT, ND, STRIDES, C_CONTIGUOUS, F_CONTIGUOUS, ANY_CONTIGUOUS, INDIRECT)
MEANINGFUL = sorted({functools.reduce(lambda a, b: a | b, c, 0)
                     for n in range(9) for c in itertools.combinations(NAMED, n)})


def describe(view: Py_buffer) -> dict:
    n = view.ndim

    def arr(p):
        return None if not p else tuple(p[i] for i in range(n))

    return {
        "ndim": n, "len": view.len, "itemsize": view.itemsize, "readonly": view.readonly,
        "format": view.format, "shape": arr(view.shape), "strides": arr(view.strides),
        "suboffsets": arr(view.suboffsets),
    }


def request(obj, flags: int):
    """What `obj` answers to PyObject_GetBuffer(flags): a description of the view (then
    released), or the exception it raised."""
    view = Py_buffer()
    try:
        PyObject_GetBuffer(obj, byref(view), flags)
    except BufferError as e:
        return e.with_traceback(None)  # the traceback would keep obj alive
    try:
        return describe(view)
    finally:
        PyBuffer_Release(byref(view))


# ---------------------------------------------------------------------------------------
# Random structures, built as _testbuffer.ndarray and as a pybuf exporter

FORMATS = ["B", "b", "h", "H", "i", "l", "q", "Q", "f", "d", "?", "e", "c", "3s", "<i", ">q",
           "=h", "2h", "hi"]


def c_strides(shape, itemsize):
    out, s = [0] * len(shape), itemsize
    for k in reversed(range(len(shape))):
        out[k] = s
        s *= shape[k]
    return out


def f_strides(shape, itemsize):
    out, s = [0] * len(shape), itemsize
    for k in range(len(shape)):
        out[k] = s
        s *= shape[k]
    return out


def gen_structure(rnd: random.Random, case: int) -> dict:
    fmt = rnd.choice(FORMATS)
    size = struct.calcsize(fmt)
    ndim = rnd.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))
    shape = [rnd.randint(0, 3) if rnd.random() < 0.12 else rnd.randint(1, 4) for _ in range(ndim)]
    kind = "C" if ndim == 0 else rnd.choice(("C", "F", "strided", "strided"))
    strides, offset, nitems = None, 0, max(1, math.prod(shape))
    if kind == "strided":
        strides, step = [0] * ndim, size
        for k in reversed(range(ndim)):
            step *= rnd.choice((1, 1, 2, 3))
            r = rnd.random()
            strides[k] = 0 if r < 0.06 else -step if r < 0.4 else step
            step *= max(shape[k], 1)
        spans = [(n - 1) * s for n, s in zip(shape, strides) if n > 0]
        lo, hi = sum(min(0, x) for x in spans), sum(max(0, x) for x in spans) + size
        offset = -lo + size * rnd.randint(0, 2)
        nitems = (offset + hi) // size + rnd.randint(0, 2)
    return {
        "case": case, "format": fmt, "shape": shape, "kind": kind, "strides": strides,
        "offset": offset, "nitems": nitems, "pil": ndim > 0 and rnd.random() < 0.25,
        "writable": rnd.random() < 0.6, "seed": rnd.getrandbits(32),
    }


def items_and_bytes(spec):
    """Random items for the struct format, and the bytes struct (and _testbuffer) packs."""
    fmt = spec["format"]
    size = struct.calcsize(fmt)
    raw = random.Random(spec["seed"]).randbytes(spec["nitems"] * size)
    items = [struct.unpack_from(fmt, raw, i * size) for i in range(spec["nitems"])]
    memory = b"".join(struct.pack(fmt, *it) for it in items)
    return [it[0] if len(it) == 1 else it for it in items], memory


def build_testbuffer(spec, items):
    flags = ((tb.ND_WRITABLE if spec["writable"] else 0) | (tb.ND_FORTRAN if spec["kind"] == "F" else 0)
             | (tb.ND_PIL if spec["pil"] else 0))
    strides = {} if spec["strides"] is None else {"strides": spec["strides"]}
    init = items if spec["shape"] else items[0]  # a 0-d array takes its one item bare
    return tb.ndarray(init, shape=spec["shape"], offset=spec["offset"], format=spec["format"],
                      flags=flags, **strides)


def build_pybuf(ex, spec, memory, on_owner=None):
    """The same structure as a pybuf exporter over a numpy byte array (returned too)."""
    fmt, shape, ndim = spec["format"], spec["shape"], len(spec["shape"])
    size = struct.calcsize(fmt)
    kind, offset = spec["kind"], spec["offset"]
    # C: pybuf computes the strides itself; F and strided: given
    real = {"C": c_strides(shape, size), "F": f_strides(shape, size)}.get(kind, spec["strides"])
    given = None if kind == "C" else real
    readonly = not spec["writable"]
    if not spec["pil"]:
        base = np.frombuffer(bytearray(memory), dtype=np.uint8)
        return ex.Exporter(base, shape=shape, strides=given, offset=offset, format=fmt,
                           readonly=readonly, on_owner=on_owner), base
    # PIL-style, as _testbuffer's init_suboffsets lays it out: a table of shape[0] pointers
    # to the sub-arrays (padded to 8 bytes), then the items; suboffsets [s0, -1, ...].
    addsize = 8 * ((shape[0] * PTR + 7) // 8)
    base = np.zeros(addsize + len(memory), dtype=np.uint8)
    base[addsize:] = np.frombuffer(memory, dtype=np.uint8)
    imin = suboffset0 = 0
    for n in range(ndim):
        if shape[n] == 0:
            break
        if real[n] <= 0:
            x = (shape[n] - 1) * real[n]
            imin += x
            suboffset0 += -x if n >= 1 else 0
    start, step = base.ctypes.data + addsize + offset + imin, abs(real[0])
    table = np.array([start + n * step for n in range(shape[0])], dtype=np.uintp)
    base[: shape[0] * PTR] = table.view(np.uint8)
    s0 = PTR if real[0] >= 0 else -PTR
    buf_offset = (shape[0] - 1) * PTR if real[0] < 0 and shape[0] > 0 else 0
    return ex.Exporter(base, shape=shape, strides=[s0] + real[1:], offset=buf_offset, format=fmt,
                       readonly=readonly, suboffsets=[suboffset0] + [-1] * (ndim - 1),
                       on_owner=on_owner), base


# The refusals pybuf can give a valid request, by the requirement its message names.
REFUSAL_KINDS = {
    "PYBUF_WRITABLE": READ_ONLY,
    "PYBUF_C_CONTIGUOUS": BUFFER_REQUEST,
    "PYBUF_F_CONTIGUOUS": BUFFER_REQUEST,
    "PYBUF_ANY_CONTIGUOUS": BUFFER_REQUEST,
    "PYBUF_INDIRECT": BUFFER_REQUEST,
    "PYBUF_STRIDES": BUFFER_REQUEST,
    "PYBUF_FORMAT requested without PYBUF_ND": BUFFER_REQUEST,
}


def test_request_matrix(ex):
    """Every request of every structure: pybuf answers as CPython's _testbuffer.ndarray."""
    rnd = random.Random(SEED)
    stats = {"structures": 0, "compared": 0, "meaningful": 0, "granted": 0, "refused": 0,
             "pil": 0, "empty": 0, "0-d": 0, "negative strides": 0, "zero strides": 0,
             "read-only": 0}
    refusal_kinds = dict.fromkeys(REFUSAL_KINDS, 0)
    mismatches = []
    owner_before = ex.owner_calls()
    meaningful = set(MEANINGFUL)
    for case in range(STRUCTURES):
        spec = gen_structure(rnd, case)
        items, memory = items_and_bytes(spec)
        nd = build_testbuffer(spec, items)
        pb, base = build_pybuf(ex, spec, memory)
        where = f"PYBUF_SEED={SEED} structure {case}: {spec}"
        stats["structures"] += 1
        stats["pil"] += spec["pil"]
        stats["empty"] += 0 in spec["shape"]
        stats["0-d"] += not spec["shape"]
        stats["negative strides"] += any(s < 0 for s in spec["strides"] or ())
        stats["zero strides"] += any(s == 0 for s in spec["strides"] or ())
        stats["read-only"] += not spec["writable"]
        for flags in ALL_REQUESTS:
            want, got = request(nd, flags), request(pb, flags)
            stats["compared"] += 1
            stats["meaningful"] += flags in meaningful
            if isinstance(want, BufferError) != isinstance(got, BufferError):
                mismatches.append(f"{where}, flags {flags:#x}: _testbuffer {want!r}, pybuf {got!r}")
                continue
            if isinstance(got, BufferError):
                stats["refused"] += 1
                kind = next((k for k in REFUSAL_KINDS if k in str(got)), None)
                if (not isinstance(got, ex.PybufError) or kind is None
                        or got.status != REFUSAL_KINDS[kind]):
                    mismatches.append(f"{where}, flags {flags:#x}: refusal {got!r} names no "
                                      f"requirement or has the wrong status")
                else:
                    refusal_kinds[kind] += 1
                continue
            stats["granted"] += 1
            if want != got:
                mismatches.append(f"{where}, flags {flags:#x}:\n  _testbuffer {want}\n  pybuf       {got}")
        # the same elements, read by memoryview and by pybuf's to_contiguous
        if memoryview(nd).tobytes() != memoryview(pb).tobytes():
            mismatches.append(f"{where}: the elements differ")
        if ex.to_contiguous(nd, "C") != memoryview(nd).tobytes():
            mismatches.append(f"{where}: to_contiguous(_testbuffer array) differs from memoryview")
        if pb.exports != 0:
            mismatches.append(f"{where}: {pb.exports} exports left")
        if len(mismatches) > 20:
            break
        del pb, nd
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:20])
    gc.collect()
    assert ex.owner_calls() - owner_before == stats["structures"]
    print(f"\nrequest matrix (PYBUF_SEED={SEED}): {stats}\nrefusals by requirement: {refusal_kinds}")
    # enough of everything was compared
    assert stats["compared"] == STRUCTURES * 256 and STRUCTURES >= 100
    assert stats["compared"] >= 25_000
    assert stats["meaningful"] == STRUCTURES * len(MEANINGFUL) and len(MEANINGFUL) == 72
    assert stats["granted"] >= stats["compared"] // 20 and stats["refused"] >= stats["compared"] // 5
    assert all(n > 0 for n in refusal_kinds.values()), refusal_kinds
    for k in ("pil", "empty", "0-d", "negative strides", "zero strides", "read-only"):
        assert stats[k] > 0, (k, stats)


# ---------------------------------------------------------------------------------------
# numpy over the exporter

NUMPY_CASES = [
    # name, format, dtype, shape, strides (None: C), offset, readonly
    ("C 3x4 d", "d", np.float64, (3, 4), None, 0, False),
    ("F 4x3 <i", "<i", np.dtype("<i4"), (4, 3), (4, 16), 0, False),
    ("every other column", "h", np.int16, (3, 2), (8, 4), 0, False),
    ("reversed rows", "q", np.int64, (3, 4), (-32, 8), 64, False),
    ("reversed both", "f", np.float32, (3, 4), (-16, -4), 44, False),
    ("zero stride", "B", np.uint8, (3, 4), (0, 1), 0, False),
    ("0-d", "d", np.float64, (), None, 8, False),
    ("empty", "d", np.float64, (0, 4), None, 0, False),
    ("read-only", "i", np.int32, (2, 6), None, 0, True),
    ("bytes 3s", "3s", np.dtype("S3"), (4,), None, 0, False),
    ("bool", "?", np.bool_, (2, 2), None, 0, False),
    ("half", "e", np.float16, (5,), (-2,), 8, False),
    ("big-endian", ">i", np.dtype(">i4"), (2, 3), None, 0, False),
]


def _numpy_case(ex, case, calls=None):
    name, fmt, dtype, shape, strides, offset, readonly = case
    base = np.zeros(128, dtype=np.uint8)
    base[:] = np.arange(128, dtype=np.uint8) * 7 % 251
    e = ex.Exporter(base, shape=shape, strides=strides, offset=offset, format=fmt,
                    readonly=readonly, on_owner=None if calls is None else (lambda: calls.append(name)))
    real = strides if strides is not None else tuple(c_strides(shape, np.dtype(dtype).itemsize))
    # what the memory holds, as numpy reads it directly
    expected = np.ndarray(shape, dtype=dtype, buffer=base, offset=offset, strides=real)
    return e, base, expected, real


@pytest.mark.parametrize("case", NUMPY_CASES, ids=[c[0] for c in NUMPY_CASES])
def test_numpy_sees_the_exported_memory(ex, case):
    name, fmt, dtype, shape, strides, offset, readonly = case
    e, base, expected, real = _numpy_case(ex, case)
    a = np.asarray(e)
    assert a.shape == shape
    assert a.strides == tuple(real)
    assert a.dtype == np.dtype(dtype)
    assert a.flags.writeable == (not readonly)
    # no copy: numpy's data pointer is the exported address
    assert a.__array_interface__["data"][0] == base.ctypes.data + offset
    assert a.tobytes() == expected.tobytes()
    m = memoryview(e)
    assert (m.format, m.shape, m.strides, m.readonly) == (fmt, shape, tuple(real), readonly)
    assert m.suboffsets == ()
    assert e.exports == 2
    if readonly:
        with pytest.raises(ValueError):
            a[...] = 0
        with pytest.raises(ex.PybufError) as err:
            ex.copy(e, np.zeros(shape, dtype))
        assert err.value.status == READ_ONLY and "PYBUF_WRITABLE" in str(err.value)
        return
    if a.size == 0:
        return
    # a write through numpy is visible through pybuf
    idx = tuple(n - 1 for n in shape)
    a[idx] = np.ones((), dtype)
    assert ex.to_contiguous(e, "C") == np.ascontiguousarray(expected).tobytes()
    assert expected[idx] == a[idx]
    # and a write through pybuf (a view filled by the exporter) is visible in numpy
    src = (np.arange(a.size).reshape(shape) % 2).astype(dtype)
    if 0 in real:
        # aliased elements: pybuf_copy refuses a destination with a zero stride
        with pytest.raises(ex.PybufError) as err:
            ex.copy(e, src)
        assert "stride" in str(err.value)
        return
    ex.copy(e, src)
    assert np.array_equal(a, src)
    assert np.array_equal(a, expected)


def test_owner_callback_after_the_last_numpy_array(ex):
    calls = []
    base = bytearray(range(96))
    e = ex.Exporter(base, shape=(3, 4), format="d", on_owner=lambda: calls.append("owner"))
    a = np.asarray(e)
    b = a[1:, ::2]  # a view of a
    m = memoryview(e)
    holder = [np.asarray(e)]
    holder.append(holder)  # a cycle: only gc.collect() frees it
    gc.collect()
    before = ex.owner_calls()
    del e
    gc.collect()
    assert calls == []
    with pytest.raises(BufferError):
        base.append(0)  # the exporter still holds the base's buffer
    del a
    gc.collect()
    assert calls == []
    m.release()
    del m
    assert calls == []
    del holder
    assert calls == []  # the cycle is still there
    gc.collect()
    assert calls == []  # b is left
    assert b.sum() == np.frombuffer(base, "d").reshape(3, 4)[1:, ::2].sum()
    del b
    gc.collect()
    assert calls == ["owner"]
    assert ex.owner_calls() == before + 1
    base.append(0)  # the base's buffer is released too


def test_owner_callback_with_numpy_views_of_views(ex):
    calls = []
    e, base, expected, _ = _numpy_case(ex, NUMPY_CASES[0], calls)
    chain = [np.asarray(e)]
    for _ in range(5):
        chain.append(chain[-1].T[::-1])
    last = chain[-1]
    del e, chain
    gc.collect()
    assert calls == []
    assert last.shape == (4, 3)
    del last
    gc.collect()
    assert calls == ["C 3x4 d"]


def test_exports_count(ex):
    e = ex.Exporter(bytearray(48), shape=(2, 3), format="q")
    assert e.exports == 0
    a = np.asarray(e)
    assert e.exports == 1
    m = memoryview(e)
    assert e.exports == 2
    m2 = m[::2]  # a slice of a memoryview is no new export
    assert e.exports == 2
    m2.release()
    m.release()
    assert e.exports == 1
    del a
    gc.collect()
    assert e.exports == 0
    # refused requests count nothing
    ro = ex.Exporter(bytes(8), format="B")
    assert isinstance(request(ro, WRITABLE), ex.PybufError)
    assert ro.exports == 0


def test_getbuffer_keeps_reference_counts(ex):
    """__getbuffer__ overwrites Cython's placeholder obj; no reference may leak or be lost."""
    e = ex.Exporter(bytearray(64), shape=(8,), format="d")
    ro = ex.Exporter(bytes(64), shape=(8,), format="d")
    gc.collect()
    none_before, e_before, ro_before = sys.getrefcount(None), sys.getrefcount(e), sys.getrefcount(ro)
    for _ in range(5000):
        with memoryview(e):
            pass
        assert isinstance(request(ro, WRITABLE | ND), ex.PybufError)  # the failure path
        request(ro, RECORDS_RO)
    gc.collect()
    assert abs(sys.getrefcount(None) - none_before) < 10
    assert sys.getrefcount(e) == e_before and sys.getrefcount(ro) == ro_before
    assert e.exports == 0 and ro.exports == 0


def test_replace(ex):
    b1 = bytearray(range(16))
    b2 = bytearray(range(100, 124))
    e = ex.Exporter(b1, format="B")
    m = memoryview(e)
    with pytest.raises(ex.PybufError) as err:
        e.replace(b2, shape=(2, 12))
    assert err.value.status == EXPORTS_EXIST and "existing exports" in str(err.value)
    assert bytes(memoryview(e)) == bytes(b1)  # unchanged
    with pytest.raises(BufferError):
        b1.append(0)  # still held
    m.release()
    e.replace(b2, shape=(2, 12))
    b1.append(0)  # the old base is given back
    with pytest.raises(BufferError):
        b2.append(0)
    m = memoryview(e)
    assert m.shape == (2, 12) and m.tobytes() == bytes(b2)
    m.release()
    # an invalid description is refused and changes nothing
    with pytest.raises(ex.PybufError) as err:
        e.replace(bytearray(8), shape=(2,), format="d")
    assert err.value.status == LENGTH_MISMATCH
    assert memoryview(e).shape == (2, 12)
    # the owner callback is kept: it runs once, with the last base released
    calls = []
    e2 = ex.Exporter(bytearray(4), on_owner=lambda: calls.append(1))
    b3 = bytearray(8)
    e2.replace(b3, readonly=True)
    assert memoryview(e2).readonly
    del e2
    gc.collect()
    assert calls == [1]
    b3.append(0)


@pytest.mark.parametrize("kwargs, status, text", [
    (dict(shape=(2,), format="d"), LENGTH_MISMATCH, "outside the 8-byte memory"),
    (dict(shape=(2,), strides=(-4,), format="i"), LENGTH_MISMATCH, "[-4, 4)"),
    (dict(shape=(1,), format="d", itemsize=4), INVALID_ITEMSIZE, "itemsize = 4 but format \"d\" has size 8"),
    (dict(shape=(-1,), format="B"), INVALID_SHAPE, "shape[0] = -1 is negative"),
    (dict(shape=(1,), format="T{i"), INVALID_FORMAT, "T{"),
])
def test_invalid_descriptions(ex, kwargs, status, text):
    calls = []
    with pytest.raises(ex.PybufError) as err:
        ex.Exporter(bytearray(8), on_owner=lambda: calls.append(1), **kwargs)
    assert err.value.status == status
    assert text in str(err.value)
    gc.collect()
    assert calls == []  # the owner callback never runs for a refused description


def test_release_refuses_foreign_views(ex):
    """pybuf_release on a view filled by CPython, numpy or _testbuffer: FOREIGN_VIEW, untouched."""
    pil = tb.ndarray(list(range(12)), shape=[3, 4], format="i", flags=tb.ND_PIL)
    objects = [
        np.arange(12.0).reshape(3, 4),
        np.arange(12.0).reshape(3, 4).T[::-1],
        np.zeros((), np.int32),
        memoryview(b"abc"),
        bytearray(b"xyz"),
        b"bytes",
        tb.ndarray(list(range(12)), shape=[3, 4], format="i"),
    ]
    for obj in objects:
        assert ex.release_foreign(obj) == (FOREIGN_VIEW, True), obj
    assert ex.release_foreign(pil, FULL_RO) == (FOREIGN_VIEW, True)
    # and objects still work afterwards
    assert np.arange(12.0).reshape(3, 4).sum() == 66


def test_release_refuses_foreign_views_shared_library(ex):
    """The same through libpybuf.so (ctypes), on views CPython filled."""
    lib = ctypes.CDLL(os.environ.get("PYBUF_LIB") or str(REPO / "target" / "release" / "libpybuf.so"))
    lib.pybuf_release.argtypes = [POINTER(Py_buffer)]
    lib.pybuf_release.restype = None
    lib.pybuf_last_status.restype = c_int
    for obj, flags in [(np.arange(6.0), FULL), (bytearray(5), FULL), (memoryview(b"xy"), FULL_RO),
                       (tb.ndarray([1, 2, 3], shape=[3], format="h", flags=tb.ND_PIL), FULL_RO)]:
        view = Py_buffer()
        PyObject_GetBuffer(obj, byref(view), flags)
        before = bytes(view)
        lib.pybuf_release(byref(view))
        assert lib.pybuf_last_status() == FOREIGN_VIEW
        assert bytes(view) == before
        PyBuffer_Release(byref(view))
    # a view the module's (static) copy of libpybuf filled is foreign to the shared one
    e = ex.Exporter(bytearray(8))
    view = Py_buffer()
    PyObject_GetBuffer(e, byref(view), FULL)
    before = bytes(view)
    lib.pybuf_release(byref(view))
    assert lib.pybuf_last_status() == FOREIGN_VIEW and bytes(view) == before
    assert e.exports == 1
    PyBuffer_Release(byref(view))
    assert e.exports == 0


def test_release_refuses_a_memoryview_copy_of_a_pybuf_view(ex):
    # memoryview copies the whole Py_buffer it holds, internal included, into the views it
    # gives out; pybuf records the address of the view it filled, so such a copy is refused
    # and the memoryview keeps its export.
    e = ex.Exporter(bytearray(8))
    m = memoryview(e)
    try:
        status, unchanged = ex.release_foreign(m)
        assert (status, unchanged) == (FOREIGN_VIEW, True)
        assert e.exports == 1
    finally:
        m.release()
    assert e.exports == 0


def test_exporting_from_threads(ex):
    calls = []
    e = ex.Exporter(bytearray(64), shape=(2, 4), format="d", on_owner=lambda: calls.append(1))
    errors = []

    def work():
        try:
            for i in range(2000):
                with memoryview(e) as m:
                    assert m.shape == (2, 4)
                if i % 100 == 0:
                    assert np.asarray(e).shape == (2, 4)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    gc.collect()
    assert e.exports == 0
    del e
    gc.collect()
    assert calls == [1]


# ---------------------------------------------------------------------------------------
# The consumer functions (docs/exporters.md's Cython snippet is to_contiguous)


def random_arrays(rnd, n):
    for _ in range(n):
        dtype = rnd.choice(["u1", "i2", "<i4", ">i4", "f8", "c16", "S3", "?"])
        shape = tuple(rnd.randint(0, 4) if rnd.random() < 0.1 else rnd.randint(1, 5)
                      for _ in range(rnd.randint(0, 4)))
        a = np.frombuffer(random.Random(rnd.getrandbits(32)).randbytes(max(1, math.prod(shape)) * np.dtype(dtype).itemsize),
                          dtype=dtype)[: math.prod(shape)].reshape(shape)
        if dtype == "?":
            a = a.view(np.uint8).astype(bool)
        if a.ndim and rnd.random() < 0.3:
            a = a.T
        if a.ndim and rnd.random() < 0.4:
            a = a[tuple(slice(None, None, rnd.choice((1, -1, 2, -2))) for _ in range(a.ndim))]
        if rnd.random() < 0.2:
            a = np.asfortranarray(a)
        yield a


def test_to_contiguous_and_is_contiguous(ex):
    rnd = random.Random(SEED + 1)
    n = 0
    for a in random_arrays(rnd, 400):
        for order in "CFA":
            numpy_order = order if order != "A" else ("F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
            assert ex.to_contiguous(a, order) == a.tobytes(order=numpy_order), (a.shape, a.strides, order)
            view = Py_buffer()
            PyObject_GetBuffer(a, byref(view), FULL_RO)
            try:
                assert ex.is_contiguous(a, order) == bool(PyBuffer_IsContiguous(byref(view), order.encode()))
            finally:
                PyBuffer_Release(byref(view))
            n += 1
        # memoryviews too, with their own (sliced) views
        m = memoryview(a)
        assert ex.to_contiguous(m, "C") == m.tobytes()
    assert n == 1200
    with pytest.raises(TypeError):
        ex.to_contiguous(object())
    with pytest.raises(ValueError):
        ex.to_contiguous(np.zeros(3), "X")


def test_copy(ex):
    rnd = random.Random(SEED + 2)
    for src in random_arrays(rnd, 300):
        big = np.zeros(tuple(2 * n + 1 for n in src.shape), dtype=src.dtype)
        sl = tuple(slice(0, 2 * n, 2) if n == 0 or rnd.random() < 0.5 else slice(2 * n - 1, None, -2)
                   for n in src.shape)
        dst = big[sl] if sl else big[...]  # big[()] would be a scalar
        assert dst.shape == src.shape
        untouched = big.copy()
        untouched[sl] = 0
        ex.copy(dst, src)
        assert dst.tobytes() == src.tobytes()  # bytes: NaNs compare equal
        rest = big.copy()
        rest[sl] = 0
        assert rest.tobytes() == untouched.tobytes()
    with pytest.raises(ex.PybufError) as err:
        ex.copy(np.zeros(3), np.zeros(4))
    assert err.value.status == -14  # PYBUF_STATUS_SHAPE_MISMATCH
    with pytest.raises(BufferError):
        ex.copy(b"abc", b"xyz")  # bytes are read-only: refused by the exporter


# ---------------------------------------------------------------------------------------
# pybuf.pxd against the header


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


HEADER_CODE = _strip_comments(HEADER.read_text())
HEADER_FUNCTIONS = sorted(set(re.findall(r"^[A-Za-z_][\w\s\*]*?\b(pybuf_\w+)\s*\(", HEADER_CODE, flags=re.M)))
HEADER_DEFINES = {m.group(1): m.group(2).strip() for m in
                  re.finditer(r"^#define\s+(PYBUF_\w+)[ \t]+(.+)$", HEADER_CODE, flags=re.M)}
HEADER_ENUMS = {m.group(1): int(m.group(2)) for m in
                re.finditer(r"^\s*(PYBUF_\w+)\s*=\s*(-?\d+)\s*,?\s*$", HEADER_CODE, flags=re.M)}
HEADER_STRUCTS = {
    m.group(1): re.findall(r"(\w+)\)?(?:\[\d+\])?\s*;", re.sub(r"\([^()]*\)\s*;", ";", m.group(2)))
    for m in re.finditer(r"typedef struct (pybuf_\w+) \{(.*?)\} \1;", HEADER_CODE, flags=re.S)
}
HEADER_TYPES = sorted(set(
    re.findall(r"\}\s*(pybuf_\w+);", HEADER_CODE)                   # structs and enums
    + re.findall(r"typedef [\w ]+? (pybuf_\w+);", HEADER_CODE)       # opaque, pybuf_ssize_t
    + re.findall(r"typedef [^;]*\(\*(pybuf_\w+)\)", HEADER_CODE)))  # function pointers


def _header_constants() -> dict:
    values = dict(HEADER_ENUMS)
    for name, expr in HEADER_DEFINES.items():
        if expr.startswith('"'):
            values[name] = expr.strip('"')
        else:
            # the <stdint.h> limits the header names (PYBUF_SLICE_NONE is PTRDIFF_MIN)
            limits = {"PTRDIFF_MIN": -(1 << (8 * ctypes.sizeof(c_ssize_t) - 1))}
            values[name] = eval(re.sub(r"\bPYBUF_\w+\b", lambda m: repr(values[m.group(0)]), expr), limits)
    return values


def test_header_is_parsed():
    assert len(HEADER_FUNCTIONS) >= 37 and "pybuf_exporter_get_buffer" in HEADER_FUNCTIONS
    assert HEADER_STRUCTS["pybuf_buffer"] == ["buf", "obj", "len", "itemsize", "readonly", "ndim",
                                              "format", "shape", "strides", "suboffsets", "internal"]
    assert HEADER_STRUCTS["pybuf_procs"] == ["getbuffer", "releasebuffer"]
    assert "pybuf_status" in HEADER_TYPES and "pybuf_exporter" in HEADER_TYPES
    assert _header_constants()["PYBUF_FULL_RO"] == FULL_RO


def test_pxd_declares_the_whole_header():
    pxd = PXD.read_text()
    code = re.sub(r"#[^\n]*", "", pxd)
    missing = [f for f in HEADER_FUNCTIONS if not re.search(rf"\b{f}\s*\(", code)]
    missing += [c for c in list(HEADER_DEFINES) + list(HEADER_ENUMS) if not re.search(rf"^\s+(const char \*)?{c}\s*$", code, flags=re.M)]
    missing += [t for t in HEADER_TYPES if not re.search(rf"ctypedef\b[^\n]*\b{t}\b", code)]
    assert not missing, f"pybuf.pxd lacks {missing}"
    for struct_name, fields in HEADER_STRUCTS.items():
        block = re.search(rf"ctypedef struct {struct_name}:\n((?:        [^\n]*\n)+)", code)
        assert block, struct_name
        declared = re.findall(r"\(?\*?(\w+)(?:\[\d+\])?\)?(?:\(.*\))?\s*(?:noexcept nogil)?\s*$", block.group(1), flags=re.M)
        assert declared == fields, struct_name
    # nothing can clash with Python.h: every name pybuf.pxd declares is pybuf's
    declared = (re.findall(r"^    [\w ]*?\**(\w+)\(", code, flags=re.M)            # functions
                + re.findall(r"^        ([A-Z_]\w*)\s*$", code, flags=re.M)         # constants
                + re.findall(r"^    ctypedef [^\n]*?\b(\w+)\s*(?::|$|\))", code, flags=re.M))  # types
    assert len(declared) > 90
    assert all(n.startswith(("pybuf_", "PYBUF_")) for n in declared), declared
    assert not re.search(r"\bPy(BUF_|_buffer|Buffer)", code)


def test_pxd_check_module(pxd_check):
    """The module that compiles only if every signature and field of pybuf.pxd matches."""
    assert sorted(pxd_check.FUNCTIONS) == HEADER_FUNCTIONS
    assert pxd_check.FIELDS == {k: v for k, v in HEADER_STRUCTS.items()}
    assert sorted(pxd_check.TYPES) == HEADER_TYPES
    assert pxd_check.CONSTANTS == _header_constants()
    assert pxd_check.SIZES["pybuf_buffer"] == ctypes.sizeof(Py_buffer)
    assert pxd_check.SIZES["pybuf_ssize_t"] == ctypes.sizeof(c_ssize_t)
    assert pxd_check.SIZES["code"] == 4


# ---------------------------------------------------------------------------------------
# The snippets of docs/exporters.md


def _snippets() -> dict:
    text = SNIPPETS.read_text()
    text = text[text.index("<!-- snippets:"):text.index("<!-- end of snippets -->")]
    return {lang: body for lang, body in re.findall(r"```(c|cython)\n(.*?)```", text, flags=re.S)}


def test_readme_snippets_are_the_tested_files():
    snippets = _snippets()
    assert set(snippets) == {"c", "cython"}
    assert snippets["c"] == EXPORT_C.read_text()
    pyx = PYX.read_text()
    region = re.search(r"# --- docs snippet: consume[^\n]*\n(.*?)# --- end of docs snippet ---",
                       pyx, flags=re.S).group(1)
    assert snippets["cython"] == region.strip("\n") + "\n"
    for body in snippets.values():
        assert len(body.splitlines()) < 35


def test_export_c_example_compiles_and_runs(tmp_path):
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    lib_dir = Path(os.environ.get("PYBUF_LIB") or REPO / "target" / "release" / "libpybuf.so").parent
    exe = tmp_path / "export"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(REPO / "include"),
                    str(EXPORT_C), str(lib_dir / "libpybuf.a"), "-lpthread", "-ldl", "-lm", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert out == "d 3x4, strides 32 8, m[2][1] = 9\nowner: memory freed\n"
    assert EXPORT_C.read_text().rstrip().endswith("/* d 3x4, strides 32 8, m[2][1] = 9\n   owner: memory freed */")
