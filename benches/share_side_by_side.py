"""`make bench-share`: hand a float64 array (and its transpose) to another process, four ways,
in one run.

One child process (started once, before any timing) receives the array and answers with one
byte; a hand-over is timed from the parent's first call to the acknowledgement's arrival:

- pybuf: the array is a numpy view of a pybuf shared segment (pybuf_example.SharedArray);
  `send_view` over a Unix socket (SOCK_STREAM), the child `recv_view`s it, makes a numpy
  array of it (`np.asarray`) and acks. No byte of the data moves.
- Pipe.send: multiprocessing's `Connection.send` of the numpy array (pickle), `recv` in the
  child.
- pickle 5: `pickle.dumps(a, protocol=5, buffer_callback=...)`, the header over a
  Connection and the out-of-band buffers written raw to a pipe (as large as the system
  allows); the child reads them into bytearrays and `pickle.loads(..., buffers=...)`.
- shared_memory: `np.copyto` into a `multiprocessing.shared_memory.SharedMemory` segment
  (created once, outside the timing, with the array's layout), then the name, shape, dtype
  and strides over a Connection; the child attaches (`SharedMemory(name=...)`) and makes a
  numpy view.

All four hand over the same array (the pybuf segment's), so they read the same pages. Best
of ROUNDS for every line (BIG_ROUNDS at 1 GiB and more, but for pybuf, whose hand-over takes
microseconds at every size); the machine is shared, so only the
ratios within one run mean anything. Peak extra memory is VmHWM after resetting it
(/proc/self/clear_refs) less the RSS before, in the parent and in the child.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import math
import os
import pickle
import platform
import socket
import subprocess
import sys
import time
from multiprocessing import resource_tracker, shared_memory
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "cython"))

import pybuf_example as ex  # noqa: E402  (built by `make cython`)
from io_side_by_side import reset_peak, status_bytes  # noqa: E402  (this folder)

METHODS = ["pybuf", "pipe", "pickle5", "shm"]
TITLES = {"pybuf": "pybuf send/recv", "pipe": "Pipe.send (pickle)",
          "pickle5": "pickle 5 out-of-band", "shm": "shared_memory + copyto"}


def start_peak() -> int:
    """Reset VmHWM; the RSS it starts from (-1 if the kernel does not allow it)."""
    return status_bytes("VmRSS:") if reset_peak() else -1


def peak_since(rss: int) -> int:
    # the kernel's RSS counters lag by a few pages: a tiny negative difference is 0
    return -1 if rss < 0 else max(0, status_bytes("VmHWM:") - rss)


def write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


def read_into(fd: int, buf: memoryview) -> None:
    while buf:
        n = os.readv(fd, [buf])
        if n == 0:
            raise EOFError("the pipe closed")
        buf = buf[n:]


def widen_pipe(fd: int) -> None:
    """The largest pipe buffer an unprivileged process may ask for (fewer system calls)."""
    try:
        size = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass


def attach(name: str) -> shared_memory.SharedMemory:
    shm = shared_memory.SharedMemory(name=name)
    # Python registers even a segment it only attaches to with the resource_tracker (3.13:
    # unless track=False), which would unlink it when this process ends, and warn
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


# -- the child ------------------------------------------------------------------------------

def child_main(ctl_fd: int, sock_fd: int, pipe_fd: int, small_fd: int, data_fd: int) -> int:
    ctl, pipe, small = Connection(ctl_fd), Connection(pipe_fd), Connection(small_fd)
    sock = socket.socket(fileno=sock_fd)
    rss = -1
    while True:
        cmd = ctl.recv()
        if cmd == "quit":
            return 0
        if cmd == "reset_peak":
            gc.collect()
            rss = start_peak()
            ctl.send(None)
            continue
        if cmd == "peak":
            ctl.send(peak_since(rss))
            continue
        ctl.send("ready")
        if cmd == "pybuf":
            r = ex.recv_view(sock)
            v = np.asarray(r)
            sock.send(b"\x01")
            del v, r
        elif cmd == "pipe":
            v = pipe.recv()
            pipe.send_bytes(b"\x01")
            del v
        elif cmd == "pickle5":
            head, sizes = small.recv()
            bufs = [bytearray(n) for n in sizes]
            for b in bufs:
                read_into(data_fd, memoryview(b))
            v = pickle.loads(head, buffers=bufs)
            small.send_bytes(b"\x01")
            del v, bufs
        elif cmd == "shm":
            name, shape, dtype, strides = small.recv()
            shm = attach(name)
            v = np.ndarray(shape, dtype, buffer=shm.buf, strides=strides)
            small.send_bytes(b"\x01")
            del v
            shm.close()


# -- the parent -----------------------------------------------------------------------------

class Child:
    def __init__(self):
        ctl, self.ctl = Pipe()
        self.sock, sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pipe, pipe = Pipe()
        self.small, small = Pipe()
        data_r, self.data_w = os.pipe()
        widen_pipe(self.data_w)
        fds = [ctl.fileno(), sock.fileno(), pipe.fileno(), small.fileno(), data_r]
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", *map(str, fds)], pass_fds=fds)
        for c in (ctl, pipe, small):
            c.close()
        sock.close()
        os.close(data_r)

    def command(self, cmd):
        self.ctl.send(cmd)
        return self.ctl.recv()

    def close(self):
        self.ctl.send("quit")
        self.proc.wait(30)
        os.close(self.data_w)


def hand_over(child: Child, method: str, v: np.ndarray, shm_dst: np.ndarray | None, shm_name: str) -> float:
    assert child.command(method) == "ready"
    if method == "pybuf":
        t0 = time.perf_counter()
        ex.send_view(child.sock, v)
        child.sock.recv(1)
    elif method == "pipe":
        t0 = time.perf_counter()
        child.pipe.send(v)
        child.pipe.recv_bytes()
    elif method == "pickle5":
        t0 = time.perf_counter()
        bufs: list[pickle.PickleBuffer] = []
        head = pickle.dumps(v, protocol=5, buffer_callback=bufs.append)
        raws = [b.raw() for b in bufs]
        child.small.send((head, [r.nbytes for r in raws]))
        for r in raws:
            write_all(child.data_w, r)
        child.small.recv_bytes()
    else:
        t0 = time.perf_counter()
        np.copyto(shm_dst, v)
        child.small.send((shm_name, shm_dst.shape, shm_dst.dtype.str, shm_dst.strides))
        child.small.recv_bytes()
    return time.perf_counter() - t0


def parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def label(nbytes: int) -> str:
    for unit, n in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= n and nbytes % n == 0:
            return f"{nbytes // n} {unit}"
    return f"{nbytes} B"


def mib(n: int) -> str:
    return "-" if n < 0 else f"{n / 2**20:.0f}"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(*map(int, sys.argv[2:]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1M,64M,1G", help="array sizes (K, M, G), comma- or space-separated")
    ap.add_argument("--rounds", type=int, default=20, help="best of this many hand-overs")
    ap.add_argument("--big-rounds", type=int, default=3, help="rounds at 1 GiB and more")
    args = ap.parse_args()

    child = Child()
    results = []  # (size, view, method) -> (best seconds, parent peak, child peak)
    try:
        for nbytes in map(parse_size, args.sizes.replace(",", " ").split()):
            n = nbytes // 8
            rows = 1 << (int(math.log2(n)) // 2)
            shape = (rows, n // rows)
            rounds = args.rounds if nbytes < 2**30 else args.big_rounds
            segment = ex.SharedArray(shape, "d")
            a = np.asarray(segment)
            a[...] = np.arange(a.size, dtype=np.float64).reshape(shape)
            shm = shared_memory.SharedMemory(create=True, size=nbytes)
            try:
                for view_name, v in (("a", a), ("a.T", a.T)):
                    # the shared_memory copy keeps the view's layout (C or F): numpy's fastest copy
                    dst = np.ndarray(v.shape, v.dtype, buffer=shm.buf,
                                     order="F" if v.flags.f_contiguous and not v.flags.c_contiguous else "C")
                    row = {}
                    for method in METHODS:
                        gc.collect()
                        child.command("reset_peak")
                        rss = start_peak()
                        # pybuf's hand-over costs microseconds: ROUNDS of it at every size
                        n = args.rounds if method == "pybuf" else rounds
                        t = min(hand_over(child, method, v, dst, shm.name) for _ in range(n))
                        row[method] = (t, peak_since(rss), child.command("peak"))
                    results.append((nbytes, view_name, rounds, row))
                    del dst
            finally:
                shm.close()
                shm.unlink()
            del a, segment
    finally:
        child.close()

    print(f"# float64 arrays handed to a child process, ack of 1 byte; best of {args.rounds} "
          f"({args.big_rounds} at 1 GiB+, but for pybuf); Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    print("# µs per hand-over; (×) = that way's time / pybuf's")
    print()
    print("| size | view | " + " | ".join(f"{TITLES[m]} µs" for m in METHODS) + " |")
    print("|---|---|" + "---:|" * len(METHODS))
    for nbytes, view_name, _, row in results:
        pb = row["pybuf"][0]
        cells = [f"{pb * 1e6:.1f}"] + [f"{row[m][0] * 1e6:,.0f} ({row[m][0] / pb:,.0f}×)" for m in METHODS[1:]]
        print(f"| {label(nbytes)} | {view_name} | " + " | ".join(cells) + " |")
    print()
    print("| size | view | " + " | ".join(f"{TITLES[m]} peak MiB parent / child" for m in METHODS) + " |")
    print("|---|---|" + "---:|" * len(METHODS))
    for nbytes, view_name, _, row in results:
        print(f"| {label(nbytes)} | {view_name} | "
              + " | ".join(f"{mib(row[m][1])} / {mib(row[m][2])}" for m in METHODS) + " |")
    pybuf_times = [row["pybuf"][0] * 1e6 for *_, row in results]
    print()
    print(f"pybuf: {min(pybuf_times):.1f} to {max(pybuf_times):.1f} µs over every size and view "
          f"(target: the same at every size, under 100 µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
