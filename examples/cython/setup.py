"""A complete Cython module built against an installed libpybuf.

Install libpybuf first (`make install PREFIX=$HOME/.local`, or any prefix), then:

    export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig   # where pybuf.pc is
    python setup.py build_ext --inplace                 # in this directory
    python -c "import pybuf_hello; print(pybuf_hello.version())"

pkg-config (`pkgconf` on PyPI, or the system's) gives everything: the header's directory
(--cflags), the library's (--libs: -L<prefix>/lib -lpybuf) and the directory of pybuf.pxd
and pybuf_dlpack.pxd (--variable=cythondir), which Cython needs for `cimport pybuf`. The
module links the shared library, and records its directory as the module's run path
(runtime_library_dirs), so it imports without LD_LIBRARY_PATH.

To link libpybuf statically instead (no shared library needed at run time), replace
`libraries` and `runtime_library_dirs` with
`extra_objects=[<prefix>/lib/libpybuf.a], libraries=["pthread", "dl", "m"]`
(`pkg-config --static --libs pybuf` lists them).
"""

import os
import shlex
import subprocess
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup


def pkg_config(*args: str) -> list[str]:
    try:
        out = subprocess.run([os.environ.get("PKG_CONFIG", "pkg-config"), *args, "pybuf"],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"pkg-config does not find pybuf ({e}); install libpybuf and set "
                         "PKG_CONFIG_PATH to <prefix>/lib/pkgconfig") from e
    return shlex.split(out)


include_dirs = [flag[2:] for flag in pkg_config("--cflags-only-I")]
library_dirs = [flag[2:] for flag in pkg_config("--libs-only-L")]
libraries = [flag[2:] for flag in pkg_config("--libs-only-l")]
cython_dir = pkg_config("--variable=cythondir")[0]

os.chdir(Path(__file__).resolve().parent)  # the sources are named relative to this directory
setup(
    name="pybuf-hello",
    ext_modules=cythonize(
        [Extension("pybuf_hello", ["pybuf_hello.pyx"], include_dirs=include_dirs,
                   library_dirs=library_dirs, libraries=libraries,
                   runtime_library_dirs=library_dirs)],
        include_path=[cython_dir],
        compiler_directives={"language_level": 3},
    ),
)
