"""Side-by-side copy benchmark: libpybuf against numpy, CPython and memcpy, in one process.

For each case it makes a strided source view, then times, interleaved and best of
several rounds, on the same buffers:
  - pybuf:   pybuf_to_contiguous on the view's Py_buffer (ctypes; the GIL is released);
  - numpy:   np.copyto into a preallocated array of the target order;
  - CPython: PyBuffer_ToContiguous on the same Py_buffer (ctypes);
  - memcpy:  a memcpy of the same number of bytes between two contiguous buffers.
It checks that every result is byte-identical, and prints GB/s (of output) and the ratios
pybuf/memcpy and pybuf/numpy next to the targets of issue 5.

Usage: python benches/side_by_side.py [--mib 128] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))

import pybuf_ctypes as pc  # noqa: E402
from cpython_buffer import PyBuffer_ToContiguous, buffer  # noqa: E402

lib = pc.load(os.environ.get("PYBUF_LIB", REPO / "target" / "release" / "libpybuf.so"))
libc = ctypes.CDLL(None)
libc.memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
libc.memcpy.restype = ctypes.c_void_p


def addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def cases(mib: int):
    """(name, source view, order, target pybuf/memcpy, target pybuf/numpy)."""
    n8 = mib * 2**20 // 8  # float64 elements of output
    side = int(round(n8**0.5 / 64)) * 64  # a power-of-two-ish side: 4096 for 128 MiB
    odd = int(n8**0.5) | 1
    odd -= 0 if odd % 2 else 1
    if mib == 128:
        odd = 4001
    yield "contiguous", np.arange(n8, dtype=np.float64), "C", 0.95, None
    yield f"transpose {side}^2", np.arange(side * side, dtype=np.float64).reshape(side, side).T, "C", 0.6, 4
    yield f"transpose {odd}^2 (odd)", np.arange(odd * odd, dtype=np.float64).reshape(odd, odd).T, "C", 0.7, 4
    yield "a[:, ::2]", np.arange(side * 2 * side, dtype=np.float64).reshape(side, 2 * side)[:, ::2], "C", 0.8, 1
    n3 = mib * 2**20 // 3
    rows = 4096
    cols = n3 // rows
    b3 = np.frombuffer(np.random.default_rng(0).bytes(rows * 2 * cols * 3), dtype="V3").reshape(rows, 2 * cols)
    yield "a[:, ::2] itemsize 3", b3[:, ::2], "C", 0.5, 5
    n4 = mib * 2**20 // 4
    yield f"transpose float32 {side}x{n4 // side}", np.arange(n4, dtype=np.float32).reshape(side, n4 // side).T, "C", 0.6, 4
    n1 = mib * 2**20
    s1 = 2 ** (int(np.log2(n1)) // 2)
    yield f"transpose uint8 {s1}x{n1 // s1}", (np.arange(n1, dtype=np.uint64) % 251).astype(np.uint8).reshape(s1, n1 // s1).T, "C", 0.4, 10
    c3 = int(round(n8 ** (1 / 3)))
    yield f"3-D permute (2,0,1) {c3}^3", np.arange(c3**3, dtype=np.float64).reshape(c3, c3, c3).transpose(2, 0, 1), "C", 0.6, 3
    yield f"C to F order {side}^2", np.arange(side * side, dtype=np.float64).reshape(side, side), "F", 0.6, 4


def best(fn, rounds: int) -> float:
    t = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def run(mib: int, rounds: int) -> bool:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}")
    print(f"output {mib} MiB per copy, best of {rounds} interleaved rounds; GB/s of output\n")
    head = f"{'case':32} {'pybuf':>7} {'numpy':>7} {'CPython':>7} {'memcpy':>7} | {'pb/memcpy':>9} {'target':>6} | {'pb/numpy':>8} {'target':>6} | ok"
    print(head)
    print("-" * len(head))
    all_ok = True
    for name, src, order, t_mem, t_np in cases(mib):
        nbytes = src.nbytes
        out_pb = np.empty(nbytes, dtype=np.uint8)
        out_ref = np.empty(nbytes, dtype=np.uint8)
        target = np.empty(src.shape, dtype=src.dtype, order=order)
        mem_src = np.ones(nbytes, dtype=np.uint8)
        with buffer(src, pc.PYBUF_FULL_RO) as view:
            vp = ctypes.byref(view)
            o = order.encode()

            def do_pybuf():
                rc = lib.pybuf_to_contiguous(addr(out_pb), vp, nbytes, o)
                assert rc == 0, pc.last_error(lib)

            def do_numpy():
                np.copyto(target, src)

            def do_cpython():
                PyBuffer_ToContiguous(addr(out_ref), vp, nbytes, o)

            def do_memcpy():
                libc.memcpy(addr(out_ref), addr(mem_src), nbytes)

            times = {k: float("inf") for k in ("pybuf", "numpy", "cpython", "memcpy")}
            fns = {"pybuf": do_pybuf, "numpy": do_numpy, "cpython": do_cpython, "memcpy": do_memcpy}
            for _ in range(rounds):
                for k, f in fns.items():
                    times[k] = min(times[k], best(f, 1))
            # Correctness: pybuf == CPython == numpy's target, byte for byte.
            do_cpython()
            same = np.array_equal(out_pb, out_ref)
            tb = np.frombuffer(target.tobytes(order="A" if order == "F" else "C"), dtype=np.uint8)
            same = same and np.array_equal(out_pb, tb)
        gbs = {k: nbytes / v / 1e9 for k, v in times.items()}
        r_mem = times["memcpy"] / times["pybuf"]
        r_np = times["numpy"] / times["pybuf"]
        ok_mem = r_mem >= t_mem
        ok_np = t_np is None or r_np >= t_np
        all_ok &= same
        print(
            f"{name:32} {gbs['pybuf']:7.2f} {gbs['numpy']:7.2f} {gbs['cpython']:7.2f} {gbs['memcpy']:7.2f} | "
            f"{r_mem:9.2f} {'>=' + str(t_mem):>6}{'' if ok_mem else '*'} | "
            f"{r_np:8.1f} {('>=' + str(t_np)) if t_np else '-':>6}{'' if ok_np else '*'} | {'yes' if same else 'NO'}"
        )
        del out_pb, out_ref, target, mem_src
    print("\n* = target not met on this run.  ok = pybuf, CPython and numpy outputs byte-identical.")
    return all_ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.exit(0 if run(args.mib, args.rounds) else 1)
