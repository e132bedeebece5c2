"""`make bench-mpi`: sending a 64 MiB float64 view between 2 ranks, in one run.

The C side (benches/mpi.c) times MPI_Send of a contiguous array (the transport's speed),
pybuf_mpi_send (the view's derived datatype, packed by MPI), pybuf_to_contiguous and one
contiguous send, and pybuf_mpi_send_chunks (pybuf packs 1 MiB chunks while the previous
one travels). This script then runs itself as two mpi4py ranks for numpy's way,
np.ascontiguousarray and comm.Send, on the same views, and prints one markdown table.
Every line is the best of ROUNDS; the machine may be shared, so only ratios within one
run mean anything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROWS, COLS = 2048, 4096
WAYS = {
    "contiguous": "MPI_Send of a contiguous array (the transport alone)",
    "datatype": "pybuf_mpi_send: derived datatype, packed by MPI",
    "to_contiguous": "pybuf_to_contiguous + contiguous MPI_Send",
    "chunks": "pybuf_mpi_send_chunks: pybuf packs 1 MiB chunks, pipelined",
    "numpy": "np.ascontiguousarray + mpi4py Send",
}


def launcher() -> list[str]:
    mpirun = os.environ.get("MPIRUN", "mpirun")
    version = subprocess.run([mpirun, "--version"], capture_output=True, text=True)
    extra = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version.stdout + version.stderr else []
    return [mpirun, *extra, "-np", "2"]


def results(cmd: list[str]) -> dict[tuple[str, str], float]:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    out = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            _, view, way, seconds = line.split()
            out[(view, way)] = float(seconds)
    return out


def numpy_rank(rounds: int) -> None:
    """The numpy way, as rank 0 (sender) or 1 (receiver) of an mpi4py run."""
    import numpy as np
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    a = np.arange(ROWS * 2 * COLS, dtype="f8").reshape(ROWS, 2 * COLS)
    views = {"a.T": a[:, :COLS].copy().T, "a[:,::2]": a[:, ::2]}
    out = np.empty(ROWS * COLS)
    for name, v in views.items():
        best = float("inf")
        for r in range(rounds):
            comm.Barrier()
            t0 = MPI.Wtime()
            if rank == 0:
                comm.Send([np.ascontiguousarray(v), MPI.DOUBLE], dest=1, tag=0)
                comm.Recv([None, 0, MPI.BYTE], source=1, tag=1)
            else:
                comm.Recv([out, MPI.DOUBLE], source=0, tag=0)
                comm.Send([None, 0, MPI.BYTE], dest=0, tag=1)
                if r == 0 and not np.array_equal(out, v.ravel()):
                    sys.exit(f"numpy {name}: received values differ")
            best = min(best, comm.bcast(MPI.Wtime() - t0, root=0))
        if rank == 0:
            print(f"RESULT {name} numpy {best:.6f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--exe", help="benches/mpi.c built (make bench-mpi)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--numpy-rank", action="store_true", help="internal: run as an mpi4py rank")
    args = p.parse_args()
    if args.numpy_rank:
        numpy_rank(args.rounds)
        return
    got = results([*launcher(), args.exe, str(args.rounds)])
    got.update(results([*launcher(), sys.executable, __file__, "--numpy-rank", "--rounds", str(args.rounds)]))
    mib = ROWS * COLS * 8 / 2**20
    print(f"2 ranks on one machine, {mib:.0f} MiB of float64 values per send, received in C order "
          f"into a contiguous array; best of {args.rounds}.\n")
    print("| view | way | ms | GB/s | time / datatype | time / contiguous |")
    print("|---|---|---:|---:|---:|---:|")
    for view in ("a.T", "a[:,::2]"):
        base, contiguous = got[(view, "datatype")], got[(view, "contiguous")]
        for way, what in WAYS.items():
            t = got[(view, way)]
            print(f"| `{view}` | {what} | {t * 1e3:.1f} | {mib * 2**20 / t / 1e9:.2f} | "
                  f"{t / base:.2f} | {t / contiguous:.2f} |")


if __name__ == "__main__":
    main()
