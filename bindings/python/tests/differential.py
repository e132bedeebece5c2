"""The differential engine: one Py_buffer from a real exporter, handed to CPython's
PyBuffer_* functions and to libpybuf, results compared.

`run(lib, seed, cases, pairs)` draws `cases` random views from exporters (exporters.py),
`cases / 10` hand-built views with suboffsets in any dimensions (synthetic.py) and `pairs`
random copy pairs, checks each, and returns a `Session` with the counts, the mismatches
(each with the seed, the case, the spec, the view and both results) and the deliberate
divergences met (where pybuf is not compared with CPython but held to its own documented
behaviour).

Per view: PyBuffer_IsContiguous ('C', 'F', 'A'), PyBuffer_GetPointer (every index, or a
sample of MAX_POINTERS), PyBuffer_SizeFromFormat, PyBuffer_FillContiguousStrides,
PyBuffer_ToContiguous ('C', 'F', 'A'), and PyBuffer_FromContiguous ('C', 'F', 'A', full,
shorter and longer lengths) on two identical exporters, comparing their whole memory,
also with the contiguous side overlapping the view's own memory. Per pair: pybuf_copy
against np.copyto(dst, src.copy()), 1-D memoryview slice assignment or CPython's element
addressing with the source read whole first, and PyObject_CopyData when they do not
overlap.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import math
import random
import time
import traceback
from collections import Counter

import numpy as np

import cpython_buffer as cb
import exporters as ex
import pybuf_ctypes as pc
import synthetic as sy
from pybuf_ctypes import Py_buffer

byref = ctypes.byref
Ssize = ctypes.c_ssize_t

ORDERS = (b"C", b"F", b"A")
BAD_ORDERS = (b"X", b"c", b"f", b"a", b"\x00", b"\xff", b"K", b" ", b"1")
MAX_POINTERS = 96  # indices compared per view; larger views get a random sample


# ---------------------------------------------------------------------------------------
# Views


def shape_of(v: Py_buffer) -> list[int]:
    n = v.ndim
    if v.shape:
        return [v.shape[i] for i in range(n)]
    if n == 0:
        return []
    return [v.len // v.itemsize]  # ndim 1, shape NULL: as memoryview reads it


def pybuf_reading(v: Py_buffer):
    """(shape, strides) of the elements as pybuf documents reading `v`: explicit strides,
    or C-contiguous ones; a NULL shape at ndim 1 (the answer to PyBUF_SIMPLE) is `len`
    unsigned bytes whatever itemsize says (PEP 3118), and at ndim 0 one item."""
    if v.shape:
        shape = [v.shape[i] for i in range(v.ndim)]
        return shape, strides_of(v) or c_strides(shape, v.itemsize)
    if v.ndim == 1:
        return [v.len], [1]
    return [], []


def strides_of(v: Py_buffer):
    return [v.strides[i] for i in range(v.ndim)] if v.strides else None


def suboffsets_of(v: Py_buffer):
    return [v.suboffsets[i] for i in range(v.ndim)] if v.suboffsets else None


def summary(v: Py_buffer, flags: int | None = None) -> dict:
    d = {
        "buf": hex(v.buf or 0), "len": v.len, "itemsize": v.itemsize,
        "readonly": v.readonly, "ndim": v.ndim,
        "format": None if v.format is None else v.format.decode("latin-1"),
        "shape": [v.shape[i] for i in range(v.ndim)] if v.shape else None,
        "strides": strides_of(v), "suboffsets": suboffsets_of(v),
    }
    if flags is not None:
        d["request"] = hex(flags)
    return d


def structure(v: Py_buffer) -> dict:
    d = summary(v)
    del d["buf"]
    return d


def c_strides(shape, itemsize):
    out, sd = [0] * len(shape), itemsize
    for k in reversed(range(len(shape))):
        out[k] = sd
        sd *= shape[k]
    return out


def aliasing(v: Py_buffer) -> bool:
    """Whether a destination has aliased elements (a zero stride with shape > 1)."""
    st = strides_of(v)
    return bool(st) and v.len > 0 and any(s == 0 and n > 1 for s, n in zip(st, shape_of(v)))


def index_sample(rnd: random.Random, shape, limit=MAX_POINTERS):
    total = math.prod(shape)
    if total == 0:
        return []
    if total <= limit:
        return list(itertools.product(*[range(n) for n in shape]))
    corners = [tuple(0 for _ in shape), tuple(n - 1 for n in shape)]
    return corners + [tuple(rnd.randrange(n) for n in shape) for _ in range(limit - 2)]


def first_difference(a: bytes, b: bytes) -> dict:
    if len(a) != len(b):
        return {"lengths": [len(a), len(b)]}
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    return {"differing_bytes": len(diffs), "first_offsets": diffs[:8],
            "cpython_bytes": a[diffs[0]:diffs[0] + 16].hex() if diffs else "",
            "pybuf_bytes": b[diffs[0]:diffs[0] + 16].hex() if diffs else ""}


# ---------------------------------------------------------------------------------------
# The session: counts, mismatches, divergences


class Session:
    def __init__(self, lib, seed: int):
        self.lib = lib
        self.seed = seed
        self.counts: Counter = Counter()
        self.mismatches: list[dict] = []
        self.divergences: Counter = Counter()
        self.divergence_examples: dict[str, dict] = {}
        self.has_size_from_format = pc.has(lib, "pybuf_size_from_format")
        self.elapsed = 0.0

    def err(self) -> str:
        return f"{pc.status_name(self.lib.pybuf_last_status())}: {pc.last_error(self.lib)}"

    def mismatch(self, category: str, ctx: dict, cpython, pybuf, **extra):
        self.counts[f"mismatch:{category}"] += 1
        if len(self.mismatches) < 200:
            self.mismatches.append({
                "category": category, "reproduce": f"PYBUF_SEED={self.seed} PYBUF_CASE={ctx.get('case')}",
                **{k: v for k, v in ctx.items() if k != "case"},
                "cpython": cpython, "pybuf": pybuf, **extra,
            })

    def diverge(self, name: str, ctx: dict, **extra):
        """A deliberate divergence: pybuf was held to its documented behaviour instead."""
        self.divergences[name] += 1
        if name not in self.divergence_examples:
            self.divergence_examples[name] = {
                "reproduce": f"PYBUF_SEED={self.seed} PYBUF_CASE={ctx.get('case')}",
                "spec": ctx.get("spec"), "view": ctx.get("view"), **extra,
            }

    def of(self, category: str) -> list[dict]:
        return [m for m in self.mismatches if m["category"] == category]


def format_mismatches(ms: list[dict], limit: int = 8) -> str:
    out = [f"{len(ms)} mismatch(es); the first {min(limit, len(ms))}:"]
    for m in ms[:limit]:
        out.append(json.dumps(m, indent=1, default=str))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Per-view checks


def check_view(s: Session, ctx: dict, v: Py_buffer, rnd: random.Random):
    lib = s.lib
    pv = byref(v)
    shape = shape_of(v)
    ndim = v.ndim
    s.counts["views"] += 1
    s.counts[f"views:{ctx['spec']['kind']}"] += 1
    subs = suboffsets_of(v)
    real = ctx["spec"]["kind"] != "synthetic"
    s.counts["views_from_exporters"] += real
    if subs is not None:
        s.counts["views_with_suboffsets"] += 1
        s.counts["views_from_exporters_with_suboffsets"] += real
        if any(x >= 0 for x in subs):
            s.counts["views_with_pil_suboffsets"] += 1
    if not v.strides and ndim > 0:
        s.counts["views_with_null_strides"] += 1
    if not v.shape and (ndim > 0 or v.len != v.itemsize):  # numpy's PyBUF_SIMPLE: ndim 0
        s.counts["views_with_null_shape"] += 1
    if v.len == 0:
        s.counts["views_empty"] += 1

    # PyBuffer_IsContiguous / pybuf_is_contiguous
    for o in ORDERS:
        c = cb.PyBuffer_IsContiguous(pv, o)
        p = lib.pybuf_is_contiguous(pv, o)
        s.counts["is_contiguous"] += 1
        if c != p:
            s.mismatch("is_contiguous", ctx, c, p, order=o.decode(), pybuf_error=s.err())
    for o in rnd.sample(BAD_ORDERS, 2):
        p = lib.pybuf_is_contiguous(pv, o)
        if p != 0:
            s.mismatch("bad_order", ctx, "(not compared)", p, function="pybuf_is_contiguous",
                       order=repr(o), expected=0)
        s.diverge("is_contiguous: an order other than C/F/A gives 0 (not compared)", ctx)

    # PyBuffer_GetPointer / pybuf_get_pointer
    idx = (Ssize * max(ndim, 1))()
    cpython_can = bool(v.strides) or ndim == 0
    gshape, gstrides = pybuf_reading(v)
    if not cpython_can:
        s.diverge("get_pointer: NULL strides (CPython would read strides[i] through NULL; "
                  "compared with the C-contiguous addresses, a NULL shape read as len bytes)", ctx)
    for ix in index_sample(rnd, gshape):
        for k, i in enumerate(ix):
            idx[k] = i
        if cpython_can:
            c = cb.PyBuffer_GetPointer(pv, idx)
        else:
            c = (v.buf or 0) + sum(i * st for i, st in zip(ix, gstrides))
        p = lib.pybuf_get_pointer(pv, idx)
        s.counts["get_pointer"] += 1
        if c != p:
            s.mismatch("get_pointer", ctx, hex(c or 0), hex(p or 0), indices=list(ix),
                       pybuf_error=s.err())
            break
    if ndim > 0 and math.prod(gshape) > 0:  # out of range: pybuf checks, CPython does not
        d = rnd.randrange(ndim)
        for k in range(ndim):
            idx[k] = 0
        idx[d] = rnd.choice([gshape[d], -1])
        p = lib.pybuf_get_pointer(pv, idx)
        st = lib.pybuf_last_status()
        if p is not None or st != pc.PYBUF_STATUS_INDEX_OUT_OF_RANGE:
            s.mismatch("get_pointer_out_of_range", ctx, "(not compared)", [p, pc.status_name(st)],
                       indices=list(idx[:ndim]), expected="NULL, PYBUF_STATUS_INDEX_OUT_OF_RANGE")
        s.diverge("get_pointer: an index out of range gives NULL/INDEX_OUT_OF_RANGE "
                  "(CPython does not check; not compared)", ctx)

    # PyBuffer_SizeFromFormat / pybuf_size_from_format
    if v.format is not None:
        check_size_from_format(s, ctx, v.format, v.itemsize)

    # PyBuffer_FillContiguousStrides / pybuf_fill_contiguous_strides
    check_fill_strides(s, ctx, shape, v.itemsize, rnd)
    xshape = [rnd.choice([0, 1, 1, 2, 3, 5, 7, 100]) for _ in range(rnd.randint(0, 9))]
    check_fill_strides(s, dict(ctx, extra_shape=xshape), xshape, rnd.choice([1, 2, 3, 4, 8, 16, 24]), rnd)

    # PyBuffer_ToContiguous / pybuf_to_contiguous
    n = v.len
    for o in ORDERS:
        cd = ctypes.create_string_buffer(b"\xa5" * n, n)
        pd = ctypes.create_string_buffer(b"\xa5" * n, n)
        try:
            cb.PyBuffer_ToContiguous(cd, pv, n, o)
            c = "ok"
        except Exception as e:  # noqa: BLE001 - any CPython error is a result to compare
            c = f"error: {e!r}"
        r = lib.pybuf_to_contiguous(pd, pv, n, o)
        p = "ok" if r == 0 else f"error: {s.err()}"
        s.counts["to_contiguous"] += 1
        if (c == "ok") != (r == 0) or (r == 0 and cd.raw != pd.raw):
            s.mismatch("to_contiguous", ctx, c, p, order=o.decode(),
                       **(first_difference(cd.raw, pd.raw) if r == 0 else {}))
    if rnd.random() < 0.25:  # a wrong len: both refuse
        bad = n + rnd.choice([1, -1 if n else 2, v.itemsize])
        cd = ctypes.create_string_buffer(max(bad, 0) + 8)
        pd = ctypes.create_string_buffer(b"\x5a" * (max(bad, 0) + 8))
        pd0 = pd.raw
        try:
            cb.PyBuffer_ToContiguous(cd, pv, bad, b"C")
            c = "ok"
        except Exception as e:  # noqa: BLE001
            c = f"error: {e!r}"
        r = lib.pybuf_to_contiguous(pd, pv, bad, b"C")
        if c == "ok" or r != pc.PYBUF_STATUS_LENGTH_MISMATCH or pd.raw != pd0:
            s.mismatch("to_contiguous", ctx, c, [r, s.err()], len=bad, note="wrong len")
    o = rnd.choice(BAD_ORDERS)
    pd = ctypes.create_string_buffer(b"\x5a" * n, n)
    r = lib.pybuf_to_contiguous(pd, pv, n, o)
    if r != pc.PYBUF_STATUS_INVALID_ARGUMENT or pd.raw != b"\x5a" * n:
        s.mismatch("bad_order", ctx, "(not compared)", [r, s.err()], function="pybuf_to_contiguous",
                   order=repr(o), expected="PYBUF_STATUS_INVALID_ARGUMENT, dst untouched")
    s.diverge("to_contiguous/from_contiguous/fill_contiguous_strides: an order other than "
              "C/F/A gives INVALID_ARGUMENT (-2) (not compared)", ctx)


def check_size_from_format(s: Session, ctx: dict, fmt: bytes, itemsize: int | None):
    try:
        c = cb.PyBuffer_SizeFromFormat(fmt)
    except Exception as e:  # noqa: BLE001 - struct.error for formats struct rejects
        c = f"error: {e!r}"
    if not s.has_size_from_format:
        s.counts["size_from_format_skipped"] += 1
        return
    p = s.lib.pybuf_size_from_format(fmt)
    s.counts["size_from_format"] += 1
    if isinstance(c, int):
        if p != c:
            s.mismatch("size_from_format", ctx, c, [p, s.err()], format=fmt.decode("latin-1"))
    else:
        # struct rejects the format (numpy's 'Zd', 'g', 'T{...}', '2w'): pybuf documents
        # struct.calcsize only for formats struct accepts, and NumPy's itemsize for a
        # 'T{...}' struct; other PEP 3118 extensions it may size (as the exporter does)
        # or refuse.
        if fmt.startswith(b"T{"):
            ok = itemsize is not None and p == itemsize
        else:
            ok = p == -1 or (itemsize is not None and p == itemsize)
        s.diverge(f"size_from_format: struct rejects {fmt.decode('latin-1')!r}; pybuf gives {p}"
                  + (f" ({s.err()})" if p == -1 else ""), ctx)
        if not ok:
            s.mismatch("size_from_format", ctx, c, [p, s.err()], format=fmt.decode("latin-1"),
                       expected=f"the exporter's itemsize {itemsize}"
                       + ("" if fmt.startswith(b"T{") else " or -1"))


def check_fill_strides(s: Session, ctx: dict, shape, itemsize: int, rnd: random.Random):
    lib = s.lib
    n = len(shape)
    sh = (Ssize * max(n, 1))(*shape)
    for o in ORDERS:
        cs = (Ssize * max(n, 1))(*([-7] * max(n, 1)))
        ps = (Ssize * max(n, 1))(*([-7] * max(n, 1)))
        cb.PyBuffer_FillContiguousStrides(n, sh, cs, itemsize, o)
        r = lib.pybuf_fill_contiguous_strides(n, sh, ps, itemsize, o)
        s.counts["fill_contiguous_strides"] += 1
        if r != 0 or list(cs[:n]) != list(ps[:n]):
            s.mismatch("fill_contiguous_strides", ctx, list(cs[:n]), [r, list(ps[:n]), s.err()],
                       shape=list(shape), itemsize=itemsize, order=o.decode())
    o = rnd.choice(BAD_ORDERS)
    ps = (Ssize * max(n, 1))(*([-7] * max(n, 1)))
    r = lib.pybuf_fill_contiguous_strides(n, sh, ps, itemsize, o)
    if r != pc.PYBUF_STATUS_INVALID_ARGUMENT or list(ps) != [-7] * max(n, 1):
        s.mismatch("bad_order", ctx, "(not compared)", [r, list(ps), s.err()],
                   function="pybuf_fill_contiguous_strides", order=repr(o),
                   expected="PYBUF_STATUS_INVALID_ARGUMENT, strides untouched")


# ---------------------------------------------------------------------------------------
# PyBuffer_FromContiguous / pybuf_from_contiguous on two identical exporters


def _twin_with_strides(v: Py_buffer) -> Py_buffer:
    """A copy of `v` with explicit C-contiguous strides (for CPython, which would read
    NULL strides). The strides array lives as long as the copy."""
    t = Py_buffer.from_buffer_copy(v)
    arr = (Ssize * max(v.ndim, 1))(*c_strides(shape_of(v), v.itemsize))
    t.strides = ctypes.cast(arr, ctypes.POINTER(Ssize))
    t.keep_alive = arr
    return t


class Made:
    """One built exporter and its view: `memory()`, `fixed()`, `region` as in exporters.Built."""

    def __init__(self, view, memory, fixed, region, release, keep):
        self.view, self.memory, self.fixed, self.region = view, memory, fixed, region
        self.release, self.keep = release, keep


def make_from_spec(spec) -> Made:
    if spec["kind"] == "synthetic":
        syn = sy.Synthetic(spec)
        return Made(syn.view, syn.memory, syn.fixed, None, lambda: None, syn)
    b = ex.build_view(spec)
    v, _ = ex.get_view(b, spec["request"])
    return Made(v, b.memory, b.fixed, b.region, lambda: cb.release(v), b)


def check_from_contiguous(s: Session, ctx: dict, spec: dict, rnd: random.Random):
    e1 = make_from_spec(spec)
    try:
        e2 = make_from_spec(spec)
    except BaseException:
        e1.release()
        raise
    try:
        _check_from_contiguous(s, ctx, e1, e2, rnd)
    finally:
        e1.release()
        e2.release()


def _check_from_contiguous(s: Session, ctx: dict, e1: Made, e2: Made, rnd: random.Random):
    lib = s.lib
    v1, v2 = e1.view, e2.view
    assert structure(v1) == structure(v2), ("two builds differ", structure(v1), structure(v2))
    mem0 = e1.memory()
    assert mem0 == e2.memory(), "two builds of one spec differ in memory"
    fixed1, fixed2 = e1.fixed(), e2.fixed()
    n = v1.len
    lengths = [n, rnd.randint(0, n), n + rnd.randint(1, 2 * v1.itemsize + 1)]
    if n and rnd.random() < 0.3:
        lengths.append(0)
    if v2.readonly or aliasing(v2):
        expected = pc.PYBUF_STATUS_READ_ONLY if v2.readonly else pc.PYBUF_STATUS_INVALID_STRIDES
        what = "a read-only destination" if v2.readonly else "a destination with a zero stride and shape > 1"
        s.diverge(f"from_contiguous: {what} is refused with {pc.status_name(expected)} "
                  "(CPython writes; not compared)", ctx)
        for o in ORDERS:
            src = rnd.randbytes(n)
            r = lib.pybuf_from_contiguous(byref(v2), src, n, o)
            s.counts["from_contiguous_refusals"] += 1
            if r != expected or e2.memory() != mem0:
                s.mismatch("from_contiguous", ctx, "(not compared)", [r, s.err()], order=o.decode(),
                           expected=f"{pc.status_name(expected)}, memory untouched")
        return
    twin = _twin_with_strides(v1) if not v1.strides and v1.ndim > 1 else None

    def cpython_target(o):
        if twin is not None and not cb.PyBuffer_IsContiguous(byref(v1), o):
            s.diverge("from_contiguous: NULL strides and not contiguous in the order "
                      "(CPython would read strides through NULL; compared with CPython "
                      "on the same view with explicit C strides)", ctx)
            return twin
        return v1

    s.counts["from_contiguous_views"] += 1
    for o in ORDERS:
        for ln in lengths:
            src = rnd.randbytes(ln)
            sbuf = ctypes.create_string_buffer(src, max(ln, 1))
            try:
                cb.PyBuffer_FromContiguous(byref(cpython_target(o)), sbuf, ln, o)
                c = "ok"
            except Exception as e:  # noqa: BLE001
                c = f"error: {e!r}"
            r = lib.pybuf_from_contiguous(byref(v2), sbuf, ln, o)
            p = "ok" if r == 0 else f"error: {s.err()}"
            s.counts["from_contiguous"] += 1
            m1, m2 = e1.memory(), e2.memory()
            if c != "ok" or r != 0 or m1 != m2:
                s.mismatch("from_contiguous", ctx, c, p, order=o.decode(), len=ln,
                           view_len=n, **first_difference(m1, m2))
                return
    o = rnd.choice(BAD_ORDERS)
    before = e2.memory()
    r = lib.pybuf_from_contiguous(byref(v2), rnd.randbytes(n), n, o)
    if r != pc.PYBUF_STATUS_INVALID_ARGUMENT or e2.memory() != before:
        s.mismatch("bad_order", ctx, "(not compared)", [r, s.err()], function="pybuf_from_contiguous",
                   order=repr(o), expected="PYBUF_STATUS_INVALID_ARGUMENT, memory untouched")

    # Overlap: the contiguous side lies in the view's own memory. pybuf documents a
    # correct result; CPython (memcpy, element loops) does not promise one, so it runs on
    # a private copy of the contiguous bytes and its result is the reference.
    if e1.region and e2.region and e1.region[1] >= n and rnd.random() < 0.5:
        (a1, size), (a2, _) = e1.region, e2.region
        o = rnd.choice(ORDERS)
        off = rnd.randint(0, size - n)
        if rnd.random() < 0.5:  # from_contiguous, src inside dst's memory
            ln = rnd.choice([n, rnd.randint(0, n)])
            copy_ = ctypes.create_string_buffer(ctypes.string_at(a1 + off, ln), max(ln, 1))
            cb.PyBuffer_FromContiguous(byref(cpython_target(o)), copy_, ln, o)
            r = lib.pybuf_from_contiguous(byref(v2), a2 + off, ln, o)
            what = "from_contiguous, src overlapping dst"
        else:  # to_contiguous, dst inside src's memory
            ln = n
            tmp = ctypes.create_string_buffer(max(n, 1))
            cb.PyBuffer_ToContiguous(tmp, byref(v1), n, o)
            ctypes.memmove(a1 + off, tmp, n)
            r = lib.pybuf_to_contiguous(a2 + off, byref(v2), n, o)
            what = "to_contiguous, dst overlapping src"
        s.counts["overlapping_contiguous_copies"] += 1
        m1, m2 = e1.memory(), e2.memory()
        if r != 0 or m1 != m2:
            s.mismatch("from_contiguous" if what.startswith("from") else "to_contiguous", ctx,
                       "CPython on a private copy", [r, s.err()], note=what, order=o.decode(),
                       offset=off, len=ln, **first_difference(m1, m2))
    if e1.fixed() != fixed1 or e2.fixed() != fixed2:
        s.mismatch("from_contiguous", ctx, "pointer table intact" if e1.fixed() == fixed1 else
                   "pointer table changed", "pointer table intact" if e2.fixed() == fixed2 else
                   "pointer table changed")


# ---------------------------------------------------------------------------------------
# pybuf_copy against numpy / memoryview / CPython's element addressing


def _get(obj, writable: bool):
    if writable:
        try:
            return cb.get_buffer(obj, pc.PYBUF_FULL)
        except (BufferError, ValueError):
            pass
    return cb.get_buffer(obj, pc.PYBUF_FULL_RO)


def cpython_copy_reference(vd: Py_buffer, vs: Py_buffer):
    """Copy the view vs into the view vd as if vs were read whole first, addressing every
    element with CPython's PyBuffer_GetPointer (suboffsets included)."""
    shape = shape_of(vs)
    idx = (Ssize * max(vs.ndim, 1))()
    all_ix = list(itertools.product(*[range(k) for k in shape]))
    items = []
    for ix in all_ix:
        for k, i in enumerate(ix):
            idx[k] = i
        items.append(ctypes.string_at(cb.PyBuffer_GetPointer(byref(vs), idx), vs.itemsize))
    for ix, item in zip(all_ix, items):
        for k, i in enumerate(ix):
            idx[k] = i
        ctypes.memmove(cb.PyBuffer_GetPointer(byref(vd), idx), item, vd.itemsize)


def reversed_view(v: Py_buffer, dims, keep: list) -> Py_buffer:
    """A copy of `v` with dimensions `dims` reversed (a [::-1] slice), suboffsets kept
    right: the start moves in buf, or in the suboffset of the last dimension before it
    that has one (as _testbuffer's slicing does; a dimension whose reversal would make
    that suboffset negative is left as it is)."""
    n = v.ndim
    shape, strides = shape_of(v), strides_of(v)
    subs = suboffsets_of(v) or [-1] * n
    buf = v.buf
    for k in dims:
        if shape[k] == 0:
            continue
        delta = (shape[k] - 1) * strides[k]
        j = max((i for i in range(k) if subs[i] >= 0), default=None)
        if j is None:
            buf += delta
        elif subs[j] + delta >= 0:
            subs[j] += delta
        else:
            continue  # the suboffset would turn negative, that is into "no pointer here"
        strides[k] = -strides[k]
    r = Py_buffer.from_buffer_copy(v)
    r.buf = buf
    arrays = [(Ssize * max(n, 1))(*strides), (Ssize * max(n, 1))(*subs)]
    keep.extend(arrays)
    r.strides = ctypes.cast(arrays[0], ctypes.POINTER(Ssize))
    r.suboffsets = ctypes.cast(arrays[1], ctypes.POINTER(Ssize))
    return r


class Pair:
    def __init__(self, dst, src, memory, fixed, overlap, objects, release, keep):
        self.dst, self.src, self.memory, self.fixed = dst, src, memory, fixed
        self.overlap, self.objects, self.release, self.keep = overlap, objects, release, keep


def gen_pair_spec(rnd: random.Random):
    if rnd.random() < 0.12:
        dst = sy.gen_synthetic(rnd)
        same = rnd.random() < 0.5
        spec = {"kind": "synthetic_pair", "dst": dst,
                "src": None if same else sy.gen_synthetic(rnd, shape=list(dst["shape"]),
                                                            itemsize=dst["itemsize"])}
        if same:
            spec["reverse"] = sorted(rnd.sample(range(len(dst["shape"])),
                                                rnd.randint(1, len(dst["shape"]))))
        return spec
    return ex.gen_copy_spec(rnd)


def make_pair(spec) -> Pair:
    if spec["kind"] == "synthetic_pair":
        d = sy.Synthetic(spec["dst"])
        keep = [d]
        if spec["src"] is None:
            src = reversed_view(d.view, spec["reverse"], keep)
            return Pair(d.view, src, d.memory, d.fixed, True, None, lambda: None, keep)
        o = sy.Synthetic(spec["src"])
        keep.append(o)
        return Pair(d.view, o.view, lambda: d.memory() + o.memory(), lambda: d.fixed() + o.fixed(),
                    False, None, lambda: None, keep)
    dA, sA, memory, fixed, keep = ex.build_copy(spec)
    vd = _get(dA, True)
    try:
        vs = _get(sA, False)
    except BaseException:
        cb.release(vd)
        raise

    def release():
        cb.release(vd)
        cb.release(vs)

    return Pair(vd, vs, memory, fixed, _overlapping(spec, dA, sA), (dA, sA), release, keep)


def _overlapping(spec, dst, src) -> bool:
    kind = spec["kind"]
    if kind == "numpy_pair":
        return len(spec["nbytes"]) == 1 and np.may_share_memory(dst, src)
    if kind == "testbuffer_pair":
        return spec["dst"]["root"] == spec["src"]["root"]
    return spec["dst"]["store"] == spec["src"]["store"]


def check_copy(s: Session, ctx: dict, spec: dict, rnd: random.Random):
    lib = s.lib
    A = make_pair(spec)
    try:
        vd, vs = A.dst, A.src
        ctx["dst_view"], ctx["src_view"] = summary(vd), summary(vs)
        s.counts["copy_pairs"] += 1
        s.counts[f"copy_pairs:{spec['kind']}"] += 1
        if A.overlap:
            s.counts["copy_pairs_overlapping"] += 1
        if vd.suboffsets or vs.suboffsets:
            s.counts["copy_pairs_with_suboffsets"] += 1
        mem0, fix0 = A.memory(), A.fixed()
        r = lib.pybuf_copy(byref(vd), byref(vs))
        err = s.err()
        expected = 0
        if vd.readonly:
            expected = pc.PYBUF_STATUS_READ_ONLY
        elif aliasing(vd):
            expected = pc.PYBUF_STATUS_INVALID_STRIDES
        if expected:
            s.diverge(f"copy: {'a read-only destination' if vd.readonly else 'a destination with a zero stride and shape > 1'}"
                      f" is refused with {pc.status_name(expected)} (not compared)", ctx)
            if r != expected or A.memory() != mem0:
                s.mismatch("copy", ctx, "(not compared)", [r, err],
                           expected=f"{pc.status_name(expected)}, memory untouched")
            return
        memP = A.memory()
        if A.fixed() != fix0:
            s.mismatch("copy", ctx, "pointer table intact", "pybuf changed a pointer table")
    finally:
        A.release()
    if r != 0:
        s.mismatch("copy", ctx, "ok", f"error {r}: {err}")
        return

    # The reference result, on a second build of the same pair.
    B = make_pair(spec)
    kind = spec["kind"]
    try:
        if kind == "numpy_pair":
            dB, sB = B.objects
            # Items as raw bytes (np.void), so that padding bytes of structs, NaN payloads
            # and non-0/1 bools are copied as they are.
            raw = np.dtype((np.void, dB.dtype.itemsize))
            np.copyto(dB.view(raw), sB.view(raw).copy(), casting="no")
            ref = "np.copyto(dst, src.copy())"
        elif kind == "memoryview_pair":
            dB, sB = B.objects
            dB[:] = sB  # 1-D memoryview slice assignment (overlap-safe in CPython)
            ref = "memoryview slice assignment"
        else:
            cpython_copy_reference(B.dst, B.src)
            ref = "PyBuffer_GetPointer, src read whole first"
        memR = B.memory()
    finally:
        B.release()
    s.counts["copy"] += 1
    if memR != memP:
        s.mismatch("copy", ctx, f"{ref}", "pybuf_copy", overlapping=A.overlap,
                   **first_difference(memR, memP))
        return
    if kind == "synthetic_pair":
        return

    # CPython's PyObject_CopyData: a second reference without overlap; with overlap, only
    # noted (it copies element by element in place, or memcpy's overlapping memory).
    dC, sC, memC, _, keepC = ex.build_copy(spec)
    if A.overlap:
        if kind == "numpy_pair" and math.prod(spec["shape"]) > 0:
            try:
                cb.PyObject_CopyData(dC, sC)
            except Exception:  # noqa: BLE001
                return
            if memC() != memR:
                s.diverge("copy with overlap: CPython's PyObject_CopyData gives another result "
                          "than 'src read whole first' (pybuf agrees with the latter)", ctx,
                          **first_difference(memR, memC()))
        elif kind == "testbuffer_pair" and math.prod(spec["shape"]) > 0:
            root = keepC[spec["dst"]["root"]]
            try:
                root[tuple(slice(*x) for x in spec["dst"]["slices"])] = sC
            except Exception:  # noqa: BLE001
                return
            if memC() != memR:
                s.diverge("copy with overlap: _testbuffer's slice assignment (copy_buffer) gives "
                          "another result than 'src read whole first' (pybuf agrees with the latter)",
                          ctx, **first_difference(memR, memC()))
        return
    try:
        cb.PyObject_CopyData(dC, sC)
    except Exception as e:  # noqa: BLE001
        s.mismatch("copy", ctx, f"PyObject_CopyData: {e!r}", "ok")
        return
    s.counts["copy_vs_PyObject_CopyData"] += 1
    if memC() != memP:
        s.mismatch("copy", ctx, "PyObject_CopyData", "pybuf_copy", **first_difference(memC(), memP))


# ---------------------------------------------------------------------------------------
# The run


def run(lib, seed: int, cases: int, pairs: int, only_case: int | None = None) -> Session:
    s = Session(lib, seed)
    t0 = time.perf_counter()
    view_ids = range(cases) if only_case is None else [only_case]
    for i in view_ids:
        rnd = random.Random(f"{seed}:view:{i}")
        ctx = {"case": i, "seed": seed}
        try:
            spec = ex.gen_view_spec(rnd)
            ctx["spec"] = spec
            built = ex.build_view(spec)
            v, flags = ex.get_view(built, spec["request"])
            try:
                ctx["view"] = summary(v, flags)
                check_view(s, ctx, v, rnd)
            finally:
                cb.release(v)
            check_from_contiguous(s, ctx, spec, rnd)
        except Exception:  # noqa: BLE001 - a harness failure is reported, not hidden
            s.mismatch("harness", ctx, None, None, traceback=traceback.format_exc())
    synthetic_ids = range(cases // 10) if only_case is None else [only_case]
    for i in synthetic_ids:
        rnd = random.Random(f"{seed}:synthetic:{i}")
        ctx = {"case": i, "seed": seed, "synthetic": True}
        try:
            spec = sy.gen_synthetic(rnd)
            ctx["spec"] = spec
            made = make_from_spec(spec)
            ctx["view"] = summary(made.view)
            check_view(s, ctx, made.view, rnd)
            check_from_contiguous(s, ctx, spec, rnd)
        except Exception:  # noqa: BLE001
            s.mismatch("harness", ctx, None, None, traceback=traceback.format_exc())
    pair_ids = range(pairs) if only_case is None else [only_case]
    for j in pair_ids:
        rnd = random.Random(f"{seed}:pair:{j}")
        ctx = {"case": j, "seed": seed, "pair": True}
        try:
            spec = gen_pair_spec(rnd)
            ctx["spec"] = spec
            check_copy(s, ctx, spec, rnd)
        except Exception:  # noqa: BLE001
            s.mismatch("harness", ctx, None, None, traceback=traceback.format_exc())
    s.elapsed = time.perf_counter() - t0
    return s
