"""`make install` into a temporary prefix, and programs built out of tree against it.

- The README's Install snippets, run as written, with HOME set to a fresh directory: `make
  install PREFIX=$HOME/.local`, then app.c built once through `pkg-config --cflags --libs
  pybuf` and once through CMake's `find_package(pybuf)` (target `pybuf::pybuf`); both run
  and print what the README says.
- The installed files: the shared library named MAJOR.MINOR.PATCH with the SONAME that
  Cargo.toml's version gives (read from the ELF file itself), the two links, the static
  library, the header, pybuf.pc, the CMake package files and the .pxd files.
- A probe built each way runs against the installed library (the loader's path of the
  library that holds pybuf_version is the prefix's), and needs it by its SONAME; the static
  target pybuf::pybuf_static links without the shared library; find_package's version
  check takes 0.MINOR.x and refuses other ABIs.
- The installed header compiles alone as C99 and C++11 with -pedantic and warnings as
  errors, twice, with Python.h, and with a dlpack.h in either order.
- A Cython module built with the installed pybuf.pxd and linked with -lpybuf imports and
  calls the library.
- DESTDIR staging and `make uninstall`.

pkg-config comes from the venv (`pkgconf` in bindings/python/requirements.txt) or the
system; cmake from the venv. A missing tool skips its tests with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
REFERENCE_DLPACK = REPO / "c_tests" / "reference"


def cargo_version() -> tuple[int, int, int]:
    text = (REPO / "Cargo.toml").read_text()
    m = re.search(r'^version\s*=\s*"(\d+)\.(\d+)\.(\d+)"', text, flags=re.M)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


MAJOR, MINOR, PATCH = cargo_version()
VERSION = f"{MAJOR}.{MINOR}.{PATCH}"
SOVERSION = f"{MAJOR}"
SONAME = f"libpybuf.so.{SOVERSION}"


def cc() -> str:
    return os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]


def tool(name: str) -> str:
    """A tool from this Python's environment (the venv's cmake, pkg-config) or the PATH."""
    here = str(Path(sys.executable).parent)
    path = shutil.which(name, path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if path is None:
        pytest.skip(f"{name} is not on PATH (make test puts the venv's first; "
                    f"`pip install {'pkgconf' if name == 'pkg-config' else name}` provides it)")
    return path


def clean_env(**extra) -> dict:
    """The environment for a nested build: no outer make's flags; the venv's tools first;
    cargo and rustup kept where they are when HOME changes."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    # this Python's environment first, as `make test` has it: the venv's cmake and pkg-config
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    home = Path(os.environ.get("HOME", "~")).expanduser()
    env.setdefault("CARGO_HOME", str(home / ".cargo"))
    env.setdefault("RUSTUP_HOME", str(home / ".rustup"))
    env.update(extra)
    return env


def run(cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", clean_env())
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


# ---------------------------------------------------------------------------------------
# ELF: the dynamic section's SONAME and NEEDED entries, read from the file


def elf_dynamic(path: Path) -> dict[str, list[str]]:
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", path
    assert data[4] == 2, "a 64-bit ELF file"
    end = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(end + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    sections = [struct.unpack_from(end + "IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out: dict[str, list[str]] = {"SONAME": [], "NEEDED": []}
    for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        for i in range(size // entsize):
            tag, val = struct.unpack_from(end + "qQ", data, offset + i * entsize)
            name = {1: "NEEDED", 14: "SONAME"}.get(tag)
            if name:
                s = data[strtab + val:data.index(b"\0", strtab + val)].decode()
                out[name].append(s)
    return out


# ---------------------------------------------------------------------------------------
# The README's snippets, and the installation they make


def install_snippets() -> list[tuple[str, str]]:
    text = README.read_text()
    text = text[text.index("<!-- install snippets:"):text.index("<!-- end of install snippets -->")]
    return re.findall(r"```(sh|c|cmake)\n(.*?)```", text, flags=re.S)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A fresh HOME where the README's first snippet installed pybuf ($HOME/.local)."""
    home = tmp_path_factory.mktemp("home")
    lang, body = install_snippets()[0]
    assert lang == "sh" and "make install" in body
    run(["bash", "-euo", "pipefail", "-c", body], cwd=REPO, env=clean_env(HOME=str(home)))
    return home


@pytest.fixture(scope="module")
def prefix(home):
    return home / ".local"


def test_readme_install_snippets_are_found():
    assert [lang for lang, _ in install_snippets()] == ["sh", "c", "sh", "cmake", "sh"]


def expected_output(body: str) -> str:
    """The output a snippet's commands print: the comment after the command that runs the app."""
    lines = [m.group(1) for m in re.finditer(r"\./\S*app\s+#\s*(.*)$", body, flags=re.M)]
    assert len(lines) == 1, body
    return lines[0].replace("0.1.0", VERSION)


@pytest.mark.parametrize("way", ["pkg-config", "cmake"])
def test_readme_app_builds_and_runs(home, tmp_path, way):
    snippets = install_snippets()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.c").write_text(snippets[1][1])
    if way == "pkg-config":
        tool("pkg-config")
        body = snippets[2][1]
    else:
        tool("cmake")
        (app / "CMakeLists.txt").write_text(snippets[3][1])
        body = snippets[4][1]
    out = run(["bash", "-euo", "pipefail", "-c", body], cwd=app, env=clean_env(HOME=str(home))).stdout
    assert out.splitlines()[-1] == expected_output(body)


def test_docs_name_the_installed_files(prefix):
    text = (REPO / "docs" / "install.md").read_text()
    section = text[text.index("## Install"):text.index("## Versions")]
    for path in installed_files():
        assert Path(path).name in section or Path(path).parent.name in section, path


def installed_files() -> list[str]:
    return [
        f"lib/libpybuf.so.{VERSION}", f"lib/{SONAME}", "lib/libpybuf.so", "lib/libpybuf.a",
        "include/pybuf.h", "include/pybuf_mpi.h", "lib/pkgconfig/pybuf.pc", "lib/cmake/pybuf/pybufConfig.cmake",
        "lib/cmake/pybuf/pybufConfigVersion.cmake", "share/pybuf/cython/pybuf.pxd",
        "share/pybuf/cython/pybuf_dlpack.pxd",
    ]


def test_installed_layout(prefix):
    for f in installed_files():
        assert (prefix / f).exists(), f
    lib = prefix / "lib"
    assert os.readlink(lib / SONAME) == f"libpybuf.so.{VERSION}"
    assert os.readlink(lib / "libpybuf.so") == SONAME
    assert not (lib / f"libpybuf.so.{VERSION}").is_symlink()
    assert elf_dynamic(lib / f"libpybuf.so.{VERSION}")["SONAME"] == [SONAME]
    assert (prefix / "include" / "pybuf.h").read_text() == (REPO / "include" / "pybuf.h").read_text()
    for pxd in ("pybuf.pxd", "pybuf_dlpack.pxd"):
        assert (prefix / "share/pybuf/cython" / pxd).read_bytes() == (REPO / "bindings/cython" / pxd).read_bytes()
    with open(lib / "libpybuf.a", "rb") as f:
        assert f.read(8) == b"!<arch>\n"


def test_soname_follows_cargo_toml():
    """build.rs gives the linker the SONAME from Cargo.toml's version."""
    so = REPO / "target" / "release" / "libpybuf.so"
    assert elf_dynamic(so)["SONAME"] == [SONAME]
    assert SONAME == "libpybuf.so.%d" % MAJOR


def test_pkg_config_file(prefix):
    pkg = tool("pkg-config")
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    assert run([pkg, "--modversion", "pybuf"], env=env).stdout.strip() == VERSION
    assert run([pkg, "--cflags", "pybuf"], env=env).stdout.split() == [f"-I{prefix}/include"]
    assert run([pkg, "--libs", "pybuf"], env=env).stdout.split() == [f"-L{prefix}/lib", "-lpybuf"]
    static = run([pkg, "--static", "--libs", "pybuf"], env=env).stdout.split()
    assert {"-lpthread", "-ldl", "-lm"} <= set(static)
    cython_dir = run([pkg, "--variable=cythondir", "pybuf"], env=env).stdout.strip()
    assert (Path(cython_dir) / "pybuf.pxd").is_file()


# A probe: which file holds the library, the versions, and a DLPack round trip.
PROBE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <pybuf.h>

int main(void) {
    Dl_info info;
    double data[6] = {0, 1, 2, 3, 4, 5};
    pybuf_ssize_t shape[2] = {2, 3};
    pybuf_exporter_desc d = {0};
    pybuf_buffer view, back;
    DLManagedTensorVersioned *t = NULL;
    void *fn = (void *)(size_t)pybuf_version;
    d.buf = data; d.len = sizeof data; d.format = "d"; d.ndim = 2; d.shape = shape;
    if (!dladdr(fn, &info) || pybuf_fill_view(&view, &d, PYBUF_RECORDS) != 0 ||
        pybuf_to_dlpack(&view, NULL, NULL, &t) != 0 ||
        pybuf_from_dlpack(&back, t, PYBUF_FULL_RO) != 0) {
        fprintf(stderr, "%s\n", pybuf_last_error());
        return 1;
    }
    pybuf_release(&view);
    printf("%s\n%s %s %u\n%lld %g\n", info.dli_fname, pybuf_version_string(),
           PYBUF_VERSION_STRING, pybuf_version(), (long long)t->dl_tensor.strides[0],
           ((double *)back.buf)[5]);
    pybuf_release(&back);
    return pybuf_version() == PYBUF_VERSION_NUMBER ? 0 : 2;
}
"""


def check_probe(exe: Path, prefix: Path, shared: bool, env=None):
    out = run([str(exe)], env=env or clean_env()).stdout.splitlines()
    number = MAJOR * 10000 + MINOR * 100 + PATCH
    assert out[1:] == [f"{VERSION} {VERSION} {number}", "3 5"]
    if shared:
        assert Path(out[0]).resolve() == (prefix / "lib" / f"libpybuf.so.{VERSION}").resolve()
        assert SONAME in elf_dynamic(exe)["NEEDED"]
    else:
        assert Path(out[0]).resolve() == exe.resolve()
        assert not any(n.startswith("libpybuf") for n in elf_dynamic(exe)["NEEDED"])


def test_probe_through_pkg_config(prefix, tmp_path):
    pkg = tool("pkg-config")
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = run([pkg, "--cflags", "--libs", "pybuf"], env=env).stdout.split()
    (tmp_path / "probe.c").write_text(PROBE)
    exe = tmp_path / "probe"
    run([cc(), "-std=c99", "-Wall", "-Wextra", "-Werror", str(tmp_path / "probe.c"), *flags, "-ldl",
         "-o", str(exe)])
    check_probe(exe, prefix, shared=True, env=clean_env(LD_LIBRARY_PATH=str(prefix / "lib")))


CMAKE_PROBE = """
cmake_minimum_required(VERSION 3.16)
project(probe C)
find_package(pybuf {MAJOR}.{MINOR} REQUIRED)
add_executable(probe probe.c)
target_link_libraries(probe PRIVATE pybuf::pybuf ${{CMAKE_DL_LIBS}})
add_executable(probe_static probe.c)
target_link_libraries(probe_static PRIVATE pybuf::pybuf_static)
foreach(t probe probe_static)
  target_compile_options(${{t}} PRIVATE -Wall -Wextra -Werror)
  set_target_properties(${{t}} PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
endforeach()
file(WRITE "${{CMAKE_BINARY_DIR}}/found.txt" "${{pybuf_VERSION}}\\n${{pybuf_CYTHON_INCLUDE_DIR}}\\n")
"""


def test_probe_through_cmake(prefix, tmp_path):
    cmake = tool("cmake")
    src = tmp_path / "src"
    src.mkdir()
    (src / "probe.c").write_text(PROBE)
    (src / "CMakeLists.txt").write_text(CMAKE_PROBE.format(MAJOR=MAJOR, MINOR=MINOR))
    build = tmp_path / "build"
    run([cmake, "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"])
    run([cmake, "--build", str(build)])
    found = (build / "found.txt").read_text().splitlines()
    assert found == [VERSION, str(prefix / "share/pybuf/cython")]
    # The build tree's RPATH finds the installed library: no LD_LIBRARY_PATH.
    check_probe(build / "probe", prefix, shared=True)
    check_probe(build / "probe_static", prefix, shared=False)


@pytest.mark.parametrize("asked,found", [
    (f"{MAJOR}.{MINOR}", True),
    (f"{MAJOR}.{MINOR}.{PATCH}", True),
    (f"{MAJOR}", True),
    (f"{MAJOR}.{MINOR + 1}", False),
    (f"{MAJOR + 1}.0", False),
    (f"{MAJOR}.{MINOR}.{PATCH + 1}", False),
] + ([(f"0.{MINOR - 1}", False)] if MAJOR == 0 and MINOR > 0 else []))
def test_find_package_version_check(prefix, tmp_path, asked, found):
    cmake = tool("cmake")
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(v NONE)\n"
        f"find_package(pybuf {asked} QUIET)\n"
        'message(STATUS "FOUND=${pybuf_FOUND}")\n'
        'if(pybuf_FOUND AND NOT TARGET pybuf::pybuf)\n  message(FATAL_ERROR "no target")\nendif()\n')
    out = run([cmake, "-S", str(tmp_path), "-B", str(tmp_path / "b"), f"-DCMAKE_PREFIX_PATH={prefix}"]).stdout
    assert f"FOUND={'1' if found else '0'}" in out


# ---------------------------------------------------------------------------------------
# The installed header


def python_include() -> Path | None:
    inc = Path(sysconfig.get_paths()["include"])
    return inc if (inc / "Python.h").is_file() else None


HEADER_CASES = {
    "alone": ['#include "pybuf.h"'],
    "twice": ['#include "pybuf.h"', '#include "pybuf.h"'],
    "python-first": ["#include <Python.h>", '#include "pybuf.h"'],
    "python-first-twice": ["#include <Python.h>", '#include "pybuf.h"', "#include <Python.h>",
                           '#include "pybuf.h"'],
    "dlpack-first": ['#include "dlpack/dlpack.h"', '#include "pybuf.h"'],
    "dlpack-after": ['#include "pybuf.h"', '#include "dlpack/dlpack.h"'],
}


@pytest.mark.parametrize("lang", ["c99", "c++11"])
@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_installed_header_compiles(prefix, tmp_path, lang, case):
    includes = HEADER_CASES[case]
    flags = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(prefix / "include")]
    if any("Python.h" in i for i in includes):
        inc = python_include()
        if inc is None:
            pytest.skip("no Python.h")
        flags += ["-I", str(inc)]
        if lang == "c99":
            flags.remove("-pedantic")  # Python.h itself is not -pedantic C99 clean
    if any("dlpack" in i for i in includes):
        flags += ["-I", str(REFERENCE_DLPACK)]
    body = "\n".join(includes) + """
int use(DLManagedTensorVersioned *t, pybuf_buffer *v);
int use(DLManagedTensorVersioned *t, pybuf_buffer *v) {
    return pybuf_from_dlpack(v, t, PYBUF_FULL_RO) + (int)kDLCPU + (int)DLPACK_FLAG_BITMASK_READ_ONLY;
}
"""
    if lang == "c99":
        src = tmp_path / "h.c"
        compiler = [cc(), "-std=c99"]
    else:
        src = tmp_path / "h.cpp"
        cxx = shutil.which("g++") or shutil.which("c++")
        if cxx is None:
            pytest.skip("no C++ compiler")
        compiler = [cxx, "-std=c++11"]
    src.write_text(body)
    run([*compiler, *flags, "-fsyntax-only", str(src)])


# ---------------------------------------------------------------------------------------
# Cython against the installed .pxd


CYTHON_PROBE = """# cython: language_level=3
from pybuf cimport pybuf_version, pybuf_version_string, PYBUF_STATUS_UNREPRESENTABLE
from pybuf_dlpack cimport DLManagedTensorVersioned, kDLCPU

def versions():
    cdef DLManagedTensorVersioned t
    t.dl_tensor.device.device_type = kDLCPU
    return pybuf_version(), pybuf_version_string().decode(), PYBUF_STATUS_UNREPRESENTABLE
"""


def test_cython_module_with_the_installed_pxd(prefix, tmp_path):
    pkg = tool("pkg-config")
    inc = python_include()
    if inc is None:
        pytest.skip("no Python.h")
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    cython_dir = run([pkg, "--variable=cythondir", "pybuf"], env=env).stdout.strip()
    flags = run([pkg, "--cflags", "--libs", "pybuf"], env=env).stdout.split()
    pyx = tmp_path / "installed_probe.pyx"
    pyx.write_text(CYTHON_PROBE)
    run([sys.executable, "-m", "cython", "-3", "-I", cython_dir, str(pyx), "-o", str(tmp_path / "probe.c")])
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    so = tmp_path / f"installed_probe{ext}"
    run([cc(), "-shared", "-fPIC", "-O0", "-I", str(inc), str(tmp_path / "probe.c"), *flags,
         f"-Wl,-rpath,{prefix / 'lib'}", "-o", str(so)])
    out = run([sys.executable, "-c", "import installed_probe; print(installed_probe.versions())"],
              cwd=tmp_path).stdout.strip()
    assert out == repr((MAJOR * 10000 + MINOR * 100 + PATCH, VERSION, -21))


# ---------------------------------------------------------------------------------------
# DESTDIR and uninstall


def test_destdir_then_uninstall(tmp_path):
    stage = tmp_path / "stage"
    args = ["make", "--no-print-directory", "-C", str(REPO), "PREFIX=/opt/pybuf", f"DESTDIR={stage}"]
    run([*args, "install"])
    root = stage / "opt" / "pybuf"
    for f in installed_files():
        assert (root / f).exists(), f
    # the files name the final prefix, not the staging directory
    pc = (root / "lib/pkgconfig/pybuf.pc").read_text()
    assert "prefix=/opt/pybuf\n" in pc and str(stage) not in pc
    assert '"/opt/pybuf/lib/libpybuf.so.' in (root / "lib/cmake/pybuf/pybufConfig.cmake").read_text()
    run([*args, "uninstall"])
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert left == []


# ---------------------------------------------------------------------------------------
# The complete Cython example (examples/cython: setup.py + pybuf_hello.pyx), built as its
# docstring says against the installed package


def test_cython_example_setup_py_against_the_installed_package(prefix, tmp_path):
    tool("pkg-config")
    if python_include() is None:
        pytest.skip("no Python.h")
    example = tmp_path / "example"
    shutil.copytree(REPO / "examples" / "cython", example)
    env = clean_env(PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    env.pop("LD_LIBRARY_PATH", None)
    run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=example, env=env)
    [module] = example.glob("pybuf_hello*.so")
    # linked with the installed shared library by its SONAME, found through the run path
    assert SONAME in elf_dynamic(module)["NEEDED"]
    check = f"""
import numpy as np, pybuf_hello
a = np.arange(12.0).reshape(3, 4)
assert pybuf_hello.to_contiguous(a.T) == a.T.tobytes()
assert pybuf_hello.to_contiguous(a[:, ::-2], "F") == a[:, ::-2].tobytes(order="F")
try:
    pybuf_hello.to_contiguous(a, "X")
except ValueError as e:
    assert "order" in str(e), e
else:
    raise AssertionError("order 'X' was accepted")
maps = open("/proc/self/maps").read()
lib = [line.split()[-1] for line in maps.splitlines() if "libpybuf.so" in line]
print(pybuf_hello.version(), sorted(set(lib)))
"""
    out = run([sys.executable, "-c", check], cwd=example, env=env).stdout.strip()
    expected_lib = str((prefix / "lib" / f"libpybuf.so.{VERSION}").resolve())
    assert out == f"{VERSION} {[expected_lib]!r}"
