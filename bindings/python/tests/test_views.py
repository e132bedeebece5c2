"""libpybuf's views (pybuf_slice ... pybuf_extent) against the real thing.

Differential, seeded (PYBUF_SEED reproduces a run; PYBUF_VIEW_CASES sets how many random
cases of each kind, default 1000):

- N-D slicing and indexing of CPython's `_testbuffer.ndarray` (random strides, offsets,
  zero and negative strides, ND_FORTRAN, PIL-style suboffsets and all-negative ones):
  pybuf_slice chained once per dimension against `nd[s0, s1, ...]`, pybuf_index against
  `nd[i]`, and permutations of PIL arrays against CPython's own PyBuffer_GetPointer;
- numpy: slicing, integer indexing of any axis, transposes, `broadcast_to` and a
  one-axis broadcast, chained in random order;
- memoryview.cast, its refusals included: where memoryview refuses and pybuf goes further,
  the result is checked against the source bytes and `struct`;
- memoryview `==` and `tolist`, wherever memoryview supports the format; numpy for the
  formats it gives up on (structs, byte orders, complex);
- values: pybuf_get_item against tolist/struct/numpy, pybuf_set_item against
  struct.pack (its refusals included);
- iteration, pybuf_extent against numpy's byte_bounds, pybuf_validate.

Every derived view is compared field by field (buf, len, itemsize, readonly, ndim,
format, shape, strides, suboffsets), element by element through pybuf_get_pointer
against PyBuffer_GetPointer, and whole through pybuf_to_contiguous against
PyBuffer_ToContiguous. The derived views of a case are released in a random order.

Run: .venv/bin/python -m pytest -q bindings/python/tests/test_views.py
"""

from __future__ import annotations

import collections
import ctypes
import itertools
import math
import os
import random
import re
import struct
from ctypes import byref, c_int, c_ssize_t, c_void_p

import numpy as np
import pytest

import _testbuffer as tb

import cpython_buffer as cb
import exporters as ex
import pybuf_ctypes as pc

BUFFER_REQUEST = -15
from run_config import SEED

CASES = int(os.environ.get("PYBUF_VIEW_CASES", 1000))
NONE = pc.PYBUF_SLICE_NONE
COUNTS: collections.Counter = collections.Counter()

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy < 2
    byte_bounds = np.byte_bounds


def rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


# ---------------------------------------------------------------------------------------
# Reading views


def fields(v) -> dict:
    n = v.ndim
    arr = lambda p: None if not p else [p[i] for i in range(n)]  # noqa: E731
    return {
        "buf": v.buf or 0, "len": v.len, "itemsize": v.itemsize, "readonly": v.readonly,
        "ndim": n, "format": v.format, "shape": arr(v.shape), "strides": arr(v.strides),
        "suboffsets": arr(v.suboffsets),
    }


def indices(shape):
    return itertools.product(*[range(n) for n in shape])


def _index_array(ix):
    return (c_ssize_t * max(len(ix), 1))(*ix)


def pybuf_pointers(lib, v) -> list:
    out = []
    for ix in indices([v.shape[i] for i in range(v.ndim)]):
        p = lib.pybuf_get_pointer(byref(v), _index_array(ix))
        assert p, (ix, pc.last_error(lib))
        out.append(p)
    return out


def cpython_pointers(v) -> list:
    return [cb.PyBuffer_GetPointer(byref(v), _index_array(ix)) for ix in indices([v.shape[i] for i in range(v.ndim)])]


def pybuf_bytes(lib, v, order=b"C") -> bytes:
    out = ctypes.create_string_buffer(max(v.len, 1))
    rc = lib.pybuf_to_contiguous(out, byref(v), v.len, order)
    assert rc == 0, pc.last_error(lib)
    return out.raw[: v.len]


def cpython_bytes(v, order=b"C") -> bytes:
    out = ctypes.create_string_buffer(max(v.len, 1))
    assert cb.PyBuffer_ToContiguous(out, byref(v), v.len, order) == 0
    return out.raw[: v.len]


def assert_same_view(lib, mine, ref, *, what, exact_empty=True, readonly=True):
    """`mine` (a derived pybuf view) is `ref` (a Py_buffer of the reference object).
    With `exact_empty` False (numpy), strides no index multiplies are not compared: those
    of dimensions of length 1 (numpy exports contiguous arrays with normalised ones) and
    all of an empty view, nor its buf (numpy neither moves buf nor multiplies the stride
    for an empty slice; CPython and pybuf do both)."""
    a, b = fields(mine), fields(ref)
    if not exact_empty:
        if a["len"] == 0:
            for k in ("buf", "strides"):
                a.pop(k), b.pop(k)
        elif a["strides"] and b["strides"] and a["shape"] == b["shape"]:
            for k, n in enumerate(a["shape"]):
                if n == 1:
                    a["strides"][k] = b["strides"][k] = None
    if not readonly:
        a.pop("readonly"), b.pop("readonly")
    assert a == b, what
    if mine.len:
        assert pybuf_pointers(lib, mine) == cpython_pointers(ref), what
    assert pybuf_bytes(lib, mine) == cpython_bytes(ref), what
    COUNTS["views compared"] += 1
    COUNTS["elements compared"] += mine.len // mine.itemsize if mine.itemsize else 0


class Views:
    """Derived views of one case, released in a random order at the end."""

    def __init__(self, lib, rnd):
        self.lib, self.rnd, self.views = lib, rnd, []

    def derive(self, fn: str, src, *args):
        dst = pc.pybuf_buffer()
        rc = getattr(self.lib, fn)(byref(dst), byref(src), *args)
        if rc:
            return None, rc
        self.views.append(dst)
        return dst, 0

    def close(self):
        self.rnd.shuffle(self.views)
        for v in self.views:
            self.lib.pybuf_release(byref(v))
            assert self.lib.pybuf_last_status() == 0, pc.last_error(self.lib)
        self.views = []


def value_of(lib, v, ix, field):
    out = pc.pybuf_value()
    rc = lib.pybuf_get_item(byref(v), _index_array(ix), field, byref(out))
    assert rc == 0, (ix, field, pc.last_error(lib))
    k = out.kind
    if k == pc.PYBUF_VALUE_INT:
        return out.i
    if k == pc.PYBUF_VALUE_UINT:
        return out.u
    if k == pc.PYBUF_VALUE_DOUBLE:
        return out.real
    if k == pc.PYBUF_VALUE_COMPLEX:
        return complex(out.real, out.imag)
    if k == pc.PYBUF_VALUE_BOOL:
        return bool(out.b)
    assert k == pc.PYBUF_VALUE_BYTES, k
    return ctypes.string_at(out.bytes, out.size) if out.size else b""


def item_values(lib, v, ix) -> list:
    n = lib.pybuf_item_fields(byref(v))
    assert n >= 0, pc.last_error(lib)
    return [value_of(lib, v, ix, k) for k in range(n)]


def same_value(a, b) -> bool:
    """Equal, NaN matching NaN (for comparing reads with a reference)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, complex) and isinstance(b, complex):
        return same_value(a.real, b.real) and same_value(a.imag, b.imag)
    return type(a) is type(b) and a == b if isinstance(a, (bytes, bool)) or isinstance(b, (bytes, bool)) else a == b


def flat(x) -> list:
    """A reference element as the flat list of values pybuf numbers."""
    if isinstance(x, (tuple, list)):
        return [y for e in x for y in flat(e)]
    if isinstance(x, np.ndarray):
        return [y for e in x.tolist() for y in flat(e)] if x.ndim else flat(x.item())
    if isinstance(x, np.generic):
        return flat(x.item())
    return [x]


# ---------------------------------------------------------------------------------------
# _testbuffer: N-D slicing, indexing, PIL-style suboffsets


def _tb_case(rnd, pil):
    spec = ex.gen_testbuffer_root(rnd, pil=pil, max_ndim=5)
    return spec, ex.build_testbuffer_root(spec)[0]


@pytest.mark.parametrize("pil", [False, True], ids=["strided", "pil"])
def test_testbuffer_nd_slicing(lib, pil):
    rnd = rng(f"tb-slice-{pil}")
    for case in range(CASES):
        spec, root = _tb_case(rnd, pil)
        shape = list(root.shape)
        if not shape:
            continue
        k = rnd.randint(1, len(shape))
        key = [ex._rand_slice(rnd, shape[i]) for i in range(k)]
        what = (case, spec, key)
        views = Views(lib, rnd)
        with cb.buffer(root, pc.PYBUF_FULL_RO) as src:
            cur = src
            refused = False
            for dim, (a, b, c) in enumerate(key):
                cur, rc = views.derive("pybuf_slice", cur, dim, NONE if a is None else a,
                                       NONE if b is None else b, NONE if c is None else c)
                if rc == BUFFER_REQUEST and pil and "would be negative" in pc.last_error(lib):
                    refused = True  # checked against _testbuffer below
                    break
                assert rc == 0, (what, pc.last_error(lib))
            ref_obj = root[tuple(slice(*s) for s in key)]
            if refused:
                # pybuf refuses to move a suboffset below 0 (PEP 3118 reads that as "no
                # pointer"); CPython's slicing stores the negative suboffset, leaving a
                # view whose elements are not where its shape says.
                with cb.buffer(ref_obj, pc.PYBUF_FULL_RO) as ref:
                    subs = [ref.suboffsets[i] for i in range(ref.ndim)] if ref.suboffsets else []
                assert any(x < 0 for x in subs[:1]), (what, subs)
                COUNTS["testbuffer PIL slices refused (CPython stores a negative suboffset)"] += 1
                views.close()
                continue

            with cb.buffer(ref_obj, pc.PYBUF_FULL_RO) as ref:
                assert_same_view(lib, cur, ref, what=what)
                COUNTS[f"testbuffer slices{' (PIL)' if pil else ''}"] += 1
                if cur.len and ref_obj.ndim == 1 or cur.len and ref_obj.ndim > 1:
                    check_tolist(lib, cur, ref_obj.tolist(), what)
            # Index dimension 0 of the sliced array (reads the pointer of a PIL array).
            if ref_obj.ndim >= 2 and ref_obj.shape[0] > 0:
                i = rnd.randrange(-ref_obj.shape[0], ref_obj.shape[0])
                d, rc = views.derive("pybuf_index", cur, 0, i)
                assert rc == 0, (what, pc.last_error(lib))
                with cb.buffer(ref_obj[i], pc.PYBUF_FULL_RO) as ref:
                    # an empty PIL view: _testbuffer still reads a pointer, pybuf reads
                    # nothing (it need not exist), so buf differs
                    assert_same_view(lib, d, ref, what=(what, i), exact_empty=not pil)
                COUNTS[f"testbuffer indexing{' (PIL)' if pil else ''}"] += 1
        views.close()
    assert COUNTS[f"testbuffer slices{' (PIL)' if pil else ''}"] > CASES // 2


def check_tolist(lib, v, ref_list, what):
    """pybuf_get_item at every index equals the reference's tolist()."""
    n = v.ndim
    shape = [v.shape[i] for i in range(n)]
    for ix in indices(shape):
        x = ref_list
        for i in ix:
            x = x[i]
        got, want = item_values(lib, v, ix), flat(x)
        assert len(got) == len(want) and all(map(same_value, got, want)), (what, ix, got, want)
        COUNTS["values read"] += len(got)


def _groups(subs):
    """For each dimension, the number of pointer reads before it."""
    out, reads = [], 0
    for s in subs:
        out.append(reads)
        reads += s >= 0
    return out


def test_testbuffer_pil_permutations(lib):
    """Permutations of PIL arrays (which CPython cannot transpose): accepted exactly when
    no dimension crosses a pointer read, and then every element is where CPython's
    PyBuffer_GetPointer finds it in the source."""
    rnd = rng("tb-perm")
    accepted = refused = 0
    for case in range(CASES):
        spec, root = _tb_case(rnd, pil=True)
        n = root.ndim
        views = Views(lib, rnd)
        with cb.buffer(root, pc.PYBUF_FULL_RO) as src:
            cur = src
            if n >= 2 and rnd.random() < 0.5:  # move a suboffset to dimension 1 first
                k = rnd.randrange(1, n)
                cur, rc = views.derive("pybuf_slice", cur, k, 1 if root.shape[k] > 1 else NONE, NONE, NONE)
                if rc == BUFFER_REQUEST and "would be negative" in pc.last_error(lib):
                    views.close()  # a negative stride would move the suboffset below 0
                    continue
                assert rc == 0
            axes = list(range(n))
            rnd.shuffle(axes)
            d, rc = views.derive("pybuf_permute", cur, (c_int * max(n, 1))(*axes))
            subs = [cur.suboffsets[i] for i in range(n)]
            g = _groups(subs)
            allowed = all(g[axes[i]] <= g[axes[i + 1]] for i in range(n - 1))
            assert (rc == 0) == allowed, (case, spec, axes, subs, pc.last_error(lib))
            if rc:
                assert rc == pc.PYBUF_STATUS_BUFFER_REQUEST
                refused += 1
            else:
                shape = [cur.shape[i] for i in range(n)]
                for ix in indices([shape[a] for a in axes]):
                    orig = [0] * n
                    for pos, a in enumerate(axes):
                        orig[a] = ix[pos]
                    assert lib.pybuf_get_pointer(byref(d), _index_array(ix)) == \
                        cb.PyBuffer_GetPointer(byref(cur), _index_array(orig)), (case, spec, axes)
                accepted += 1
        views.close()
    COUNTS["PIL permutations accepted"] += accepted
    COUNTS["PIL permutations refused"] += refused
    assert accepted > CASES // 4 and refused > CASES // 10


# ---------------------------------------------------------------------------------------
# numpy: slicing, indexing, transposes, broadcast_to


NUMPY_DTYPES = ["u1", "i2", "<i4", ">i4", "i8", "f4", ">f8", "f2", "?", "c16", "S3", "U2",
                "longdouble", "i1,<i4", "i2,(2,3)f4", "S3,?,c16", ["aligned", "i1,f8"], ">u2,>f8"]


def _fill(a, g):
    """Random values (no NaN payloads from raw bytes) in every field of `a`."""
    if a.dtype.names:
        for name in a.dtype.names:
            _fill(a[name], g)
        return
    k, n = a.dtype.kind, a.size
    if k in "f":
        v = np.round(g.uniform(-1000, 1000, n), 3)
    elif k == "c":
        v = np.round(g.uniform(-9, 9, n), 2) + 1j * np.round(g.uniform(-9, 9, n), 2)
    elif k in "iu":
        info = np.iinfo(a.dtype)
        v = g.integers(info.min, info.max, n, dtype=a.dtype.newbyteorder("="), endpoint=True)
    elif k == "b":
        v = g.integers(0, 2, n).astype(bool)
    elif k == "S":
        v = [bytes(g.integers(97, 123, a.dtype.itemsize).tolist()) for _ in range(n)]
    elif k == "U":
        v = ["".join(chr(c) for c in g.integers(0x41, 0x2FFF, g.integers(0, a.dtype.itemsize // 4 + 1))) for _ in range(n)]
    else:
        return
    a[...] = np.asarray(v, dtype=a.dtype).reshape(a.shape)


def _numpy_array(rnd):
    dt = ex.np_dtype(rnd.choice(NUMPY_DTYPES))
    shape = [rnd.choice([1, 2, 3, 4, 5]) for _ in range(rnd.choice([1, 2, 2, 3, 3, 4]))]
    a = np.zeros(shape, dt, order=rnd.choice("CF"))
    _fill(a, np.random.default_rng(rnd.getrandbits(32)))
    return a


def _numpy_op(rnd, a):
    """One random derivation: (name, numpy result, pybuf function, args)."""
    nd = a.ndim
    kind = rnd.choice(["slice", "slice", "index", "T", "permute", "broadcast_to", "broadcast"])
    if kind == "slice" and nd:
        dim = rnd.randrange(nd)
        s = ex._rand_slice(rnd, a.shape[dim])
        key = (slice(None),) * dim + (slice(*s),)
        args = [NONE if x is None else x for x in s]
        return f"[{dim}: {s}]", a[key], "pybuf_slice", [dim, *args]
    if kind == "index" and nd and a.shape[0]:
        dim = rnd.randrange(nd)
        if a.shape[dim] == 0:
            return None
        i = rnd.randrange(-a.shape[dim], a.shape[dim])
        return f"index {dim} {i}", a[(slice(None),) * dim + (i, Ellipsis)], "pybuf_index", [dim, i]
    if kind == "T":
        return "T", a.T, "pybuf_transpose", []
    if kind == "permute" and nd:
        axes = list(range(nd))
        rnd.shuffle(axes)
        return f"transpose {axes}", a.transpose(axes), "pybuf_permute", [(c_int * nd)(*axes)]
    if kind == "broadcast_to" and nd < 5:
        shape = [rnd.choice([1, 2, 3]) for _ in range(rnd.randint(0, 2))]
        shape += [rnd.choice([n, n, 2, 3]) if n == 1 else n for n in a.shape]
        return f"broadcast_to {shape}", np.broadcast_to(a, shape), "pybuf_broadcast_to", \
            [len(shape), (c_ssize_t * max(len(shape), 1))(*shape)]
    if kind == "broadcast" and 1 in a.shape:
        dim = a.shape.index(1)
        n = rnd.choice([0, 1, 2, 4])
        shape = list(a.shape)
        shape[dim] = n
        return f"broadcast {dim} {n}", np.broadcast_to(a, shape), "pybuf_broadcast", [dim, n]
    return None


def test_numpy_derivations(lib):
    rnd = rng("numpy")
    for case in range(CASES):
        a = _numpy_array(rnd)
        views = Views(lib, rnd)
        steps = []
        with cb.buffer(a, pc.PYBUF_FULL_RO) as src:
            cur = src
            for _ in range(rnd.randint(1, 4)):
                op = _numpy_op(rnd, a)
                if op is None:
                    continue
                name, a, fn, args = op
                steps.append(name)
                cur, rc = views.derive(fn, cur, *args)
                assert rc == 0, (case, steps, pc.last_error(lib))
                what = (case, a.dtype, steps)
                with cb.buffer(a, pc.PYBUF_FULL_RO) as ref:
                    assert_same_view(lib, cur, ref, what=what, exact_empty=False)
                COUNTS[f"numpy {name.split()[0].split('[')[0] or 'slice'}"] += 1
            if cur is not src and a.size and a.dtype.kind != "V":
                check_numpy_values(lib, cur, a, (case, steps))
        views.close()


def numpy_item(x, dt):
    """A numpy element as the flat list of values pybuf numbers (bytes without their
    trailing NULs, which numpy strips)."""
    if dt.kind == "U":
        s = str(x)
        return [ord(c) for c in s] + [0] * (dt.itemsize // 4 - len(s))
    if dt == np.longdouble:
        return [float(x)]
    return [w.rstrip(b"\0") if isinstance(w, bytes) else w for w in flat(x)]


def check_numpy_values(lib, v, a, what):
    for ix in indices(a.shape):
        want = numpy_item(a[ix], a.dtype)
        got = [w.rstrip(b"\0") if isinstance(w, bytes) else w for w in item_values(lib, v, ix)]
        assert len(got) == len(want) and all(map(same_value, got, want)), (what, ix, got, want)
        COUNTS["values read"] += len(got)


# ---------------------------------------------------------------------------------------
# memoryview.cast, refusals included

CAST_FORMATS = ["B", "b", "c", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "N", "f", "d", "?",
                "P", "@d", "@B", "e", "<i", ">q", "2h", "hb", "Zd", "3s", "T{ii}", "x"]


def _cast_source(rnd):
    """A memoryview to cast from, and the bytes it holds in C order."""
    n = rnd.choice([0, 1, 6, 8, 12, 24, 48])
    data = bytearray(random.Random(rnd.random()).randbytes(n))
    m = memoryview(data)
    if rnd.random() < 0.5 and n:
        f = rnd.choice(["h", "i", "d", "B"])
        size = struct.calcsize(f)
        if n % size == 0:
            count = n // size
            shape = rnd.choice([[count], [count // 2, 2] if count % 2 == 0 else [count], [1, count]])
            m = m.cast(f, shape) if len(shape) == 1 or count else m.cast(f)
    if rnd.random() < 0.15 and m.ndim == 1 and m.shape[0] > 1:
        m = m[::2]  # not contiguous
    return m, data


def _cast_target(rnd):
    fmt = rnd.choice(CAST_FORMATS)
    r = rnd.random()
    if r < 0.35:
        return fmt, None
    ndim = rnd.choice([0, 1, 2, 3])
    shape = [rnd.choice([1, 2, 3, 4, 6]) for _ in range(ndim)]
    if rnd.random() < 0.1 and shape:
        shape[rnd.randrange(ndim)] = rnd.choice([0, -1])
    if rnd.random() < 0.03:
        shape = [1] * 65
    return fmt, shape


def _pybuf_itemsize(lib, fmt):
    n = lib.pybuf_size_from_format(fmt.encode())
    return n


def _expected_cast(lib, m, fmt, shape):
    """What pybuf should answer, by its documented rules: 0 or the refusal's status."""
    size = _pybuf_itemsize(lib, fmt)
    if size <= 0:
        return pc.PYBUF_STATUS_INVALID_ITEMSIZE
    if shape is not None and len(shape) > 64:
        return pc.PYBUF_STATUS_INVALID_NDIM
    if not m.c_contiguous:
        return pc.PYBUF_STATUS_BUFFER_REQUEST
    if shape is None:
        return 0 if m.nbytes % size == 0 else pc.PYBUF_STATUS_LENGTH_MISMATCH
    if any(n < 0 for n in shape):
        return pc.PYBUF_STATUS_INVALID_SHAPE
    return 0 if math.prod(shape) * size == m.nbytes else pc.PYBUF_STATUS_LENGTH_MISMATCH


def test_memoryview_cast(lib):
    rnd = rng("cast")
    for case in range(CASES * 3):
        m, data = _cast_source(rnd)
        fmt, shape = _cast_target(rnd)
        try:
            ref = m.cast(fmt, shape) if shape is not None else m.cast(fmt)
            mv_error = None
        except (TypeError, ValueError) as e:
            ref, mv_error = None, str(e)
        views = Views(lib, rnd)
        what = (case, m.format, m.shape, m.strides, fmt, shape, mv_error)
        with cb.buffer(m, pc.PYBUF_FULL_RO) as src:
            args = (-1, None) if shape is None else (len(shape), (c_ssize_t * max(len(shape), 1))(*shape))
            d, rc = views.derive("pybuf_cast", src, fmt.encode(), *args)
            assert rc == _expected_cast(lib, m, fmt, shape), (what, rc, pc.last_error(lib))
            if ref is not None:
                assert rc == 0, what
                with cb.buffer(ref, pc.PYBUF_FULL_RO) as r:
                    assert_same_view(lib, d, r, what=what)
                if ref.nbytes:
                    check_tolist(lib, d, ref.tolist(), what)
                COUNTS["casts memoryview accepts (compared)"] += 1
            elif rc == 0:
                # Where pybuf goes further: the same bytes, the requested C-contiguous
                # shape, and values as struct reads them.
                assert pybuf_bytes(lib, d) == m.tobytes(), what
                want_shape = shape if shape is not None else [m.nbytes // d.itemsize]
                assert fields(d)["shape"] == (want_shape or None), what
                strides = [d.itemsize * math.prod(want_shape[k + 1:]) for k in range(len(want_shape))]
                assert fields(d)["strides"] == (strides or None), what
                if m.nbytes and fmt not in ("Zd", "T{ii}", "x"):
                    raw = m.tobytes()
                    for k, ix in enumerate(indices(want_shape)):
                        got, want = item_values(lib, d, ix), list(struct.unpack_from(fmt, raw, k * d.itemsize))
                        assert len(got) == len(want) and all(map(same_value, got, want)), (what, got, want)
                COUNTS["casts memoryview refuses, pybuf does (checked)"] += 1
                COUNTS[f"  beyond: {mv_error.split(': ')[-1][:45]}"] += 1
            else:
                COUNTS["casts both refuse"] += 1
                COUNTS[f"  refused: {mv_error.split(': ')[-1][:45]} -> {pc.status_name(rc)}"] += 1
        views.close()
    assert COUNTS["casts memoryview accepts (compared)"] > CASES // 4
    assert COUNTS["casts memoryview refuses, pybuf does (checked)"] > CASES // 10
    assert COUNTS["casts both refuse"] > CASES // 10


# ---------------------------------------------------------------------------------------
# memoryview == and tolist; numpy where memoryview gives up

EQ_FORMATS = ["b", "B", "h", "i", "q", "Q", "d", "f", "?", "c", "e", "<i", ">h", "!q", "2h", "hb", "3s", "=d"]
NATIVE_SINGLE = set("bBhHiIlLqQnNfdc?P")


def _values_for(fmt, n, rnd):
    items = ex.struct_items(fmt, n, rnd.getrandbits(32))
    if fmt in ("d", "f", "=d", "e") and rnd.random() < 0.2 and n:
        items[rnd.randrange(n)] = float("nan")
    return items


def _convert(items, fmt_to):
    """The same values in another format, when every one fits exactly (else None)."""
    try:
        out = [struct.unpack(fmt_to, struct.pack(fmt_to, x))[0] for x in items]
    except (struct.error, OverflowError, TypeError):
        return None
    return out if all(map(same_value, map(float, items), map(float, out))) else None


def test_memoryview_equality_and_tolist(lib):
    rnd = rng("eq")
    for case in range(CASES * 2):
        fmt = rnd.choice(EQ_FORMATS)
        shape = [rnd.choice([1, 2, 3, 4]) for _ in range(rnd.choice([0, 1, 2, 3]))]
        n = math.prod(shape)
        items = _values_for(fmt, n, rnd)
        other_fmt, other = fmt, list(items)
        if rnd.random() < 0.4 and fmt not in ("c", "3s", "2h", "hb"):
            f2 = rnd.choice(["b", "h", "i", "q", "d", "<i", ">q", "f", "e", "?", "=d"])
            converted = _convert(items, f2)
            if converted is not None:
                other_fmt, other = f2, converted
        if rnd.random() < 0.3:
            k = rnd.randrange(n)
            other[k] = _values_for(other_fmt, 1, rnd)[0]
        init = (lambda xs: xs) if shape else (lambda xs: xs[0])
        a = tb.ndarray(init(items), shape=shape, format=fmt)
        b = tb.ndarray(init(other), shape=shape, format=other_fmt)
        views = Views(lib, rnd)
        key = [ex._rand_slice(rnd, shape[i]) for i in range(len(shape))] if shape and rnd.random() < 0.5 else []
        slice_b = rnd.random() < 0.8
        what = (case, fmt, other_fmt, shape, key, slice_b, items, other)
        with cb.buffer(a, pc.PYBUF_FULL_RO) as va, cb.buffer(b, pc.PYBUF_FULL_RO) as vb:
            pa, pb, ra, rb = va, vb, a, b
            for dim, s in enumerate(key):
                args = [NONE if x is None else x for x in s]
                pa, _ = views.derive("pybuf_slice", pa, dim, *args)
                if slice_b:
                    pb, _ = views.derive("pybuf_slice", pb, dim, *args)
            if key:
                ra = a[tuple(slice(*s) for s in key)]
                rb = b[tuple(slice(*s) for s in key)] if slice_b else b
            want = memoryview(ra) == memoryview(rb)
            got = lib.pybuf_equal(byref(pa), byref(pb))
            assert got == int(want), (what, pc.last_error(lib))
            if not got:
                assert lib.pybuf_last_status() in (pc.PYBUF_STATUS_SHAPE_MISMATCH, pc.PYBUF_STATUS_VALUE_MISMATCH)
            COUNTS["== compared with memoryview"] += 1
            COUNTS[f"  == {'equal' if want else 'not equal'}"] += 1
            if pa.len and fmt in NATIVE_SINGLE:
                check_tolist(lib, pa, memoryview(ra).tolist(), what)
                COUNTS["tolist compared with memoryview"] += 1
            elif pa.len:
                # formats memoryview cannot list: struct.unpack each item
                raw = pybuf_bytes(lib, pa)
                size = struct.calcsize(fmt)
                for k, ix in enumerate(indices(ra.shape)):
                    want_vals = list(struct.unpack_from(fmt, raw, k * size))
                    got_vals = item_values(lib, pa, ix)
                    assert len(got_vals) == len(want_vals) and all(map(same_value, got_vals, want_vals)), \
                        (what, ix, got_vals, want_vals)
                COUNTS["items compared with struct.unpack"] += 1
        views.close()
    assert COUNTS["== compared with memoryview"] >= CASES * 2
    assert COUNTS["  == equal"] > CASES // 4 and COUNTS["  == not equal"] > CASES // 4


# dtypes whose formats the struct module does not know ("T{...}", "Zd", "Zf", "g")
GIVE_UP_DTYPES = ["c16", ">c16", "c8", "longdouble", "clongdouble", "i1,<i4", "i2,(2,3)f4",
                  ["aligned", "i1,f8"], ">u2,>f8", "<f4,>c8"]


def _swapped(dt):
    """`dt` with every field in the other byte order."""
    return dt.newbyteorder("S")


def test_numpy_equality_where_memoryview_gives_up(lib):
    """Structs, non-native byte orders, complex, long double: memoryview == gives up
    (returns False) for formats the struct module does not know; pybuf compares values as
    numpy does."""
    rnd = rng("np-eq")
    for case in range(CASES):
        dt = ex.np_dtype(rnd.choice(GIVE_UP_DTYPES))
        shape = [rnd.choice([1, 2, 3]) for _ in range(rnd.choice([0, 1, 2, 3]))]
        a = np.zeros(shape, dt)
        _fill(a.reshape(-1), np.random.default_rng(rnd.getrandbits(32)))
        r = rnd.random()
        # numpy exports no byte-swapped long double
        b = a.astype(_swapped(a.dtype)) if r < 0.5 and a.dtype.kind != "c" and a.dtype != np.longdouble \
            else a.copy()
        if rnd.random() < 0.4 and a.size:
            ix = tuple(rnd.randrange(n) for n in a.shape)
            g = np.random.default_rng(rnd.getrandbits(32))
            tmp = np.zeros((), a.dtype)
            _fill(tmp.reshape(1), g)
            b[ix] = tmp
        if rnd.random() < 0.2 and a.dtype.kind in "fc" and a.size:
            ix = tuple(rnd.randrange(n) for n in a.shape)
            a[ix] = np.nan
            b[ix] = np.nan
        want = bool((a == b).all()) if a.dtype.names is None else all(bool((a[n] == b[n]).all()) for n in a.dtype.names)
        with cb.buffer(a, pc.PYBUF_FULL_RO) as va, cb.buffer(b, pc.PYBUF_FULL_RO) as vb:
            got = lib.pybuf_equal(byref(va), byref(vb))
        assert got == int(want), (case, a.dtype, b.dtype, pc.last_error(lib))
        mv = memoryview(a) == memoryview(b)
        COUNTS["== compared with numpy"] += 1
        assert not mv or not a.size, "memoryview compares these formats now: update GIVE_UP_DTYPES"
        COUNTS[f"  {'equal' if want else 'not equal'}, where memoryview gives up"] += 1
    assert COUNTS["  equal, where memoryview gives up"] > CASES // 4
    assert COUNTS["  not equal, where memoryview gives up"] > CASES // 10


# ---------------------------------------------------------------------------------------
# pybuf_set_item against struct.pack

SET_FORMATS = ["b", "B", "h", "<H", ">i", "I", "q", ">Q", "n", "N", "e", "f", ">d", "?", "c",
               "3s", "4p", "P", "2h", "hbd", ">hb3s", "<q?f"]


def _random_input(rnd):
    """A Python value and the pybuf_value for it."""
    v = pc.pybuf_value()
    kind = rnd.choice(["int", "uint", "double", "bool", "bytes", "complex"])
    if kind == "int":
        x = rnd.choice([0, 1, -1, 127, 128, -129, 255, 256, 65535, -32769, 2**31, -2**31 - 1, 2**62, -2**63,
                        rnd.randint(-2**63, 2**63 - 1)])
        v.kind, v.i = pc.PYBUF_VALUE_INT, x
    elif kind == "uint":
        x = rnd.choice([0, 5, 2**63, 2**64 - 1, rnd.randrange(2**64)])
        v.kind, v.u = pc.PYBUF_VALUE_UINT, x
    elif kind == "double":
        x = rnd.choice([0.5, -1.25, 1e300, -1e39, 65504.0, 65520.0, 3.4e38, float("inf"), 7.0, 1e-8])
        v.kind, v.real = pc.PYBUF_VALUE_DOUBLE, x
    elif kind == "bool":
        x = rnd.random() < 0.5
        v.kind, v.b = pc.PYBUF_VALUE_BOOL, int(x)
    elif kind == "complex":
        x = complex(rnd.uniform(-5, 5), 0.5)
        v.kind, v.real, v.imag = pc.PYBUF_VALUE_COMPLEX, x.real, x.imag
    else:
        x = bytes(rnd.choice([0, 1, 2, 3, 5]) * [rnd.randrange(97, 123)])
        keep = ctypes.create_string_buffer(x, len(x) or 1)
        v.kind, v.bytes, v.size = pc.PYBUF_VALUE_BYTES, ctypes.cast(keep, c_void_p), len(x)
        v._keep = keep
    return x, v


def _struct_values(fmt, rnd):
    """Random values for every code of a struct format."""
    out = []
    for count, code in re.findall(r"(\d*)([a-zA-Z?])", fmt):
        n = int(count or 1)
        if code in "sp":
            out.append(bytes(rnd.randrange(97, 123) for _ in range(rnd.randint(0, n))))
            continue
        for _ in range(n):
            if code == "c":
                out.append(bytes([rnd.randrange(256)]))
            elif code == "?":
                out.append(rnd.random() < 0.5)
            elif code in "efd":
                out.append(round(rnd.uniform(-1000, 1000), 2))
            else:
                bits = 8 * struct.calcsize(fmt[0] + code if fmt[0] in "<>=!@" else code)
                out.append(rnd.randrange(0, 2**bits) if code.isupper() else rnd.randrange(-(2**(bits - 1)), 2**(bits - 1)))
    return out


def _native_f_overflow(fmt, field, x) -> bool:
    codes = [c for n, c in re.findall(r"(\d*)([a-zA-Z?])", fmt) for _ in range(1 if c in "sp" else int(n or 1))]
    return (fmt[0] not in "<>=!" and codes[field] == "f" and isinstance(x, float)
            and math.isfinite(x) and abs(x) > 3.4028234663852886e38)


def test_set_item_as_struct_pack(lib):
    rnd = rng("set")
    for case in range(CASES * 3):
        fmt = rnd.choice(SET_FORMATS)
        size = struct.calcsize(fmt)
        count = rnd.randint(1, 4)
        data = b"".join(struct.pack(fmt, *_struct_values(fmt, rnd)) for _ in range(count))
        nd = tb.ndarray(list(data), shape=[count * size], format="B", flags=tb.ND_WRITABLE)
        view = pc.pybuf_buffer()
        with cb.buffer(nd, pc.PYBUF_FULL) as src:
            views = Views(lib, rnd)
            view, rc = views.derive("pybuf_cast", src, fmt.encode(), -1, None)
            assert rc == 0, pc.last_error(lib)
            i = rnd.randrange(count)
            before = bytes(nd.tobytes())
            old = list(struct.unpack_from(fmt, before, i * size))
            field = rnd.randrange(len(old))
            x, v = _random_input(rnd)
            new = list(old)
            new[field] = x
            try:
                expected = bytearray(before)
                struct.pack_into(fmt, expected, i * size, *new)
                err = None
            except (struct.error, OverflowError, TypeError) as e:
                expected, err = None, str(e)
            rc = lib.pybuf_set_item(byref(view), _index_array([i]), field, byref(v))
            what = (case, fmt, i, field, x, err, pc.last_error(lib))
            if err is None and _native_f_overflow(fmt, field, x):
                # struct's native 'f' (like memoryview) stores inf for a finite double
                # beyond FLT_MAX; its '<f' raises OverflowError; pybuf refuses in every mode
                assert rc == pc.PYBUF_STATUS_VALUE_OUT_OF_RANGE and nd.tobytes() == before, what
                COUNTS["writes refused where native struct 'f' stores inf (documented)"] += 1
                views.close()
                continue
            if err is None:
                assert rc == 0, what
                assert nd.tobytes() == bytes(expected), what
                COUNTS["writes compared with struct.pack"] += 1
            else:
                ranged = any(w in err for w in ("out of range", "<= number <=", "too large", "must be 0 <="))
                want = pc.PYBUF_STATUS_VALUE_OUT_OF_RANGE if ranged else pc.PYBUF_STATUS_TYPE_MISMATCH
                assert rc == want, what
                assert nd.tobytes() == before, what
                COUNTS["write refusals compared with struct.pack"] += 1
            views.close()
    assert COUNTS["write refusals compared with struct.pack"] > CASES // 2


# ---------------------------------------------------------------------------------------
# Iteration, extent and validation


def test_iteration_extent_and_validation(lib):
    rnd = rng("iter")
    for case in range(CASES):
        spec, root = _tb_case(rnd, pil=rnd.random() < 0.3) if rnd.random() < 0.4 else (None, None)
        obj = root if root is not None else _numpy_array(rnd)
        if root is None:
            op = _numpy_op(rnd, obj)
            if op is not None:
                obj = op[1]
        with cb.buffer(obj, pc.PYBUF_FULL_RO) as v:
            n = v.ndim
            shape = [v.shape[i] for i in range(n)]
            ptrs = cpython_pointers(v) if v.len else []
            # C and F order; 'A' is F for an F- but not C-contiguous view
            f_order = [ptrs[k] for k in sorted(range(len(ptrs)), key=lambda k: list(reversed(
                list(np.unravel_index(k, shape)) if shape else [])))] if ptrs else []
            for order, want in ((b"C", ptrs), (b"F", f_order)):
                it = ctypes.POINTER(pc.pybuf_iter)()
                assert lib.pybuf_iter_new(byref(v), order, byref(it)) == 0, pc.last_error(lib)
                got, p, ix = [], c_void_p(), (c_ssize_t * max(n, 1))()
                while lib.pybuf_iter_next(it, byref(p), ix) == 1:
                    got.append(p.value)
                lib.pybuf_iter_free(it)
                assert got == want, (case, order)
            COUNTS["iterations compared"] += 2
            lo, hi = c_ssize_t(), c_ssize_t()
            assert lib.pybuf_extent(byref(v), byref(lo), byref(hi)) == 0, pc.last_error(lib)
            if v.len:
                ends = [p + v.itemsize for p in ptrs]
                assert v.buf + lo.value <= min(ptrs) and max(ends) <= v.buf + hi.value, case
                if not v.suboffsets:
                    assert (v.buf + lo.value, v.buf + hi.value) == (min(ptrs), max(ends)), case
                    if isinstance(obj, np.ndarray):
                        assert (v.buf + lo.value, v.buf + hi.value) == byte_bounds(obj), case
                        COUNTS["extents compared with numpy byte_bounds"] += 1
                # the memory the view reaches validates; one byte less does not
                base, size = v.buf + lo.value, hi.value - lo.value
                assert lib.pybuf_validate(byref(v), pc.PYBUF_VALIDATE_MEMORY, base, size) == 0, \
                    (case, pc.last_error(lib))
                assert lib.pybuf_validate(byref(v), pc.PYBUF_VALIDATE_MEMORY, base, size - 1) == \
                    pc.PYBUF_STATUS_LENGTH_MISMATCH
                assert lib.pybuf_validate(byref(v), pc.PYBUF_VALIDATE_MEMORY, base + 1, size - 1) == \
                    pc.PYBUF_STATUS_LENGTH_MISMATCH
                COUNTS["memory validations"] += 3
            fmt_ok = lib.pybuf_validate(byref(v), pc.PYBUF_VALIDATE_FORMAT, None, 0)
            assert fmt_ok == 0, (case, v.format, pc.last_error(lib))


def test_summary():
    """The counts of this run (run with -s to see them)."""
    print(f"\ntest_views.py, PYBUF_SEED={SEED} PYBUF_VIEW_CASES={CASES}:")
    for k, v in COUNTS.items():
        print(f"  {k}: {v}")
