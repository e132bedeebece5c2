"""Build the Cython modules of bindings/cython against the freshly built libpybuf.

    make cython
    # = .venv/bin/python bindings/cython/setup.py -q build_ext \
    #       --build-lib build/cython --build-temp build/cython/tmp

- pybuf_example: the example module (exporter and consumers), see its docstring.
- pybuf_pxd_check: compiles only if pybuf.pxd agrees with include/pybuf.h.

libpybuf is linked statically (target/release/libpybuf.a, from `cargo build --release --lib`)
with its symbols kept local, so the modules need no LD_LIBRARY_PATH. Generated C goes to
build/cython/src, so the source directory stays clean.
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INCLUDE = REPO / "include"
STATIC_LIB = REPO / "target" / "release" / "libpybuf.a"

if not STATIC_LIB.is_file():
    raise SystemExit(f"{STATIC_LIB} not found: run `cargo build --release --lib` first")


def extension(name: str, extra_compile_args=()) -> Extension:
    return Extension(
        name,
        [str((HERE / f"{name}.pyx").relative_to(REPO))],
        include_dirs=[str(INCLUDE)],
        extra_objects=[str(STATIC_LIB)],
        libraries=["pthread", "dl", "m"],
        # keep libpybuf's (and Rust's) symbols inside the module
        extra_link_args=["-Wl,--exclude-libs,ALL"],
        extra_compile_args=list(extra_compile_args),
        # relink when the library, the header or the declarations change
        depends=[str(STATIC_LIB), str(INCLUDE / "pybuf.h"), str(HERE / "pybuf.pxd")],
    )


EXTENSIONS = [
    extension("pybuf_example"),
    # a declaration of pybuf.pxd that disagrees with the header is an error here
    extension("pybuf_pxd_check", ["-Werror=incompatible-pointer-types"]),
]

if __name__ == "__main__":
    import os

    os.chdir(REPO)  # the sources are named relative to the repository
    setup(
        name="pybuf-cython-bindings",
        ext_modules=cythonize(
            EXTENSIONS,
            include_path=[str(HERE)],
            build_dir=str(REPO / "build" / "cython" / "src"),
            compiler_directives={"language_level": 3},
            quiet=True,
        ),
        zip_safe=False,
    )
