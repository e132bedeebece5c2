"""NumPy's array interface: pybuf_format_to_typestr / _to_descr and pybuf_format_from_typestr
/ _from_descr, compared with NumPy itself.

- format -> typestr, descr: a buffer of that format (the Cython module's Exporter) is read
  by NumPy (`numpy.asarray`); the `__array_interface__` of what NumPy made must be pybuf's.
- typestr, descr -> format: for NumPy dtypes (scalars, aligned and packed structs, offsets
  and itemsize given explicitly, nested structs, sub-arrays, both byte orders), pybuf's
  format from NumPy's typestr and descr, exported by pybuf and read back by NumPy, must give
  the same typestr and descr, and pybuf's item size must be NumPy's.
- The C functions' conventions (length query, too small, NULL) and refusals.
"""

from __future__ import annotations

import ast
import ctypes
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import pybuf_ctypes as pc

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build" / "cython"
N = "<" if sys.byteorder == "little" else ">"

UNREPRESENTABLE, LENGTH_MISMATCH, INVALID_FORMAT = -21, -8, -11


@pytest.fixture(scope="module")
def pe():
    if str(BUILD) not in sys.path:
        sys.path.insert(0, str(BUILD))
    try:
        return importlib.import_module("pybuf_example")
    except ImportError as e:
        pytest.fail(f"pybuf_example is not built in {BUILD} ({e}): run `make cython`")


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(f"{pc.status_name(status)}: {message}")
        self.status, self.message = status, message


def _text(lib, fn, *args) -> str:
    """Call a pybuf function of the snprintf convention: ask the length, then fill."""
    f = getattr(lib, fn)
    n = f(*args, None, 0)
    if n < 0:
        raise Refused(n, pc.last_error(lib))
    out = ctypes.create_string_buffer(n + 1)
    assert f(*args, out, n + 1) == n
    assert len(out.value) == n
    return out.value.decode()


def to_typestr(lib, fmt: str, itemsize: int = 0) -> str:
    return _text(lib, "pybuf_format_to_typestr", fmt.encode(), itemsize)


def to_descr(lib, fmt: str, itemsize: int = 0):
    return ast.literal_eval(_text(lib, "pybuf_format_to_descr", fmt.encode(), itemsize))


def from_typestr(lib, typestr: str) -> str:
    return _text(lib, "pybuf_format_from_typestr", typestr.encode())


def from_descr(lib, descr) -> str:
    return _text(lib, "pybuf_format_from_descr", repr(descr).encode())


def numpy_reads(pe, lib, fmt: str) -> dict:
    """The __array_interface__ of what NumPy makes of a one-item buffer of `fmt`."""
    size = lib.pybuf_size_from_format(fmt.encode())
    assert size > 0, pc.last_error(lib)
    e = pe.Exporter(bytearray(size), shape=(1,), format=fmt)
    return np.asarray(e).__array_interface__


# ---------------------------------------------------------------------------------------
# format -> array interface, against NumPy's reading of the format

FORMATS = [
    # scalars
    "?", "b", "B", "<h", ">H", "<i", ">I", "<q", ">Q", "=l", "<e", "<f", ">d", "d", "i", "l",
    "<Zf", ">Zd", "Zd", "5s", "c", "<3w", ">w", "g", "Zg",
    # structs
    "T{b:a:d:b:}", "T{<i:a:4x<d:b:}", "T{<i:x:<i:y:}", "T{b:a:(2,3)<d:m:}",
    "T{<i:p:T{<h:q:b:r:}:s:}", "T{(2)T{<i:x:}:arr:}", "T{<i:f0:<i}", "T{<i<i:f0:}",
    "T{b:flag:(3)<f:xyz:}", "T{<d:x:3x:pad:}", "T{?:a:=l:b:}", "T{>i:big:<i:little:}",
    "T{b:a:T{d:x:b:y:}:s:h:c:}", "T{5s:name:<3w:text:?:ok:}", "T{c:a:3c:b:}", "T{i:a:}",
    "T{(2,2)<Zd:m:}", "T{b:a:2x}", "<i:a:<d:b:",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_to_array_interface_as_numpy_reads_it(pe, lib, fmt):
    if fmt in ("g", "Zg") and np.dtype(np.longdouble).itemsize != 16:
        pytest.skip("long double is not 16 bytes here")
    theirs = numpy_reads(pe, lib, fmt)
    assert to_typestr(lib, fmt) == theirs["typestr"]
    assert to_descr(lib, fmt) == theirs["descr"]


@pytest.mark.parametrize("fmt,typestr,descr", [
    ("<d", "<f8", [("", "<f8")]),
    ("B", "|u1", [("", "|u1")]),
    ("5s", "|S5", [("", "|S5")]),
    ("<3w", "<U3", [("", "<U3")]),
    ("4x", "|V4", [("", "|V4")]),
    ("O", "|O", [("", "|O")]),
    ("<3d", "|V24", [("f0", "<f8", (3,))]),  # a top-level count: a one-field struct
    ("T{b:a:d:b:}", "|V16", [("a", "|i1"), ("", "|V7"), ("b", N + "f8")]),
])
def test_typestr_and_descr_examples(lib, fmt, typestr, descr):
    assert to_typestr(lib, fmt) == typestr
    assert to_descr(lib, fmt) == descr


def test_a_larger_itemsize_is_trailing_padding(lib):
    assert to_typestr(lib, "<d", 16) == "|V16"
    assert to_descr(lib, "<d", 16) == [("f0", "<f8"), ("", "|V8")]
    assert to_descr(lib, "T{<i:a:}", 8) == [("a", "<i4"), ("", "|V4")]
    with pytest.raises(Refused, match="itemsize = 4 is smaller than the size 8"):
        to_typestr(lib, "<d", 4)


# ---------------------------------------------------------------------------------------
# array interface -> format, against NumPy's dtypes

DTYPES = [
    np.dtype("?"), np.dtype("i1"), np.dtype("u1"), np.dtype("<i2"), np.dtype(">u2"),
    np.dtype("<i4"), np.dtype(">i8"), np.dtype("<u8"), np.dtype("<f2"), np.dtype(">f4"),
    np.dtype("<f8"), np.dtype(">c8"), np.dtype("<c16"), np.dtype("S7"), np.dtype("<U5"),
    np.dtype(">U1"), np.dtype("V6"), np.dtype(np.longdouble),
    np.dtype([("a", "i1"), ("b", "<f8")], align=True),
    np.dtype([("a", "i1"), ("b", "<f8")]),
    np.dtype([("a", "i1"), ("b", ">f8"), ("c", "<i4")], align=True),
    np.dtype({"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8], "itemsize": 24}),
    np.dtype({"names": ["b", "a"], "formats": ["<i2", "<i2"], "offsets": [0, 6], "itemsize": 8}),
    np.dtype([("x", "<f8", (2, 3)), ("s", [("p", ">i2"), ("q", "?")], (2,))]),
    np.dtype([("outer", [("inner", [("v", "<u4")]), ("w", "i1")], (3,)), ("z", "S3")], align=True),
    np.dtype([("name", "S10"), ("age", "<i4"), ("weight", "<f4")]),
    np.dtype([("u", "<U3"), ("c", ">c16", 2)]),
    np.dtype((np.void, 12)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_array_interface_to_format_round_trips_through_numpy(pe, lib, dtype):
    if dtype == np.dtype(np.longdouble) and dtype.itemsize != 16:
        pytest.skip("long double is not 16 bytes here")
    ai = np.zeros(2, dtype).__array_interface__
    fmt = from_descr(lib, ai["descr"])
    assert lib.pybuf_size_from_format(fmt.encode()) == dtype.itemsize, fmt
    if dtype.fields is None:
        assert fmt == from_typestr(lib, ai["typestr"])
    back = numpy_reads(pe, lib, fmt)
    assert back["typestr"] == ai["typestr"], fmt
    assert back["descr"] == ai["descr"], fmt
    # and pybuf's own way back to the array interface
    assert to_typestr(lib, fmt) == ai["typestr"]
    assert to_descr(lib, fmt) == ai["descr"]


@pytest.mark.parametrize("typestr,fmt", [
    ("<f8", "<d"), (">f8", ">d"), ("=f8", "=d"), ("|f8", "=d"), ("|u1", "B"), ("|i1", "b"),
    ("|b1", "?"), ("<i2", "<h"), ("<i4", "<i"), ("<i8", "<q"), ("<u8", "<Q"), ("<f2", "<e"),
    ("<c8", "<Zf"), ("<c16", "<Zd"), ("|S1", "s"), ("|S5", "5s"), ("<U3", "<3w"),
    ("|V4", "4x"), ("|O", "O"),
])
def test_typestr_to_format(lib, typestr, fmt):
    assert from_typestr(lib, typestr) == fmt
    assert from_descr(lib, [("", typestr)]) == fmt


def test_titles_keep_the_name(lib):
    d = np.dtype({"names": ["a"], "formats": ["<i4"], "titles": ["The A"]})
    assert np.zeros(1, d).__array_interface__["descr"] == [(("The A", "a"), "<i4")]
    assert from_descr(lib, [(("The A", "a"), "<i4")]) == "T{<i:a:}"


@pytest.mark.parametrize("typestr,status,text", [
    ("<M8[ns]", UNREPRESENTABLE, "datetime64"),
    ("<m8[s]", UNREPRESENTABLE, "timedelta64"),
    ("<i16", UNREPRESENTABLE, "no PEP 3118 format"),
    ("|S0", UNREPRESENTABLE, "size 0"),
    ("<q8", INVALID_FORMAT, "unknown kind 'q'"),
    ("<f", INVALID_FORMAT, "no size"),
])
def test_typestr_refusals(lib, typestr, status, text):
    with pytest.raises(Refused, match=text) as err:
        from_typestr(lib, typestr)
    assert err.value.status == status
    assert typestr in err.value.message


def test_numpy_datetime_descr_is_refused(lib):
    descr = np.zeros(1, [("t", "<M8[s]"), ("v", "<f8")]).__array_interface__["descr"]
    with pytest.raises(Refused, match="datetime64") as err:
        from_descr(lib, descr)
    assert err.value.status == UNREPRESENTABLE


@pytest.mark.parametrize("descr,status,text", [
    ("[('a', '<i4')", INVALID_FORMAT, "'[' opened at 0 is not closed"),
    ("[('a' '<i4')]", INVALID_FORMAT, "at 6: expected ',' or ')'"),
    ("[('a', '<i4'), ('a', '<f8')]", INVALID_FORMAT, "uplicate"),
    ("[('a:b', '<i4')]", UNREPRESENTABLE, "':' or NUL"),
    ("{'a': 1}", INVALID_FORMAT, "unexpected '{'"),
])
def test_descr_refusals(lib, descr, status, text):
    f = lib.pybuf_format_from_descr
    out = ctypes.create_string_buffer(64)
    assert f(descr.encode(), out, 64) == status
    assert text in pc.last_error(lib)
    assert out.raw == b"\0" * 64  # nothing written


@pytest.mark.parametrize("fmt,text", [
    ("u", "'u' (UCS-2)"), ("T{<i:a:P:p:}", "field 'p'"), ("3p", "Pascal"), ("&<i", "pointer"),
])
def test_format_refusals(lib, fmt, text):
    for fn in (to_typestr, to_descr):
        with pytest.raises(Refused, match=__import__("re").escape(text)) as err:
            fn(lib, fmt)
        assert err.value.status == UNREPRESENTABLE


def test_output_conventions(lib):
    f = lib.pybuf_format_to_typestr
    assert f(b"<d", 0, None, 0) == 3
    out = ctypes.create_string_buffer(b"zzzzzz")
    assert f(b"<d", 0, out, 3) == LENGTH_MISMATCH
    assert pc.last_error(lib) == 'the typestr "<f8" needs 4 bytes with its NUL, but size = 3'
    assert out.raw == b"zzzzzz\0"
    assert f(b"<d", 0, out, 4) == 3
    assert out.raw[:5] == b"<f8\0z"
