# libpybuf — see README.md. `make demo` and `make test` are the two commands to know.

CARGO      ?= cargo
PYTHON     ?= python3
PREFIX     ?= /usr/local
BUILD      := build
VENV       := .venv
VPY        := $(VENV)/bin/python
RELEASE    := target/release
CFLAGS_C   := -std=c99 -Wall -Wextra -Werror -O2

.PHONY: all lib header header-check demo test venv cargo-test ctest pytest cython bench bench-criterion clean install uninstall

all: lib

lib:
	$(CARGO) build --release --lib

# Regenerate the committed header from the Rust source (cbindgen, pinned in Cargo.toml).
header:
	PYBUF_BLESS=1 $(CARGO) test --release --test header

header-check:
	$(CARGO) test --release --test header

demo: lib
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_C) -Iinclude examples/demo.c $(RELEASE)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/demo
	./$(BUILD)/demo

# A local virtualenv with numpy, pytest, cython and cmake (from PyPI).
venv: $(VENV)/.stamp
$(VENV)/.stamp: bindings/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r bindings/python/requirements.txt
	touch $@

# The Cython modules of bindings/cython, linked with libpybuf.a, into build/cython.
cython: venv lib
	$(VPY) bindings/cython/setup.py -q build_ext --build-lib $(BUILD)/cython --build-temp $(BUILD)/cython/tmp

test: venv lib
	bash scripts/test.sh

# Benchmarks (never part of `make test`): the side-by-side table against numpy, CPython
# and memcpy (128 MiB per copy), and the per-call cost of a small copy from C.
bench: venv lib
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_C) -Iinclude benches/small_copy.c $(RELEASE)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/small_copy
	./$(BUILD)/small_copy
	$(VPY) benches/side_by_side.py --mib $(or $(MIB),128) --rounds $(or $(ROUNDS),5)

# Criterion benchmarks of the Rust-level kernels.
bench-criterion:
	$(CARGO) bench --bench copy

# -- Install (README "Install") -------------------------------------------------------
# `make install PREFIX=/usr/local` (the default) installs the shared library with its
# SONAME and links, the static library, pybuf.h, pybuf.pc, the CMake package (pybuf::pybuf)
# and the Cython declarations. DESTDIR stages the files for a package; LIBDIR, INCLUDEDIR,
# DATADIR, PKGCONFIGDIR, CMAKEDIR and PXDDIR override single directories.
#
# The version comes from Cargo.toml, and so does the SONAME (build.rs passes it to the
# linker): libpybuf.so.MAJOR. The file is libpybuf.so.MAJOR.MINOR.PATCH; libpybuf.so.MAJOR
# and libpybuf.so link to it.
VERSION      := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
VMAJOR       := $(word 1,$(subst ., ,$(VERSION)))
VMINOR       := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION    := $(VMAJOR)
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
DATADIR      ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/pybuf
PXDDIR       ?= $(DATADIR)/pybuf/cython
INSTALL      ?= install
SIZEOF_VOID_P := $(shell echo $$(( $$(getconf LONG_BIT) / 8 )))
# Fill in a packaging/ template.
configure = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@PXDDIR@|$(PXDDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@VMAJOR@|$(VMAJOR)|g' -e 's|@VMINOR@|$(VMINOR)|g' \
	-e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g'

install: lib
	@if command -v readelf >/dev/null 2>&1 && ! readelf -d $(RELEASE)/libpybuf.so | \
		grep -q 'soname: \[libpybuf.so.$(SOVERSION)\]'; then \
		echo "$(RELEASE)/libpybuf.so lacks the SONAME libpybuf.so.$(SOVERSION) (see build.rs)" >&2; exit 1; fi
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(PXDDIR)
	$(INSTALL) -m 755 $(RELEASE)/libpybuf.so $(DESTDIR)$(LIBDIR)/libpybuf.so.$(VERSION)
	ln -sf libpybuf.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpybuf.so.$(SOVERSION)
	ln -sf libpybuf.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libpybuf.so
	$(INSTALL) -m 644 $(RELEASE)/libpybuf.a $(DESTDIR)$(LIBDIR)/libpybuf.a
	$(INSTALL) -m 644 include/pybuf.h $(DESTDIR)$(INCLUDEDIR)/pybuf.h
	$(INSTALL) -m 644 bindings/cython/pybuf.pxd bindings/cython/pybuf_dlpack.pxd $(DESTDIR)$(PXDDIR)/
	$(configure) packaging/pybuf.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/pybuf.pc
	$(configure) packaging/pybufConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/pybufConfig.cmake
	$(configure) packaging/pybufConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/pybufConfigVersion.cmake

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libpybuf.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpybuf.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libpybuf.so $(DESTDIR)$(LIBDIR)/libpybuf.a \
		$(DESTDIR)$(INCLUDEDIR)/pybuf.h $(DESTDIR)$(PKGCONFIGDIR)/pybuf.pc \
		$(DESTDIR)$(CMAKEDIR)/pybufConfig.cmake $(DESTDIR)$(CMAKEDIR)/pybufConfigVersion.cmake \
		$(DESTDIR)$(PXDDIR)/pybuf.pxd $(DESTDIR)$(PXDDIR)/pybuf_dlpack.pxd
	-rmdir $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(PXDDIR) $(DESTDIR)$(DATADIR)/pybuf 2>/dev/null

# The heavy checks of the unsafe and FFI code (scripts/check.sh; never part of `make test`):
# fuzzing (FUZZ_SECONDS per target), Miri and the unsafe blocks its run reaches (reach),
# ASan/UBSan, valgrind, ThreadSanitizer.
# `make check` runs them all with short fuzz runs (CHECK_FUZZ_SECONDS per target).
FUZZ_SECONDS       ?= 60
CHECK_FUZZ_SECONDS ?= 10
# A fuzz input slower than this (libFuzzer -report_slow_units) fails the fuzz step.
SLOW_UNIT_SECONDS  ?= 2
export SLOW_UNIT_SECONDS
.PHONY: check fuzz miri reach sanitize valgrind tsan
check: lib
	bash scripts/check.sh all $(CHECK_FUZZ_SECONDS)
fuzz:
	bash scripts/check.sh fuzz $(FUZZ_SECONDS)
miri reach sanitize valgrind tsan:
	bash scripts/check.sh $@

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
