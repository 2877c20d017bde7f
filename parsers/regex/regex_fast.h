/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex_fast.h - hand-written matchers for hot built-in regex patterns.
 *
 * A matcher answers for exactly one pattern text, as PCRE2 would (8-bit,
 * PCRE2_NEVER_UTF, no UCP, default character tables), or declines. The
 * regex engine looks one up at init by the pattern's text and, per line,
 * tries it before PCRE2: a decided line costs a few hundred instructions
 * instead of a JIT match; an undecided one goes to PCRE2 as before.
 */
#ifndef LF_REGEX_FAST_H
#define LF_REGEX_FAST_H

#include <stddef.h>
#include <stdint.h>

/* An unset group's offsets; equal to PCRE2_UNSET (checked in regex.c). */
#define LF_REGEX_FAST_UNSET SIZE_MAX

/* Matches s[0..n) (never reads s[n] or beyond; s may hold any bytes).
 * Returns what pcre2_match would return for a match: 1 + the number of
 * the highest group set, with ov[0..2 * rc) filled (start and end offsets
 * per group, LF_REGEX_FAST_UNSET for a group that did not take part).
 * Returns 0, "undecided", for anything else: no match, a shape the matcher
 * does not handle, or ov_pairs (the pairs ov holds) too small; ov's
 * contents are then unspecified and the caller asks PCRE2.
 * Thread: any; no state. */
typedef int (*lf_regex_fast_fn)(const char *s, size_t n, size_t *ov,
                                uint32_t ov_pairs);

/* The matcher whose pattern text is byte for byte `pattern`, or NULL
 * (also for NULL). */
lf_regex_fast_fn lf_regex_fast_find(const char *pattern);

#endif
