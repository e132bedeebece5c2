"""Random buffer exporters for the differential tests, described by plain JSON-able specs.

A spec is drawn once from a `random.Random` (`gen_view_spec`, `gen_copy_spec`) and can be
built any number of times (`build_view`, `build_copy`): every build of one spec has the same
structure and the same initial bytes, in fresh memory. So a mismatch is reproduced from its
printed spec alone, and two identical exporters can be handed one to CPython, one to pybuf.

Exporters:
- numpy arrays: C/F order, transposes, slices with negative steps, zero-size dimensions,
  integer indexing down to 0-d, new axes, zero strides (`as_strided`, writable, and
  `np.broadcast_to`, read-only), read-only arrays;
- CPython's `_testbuffer.ndarray`: arbitrary strides (negative, zero, padded) and offsets,
  ND_FORTRAN, PIL-style suboffsets (ND_PIL), all-negative suboffsets (add_suboffsets()),
  N-D slicing of all of those (which moves PIL suboffsets);
- memoryview: over either of the above, over bytearray/bytes with `cast`, 1-D slicing.

A built exporter knows its full memory: `memory()` is every byte of the underlying storage
(not just the view), `fixed()` the bytes that must never change (the pointer tables of
PIL arrays, whose absolute addresses differ between two builds), and `region` the address
and size of the bytes `memory()` reads, when they may be written through a raw pointer.
"""

from __future__ import annotations

import ctypes
import math
import random
import struct

import numpy as np
from numpy.lib.stride_tricks import as_strided

import _testbuffer as tb

import cpython_buffer as cb
from pybuf_ctypes import (
    PYBUF_FORMAT,
    PYBUF_FULL,
    PYBUF_FULL_RO,
    PYBUF_ND,
    PYBUF_RECORDS,
    PYBUF_SIMPLE,
    PYBUF_STRIDES,
    PYBUF_WRITABLE,
)

PTR = ctypes.sizeof(ctypes.c_void_p)

# numpy dtypes and the format they export: the brief's 'B','b','h','i','l','q','f','d',
# '?','e','3s','Zd', and a few more (byte order, long double, UCS4 strings, structs).
NUMPY_DTYPES = [
    "u1", "i1", "i2", "i4", "i8", "longlong", "f4", "f8", "?", "f2", "S3", "c16",
    "c8", ">i4", ">f8", "u2", "u4", "u8", "longdouble", "U2", "V3",
    "i1,<i4",  # 'T{b:f0:=i:f1:}': packed struct, itemsize 5
    "S7", "V24", "u1,u1,u1", "i2,(2,3)f4", "S3,?,c16",
    ["aligned", "i1,f8"],  # 'T{b:f0:xxxxxxxd:f1:}', itemsize 16
    # Not here: structs whose itemsize numpy pads beyond what its format says (an
    # aligned struct nested after a byte-order change, explicit offsets with trailing
    # padding): their format does not determine the itemsize (numpy's own PEP 3118
    # parser gets another size than numpy's exporter).
]


def np_dtype(spec) -> np.dtype:
    if isinstance(spec, list) and spec[0] == "aligned":
        return np.dtype(spec[1], align=True)
    return np.dtype(spec)


# struct formats for _testbuffer (it packs items with the struct module).
TESTBUFFER_FORMATS = [
    "B", "b", "h", "i", "l", "q", "f", "d", "?", "e", "3s", "c", "H", "I", "L", "Q",
    "n", "N", "<i", ">h", "=q", "!d", "@l", "2h", "hb", "bi", "5s", "17s", "2d",
]

# Request flag sets, tried first; a request the exporter refuses falls back to PyBUF_FULL
# (PyBUF_FULL_RO for read-only exporters).
REQUESTS = {
    "FULL": PYBUF_FULL,
    "RECORDS": PYBUF_RECORDS,  # no PyBUF_INDIRECT: refused by PIL arrays
    "STRIDED": PYBUF_STRIDES | PYBUF_WRITABLE,  # format NULL
    "ND_FORMAT": PYBUF_ND | PYBUF_FORMAT | PYBUF_WRITABLE,  # strides NULL
    "ND": PYBUF_ND | PYBUF_WRITABLE,  # strides and format NULL
    "SIMPLE": PYBUF_SIMPLE | PYBUF_WRITABLE,  # ndim 1, shape NULL (numpy: ndim 0)
}


def request_flags(name: str, writable: bool) -> int:
    flags = REQUESTS[name]
    return flags if writable else flags & ~PYBUF_WRITABLE


# ---------------------------------------------------------------------------------------
# Items and bytes


def _rand_bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _item(rnd: random.Random, code: str):
    if code in "cs":
        return None  # handled by the caller (needs the count)
    if code == "?":
        return rnd.random() < 0.5
    if code in "efd":
        lim = 60000.0 if code == "e" else 1e6
        return round(rnd.uniform(-lim, lim), 3)
    size = struct.calcsize("=" + code) if code not in "nNP" else PTR
    if code.isupper():
        return rnd.randrange(0, 1 << (8 * size))
    return rnd.randrange(-(1 << (8 * size - 1)), 1 << (8 * size - 1))


def struct_items(fmt: str, n: int, seed: int) -> list:
    """n random items for struct format `fmt` (an int, float, bytes or tuple each)."""
    rnd = random.Random(seed)
    body = fmt.lstrip("@=<>!")
    members = []  # (code, count) per member
    num = ""
    for ch in body:
        if ch.isdigit():
            num += ch
            continue
        count = int(num) if num else 1
        num = ""
        if ch == "s":
            members.append(("s", count))
        else:
            members.extend([(ch, 1)] * count)
    out = []
    for _ in range(n):
        vals = []
        for code, count in members:
            if code == "s":
                vals.append(rnd.randbytes(count))
            elif code == "c":
                vals.append(rnd.randbytes(1))
            else:
                vals.append(_item(rnd, code))
        out.append(vals[0] if len(vals) == 1 else tuple(vals))
    return out


# ---------------------------------------------------------------------------------------
# Built exporters


class Built:
    """One build of a spec: `obj` is the exporter to call PyObject_GetBuffer on."""

    def __init__(self, obj, memory, fixed=lambda: b"", keep=(), region=None):
        self.obj = obj
        self.memory = memory
        self.fixed = fixed
        self.keep = list(keep)
        # (address, size) of the writable bytes memory() reads, when known.
        self.region = region


def _buf_address(obj) -> int:
    with cb.buffer(obj, PYBUF_FULL_RO) as v:
        return v.buf or 0


def _buf_info(obj):
    with cb.buffer(obj, PYBUF_FULL_RO) as v:
        n = v.ndim
        shape = [v.shape[i] for i in range(n)] if v.shape else []
        strides = [v.strides[i] for i in range(n)] if v.strides else []
        return v.buf or 0, shape, strides


# numpy ---------------------------------------------------------------------------------


def _numpy_store(nbytes: int, seed: int) -> np.ndarray:
    return np.frombuffer(bytearray(_rand_bytes(seed, nbytes)), dtype=np.uint8)


def _as_strided(a: np.ndarray, shape, strides, writeable: bool) -> np.ndarray:
    # Through raw items: as_strided trips over aligned struct dtypes (padding fields).
    raw = np.dtype((np.void, a.dtype.itemsize))
    r = as_strided(a.view(raw), shape=tuple(shape), strides=tuple(strides), writeable=writeable)
    return r.view(a.dtype)


def _apply_numpy_op(a: np.ndarray, op) -> np.ndarray:
    kind = op[0]
    if kind == "T":
        return a.transpose(op[1])
    if kind == "slice":
        return a[tuple(slice(*s) for s in op[1])]
    if kind == "index":
        _, axis, i = op
        return a[(slice(None),) * axis + (i, Ellipsis)]  # a 0-d array, not a scalar
    if kind == "newaxis":
        return np.expand_dims(a, op[1])
    if kind == "zero_stride":  # a new axis of length n and stride 0, writable if a is
        _, axis, n = op
        return _as_strided(
            a,
            shape=a.shape[:axis] + (n,) + a.shape[axis:],
            strides=a.strides[:axis] + (0,) + a.strides[axis:],
            writeable=a.flags.writeable,
        )
    if kind == "stride0":  # an existing axis re-strided to 0 (reads its element 0)
        _, axis = op
        strides = list(a.strides)
        strides[axis] = 0
        return _as_strided(a, shape=a.shape, strides=strides, writeable=a.flags.writeable)
    if kind == "broadcast_to":
        return np.broadcast_to(a, tuple(op[1]))
    if kind == "readonly":
        a = a.view()
        a.flags.writeable = False
        return a
    raise ValueError(f"unknown op {op!r}")


def build_numpy(spec) -> Built:
    dt = np_dtype(spec["dtype"])
    store = _numpy_store(spec["nbytes"], spec["fill"])
    count = math.prod(spec["shape"])
    start = spec["start"]
    a = store[start : start + count * dt.itemsize].view(dt).reshape(spec["shape"], order=spec["order"])
    for op in spec["ops"]:
        a = _apply_numpy_op(a, op)
    return Built(a, memory=store.tobytes, keep=[store], region=(store.ctypes.data, store.nbytes))


def _rand_dim(rnd: random.Random) -> int:
    if rnd.random() < 0.04:  # long dimensions: long contiguous runs, merged axes
        return rnd.choice([8, 13, 16, 31, 64, 100])
    return rnd.choices([0, 1, 2, 3, 4, 5, 6], weights=[1, 4, 6, 6, 5, 3, 2])[0]


def _rand_shape(rnd: random.Random, ndim: int, max_items: int = 2048) -> list[int]:
    shape = [_rand_dim(rnd) for _ in range(ndim)]
    while math.prod(shape) > max_items:
        i = shape.index(max(shape))
        shape[i] = max(1, shape[i] // 2)
    return shape


def _rand_slice(rnd: random.Random, n: int):
    """A random [start, stop, step] for a dimension of length n (negative steps too)."""
    step = rnd.choice([1, 1, 2, 3, -1, -1, -2, -3])
    start = rnd.choice([None, rnd.randint(-n - 1, n + 1)])
    stop = rnd.choice([None, rnd.randint(-n - 1, n + 1)])
    return [start, stop, step]


def gen_numpy(rnd: random.Random, max_ndim: int = 5):
    dtype = rnd.choice(NUMPY_DTYPES)
    itemsize = np_dtype(dtype).itemsize
    ndim = rnd.choices(range(0, max_ndim), weights=[2, 5, 6, 5, 3][:max_ndim])[0]
    shape = _rand_shape(rnd, ndim)
    count = math.prod(shape)
    start = itemsize * rnd.randint(0, 3)
    nbytes = start + count * itemsize + itemsize * rnd.randint(0, 3)
    spec = {
        "kind": "numpy", "dtype": dtype, "shape": shape, "order": rnd.choice("CF"),
        "start": start, "nbytes": nbytes, "fill": rnd.getrandbits(32), "ops": [],
    }
    a = build_numpy(spec).obj
    for _ in range(rnd.choice([0, 1, 1, 2, 2, 3, 4])):
        op = _gen_numpy_op(rnd, a, max_ndim)
        if op is None:
            continue
        a = _apply_numpy_op(a, op)
        spec["ops"].append(op)
    return spec


def _gen_numpy_op(rnd: random.Random, a: np.ndarray, max_ndim: int):
    nd = a.ndim
    kinds = ["T", "slice", "slice", "index", "newaxis", "zero_stride", "stride0",
             "broadcast_to", "readonly"]
    kind = rnd.choice(kinds)
    if kind == "T" and nd >= 2:
        perm = list(range(nd))
        rnd.shuffle(perm)
        return ["T", perm]
    if kind == "slice" and nd >= 1:
        k = rnd.randint(1, nd)
        return ["slice", [_rand_slice(rnd, a.shape[i]) for i in range(k)]]
    if kind == "index" and nd >= 1 and a.shape[0] > 0:
        axis = rnd.randrange(nd)
        if a.shape[axis] == 0:
            return None
        return ["index", axis, rnd.randrange(-a.shape[axis], a.shape[axis])]
    if kind == "newaxis" and nd < max_ndim:
        return ["newaxis", rnd.randint(0, nd)]
    if kind == "zero_stride" and nd < max_ndim:
        return ["zero_stride", rnd.randint(0, nd), rnd.choice([0, 1, 2, 3])]
    if kind == "stride0" and nd >= 1:
        return ["stride0", rnd.randrange(nd)]
    if kind == "broadcast_to" and nd < max_ndim:
        extra = [rnd.choice([1, 2, 3])]
        shape = extra + [s if s != 1 else rnd.choice([1, 2, 3]) for s in a.shape]
        return ["broadcast_to", shape]
    if kind == "readonly" and rnd.random() < 0.5:
        return ["readonly"]
    return None


# _testbuffer ---------------------------------------------------------------------------


def build_testbuffer_root(spec):
    """The root ndarray of a _testbuffer spec, and readers of its whole memory."""
    fmt = spec["format"]
    items = struct_items(fmt, spec["nitems"], spec["fill"])
    shape = spec["shape"]
    kwargs = dict(shape=shape, format=fmt, flags=spec["flags"])
    if spec.get("strides") is not None:
        kwargs["strides"] = spec["strides"]
    if spec.get("offset"):
        kwargs["offset"] = spec["offset"]
    root = tb.ndarray(items if shape else items[0], **kwargs)
    if spec.get("add_suboffsets"):
        root.add_suboffsets()
    itemsize = struct.calcsize(fmt)
    data_len = spec["nitems"] * itemsize
    buf, rshape, rstrides = _buf_info(root)
    if spec["flags"] & tb.ND_PIL:
        # init_suboffsets(): [shape[0] pointers][the data], buf at the first pointer, or
        # at the last one when striding backwards in dimension 0.
        table = rshape[0] * PTR
        start = buf - ((rshape[0] - 1) * PTR if rstrides[0] < 0 and rshape[0] > 0 else 0)
        for i in range(rshape[0] if math.prod(rshape) else 0):  # pointers into the data
            p = ctypes.c_void_p.from_address(start + i * PTR).value or 0
            assert start + table <= p < start + table + data_len, (spec, i)
    else:
        table = 0
        start = buf - root.offset

    def memory():
        return ctypes.string_at(start + table, data_len)

    def fixed():
        return ctypes.string_at(start, table)

    memory.region = (start + table, data_len)
    return root, memory, fixed


def build_testbuffer(spec) -> Built:
    root, memory, fixed = build_testbuffer_root(spec)
    v = root
    for sl in spec.get("slices", []):
        v = v[tuple(slice(*s) for s in sl)]
    return Built(v, memory=memory, fixed=fixed, keep=[root], region=memory.region)


def _gen_strides(rnd: random.Random, shape, itemsize: int):
    """Strides (multiples of itemsize, as _testbuffer requires) in a random dimension
    order, with random signs, padding and zeros; or None (C or F contiguous)."""
    if rnd.random() < 0.3:
        return None
    ndim = len(shape)
    perm = list(range(ndim))
    rnd.shuffle(perm)
    strides = [0] * ndim
    sd = itemsize
    small = math.prod(shape) <= 64
    for d in reversed(perm):
        # Padding multiplies: keep the memory (and the items to pack) small.
        pad = rnd.choice([1, 1, 1, 2, 3]) if small and sd < 4096 and shape[d] > 1 else 1
        strides[d] = 0 if rnd.random() < 0.08 else sd * rnd.choice([1, -1])
        sd *= max(shape[d], 1) * pad
    return strides


def gen_testbuffer_root(rnd: random.Random, *, pil: bool, shape=None, fmt=None,
                        writable=None, max_ndim: int = 5):
    fmt = fmt or rnd.choice(TESTBUFFER_FORMATS)
    itemsize = struct.calcsize(fmt)
    if shape is None and rnd.random() < 0.02:
        # Many dimensions, up to PYBUF_MAX_NDIM (64): mostly of length 1.
        shape = [1] * rnd.randint(6, 64)
        for _ in range(rnd.randint(0, 4)):
            shape[rnd.randrange(len(shape))] = rnd.choice([0, 2, 3]) if rnd.random() < 0.9 else 5
    if shape is None:
        lo = 1 if pil else 0
        ndim = rnd.choices(range(lo, max_ndim), weights=[2, 5, 6, 5, 3][lo:max_ndim])[0]
        shape = _rand_shape(rnd, ndim, 1024)
    ndim = len(shape)
    if writable is None:
        writable = rnd.random() < 0.85
    flags = tb.ND_WRITABLE if writable else 0
    if pil:
        flags |= tb.ND_PIL
    strides = _gen_strides(rnd, shape, itemsize) if ndim else None
    if pil and strides and strides[0] == 0 and shape[0] > 1:
        # Every pointer of the table then points to one sub-array: its elements alias, so
        # writing to it has no defined result. Keep it, read-only.
        flags &= ~tb.ND_WRITABLE
    if strides is None and ndim and rnd.random() < 0.4:
        flags |= tb.ND_FORTRAN
    if strides is None:
        span_lo, span_hi = 0, (math.prod(shape) - 1) * itemsize if math.prod(shape) else 0
    else:
        span_lo = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0 and n > 0)
        span_hi = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0 and n > 0)
        if 0 in shape:
            span_lo = span_hi = 0
    offset = -span_lo + itemsize * rnd.randint(0, 2) if strides is not None else 0
    nitems = (offset + span_hi) // itemsize + 1 + rnd.randint(0, 3) if ndim else 1
    return {
        "kind": "testbuffer", "format": fmt, "shape": shape, "strides": strides,
        "offset": offset, "nitems": nitems, "flags": flags, "fill": rnd.getrandbits(32),
        "add_suboffsets": (not pil and ndim > 0 and rnd.random() < 0.1),
    }


def gen_testbuffer(rnd: random.Random, *, pil: bool, max_ndim: int = 5):
    spec = gen_testbuffer_root(rnd, pil=pil, max_ndim=max_ndim)
    spec["slices"] = []
    shape = list(spec["shape"])
    for _ in range(rnd.choice([0, 0, 1, 1, 2])):
        if not shape:
            break
        k = rnd.randint(1, len(shape))
        sl = [_rand_slice(rnd, shape[i]) for i in range(k)]
        spec["slices"].append(sl)
        for i, s in enumerate(sl):
            shape[i] = len(range(*slice(*s).indices(shape[i])))
    return spec


# memoryview ----------------------------------------------------------------------------


def build_memoryview(spec) -> Built:
    if spec.get("inner"):
        inner = build_view(spec["inner"])
        m = memoryview(inner.obj)
        memory, fixed, keep = inner.memory, inner.fixed, inner.keep + [inner.obj]
        region = inner.region
    else:
        raw = _rand_bytes(spec["fill"], spec["nbytes"])
        store = bytes(raw) if spec["readonly_store"] else bytearray(raw)
        m = memoryview(store)
        memory, fixed, keep = (lambda: bytes(store)), (lambda: b""), [store]
        region = None
        if not spec["readonly_store"] and len(store):
            region = (ctypes.addressof((ctypes.c_char * len(store)).from_buffer(store)), len(store))
        if spec.get("cast"):
            fmt, shape = spec["cast"]
            m = m[: math.prod(shape) * struct.calcsize(fmt)].cast(fmt, shape)
    if spec.get("slice") is not None:
        m = m[slice(*spec["slice"])]
    if spec.get("toreadonly"):
        m = m.toreadonly()
    return Built(m, memory=memory, fixed=fixed, keep=keep, region=region)


def gen_memoryview(rnd: random.Random):
    r = rnd.random()
    if r < 0.35:
        inner = gen_numpy(rnd)
        spec = {"kind": "memoryview", "inner": inner}
        ndim = build_numpy(inner).obj.ndim
    elif r < 0.65:
        inner = gen_testbuffer(rnd, pil=rnd.random() < 0.6)
        spec = {"kind": "memoryview", "inner": inner}
        ndim = build_testbuffer(inner).obj.ndim
    else:
        fmt = rnd.choice(["B", "b", "h", "i", "l", "q", "f", "d", "?", "c", "H", "Q", "n"])
        itemsize = struct.calcsize(fmt)
        ndim = rnd.choice([0, 1, 1, 2, 3])
        shape = [rnd.choice([1, 2, 3, 4, 5]) for _ in range(ndim)]  # cast refuses zeros
        nbytes = math.prod(shape) * itemsize + rnd.randint(0, 8)
        spec = {
            "kind": "memoryview", "inner": None, "nbytes": nbytes,
            "fill": rnd.getrandbits(32), "readonly_store": rnd.random() < 0.15,
            "cast": [fmt, shape],
        }
    if ndim == 1 and rnd.random() < 0.6:
        spec["slice"] = _rand_slice(rnd, 8)
    spec["toreadonly"] = rnd.random() < 0.1
    return spec


# dispatch ------------------------------------------------------------------------------


def build_view(spec) -> Built:
    kind = spec["kind"]
    if kind == "numpy":
        return build_numpy(spec)
    if kind == "testbuffer":
        return build_testbuffer(spec)
    if kind == "memoryview":
        return build_memoryview(spec)
    raise ValueError(kind)


def gen_view_spec(rnd: random.Random):
    """A random exporter spec plus the request to make of it."""
    r = rnd.random()
    if r < 0.40:
        spec = gen_numpy(rnd)
        # SIMPLE: numpy answers with ndim 0, shape NULL and len = nbytes (see
        # test_simple_requests.py)
        requests = ["FULL"] * 6 + ["RECORDS", "STRIDED", "ND_FORMAT", "ND", "SIMPLE"]
    elif r < 0.62:
        spec = gen_testbuffer(rnd, pil=False)
        requests = ["FULL"] * 5 + ["RECORDS", "STRIDED", "ND_FORMAT", "ND", "SIMPLE"]
    elif r < 0.87:
        spec = gen_testbuffer(rnd, pil=True)
        requests = ["FULL"]
    else:
        spec = gen_memoryview(rnd)
        requests = ["FULL"] * 5 + ["RECORDS", "STRIDED", "ND_FORMAT", "ND", "SIMPLE"]
    spec["request"] = rnd.choice(requests)
    return spec


def get_view(built: Built, request: str):
    """PyObject_GetBuffer with the named request (writable if the exporter allows),
    falling back to PyBUF_FULL / PyBUF_FULL_RO. Returns (view, flags used)."""
    for flags in (request_flags(request, True), request_flags(request, False),
                  PYBUF_FULL, PYBUF_FULL_RO):
        try:
            return cb.get_buffer(built.obj, flags), flags
        except (BufferError, ValueError, TypeError):
            continue
    raise AssertionError("the exporter refuses PyBUF_FULL_RO")


# ---------------------------------------------------------------------------------------
# Copy pairs: two views of one shape, in one memory (overlapping) or in two.


def _choose_slice(rnd: random.Random, q: int, length: int):
    """A [start, stop, step] selecting exactly `length` items of a dimension of length q."""
    if length == 0:
        s = rnd.randint(0, q)
        return [s, s, rnd.choice([1, -1])]
    steps = [k for k in (1, 2, 3) if (length - 1) * k + 1 <= q]
    k = rnd.choice(steps)
    span = (length - 1) * k + 1
    if rnd.random() < 0.5:
        start = rnd.randint(0, q - span)
        sl = [start, start + span, k]
    else:
        start = rnd.randint(span - 1, q - 1)
        stop = start - span
        sl = [start, stop if stop >= 0 else None, -k]
    assert len(range(*slice(*sl).indices(q))) == length, (q, length, sl)
    return sl


def _parent_len(rnd: random.Random, length: int) -> int:
    if length == 0:
        return rnd.randint(0, 2)
    return (length - 1) * rnd.choice([1, 1, 2, 3]) + 1 + rnd.randint(0, 2)


def _gen_numpy_side(rnd: random.Random, shape, itemsize: int, store: int, bcast: bool):
    ndim = len(shape)
    perm = list(range(ndim))
    rnd.shuffle(perm)
    lengths = [0] * ndim
    for i, p in enumerate(perm):
        lengths[p] = shape[i]
    parent = [_parent_len(rnd, n) for n in lengths]
    slices = [_choose_slice(rnd, q, n) for q, n in zip(parent, lengths)]
    zero = [i for i in range(ndim) if bcast and shape[i] > 1 and rnd.random() < 0.5]
    return {
        "store": store, "start": itemsize * rnd.randint(0, 6), "parent": parent,
        "order": rnd.choice("CF"), "slices": slices, "perm": perm, "zero_strides": zero,
    }


def _numpy_side(stores, dt, side, readonly=False):
    store = stores[side["store"]]
    n = math.prod(side["parent"])
    start = side["start"]
    a = store[start : start + n * dt.itemsize].view(dt).reshape(side["parent"], order=side["order"])
    a = a[tuple(slice(*s) for s in side["slices"]) + (Ellipsis,)].transpose(side["perm"])
    if side["zero_strides"]:
        strides = [0 if i in side["zero_strides"] else s for i, s in enumerate(a.strides)]
        a = _as_strided(a, shape=a.shape, strides=strides, writeable=True)
    if readonly:
        a = a.view()
        a.flags.writeable = False
    return a


def _side_bytes(side, itemsize):
    return side["start"] + math.prod(side["parent"]) * itemsize


def gen_copy_spec(rnd: random.Random):
    r = rnd.random()
    if r < 0.45:
        return gen_numpy_pair(rnd)
    if r < 0.85:
        return gen_testbuffer_pair(rnd)
    return gen_memoryview_pair(rnd)


def gen_numpy_pair(rnd: random.Random):
    dtype = rnd.choice(NUMPY_DTYPES)
    itemsize = np_dtype(dtype).itemsize
    ndim = rnd.choices(range(6), weights=[1, 4, 5, 4, 2, 1])[0]
    shape = [rnd.choice([0, 1, 1, 2, 2, 3, 3, 4, 5]) if rnd.random() < 0.9 else 0
             for _ in range(ndim)]
    shared = rnd.random() < 0.6
    dst = _gen_numpy_side(rnd, shape, itemsize, 0, bcast=rnd.random() < 0.05)
    src = _gen_numpy_side(rnd, shape, itemsize, 0 if shared else 1, bcast=rnd.random() < 0.2)
    if shared and rnd.random() < 0.1:  # the very same elements
        src = dict(dst, zero_strides=[])
    nbytes = [max(_side_bytes(dst, itemsize), _side_bytes(src, itemsize) if shared else 0)]
    if not shared:
        nbytes.append(_side_bytes(src, itemsize))
    return {
        "kind": "numpy_pair", "dtype": dtype, "shape": shape, "nbytes": nbytes,
        "fill": rnd.getrandbits(32), "dst": dst, "src": src,
        "dst_readonly": rnd.random() < 0.04,
    }


def build_numpy_pair(spec):
    dt = np_dtype(spec["dtype"])
    stores = [_numpy_store(n, spec["fill"] + i) for i, n in enumerate(spec["nbytes"])]
    dst = _numpy_side(stores, dt, spec["dst"], readonly=spec["dst_readonly"])
    src = _numpy_side(stores, dt, spec["src"])
    return dst, src, (lambda: b"".join(s.tobytes() for s in stores)), (lambda: b""), stores


def gen_testbuffer_pair(rnd: random.Random):
    fmt = rnd.choice(TESTBUFFER_FORMATS)
    ndim = rnd.choices(range(1, 5), weights=[4, 5, 3, 2])[0]
    shape = [rnd.choice([0, 1, 1, 2, 2, 3, 3, 4, 5]) if rnd.random() < 0.93 else 0
             for _ in range(ndim)]
    shared = rnd.random() < 0.5
    roots = []
    for _ in range(1 if shared else 2):
        rshape = [_parent_len(rnd, n) for n in shape]
        if shared:  # room for both views
            rshape = [max(q, _parent_len(rnd, n)) for q, n in zip(rshape, shape)]
        roots.append(gen_testbuffer_root(rnd, pil=rnd.random() < 0.5, shape=rshape,
                                         fmt=fmt, writable=rnd.random() < 0.96))
    sides = {}
    for name, root in (("dst", 0), ("src", 0 if shared else 1)):
        rshape = roots[root]["shape"]
        sides[name] = {"root": root,
                       "slices": [_choose_slice(rnd, q, n) for q, n in zip(rshape, shape)]}
    return {"kind": "testbuffer_pair", "format": fmt, "shape": shape, "roots": roots, **sides}


def build_testbuffer_pair(spec):
    roots = [build_testbuffer_root(r) for r in spec["roots"]]
    views = {}
    for name in ("dst", "src"):
        side = spec[name]
        root = roots[side["root"]][0]
        views[name] = root[tuple(slice(*s) for s in side["slices"])]

    def memory():
        return b"".join(m() for _, m, _ in roots)

    def fixed():
        return b"".join(f() for _, _, f in roots)

    return views["dst"], views["src"], memory, fixed, [r for r, _, _ in roots]


def gen_memoryview_pair(rnd: random.Random):
    # formats memoryview slice assignment supports (native single items)
    fmt = rnd.choice(["B", "b", "h", "i", "l", "q", "Q", "f", "d", "e", "?", "c"])
    n = rnd.randint(0, 24)
    shared = rnd.random() < 0.7
    pil = rnd.random() < 0.3
    length = rnd.randint(0, max(0, n // 2))
    sides = {}
    for name, store in (("dst", 0), ("src", 0 if shared else 1)):
        sides[name] = {"store": store, "slice": _choose_slice(rnd, n, min(length, n))}
    return {"kind": "memoryview_pair", "format": fmt, "n": n, "pil": pil,
            "stores": 1 if shared else 2, "fill": rnd.getrandbits(32), **sides}


def build_memoryview_pair(spec):
    fmt, n = spec["format"], spec["n"]
    roots = []
    for i in range(spec["stores"]):
        flags = tb.ND_WRITABLE | (tb.ND_PIL if spec["pil"] else 0)
        rspec = {"format": fmt, "shape": [n], "strides": None, "offset": 0,
                 "nitems": max(n, 1), "flags": flags, "fill": spec["fill"] + i}
        if n == 0:
            rspec["nitems"] = 1
        roots.append(build_testbuffer_root(rspec))
    mvs = [memoryview(r) for r, _, _ in roots]
    dst = mvs[spec["dst"]["store"]][slice(*spec["dst"]["slice"])]
    src = mvs[spec["src"]["store"]][slice(*spec["src"]["slice"])]

    def memory():
        return b"".join(m() for _, m, _ in roots)

    def fixed():
        return b"".join(f() for _, _, f in roots)

    return dst, src, memory, fixed, [r for r, _, _ in roots] + mvs


def build_copy(spec):
    """(dst exporter, src exporter, memory(), fixed(), keep-alive list)."""
    kind = spec["kind"]
    if kind == "numpy_pair":
        return build_numpy_pair(spec)
    if kind == "testbuffer_pair":
        return build_testbuffer_pair(spec)
    if kind == "memoryview_pair":
        return build_memoryview_pair(spec)
    raise ValueError(kind)
