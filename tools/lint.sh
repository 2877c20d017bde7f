#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# lint.sh - the static checks CI requires (STYLE.md section 10):
#   clang-format  layout of every .c/.h (dry run, any difference fails)
#   cppcheck      warning, performance and portability findings
#   check-banned  banned functions (tools/check-banned.sh)
#   clang-tidy    the root .clang-tidy, when LF_TIDY=1; it needs
#                 build/compile_commands.json (any configured build/ has it)
# Runs every check, then exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()

# Existing C files under the given folders, NUL-separated, sorted.
lint_sources() {
    local dirs=()
    for d in "$@"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    [ "${#dirs[@]}" -gt 0 ] || return 0
    find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z
}

mapfile -d '' fmt_files < <(lint_sources src plugins parsers include tests)
if [ "${#fmt_files[@]}" -gt 0 ]; then
    fmt_log=$(mktemp)
    if ! clang-format --dry-run --Werror "${fmt_files[@]}" 2>"$fmt_log"; then
        failed+=(clang-format)
        # The first findings, then every file that needs `clang-format -i`.
        head -n 30 "$fmt_log" >&2
        echo "lint: clang-format: these files differ from .clang-format layout:" >&2
        grep -o '^[^:]*:[0-9]*:[0-9]*: error: code should be clang-formatted' "$fmt_log" |
            cut -d: -f1 | sort | uniq -c | awk '{ printf "  %s (%d %s)\n", $2, $1, $1 == 1 ? "place" : "places" }' >&2
    fi
    rm -f "$fmt_log"
fi

mapfile -d '' check_files < <(lint_sources src plugins parsers)
c_files=()
for f in "${check_files[@]}"; do
    [[ "$f" == *.c ]] && c_files+=("$f")
done
if [ "${#c_files[@]}" -gt 0 ]; then
    # Plugins and parsers find their own headers beside them.
    declare -A seen=()
    incs=(-I include -I src)
    for f in "${c_files[@]}"; do
        d=$(dirname "$f")
        if [ -z "${seen[$d]:-}" ]; then
            seen[$d]=1
            incs+=(-I "$d")
        fi
    done
    if ! cppcheck --enable=warning,performance,portability --error-exitcode=1 \
        --inline-suppr -q --std=c11 -D_GNU_SOURCE -j "$(nproc)" \
        "${incs[@]}" "${c_files[@]}"; then
        failed+=(cppcheck)
    fi
fi

if ! bash tools/check-banned.sh; then
    failed+=(check-banned)
fi

if [ "${LF_TIDY:-0}" = 1 ]; then
    if [ ! -f build/compile_commands.json ]; then
        echo "lint: clang-tidy needs build/compile_commands.json: configure build/ first" >&2
        failed+=(clang-tidy)
    elif [ "${#c_files[@]}" -gt 0 ]; then
        # The compile commands carry gcc-only warning flags; clang ignores them.
        tidy_err=$(mktemp)
        # A few files per process, one process per core.
        if ! printf '%s\0' "${c_files[@]}" |
            xargs -0 -n 4 -P "$(nproc)" clang-tidy -p build --quiet \
                --extra-arg=-Wno-unknown-warning-option 2>"$tidy_err"; then
            grep -v -e 'warnings\? generated' -e '^Suppressed' "$tidy_err" >&2
            failed+=(clang-tidy)
        fi
        rm -f "$tidy_err"
    fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "lint: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "lint: ok (clang-format, cppcheck, check-banned$([ "${LF_TIDY:-0}" = 1 ] && echo ', clang-tidy'))"
