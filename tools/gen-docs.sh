#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gen-docs.sh - regenerate docs/reference/<name>.md from the option tables
# compiled into build/logferry. With --check, change nothing and fail if a
# page differs from what the tables say (CI runs it that way).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${LF_BIN:-build/logferry}
check=0
[ "${1:-}" = "--check" ] && check=1
out=docs/reference
mkdir -p "$out"
status=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for name in service parser $("$bin" --list-plugins); do
    "$bin" --doc-plugin "$name" >"$tmp"
    page="$out/$name.md"
    if [ "$check" = 1 ]; then
        if ! cmp -s "$tmp" "$page"; then
            echo "gen-docs: $page is out of date; run tools/gen-docs.sh" >&2
            status=1
        fi
    else
        cp "$tmp" "$page"
    fi
done
exit $status
