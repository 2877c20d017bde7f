/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_newline.c - newline finders: AVX2 (x86-64, chosen at run time when
 * the CPU has it) and one memchr() per line (everywhere).
 *
 * The AVX2 finder looks at 128 bytes at a time: four 32-byte compares
 * against '\n', or'ed and tested once, so a block without a newline (most
 * of them when lines are long) costs a dozen instructions. A block with
 * newlines becomes two 64-bit masks whose set bits are listed lowest
 * first. The last, partial block is copied into a zeroed buffer and
 * handled like the others, so nothing is read past s + len. Before a block
 * with newlines the finder checks that at[] has room for a whole block's
 * worth, so a block is always listed whole and *done is a block boundary
 * when at[] fills.
 */
#include "tail_newline.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NEWLINE_HAS_AVX2 1
#endif

#ifdef NEWLINE_HAS_AVX2
/* Bytes the AVX2 finder looks at in one step. */
#define NEWLINE_BLOCK 128

/* Stores the offsets of the set bits of m, lowest first, at o: bit k is
 * the byte at base + k. Returns the end of what it stored. */
static inline uint32_t *newline_take(uint64_t m, uint32_t base, uint32_t *o)
{
    for (; m; m &= m - 1)
        *o++ = base + (uint32_t)__builtin_ctzll(m);
    return o;
}

/* The newline masks of the 128 bytes at p, lo of the first 64 and hi of
 * the others; returns 0, masks unset, when it has no newline. */
__attribute__((target("avx2"))) static inline int
newline_mask_avx2(const char *p, uint64_t *lo, uint64_t *hi)
{
    const __m256i nl = _mm256_set1_epi8('\n');
    const __m256i *v = (const __m256i *)(const void *)p;
    __m256i e0 = _mm256_cmpeq_epi8(_mm256_loadu_si256(v), nl);
    __m256i e1 = _mm256_cmpeq_epi8(_mm256_loadu_si256(v + 1), nl);
    __m256i e2 = _mm256_cmpeq_epi8(_mm256_loadu_si256(v + 2), nl);
    __m256i e3 = _mm256_cmpeq_epi8(_mm256_loadu_si256(v + 3), nl);
    __m256i any =
        _mm256_or_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e2, e3));

    if (_mm256_testz_si256(any, any))
        return 0;
    *lo = (uint64_t)(uint32_t)_mm256_movemask_epi8(e1) << 32 |
          (uint32_t)_mm256_movemask_epi8(e0);
    *hi = (uint64_t)(uint32_t)_mm256_movemask_epi8(e3) << 32 |
          (uint32_t)_mm256_movemask_epi8(e2);
    return 1;
}

__attribute__((target("avx2"))) static uint32_t
newline_find_avx2(const char *s, size_t len, uint32_t *at, size_t *done)
{
    _Alignas(32) char last[NEWLINE_BLOCK];
    const uint32_t *room_end = at + TAIL_NEWLINE_MAX - NEWLINE_BLOCK;
    size_t whole = len - len % NEWLINE_BLOCK;
    uint32_t *o = at;
    uint64_t lo, hi;
    size_t off;

    for (off = 0; off < whole; off += NEWLINE_BLOCK) {
        if (!newline_mask_avx2(s + off, &lo, &hi))
            continue;
        if (o > room_end)
            break;
        o = newline_take(lo, (uint32_t)off, o);
        o = newline_take(hi, (uint32_t)off + 64, o);
    }
    *done = off;
    if (off < whole || off == len)
        return (uint32_t)(o - at);
    memset(last, 0, sizeof(last));
    memcpy(last, s + off, len - off);
    if (!newline_mask_avx2(last, &lo, &hi)) {
        *done = len;
    } else if (o <= room_end) {
        o = newline_take(lo, (uint32_t)off, o);
        o = newline_take(hi, (uint32_t)off + 64, o);
        *done = len;
    }
    return (uint32_t)(o - at);
}

static int newline_has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

/* One memchr() per line: every platform, and the reference in tests. */
static uint32_t newline_find_memchr(const char *s, size_t len, uint32_t *at,
                                    size_t *done)
{
    const char *p = s, *end = s + len, *nl;
    uint32_t n = 0;

    while (n < TAIL_NEWLINE_MAX && p < end &&
           (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        at[n++] = (uint32_t)(nl - s);
        p = nl + 1;
    }
    *done = n == TAIL_NEWLINE_MAX ? (size_t)(p - s) : len;
    return n;
}

static int newline_always(void)
{
    return 1;
}

struct newline_finder {
    tail_newline_fn find;
    int (*is_runnable)(void);
};

/* Fastest first. */
static const struct newline_finder newline_finders[] = {
#ifdef NEWLINE_HAS_AVX2
    {newline_find_avx2, newline_has_avx2},
#endif
    {newline_find_memchr, newline_always},
};

tail_newline_fn tail_newline_finder(size_t i)
{
    size_t n = sizeof(newline_finders) / sizeof(newline_finders[0]);

    for (size_t k = 0; k < n; k++) {
        if (!newline_finders[k].is_runnable())
            continue;
        if (i == 0)
            return newline_finders[k].find;
        i--;
    }
    return NULL;
}
