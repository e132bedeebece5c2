"""libpybuf's format engine (pybuf_format_* and pybuf_check_format*) against the real thing.

- struct.calcsize for the struct module's subset of the grammar: item sizes, and every
  field offset (the offset of item k is calcsize(items 0..k) - size of item k, since the
  struct module has no trailing padding);
- NumPy for T{} formats: dtype.itemsize and the offset, kind, size and byte order of
  every leaf, against dtypes built directly and against NumPy's own PEP 3118 parser
  (numpy._core._internal._dtype_from_pep3118), including the strings NumPy itself exports
  from memoryview(np.zeros(2, dtype)).format;
- a seeded property test: random formats, every one compared (PYBUF_SEED reproduces a
  run; PYBUF_FORMAT_CASES sets how many of each family, default 6000 each).

pybuf's leaves are read through the C API (pybuf_format_leaf_count/get_leaf) and
expanded over their repeats, so the test sees what a C caller sees.

Run: .venv/bin/python -m pytest -q bindings/python/tests/test_formats.py
"""

from __future__ import annotations

import ctypes
import math
import os
import random
import secrets
import struct
import sys
from ctypes import POINTER, Structure, c_char, c_char_p, c_int, c_ssize_t, c_void_p
from pathlib import Path

import numpy as np
import pytest

try:
    from numpy._core._internal import _dtype_from_pep3118
except ImportError:  # NumPy < 2
    from numpy.core._internal import _dtype_from_pep3118

REPO = Path(__file__).resolve().parents[3]
LIB_PATH = os.environ.get("PYBUF_LIB", str(REPO / "target" / "release" / "libpybuf.so"))
SEED = int(os.environ["PYBUF_SEED"]) if os.environ.get("PYBUF_SEED") else secrets.randbits(32)
CASES = int(os.environ.get("PYBUF_FORMAT_CASES", "6000"))
LITTLE = sys.byteorder == "little"
NATIVE_ORDER = "<" if LITTLE else ">"

# Statuses (include/pybuf.h).
OK = 0
NULL_POINTER = -1
INVALID_ARGUMENT = -2
INVALID_NDIM = -3
INDEX_OUT_OF_RANGE = -10
INVALID_FORMAT = -11
UNSUPPORTED_FORMAT = -12
OVERFLOW = -9
FORMAT_MISMATCH = -20

BYTE_ORDER_LITTLE = 1
BYTE_ORDER_BIG = 2


# ---------------------------------------------------------------------------------------
# ctypes declarations

class Field(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("offset", c_ssize_t),
        ("size", c_ssize_t),
        ("element_size", c_ssize_t),
        ("alignment", c_ssize_t),
        ("count", c_ssize_t),
        ("values", c_ssize_t),
        ("ndim", c_int),
        ("shape", POINTER(c_ssize_t)),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", c_int),
        ("nested", c_void_p),
    ]


class Repeat(Structure):
    _fields_ = [("count", c_ssize_t), ("stride", c_ssize_t)]


class Leaf(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("offset", c_ssize_t),
        ("size", c_ssize_t),
        ("count", c_ssize_t),
        ("total", c_ssize_t),
        ("nrepeats", c_int),
        ("repeats", POINTER(Repeat)),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", c_int),
    ]


class Run(Structure):
    _fields_ = [
        ("offset", c_ssize_t),
        ("size", c_ssize_t),
        ("count", c_ssize_t),
        ("code", c_char * 4),
        ("mode", c_char),
        ("byte_order", c_int),
    ]


class Buffer(Structure):
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


def _declare(lib):
    sigs = {
        "pybuf_size_from_format": (c_ssize_t, [c_char_p]),
        "pybuf_format_parse": (c_int, [c_char_p, POINTER(c_void_p)]),
        "pybuf_format_free": (None, [c_void_p]),
        "pybuf_format_itemsize": (c_ssize_t, [c_void_p]),
        "pybuf_format_alignment": (c_ssize_t, [c_void_p]),
        "pybuf_format_field_count": (c_ssize_t, [c_void_p]),
        "pybuf_format_get_field": (c_int, [c_void_p, c_ssize_t, POINTER(Field)]),
        "pybuf_format_leaf_count": (c_ssize_t, [c_void_p]),
        "pybuf_format_get_leaf": (c_int, [c_void_p, c_ssize_t, POINTER(Leaf)]),
        "pybuf_format_canonical": (c_char_p, [c_void_p]),
        "pybuf_format_equal": (c_int, [c_void_p, c_void_p]),
        "pybuf_format_compatible": (c_int, [c_void_p, c_void_p]),
        "pybuf_format_runs_new": (c_int, [c_void_p, POINTER(c_void_p)]),
        "pybuf_format_runs_next": (c_int, [c_void_p, POINTER(Run)]),
        "pybuf_format_runs_free": (None, [c_void_p]),
        "pybuf_check_format": (c_int, [POINTER(Buffer), c_char_p]),
        "pybuf_check_format_ex": (c_int, [POINTER(Buffer), c_char_p, c_int, c_char]),
        "pybuf_last_error": (c_char_p, []),
        "pybuf_last_status": (c_int, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


@pytest.fixture(scope="module")
def lib():
    if not os.path.exists(LIB_PATH):
        pytest.fail(f"libpybuf not found at {LIB_PATH}: run `cargo build --release --lib` or set PYBUF_LIB")
    return _declare(ctypes.CDLL(LIB_PATH))


def last_error(lib) -> str:
    return lib.pybuf_last_error().decode("utf-8", "replace")


class Parsed:
    """A pybuf_format handle, freed on exit."""

    def __init__(self, lib, fmt: str | bytes):
        self.lib = lib
        self.fmt = fmt.encode() if isinstance(fmt, str) else fmt
        self.h = c_void_p()
        rc = lib.pybuf_format_parse(self.fmt, ctypes.byref(self.h))
        if rc != 0:
            raise ValueError(f"pybuf_format_parse({self.fmt!r}) = {rc}: {last_error(lib)}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.lib.pybuf_format_free(self.h)
        self.h = None

    @property
    def itemsize(self):
        return self.lib.pybuf_format_itemsize(self.h)

    def fields(self, h=None):
        h = self.h if h is None else h
        out = []
        for i in range(self.lib.pybuf_format_field_count(h)):
            f = Field()
            assert self.lib.pybuf_format_get_field(h, i, ctypes.byref(f)) == 0, last_error(self.lib)
            out.append(f)
        return out

    def leaves(self):
        out = []
        for i in range(self.lib.pybuf_format_leaf_count(self.h)):
            f = Leaf()
            assert self.lib.pybuf_format_get_leaf(self.h, i, ctypes.byref(f)) == 0, last_error(self.lib)
            out.append(f)
        return out

    def runs(self):
        it = c_void_p()
        assert self.lib.pybuf_format_runs_new(self.h, ctypes.byref(it)) == 0
        try:
            out = []
            r = Run()
            while self.lib.pybuf_format_runs_next(it, ctypes.byref(r)) == 1:
                out.append((r.offset, r.code.decode(), r.size, r.count))
            return out
        finally:
            self.lib.pybuf_format_runs_free(it)

    @property
    def canonical(self):
        return self.lib.pybuf_format_canonical(self.h).decode()


def parse_error(lib, fmt: str | bytes):
    """(status, message) of a format that must fail to parse; checks out is untouched."""
    fmt = fmt.encode() if isinstance(fmt, str) else fmt
    sentinel = c_void_p(0x1234)
    rc = lib.pybuf_format_parse(fmt, ctypes.byref(sentinel))
    assert rc < 0, f"{fmt!r} parsed"
    assert sentinel.value == 0x1234, f"{fmt!r}: out written on failure"
    return rc, last_error(lib)


# ---------------------------------------------------------------------------------------
# Leaves, as pybuf and NumPy see them: (offset, bytes, kind, byte order) per value block

# pybuf code -> NumPy dtype kind
KIND = {
    "?": "b", "b": "i", "h": "i", "i": "i", "l": "i", "q": "i",
    "B": "u", "H": "u", "I": "u", "L": "u", "Q": "u",
    "e": "f", "f": "f", "d": "f", "g": "f", "Zf": "c", "Zd": "c", "Zg": "c",
    "s": "S", "c": "S", "w": "U", "O": "O", "x": "V",
}


def pybuf_leaves(p: Parsed):
    """One (offset, bytes, kind, order) per contiguous block of a leaf, over every repeat;
    unnamed padding left out (NumPy has no field for it)."""
    out = []
    for leaf in p.leaves():
        code = leaf.code.decode()
        if code == "x" and leaf.name is None:
            continue
        reps = [(leaf.repeats[r].count, leaf.repeats[r].stride) for r in range(leaf.nrepeats)]
        nbytes = leaf.size * leaf.count
        order = "<" if leaf.byte_order == BYTE_ORDER_LITTLE else ">"
        starts = [leaf.offset]
        for count, stride in reps:
            starts = [s + k * stride for s in starts for k in range(count)]
        for s in starts:
            unit = 1 if code in ("s", "p", "c", "x") else leaf.size
            out.append((s, nbytes, KIND.get(code, "?" + code), order if unit > 1 and code != "O" else "|"))
    return sorted(out)


def numpy_leaves(dt: np.dtype, base: int = 0, out=None):
    """The same list for a NumPy dtype."""
    if out is None:
        out = []
    if dt.subdtype is not None:
        sub, n = dt, 1
        while sub.subdtype is not None:
            n *= math.prod(sub.subdtype[1])
            sub = sub.subdtype[0]
        if sub.names is not None:
            for k in range(n):
                numpy_leaves(sub, base + k * sub.itemsize, out)
            return out
        out.append(_numpy_leaf(sub, base, sub.itemsize * n))
        return out
    if dt.names is not None:
        for name in dt.names:
            fdt, off = dt.fields[name][:2]
            numpy_leaves(fdt, base + off, out)
        return out
    out.append(_numpy_leaf(dt, base, dt.itemsize))
    return out


def _numpy_leaf(dt, offset, nbytes):
    unit = 4 if dt.kind == "U" else (1 if dt.kind in "SV" else dt.itemsize)
    if unit <= 1 or dt.kind == "O":
        order = "|"
    else:
        order = {"=": NATIVE_ORDER, "|": NATIVE_ORDER}.get(dt.byteorder, dt.byteorder)
    return (offset, nbytes, dt.kind, order)


def compare_with_numpy(lib, fmt: str, dt: np.dtype, what: str = ""):
    """pybuf's item size and leaves for `fmt` equal `dt`'s."""
    with Parsed(lib, fmt) as p:
        assert p.itemsize == dt.itemsize, f"{what}{fmt!r}: pybuf itemsize {p.itemsize}, NumPy {dt.itemsize} ({dt})"
        mine, theirs = pybuf_leaves(p), sorted(numpy_leaves(dt))
        assert mine == theirs, f"{what}{fmt!r} vs {dt}:\n pybuf {mine}\n numpy {theirs}"
        assert lib.pybuf_size_from_format(fmt.encode()) == dt.itemsize


# ---------------------------------------------------------------------------------------
# Hand-written cases

STRUCT_CASES = [
    "", "b", "bi", "ib", "bhiq", "qihb", "b0i", "3x", "b3xi", "c?", "5s", "10p", "bd", "=bd",
    "<bd", ">bd", "!bd", "@bd", "<h3x2q", "e", "bebe", "ffd", "P", "bP", "nN", "bn", "lL",
    "b 3i 2x ?", "0s", "0p", "2P", "qb", "cbB?hHiIlLqQnNefdspP",
]


@pytest.mark.parametrize("fmt", STRUCT_CASES)
def test_struct_calcsize(lib, fmt):
    assert lib.pybuf_size_from_format(fmt.encode()) == struct.calcsize(fmt)
    check_struct_offsets(lib, fmt, struct_items(fmt))


def struct_items(fmt: str):
    """Split a struct-module format into (prefix marker, [item strings])."""
    marker = fmt[0] if fmt[:1] in ("@", "=", "<", ">", "!") else ""
    body = fmt[len(marker):]
    items, cur = [], ""
    for ch in body:
        if ch.isspace():
            continue
        cur += ch
        if not ch.isdigit():
            items.append(cur)
            cur = ""
    return marker, items


def check_struct_offsets(lib, fmt, split):
    """Every top-level field's offset, against struct.calcsize of the prefixes."""
    marker, items = split
    with Parsed(lib, fmt) as p:
        assert p.itemsize == struct.calcsize(fmt)
        fields = p.fields()
        assert len(fields) == len(items), (fmt, items)
        for k, (f, item) in enumerate(zip(fields, items)):
            end = struct.calcsize(marker + "".join(items[: k + 1]))
            assert f.size == struct.calcsize(marker + item), (fmt, k)
            assert f.offset == end - f.size, f"{fmt!r}: field {k} {item!r} at {f.offset}, struct says {end - f.size}"


def dt(spec, align=False):
    return np.dtype(spec, align=align)


# (format, NumPy dtype it must equal) -- padding, nesting, sub-arrays, names, byte orders.
NUMPY_CASES = [
    # padding between fields and at the end of a T{}
    ("T{b:a:i:b:}", dt([("a", "i1"), ("b", "i4")], True)),
    ("T{i:a:b:b:}", dt([("a", "i4"), ("b", "i1")], True)),
    ("T{b:a:d:b:b:c:}", dt([("a", "i1"), ("b", "f8"), ("c", "i1")], True)),
    ("T{h:a:b:b:}", dt([("a", "i2"), ("b", "i1")], True)),
    ("T{=b:a:d:b:b:c:}", dt([("a", "i1"), ("b", "f8"), ("c", "i1")])),
    ("T{^b:a:d:b:}", dt([("a", "i1"), ("b", "f8")])),
    ("T{b:a:3xi:b:}", dt({"names": ["a", "b"], "formats": ["i1", "i4"], "offsets": [0, 4], "itemsize": 8})),
    ("T{i:a:4x}", dt({"names": ["a"], "formats": ["i4"], "offsets": [0], "itemsize": 8})),
    # nested structs
    ("T{b:a:T{b:x:d:y:}:s:}", dt([("a", "i1"), ("s", [("x", "i1"), ("y", "f8")], )], True)),
    ("T{T{d:x:b:y:}:a:d:b:}", dt([("a", dt([("x", "f8"), ("y", "i1")], True)), ("b", "f8")], True)),
    ("T{T{T{b:z:}:y:}:x:h:w:}", dt([("x", [("y", [("z", "i1")])]), ("w", "i2")], True)),
    ("T{<T{i:x:b:y:}:a:b:b:}", dt([("a", [("x", "<i4"), ("y", "i1")]), ("b", "i1")])),
    # sub-arrays inside structs
    ("T{(2,3)f:m:b:t:}", dt([("m", "f4", (2, 3)), ("t", "i1")], True)),
    ("T{b:a:(4)d:v:}", dt([("a", "i1"), ("v", "f8", (4,))], True)),
    ("T{b:a:(2)T{b:x:i:y:}:s:}", dt([("a", "i1"), ("s", dt([("x", "i1"), ("y", "i4")], True), (2,))], True)),
    ("T{b:a:2T{h:x:b:y:}:s:}", dt([("a", "i1"), ("s", dt([("x", "i2"), ("y", "i1")], True), (2,))], True)),
    ("T{(2,2)3s:t:}", dt([("t", "S3", (2, 2))])),
    ("T{3i:t:}", dt([("t", "i4", (3,))])),
    # names
    ("T{i:first:i:second:}", dt([("first", "i4"), ("second", "i4")])),
    ("T{d:x y:}", dt([("x y", "f8")])),
    # byte orders
    ("T{<i:a:>i:b:}", dt([("a", "<i4"), ("b", ">i4")])),
    ("T{>d:a:<h:b:!q:c:}", dt([("a", ">f8"), ("b", "<i2"), ("c", ">i8")])),
    ("T{>Zd:a:}", dt([("a", ">c16")])),
    ("T{>3w:a:}", dt([("a", ">U3")])),
    ("T{<e:a:@e:b:}", dt([("a", "<f2"), ("b", "f2")])),
    # complex, unicode, bool, half, long double, object
    ("T{Zf:a:Zd:b:Zg:c:}", dt([("a", "c8"), ("b", "c16"), ("c", "clongdouble")], True)),
    ("T{b:a:4w:u:?:c:e:h:}", dt([("a", "i1"), ("u", "U4"), ("c", "?"), ("h", "f2")], True)),
    ("T{b:a:g:l:}", dt([("a", "i1"), ("l", "longdouble")], True)),
    ("T{b:a:O:o:}", dt([("a", "i1"), ("o", "O")], True)),
]


@pytest.mark.parametrize("fmt,dtype", NUMPY_CASES, ids=[c[0] for c in NUMPY_CASES])
def test_struct_formats_equal_numpy(lib, fmt, dtype):
    compare_with_numpy(lib, fmt, dtype)
    # NumPy's own parser agrees too.
    compare_with_numpy(lib, fmt, _dtype_from_pep3118(fmt), "NumPy's parser: ")


def test_top_level_padding_differs_from_numpy_as_documented(lib):
    # pybuf follows struct.calcsize at the top level (README, divergence 1).
    assert lib.pybuf_size_from_format(b"ib") == 5 == struct.calcsize("ib")
    assert _dtype_from_pep3118("ib").itemsize == 8
    assert lib.pybuf_size_from_format(b"T{ib}b") == 9
    assert _dtype_from_pep3118("T{ib}b").itemsize == 12
    # ... and markers persist past '}' as in NumPy.
    compare_with_numpy(lib, "T{T{<i:a:}:s:b:b:i:c:}", _dtype_from_pep3118("T{T{<i:a:}:s:b:b:i:c:}"))


# ---------------------------------------------------------------------------------------
# The formats NumPy exports

def _dtypes():
    """Structured dtypes, each packed and aligned."""
    specs = [
        [("a", "i1"), ("b", "f8")],
        [("a", "i1"), ("b", ">f8"), ("c", "<i4")],
        [("a", "i4"), ("b", "i1")],
        [("a", "i2"), ("b", "i8"), ("c", "i1"), ("d", "i4")],
        [("a", [("x", "f8"), ("y", "i1")]), ("b", "f8")],
        [("a", [("x", "i1"), ("y", "i2")]), ("b", "i1")],
        [("a", [("x", "f8"), ("y", "i1")], (2,)), ("b", "i2")],
        [("a", [("x", "i4"), ("y", [("p", "i1"), ("q", "f8")])])],
        [("a", "f4", (2, 3)), ("b", "U3"), ("c", "?"), ("d", "e"), ("e", "c16"), ("f", "S5")],
        [("a", "c8"), ("b", ">c16"), ("c", "f2")],
        [("a", "<U5"), ("b", ">U2")],
        [("a", "?"), ("b", "?"), ("c", "i8")],
        [("a", "e"), ("b", "f"), ("c", "d")],
        [("a", ">i2"), ("b", ">i4"), ("c", ">i8"), ("d", ">u2")],
        [("a", "<i2"), ("b", "<u4"), ("c", "<f8")],
        [("a", "u1", (3,)), ("b", "i4", (2, 2))],
        [("a", "S3"), ("b", "i4")],
        [("a", "longdouble"), ("b", "i1")],
        [("a", "clongdouble"), ("b", "i2")],
        [("a", "O"), ("b", "i8")],
        [("a", "i1"), ("b", [("c", "i1"), ("d", "i1")]), ("e", "i1")],
        [("a", [("b", [("c", [("d", "f8")])])]), ("e", "i1")],
        [("a", "i8"), ("b", [("c", "i1")], (3,))],
        [("x", "f4"), ("y", "f4"), ("z", "f4"), ("id", "u8")],
        [("flag", "?"), ("value", "f2"), ("name", "U1")],
    ]
    out = []
    for spec in specs:
        for align in (False, True):
            out.append(np.dtype(spec, align=align))
    out.append(np.dtype({"names": ["a", "b"], "formats": ["i4", "f8"], "offsets": [0, 16], "itemsize": 32}))
    out.append(np.dtype({"names": ["a", "b"], "formats": ["i1", "i1"], "offsets": [0, 4], "itemsize": 8}))
    out.append(np.dtype([("a", "i4")]))
    return out


EXPORTED = _dtypes()


@pytest.mark.parametrize("dtype", EXPORTED, ids=[f"{d}{' aligned' if d.isalignedstruct else ''}" for d in EXPORTED])
def test_numpy_exported_formats(lib, dtype):
    fmt = memoryview(np.zeros(2, dtype)).format
    roundtrip = _dtype_from_pep3118(fmt)
    # pybuf always equals NumPy's own parser on NumPy's own strings.
    compare_with_numpy(lib, fmt, roundtrip, "NumPy's parser: ")
    # And equals the dtype itself wherever NumPy's export describes it faithfully. Where
    # it does not (README: "producers whose formats disagree with their own item size"),
    # NumPy's parser disagrees with the dtype in the same way.
    faithful = roundtrip.itemsize == dtype.itemsize and sorted(numpy_leaves(roundtrip)) == sorted(numpy_leaves(dtype))
    if faithful:
        compare_with_numpy(lib, fmt, dtype)
    else:
        with Parsed(lib, fmt) as p:
            assert p.itemsize != dtype.itemsize or pybuf_leaves(p) != sorted(numpy_leaves(dtype))


def test_most_numpy_exports_are_faithful(lib):
    faithful = 0
    for dtype in EXPORTED:
        fmt = memoryview(np.zeros(2, dtype)).format
        with Parsed(lib, fmt) as p:
            if p.itemsize == dtype.itemsize and pybuf_leaves(p) == sorted(numpy_leaves(dtype)):
                faithful += 1
    # The unfaithful ones are NumPy's: explicit padding after nested aligned structs, the
    # dropped trailing padding of explicit-offset dtypes, non-native fields in aligned
    # structs, and object fields next to smaller ones.
    assert faithful >= len(EXPORTED) - 12, f"only {faithful} of {len(EXPORTED)}"


@pytest.mark.parametrize("dtype", EXPORTED[:20], ids=[str(d) for d in EXPORTED[:20]])
def test_check_format_on_numpy_arrays(lib, dtype):
    a = np.zeros((3, 4), dtype)
    fmt = memoryview(a).format
    if lib.pybuf_size_from_format(fmt.encode()) != dtype.itemsize:
        # NumPy's format disagrees with its itemsize (see test_numpy_exported_formats):
        # the check reports it rather than guessing.
        with NumpyView(a) as v:
            assert lib.pybuf_check_format(v.ref, fmt.encode()) == FORMAT_MISMATCH
            assert f"view->itemsize is {dtype.itemsize}" in last_error(lib)
        return
    with NumpyView(a) as v:
        # The view's own format always matches.
        assert lib.pybuf_check_format(v.ref, fmt.encode()) == 0, last_error(lib)
        assert lib.pybuf_check_format_ex(v.ref, fmt.encode(), 2, b"C") == 0, last_error(lib)
        assert lib.pybuf_check_format_ex(v.ref, fmt.encode(), 1, b"\0") == FORMAT_MISMATCH
        assert "dimension" in last_error(lib)
    with NumpyView(a.T) as v:
        assert lib.pybuf_check_format_ex(v.ref, fmt.encode(), -1, b"F") == 0, last_error(lib)
        assert lib.pybuf_check_format_ex(v.ref, fmt.encode(), 2, b"C") == FORMAT_MISMATCH
        assert "C-contiguous" in last_error(lib)


class NumpyView:
    """A pybuf_buffer describing a NumPy array (format from memoryview)."""

    def __init__(self, a: np.ndarray, fmt: str | None = None):
        m = memoryview(a)
        self.keep = (a, m)
        self.fmt = (fmt if fmt is not None else m.format).encode()
        n = a.ndim
        self.shape = (c_ssize_t * max(n, 1))(*a.shape)
        self.strides = (c_ssize_t * max(n, 1))(*a.strides)
        self.view = Buffer(
            buf=a.ctypes.data, obj=None, len=a.nbytes, itemsize=a.itemsize, readonly=0, ndim=n,
            format=self.fmt, shape=self.shape, strides=self.strides, suboffsets=None, internal=None,
        )
        self.ref = ctypes.byref(self.view)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_check_format_as_cython_would(lib):
    d = np.zeros(4, np.float64)
    with NumpyView(d, NATIVE_ORDER + "d") as v:
        assert lib.pybuf_check_format(v.ref, b"d") == 0, last_error(lib)
        assert lib.pybuf_last_status() == OK
    other = ">" if LITTLE else "<"
    with NumpyView(d.view(d.dtype.newbyteorder()), other + "d") as v:
        assert lib.pybuf_check_format(v.ref, b"d") == FORMAT_MISMATCH
        assert "first difference at byte offset 0" in last_error(lib)
    q = np.zeros(4, np.int64)
    with NumpyView(q, "l") as v:
        if ctypes.sizeof(ctypes.c_long) == 8:
            assert lib.pybuf_check_format(v.ref, b"q") == 0, last_error(lib)
        else:
            assert lib.pybuf_check_format(v.ref, b"q") == FORMAT_MISMATCH
    i = np.zeros(4, np.int32)
    with NumpyView(i) as v:
        assert lib.pybuf_check_format(v.ref, b"f") == FORMAT_MISMATCH
        msg = last_error(lib)
        assert "'i'" in msg and "'f'" in msg and "offset 0" in msg, msg
        assert lib.pybuf_check_format(v.ref, b"I") == FORMAT_MISMATCH
        assert lib.pybuf_check_format(v.ref, b"d") == FORMAT_MISMATCH
        assert "itemsize is 4" in last_error(lib)
        assert lib.pybuf_check_format(v.ref, b"T{i:x:}") == 0
        assert lib.pybuf_check_format(v.ref, b"T{i") == INVALID_FORMAT
        assert last_error(lib).startswith("expected: format \"T{i\" at 3")
    # A structured array, checked against a C struct description: the first differing
    # field is named, with its offset.
    s = np.zeros(3, np.dtype([("x", "f8"), ("y", "i4"), ("z", "i4")], align=True))
    with NumpyView(s) as v:
        assert lib.pybuf_check_format(v.ref, b"T{d:x:i:y:i:z:}") == 0, last_error(lib)
        assert lib.pybuf_check_format(v.ref, b"T{d:x:i:y:f:z:}") == FORMAT_MISMATCH
        msg = last_error(lib)
        assert "byte offset 12" in msg and "(field z)" in msg, msg
        assert lib.pybuf_check_format(v.ref, b"dii") == 0, last_error(lib)
        assert lib.pybuf_check_format(v.ref, b"did") == FORMAT_MISMATCH
        assert "itemsize is 16" in last_error(lib)
    # NULL format means "B".
    b = np.zeros(5, np.uint8)
    with NumpyView(b) as v:
        v.view.format = None
        assert lib.pybuf_check_format(v.ref, b"B") == 0
        assert lib.pybuf_check_format(v.ref, b"5x") == FORMAT_MISMATCH
        assert lib.pybuf_check_format(v.ref, b"c") == FORMAT_MISMATCH
    assert lib.pybuf_check_format(None, b"B") == NULL_POINTER


def test_api_walks_the_tree(lib):
    with Parsed(lib, "T{b:a:(2,3)<h:m:T{d:x:}:s:}:top:") as p:
        assert p.itemsize == 1 + 12 + 8 and p.canonical == "T{b:a:<(2,3)h:m:T{d:x:}:s:}:top:"
        (top,) = p.fields()
        assert (top.name, top.code, top.offset, top.size) == (b"top", b"T{}", 0, 21)
        inner = p.fields(top.nested)
        assert [f.name for f in inner] == [b"a", b"m", b"s"]
        m = inner[1]
        assert (m.offset, m.element_size, m.values, m.mode, m.byte_order) == (1, 2, 6, b"<", BYTE_ORDER_LITTLE)
        assert [m.shape[i] for i in range(m.ndim)] == [2, 3]
        s = p.fields(inner[2].nested)
        assert (s[0].name, s[0].code, s[0].offset, s[0].mode) == (b"x", b"d", 0, b"<")
        assert lib.pybuf_format_itemsize(inner[2].nested) == 8
        assert lib.pybuf_format_canonical(inner[2].nested) == b"<d:x:"
        assert p.runs() == [(0, "b", 1, 1), (1, "h", 2, 6), (13, "d", 8, 1)]


# ---------------------------------------------------------------------------------------
# Random formats

STRUCT_CODES = list("xcbB?hHiIlLqQefdspP") + ["n", "N"]
STRUCT_MARKERS = ["", "", "@", "=", "<", ">", "!"]


def random_struct_format(rng: random.Random):
    marker = rng.choice(STRUCT_MARKERS)
    codes = STRUCT_CODES if marker in ("", "@") else [c for c in STRUCT_CODES if c not in "nNP"]
    items = []
    for _ in range(rng.randrange(0, 9)):
        count = rng.choice(["", "", "", "0", "1", "2", "3", str(rng.randrange(4, 40))])
        items.append(count + rng.choice(codes))
    spaces = [rng.choice(["", "", "", " ", "\t"]) for _ in items]
    fmt = marker + "".join(s + i for s, i in zip(spaces, items))
    return fmt, (marker, items)


NUMPY_CODES = list("?bBhHiIlLqQefdgswOcx") + ["Zf", "Zd", "Zg"]
NUMPY_STANDARD = [c for c in NUMPY_CODES if c not in ("g", "Zg")]


class NumpyGen:
    """Random T{} formats in the grammar NumPy's parser accepts: a marker only right
    before a count or code, after any shape; no whitespace; unique names per struct."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.mode = "@"

    def struct(self, depth: int) -> str:
        rng = self.rng
        parts, n = [], 0
        for _ in range(rng.randrange(1 if depth == 0 else 0, 6)):
            item = ""
            if rng.random() < 0.15:
                dims = (rng.choice((0, 1, 1, 2, 2, 3)) for _ in range(rng.randrange(1, 3)))
                item += "(" + ",".join(map(str, dims)) + ")"
            if rng.random() < 0.2:
                self.mode = rng.choice("@=<>!^")
                item += self.mode
            if rng.random() < 0.25:
                item += str(rng.choice((0, 1, 2, 3, 4, 7)))
            if depth < 3 and rng.random() < 0.15:
                item += "T{" + self.struct(depth + 1) + "}"
            else:
                codes = NUMPY_CODES if self.mode in "@^" else NUMPY_STANDARD
                code = rng.choice(codes)
                item += code
                if code == "x":
                    parts.append(item)
                    continue
            item += f":n{n}:"
            n += 1
            parts.append(item)
        return "".join(parts)

    def format(self) -> str:
        self.mode = "@"
        return "T{" + self.struct(0) + "}"


def test_random_formats_against_struct_and_numpy(lib):
    rng = random.Random(SEED)
    compared = {"struct": 0, "numpy": 0, "numpy_refused": 0}
    for case in range(CASES):
        fmt, split = random_struct_format(rng)
        where = f"PYBUF_SEED={SEED} struct case {case}: "
        size = lib.pybuf_size_from_format(fmt.encode())
        assert size == struct.calcsize(fmt), f"{where}{fmt!r}: pybuf {size} ({last_error(lib)}), struct {struct.calcsize(fmt)}"
        check_struct_offsets(lib, fmt, split)
        compared["struct"] += 1
    gen = NumpyGen(rng)
    while compared["numpy"] < CASES:
        fmt = gen.format()
        try:
            want = _dtype_from_pep3118(fmt)
        except (ValueError, TypeError, NotImplementedError, RuntimeError):
            compared["numpy_refused"] += 1
            assert compared["numpy_refused"] < CASES, "the generator makes too many strings NumPy refuses"
            continue
        compare_with_numpy(lib, fmt, want, f"PYBUF_SEED={SEED} NumPy case {compared['numpy']}: ")
        with Parsed(lib, fmt) as p:
            # The canonical string parses back to an equal format.
            canonical = p.canonical
            with Parsed(lib, canonical) as q:
                assert lib.pybuf_format_equal(p.h, q.h) == 1, (fmt, canonical, last_error(lib))
                assert lib.pybuf_format_compatible(p.h, q.h) == 1
            # A view of this format matches it, and its canonical spelling, as a type.
            if p.itemsize > 0:
                a = np.zeros(2, _dtype_from_pep3118(fmt))
                with NumpyView(a, fmt) as v:
                    assert lib.pybuf_check_format(v.ref, canonical.encode()) == 0, (fmt, last_error(lib))
                    assert lib.pybuf_check_format_ex(v.ref, fmt.encode(), 1, b"C") == 0
        compared["numpy"] += 1
    total = compared["struct"] + compared["numpy"]
    print(f"\nrandom formats compared (PYBUF_SEED={SEED}): {compared}")
    assert compared["struct"] == CASES and compared["numpy"] == CASES
    if "PYBUF_FORMAT_CASES" not in os.environ:
        assert total >= 10_000


# ---------------------------------------------------------------------------------------
# Errors, equality and compatibility through the API

MALFORMED = [
    ("T{i", INVALID_FORMAT, 3), ("3", INVALID_FORMAT, 1), ("ia", INVALID_FORMAT, 1),
    ("}", INVALID_FORMAT, 0), ("(2", INVALID_FORMAT, 2), ("i:a:i:a:", INVALID_FORMAT, 5),
    ("<n", INVALID_FORMAT, 1), ("Zq", INVALID_FORMAT, 1), ("t", UNSUPPORTED_FORMAT, 0),
    ("99999999999999999999i", OVERFLOW, 0), ("T{" * 65 + "}" * 65, UNSUPPORTED_FORMAT, 128),
    ("<>i", INVALID_FORMAT, 1), ("T{i< >i}", INVALID_FORMAT, 5),
]

# Issue 13: a byte order marker right after another (whitespace between them or not).
TWO_MARKERS = ["<>", "<>i", "<<i", "< >i", "<\t>i", "@=", "@=i", "=@i", "!<i", "^^i",
               "T{<>i}", "T{<>}", "i<>i", "(2)<>i", "T{i}<>", "T{i<>}"]
ONE_MARKER = ["<", "<i", "< i", "T{<i}", ">T{<i}", "T{<i}>i", "(2)<i", "i<i"]


@pytest.mark.parametrize("fmt", TWO_MARKERS, ids=repr)
def test_two_markers_in_a_row_refused_as_struct_and_numpy_do(lib, fmt):
    with pytest.raises(struct.error):
        struct.calcsize(fmt)
    with pytest.raises(ValueError):
        _dtype_from_pep3118(fmt)
    assert lib.pybuf_size_from_format(fmt.encode()) == -1
    assert lib.pybuf_last_status() == INVALID_FORMAT
    assert "a second byte order marker" in last_error(lib)


@pytest.mark.parametrize("fmt", ONE_MARKER, ids=repr)
def test_one_marker_accepted_where_struct_or_numpy_does(lib, fmt):
    try:
        want = struct.calcsize(fmt)
    except struct.error:
        want = _dtype_from_pep3118(fmt).itemsize
    assert lib.pybuf_size_from_format(fmt.encode()) == want, last_error(lib)


@pytest.mark.parametrize("fmt,status,pos", MALFORMED, ids=[m[0][:20] for m in MALFORMED])
def test_malformed_strings_name_position_and_reason(lib, fmt, status, pos):
    rc, msg = parse_error(lib, fmt)
    assert rc == status, msg
    assert f" at {pos}: " in msg, msg
    assert lib.pybuf_size_from_format(fmt.encode()) == -1


def test_equal_and_compatible(lib):
    def both(a, b):
        with Parsed(lib, a) as p, Parsed(lib, b) as q:
            eq = lib.pybuf_format_equal(p.h, q.h)
            eq_msg = last_error(lib)
            co = lib.pybuf_format_compatible(p.h, q.h)
            return eq, eq_msg, co, last_error(lib)

    assert both("!i", ">i")[0] == 1
    eq, msg, co, _ = both("i:a:", "i:b:")
    assert (eq, co) == (0, 1) and "name 'a' vs name 'b'" in msg
    assert both(NATIVE_ORDER + "d", "d")[2] == 1
    eq, _, co, msg = both("i", "f")
    assert (eq, co) == (0, 0) and "byte offset 0" in msg, msg
    assert both("T{ii}", "2i")[2] == 1
    if ctypes.sizeof(ctypes.c_long) == 8:
        assert both("l", "q")[2] == 1
