/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values_read.h - the readers of the common value forms, inline: a
 * status or a size, "d.ddd" timings, short decimals, an address and
 * port without a blank, a dotted quad, a plain IPv6 address. Each checks its
 * form in one pass and answers -1 (or 0) for anything else, which the caller
 * hands to the general conversion in values.c. Shared by values.c (the
 * handlers) and values_groups.c (a line's groups in one walk).
 */
#ifndef LF_VALUES_READ_H
#define LF_VALUES_READ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline int values_is_dash(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '-');
}

/* values.c's values_to_int_short() for 1 to 18 digits without a sign (a
 * status, a size): the only checks the loop needs are the length and the
 * bytes; three digits, the status codes, without the loop. */
static inline __attribute__((always_inline)) int
values_to_uint_short(const char *s, size_t n, int64_t *v)
{
    const unsigned char *b = (const unsigned char *)s;
    uint64_t u = 0;

    if (n == 3) { /* a status: three checks and no loop */
        unsigned d0 = b[0] - '0', d1 = b[1] - '0', d2 = b[2] - '0';

        if (d0 > 9 || d1 > 9 || d2 > 9)
            return -1;
        *v = d0 * 100 + d1 * 10 + d2;
        return 0;
    }
    if (n - 1 > 18 - 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t digit = (uint64_t)(unsigned char)s[i] - '0';
        if (digit > 9)
            return -1;
        u = u * 10 + digit;
    }
    *v = (int64_t)u;
    return 0;
}

/* The common case without strtod: [+-]digits[.digits] whose digits make
 * an integer m below 2^53, at most 16 of them. m and 10^k are exact
 * doubles, so m / 10^k is correctly rounded, as strtod would be. One pass
 * over the bytes: the lengths give the digit counts. */
static inline int values_fast_float(const char *s, size_t n, double *d)
{
    static const double pow10[17] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                     1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16};
    const char *p = s, *end = s + n, *start;
    size_t frac = 0, has_point = 0, digits;
    uint64_t m = 0, c;

    /* A sign, 16 digits and a point at most; 18 digits cannot overflow m
     * before the count below rejects them. */
    if (n == 0 || n > 18)
        return -1;
    if (*p == '-' || *p == '+')
        p++;
    start = p;
    for (; p < end && (c = (uint64_t)(unsigned char)*p - '0') <= 9; p++)
        m = m * 10 + c;
    if (p < end) {
        if (*p++ != '.')
            return -1;
        has_point = 1;
        frac = (size_t)(end - p);
        for (; p < end && (c = (uint64_t)(unsigned char)*p - '0') <= 9; p++)
            m = m * 10 + c;
        if (p < end)
            return -1;
    }
    digits = (size_t)(end - start) - has_point;
    if (digits == 0 || digits > 16 || m > (UINT64_C(1) << 53))
        return -1;
    *d = (double)m / pow10[frac];
    if (s[0] == '-')
        *d = -*d;
    return 0;
}

/* "d.ddd" or "dd.ddd", in thousandths: how nginx writes $request_time
 * and the $upstream_*_time values, four of them a line. Straight-line
 * checks of the five or six bytes, where the general loops spend a
 * branch per byte; the integer is the m of values_fast_float() and the
 * point is three digits from the end, so m / 1e3 is its double, and
 * m * 10^(6 - unit) ns its duration in units of 10^-unit s (unit <= 6). */
static inline __attribute__((always_inline)) int
values_to_milli(const char *s, size_t n, unsigned *milli)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned w, a, b, c;

    if (n - 5 > 1 || u[n - 4] != '.')
        return -1;
    w = u[0] - '0';
    a = u[n - 3] - '0';
    b = u[n - 2] - '0';
    c = u[n - 1] - '0';
    if (w > 9 || a > 9 || b > 9 || c > 9)
        return -1;
    if (n == 6) {
        unsigned w1 = u[1] - '0';
        if (w1 > 9)
            return -1;
        w = w * 10 + w1;
    }
    *milli = w * 1000 + a * 100 + b * 10 + c; /* at most 99,999 */
    return 0;
}

/* Whether s[0..n), 8 to 16 bytes (an upstream address and port), holds
 * a blank: two overlapping words, each tested for a byte equal to ' ' (a
 * zero byte of w ^ blanks) at once, where memchr's call and set-up cost
 * more. */
static inline int values_has_blank_8_16(const char *s, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t blanks = ones * ' ';
    uint64_t a, b;

    memcpy(&a, s, sizeof(a));
    memcpy(&b, s + n - sizeof(b), sizeof(b));
    a ^= blanks;
    b ^= blanks;
    return ((((a - ones) & ~a) | ((b - ones) & ~b)) & (ones << 7)) != 0;
}

/* What s[0..n), 8 to 16 bytes (an upstream address and port), holds:
 * -1 a blank (not one attempt), 0 nothing a JSON string must escape or
 * check (no byte below 0x21, no '"', no '\\', no byte >= 0x80), 1
 * another such byte. With SSE2 the common answer, 0, takes the two
 * overlapping words in one vector: a signed compare with ' ' rules out
 * the control bytes, the blank and the high bytes at once, two compares
 * the quote and the backslash; it is exact, so anything else holds a
 * blank or a byte to escape, and values_has_blank_8_16() tells which. */
static inline int values_attempt_8_16(const char *s, size_t n)
{
#ifdef __SSE2__
    __m128i v = _mm_unpacklo_epi64(
        _mm_loadl_epi64((const __m128i *)(const void *)s),
        _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8)));
    __m128i odd = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    __m128i plain =
        _mm_andnot_si128(odd, _mm_cmpgt_epi8(v, _mm_set1_epi8(' ')));

    if (_mm_movemask_epi8(plain) == 0xffff)
        return 0;
    return values_has_blank_8_16(s, n) ? -1 : 1;
#else
    if (values_has_blank_8_16(s, n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return 1;
    }
    return 0;
#endif
}

/* Whether s[0..n), 8 to 15 bytes, is a dotted quad: what
 * values_ipv4_prefix(s, n, bin) == n says, for the common client
 * address. The bytes are moved with two overlapping word loads into a
 * buffer that ends in a byte neither digit nor '.', so the parts are read
 * without a bound check per byte: no part runs past it. */
static inline int values_is_quad(const char *s, size_t n)
{
    unsigned char u[24];
    uint64_t lo, hi;
    size_t i = 0;

    memcpy(&lo, s, sizeof(lo));
    memcpy(&hi, s + n - sizeof(hi), sizeof(hi));
    memcpy(u, &lo, sizeof(lo));
    memcpy(u + n - sizeof(hi), &hi, sizeof(hi));
    u[n] = 0;
    for (int part = 0; part < 4; part++) {
        unsigned d0 = u[i] - '0', d1, d2;

        if (d0 > 9)
            return 0;
        d1 = u[i + 1] - '0';
        if (d1 > 9) {
            i += 1;
        } else {
            /* a leading zero is the whole part */
            if (d0 == 0)
                return 0;
            d2 = u[i + 2] - '0';
            if (d2 > 9) {
                i += 2;
            } else {
                if (d0 * 100 + d1 * 10 + d2 > 255)
                    return 0;
                i += 3;
            }
        }
        if (part < 3 && u[i++] != '.')
            return 0;
    }
    return i == n;
}

static inline int values_is_hex(unsigned char c)
{
    return (unsigned)(c - '0') < 10 || (unsigned)((c | 0x20) - 'a') < 6;
}

/* Whether s[0..n) is an IPv6 address in its plain form: groups of one to
 * four hex digits between single colons, eight of them, or at most seven
 * with one "::" (at either end too). inet_pton() reads every such string
 * as an address; this says so without its copy and call. Any other form
 * (an IPv4 tail, a longer group, a stray colon) is not plain, and is left
 * to inet_pton(). */
static inline int values_ipv6_is_plain(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    int has_gap = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        has_gap = 1;
        i = 2;
    }
    while (i < n) {
        size_t start = i;

        while (i < n && i - start < 5 && values_is_hex((unsigned char)s[i]))
            i++;
        if (i == start || i - start > 4)
            return 0;
        groups++;
        if (i == n)
            break;
        if (s[i++] != ':' || i == n) /* not a colon, or one at the end */
            return 0;
        if (s[i] == ':') {
            if (has_gap)
                return 0;
            has_gap = 1;
            i++;
        }
    }
    return has_gap ? groups <= 7 : groups == 8;
}

#endif
