"""Hand-built Py_buffer views with suboffsets in any dimensions (several levels of pointer
tables), which no exporter at hand makes: _testbuffer's PIL arrays have a suboffset in
dimension 0 only. Used by the differential run alongside the real exporters' views.

The memory is built from the spec alone: for each run of dimensions without suboffsets, a
block of cells laid out with padded, possibly negative strides; each cell is an element
(after the last suboffset) or a table of pointers (for the next dimension with a
suboffset), whose entries point, minus the suboffset, at the blocks of the dimensions
after it.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import random

from pybuf_ctypes import Py_buffer

PTR = ctypes.sizeof(ctypes.c_void_p)
FORMATS = {1: b"B", 2: b"h", 3: b"3s", 4: b"i", 8: b"d", 5: b"5s", 16: b"16s"}


class Synthetic:
    def __init__(self, spec):
        self.spec = spec
        self.rnd = random.Random(spec["fill"])
        self.data_blocks: list = []
        self.table_blocks: list = []
        shape, sub = spec["shape"], spec["sub"]
        self.strides = self._strides()
        self.arrays = []
        self.format = ctypes.create_string_buffer(FORMATS[spec["itemsize"]])
        v = Py_buffer()
        v.ndim = len(shape)
        v.itemsize = spec["itemsize"]
        v.len = math.prod(shape) * spec["itemsize"]
        v.readonly = 0
        v.format = ctypes.cast(self.format, ctypes.c_char_p)
        v.shape = self._array(shape)
        v.strides = self._array(self.strides)
        v.suboffsets = self._array([s if s is not None else -1 for s in sub])
        # Built even when empty: CPython's copy loops dereference the pointer tables of
        # the dimensions before a zero-length one.
        v.buf = self._build(0)
        self.view = v

    def _array(self, values):
        a = (ctypes.c_ssize_t * max(len(values), 1))(*values)
        self.arrays.append(a)
        return ctypes.cast(a, ctypes.POINTER(ctypes.c_ssize_t))

    def _alloc(self, n, data):
        b = ctypes.create_string_buffer(self.rnd.randbytes(n), n) if n else ctypes.create_string_buffer(1)
        (self.data_blocks if data else self.table_blocks).append(b)
        return ctypes.addressof(b)

    def _run_end(self, d):
        e = d
        while e < len(self.spec["shape"]) and self.spec["sub"][e] is None:
            e += 1
        return e

    def _cell(self, e):
        shape, itemsize = self.spec["shape"], self.spec["itemsize"]
        return itemsize if e == len(shape) else shape[e] * PTR

    def _strides(self):
        shape, sub, pad, neg = (self.spec[k] for k in ("shape", "sub", "pad", "neg"))
        ndim = len(shape)
        strides = [0] * ndim
        d = 0
        while d < ndim:
            if sub[d] is not None:
                strides[d] = -PTR if neg[d] else PTR
                d += 1
                continue
            e = self._run_end(d)
            sd = self._cell(e)
            for k in reversed(range(d, e)):
                strides[k] = -sd if neg[k] else sd
                sd *= max(shape[k], 1) * pad[k]
            d = e
        return strides

    def _build(self, d):
        """The address to start dimension d from, with everything below it built."""
        shape, sub = self.spec["shape"], self.spec["sub"]
        ndim = len(shape)
        if d == ndim:
            return self._alloc(self.spec["itemsize"], data=True)
        if sub[d] is not None:
            n = shape[d]
            table = self._alloc(n * PTR, data=False)
            start = table + (n - 1) * PTR if self.strides[d] < 0 else table
            for i in range(n):
                child = self._build(d + 1)
                ctypes.c_void_p.from_address(start + i * self.strides[d]).value = child - sub[d]
            return start
        e = self._run_end(d)
        cell = self._cell(e)
        dims = range(d, e)
        lo = sum(max(shape[k] - 1, 0) * self.strides[k] for k in dims if self.strides[k] < 0)
        hi = sum(max(shape[k] - 1, 0) * self.strides[k] for k in dims if self.strides[k] > 0)
        block = self._alloc(hi - lo + cell, data=(e == ndim))
        # A backwards pointer table is entered at its last entry.
        shift = (shape[e] - 1) * PTR if e < ndim and self.strides[e] < 0 and shape[e] > 0 else 0
        base = block - lo + shift
        if e < ndim:  # each cell is the pointer table of dimension e
            n = shape[e]
            for ix in itertools.product(*[range(shape[k]) for k in dims]):
                at = base + sum(i * self.strides[k] for i, k in zip(ix, dims))
                for j in range(n):
                    child = self._build(e + 1)
                    slot = at + j * self.strides[e]
                    ctypes.c_void_p.from_address(slot).value = child - sub[e]
        return base

    def memory(self) -> bytes:
        return b"".join(b.raw for b in self.data_blocks)

    def fixed(self) -> bytes:
        # The pointer tables hold absolute addresses: compared per build, not across.
        return b"".join(b.raw for b in self.table_blocks)


def gen_synthetic(rnd: random.Random, shape=None, itemsize=None):
    ndim = len(shape) if shape is not None else rnd.randint(1, 4)
    if shape is None:
        shape = [rnd.choice([0, 1, 2, 2, 3, 3, 4]) if rnd.random() < 0.95 else 0 for _ in range(ndim)]
    while math.prod(shape) > 96:
        shape[shape.index(max(shape))] -= 1
    sub = [rnd.choice([0, 0, 8, 16, 3 * PTR]) if rnd.random() < 0.45 else None for _ in range(ndim)]
    if all(s is None for s in sub):
        sub[rnd.randrange(ndim)] = 0
    return {
        "kind": "synthetic", "itemsize": itemsize or rnd.choice(sorted(FORMATS)), "shape": shape, "sub": sub,
        "neg": [rnd.random() < 0.3 for _ in range(ndim)],
        "pad": [rnd.choice([1, 1, 1, 2]) for _ in range(ndim)],
        "fill": rnd.getrandbits(32), "request": "FULL",
    }
