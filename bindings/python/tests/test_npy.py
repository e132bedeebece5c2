""".npy files: pybuf_npy_save / _write_fd / _load / _load_fd / _read / _read_fd against NumPy.

- Save: for every dtype of the table (bool, every int/uint/float/complex width, float16,
  long double, S, U, void, structured: packed, aligned, padded, nested, sub-arrays, names
  outside ASCII and outside Latin-1, a header over 64 KiB) in both byte orders, and every
  layout (C, F, transposed, strided, negative strides, 0-d, empty, 32-D), the file pybuf
  writes is byte-identical to np.save's of the same array, and np.load reads it back equal.
- Load: pybuf loads np.save's files (titles included, dropped) by mapping, with the shape,
  C or F strides, a format NumPy reads as the array's dtype and the bytes of numpy's
  memoryview; from a pipe into owned memory; writable (writes reach the file) and private.
- Read into an existing view of any strides.
- A catalogue of damaged files (every truncation, every header field corrupted) refused
  with a status, by path and by fd, with no fd or mapping left behind.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import pybuf_ctypes as pc
from numpy._core._internal import _dtype_from_pep3118

INVALID_FILE = pc.PYBUF_STATUS_INVALID_FILE
UNSUPPORTED_VERSION = pc.PYBUF_STATUS_UNSUPPORTED_VERSION
OTHER = "<" if sys.byteorder == "big" else ">"


def structured(fields, **kw):
    return np.dtype(fields, **kw)


SCALARS = ["?", "i1", "u1", "f2", "f4", "f8", "g", "c8", "c16", "G",
           "i2", "u2", "i4", "u4", "i8", "u8", "S1", "S5", "U1", "U3", "V1", "V8"]
DTYPES = (
    [np.dtype(s) for s in SCALARS]
    + [np.dtype(s).newbyteorder(">") for s in SCALARS if np.dtype(s).isnative and np.dtype(s).itemsize > 1
       and np.dtype(s).kind not in "SV"]
    + [
        structured([("a", "<i4"), ("b", ">f8")]),
        structured([("a", "i1"), ("b", "f8"), ("c", "i2")], align=True),
        structured({"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [0, 8], "itemsize": 24}),
        structured([("x", "<i2"), ("s", [("p", ">i2"), ("q", "?")], (2,))]),
        structured([("a", "<i4", (2, 3)), ("b", "S3"), ("c", ">U2", (2,))]),
        structured([("outer", [("inner", [("v", "<f4"), ("w", "u1")]), ("z", "<c8")])], align=True),
        structured([("é", "<f8"), ("naïve", "i1")]),  # Latin-1 names: version 1.0
        structured([("€", "<i4")]),  # outside Latin-1: version 3.0
        structured([(f"field_{k}", "<i2") for k in range(3000)]),  # a header over 64 KiB: 2.0
    ]
)
TITLED = structured([(("Title A", "a"), "<i4"), (("Title B", "b"), ">f4")])


def dtype_id(dt):
    s = str(dt)
    return s if len(s) < 40 else f"struct{dt.itemsize}_{len(dt.names)}"


def make(dtype, shape, seed=0):
    """An array of `shape` with random bytes (the tests compare bytes, not values)."""
    rng = np.random.default_rng(seed)
    a = np.zeros(shape, dtype)
    raw = a.reshape(-1).view(np.uint8)
    raw[:] = rng.integers(0, 256, size=raw.size, dtype=np.uint8)
    raw.reshape(-1, dtype.itemsize)[:, ~field_mask(dtype)] = 0  # padding
    return a


def field_mask(dt):
    """Per item byte: True where a field lies, False for padding (which NumPy's copies of
    structured arrays leave uninitialised, so only field bytes can be compared)."""
    mask = np.zeros(dt.itemsize, bool)
    if dt.names is None and dt.subdtype is None:
        mask[:] = True
    elif dt.subdtype is not None:
        base, shape = dt.subdtype
        mask[:] = np.tile(field_mask(base), int(np.prod(shape)))
    else:
        for name in dt.names:
            sub, offset = dt.fields[name][:2]
            mask[offset:offset + sub.itemsize] |= field_mask(sub)
    return mask


def same_items(x: bytes, y: bytes, dt) -> bool:
    """Equal bytes in every field of every item."""
    if len(x) != len(y):
        return False
    mask = field_mask(dt)
    if mask.all() or not x:
        return x == y
    a = np.frombuffer(x, np.uint8).reshape(-1, dt.itemsize)[:, mask]
    b = np.frombuffer(y, np.uint8).reshape(-1, dt.itemsize)[:, mask]
    return bool((a == b).all())


def layouts(dtype):
    """(name, array) pairs: the layouts every dtype is saved in."""
    big = dtype.itemsize > 64
    base = make(dtype, (4, 6, 5) if not big else (3, 4))
    yield "c", base
    yield "f", np.asfortranarray(base)
    yield "transposed", base.T
    yield "strided", base[::2, 1::3] if base.ndim == 2 else base[::2, 1::3, ::2]
    yield "negative", base[::-1, ::-2]
    yield "0d", make(dtype, ())
    yield "empty", make(dtype, (0, 3))
    yield "empty_f", np.asfortranarray(make(dtype, (3, 0, 2)))
    yield "1d", make(dtype, (7,))
    if not big:
        yield "32d", make(dtype, (2,) + (1,) * 29 + (2, 3))
        yield "32d_f", np.asfortranarray(make(dtype, (2,) + (1,) * 29 + (2, 3))).transpose(*range(31, -1, -1))


CASES = [(dt, name) for dt in DTYPES for name, _ in layouts(dt)]


def case_id(c):
    return f"{dtype_id(c[0])}-{c[1]}"


def array_for(dtype, name):
    return dict(layouts(dtype))[name]


_LIB = None


def format_of(dt) -> bytes:
    """The PEP 3118 format of a dtype: its memoryview's for simple types; for structs
    pybuf's from the descr (NumPy's memoryview format of a nested aligned struct has a
    size NumPy itself reads differently: 20 bytes for a 16-byte item)."""
    global _LIB
    if dt.names is None:
        try:
            return memoryview(np.zeros(1, dt)).format.encode()
        except ValueError:  # '>g': NumPy exports no non-native long double
            return {"f": b">g", "c": b">Zg"}[dt.kind]
    _LIB = _LIB or pc.load()
    out = ctypes.create_string_buffer(1 << 20)
    n = _LIB.pybuf_format_from_descr(repr(dt.descr).encode(), out, len(out))
    assert n > 0, pc.last_error(_LIB)
    return out.value


class View:
    """A pybuf_buffer of a numpy array (kept alive with its arrays)."""

    def __init__(self, a: np.ndarray, writable=False):
        self.a = a
        ndim = a.ndim
        self.shape = (pc.pybuf_ssize_t * max(ndim, 1))(*a.shape)
        self.strides = (pc.pybuf_ssize_t * max(ndim, 1))(*a.strides)
        self.format = format_of(a.dtype)
        v = pc.pybuf_buffer()
        v.buf = a.__array_interface__["data"][0] or None
        v.len = a.nbytes
        v.itemsize = a.itemsize
        v.readonly = 0 if writable else 1
        v.ndim = ndim
        v.format = self.format
        v.shape = self.shape if ndim else None
        v.strides = self.strides if ndim else None
        self.view = v

    def ref(self):
        return ctypes.byref(self.view)


def has_titles(dt):
    return dt.names is not None and any(len(v) > 2 for v in dt.fields.values())


def no_titles(dt):
    if dt.names is None:
        return dt
    return np.dtype({"names": list(dt.names), "formats": [no_titles(dt[k]) if dt[k].names else dt[k] for k in dt.names],
                     "offsets": [dt.fields[k][1] for k in dt.names], "itemsize": dt.itemsize})


def check(lib, rc):
    assert rc == 0, f"{pc.status_name(rc)}: {pc.last_error(lib)}"


def np_save_bytes(path, a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # format 2.0 / 3.0 notices
        np.save(path, a)
    return path.read_bytes()


@pytest.mark.parametrize("dtype,name", CASES, ids=[case_id(c) for c in CASES])
def test_save_is_byte_identical_to_np_save(lib, tmp_path, dtype, name):
    a = array_for(dtype, name)
    ours = tmp_path / "pybuf.npy"
    v = View(a)
    check(lib, lib.pybuf_npy_save(str(ours).encode(), v.ref()))
    theirs = np_save_bytes(tmp_path / "numpy.npy", a)
    got = ours.read_bytes()
    end = theirs.index(b"\n") + 1
    assert got[:end] == theirs[:end]
    if a.flags.c_contiguous or a.flags.f_contiguous:
        assert got == theirs
    else:
        # np.save gathers a strided array through a copy that leaves the padding of
        # structured items uninitialised: the headers and every field byte are identical.
        assert same_items(got[end:], theirs[end:], a.dtype)
        if field_mask(a.dtype).all():
            assert got == theirs
    back = np.load(ours, max_header_size=1 << 20)
    assert back.dtype == a.dtype and back.shape == a.shape
    assert same_items(np.ascontiguousarray(back).tobytes(), np.ascontiguousarray(a).tobytes(), a.dtype)


def exported(lib, e, flags=pc.PYBUF_FULL_RO):
    v = pc.pybuf_buffer()
    check(lib, lib.pybuf_exporter_get_buffer(e, ctypes.byref(v), flags))
    return v


def c_bytes(lib, v):
    out = ctypes.create_string_buffer(max(v.len, 1))
    check(lib, lib.pybuf_to_contiguous(out, ctypes.byref(v), v.len, b"C"))
    return out.raw[: v.len]


def check_loaded(lib, v, a):
    """The view of a loaded file against the array np.save saved."""
    assert v.ndim == a.ndim
    assert tuple(v.shape[k] for k in range(v.ndim)) == a.shape
    assert v.itemsize == a.itemsize
    fortran = a.flags.f_contiguous and not a.flags.c_contiguous
    dims = list(range(a.ndim))
    want, step = [0] * a.ndim, a.itemsize
    for k in (dims if fortran else dims[::-1]):
        want[k], step = step, step * a.shape[k]
    want = tuple(want)
    assert tuple(v.strides[k] for k in range(v.ndim)) == want
    fmt = v.format.decode()
    expected = no_titles(a.dtype)
    if expected.kind == "V" and expected.names is None:
        # NumPy reads '8x' as an empty struct: compare with its memoryview's format.
        fa, fb = pc.POINTER(pc.pybuf_format)(), pc.POINTER(pc.pybuf_format)()
        check(lib, lib.pybuf_format_parse(v.format, ctypes.byref(fa)))
        check(lib, lib.pybuf_format_parse(memoryview(a).format.encode(), ctypes.byref(fb)))
        assert lib.pybuf_format_equal(fa, fb) == 1, (fmt, memoryview(a).format)
        lib.pybuf_format_free(fa)
        lib.pybuf_format_free(fb)
    elif expected.kind in "fc" and expected.itemsize >= 16 and not expected.isnative:
        # '>g' (big-endian long double): NumPy reads no long double in a standard mode;
        # pybuf's typestr of the format is the array's.
        out = ctypes.create_string_buffer(64)
        assert lib.pybuf_format_to_typestr(v.format, v.itemsize, out, 64) > 0
        assert out.value.decode() == expected.str, (fmt, expected)
    else:
        assert _dtype_from_pep3118(fmt) == expected, (fmt, expected)
    assert same_items(c_bytes(lib, v), np.ascontiguousarray(a).tobytes(), a.dtype)


@pytest.mark.parametrize("dtype,name", CASES + [(TITLED, "c"), (TITLED, "f")],
                         ids=[case_id(c) for c in CASES] + ["titled-c", "titled-f"])
def test_load_maps_np_save_files(lib, tmp_path, dtype, name):
    a = array_for(dtype, name)
    path = tmp_path / "numpy.npy"
    np_save_bytes(path, a)
    e = pc.POINTER(pc.pybuf_exporter)()
    rc = lib.pybuf_npy_load(str(path).encode(), pc.PYBUF_NPY_READONLY, ctypes.byref(e))
    if over_limit(dtype):
        # Over np.load's default header limit: refused by both.
        assert rc == INVALID_FILE and "limit of 10000" in pc.last_error(lib)
        with pytest.raises(ValueError, match="max_header_size"):
            np.load(path)
        return
    check(lib, rc)
    v = exported(lib, e)
    assert v.readonly == 1
    check_loaded(lib, v, a)
    # A writable view is refused on a read-only load.
    w = pc.pybuf_buffer()
    assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(w), pc.PYBUF_FULL) == pc.PYBUF_STATUS_READ_ONLY
    lib.pybuf_release(ctypes.byref(v))
    lib.pybuf_exporter_free(e)


def over_limit(dtype):
    """A header over np.load's default limit of 10,000 characters."""
    return dtype.names is not None and len(dtype.names) > 1000


LOAD_SOME = [c for c in CASES if c[1] in ("c", "f", "0d", "empty", "strided") and not over_limit(c[0])]


@pytest.mark.parametrize("dtype,name", LOAD_SOME, ids=[case_id(c) for c in LOAD_SOME])
def test_load_fd_from_a_pipe(lib, tmp_path, dtype, name):
    a = array_for(dtype, name)
    data = np_save_bytes(tmp_path / "numpy.npy", a)
    r, w = os.pipe()
    # Two arrays in one stream, written by a thread a few bytes at a time.
    def feed():
        try:
            for k in range(0, len(data), 4093):
                os.write(w, data[k:k + 4093])
            os.write(w, data)
        except BrokenPipeError:
            pass
        finally:
            os.close(w)
    t = threading.Thread(target=feed)
    t.start()
    try:
        for _ in range(2):
            e = pc.POINTER(pc.pybuf_exporter)()
            check(lib, lib.pybuf_npy_load_fd(r, pc.PYBUF_NPY_PRIVATE, ctypes.byref(e)))
            v = exported(lib, e, pc.PYBUF_FULL)
            assert v.readonly == 0
            check_loaded(lib, v, a)
            lib.pybuf_release(ctypes.byref(v))
            lib.pybuf_exporter_free(e)
        assert lib.pybuf_npy_load_fd(r, 0, ctypes.byref(e)) == INVALID_FILE  # the end
    finally:
        os.close(r)  # a feeder still writing then fails (EPIPE) instead of blocking
        t.join()


def test_write_fd_to_a_pipe_and_a_file_at_an_offset(lib, tmp_path):
    a = make(np.dtype("<f8"), (50, 40)).T[::3]
    want = np_save_bytes(tmp_path / "numpy.npy", a)
    v = View(a)
    r, w = os.pipe()
    got = bytearray()
    def drain():
        while chunk := os.read(r, 100):
            got.extend(chunk)
    t = threading.Thread(target=drain)
    t.start()
    check(lib, lib.pybuf_npy_write_fd(w, v.ref()))
    os.close(w)
    t.join()
    os.close(r)
    assert bytes(got) == want
    # At the position of a file: after a prefix; loaded back from there.
    path = tmp_path / "f.bin"
    with open(path, "wb") as f:
        f.write(b"prefix")
        f.flush()
        check(lib, lib.pybuf_npy_write_fd(f.fileno(), v.ref()))
    assert path.read_bytes() == b"prefix" + want
    fd = os.open(path, os.O_RDONLY)
    os.lseek(fd, 6, os.SEEK_SET)
    e = pc.POINTER(pc.pybuf_exporter)()
    check(lib, lib.pybuf_npy_load_fd(fd, 0, ctypes.byref(e)))
    assert os.lseek(fd, 0, os.SEEK_CUR) == len(want) + 6
    os.close(fd)  # the mapping stays
    view = exported(lib, e)
    check_loaded(lib, view, a)
    lib.pybuf_release(ctypes.byref(view))
    lib.pybuf_exporter_free(e)


def test_writable_and_private_loads(lib, tmp_path):
    a = np.arange(12, dtype=">i4").reshape(3, 4)
    path = tmp_path / "w.npy"
    np.save(path, a)
    for flags, value, on_file in ((pc.PYBUF_NPY_WRITABLE, 99, 99), (pc.PYBUF_NPY_PRIVATE, 77, 99)):
        e = pc.POINTER(pc.pybuf_exporter)()
        check(lib, lib.pybuf_npy_load(str(path).encode(), flags, ctypes.byref(e)))
        v = exported(lib, e, pc.PYBUF_FULL)
        assert v.readonly == 0 and v.format == b">i"
        arr = np.ctypeslib.as_array(ctypes.cast(v.buf, ctypes.POINTER(ctypes.c_uint8)), (v.len,))
        assert arr[3] == (0 if value == 99 else 99)
        arr[:4] = [0, 0, 0, value]  # the first element, big-endian
        lib.pybuf_release(ctypes.byref(v))
        lib.pybuf_exporter_free(e)
        assert np.load(path)[0, 0] == on_file
    assert lib.pybuf_npy_load(str(path).encode(), 3, ctypes.byref(e)) == pc.PYBUF_STATUS_INVALID_ARGUMENT
    # A read-only file cannot be loaded writable (no mapping, no fd left).
    os.chmod(path, 0o444)
    if os.geteuid() != 0:
        assert lib.pybuf_npy_load(str(path).encode(), pc.PYBUF_NPY_WRITABLE, ctypes.byref(e)) == pc.PYBUF_STATUS_IO


@pytest.mark.parametrize("dtype", [np.dtype("<f8"), np.dtype(">i2"), np.dtype("S3"),
                                   structured([("a", "i1"), ("b", "<f8")], align=True)], ids=dtype_id)
@pytest.mark.parametrize("order", ["C", "F"])
def test_read_into_a_strided_view(lib, tmp_path, dtype, order):
    a = np.asarray(make(dtype, (5, 7), seed=3), order=order)
    path = tmp_path / "r.npy"
    np.save(path, a)
    # Destinations: every other row and a reversed column order, and a transposed buffer.
    big = np.zeros((10, 14), dtype)
    for dst in (big[::2, 13::-2], np.zeros((7, 5), dtype).T):
        v = View(dst, writable=True)
        check(lib, lib.pybuf_npy_read(str(path).encode(), v.ref()))
        assert same_items(dst.tobytes(), a.tobytes(), dtype)
    assert not big[1::2].view(np.uint8).any()
    # Shape, format and read-only refusals.
    wrong = np.zeros((7, 5), dtype)
    assert lib.pybuf_npy_read(str(path).encode(), View(wrong, writable=True).ref()) == pc.PYBUF_STATUS_SHAPE_MISMATCH
    other = np.zeros((5, 7), "<u8" if dtype.itemsize == 8 else "u1")
    if other.itemsize != dtype.itemsize or dtype.names is None:
        assert lib.pybuf_npy_read(str(path).encode(), View(other, writable=True).ref()) == pc.PYBUF_STATUS_FORMAT_MISMATCH
    assert lib.pybuf_npy_read(str(path).encode(), View(np.zeros((5, 7), dtype)).ref()) == pc.PYBUF_STATUS_READ_ONLY
    # By fd, from a pipe.
    r, w = os.pipe()
    os.write(w, path.read_bytes())
    os.close(w)
    dst = np.zeros((5, 7), dtype)
    check(lib, lib.pybuf_npy_read_fd(r, View(dst, writable=True).ref()))
    os.close(r)
    assert same_items(dst.tobytes(), np.ascontiguousarray(a).tobytes(), dtype)


def test_refusals_of_save(lib, tmp_path):
    path = tmp_path / "x.npy"
    v = View(np.zeros(3))
    v.view.format = b"P"  # a pointer has no NumPy type
    v.view.itemsize = 8
    assert lib.pybuf_npy_save(str(path).encode(), v.ref()) == pc.PYBUF_STATUS_UNREPRESENTABLE
    assert not path.exists()  # nothing created
    assert lib.pybuf_npy_save(None, View(np.zeros(3)).ref()) == pc.PYBUF_STATUS_NULL_POINTER
    assert lib.pybuf_npy_save(str(path).encode(), None) == pc.PYBUF_STATUS_NULL_POINTER
    assert lib.pybuf_npy_save(str(tmp_path / "no" / "dir.npy").encode(), View(np.zeros(3)).ref()) == pc.PYBUF_STATUS_IO
    assert lib.pybuf_last_errno() == 2  # ENOENT
    assert lib.pybuf_npy_write_fd(-1, View(np.zeros(3)).ref()) == pc.PYBUF_STATUS_IO
    assert lib.pybuf_npy_load(str(tmp_path / "missing.npy").encode(), 0, ctypes.byref(pc.POINTER(pc.pybuf_exporter)())) == pc.PYBUF_STATUS_IO


# -- Damaged files ---------------------------------------------------------------------

def resources():
    return len(os.listdir("/proc/self/fd")), len(open("/proc/self/maps").read().splitlines())


def load_status(lib, path):
    """pybuf_npy_load's and pybuf_npy_load_fd's status for a file (0: loaded, then freed)."""
    out = []
    e = pc.POINTER(pc.pybuf_exporter)()
    rc = lib.pybuf_npy_load(str(path).encode(), 0, ctypes.byref(e))
    if rc == 0:
        lib.pybuf_exporter_free(e)
    out.append(rc)
    fd = os.open(path, os.O_RDONLY)
    rc = lib.pybuf_npy_load_fd(fd, pc.PYBUF_NPY_PRIVATE, ctypes.byref(e))
    os.close(fd)
    if rc == 0:
        lib.pybuf_exporter_free(e)
    out.append(rc)
    return out


SOURCES = [np.arange(24, dtype="<f8").reshape(4, 6),
           np.asfortranarray(np.arange(6, dtype=">i2").reshape(2, 3)),
           np.zeros(3, structured([("a", "i1"), ("b", "<f8")], align=True)),
           np.array(7, dtype="u1")]


@pytest.mark.parametrize("a", SOURCES, ids=["f8", "f_i2", "struct", "0d"])
def test_every_truncation_is_refused(lib, tmp_path, a):
    data = np_save_bytes(tmp_path / "good.npy", a)
    path = tmp_path / "bad.npy"
    before = resources()
    for n in range(len(data)):
        path.write_bytes(data[:n])
        assert load_status(lib, path) == [INVALID_FILE, INVALID_FILE], n
        with pytest.raises(Exception):
            np.load(path)
    # Longer than needed is fine (np.load ignores what follows too).
    path.write_bytes(data + b"tail")
    assert load_status(lib, path) == [0, 0]
    assert resources() == before


def corrupt(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace `old` by `new` in the header, keeping its length (padding absorbs it)."""
    end = data.index(b"\n")
    header = data[:end + 1]
    assert old in header, old
    h = header.replace(old, new, 1)
    pad = len(header) - len(h)
    if pad >= 0:
        h = h[:-1] + b" " * pad + b"\n"
    else:
        h = h.replace(b" " * -pad + b"\n", b"\n")
    assert len(h) == len(header)
    return h + data[end + 1:]


GOOD = np.arange(24, dtype="<f8").reshape(4, 6)
CORRUPTIONS = [
    # (name, edit of the file bytes, expected status)
    ("magic", lambda d: b"\x93NUMPZ" + d[6:], INVALID_FILE),
    ("magic_zip", lambda d: b"PK\x03\x04" + d[4:], INVALID_FILE),
    ("version_0", lambda d: d[:6] + b"\x00\x00" + d[8:], UNSUPPORTED_VERSION),
    ("version_1_1", lambda d: d[:6] + b"\x01\x01" + d[8:], UNSUPPORTED_VERSION),
    ("version_4", lambda d: d[:6] + b"\x04\x00" + d[8:], UNSUPPORTED_VERSION),
    ("hlen_past_end", lambda d: d[:8] + b"\xff\xff" + d[10:], INVALID_FILE),
    ("hlen_short", lambda d: d[:8] + b"\x20\x00" + d[10:], INVALID_FILE),
    ("hlen_over_limit_v2", lambda d: d[:6] + b"\x02\x00" + (20000).to_bytes(4, "little") + d[10:] + b" " * 20000, INVALID_FILE),
    ("not_a_dict", lambda d: corrupt(d, b"{", b"["), INVALID_FILE),
    ("unclosed", lambda d: corrupt(d, b"}", b" "), INVALID_FILE),
    ("missing_key", lambda d: corrupt(d, b"'fortran_order': False, ", b""), INVALID_FILE),
    ("extra_key", lambda d: corrupt(d, b"}", b"'x': 1, }"), INVALID_FILE),
    ("renamed_key", lambda d: corrupt(d, b"'shape'", b"'shapf'"), INVALID_FILE),
    ("descr_object", lambda d: corrupt(d, b"'<f8'", b"'|O'"), INVALID_FILE),
    ("descr_unknown", lambda d: corrupt(d, b"'<f8'", b"'<q8'"), INVALID_FILE),
    ("descr_size", lambda d: corrupt(d, b"'<f8'", b"'<f7'"), INVALID_FILE),
    ("descr_int", lambda d: corrupt(d, b"'<f8'", b"8"), INVALID_FILE),
    ("descr_unquoted", lambda d: corrupt(d, b"'<f8'", b"<f8"), INVALID_FILE),
    ("descr_object_field", lambda d: corrupt(d, b"'<f8'", b"[('a', '|O')]"), INVALID_FILE),
    ("fortran_int", lambda d: corrupt(d, b"False", b"0"), INVALID_FILE),
    ("fortran_name", lambda d: corrupt(d, b"False", b"Nope"), INVALID_FILE),
    ("shape_negative", lambda d: corrupt(d, b"(4, 6)", b"(-4, 6)"), INVALID_FILE),
    ("shape_overflow", lambda d: corrupt(d, b"(4, 6)", b"(4, 99999999999999999999)"), INVALID_FILE),
    ("shape_bytes_overflow", lambda d: corrupt(d, b"(4, 6)", b"(4, 4611686018427387904)"), INVALID_FILE),
    ("shape_float", lambda d: corrupt(d, b"(4, 6)", b"(4, 6.0)"), INVALID_FILE),
    ("shape_list", lambda d: corrupt(d, b"(4, 6)", b"[4, 6]"), INVALID_FILE),
    ("shape_larger_than_file", lambda d: corrupt(d, b"(4, 6)", b"(4, 7)"), INVALID_FILE),
    ("shape_huge", lambda d: corrupt(d, b"(4, 6)", b"(4000000, 6000000)"), INVALID_FILE),
    ("string_unclosed", lambda d: corrupt(d, b"'<f8'", b"'<f8"), INVALID_FILE),
    ("garbage_after", lambda d: corrupt(d, b"}", b"} )"), INVALID_FILE),
    ("nul_byte", lambda d: corrupt(d, b"'descr'", b"'des\x00r'"), INVALID_FILE),
]


@pytest.mark.parametrize("name,edit,status", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupted_header_fields_are_refused(lib, tmp_path, name, edit, status):
    data = np_save_bytes(tmp_path / "good.npy", GOOD)
    path = tmp_path / "bad.npy"
    path.write_bytes(edit(data))
    before = resources()
    assert load_status(lib, path) == [status, status], pc.last_error(lib)
    message = pc.last_error(lib)
    assert message and ("npy" in message or "version" in message), message
    dst = np.zeros((4, 6))
    assert lib.pybuf_npy_read(str(path).encode(), View(dst, writable=True).ref()) == status
    assert resources() == before
    with pytest.raises(Exception):  # NumPy refuses them too
        np.load(path)


def test_no_leak_after_many_loads(lib, tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(100000.0))
    before = resources()
    for _ in range(50):
        e = pc.POINTER(pc.pybuf_exporter)()
        check(lib, lib.pybuf_npy_load(str(path).encode(), 0, ctypes.byref(e)))
        v = exported(lib, e)
        lib.pybuf_exporter_free(e)  # the view keeps the mapping
        assert ctypes.c_double.from_address(v.buf + 8 * 99999).value == 99999.0
        lib.pybuf_release(ctypes.byref(v))
    assert resources() == before


def test_views_with_suboffsets_are_saved_and_read(lib, tmp_path):
    """A PIL-style view (a table of row pointers): saved as np.save saves the stacked rows
    (C order, gathered through the pointers), and read back into such a view."""
    rows = [np.arange(5, dtype="<f4") * (k + 1) for k in range(3)]
    table = (ctypes.c_void_p * 3)(*[r.ctypes.data for r in rows])
    shape = (pc.pybuf_ssize_t * 2)(3, 5)
    strides = (pc.pybuf_ssize_t * 2)(ctypes.sizeof(ctypes.c_void_p), 4)
    suboffsets = (pc.pybuf_ssize_t * 2)(0, -1)
    v = pc.pybuf_buffer()
    v.buf = ctypes.addressof(table)
    v.len, v.itemsize, v.readonly, v.ndim, v.format = 60, 4, 0, 2, b"<f"
    v.shape, v.strides, v.suboffsets = shape, strides, suboffsets
    ours, theirs = tmp_path / "pybuf.npy", tmp_path / "numpy.npy"
    check(lib, lib.pybuf_npy_save(str(ours).encode(), ctypes.byref(v)))
    assert ours.read_bytes() == np_save_bytes(theirs, np.stack(rows))
    # Back into the rows, through the pointers, from a file with other values.
    np.save(theirs, -np.stack(rows))
    check(lib, lib.pybuf_npy_read(str(theirs).encode(), ctypes.byref(v)))
    assert all((r == -np.arange(5, dtype="<f4") * (k + 1)).all() for k, r in enumerate(rows))
