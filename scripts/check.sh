#!/usr/bin/env bash
# The heavy checks of the unsafe and FFI code (`make check` runs them all):
#
#   scripts/check.sh fuzz [SECONDS]   every cargo-fuzz target for SECONDS (default 60) each;
#                                     an input slower than SLOW_UNIT_SECONDS (default 2) fails it
#   scripts/check.sh miri             the Rust test suite under Miri
#   scripts/check.sh reach            which `unsafe` blocks the Miri-configured suite reaches
#   scripts/check.sh sanitize         Rust tests (unit and C-surface) under ASan; C tests under gcc ASan+UBSan
#   scripts/check.sh valgrind         C tests under valgrind memcheck
#   scripts/check.sh tsan             c_tests/test_threads.c and test_copy_plan.c under ThreadSanitizer
#   scripts/check.sh all [SECONDS]    all of the above, fuzzing SECONDS (default 10) each
#
# Nightly, Miri and sanitizer builds go to their own target directories (target/fuzz,
# target/miri, target/reach, target/asan, target/tsan) so that target/release is never rebuilt
# by them.
# C tests use target/release/libpybuf.a (built by `make lib`). Every step ends with a
# line "<step>: N passed, M failed"; the script exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=build/check
mkdir -p "$OUT"
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
CC=${CC:-gcc}
CXX=${CXX:-g++}
# test_threads.c's operation count under the slow tools (valgrind, TSan): still 8 threads
# on shared exporters, exact counts at the end
SLOW_OPERATIONS=${SLOW_OPERATIONS:-100000}
# A fuzz input that takes longer than this many seconds is a finding (libFuzzer's
# -report_slow_units saves it as a slow-unit-* artifact): every parser, converter and
# consumer is meant to be linear or n log n in its input (issue 12).
SLOW_UNIT_SECONDS=${SLOW_UNIT_SECONDS:-2}

status=0
fail() { echo "FAILED: $*" >&2; status=1; }

need_nightly() {
    rustup run nightly rustc -V >/dev/null 2>&1 || { echo "the nightly toolchain is required" >&2; exit 1; }
}

# The C test sources, and the extra include directory test_layout.c needs (Python.h).
c_tests() { ls c_tests/test_*.c c_tests/test_*.cpp; }
python_include() {
    local dir
    dir=$(${PYTHON:-python3} -c "import sysconfig; print(sysconfig.get_paths()['include'])" 2>/dev/null) || return
    [ -f "$dir/Python.h" ] && echo "$dir"
}

# build_c_tests DIR LIB FLAGS...: compile every C test into DIR, linked with LIB.
build_c_tests() {
    local dir=$1 lib=$2
    shift 2
    mkdir -p "$dir"
    local pyinc src name compiler std extra
    pyinc=$(python_include || true)
    for src in $(c_tests); do
        name=$(basename "${src%.*}")
        compiler=$CC std=-std=c99 extra=()
        if [[ $src == *.cpp ]]; then compiler=$CXX std=-std=c++11; fi
        if [ "$name" = test_layout ]; then
            [ -n "$pyinc" ] || { echo "skipping test_layout (no Python.h)"; continue; }
            extra=(-I "$pyinc")
        fi
        if [ "$name" = test_threads ]; then extra+=("-DOPERATIONS=$SLOW_OPERATIONS"); fi
        "$compiler" "$std" -Wall -Wextra -Werror -g -Iinclude "${extra[@]}" "$@" "$src" "$lib" \
            -lpthread -ldl -lm -o "$dir/$name" || { fail "compiling $src"; continue; }
    done
}

# run_each DIR LABEL CMD...: run every test binary in DIR under CMD; count.
run_each() {
    local dir=$1 label=$2
    shift 2
    local p=0 f=0 t
    for t in "$dir"/test_*; do
        [ -x "$t" ] || continue
        if "$@" "$t" >"$t.log" 2>&1; then
            p=$((p + 1))
            echo "  ok   $(basename "$t")  $(tail -n 1 "$t.log")"
        else
            f=$((f + 1))
            echo "  FAIL $(basename "$t") (log: $t.log)"
            tail -n 30 "$t.log"
        fi
    done
    echo "$label: $p passed, $f failed"
    [ "$f" -eq 0 ] || status=1
}

lib_release() {
    [ -f target/release/libpybuf.a ] || cargo build --release --lib || fail "cargo build --release"
    # rebuild if any source changed (cargo decides; quick when nothing did)
    cargo build --release --lib -q || fail "cargo build --release"
}

# ---------------------------------------------------------------------------------------
step_fuzz() {
    local seconds=${1:-60}
    need_nightly
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
        cargo install cargo-fuzz --locked || { fail "cargo install cargo-fuzz"; return; }
    fi
    cargo +nightly fuzz build -O --target-dir target/fuzz || { fail "cargo fuzz build"; return; }
    local bin=target/fuzz/$TRIPLE/release t p=0 f=0
    for t in $(cargo +nightly fuzz list); do
        local corpus=$OUT/fuzz/corpus/$t art=$OUT/fuzz/artifacts/$t/ log=$OUT/fuzz/$t.log
        mkdir -p "$corpus" "$art"
        rm -f "$art"slow-unit-*
        # new inputs go to the scratch corpus; the committed seeds are only read
        if "$bin/$t" "$corpus" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=20 \
            -rss_limit_mb=4096 -report_slow_units="$SLOW_UNIT_SECONDS" -artifact_prefix="$art" \
            -print_final_stats=1 >"$log" 2>&1; then
            local slow
            slow=$(ls "$art" | grep -c '^slow-unit-')
            if [ "$slow" -gt 0 ]; then
                f=$((f + 1))
                echo "  FAIL $t: $slow input(s) slower than $SLOW_UNIT_SECONDS s (inputs: $art""slow-unit-*, log: $log)"
                grep -E "Slowest unit" "$log" | tail -n 3
                continue
            fi
            p=$((p + 1))
            local runs execs
            runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -n 1)
            execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
            echo "  ok   $t: $runs ($execs/s), corpus $(ls "$corpus" | wc -l) + $(ls "fuzz/corpus/$t" | wc -l) seeds"
        else
            f=$((f + 1))
            echo "  FAIL $t (log: $log, inputs: $art)"
            grep -E "panicked|ERROR|SUMMARY" "$log" | head -n 5
        fi
    done
    echo "fuzz: $p passed, $f failed"
    [ "$f" -eq 0 ] || status=1
}

step_miri() {
    need_nightly
    rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^miri' ||
        rustup component add miri rust-src --toolchain nightly || { fail "rustup component add miri"; return; }
    local log=$OUT/miri.log
    # Built with AVX on x86-64, so that Miri (which detects the features enabled at build
    # time) runs the AVX transpose kernels too; `make reach` shows what the run reaches.
    local flags=
    [[ $TRIPLE == x86_64-* ]] && flags="-C target-feature=+avx,+avx2"
    RUSTFLAGS="$flags" CARGO_TARGET_DIR=target/miri cargo +nightly miri test 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
         END { printf "miri: %d passed, %d failed\n", p, f }' "$log"
    [ "$rc" -eq 0 ] || fail "miri"
}

# The test suite Miri runs, built natively with `--cfg miri` (same tests, same reduced
# counts, same ignores) and -C instrument-coverage: every `unsafe {` line of src/ must have
# run. This is what shows that `make miri` reaches every unsafe block.
step_reach() {
    local sysroot tools
    sysroot=$(rustc --print sysroot)
    tools=$sysroot/lib/rustlib/$TRIPLE/bin
    [ -x "$tools/llvm-cov" ] || rustup component add llvm-tools-preview >/dev/null 2>&1 ||
        { fail "rustup component add llvm-tools-preview"; return; }
    # REACH_TESTS narrows the run (e.g. "--test ffi_view"); REACH_OUT moves its files
    local dir=${REACH_OUT:-$OUT/reach} tests=${REACH_TESTS:---tests}
    rm -rf "$dir"
    mkdir -p "$dir"
    # --target keeps the flags off build scripts; --tests leaves doc tests out (Miri runs
    # them, but they only repeat what the tests do)
    RUSTFLAGS="-C instrument-coverage --cfg miri" CARGO_TARGET_DIR=target/reach \
        LLVM_PROFILE_FILE="$ROOT/$dir/%p-%m.profraw" \
        cargo test --target "$TRIPLE" $tests -q >"$dir/test.log" 2>&1 ||
        { tail -n 40 "$dir/test.log"; fail "tests with coverage"; return; }
    "$tools/llvm-profdata" merge -sparse "$dir"/*.profraw -o "$dir/all.profdata" ||
        { fail "llvm-profdata"; return; }
    # One export per test binary, concatenated (unsafe_reach.py adds the counts of a line
    # over them): a #[no_mangle] function is in every binary, and the unit-test build of
    # the library can hold a record of it that does not match the profile; one export of
    # all binaries then showed that function's lines as never run, however often the
    # integration tests ran them. A binary with no coverage data (a test file that is
    # empty under --cfg miri) is skipped.
    local exe err
    : >"$dir/lcov.info"
    for exe in $(RUSTFLAGS="-C instrument-coverage --cfg miri" CARGO_TARGET_DIR=target/reach \
        cargo test --target "$TRIPLE" $tests --no-run --message-format=json 2>/dev/null |
        ${PYTHON:-python3} -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])'); do
        err=$("$tools/llvm-cov" export --format=lcov --instr-profile="$dir/all.profdata" -object "$exe" \
            2>&1 >>"$dir/lcov.info") || [[ $err == *"no coverage data found"* ]] ||
            { echo "$err" >&2; fail "llvm-cov export of $exe"; return; }
    done
    [ -s "$dir/lcov.info" ] || { fail "llvm-cov export: no coverage"; return; }
    ${PYTHON:-python3} scripts/unsafe_reach.py "$dir/lcov.info" src ${REACH_FILES:-} || fail "unsafe blocks not reached"
}

step_sanitize() {
    need_nightly
    echo "== Rust tests under AddressSanitizer (nightly -Zsanitizer=address)"
    local log=$OUT/asan-rust.log
    # allocator_may_return_null: the out-of-memory tests ask for sizes no allocator can
    # give, which ASan otherwise reports as an error instead of failing the allocation.
    ASAN_OPTIONS=allocator_may_return_null=1 \
    RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
        cargo +nightly test --target "$TRIPLE" --lib --test ffi_view --test ffi_format --test ffi_export \
        --test ffi_acceptance --test ffi_custom_model --test ffi_teardown --test ffi_dlpack_hold --test ffi_io \
        --test small_copy_no_alloc 2>&1 | tee "$log" | grep -E "^test result|FAILED|ERROR|panicked"
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail "Rust tests under ASan"
    echo "== C tests under gcc -fsanitize=address,undefined"
    lib_release
    build_c_tests "$OUT/asan" target/release/libpybuf.a -O1 -fsanitize=address,undefined \
        -fno-omit-frame-pointer -fno-sanitize-recover=all
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_each "$OUT/asan" "sanitize (C, ASan+UBSan)"
}

step_valgrind() {
    command -v valgrind >/dev/null || { apt-get install -y valgrind >/dev/null || { fail "installing valgrind"; return; }; }
    lib_release
    build_c_tests "$OUT/valgrind" target/release/libpybuf.a -O1
    run_each "$OUT/valgrind" "valgrind" valgrind -q --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite
}

step_tsan() {
    need_nightly
    rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src' ||
        rustup component add rust-src --toolchain nightly || { fail "rustup component add rust-src"; return; }
    echo "== libpybuf.a with -Zsanitizer=thread (std rebuilt with it: -Zbuild-std)"
    RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan \
        cargo +nightly rustc --release --lib --crate-type staticlib -Zbuild-std --target "$TRIPLE" -q ||
        { fail "building libpybuf.a with TSan"; return; }
    local dir=$OUT/tsan
    mkdir -p "$dir"
    rm -f "$dir"/test_*
    # The C side is instrumented by gcc but linked with rustc's TSan runtime (LLVM's, the
    # one the Rust side was built for: gcc 12's libtsan lacks __tsan_memcpy/__tsan_memset).
    # All 10^6 operations of test_threads.c: fast enough under TSan.
    local rt
    rt=$(rustc +nightly --print sysroot)/lib/rustlib/$TRIPLE/lib/librustc-nightly_rt.tsan.a
    # test_copy_plan.c: copy plans' parts on the test's pthreads and on pybuf's own threads.
    local t
    for t in test_threads test_copy_plan; do
        "$CC" -std=c99 -Wall -Wextra -Werror -g -O1 -fsanitize=thread -Iinclude -c "c_tests/$t.c" \
            -o "$dir/$t.o" || { fail "compiling $t.c with TSan"; return; }
        "$CC" "$dir/$t.o" "target/tsan/$TRIPLE/release/libpybuf.a" -Wl,--whole-archive "$rt" \
            -Wl,--no-whole-archive -lpthread -ldl -lm -lstdc++ -o "$dir/$t" ||
            { fail "linking $t with TSan"; return; }
        rm -f "$dir/$t.o"
    done
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_each "$dir" "tsan"
}

case "${1:-all}" in
fuzz) step_fuzz "${2:-60}" ;;
miri) step_miri ;;
reach) step_reach ;;
sanitize) step_sanitize ;;
valgrind) step_valgrind ;;
tsan) step_tsan ;;
all)
    start=$SECONDS
    for s in sanitize valgrind tsan miri reach; do
        t=$SECONDS
        echo "=== $s"
        "step_$s"
        echo "--- $s took $((SECONDS - t)) s"
    done
    t=$SECONDS
    echo "=== fuzz (${2:-10} s per target)"
    step_fuzz "${2:-10}"
    echo "--- fuzz took $((SECONDS - t)) s"
    echo "check took $((SECONDS - start)) s"
    ;;
*) echo "usage: $0 fuzz [SECONDS] | miri | reach | sanitize | valgrind | tsan | all [SECONDS]" >&2; exit 2 ;;
esac
if [ "$status" -eq 0 ]; then echo "check: all passed"; else echo "check: FAILED"; fi
exit "$status"
