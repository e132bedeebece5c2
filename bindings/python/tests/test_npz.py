""".npz archives through the C API (ctypes), against numpy both ways.

- pybuf loads what np.savez and np.savez_compressed write (and Python's zipfile with
  ZIP64 records): shape, format and bytes equal numpy's memoryview of each array; stored
  members are mapped in place (the view's address is inside the archive's mapping),
  deflated ones and PYBUF_NPZ_COPY copies are 64-byte aligned.
- np.load reads what pybuf_npz_save writes, stored and deflated, for C, F, strided and
  negative-stride views: equal dtype, shape, values; each member byte for byte np.save's
  file of the same array.
- Damaged archives (truncations, flipped bytes) are refused with a status and a message,
  leaving no fd or mapping behind.
"""

from __future__ import annotations

import ctypes
import io
import os
import zipfile

import numpy as np
import pytest

import pybuf_ctypes as pc

try:
    from numpy._core._internal import _dtype_from_pep3118
except ImportError:  # numpy 1.x
    from numpy.core._internal import _dtype_from_pep3118

DTYPES = ["?", "i1", "<u2", ">i4", "<i8", "<f2", ">f4", "<f8", "<c8", ">c16", "S5", "<U3",
          "V6", [("a", "<i4"), ("b", ">f8", (2,))], {"names": ["x", "y"], "formats": ["u1", "<i2"],
                                                  "offsets": [0, 4], "itemsize": 8}]
SHAPES = [(), (0,), (7,), (3, 4), (2, 0, 3), (2, 3, 4)]


def sample(dtype, shape, seed=0) -> np.ndarray:
    dt = np.dtype(dtype)
    n = int(np.prod(shape)) if shape else 1
    raw = np.random.default_rng(seed).integers(0, 256, n * dt.itemsize, dtype=np.uint8)
    if dt.kind == "b":
        raw = raw % 2
    elif dt.kind in "fc":  # no NaNs, which would not compare equal
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(n) + (1j * rng.standard_normal(n) if dt.kind == "c" else 0)
        return x.astype(dt).reshape(shape)
    elif dt.kind == "U":
        return np.array(["".join(chr(0x41 + (i + k) % 26) for k in range(i % 4)) for i in range(n)],
                        dtype=dt).reshape(shape)
    return raw.view(dt).reshape(shape).copy()


def fds_and_maps(path: str) -> tuple[int, int]:
    fds = sum(1 for e in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{e}") == path)
    with open("/proc/self/maps") as f:
        maps = sum(1 for line in f if line.rstrip().endswith(path))
    return fds, maps


class Archive:
    def __init__(self, lib, path):
        self.lib, self.h = lib, ctypes.POINTER(pc.pybuf_npz)()
        rc = lib.pybuf_npz_open(os.fsencode(path), ctypes.byref(self.h))
        assert rc == 0, pc.last_error(lib)

    def members(self):
        out = []
        for i in range(self.lib.pybuf_npz_count(self.h)):
            m = pc.pybuf_npz_member()
            assert self.lib.pybuf_npz_member_info(self.h, i, ctypes.byref(m)) == 0
            out.append(m)
        return out

    def load(self, key, flags=0):
        i = self.lib.pybuf_npz_find(self.h, key.encode())
        assert i >= 0, pc.last_error(self.lib)
        e = ctypes.POINTER(pc.pybuf_exporter)()
        rc = self.lib.pybuf_npz_load(self.h, i, flags, ctypes.byref(e))
        return rc, e

    def close(self):
        self.lib.pybuf_npz_close(self.h)


def view_of(lib, e, flags=pc.PYBUF_RECORDS_RO):
    v = pc.pybuf_buffer()
    assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(v), flags) == 0, pc.last_error(lib)
    return v


def c_bytes(lib, v) -> bytes:
    out = ctypes.create_string_buffer(max(v.len, 1))
    assert lib.pybuf_to_contiguous(out, ctypes.byref(v), v.len, b"C") == 0, pc.last_error(lib)
    return out.raw[:v.len]


def check_view(lib, v, a: np.ndarray):
    assert v.ndim == a.ndim
    assert [v.shape[k] for k in range(v.ndim)] == list(a.shape)
    assert v.itemsize == a.itemsize
    fmt = v.format.decode()
    if a.dtype.kind == "V" and a.dtype.names is None:
        assert fmt == memoryview(a).format  # '6x': NumPy reads it as an empty struct
    else:  # the format NumPy reads as the array's dtype
        assert _dtype_from_pep3118(fmt) == a.dtype, (fmt, a.dtype)
    assert c_bytes(lib, v) == a.tobytes(order="C")


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_loads_what_numpy_writes(lib, tmp_path, compressed):
    arrays = {}
    for k, dt in enumerate(DTYPES):
        for j, shape in enumerate(SHAPES):
            arrays[f"a{k}_{j}"] = sample(dt, shape, seed=k * 10 + j)
    arrays["fortran"] = np.asfortranarray(sample("<f8", (5, 3), 1))
    arrays["nd32"] = sample("u1", (1,) * 30 + (2, 3), 2)
    path = str(tmp_path / "a.npz")
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    ar = Archive(lib, path)
    members = ar.members()
    assert [m.name.decode() for m in members] == [f"{k}.npy" for k in arrays]
    with zipfile.ZipFile(path) as z:
        for m, info in zip(members, z.infolist()):
            assert m.method == info.compress_type == (8 if compressed else 0)
            assert (m.size, m.compressed_size, m.crc32) == (info.file_size, info.compress_size, info.CRC)
            assert m.data_offset > info.header_offset
    maps_before = fds_and_maps(path)[1]
    for key, a in arrays.items():
        for flags in (pc.PYBUF_MAP_READONLY, pc.PYBUF_MAP_READONLY | pc.PYBUF_NPZ_COPY, pc.PYBUF_MAP_PRIVATE):
            rc, e = ar.load(key, flags)
            assert rc == 0, (key, pc.last_error(lib))
            v = view_of(lib, e)
            check_view(lib, v, a)
            if a.flags.f_contiguous and not a.flags.c_contiguous:
                assert [v.strides[k] for k in range(v.ndim)] == list(a.strides)
            assert v.readonly == (flags & 3 == pc.PYBUF_MAP_READONLY)
            copied = compressed or flags & pc.PYBUF_NPZ_COPY
            if copied and v.len:
                assert v.buf % 64 == 0
            lib.pybuf_release(ctypes.byref(v))
            lib.pybuf_exporter_free(e)
    # Stored members were mapped (and are unmapped again).
    assert fds_and_maps(path)[1] == maps_before
    ar.close()
    assert fds_and_maps(path) == (0, 0)


def test_stored_members_are_mapped_in_place(lib, tmp_path):
    a = np.arange(1 << 18, dtype="<f8")
    path = str(tmp_path / "m.npz")
    np.savez(path, big=a, small=np.arange(3, dtype="u1"))
    ar = Archive(lib, path)
    m = ar.members()[0]
    rc, e = ar.load("big")
    assert rc == 0
    v = view_of(lib, e)
    # The view's address is in a mapping of the archive, at the member's data offset.
    with open("/proc/self/maps") as f:
        spans = [line.split()[:3] for line in f if line.rstrip().endswith(path)]
    assert len(spans) == 1
    lo, hi = (int(x, 16) for x in spans[0][0].split("-"))
    assert lo <= v.buf < hi and v.buf + v.len <= hi
    header_len = m.size - a.nbytes
    assert (v.buf - lo) % 4096 == (m.data_offset + header_len) % 4096
    # np.savez aligns nothing: the address is whatever the offset gives (documented).
    assert (v.buf % 64) == (m.data_offset + header_len) % 64
    check_view(lib, v, a)
    # A copy is aligned and equal.
    rc, c = ar.load("big", pc.PYBUF_NPZ_COPY)
    w = view_of(lib, c)
    assert w.buf % 64 == 0 and c_bytes(lib, w) == a.tobytes()
    for x, ex in ((v, e), (w, c)):
        lib.pybuf_release(ctypes.byref(x))
        lib.pybuf_exporter_free(ex)
    ar.close()
    assert fds_and_maps(path) == (0, 0)


def as_view(lib, a: np.ndarray, keep: list) -> pc.pybuf_buffer:
    """A pybuf view of numpy's array `a` (its memory, strides and PEP 3118 format)."""
    fmt = memoryview(a).format.encode() if a.size else memoryview(np.empty(1, a.dtype)).format.encode()
    ai = a.__array_interface__
    shape = (pc.pybuf_ssize_t * max(a.ndim, 1))(*a.shape)
    strides = (pc.pybuf_ssize_t * max(a.ndim, 1))(*a.strides)
    base = ai["data"][0]
    spans = [(n - 1) * s for n, s in zip(a.shape, a.strides) if n > 0]
    lo = sum(x for x in spans if x < 0)
    hi = sum(x for x in spans if x > 0) + a.itemsize
    d = pc.pybuf_exporter_desc(buf=base + lo, len=hi - lo if a.size else 0, offset=-lo, readonly=1,
                               format=fmt, itemsize=a.itemsize, ndim=a.ndim, shape=shape,
                               strides=strides)
    v = pc.pybuf_buffer()
    assert lib.pybuf_fill_view(ctypes.byref(v), ctypes.byref(d), pc.PYBUF_FULL_RO) == 0, pc.last_error(lib)
    keep.append((a, shape, strides, fmt))
    return v


def views_for_numpy():
    base = sample("<f8", (6, 8), 3)
    out = {
        "c": base,
        "t": base.T,
        "cols": base[:, ::2],
        "rev": base[::-1, ::-3],
        "b3": sample("V3", (64, 50), 4)[:, ::2],
        "i2": sample(">i2", (4, 5, 6), 5).transpose(2, 0, 1),
        "u": sample("<U3", (5,), 6),
        "rec": sample([("a", "<i4"), ("b", ">f8", (2,))], (3, 2), 7).T,
        "zero_d": sample("<c16", (), 8),
        "empty": sample("<i4", (0, 3), 9),
        "bool": sample("?", (9,), 10)[::2],
    }
    return out


@pytest.mark.parametrize("deflate", [False, True], ids=["stored", "deflated"])
def test_numpy_loads_what_pybuf_writes(lib, tmp_path, deflate):
    arrays = views_for_numpy()
    keep: list = []
    views = (pc.pybuf_buffer * len(arrays))(*(as_view(lib, a, keep) for a in arrays.values()))
    names = (ctypes.c_char_p * len(arrays))(*(k.encode() for k in arrays))
    path = str(tmp_path / "w.npz")
    flags = pc.PYBUF_NPZ_DEFLATE if deflate else 0
    assert lib.pybuf_npz_save(os.fsencode(path), len(arrays), names, views, flags) == 0, pc.last_error(lib)
    with np.load(path) as z:
        assert sorted(z.files) == sorted(arrays)
        for k, a in arrays.items():
            b = z[k]
            assert b.dtype == a.dtype and b.shape == a.shape, k
            assert np.array_equal(b, a) or b.tobytes() == np.ascontiguousarray(a).tobytes(), k
    with zipfile.ZipFile(path) as z:
        for k, a in arrays.items():
            info = z.getinfo(f"{k}.npy")
            assert info.compress_type == (zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
            ref = io.BytesIO()
            np.save(ref, a)
            assert z.read(info) == ref.getvalue(), f"{k}.npy differs from np.save's file"
    # pybuf reads it back; stored members are mapped at 64-byte-aligned addresses.
    ar = Archive(lib, path)
    for k, a in arrays.items():
        rc, e = ar.load(k)
        assert rc == 0, pc.last_error(lib)
        v = view_of(lib, e)
        check_view(lib, v, np.asarray(a))
        if v.len:
            assert v.buf % 64 == 0, k
        lib.pybuf_release(ctypes.byref(v))
        lib.pybuf_exporter_free(e)
    ar.close()
    for v in views:
        lib.pybuf_release(ctypes.byref(v))


def test_zip64_records_written_by_zipfile(lib, tmp_path):
    a = sample("<i8", (4, 5), 11)
    path = str(tmp_path / "z64.npz")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, comp in (("s.npy", zipfile.ZIP_STORED), ("d.npy", zipfile.ZIP_DEFLATED)):
            with z.open(zipfile.ZipInfo(name), "w", force_zip64=True) as f:
                pass
            info = zipfile.ZipInfo(name + "2")
            info.compress_type = comp
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, a)
    with open(path, "rb") as f:
        assert b"\x01\x00\x10\x00" in f.read()  # a ZIP64 extra field (id 1, 16 bytes)
    ar = Archive(lib, path)
    for key in ("s.npy2", "d.npy2"):
        rc, e = ar.load(key)
        assert rc == 0, pc.last_error(lib)
        v = view_of(lib, e)
        check_view(lib, v, a)
        lib.pybuf_release(ctypes.byref(v))
        lib.pybuf_exporter_free(e)
    # The empty members are not .npy files.
    rc, e = ar.load("s.npy")
    assert rc == pc.PYBUF_STATUS_INVALID_FILE
    ar.close()


def test_damaged_archives_are_refused(lib, tmp_path):
    path = str(tmp_path / "ok.npz")
    np.savez(path, x=np.arange(50, dtype="<f4"))
    whole = open(path, "rb").read()
    bad = str(tmp_path / "bad.npz")
    for cut in range(0, len(whole), 7):
        open(bad, "wb").write(whole[:cut])
        h = ctypes.POINTER(pc.pybuf_npz)()
        rc = lib.pybuf_npz_open(bad.encode(), ctypes.byref(h))
        if rc == 0:  # a cut that leaves the directory: loading must still be safe
            e = ctypes.POINTER(pc.pybuf_exporter)()
            if lib.pybuf_npz_load(h, 0, 0, ctypes.byref(e)) == 0:
                lib.pybuf_exporter_free(e)
            lib.pybuf_npz_close(h)
        else:
            assert rc == pc.PYBUF_STATUS_INVALID_FILE, (cut, pc.status_name(rc), pc.last_error(lib))
            assert "archive" in pc.last_error(lib)
            assert not h
        assert fds_and_maps(bad) == (0, 0)
    # A member whose data is damaged: the compressed one fails its CRC-32 check.
    cpath = str(tmp_path / "c.npz")
    np.savez_compressed(cpath, x=np.arange(5000, dtype="<f8"))
    raw = bytearray(open(cpath, "rb").read())
    with zipfile.ZipFile(cpath) as z:
        info = z.infolist()[0]
    raw[info.header_offset + 30 + len(info.filename) + len(info.extra) + 100] ^= 0xFF
    open(bad, "wb").write(bytes(raw))
    ar = Archive(lib, bad)
    rc, e = ar.load("x")
    assert rc == pc.PYBUF_STATUS_INVALID_FILE, pc.last_error(lib)
    ar.close()
    # Bad arguments.
    h = ctypes.POINTER(pc.pybuf_npz)()
    assert lib.pybuf_npz_open(b"/nonexistent.npz", ctypes.byref(h)) == pc.PYBUF_STATUS_IO
    assert lib.pybuf_npz_open(None, ctypes.byref(h)) == pc.PYBUF_STATUS_NULL_POINTER
    ar = Archive(lib, path)
    assert lib.pybuf_npz_find(ar.h, b"nothing") == -1
    assert lib.pybuf_last_status() == pc.PYBUF_STATUS_INDEX_OUT_OF_RANGE
    rc, e = ar.load("x", pc.PYBUF_MAP_SHARED)
    assert rc == pc.PYBUF_STATUS_INVALID_ARGUMENT and "CRC-32" in pc.last_error(lib)
    ar.close()
