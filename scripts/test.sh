#!/usr/bin/env bash
# `make test`: every suite, then one closing line "total: N passed, M failed".
# Suites: cargo tests (Rust unit tests, the header check, the C tests via the cc crate),
# the lints (clippy with warnings as errors, rustdoc with warnings as errors: one check
# each), the API reference (Doxygen over include/pybuf.h, warnings as errors, see
# docs/Doxyfile), the C tests through CTest, the Python tests (pytest), and the MPI tests
# (pytest over c_tests/mpi, when mpicc is found).
set -uo pipefail
cd "$(dirname "$0")/.."
logs=build/test-logs
mkdir -p "$logs"
venv=.venv
export PATH="$PWD/$venv/bin:$PATH"
export PYBUF_LIB="$PWD/target/release/libpybuf.so"

passed=0
failed=0
broken=()

# run NAME COUNTER CMD...: run a suite, tee its log, add its counts via COUNTER.
run() {
    local name=$1 counter=$2
    shift 2
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$logs/$name.log"
    local rc=${PIPESTATUS[0]}
    local p f
    read -r p f < <("$counter" "$logs/$name.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the suite failed without a failing test: a build or collection error
    fi
    [ "$rc" -ne 0 ] && broken+=("$name")
    passed=$((passed + p))
    failed=$((failed + f))
    echo "--- $name: $p passed, $f failed"
}

count_cargo() {
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
         END { print p + 0, f + 0 }' "$1"
}
count_ctest() {
    # "100% tests passed, 0 tests failed out of 12" or (newer CMake) "100% tests passed out of 12"
    awk '/tests passed.* out of [0-9]+/ { t = $NF; f = 0; for (i = 2; i <= NF; i++) if ($(i) == "tests" && $(i+1) == "failed") f = $(i-1) }
         END { print t - f, f + 0 }' "$1"
}
count_clean() {
    # a lint suite prints "clean" last when it passed: one check, passed or failed
    if [ "$(tail -n 1 "$1")" = clean ]; then echo 1 0; else echo 0 1; fi
}
count_pytest() {
    tail -n 5 "$1" | awk '/ in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed,?$/) p = $(i-1); if ($(i) ~ /^(failed|errors?),?$/) f += $(i-1) } }
         END { print p + 0, f + 0 }'
}

run cargo count_cargo cargo test --release
# The API reference needs Doxygen: on a fresh machine (CI) install Debian's package when
# root, saying so; otherwise the docs suite fails and names the command.
if ! command -v doxygen >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "=== installing doxygen for the docs suite: apt-get install -y doxygen"
    apt-get install -y doxygen >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y doxygen >/dev/null 2>&1; }
fi
run docs count_clean bash -c 'make --no-print-directory docs && echo clean'
run clippy count_clean bash -c 'cargo clippy --all-targets -- -D warnings && echo clean'
run rustdoc count_clean bash -c 'RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps && echo clean'
run ctest count_ctest bash -c '
    cmake -S c_tests -B build/ctest -DCMAKE_BUILD_TYPE=Release \
          -DPYBUF_ROOT="$PWD" -DPython3_EXECUTABLE="$(command -v python3)" >/dev/null &&
    cmake --build build/ctest -j 2 >/dev/null &&
    ctest --test-dir build/ctest --output-on-failure'
make --no-print-directory cython || broken+=("cython") # bindings/cython, for test_export.py
run pytest count_pytest python -m pytest -q bindings/python/tests

# The MPI suite (c_tests/mpi, docs/mpi.md) when mpicc is found; libpybuf itself never needs
# MPI. On a fresh machine (CI), as root, install Debian's Open MPI first, saying so.
if ! command -v mpicc >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "=== installing Open MPI for the MPI suite: apt-get install -y libopenmpi-dev openmpi-bin"
    apt-get install -y libopenmpi-dev openmpi-bin >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y libopenmpi-dev openmpi-bin >/dev/null 2>&1; }
fi
if command -v mpicc >/dev/null 2>&1; then
    make --no-print-directory venv-mpi || broken+=("venv-mpi") # mpi4py, for the MPMD test
    run mpi count_pytest python -m pytest -q c_tests/mpi
else
    echo "MPI tests skipped: no mpicc"
fi

echo
if [ ${#broken[@]} -gt 0 ]; then
    echo "failing suites: ${broken[*]}"
fi
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
