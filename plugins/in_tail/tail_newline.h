/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_newline.h - finding every newline of a read in one pass.
 *
 * A read of a whole chunk holds a thousand lines or so. Looking for each
 * line's newline with its own memchr() call pays the call's set-up and
 * its last, partial vector once per line; a finder instead walks the read
 * a block at a time (128 bytes with AVX2), turns each block into bit
 * masks of its newlines and lists their offsets. The caller then adds the
 * lines' records in one batch. Thread: any (no state).
 */
#ifndef TAIL_NEWLINE_H
#define TAIL_NEWLINE_H

#include <stddef.h>
#include <stdint.h>

/* Most offsets one call lists: the caller's array holds this many. */
#define TAIL_NEWLINE_MAX 256

/* Lists the offsets from s of the newlines of s[0, len), in order, in
 * at[0, TAIL_NEWLINE_MAX), and returns how many. *done is the length of
 * the prefix covered: every newline of s[0, *done) is listed and no other.
 * *done is len unless at[] is (nearly) full; the caller goes on from
 * s + *done. len is below 4 GiB. */
typedef uint32_t (*tail_newline_fn)(const char *s, size_t len, uint32_t *at,
                                    size_t *done);

/* The i-th finder this CPU runs, fastest first; NULL past the last,
 * which is a portable one. tail_newline_finder(0) is the one to use;
 * tests compare them all. */
tail_newline_fn tail_newline_finder(size_t i);

#endif
