# libpybuf — see README.md. `make demo` and `make test` are the two commands to know.

CARGO      ?= cargo
PYTHON     ?= python3
PREFIX     ?= /usr/local
BUILD      := build
VENV       := .venv
VPY        := $(VENV)/bin/python
RELEASE    := target/release
CFLAGS_C   := -std=c99 -Wall -Wextra -Werror -O2

.PHONY: all lib header header-check demo test venv cargo-test ctest pytest cython bench bench-criterion clean

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

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
