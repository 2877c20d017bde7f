#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test.sh - everything CI checks, in order, on any machine:
#   1. tools/setup.sh   install what is missing
#   2. tools/lint.sh    clang-format, cppcheck, clang-tidy, banned functions
#   3. build/           RelWithDebInfo, -Werror; docs/reference up to date
#                       (tools/gen-docs.sh --check); ctest, every label
#   4. build-asan/      Debug with ASan+UBSan, -Werror; ctest, every label
#                       but "services" (real Kafka/OpenSearch/Prometheus)
# Every step runs even after a failure, so one run shows all problems. Ends
# with "N passed, N failed": the ctest results of both builds, plus one
# failure for each step that failed outside ctest (lint, configure, build,
# docs).
# Exits 0 only if everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
logdir=$(mktemp -d "${TMPDIR:-/tmp}/logferry-test.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

passed=0
failed=0
failed_steps=()
start_all=$SECONDS

test_step() {
    echo
    echo "==== $* ===="
}

test_fail_step() {
    failed=$((failed + 1))
    failed_steps+=("$1")
    echo "test.sh: step failed: $1" >&2
}

# Runs ctest in build dir $1 (name $2), adds its counts to the totals;
# further arguments go to ctest (e.g. -LE services).
test_ctest() {
    local dir=$1 name=$2 log="$logdir/ctest-$2.log" line p f total
    shift 2
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 |
        tee "$log"
    if grep -q 'No tests were found' "$log"; then
        echo "test.sh: $name: ctest found no tests" >&2
        test_fail_step "ctest $name (no tests)"
        return
    fi
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        test_fail_step "ctest $name (no result line)"
        return
    fi
    f=$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
    p=$((total - f))
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || failed_steps+=("ctest $name ($f of $total)")
}

# Configures build dir $1 (name $2) with the remaining cmake args.
test_configure() {
    local dir=$1 name=$2
    shift 2
    if ! cmake -S . -B "$dir" "$@" >"$logdir/configure-$name.log" 2>&1; then
        cat "$logdir/configure-$name.log"
        test_fail_step "configure $name"
        return 1
    fi
}

# Builds a configured dir $1 (name $2), keeping going past errors so that
# the tests of everything that does build still run; returns non-zero on
# failure.
test_build() {
    local dir=$1 name=$2 keep=-k
    grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt" && keep="-k 0"
    # shellcheck disable=SC2086
    if ! cmake --build "$dir" -j "$jobs" -- $keep >"$logdir/build-$name.log" 2>&1; then
        # The compiler's messages, without the progress lines.
        grep -v -E '^\[ *[0-9]+%\]' "$logdir/build-$name.log" | tail -n 80
        test_fail_step "build $name"
        return 1
    fi
    echo "built $dir"
}

test_step "setup"
if ! bash tools/setup.sh; then
    echo "test.sh: setup failed; cannot build or test" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# Configure first: LF_TIDY=1 lint reads build/compile_commands.json.
test_step "configure build/"
test_configure build release -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLF_WERROR=ON -DLF_SANITIZE=
release_ok=$?

test_step "lint"
# clang-tidy is part of CI's lint (STYLE.md section 10); LF_TIDY=0 skips it
# for a quicker local run.
LF_TIDY=${LF_TIDY:-1} bash tools/lint.sh || test_fail_step lint

test_step "build/ (RelWithDebInfo, -Werror) and its tests"
t0=$SECONDS
if [ "$release_ok" = 0 ]; then
    test_build build release
    # The plugin reference in docs/ must match the option tables.
    if [ -f tools/gen-docs.sh ] && [ -x build/logferry ]; then
        LF_BIN=build/logferry bash tools/gen-docs.sh --check ||
            test_fail_step "docs/reference out of date (tools/gen-docs.sh)"
    fi
    test_ctest build release
fi
echo "release: $((SECONDS - t0)) s"

test_step "build-asan/ (Debug, ASan+UBSan, -Werror) and its tests"
t0=$SECONDS
if test_configure build-asan asan -DCMAKE_BUILD_TYPE=Debug -DLF_WERROR=ON \
    -DLF_SANITIZE=address,undefined; then
    test_build build-asan asan
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        LF_SANITIZED=1 test_ctest build-asan asan -LE services
fi
echo "asan: $((SECONDS - t0)) s"

echo
echo "==== summary ($((SECONDS - start_all)) s) ===="
if [ "${#failed_steps[@]}" -gt 0 ]; then
    printf 'failed: %s\n' "${failed_steps[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#failed_steps[@]}" -eq 0 ]
