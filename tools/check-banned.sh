#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check-banned.sh - rejects calls to functions the style guide bans.
#
# Banned everywhere: sprintf vsprintf strcpy strcat strncpy strtok gets atoi
# atol system. Banned outside src/mem.c: raw malloc calloc realloc free (use
# lf_malloc() and friends). Comments, string and character literals are
# blanked first, so prose and messages never trip it; a member such as
# `host->free(p)` or `.malloc = f` is not a call of the C library function.
# Prints FILE:LINE: for each offender and exits 1 if there is any.
#
# Usage: tools/check-banned.sh [FILE-OR-DIR...]  (default: the C source dirs)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
    set -- src plugins parsers include tests
fi

files=()
for arg in "$@"; do
    if [ -d "$arg" ]; then
        while IFS= read -r -d '' f; do
            files+=("$f")
        done < <(find "$arg" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
    elif [ -f "$arg" ]; then
        files+=("$arg")
    fi
done
[ "${#files[@]}" -gt 0 ] || exit 0

perl -e '
    use strict;
    use warnings;
    my $banned = qr/(?<![\w.>\$])(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|gets|atoi|atol|system)\s*\(/;
    my $alloc = qr/(?<![\w.>\$])(malloc|calloc|realloc|free)\s*\(/;
    my $found = 0;
    for my $file (@ARGV) {
        open(my $fh, "<", $file) or die "check-banned: $file: $!\n";
        local $/;
        my $src = <$fh>;
        close($fh);
        my @raw = split /\n/, $src, -1;
        # Blank comments and literals, keeping newlines so lines still count.
        $src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}{
            my $m = $1; $m =~ s/[^\n]/ /g; $m }gse;
        my $is_mem = ($file =~ m{(^|/)src/mem\.c$});
        my $n = 0;
        for my $line (split /\n/, $src, -1) {
            $n++;
            my @hits;
            push @hits, $1 while $line =~ /$banned/g;
            if (!$is_mem) {
                push @hits, $1 while $line =~ /$alloc/g;
            }
            for my $name (@hits) {
                my $text = $raw[$n - 1];
                $text =~ s/^\s+//;
                print "$file:$n: banned call $name(): $text\n";
                $found = 1;
            }
        }
    }
    exit($found);
' "${files[@]}" || {
    echo "check-banned: use snprintf, lf_malloc/lf_free, strtol & co. (STYLE.md 5, 10)" >&2
    exit 1
}
