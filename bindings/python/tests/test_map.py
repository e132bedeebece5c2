"""Mapped files (pybuf_map_fd, pybuf_map_path, pybuf_exporter_sync) against numpy's np.memmap.

A region of a file numpy wrote (`tofile`) at an unaligned offset, mapped by pybuf with a
layout (transposed, negative strides) and by np.memmap with the same one: equal bytes;
shared writes reach the file (np.fromfile reads them after sync), private ones do not;
regions past the end of the file are refused before mapping; no fd or mapping remains.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest

import pybuf_ctypes as pc

OFFSET = 4099  # not page-aligned


def counts(path: str) -> tuple[int, int]:
    fds = sum(1 for e in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{e}") == path)
    with open("/proc/self/maps") as f:
        maps = sum(1 for line in f if line.rstrip().endswith(path))
    return fds, maps


@pytest.fixture
def data_file(tmp_path):
    a = np.arange(12 * 10, dtype="<f8").reshape(12, 10) * 0.5
    path = str(tmp_path / "data.bin")
    with open(path, "wb") as f:
        f.write(b"\xee" * OFFSET)
        a.tofile(f)
    return path, a


def desc(shape, strides=None, offset=0, length=-1, fmt=b"<d", keep=None):
    n = len(shape)
    sh = (pc.pybuf_ssize_t * max(n, 1))(*shape)
    st = (pc.pybuf_ssize_t * max(n, 1))(*strides) if strides else None
    d = pc.pybuf_exporter_desc(buf=None, len=length, offset=offset, readonly=0, format=fmt,
                               itemsize=0, ndim=n, shape=sh, strides=st)
    if keep is not None:
        keep.extend([sh, st])
    return d


def mapped(lib, path, d, mode, file_offset=OFFSET):
    e = ctypes.POINTER(pc.pybuf_exporter)()
    rc = lib.pybuf_map_path(os.fsencode(path), file_offset, ctypes.byref(d), mode, ctypes.byref(e))
    return rc, e


def c_bytes(lib, v) -> bytes:
    out = ctypes.create_string_buffer(max(v.len, 1))
    assert lib.pybuf_to_contiguous(out, ctypes.byref(v), v.len, b"C") == 0, pc.last_error(lib)
    return out.raw[:v.len]


@pytest.mark.parametrize("layout", ["c", "transposed", "reversed_rows"])
def test_views_equal_np_memmap(lib, data_file, layout):
    path, a = data_file
    keep: list = []
    if layout == "c":
        d, ref = desc((12, 10), keep=keep), a
    elif layout == "transposed":
        d, ref = desc((10, 12), (8, 80), keep=keep), a.T
    else:
        d, ref = desc((12, 10), (-80, 8), offset=11 * 80, keep=keep), a[::-1]
    rc, e = mapped(lib, path, d, pc.PYBUF_MAP_READONLY)
    assert rc == 0, pc.last_error(lib)
    v = pc.pybuf_buffer()
    assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(v), pc.PYBUF_RECORDS_RO) == 0
    mm = np.memmap(path, dtype="<f8", mode="r", offset=OFFSET, shape=(12, 10))
    view = {"c": mm, "transposed": mm.T, "reversed_rows": mm[::-1]}[layout]
    assert c_bytes(lib, v) == np.ascontiguousarray(view).tobytes() == np.ascontiguousarray(ref).tobytes()
    assert [v.strides[k] for k in range(2)] == list(view.strides)
    w = pc.pybuf_buffer()
    assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(w), pc.PYBUF_RECORDS) == pc.PYBUF_STATUS_READ_ONLY
    lib.pybuf_release(ctypes.byref(v))
    lib.pybuf_exporter_free(e)
    del mm, view
    assert counts(path) == (0, 0)


@pytest.mark.parametrize("mode", ["shared", "private"])
def test_writes_reach_the_file_only_when_shared(lib, data_file, mode):
    path, a = data_file
    keep: list = []
    d = desc((12, 10), keep=keep)
    flag = pc.PYBUF_MAP_SHARED if mode == "shared" else pc.PYBUF_MAP_PRIVATE
    rc, e = mapped(lib, path, d, flag)
    assert rc == 0, pc.last_error(lib)
    v = pc.pybuf_buffer()
    assert lib.pybuf_exporter_get_buffer(e, ctypes.byref(v), pc.PYBUF_RECORDS) == 0
    x = np.ctypeslib.as_array(ctypes.cast(v.buf, ctypes.POINTER(ctypes.c_double)), shape=(12, 10))
    x[3, 4] = -1234.5
    assert lib.pybuf_exporter_sync(e) == 0
    on_disk = np.fromfile(path, dtype="<f8", offset=OFFSET).reshape(12, 10)
    expect = a.copy()
    if mode == "shared":
        expect[3, 4] = -1234.5
    assert np.array_equal(on_disk, expect)
    lib.pybuf_release(ctypes.byref(v))
    lib.pybuf_exporter_free(e)
    assert counts(path) == (0, 0)


def test_short_files_are_refused_before_mapping(lib, data_file):
    path, a = data_file
    keep: list = []
    for length, offset in ((a.nbytes + 1, OFFSET), (8, OFFSET + a.nbytes), (-1, OFFSET + a.nbytes + 1)):
        d = desc((1,), length=length, keep=keep)
        rc, e = mapped(lib, path, d, pc.PYBUF_MAP_READONLY, file_offset=offset)
        assert rc == pc.PYBUF_STATUS_INVALID_FILE, (length, offset, pc.last_error(lib))
        assert not e
    d = desc((13, 10), keep=keep)  # one row more than the file holds
    rc, e = mapped(lib, path, d, pc.PYBUF_MAP_READONLY)
    assert rc == pc.PYBUF_STATUS_LENGTH_MISMATCH, pc.last_error(lib)
    rc, e = mapped(lib, path + ".missing", desc((1,), keep=keep), pc.PYBUF_MAP_READONLY)
    assert rc == pc.PYBUF_STATUS_IO and lib.pybuf_last_errno() == 2  # ENOENT
    assert counts(path) == (0, 0)
