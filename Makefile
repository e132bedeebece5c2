# libpybuf — see README.md. `make` (the library, in build/lib) and `make test` are the two
# commands to know.

CARGO      ?= cargo
PYTHON     ?= python3
PREFIX     ?= /usr/local
OBJCOPY    ?= objcopy
STRIP      ?= strip
BUILD      := build
VENV       := .venv
VPY        := $(VENV)/bin/python
RELEASE    := target/release
CFLAGS_C   := -std=c99 -Wall -Wextra -Werror -O2

.PHONY: all lib header header-check docs docs-deps demo test venv cargo-test ctest pytest cython bench bench-criterion clean install uninstall

all: lib

# -- The build tree (README "Use it from your project") ----------------------------------
# cargo builds target/release/libpybuf.{so,a} (with line tables, for the tests, valgrind
# and sanitizer backtraces); `make lib` then stages what a C program links, in the layout
# `make install` gives a prefix's lib/:
#   build/lib/libpybuf.so.MAJOR.MINOR.PATCH  the shared library, its debug info split off
#                                            into build/lib/.debug/ (gdb finds it there)
#   build/lib/libpybuf.so.MAJOR -> it        the SONAME link, which the loader looks for
#   build/lib/libpybuf.so -> libpybuf.so.MAJOR   for -lpybuf
#   build/lib/libpybuf.a                     the static library, without debug info
# so `cc prog.c -I include -L build/lib -lpybuf -Wl,-rpath,$PWD/build/lib` links and runs.
# The version comes from Cargo.toml, and so does the SONAME (build.rs passes it to the
# linker): libpybuf.so.MAJOR; staging checks that the built library carries it.
VERSION      := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
VMAJOR       := $(word 1,$(subst ., ,$(VERSION)))
VMINOR       := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION    := $(VMAJOR)
SHLIB        := libpybuf.so.$(VERSION)
SONAME       := libpybuf.so.$(SOVERSION)
BUILDLIB     := $(BUILD)/lib

lib:
	$(CARGO) build --release --lib
	@$(MAKE) --no-print-directory stage

.PHONY: stage
stage: $(BUILDLIB)/$(SHLIB) $(BUILDLIB)/libpybuf.a
	@:

$(BUILDLIB)/$(SHLIB): $(RELEASE)/libpybuf.so
	@if command -v readelf >/dev/null 2>&1 && ! readelf -d $< | grep -q 'soname: \[$(SONAME)\]'; then \
		echo "$< lacks the SONAME $(SONAME) (see build.rs)" >&2; exit 1; fi
	@mkdir -p $(BUILDLIB)/.debug
	$(OBJCOPY) --only-keep-debug $< $(BUILDLIB)/.debug/$(SHLIB).debug
	$(OBJCOPY) --strip-debug --add-gnu-debuglink=$(BUILDLIB)/.debug/$(SHLIB).debug $< $@.tmp
	mv $@.tmp $@
	ln -sf $(SHLIB) $(BUILDLIB)/$(SONAME)
	ln -sf $(SONAME) $(BUILDLIB)/libpybuf.so

$(BUILDLIB)/libpybuf.a: $(RELEASE)/libpybuf.a
	@mkdir -p $(BUILDLIB)
	$(STRIP) --strip-debug --enable-deterministic-archives -o $@.tmp $<
	mv $@.tmp $@

# Regenerate the committed header from the Rust source (cbindgen, pinned in Cargo.toml).
header:
	PYBUF_BLESS=1 $(CARGO) test --release --test header

header-check:
	$(CARGO) test --release --test header

# The HTML API reference of include/pybuf.h, by topic (docs/Doxyfile), in build/docs/html;
# any Doxygen warning fails it. Needs Doxygen: `make docs-deps` installs Debian's package
# (apt-get install -y doxygen, as root); `make docs` itself installs nothing.
docs:
	@command -v doxygen >/dev/null 2>&1 || { echo "make docs needs Doxygen: run 'apt-get install doxygen' (or 'make docs-deps' as root)" >&2; exit 1; }
	@mkdir -p $(BUILD)/docs
	doxygen docs/Doxyfile
	@echo "API reference: $(BUILD)/docs/html/index.html"

docs-deps:
	apt-get install -y doxygen

demo: lib
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_C) -Iinclude examples/demo.c $(BUILDLIB)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/demo
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

# Benchmarks (never part of `make test`): transposes and strided copies from C against
# memcpy, a streaming-store copy, the naive loop and HPTT (bench-transpose, below), then the
# side-by-side table against numpy, CPython and memcpy (128 MiB per copy).
bench: venv lib
	@$(MAKE) --no-print-directory bench-transpose
	$(VPY) benches/side_by_side.py --mib $(or $(MIB),128) --rounds $(or $(ROUNDS),5)

# Transposes, permutes and strided copies side by side in one process (benches/transpose.c,
# issue 17's table): memcpy, a streaming-store copy, the naive C loop, pybuf copy plans on 1
# and 2 threads, pybuf_to_contiguous, the per-call cost of a 4x4 transpose, and HPTT
# (github.com/springer13/hptt, through benches/hptt_peer.cpp) when HPTT_DIR names an HPTT
# built by hand (docs/benchmarks.md; HPTT is not part of this repository). ROUNDS (best of,
# default 9), ONLY (run the cases whose name contains it), MIB (output size, default 128),
# BENCH_ARGS (more options of the program: --thp, --hptt-estimate).
HPTT_DIR   ?=
CXXFLAGS_BENCH := -std=c++11 -O2 -Wall -Wextra -Werror -fopenmp
TRANSPOSE_BENCH_ARGS = --rounds $(or $(ROUNDS),9) --mib $(or $(MIB),128) $(if $(ONLY),--only "$(ONLY)") $(BENCH_ARGS)
.PHONY: bench-transpose
bench-transpose: lib
	@mkdir -p $(BUILD)/bench
ifeq ($(strip $(HPTT_DIR)),)
	$(CC) $(CFLAGS_C) -Iinclude benches/transpose.c $(RELEASE)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/bench/transpose
	./$(BUILD)/bench/transpose $(TRANSPOSE_BENCH_ARGS)
else
	@test -f $(HPTT_DIR)/include/hptt.h && ls $(HPTT_DIR)/lib/libhptt.* >/dev/null 2>&1 || { echo "HPTT_DIR=$(HPTT_DIR) holds no built HPTT (include/hptt.h, lib/libhptt.*): see docs/benchmarks.md" >&2; exit 1; }
	$(CC) $(CFLAGS_C) -DHAVE_HPTT -Iinclude -c benches/transpose.c -o $(BUILD)/bench/transpose_hptt.o
	$(CXX) $(CXXFLAGS_BENCH) -isystem $(HPTT_DIR)/include -c benches/hptt_peer.cpp -o $(BUILD)/bench/hptt_peer.o
	$(CXX) -fopenmp $(BUILD)/bench/transpose_hptt.o $(BUILD)/bench/hptt_peer.o $(RELEASE)/libpybuf.a \
		-L$(HPTT_DIR)/lib -Wl,-rpath,$(abspath $(HPTT_DIR))/lib -lhptt -lpthread -ldl -lm -o $(BUILD)/bench/transpose_hptt
	./$(BUILD)/bench/transpose_hptt $(TRANSPOSE_BENCH_ARGS)
endif

# File I/O side by side (benches/io.c and numpy in one run): pybuf_write_fd / pybuf_npy_save
# of transposed and strided views against np.save, tofile and raw write(2); reads into a
# transposed view against raw read(2); .npy loads against np.load(mmap_mode='r').
# BENCH_DIR (default /dev/shm), ROWS x COLS float64 (default 4096 x 8192 = 256 MiB), ROUNDS.
.PHONY: bench-io
bench-io: venv lib
	@mkdir -p $(BUILD)
	$(CC) -O2 -std=c11 -Wall -Wextra -Iinclude benches/io.c $(RELEASE)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/io_bench
	$(VPY) benches/io_side_by_side.py --exe $(BUILD)/io_bench $(if $(BENCH_DIR),--dir $(BENCH_DIR)) --rows $(or $(ROWS),4096) --cols $(or $(COLS),8192) --rounds $(or $(ROUNDS),5)

# -- MPI (docs/mpi.md; libpybuf itself never needs MPI) ----------------------------------
# mpi4py in the venv, built from source against the MPI whose mpicc is on PATH (CFLAGS=-O0:
# one minute instead of five, and mpi4py only forwards calls to MPI), for the MPI tests
# and bench-mpi. Sending a 64 MiB transposed and a [:, ::2] float64 view between 2 ranks:
# derived datatype, pybuf_to_contiguous + send, pipelined chunks, numpy + mpi4py.
MPICC ?= mpicc
.PHONY: venv-mpi bench-mpi
venv-mpi: $(VENV)/.stamp-mpi
$(VENV)/.stamp-mpi: bindings/python/requirements-mpi.txt $(VENV)/.stamp
	@command -v $(MPICC) >/dev/null 2>&1 || { echo "mpi4py needs an MPI: apt-get install libopenmpi-dev openmpi-bin" >&2; exit 1; }
	MPICC=$(MPICC) CFLAGS=-O0 $(VPY) -m pip install --quiet --disable-pip-version-check --no-binary mpi4py -r bindings/python/requirements-mpi.txt
	touch $@

bench-mpi: venv-mpi lib
	@mkdir -p $(BUILD)/mpi
	$(MPICC) -O2 -std=c99 -Wall -Wextra -Iinclude benches/mpi.c $(RELEASE)/libpybuf.a -lpthread -ldl -lm -o $(BUILD)/mpi/bench_mpi
	$(VPY) benches/mpi_side_by_side.py --exe $(BUILD)/mpi/bench_mpi --rounds $(or $(ROUNDS),5)

# Hand-over to another process side by side (benches/share_side_by_side.py, one run): a
# float64 array and its transpose, SIZES (default "1M 64M 1G"), handed to a child process that
# acks with one byte: pybuf send_view/recv_view against multiprocessing's Pipe.send (pickle),
# pickle protocol 5 with out-of-band buffers over a pipe, and shared_memory + np.copyto.
# Best of ROUNDS (default 20; BIG_ROUNDS, default 3, at 1 GiB and more, but for pybuf).
.PHONY: bench-share
bench-share: cython
	$(VPY) benches/share_side_by_side.py --sizes "$(or $(SIZES),1M 64M 1G)" --rounds $(or $(ROUNDS),20) --big-rounds $(or $(BIG_ROUNDS),3)

# Criterion benchmarks of the Rust-level kernels.
bench-criterion:
	$(CARGO) bench --bench copy

# -- Install (README "Use it from your project", docs/install.md) ----------------------
# `make install PREFIX=/usr/local` (the default) installs the staged build tree (build/lib:
# the shared library with its SONAME link and link, the static library, no debug info),
# pybuf.h, pybuf.pc, the CMake package (pybuf::pybuf) and the Cython declarations. DESTDIR
# stages the files for a package; LIBDIR, INCLUDEDIR, DATADIR, PKGCONFIGDIR, CMAKEDIR and
# PXDDIR override single directories.
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
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(PXDDIR)
	$(INSTALL) -m 755 $(BUILDLIB)/$(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	ln -sf $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpybuf.so
	$(INSTALL) -m 644 $(BUILDLIB)/libpybuf.a $(DESTDIR)$(LIBDIR)/libpybuf.a
	$(INSTALL) -m 644 include/pybuf.h $(DESTDIR)$(INCLUDEDIR)/pybuf.h
	$(INSTALL) -m 644 include/pybuf_mpi.h $(DESTDIR)$(INCLUDEDIR)/pybuf_mpi.h
	$(INSTALL) -m 644 bindings/cython/pybuf.pxd bindings/cython/pybuf_dlpack.pxd $(DESTDIR)$(PXDDIR)/
	$(configure) packaging/pybuf.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/pybuf.pc
	$(configure) packaging/pybufConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/pybufConfig.cmake
	$(configure) packaging/pybufConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/pybufConfigVersion.cmake

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libpybuf.so $(DESTDIR)$(LIBDIR)/libpybuf.a \
		$(DESTDIR)$(INCLUDEDIR)/pybuf.h $(DESTDIR)$(INCLUDEDIR)/pybuf_mpi.h $(DESTDIR)$(PKGCONFIGDIR)/pybuf.pc \
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
