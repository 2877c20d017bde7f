/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_out.c - the JSON writer on the output hot path.
 *
 * A 256-entry class table sends plain ASCII through a copy loop; control
 * characters, quotes and backslashes are escaped; bytes >= 0x80 are checked
 * as UTF-8 sequences (overlongs, surrogates and values past U+10FFFF are
 * invalid) and each invalid byte becomes \ufffd. Keys go through the same
 * escaper, so a key from a JSON input cannot break the output either.
 * Strings without LFP_FIELD_ESCAPE and keys with LFP_FIELD_KEY_PLAIN are
 * copied as they are: their producer checked them once (a parser's names
 * at build time, an IP when it was parsed). A key with LFP_FIELD_KEY_FRAMED
 * is stored as the text ,"key": so separator, key and colon go out in one
 * 32-byte move.
 *
 * Fixed-size moves may write past the text they carry (a framed key, a
 * memoized number); the room checks allow for it, and the JSON_TAIL bytes
 * kept free at the end of the buffer take what follows the last field.
 */
#include "json_out.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "timeutil.h"

/* 0: copy, 1: escape (control, quote, backslash), 2: UTF-8 lead or junk */
static const unsigned char json_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];

    if (c >= 0xc2 && c <= 0xdf)
        return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* Copies n bytes (not a C string: no NUL is written). Keys and values
 * are short: two overlapping fixed-size moves inside [0, n) cost less than
 * a call to memcpy. */
static inline __attribute__((always_inline)) char *
json_put(char *o, const char *s, size_t n)
{
    if (n >= 8 && n < 16) { /* first: addresses, most unescaped values */
        memcpy(o, s, 8);
        memcpy(o + n - 8, s + n - 8, 8);
    } else if (n >= 16 && n <= 32) {
        memcpy(o, s, 16);
        memcpy(o + n - 16, s + n - 16, 16);
    } else if (n >= 4 && n < 8) {
        memcpy(o, s, 4);
        memcpy(o + n - 4, s + n - 4, 4);
    } else if (n > 32) {
        memcpy(o, s, n);
    } else {
        for (size_t i = 0; i < n; i++)
            o[i] = s[i];
    }
    return o + n;
}

/* A string literal: a copy of a known size. */
#define JSON_LIT(o, lit)                                                       \
    (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

static char *json_escape_one(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";

    *o++ = '\\';
    switch (c) {
    case '"':
        *o++ = '"';
        break;
    case '\\':
        *o++ = '\\';
        break;
    case '\n':
        *o++ = 'n';
        break;
    case '\r':
        *o++ = 'r';
        break;
    case '\t':
        *o++ = 't';
        break;
    case '\b':
        *o++ = 'b';
        break;
    case '\f':
        *o++ = 'f';
        break;
    default:
        o = JSON_LIT(o, "u00");
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    return o;
}

/* Whether none of the 8 bytes of w needs escaping or UTF-8 checking: no
 * byte below 0x20, no '"', no '\\', no byte >= 0x80. The bit tricks may
 * report a plain byte as special (a borrow from a lower byte), never the
 * reverse: the byte loop then decides, so the result is always right. */
static int json_word_plain(uint64_t w)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t ctl = (w - ones * 0x20) & ~w;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');

    quote = (quote - ones) & ~quote;
    bslash = (bslash - ones) & ~bslash;
    return ((ctl | quote | bslash | w) & high) == 0;
}

#ifdef __SSE2__
/* 0xff for each byte of v that is plain: not below 0x20, not '"', not
 * '\\', not >= 0x80. Flipping bit 1 moves '"' (0x22) to 0x20 and keeps
 * the control bytes below 0x20 and the high ones negative, so one signed
 * compare with 0x20 rules out all three kinds; only '\\' takes a compare
 * of its own. */
static inline __m128i json_vec_plain_bytes(__m128i v)
{
    __m128i above = _mm_cmpgt_epi8(_mm_xor_si128(v, _mm_set1_epi8(0x02)),
                                   _mm_set1_epi8(0x20));

    return _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), above);
}

/* One bit per byte of v that is not plain. */
static inline unsigned json_vec_special(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(json_vec_plain_bytes(v)) ^ 0xffffu;
}

/* Length of the run of plain bytes at the start of s[0..n): none below
 * 0x20, no '"', no '\\', none >= 0x80. Sixteen bytes at a time. */
static size_t json_plain_run(const unsigned char *s, size_t n)
{
    size_t i = 0, at;
    unsigned mask;

    for (;; i += 16) {
        if (i + 16 > n) {
            if (n < 16 || i == n)
                break;
            at = n - 16; /* the last 16 bytes, some already seen */
        } else {
            at = i;
        }
        mask = json_vec_special(
            _mm_loadu_si128((const __m128i *)(const void *)(s + at)));
        mask &= ~((1u << (i - at)) - 1); /* bytes before i were plain */
        if (mask)
            return at + (size_t)__builtin_ctz(mask);
        if (at != i)
            return n;
    }
    if (n >= 8 && i == 0) { /* 8 to 15 bytes: two words, overlapping */
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        if (json_word_plain(a) && json_word_plain(b))
            return n;
    }
    while (i < n && json_class[s[i]] == 0)
        i++;
    return i;
}
#else
static size_t json_plain_run(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, sizeof(w));
        if (!json_word_plain(w))
            break;
        i += 8;
    }
    while (i < n && json_class[s[i]] == 0)
        i++;
    return i;
}
#endif

static char *json_str_body(char *o, const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t run = i + json_plain_run(s + i, n - i);
        o = json_put(o, (const char *)s + i, run - i);
        i = run;
        if (i >= n)
            break;
        if (json_class[s[i]] == 1) {
            o = json_escape_one(o, s[i]);
            i++;
        } else {
            size_t len = json_utf8_len(s + i, n - i);
            if (len == 0) {
                o = JSON_LIT(o, "\\ufffd");
                i++;
            } else {
                memcpy(o, s + i, len);
                o += len;
                i += len;
            }
        }
    }
    return o;
}

int lf_json_plain(const char *s, size_t n)
{
    return json_plain_run((const unsigned char *)s, n) == n;
}

size_t lf_json_string(const char *s, size_t n, char *buf)
{
    char *o = buf;

    *o++ = '"';
    o = json_str_body(o, (const unsigned char *)s, n);
    *o++ = '"';
    return (size_t)(o - buf);
}

static const char json_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* The text of every u below 1000 without leading zeros, then its length
 * in the last byte: a row is moved whole (the byte past the text is
 * overwritten next). Filled once, by json_small_fill() through
 * pthread_once() from the first record of each writing thread. */
static char json_small[1000][4];
static pthread_once_t json_small_once = PTHREAD_ONCE_INIT;

static void json_small_fill(void)
{
    for (unsigned u = 0; u < 1000; u++) {
        unsigned len = u >= 100 ? 3 : u >= 10 ? 2 : 1, x = u;
        for (unsigned i = len; i-- > 0; x /= 10)
            json_small[u][i] = (char)('0' + x % 10);
        json_small[u][3] = (char)len;
    }
}

static const uint64_t json_pow10[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

/* Number of decimal digits of u. The count comes from the bit length:
 * 1233/4096 is just above log10(2), so t is the count or one more, and
 * one compare settles it. */
static inline int json_uint_digits(uint64_t u)
{
    uint64_t v = u | 1;
    int t = ((64 - __builtin_clzll(v)) * 1233) >> 12;

    return t + (v >= json_pow10[t]);
}

/* The n decimal digits of u, written in place from the right, two at a
 * time. */
static char *json_uint_pairs(char *o, uint64_t u, int n)
{
    char *p = o + n;

    while (u >= 100) {
        p -= 2;
        memcpy(p, json_digits2 + (u % 100) * 2, 2);
        u /= 100;
    }
    if (u >= 10)
        memcpy(p - 2, json_digits2 + u * 2, 2);
    else
        p[-1] = (char)('0' + u);
    return o + n;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The eight digits of v < 10^8, leading zeros included, as the word whose
 * bytes in memory are their values (json_8values) or their text. Lanes split in
 * one multiply each: four digits in 32 bits, then two in 16, then one per byte;
 * the constants divide exactly below 10^4 (10486 / 2^20 for 100) and 10^2 (103
 * / 2^10 for 10), and no lane's product reaches the next lane. A split is
 * q | (x - q * d) << s, written as (x << s) - q * ((d << s) - 1): one multiply
 * instead of a multiply, a shift and an or. */
static inline uint64_t json_8values(uint32_t v)
{
    uint64_t hi = v / 10000, q, x;

    x = ((uint64_t)v << 32) - hi * ((UINT64_C(10000) << 32) - 1);
    q = (x * 10486) >> 20 & UINT64_C(0x0000007f0000007f);
    x = (x << 16) - q * ((100 << 16) - 1);
    q = (x * 103) >> 10 & UINT64_C(0x000f000f000f000f);
    return (x << 8) - q * ((10 << 8) - 1);
}

static inline uint64_t json_8digits(uint32_t v)
{
    return json_8values(v) | UINT64_C(0x3030303030303030);
}

/* u >= 10^8: below 10^11 (durations in ns), the digits above the last
 * eight from json_small and those eight as one word; up to 16 digits as
 * two words of eight, the leading zeros shifted out; 8-byte stores within
 * the 40 bytes a number may take. Longer values (timestamps in ns and the
 * like) by the pair loop. */
static __attribute__((noinline)) char *json_uint_long(char *o, uint64_t u)
{
    int n;
    uint64_t w;

    if (u < UINT64_C(100000000000)) {
        uint64_t hi = u / 100000000;
        memcpy(o, json_small[hi], 4);
        o += json_small[hi][3];
        w = json_8digits((uint32_t)(u - hi * 100000000));
        memcpy(o, &w, 8);
        return o + 8;
    }
    n = json_uint_digits(u);
    if (n <= 16) {
        uint64_t hi = u / 100000000;
        w = json_8digits((uint32_t)hi) >> (8 * (16 - n));
        memcpy(o, &w, 8);
        w = json_8digits((uint32_t)(u - hi * 100000000));
        memcpy(o + n - 8, &w, 8);
        return o + n;
    }
    return json_uint_pairs(o, u, n);
}
#else
static __attribute__((noinline)) char *json_uint_long(char *o, uint64_t u)
{
    return json_uint_pairs(o, u, json_uint_digits(u));
}
#endif

static char *json_int_long(char *o, int64_t v);

/* Status codes, sizes, counts: mostly one to three digits, written
 * without the loop. With is_signed (a constant), u is an int64_t as it
 * is stored: a negative one is above every bound here and goes out of
 * line with the long ones, so the usual values take no test of the
 * sign. */
static inline __attribute__((always_inline)) char *
json_digits(char *o, uint64_t u, int is_signed)
{
    if (u < 1000) { /* its text and length in one row of json_small */
        memcpy(o, json_small[u], 4);
        return o + json_small[u][3];
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (u < 100000000) { /* sizes, durations in ns of up to 0.1 s */
        /* The leading zeros are the low zero bytes of the values. */
        uint64_t w = json_8values((uint32_t)u);
        unsigned zeros = (unsigned)__builtin_ctzll(w) & ~7u;
        w = (w | UINT64_C(0x3030303030303030)) >> zeros;
        memcpy(o, &w, 8);
        return o + 8 - (zeros >> 3);
    }
#endif
    return is_signed ? json_int_long(o, (int64_t)u) : json_uint_long(o, u);
}

static inline __attribute__((always_inline)) char *json_uint(char *o,
                                                             uint64_t u)
{
    return json_digits(o, u, 0);
}

static inline __attribute__((always_inline)) char *json_int(char *o, int64_t v)
{
    return json_digits(o, (uint64_t)v, 1);
}

/* The integers json_int() leaves: negative, or from 10^8 (10^3 without
 * the eight-digit step). */
static __attribute__((noinline)) char *json_int_long(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return json_uint(o, (uint64_t)0 - (uint64_t)v);
    }
    return json_uint_long(o, (uint64_t)v);
}

/* Fast path for the common case of log timings: d is m / 10^6 exactly
 * as IEEE division rounds it (so the decimal m/10^6 reads back as d).
 * Writes up to 6 decimals without trailing zeros; returns NULL if d is
 * not of that form. */
static char *json_double_micro(char *o, double d)
{
    double scaled = d * 1e6;
    int64_t m, ip, frac;
    char digits[6];
    int nd = 6;

    if (!(scaled > -9e15 && scaled < 9e15))
        return NULL;
    /* Round half away from zero, as llround, without the call: |scaled|
     * is far below 2^53, so adding 0.5 is exact enough to land on the
     * right side. */
    m = (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if ((double)m / 1e6 != d || (m == 0 && signbit(d)))
        return NULL;
    if (m < 0) {
        *o++ = '-';
        m = -m;
    }
    ip = m / 1000000;
    frac = m % 1000000;
    o = json_uint(o, (uint64_t)ip); /* m >= 0 now: |scaled| < 9e15 */
    if (frac == 0)
        return o;
    for (int i = 4; i >= 0; i -= 2) {
        memcpy(digits + i, json_digits2 + (frac % 100) * 2, 2);
        frac /= 100;
    }
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    *o++ = '.';
    memcpy(o, digits, sizeof(digits)); /* within the bound; nd count */
    return o + nd;
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static char *json_double_text(char *o, double d)
{
    char tmp[40];
    char *fast;
    int n;

    if (!isfinite(d)) {
        return JSON_LIT(o, "null");
    }
    fast = json_double_micro(o, d);
    if (fast)
        return fast;
    n = snprintf(tmp, sizeof(tmp), "%.15g", d);
    if (strtod(tmp, NULL) != d)
        n = snprintf(tmp, sizeof(tmp), "%.17g", d);
    memcpy(o, tmp, (size_t)n);
    o += n;
    /* JSON has no "1e+20" problem, but "inf"/"nan" were handled above. */
    return o;
}

/* The text of recent doubles, per thread: log timings take a few thousand
 * values, each written many times. Direct-mapped by the value's bits. A
 * slot is 32 bytes, its text (up to 16 bytes, as timings are) one 16-byte
 * move; every slot is valid (json_memo_seed()). The rare longer texts (up
 * to the 24 bytes of %.17g) have slots of their own, looked up on a miss,
 * where len 0 marks an empty one. */
#define JSON_MEMO 1024
#define JSON_MEMO_TEXT 16
#define JSON_MEMO_LONG 64
#define JSON_MEMO_LONG_TEXT 24

struct json_memo {
    char text[JSON_MEMO_TEXT];
    uint64_t bits;
    uint64_t len;
};

struct json_memo_long {
    uint64_t bits;
    uint64_t len;
    char text[JSON_MEMO_LONG_TEXT];
};

static _Thread_local struct json_memo json_memo[JSON_MEMO];
static _Thread_local struct json_memo_long json_memo_long[JSON_MEMO_LONG];

static inline uint64_t json_memo_hash(uint64_t bits)
{
    return (bits * UINT64_C(0x9e3779b97f4a7c15)) >> 54;
}

/* A miss: the text from the slots of long texts, or written the slow way
 * and kept. Takes the bits alone, so that the inline hit prepares nothing
 * for the call. */
static __attribute__((noinline)) char *json_double_miss(char *o, uint64_t bits)
{
    uint64_t h = json_memo_hash(bits);
    struct json_memo_long *ml = &json_memo_long[h % JSON_MEMO_LONG];
    struct json_memo *m = &json_memo[h % JSON_MEMO];
    size_t len;
    double d;

    if (ml->len && ml->bits == bits) {
        memcpy(o, ml->text, JSON_MEMO_LONG_TEXT);
        return o + ml->len;
    }
    memcpy(&d, &bits, sizeof(d));
    len = (size_t)(json_double_text(o, d) - o);
    if (len <= JSON_MEMO_TEXT) {
        m->bits = bits;
        m->len = len;
        memcpy(m->text, o, len);
    } else if (len <= JSON_MEMO_LONG_TEXT) {
        ml->bits = bits;
        ml->len = len;
        memcpy(ml->text, o, len);
    }
    return o + len;
}

/* Makes every slot of json_memo valid, so that the hit needs no test for
 * an empty one: an empty slot holds bits 0, which only +0.0 has, and +0.0
 * is always looked up in slot 0 (its hash is 0), which gets its text.
 * Thread: each writing thread, before its first double (json_open() calls
 * it with the thread's first record). */
static void json_memo_seed(void)
{
    char text[40];
    size_t len = (size_t)(json_double_text(text, 0.0) - text); /* "0" */

    json_memo[0].bits = 0;
    json_memo[0].len = len;
    memcpy(json_memo[0].text, text, len);
}

/* The hit, inline: most doubles of a log were written shortly before. */
static inline __attribute__((always_inline)) char *json_double(char *o,
                                                               double d)
{
    const struct json_memo *m;
    uint64_t bits;

    memcpy(&bits, &d, sizeof(bits));
    m = &json_memo[json_memo_hash(bits) % JSON_MEMO];
    if (m->bits == bits) { /* every slot is valid: json_memo_seed() */
        /* The whole text: within the 40 bytes a number may take. */
        memcpy(o, m->text, JSON_MEMO_TEXT);
        return o + m->len;
    }
    return json_double_miss(o, bits);
}

static char *json_value(char *o, const struct lfp_field *f);

/* Copies s[0..n) to o and returns the end if every byte is plain, else
 * returns NULL having written nothing past o + n. The blocks checked
 * are also the copy: 16 bytes at a time with SSE2, two blocks to a
 * test past 48 bytes (two overlapping blocks up to 32 bytes, two
 * overlapping halves of one below 16), or the three bytes of a short
 * string through the class table. */
/* json_put_if_plain() for 1 to 3 bytes: 0, n/2 and n-1 are all of them. */
static inline __attribute__((always_inline)) char *
json_put_short_if_plain(char *o, const char *s, size_t n)
{
    unsigned char c0 = (unsigned char)s[0], c1 = (unsigned char)s[n / 2],
                  c2 = (unsigned char)s[n - 1];

    if (json_class[c0] | json_class[c1] | json_class[c2])
        return NULL;
    o[0] = (char)c0;
    o[n / 2] = (char)c1;
    o[n - 1] = (char)c2;
    return o + n;
}

/* json_put_if_plain() for 0 to 7 bytes: two overlapping words from 4,
 * the three bytes of a shorter one through the class table. */
static inline __attribute__((always_inline)) char *
json_put_small_if_plain(char *o, const char *s, size_t n)
{
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        if (!json_word_plain((uint64_t)a | (uint64_t)b << 32))
            return NULL;
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
        return o + n;
    }
    return n >= 1 ? json_put_short_if_plain(o, s, n) : NULL;
}

#ifdef __SSE2__
static inline __attribute__((always_inline)) char *
json_put_if_plain(char *o, const char *s, size_t n)
{
    __m128i a, b;

    if (n >= 16) {
        if (n > 32) { /* two blocks at a time, the last overlapping */
            size_t i = 0;
            for (; i + 48 < n; i += 32) {
                a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                b = _mm_loadu_si128(
                    (const __m128i *)(const void *)(s + i + 16));
                if (_mm_movemask_epi8(_mm_and_si128(json_vec_plain_bytes(a),
                                                    json_vec_plain_bytes(b))) !=
                    0xffff)
                    return NULL;
                _mm_storeu_si128((__m128i *)(void *)(o + i), a);
                _mm_storeu_si128((__m128i *)(void *)(o + i + 16), b);
            }
            if (i + 32 < n) { /* 33 to 48 bytes left: one block */
                a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                if (json_vec_special(a))
                    return NULL;
                _mm_storeu_si128((__m128i *)(void *)(o + i), a);
                i += 16;
            }
            s += i; /* 17 to 32 bytes are left: the two blocks below */
            o += i;
            n -= i;
        }
        a = _mm_loadu_si128((const __m128i *)(const void *)s);
        b = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
        if (_mm_movemask_epi8(_mm_and_si128(json_vec_plain_bytes(a),
                                            json_vec_plain_bytes(b))) != 0xffff)
            return NULL;
        _mm_storeu_si128((__m128i *)(void *)o, a);
        _mm_storeu_si128((__m128i *)(void *)(o + n - 16), b);
        return o + n;
    }
    if (n >= 8) {
        a = _mm_loadl_epi64((const __m128i *)(const void *)s);
        b = _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8));
        if (json_vec_special(_mm_unpacklo_epi64(a, b)))
            return NULL;
        _mm_storel_epi64((__m128i *)(void *)o, a);
        _mm_storel_epi64((__m128i *)(void *)(o + n - 8), b);
        return o + n;
    }
    return json_put_small_if_plain(o, s, n);
}
#else
static inline __attribute__((always_inline)) char *
json_put_if_plain(char *o, const char *s, size_t n)
{
    if (n >= 8) {
        uint64_t a, b;
        for (size_t i = 0; i + 8 < n; i += 8) { /* all but the last word */
            memcpy(&a, s + i, 8);
            if (!json_word_plain(a))
                return NULL;
            memcpy(o + i, &a, 8);
        }
        memcpy(&b, s + n - 8, 8);
        if (!json_word_plain(b))
            return NULL;
        memcpy(o + n - 8, &b, 8);
        return o + n;
    }
    return json_put_small_if_plain(o, s, n);
}
#endif

/* A string value with its quotes. */
static inline __attribute__((always_inline)) char *
json_str(char *o, const char *s, size_t n, unsigned flags)
{
    char *end;

    *o++ = '"';
    if (!(flags & LFP_FIELD_ESCAPE))
        o = json_put(o, s, n); /* the producer vouches for it */
    else if ((end = json_put_if_plain(o, s, n)) != NULL)
        o = end;
    else
        o = json_str_body(o, (const unsigned char *)s, n);
    *o++ = '"';
    return o;
}

/* Strings and numbers, most values, inline; the rest by json_value. fv is
 * a copy of *f taken before anything was written: a store through o may
 * alias the field, so reading *f afterwards would load it again. */
static inline __attribute__((always_inline)) char *
json_scalar(char *o, const struct lfp_field *f, struct lfp_field fv)
{
    switch (fv.type) {
    case LFP_T_STR:
        return json_str(o, fv.v.s, fv.n, fv.flags);
    case LFP_T_INT:
        return json_int(o, fv.v.i);
    case LFP_T_FLOAT:
        return json_double(o, fv.v.d);
    default:
        return json_value(o, f);
    }
}

static __attribute__((noinline)) char *json_value(char *o,
                                                  const struct lfp_field *f)
{
    switch (f->type) {
    case LFP_T_STR:
    case LFP_T_INT:
    case LFP_T_FLOAT:
        return json_scalar(o, f, *f);
    case LFP_T_BOOL:
        memcpy(o, f->v.i ? "true" : "false", f->v.i ? 4 : 5);
        return o + (f->v.i ? 4 : 5);
    case LFP_T_JSON:
        memcpy(o, f->v.s, f->n);
        return o + f->n;
    case LFP_T_ARRAY:
        *o++ = '[';
        for (uint32_t i = 0; i < f->n; i++) {
            if (i)
                *o++ = ',';
            o = json_value(o, &f->v.arr[i]);
        }
        *o++ = ']';
        return o;
    default:
        return JSON_LIT(o, "null");
    }
}

static size_t json_array_bound(const struct lfp_field *f);

/* Room a value can take, escaped at worst. Inline for scalars, which are
 * most fields; arrays through json_array_bound. */
static inline size_t json_value_bound(const struct lfp_field *f)
{
    if (f->type == LFP_T_STR)
        return f->flags & LFP_FIELD_ESCAPE ? (size_t)f->n * 6 + 2
                                           : (size_t)f->n + 2;
    if (f->type == LFP_T_ARRAY)
        return json_array_bound(f);
    return f->type == LFP_T_JSON ? f->n : 40;
}

static size_t json_array_bound(const struct lfp_field *f)
{
    size_t n = 0;

    for (uint32_t i = 0; i < f->n; i++)
        n += json_value_bound(&f->v.arr[i]) + 1;
    return n + 2;
}

/* Room one field can take: ,"key": and its value. */
static inline size_t json_field_bound(const struct lfp_field *f)
{
    size_t key =
        f->flags & LFP_FIELD_KEY_PLAIN ? f->key_len : (size_t)f->key_len * 6;

    return key + 4 + json_value_bound(f);
}

/* Room for the opening up to the first field, and for the marks and the
 * closing brace after the last. */
#define JSON_HEAD (16 + LF_TIME_ISO_LEN)
#define JSON_TAIL 96

/* The opening of the last record this thread wrote, {"@timestamp":"..."
 * (JSON_HEAD bytes, zeros after): the records of a batch mostly share
 * their time, to the second in most access logs. */
#define JSON_HEAD_MOVE 48
_Static_assert(JSON_HEAD_MOVE <= JSON_HEAD + JSON_TAIL,
               "the opening is moved whole into the smallest buffer");

struct json_head {
    int64_t ts_ns;
    int is_set;
    char text[JSON_HEAD_MOVE];
};

static _Thread_local struct json_head json_head;

/* Writes the opening for ts_ns, JSON_HEAD_MOVE bytes in all (the room
 * check at the start allows for them). */
static inline __attribute__((always_inline)) char *json_open(char *o,
                                                             int64_t ts_ns)
{
    struct json_head *h = &json_head;

    if (h->ts_ns != ts_ns || !h->is_set) {
        if (!h->is_set) { /* the thread's first record */
            /* Fails only with an invalid argument. */
            (void)pthread_once(&json_small_once, json_small_fill);
            json_memo_seed(); /* its text takes json_small */
        }
        memcpy(h->text, "{\"@timestamp\":\"", 15);
        lf_time_format_iso(ts_ns, h->text + 15);
        h->text[JSON_HEAD - 1] = '"';
        h->ts_ns = ts_ns;
        h->is_set = 1;
    }
    memcpy(o, h->text, JSON_HEAD_MOVE);
    return o + JSON_HEAD;
}

size_t lf_json_record_bound(const struct lfp_record *rec)
{
    size_t n = JSON_HEAD + JSON_TAIL + 16 + (size_t)rec->raw_len * 6;

    for (uint32_t i = 0; i < rec->nfields; i++)
        n += json_field_bound(&rec->fields[i]);
    return n;
}

/* Whether b's text is a's: same type, size, escaping and bits (a string
 * at the same address, the same number). key_len, type, flags and n fill
 * one word: type, n and the escape flag are compared in it under a mask
 * built from a field, so the byte order does not matter. */
_Static_assert(offsetof(struct lfp_field, type) ==
                       offsetof(struct lfp_field, key_len) + 2 &&
                   offsetof(struct lfp_field, flags) ==
                       offsetof(struct lfp_field, key_len) + 3 &&
                   offsetof(struct lfp_field, n) ==
                       offsetof(struct lfp_field, key_len) + 4,
               "key_len, type, flags and n are one word");

static inline int json_same_value(const struct lfp_field *a,
                                  const struct lfp_field *b)
{
    static const struct lfp_field mask = {
        .type = 0xff, .flags = LFP_FIELD_ESCAPE, .n = UINT32_MAX};
    const size_t at = offsetof(struct lfp_field, key_len);
    uint64_t wa, wb, wm, va, vb;

    memcpy(&wm, (const char *)&mask + at, sizeof(wm));
    memcpy(&wa, (const char *)a + at, sizeof(wa));
    memcpy(&wb, (const char *)b + at, sizeof(wb));
    memcpy(&va, &a->v, sizeof(va));
    memcpy(&vb, &b->v, sizeof(vb));
    return va == vb && ((wa ^ wb) & wm) == 0;
}

/* Copies the 32 bytes at src to o. The two ranges may overlap: every
 * byte is loaded before the first store. */
static inline __attribute__((always_inline)) void json_move32(char *o,
                                                              const char *src)
{
#ifdef __SSE2__
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));

    _mm_storeu_si128((__m128i *)(void *)o, a);
    _mm_storeu_si128((__m128i *)(void *)(o + 16), b);
#else
    uint64_t w[4];

    memcpy(w, src, sizeof(w));
    memcpy(o, w, sizeof(w));
#endif
}

#define JSON_NO_TEXT UINTPTR_MAX

/* After the key of array field f (fv, its copy), within the room of a
 * field written inline: an array of one value equal to the field before
 * f is written as the text from prev_at to prev_end again, other arrays
 * of one value inline, the rest by json_value. prev_at is the address of
 * that text, or JSON_NO_TEXT when there is none: then prev_end - prev_at
 * wraps to prev_end + 1, far above 32, and one compare rules out both
 * (JSON_NO_TEXT rather than 0, which the analyzer takes for a null
 * pointer that could reach the move). The count is read from f, not fv:
 * the copy would keep a second register holding n alive through the
 * loop. NULL when the room left cannot take it. */
static inline __attribute__((always_inline)) char *
json_array_field(char *o, const char *end, const struct lfp_field *f,
                 struct lfp_field fv, uintptr_t prev_at, const char *prev_end)
{
    const struct lfp_field *v = fv.v.arr;
    size_t len = (uintptr_t)prev_end - prev_at;

    /* Before the store of '[', which might alias the fields. A value
     * equal to the one before f is no array (prev_at would be
     * JSON_NO_TEXT). */
    if (f->n == 1 && len <= 32 && json_same_value(f - 1, v)) {
        /* The text is in buf, before o: 32 bytes from it are in buf too,
         * and the room of a framed field takes them; the moved bytes past
         * len are overwritten next. */
        *o = '[';
        json_move32(o + 1, (const char *)prev_at);
        o[len + 1] = ']';
        return o + len + 2;
    }
    if (f->n == 1 && v->type != LFP_T_ARRAY &&
        (uintptr_t)o + ((size_t)v->n << 3) + 48 <= (uintptr_t)end) {
        *o++ = '[';
        o = json_scalar(o, v, *v);
        *o++ = ']';
        return o;
    }
    if ((size_t)(end - o) < json_value_bound(f))
        return NULL;
    return json_value(o, f);
}

/* Room a field written inline can take beyond 8 bytes per byte of its
 * value (and of its key unless framed): the framed key's 32-byte move, a
 * number's 40 bytes, the quotes or brackets, each fixed-size move past
 * the text. */
#define JSON_FRAMED_ROOM 80

/* One field the general way, its room checked exactly: a key that is not
 * framed (escaped unless plain), or any field near the end of the room.
 * NULL when the room left cannot take it. */
static __attribute__((noinline)) char *
json_field_slow(char *o, const char *end, const struct lfp_field *f)
{
    if ((size_t)(end - o) < json_field_bound(f))
        return NULL;
    if (f->flags & LFP_FIELD_KEY_FRAMED) {
        json_move32(o, f->key - 2);
        o += f->key_len + 4;
    } else {
        o = JSON_LIT(o, ",\"");
        if (f->flags & LFP_FIELD_KEY_PLAIN)
            o = json_put(o, f->key, f->key_len);
        else
            o = json_str_body(o, (const unsigned char *)f->key, f->key_len);
        o = JSON_LIT(o, "\":");
    }
    return json_value(o, f);
}

/* Marks of the record after its fields, and the raw line when it has
 * none. NULL when the room left cannot take the line. */
static __attribute__((noinline)) char *json_marks(char *o, const char *end,
                                                  const struct lfp_record *rec)
{
    if (rec->nfields == 0) {
        if ((size_t)(end - o) < (size_t)rec->raw_len * 6 + 16)
            return NULL;
        o = JSON_LIT(o, ",\"message\":\"");
        o = json_str_body(o, (const unsigned char *)rec->raw, rec->raw_len);
        *o++ = '"';
    }
    if (rec->flags & LFP_REC_PARSE_ERROR)
        o = JSON_LIT(o, ",\"error.type\":\"parse_error\"");
    else if (rec->flags & LFP_REC_TIME_ERROR)
        o = JSON_LIT(o, ",\"error.type\":\"time_parse_error\"");
    if (rec->flags & LFP_REC_TRUNCATED)
        o = JSON_LIT(o, ",\"log.truncated\":true");
    return o;
}

/* One pass. A field is written inline when the room left takes 8 bytes
 * per byte of its key (unless framed) and value, and JSON_FRAMED_ROOM
 * more: a framed key in one move, a short plain key copied, strings,
 * numbers and arrays of one value inline. Other keys, and any field near
 * the end of buf, go through json_field_slow() and its exact bound. */
size_t lf_json_record_cap(const struct lfp_record *rec, char *buf, size_t cap)
{
    const struct lfp_field *f = rec->fields, *fend = f + rec->nfields;
    char *o = buf, *end;
    /* The address of the text of the value before f, JSON_NO_TEXT if that
     * was an array or went the slow way (or f is the first): it serves
     * again for an array of one equal value (a list's last attempt is
     * written as a scalar and then as the array,
     * "upstream.response_time":0.025 then "upstream.response_times":
     * [0.025]). It ends where f's key starts. */
    uintptr_t prev_at = JSON_NO_TEXT;

    if (cap < JSON_HEAD + JSON_TAIL)
        return 0;
    end = buf + (cap - JSON_TAIL);
    o = json_open(o, rec->ts_ns);
    for (; f < fend; f++) {
        const struct lfp_field fv = *f;
        char *start = o;
        uintptr_t text_at;

        /* o <= end: comparing addresses is the room check. A field that
         * fails it, or whose key must be escaped or is long, goes to
         * slow (a jump: the flag a loop without it needs costs a test
         * per field). */
        if (fv.flags & LFP_FIELD_KEY_FRAMED) {
            if ((uintptr_t)o + ((size_t)fv.n << 3) + JSON_FRAMED_ROOM >
                (uintptr_t)end)
                goto slow;
            /* ,"key": and what follows, 32 bytes; the value overwrites
             * the excess. */
            json_move32(o, fv.key - 2);
            o += fv.key_len + 4;
        } else if ((fv.flags & LFP_FIELD_KEY_PLAIN) && fv.key_len <= 32 &&
                   (uintptr_t)o + (((size_t)fv.key_len + fv.n) << 3) +
                           JSON_FRAMED_ROOM <=
                       (uintptr_t)end) {
            o = JSON_LIT(o, ",\"");
            o = json_put(o, fv.key, fv.key_len);
            o = JSON_LIT(o, "\":");
        } else {
            goto slow;
        }
        text_at = (uintptr_t)o;
        if (fv.type == LFP_T_STR) {
            o = json_str(o, fv.v.s, fv.n, fv.flags);
        } else if (fv.type == LFP_T_INT) {
            o = json_int(o, fv.v.i);
        } else if (fv.type == LFP_T_ARRAY) {
            o = json_array_field(o, end, f, fv, prev_at, start);
            if (!o)
                return 0;
            text_at = JSON_NO_TEXT;
        } else if (fv.type == LFP_T_FLOAT) {
            o = json_double(o, fv.v.d);
        } else {
            o = json_value(o, f);
            text_at = JSON_NO_TEXT;
        }
        prev_at = text_at;
        continue;
    slow:
        o = json_field_slow(o, end, f);
        if (!o)
            return 0;
        prev_at = JSON_NO_TEXT;
    }
    if (rec->nfields == 0 ||
        (rec->flags &
         (LFP_REC_PARSE_ERROR | LFP_REC_TIME_ERROR | LFP_REC_TRUNCATED))) {
        o = json_marks(o, end, rec);
        if (!o)
            return 0;
    }
    *o++ = '}';
    return (size_t)(o - buf);
}

size_t lf_json_record(const struct lfp_record *rec, char *buf)
{
    /* The bound, not SIZE_MAX: the end of the room must be an address. */
    return lf_json_record_cap(rec, buf, lf_json_record_bound(rec));
}
