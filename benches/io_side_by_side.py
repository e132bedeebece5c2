"""`make bench-io`: pybuf's file I/O against numpy and raw write(2)/read(2), in one run.

The C side (benches/io.c, built by the make target) times pybuf and the raw system calls;
this script times numpy on arrays of the same layout, in the same directory (tmpfs by
default), and prints one table of ratios. Best of ROUNDS for every line; the machine is
shared, so only ratios within one run mean anything.

Peak extra memory is VmHWM after resetting it (/proc/self/clear_refs) less the RSS before
the call, for pybuf (in the C process) and numpy (in this one).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return -1


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def best(fn, rounds: int, before=None) -> tuple[float, int]:
    """Best time of `rounds` calls of fn, and the largest peak extra memory."""
    t_best, peak = float("inf"), -1
    for _ in range(rounds):
        if before is not None:
            before()
        rss = status_bytes("VmRSS:")
        measured = reset_peak()
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        if measured:
            peak = max(peak, status_bytes("VmHWM:") - rss)
        t_best = min(t_best, t)
    return t_best, peak


def run_c(exe: Path, directory: str, rows: int, cols: int, rounds: int) -> dict[str, tuple[float, int, int]]:
    out = subprocess.run([str(exe), directory, str(rows), str(cols), str(rounds)],
                         check=True, capture_output=True, text=True).stdout
    lines = {}
    for line in out.splitlines():
        name, secs, nbytes, peak = line.split()
        lines[name] = (float(secs), int(nbytes), int(peak))
    return lines


def mib(n: int) -> str:
    return "-" if n < 0 else f"{n / 2**20:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=str(REPO / "build" / "io_bench"))
    ap.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows, cols, rounds = args.rows, args.cols, args.rounds

    c = run_c(Path(args.exe), args.dir, rows, cols, rounds)

    a = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols)
    path = os.path.join(args.dir, f"pybuf-bench-io-np-{os.getpid()}")
    b3 = np.ndarray(shape=(a.nbytes // 6,), dtype="V3", buffer=a, strides=(6,))
    views = {"a.T": a.T, "a[:,::2]": a[:, ::2], "3-byte-stride-2": b3}

    def unlink():
        if os.path.exists(path):
            os.unlink(path)

    rows_out = []
    for name, v in views.items():
        nbytes = v.nbytes
        t_raw = c[f"raw_write:{name}"][0]
        t_pb, _, pb_peak = c[f"pybuf_write_fd:{name}"]
        t_save, save_peak = best(lambda: np.save(path, v), rounds, unlink)
        t_tofile, tofile_peak = best(lambda: v.tofile(path), rounds, unlink)
        npy = c.get(f"pybuf_npy_save:{name}")
        rows_out.append((name, nbytes, t_raw, t_pb, pb_peak, npy, t_save, save_peak, t_tofile, tofile_peak))
    unlink()

    print(f"# {rows} x {cols} float64 ({a.nbytes / 2**20:.0f} MiB), files in {args.dir}, best of {rounds}; "
          f"numpy {np.__version__}")
    print("# ratios are speed relative to a raw write(2) of the same number of contiguous bytes (1.00 = as fast)")
    print()
    print("| view | MiB | pybuf_write_fd | pybuf_npy_save | np.save | tofile | pybuf peak MiB | np.save peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, nbytes, t_raw, t_pb, pb_peak, npy, t_save, save_peak, t_tofile, _ in rows_out:
        npy_ratio = f"{t_raw / npy[0]:.2f}" if npy else "-"
        npy_peak = mib(npy[2]) if npy else "-"
        print(f"| {name} | {nbytes / 2**20:.0f} | {t_raw / t_pb:.2f} | {npy_ratio} | {t_raw / t_save:.2f} | "
              f"{t_raw / t_tofile:.2f} | {mib(pb_peak)} / {npy_peak} | {mib(save_peak)} |")

    # Reads into a transposed view, against a raw read(2) of the same bytes and numpy's way
    # (read the file, then assign into the transposed destination).
    a.tofile(path)
    dst = np.empty((rows, cols), dtype=np.float64)  # filled through its transpose, as pybuf's a.T
    t_np_read, _ = best(lambda: dst.T.__setitem__(Ellipsis, np.fromfile(path, dtype=np.float64).reshape(cols, rows)), rounds)
    os.unlink(path)
    print()
    print("| read into | pybuf_read_fd | numpy fromfile + assign |")
    print("|---|---:|---:|")
    for name in ("a.T", "a"):
        t_raw = c[f"raw_read:{name}"][0]
        t_pb = c[f"pybuf_read_fd:{name}"][0]
        np_ratio = f"{t_raw / t_np_read:.2f}" if name == "a.T" else "-"
        print(f"| {name} | {t_raw / t_pb:.2f} | {np_ratio} |")

    loads = {k: v for k, v in c.items() if k.startswith("pybuf_npy_load:")}
    if loads:
        print()
        print("| .npy load | pybuf_npy_load (C) µs | np.load(mmap_mode='r') µs | ratio |")
        print("|---|---:|---:|---:|")
        for key, (secs, nbytes, _) in loads.items():
            size = key.split(":", 1)[1]
            f = os.path.join(args.dir, f"pybuf-bench-load-{os.getpid()}.npy")
            np.save(f, np.zeros(nbytes // 8, dtype=np.float64))
            t_np, _ = best(lambda: np.load(f, mmap_mode="r"), max(rounds, 50))
            os.unlink(f)
            print(f"| {size} | {secs * 1e6:.1f} | {t_np * 1e6:.1f} | {t_np / secs:.1f}x faster |")

    # An .npz stored member: pybuf maps it in place; np.load cannot map a member and reads it.
    npz_loads = {k: v for k, v in c.items() if k.startswith("pybuf_npz_load:")}
    if npz_loads:
        print()
        print("| .npz stored member | pybuf_npz_open + load (C) µs | np.load(f)['a'] µs | ratio |")
        print("|---|---:|---:|---:|")
        for key, (secs, nbytes, _) in npz_loads.items():
            size = key.split(":", 1)[1]
            f = os.path.join(args.dir, f"pybuf-bench-load-{os.getpid()}.npz")
            np.savez(f, a=np.zeros(nbytes // 8, dtype=np.float64))

            def load_member():
                with np.load(f) as z:
                    z["a"]
            t_np, _ = best(load_member, rounds)
            os.unlink(f)
            print(f"| {size} | {secs * 1e6:.1f} | {t_np * 1e6:.1f} | {t_np / secs:.0f}x faster |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
