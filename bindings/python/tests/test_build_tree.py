"""The build tree: what `make` (= `make lib`) leaves in build/lib, and programs linked there.

- build/lib holds libpybuf.so.MAJOR.MINOR.PATCH (Cargo.toml's version) with the SONAME
  libpybuf.so.MAJOR, the SONAME link and libpybuf.so (for -lpybuf), and libpybuf.a.
- What ships carries no debug info: neither the staged shared library (its debug info is
  split off into build/lib/.debug and linked by .gnu_debuglink) nor any member of the
  staged static library, nor a program linked statically with it.
- The README's build-tree recipe, run as written (`cc hello.c -I include -L build/lib
  -lpybuf -Wl,-rpath,...`): it links, runs without LD_LIBRARY_PATH and prints what the
  README says; a probe built the same way is loaded from build/lib by its SONAME.
- A Cython module linked the same way (-L build/lib -lpybuf, rpath) imports and calls the
  library.
- `make lib` right after `make test`'s `cargo test --release` compiles nothing (the test
  and library builds share one build of the library).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from test_install import (MAJOR, MINOR, PATCH, SONAME, VERSION, cc, clean_env, elf_dynamic,
                          python_include, run)

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
BUILD_LIB = REPO / "build" / "lib"


def readelf() -> str:
    path = shutil.which("readelf")
    if path is None:
        pytest.skip("readelf (binutils) is not on PATH")
    return path


def section_names(path: Path) -> list[str]:
    """The section names of an ELF file, or of every member of an archive."""
    out = run([readelf(), "-S", "-W", str(path)]).stdout
    return re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, flags=re.M)


@pytest.fixture(scope="module")
def staged():
    """`make lib`, as the README's one build command (`make`) runs it."""
    out = run(["make", "--no-print-directory", "-C", str(REPO), "lib"])
    return out.stdout + out.stderr


def test_build_lib_layout(staged):
    shlib = BUILD_LIB / f"libpybuf.so.{VERSION}"
    assert shlib.is_file() and not shlib.is_symlink()
    assert os.readlink(BUILD_LIB / SONAME) == shlib.name
    assert os.readlink(BUILD_LIB / "libpybuf.so") == SONAME
    assert (BUILD_LIB / "libpybuf.so").resolve() == shlib.resolve()
    assert elf_dynamic(shlib)["SONAME"] == [SONAME]
    with open(BUILD_LIB / "libpybuf.a", "rb") as f:
        assert f.read(8) == b"!<arch>\n"


def test_staged_libraries_carry_no_debug_info(staged):
    shlib = BUILD_LIB / f"libpybuf.so.{VERSION}"
    names = section_names(shlib)
    assert ".text" in names and ".symtab" in names  # stripped of debug info only
    assert not [n for n in names if n.startswith((".debug", ".zdebug"))], names
    assert ".gnu_debuglink" in names
    split = BUILD_LIB / ".debug" / f"{shlib.name}.debug"
    assert ".debug_info" in section_names(split)
    # the library cargo built keeps its line tables (for tests, valgrind, sanitizers)
    assert ".debug_line" in section_names(REPO / "target" / "release" / "libpybuf.so")
    members = section_names(BUILD_LIB / "libpybuf.a")
    assert ".text" in " ".join(members)
    assert not [n for n in members if n.startswith((".debug", ".zdebug"))]
    assert shlib.stat().st_size < 3 * 2**20, shlib.stat().st_size


def test_static_hello_world_carries_no_debug_info(staged, tmp_path):
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\n#include "pybuf.h"\n'
                   'int main(void) { printf("%s\\n", pybuf_version_string()); return 0; }\n')
    exe = tmp_path / "hello"
    run([cc(), "-std=c99", "-O2", "-I", str(REPO / "include"), str(src), str(BUILD_LIB / "libpybuf.a"),
         "-lpthread", "-ldl", "-lm", "-o", str(exe)])
    assert run([str(exe)]).stdout == f"{VERSION}\n"
    assert not any(n.startswith(".debug") for n in section_names(exe))
    assert not any(n.startswith("libpybuf") for n in elf_dynamic(exe)["NEEDED"])


def build_tree_snippets() -> list[tuple[str, str]]:
    text = README.read_text()
    text = text[text.index("<!-- build-tree snippets:"):text.index("<!-- end of build-tree snippets -->")]
    return re.findall(r"```(sh|c)\n(.*?)```", text, flags=re.S)


def test_readme_build_tree_recipe_runs(staged, tmp_path):
    """The README's commands, in a directory that has the repository's include/ and build/
    (the `make` line is the fixture's `make lib`)."""
    snippets = build_tree_snippets()
    assert [lang for lang, _ in snippets] == ["c", "sh"]
    (tmp_path / "hello.c").write_text(snippets[0][1])
    for name in ("include", "build"):
        (tmp_path / name).symlink_to(REPO / name)
    body = snippets[1][1]
    assert re.match(r"make\b", body), body
    commands = "\n".join(line for line in body.splitlines() if not re.match(r"make\b", line))
    env = clean_env()
    env.pop("LD_LIBRARY_PATH", None)
    out = run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, env=env).stdout
    expected = [m.group(1) for m in re.finditer(r"\./hello\s+#\s*(.*)$", body, flags=re.M)]
    assert len(expected) == 1
    assert out.splitlines() == [expected[0].replace("0.1.0", VERSION)]
    assert SONAME in elf_dynamic(tmp_path / "hello")["NEEDED"]


PROBE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include "pybuf.h"

int main(void) {
    Dl_info info;
    if (!dladdr((void *)(size_t)pybuf_version, &info)) return 1;
    printf("%s %u\n", info.dli_fname, pybuf_version());
    return 0;
}
"""


def test_program_linked_in_the_build_tree_loads_it_by_soname(staged, tmp_path):
    (tmp_path / "probe.c").write_text(PROBE)
    exe = tmp_path / "probe"
    run([cc(), "-std=c99", "-Wall", "-Werror", str(tmp_path / "probe.c"), "-I", str(REPO / "include"),
         "-L", str(BUILD_LIB), "-lpybuf", f"-Wl,-rpath,{BUILD_LIB}", "-ldl", "-o", str(exe)])
    env = clean_env()
    env.pop("LD_LIBRARY_PATH", None)
    path, number = run([str(exe)], env=env).stdout.split()
    assert Path(path) == BUILD_LIB / SONAME  # the loader opened the SONAME link
    assert Path(path).resolve() == (BUILD_LIB / f"libpybuf.so.{VERSION}").resolve()
    assert int(number) == MAJOR * 10000 + MINOR * 100 + PATCH


CYTHON_MODULE = """# cython: language_level=3
from pybuf cimport pybuf_size_from_format, pybuf_version_string

def size(fmt):
    return pybuf_size_from_format(fmt.encode())

def version():
    return pybuf_version_string().decode()
"""


def test_cython_module_linked_in_the_build_tree_imports(staged, tmp_path):
    inc = python_include()
    if inc is None:
        pytest.skip("no Python.h")
    pyx = tmp_path / "tree_probe.pyx"
    pyx.write_text(CYTHON_MODULE)
    run([sys.executable, "-m", "cython", "-3", "-I", str(REPO / "bindings" / "cython"), str(pyx),
         "-o", str(tmp_path / "tree_probe.c")])
    so = tmp_path / f"tree_probe{sysconfig.get_config_var('EXT_SUFFIX')}"
    run([cc(), "-shared", "-fPIC", "-O0", "-I", str(inc), "-I", str(REPO / "include"),
         str(tmp_path / "tree_probe.c"), "-L", str(BUILD_LIB), "-lpybuf", f"-Wl,-rpath,{BUILD_LIB}",
         "-o", str(so)])
    assert SONAME in elf_dynamic(so)["NEEDED"]
    env = clean_env()
    env.pop("LD_LIBRARY_PATH", None)
    out = run([sys.executable, "-c", "import tree_probe; print(tree_probe.version(), tree_probe.size('<3d'))"],
              cwd=tmp_path, env=env).stdout.split()
    assert out == [VERSION, "24"]


def test_cargo_test_and_make_lib_share_one_build_of_the_library(staged):
    """`make test` runs `make lib`, then `cargo test --release`: both must want the same
    build of the library, so that neither rebuilds it (issue 13, item 10). After `make lib`,
    building the tests compiles no library crate type, and `make lib` after that is Fresh."""
    env = clean_env()
    tests = run(["cargo", "test", "--release", "--no-run", "-v"], cwd=REPO, env=env).stderr
    assert not re.search(r"--crate-name pybuf [^\n]*--crate-type (cdylib|staticlib|rlib)", tests), tests
    lib = run(["make", "--no-print-directory", "-C", str(REPO), "lib", "CARGO=cargo -v"], env=env).stderr
    assert "Compiling pybuf" not in lib and "Fresh pybuf" in lib, lib
