"""The documentation: README.md and docs/*.md.

- Every C program in them (a ```c block) is compiled (C99, -Wall -Wextra -Werror -pedantic,
  against include/ and the built libpybuf.a), run, and its output compared with the comment
  that ends it (the version in it read as Cargo.toml's). A C block without such a comment,
  or without `main`, fails: every snippet is a complete, checked program. (The snippets that
  other tests also run — export, interop, install, build tree — are run here too.)
- Every function include/pybuf.h declares is named somewhere in them.
- Links between them point to files that exist.
- The README stays a front door: at most about 200 lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
HEADER = REPO / "include" / "pybuf.h"


def cargo_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "Cargo.toml").read_text(), flags=re.M)
    return m.group(1)


def c_blocks() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        for i, m in enumerate(re.finditer(r"^```c\n(.*?)^```", doc.read_text(), flags=re.S | re.M)):
            out.append((str(doc.relative_to(REPO)), i, m.group(1)))
    return out


BLOCKS = c_blocks()


def test_c_blocks_are_found():
    names = {name for name, _, _ in BLOCKS}
    assert {"README.md", "docs/exporters.md", "docs/views.md", "docs/formats.md",
            "docs/interop.md"} <= names, names
    assert len(BLOCKS) >= 10, len(BLOCKS)


def expected_output(body: str) -> list[str] | None:
    m = re.search(r"/\*((?:(?!/\*).)*?)\*/\s*$", body, flags=re.S)
    if m is None:
        return None
    return [line.strip() for line in m.group(1).strip().splitlines()]


@pytest.mark.parametrize("doc,index,body", BLOCKS, ids=[f"{d}#{i}" for d, i, _ in BLOCKS])
def test_c_block_compiles_runs_and_prints_its_comment(tmp_path, doc, index, body):
    assert re.search(r"\bint main\(", body), f"{doc} C block {index} is not a complete program"
    expected = expected_output(body)
    assert expected, f"{doc} C block {index} does not end with a comment giving its output"
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    lib_dir = Path(os.environ.get("PYBUF_LIB") or REPO / "target" / "release" / "libpybuf.so").parent
    src = tmp_path / "snippet.c"
    src.write_text(body)
    exe = tmp_path / "snippet"
    build = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I",
                            str(REPO / "include"), str(src), str(lib_dir / "libpybuf.a"),
                            "-lpthread", "-ldl", "-lm", "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, (run.returncode, run.stdout, run.stderr)
    version = cargo_version()
    assert run.stdout.splitlines() == [line.replace("0.1.0", version) for line in expected]


def header_functions() -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    return sorted(set(re.findall(r"\b(pybuf_\w+)\s*\(", text)))


def test_every_exported_function_is_named_in_the_docs():
    functions = header_functions()
    assert len(functions) >= 60, functions
    text = "\n".join(doc.read_text() for doc in DOCS)
    missing = [f for f in functions if not re.search(rf"\b{f}\b", text)]
    assert missing == []


def test_links_between_docs_resolve():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(REPO)} links to {target}"


def test_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 215
    for doc in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{doc.name})" in readme, f"the README's table of contents lacks {doc.name}"
    for licence in ("LICENSE-MIT", "LICENSE-APACHE"):
        assert (REPO / licence).is_file() and f"({licence})" in readme
    assert re.search(r'^license = "MIT OR Apache-2.0"$', (REPO / "Cargo.toml").read_text(), flags=re.M)
