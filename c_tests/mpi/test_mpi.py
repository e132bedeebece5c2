"""The MPI suite of `make test` (scripts/test.sh runs it when `mpicc` is found): the C
programs of this directory, built with `mpicc` against libpybuf.a and run with `mpirun`,
and the MPMD run with an mpi4py rank.

MPICC and MPIRUN choose the MPI (default: `mpicc` and `mpirun` on PATH, Debian's Open MPI
in CI); with MPICH, `MPICC=mpicc.mpich MPIRUN=mpirun.mpich`. The Open MPI-only cases
(its transport options) are skipped for other MPIs.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MPICC = os.environ.get("MPICC", "mpicc")
MPIRUN = os.environ.get("MPIRUN", "mpirun")
BUILD = REPO / "build" / "mpi" / Path(MPICC).name
LIB = REPO / "target" / "release" / "libpybuf.a"

if shutil.which(MPICC) is None:
    pytest.skip(f"no {MPICC}", allow_module_level=True)


def mpi_flavour():
    out = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True)
    return "openmpi" if "Open MPI" in out.stdout + out.stderr else "other"


FLAVOUR = mpi_flavour()
# Open MPI refuses root without these; it also needs --oversubscribe on a 1-core machine.
LAUNCH = ["--allow-run-as-root", "--oversubscribe"] if FLAVOUR == "openmpi" else []
openmpi_only = pytest.mark.skipif(FLAVOUR != "openmpi", reason="Open MPI transport options")


def build(name, cc=None, extra=()):
    """Compile HERE/<name>.c (or .cpp) against libpybuf.a; return the executable."""
    BUILD.mkdir(parents=True, exist_ok=True)
    src = next(p for p in (HERE / f"{name}.c", HERE / f"{name}.cpp") if p.exists())
    exe = BUILD / name
    std = "-std=c++11" if src.suffix == ".cpp" else "-std=c99"
    cmd = [cc or MPICC, std, "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "include"),
           *extra, str(src), str(LIB), "-lpthread", "-ldl", "-lm", "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}{done.stderr}"
    return exe


def mpirun(*args, timeout=300):
    cmd = [MPIRUN, *LAUNCH, *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


def test_differential_pack_and_unpack():
    out = mpirun("-np", 1, build("test_pack"), 3000)
    assert "differential: 3000 random views" in out
    assert "MPI_Pack == pybuf_to_contiguous, MPI_Unpack == pybuf_from_contiguous" in out
    assert "no datatype left alive" in out


def test_two_ranks():
    out = mpirun("-np", 2, build("test_ranks"), 300)
    assert "300 random rounds" in out and "each equal to pybuf_copy" in out
    assert "300 random rounds and 2 transposes in chunks" in out


@openmpi_only
@pytest.mark.parametrize("btl", ["vader", "tcp"])
def test_two_ranks_with_fragments_of_1000_bytes(btl):
    # Fragment boundaries inside long double complex values: Open MPI 4.1 aborts there
    # with MPI_C_LONG_DOUBLE_COMPLEX (pybuf_mpi.h sends two MPI_LONG_DOUBLE instead).
    exe = build("test_ranks")
    out = mpirun("--mca", "btl", f"self,{btl}", "--mca", f"btl_{btl}_max_send_size", 1000,
                 "-np", 2, exe, 50)
    assert "each equal to pybuf_copy" in out


def mpi4py_flavour():
    """The MPI that the venv's mpi4py was built against (from the libraries it loads)."""
    spec = importlib.util.find_spec("mpi4py")
    if spec is None:
        return None
    ext = next(Path(spec.origin).parent.glob("MPI.*.so"), None)
    libs = subprocess.run(["ldd", str(ext)], capture_output=True, text=True).stdout if ext else ""
    return "openmpi" if "libmpi.so" in libs else "other" if "mpich" in libs else None


def test_mpmd_with_mpi4py():
    flavour = mpi4py_flavour()
    if flavour is None:
        pytest.skip("no mpi4py (make venv-mpi)")
    if flavour != FLAVOUR:
        pytest.skip("mpi4py was built against another MPI")
    exe = build("mpmd_c")
    out = mpirun("-np", 1, exe, ":", "-np", 1, sys.executable, HERE / "mpmd_numpy.py")
    assert "numpy rank: received m.T and recs[::-1], sent a 60 x 70 array" in out
    assert "C rank: sent m.T and recs[::-1], received numpy's array into big[::-2, ::3]" in out


def test_header_is_cxx11_and_needs_mpi_h(tmp_path):
    cxx = os.environ.get("MPICXX", "mpicxx")
    if shutil.which(cxx) is None:
        pytest.skip(f"no {cxx}")
    src = tmp_path / "header.cpp"
    src.write_text('#include <mpi.h>\n#include "pybuf_mpi.h"\n'
                   "int main() { MPI_Datatype t; return pybuf_mpi_type(nullptr, &t) < 0 ? 0 : 1; }\n")
    # (without the MPI-2 C++ bindings, deprecated, and not warning-free in Open MPI 4.1)
    done = subprocess.run([cxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-DOMPI_SKIP_MPICXX",
                           "-DMPICH_SKIP_MPICXX", "-I", str(REPO / "include"), "-fsyntax-only", str(src)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    src.write_text('#include "pybuf_mpi.h"\n')
    done = subprocess.run(["cc", "-I", str(REPO / "include"), "-fsyntax-only", "-x", "c", str(src)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "include <mpi.h> before pybuf_mpi.h" in done.stderr


def mpi_snippets():
    text = (REPO / "docs" / "mpi.md").read_text()
    return re.findall(r"^```c mpi\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.parametrize("index", range(len(mpi_snippets())))
def test_docs_mpi_programs_print_their_comment(tmp_path, index):
    # docs/mpi.md's `c mpi` blocks (bindings/python/tests/test_docs.py runs the plain `c`
    # ones, without MPI): built with mpicc, run on 2 ranks, output as the final comment says.
    body = mpi_snippets()[index]
    expected = re.search(r"/\*((?:(?!/\*).)*?)\*/\s*$", body, flags=re.S).group(1).strip().splitlines()
    src = tmp_path / "snippet.c"
    src.write_text(body)
    exe = tmp_path / "snippet"
    cmd = [MPICC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(REPO / "include"),
           str(src), str(LIB), "-lpthread", "-ldl", "-lm", "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert mpirun("-np", 2, exe).splitlines() == [line.strip() for line in expected]


def test_libpybuf_does_not_link_mpi():
    so = REPO / "target" / "release" / "libpybuf.so"
    needed = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
    assert "NEEDED" in needed and "mpi" not in needed.lower()
    symbols = subprocess.run(["nm", "-D", "--undefined-only", str(so)], capture_output=True, text=True,
                             check=True).stdout
    assert not [s for s in symbols.split() if s.startswith(("MPI_", "PMPI_", "ompi_"))]
