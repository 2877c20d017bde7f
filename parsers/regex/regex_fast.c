/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex_fast.c - hand-written matchers for hot built-in regex patterns:
 * today nginx_upstream's (parsers/defs/nginx.conf), which PCRE2's JIT
 * matches in ~2,500 instructions per typical line.
 *
 * A matcher is bound to the exact text of its pattern (regex_fast_table): any
 * edit to the pattern makes lf_regex_fast_find() return NULL and the
 * parser runs on PCRE2 alone, and test_regex_fast fails on the built-in
 * definition until the matcher here is updated to the new text.
 *
 * Semantics copied from PCRE2 (8-bit, PCRE2_NEVER_UTF, no UCP, default
 * character tables; test_regex_fast checks every byte value against
 * PCRE2):
 *   \S       any byte but \t \n \v \f \r and space
 *   [^\s"]   the same, and not "
 *   [^"]*    any byte but " (NUL, control and high bytes included)
 *   [^\]]+   any byte but ]
 *   \d       0-9
 *   $        the end, or before a final \n: a line with a final \n is
 *            left undecided rather than emulated.
 * Control bytes other than the five of \s, NUL, and bytes 0x80-0xff are
 * ordinary bytes to all these classes, and are matched as such.
 *
 * Why scanning to the first delimiter gives PCRE2's answer. The pattern
 * is anchored (^), so a match starts at 0 and PCRE2 returns the first
 * match in its backtracking order; if a pattern can match a subject in
 * one way only, that is the match. Here every quantified item can end at
 * one place only:
 *   - (\S+) followed by a space, ([^\s"]+) followed by a space or by ",
 *     ([^"]*) and ([^\]]+) followed by " or ]: the class excludes the byte
 *     that must follow, so the run can only end at the first byte outside
 *     the class; the greedy run ends there too, and giving bytes back
 *     would put a class byte where the delimiter must be. This is PCRE2's
 *     own auto-possessification of these items.
 *   - (\d{3}) is fixed; (\d+) is followed by a space (not a digit).
 *   - "(?:A|B)": B is ([^"]*) then ", so B ends at the first " after the
 *     opening one. A's items exclude " and its last item must be followed
 *     by ", so A, when it matches, ends at that same first ". Both
 *     alternatives leave the rest of the pattern the same subject to
 *     match from the same offset: if A matches its part, PCRE2 keeps A
 *     (groups 4-6 set, 7 unset), and if the rest then fails it fails
 *     after B as well. If A does not match its part (each of its runs
 *     being forced, it matches in one way or not at all), B does: group 7
 *     set, 4-6 unset.
 * So each step below scans to its delimiter and checks the literal after
 * it; any check that fails means PCRE2 finds no match either, and the
 * matcher answers 0, undecided, and lets PCRE2 say so.
 *
 * Speed (~570 instructions for a typical 280-byte line, against ~2,500
 * for PCRE2's JIT): the steps are inlined into one function; runs are
 * scanned sixteen bytes at a time with SSE2 (byte by byte and with memchr
 * on other targets), digits eight at a time; each literal is one load
 * compared under a mask with a constant. Lines under 16 bytes (none
 * matches) are left to PCRE2, so that the compiler knows n >= 16 in every
 * step and drops the short-line branches; the bounds the steps compare
 * with are then loop invariants.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "regex_fast.h"

#define REGEX_FAST_IS_LITTLE_ENDIAN (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
/* The steps are inlined into the matcher, so that each literal's length
 * is a constant and its compare a load and a mask (GCC calls strlen and
 * memcmp in steps it keeps out of line: twice the instructions). */
#define REGEX_FAST_STEP static inline __attribute__((always_inline))

/* The pattern of the built-in nginx_upstream, as in parsers/defs/nginx.conf
 * (byte for byte: test_regex_fast compares them). */
#define REGEX_FAST_NGINX_UPSTREAM                                              \
    "^(?<remote_addr>\\S+) - (?<remote_user>\\S+) "                            \
    "\\[(?<time_local>[^\\]]+)\\] "                                            \
    "\"(?:(?<request_method>[^\\s\"]+) (?<request_uri>[^\\s\"]+) "             \
    "HTTP/(?<http_version>[^\\s\"]+)|(?<request>[^\"]*))\" "                   \
    "(?<status>\\d{3}) (?<body_bytes_sent>\\d+) "                              \
    "\"(?<http_referer>[^\"]*)\" \"(?<http_user_agent>[^\"]*)\" "              \
    "rt=(?<request_time>\\S+) uct=\"(?<upstream_connect_time>[^\"]*)\" "       \
    "uht=\"(?<upstream_header_time>[^\"]*)\" "                                 \
    "urt=\"(?<upstream_response_time>[^\"]*)\" "                               \
    "ua=\"(?<upstream_addr>[^\"]*)\" us=\"(?<upstream_status>[^\"]*)\"$"

/* Its capture groups, numbered as PCRE2 numbers them (test_regex_fast
 * checks them against the pattern's name table). */
enum regex_fast_ngxu_group {
    NGXU_REMOTE_ADDR = 1,
    NGXU_REMOTE_USER,
    NGXU_TIME_LOCAL,
    NGXU_REQUEST_METHOD,
    NGXU_REQUEST_URI,
    NGXU_HTTP_VERSION,
    NGXU_REQUEST,
    NGXU_STATUS,
    NGXU_BODY_BYTES_SENT,
    NGXU_HTTP_REFERER,
    NGXU_HTTP_USER_AGENT,
    NGXU_REQUEST_TIME,
    NGXU_UPSTREAM_CONNECT_TIME,
    NGXU_UPSTREAM_HEADER_TIME,
    NGXU_UPSTREAM_RESPONSE_TIME,
    NGXU_UPSTREAM_ADDR,
    NGXU_UPSTREAM_STATUS,
    NGXU_PAIRS /* groups + the whole match: pcre2_match's rc on a match */
};

/* \s: \t \n \v \f \r and space. */
static const unsigned char regex_fast_is_space[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
};

/* A line being matched: s[0..n), the next offset i (i <= n throughout)
 * and the ovector being filled. */
struct regex_fast_line {
    const char *s;
    size_t n;
    size_t i;
    size_t *ov;
};

REGEX_FAST_STEP void regex_fast_set(struct regex_fast_line *l, unsigned group,
                                    size_t start, size_t end)
{
    l->ov[2 * (size_t)group] = start;
    l->ov[2 * (size_t)group + 1] = end;
}

/* A word of the line, for comparing literals. */
REGEX_FAST_STEP uint64_t regex_fast_word(const char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

#ifdef __SSE2__
/* Scanning sixteen bytes at a time: a mask has bit k set for byte k of a
 * block. Within the last 16 bytes before end, the block is the 16 that
 * end at end (when there are 16), its mask shifted to start at i: nothing
 * outside s[0..end) is read. */
REGEX_FAST_STEP __m128i regex_fast_load(const char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The bytes of v up to ' ': all of \s, and the control bytes \S takes. */
REGEX_FAST_STEP unsigned regex_fast_mask_low(__m128i v)
{
    __m128i space = _mm_set1_epi8(' ');

    /* max(v, ' ') == ' ' rather than min(v, ' ') == v: v is used once,
     * and its load goes into the max */
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_max_epu8(v, space), space));
}

/* The first byte of s[i..end) that is in \s, or end. */
REGEX_FAST_STEP size_t regex_fast_skip_nonspace(const char *s, size_t i,
                                                size_t end)
{
    unsigned mask = 0;

    /* i + 16 <= end, with the bound taken once: the loop compares and
     * adds, and does not subtract each time */
    if (end >= 16)
        for (size_t last = end - 16; i <= last; i += 16) {
            mask = regex_fast_mask_low(regex_fast_load(s + i));
            if (mask)
                break;
        }
    if (!mask && i < end && end >= 16)
        mask = regex_fast_mask_low(regex_fast_load(s + end - 16)) >>
               (16 - (end - i));
    if (mask) {
        i += (size_t)__builtin_ctz(mask);
        if (regex_fast_is_space[(unsigned char)s[i]])
            return i;
    }
    /* A control byte that \S takes, or a short line: byte by byte. */
    while (i < end && !regex_fast_is_space[(unsigned char)s[i]])
        i++;
    return i;
}

/* The first c in s[i..n), or n. Inline rather than memchr: the fields
 * of the pattern are short enough that the call and its set-up would
 * cost more than the scan. */
REGEX_FAST_STEP size_t regex_fast_find(const char *s, size_t i, size_t n,
                                       char c)
{
    const __m128i cv = _mm_set1_epi8(c);
    const char *p;
    unsigned mask;

    if (n >= 16)
        for (size_t last = n - 16; i <= last; i += 16) {
            mask = (unsigned)_mm_movemask_epi8(
                _mm_cmpeq_epi8(regex_fast_load(s + i), cv));
            if (mask)
                return i + (size_t)__builtin_ctz(mask);
        }
    if (i == n)
        return n;
    if (n >= 16) {
        mask = (unsigned)_mm_movemask_epi8(
                   _mm_cmpeq_epi8(regex_fast_load(s + n - 16), cv)) >>
               (16 - (n - i));
        return mask ? i + (size_t)__builtin_ctz(mask) : n;
    }
    p = memchr(s + i, c, n - i); /* a line shorter than 16 bytes */
    return p ? (size_t)(p - s) : n;
}
#else
/* The first byte of s[i..end) that is in \s, or end. */
REGEX_FAST_STEP size_t regex_fast_skip_nonspace(const char *s, size_t i,
                                                size_t end)
{
    while (i < end && !regex_fast_is_space[(unsigned char)s[i]])
        i++;
    return i;
}

/* The first c in s[i..n), or n. */
REGEX_FAST_STEP size_t regex_fast_find(const char *s, size_t i, size_t n,
                                       char c)
{
    const char *p = memchr(s + i, c, n - i);

    return p ? (size_t)(p - s) : n;
}
#endif

/* lit[0..len) (len <= 8) as the word a load of those bytes gives, the
 * other bytes 0. With a constant lit, a constant: the pragma has GCC
 * unroll the loop, which it then folds (it does neither at -O2 alone). */
REGEX_FAST_STEP uint64_t regex_fast_pack(const char *lit, size_t len)
{
    uint64_t w = 0;

#pragma GCC unroll 8
    for (size_t k = 0; k < len; k++)
        w |= (uint64_t)(unsigned char)lit[k]
             << (REGEX_FAST_IS_LITTLE_ENDIAN ? 8 * k : 56 - 8 * k);
    return w;
}

/* The literal lit at i: consumed if the line has it. One load, masked to
 * the literal's length; memcmp in the last bytes of the line. A literal
 * longer than a word would leave every line undecided (there is none). */
REGEX_FAST_STEP int regex_fast_lit(struct regex_fast_line *l, const char *lit)
{
    size_t len = strlen(lit), left = l->n - l->i;

    if (len > sizeof(uint64_t))
        return 0;
    /* left >= 8, against a bound the matcher keeps in a register (n is
     * at least 16 there) */
    if (l->i <= l->n - sizeof(uint64_t)) {
        uint64_t mask =
            regex_fast_pack("\xff\xff\xff\xff\xff\xff\xff\xff", len);

        if ((regex_fast_word(l->s + l->i) & mask) != regex_fast_pack(lit, len))
            return 0;
    } else if (left < len || memcmp(l->s + l->i, lit, len) != 0) {
        return 0;
    }
    l->i += len;
    return 1;
}

/* (\S+) then the literal lit, which starts with a space. */
REGEX_FAST_STEP int regex_fast_nonspace(struct regex_fast_line *l,
                                        unsigned group, const char *lit)
{
    size_t end = regex_fast_skip_nonspace(l->s, l->i, l->n);

    if (end == l->i)
        return 0;
    regex_fast_set(l, group, l->i, end);
    l->i = end;
    return regex_fast_lit(l, lit);
}

/* ([^"]*) (min_len 0) or ([^\]]+) (min_len 1) then the literal lit, whose
 * first byte is the one the class excludes: the run ends at its first
 * occurrence. */
REGEX_FAST_STEP int regex_fast_until(struct regex_fast_line *l, unsigned group,
                                     size_t min_len, const char *lit)
{
    size_t end = regex_fast_find(l->s, l->i, l->n, lit[0]);

    if (end == l->n || end - l->i < min_len)
        return 0;
    regex_fast_set(l, group, l->i, end);
    l->i = end;
    return regex_fast_lit(l, lit);
}

REGEX_FAST_STEP int regex_fast_is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* (\d{count}) then the literal lit. */
REGEX_FAST_STEP int regex_fast_digits_n(struct regex_fast_line *l,
                                        unsigned group, size_t count,
                                        const char *lit)
{
    if (l->n - l->i < count)
        return 0;
#pragma GCC unroll 4
    for (size_t k = 0; k < count; k++)
        if (!regex_fast_is_digit(l->s[l->i + k]))
            return 0;
    regex_fast_set(l, group, l->i, l->i + count);
    l->i += count;
    return regex_fast_lit(l, lit);
}

/* How many of the bytes of w, from its first in memory, are digits, up
 * to 8: a byte x of w ^ "00000000" is a digit when it is at most 9, which
 * (x & 0x7f) + 0x76 (no carry between bytes) and x itself tell in their
 * high bits. */
REGEX_FAST_STEP size_t regex_fast_digit_run(uint64_t w)
{
    const uint64_t zeros = UINT64_C(0x3030303030303030);
    const uint64_t highs = UINT64_C(0x8080808080808080);
    uint64_t x = w ^ zeros;
    uint64_t other =
        (((x & ~highs) + UINT64_C(0x7676767676767676)) | x) & highs;

    return other ? (size_t)__builtin_ctzll(other) / 8 : 8;
}

/* (\d+), greedy, then the literal lit (not a digit). A word at a time
 * where the line has 8 bytes left (little-endian targets), then byte by
 * byte. */
REGEX_FAST_STEP int regex_fast_digits(struct regex_fast_line *l, unsigned group,
                                      const char *lit)
{
    size_t end = l->i, run = 8;

    if (REGEX_FAST_IS_LITTLE_ENDIAN)
        while (run == 8 && end <= l->n - sizeof(uint64_t)) {
            run = regex_fast_digit_run(regex_fast_word(l->s + end));
            end += run;
        }
    if (run == 8)
        while (end < l->n && regex_fast_is_digit(l->s[end]))
            end++;
    if (end == l->i)
        return 0;
    regex_fast_set(l, group, l->i, end);
    l->i = end;
    return regex_fast_lit(l, lit);
}

/* The first alternative of the request, on s[i..end) where end is the
 * first " after i: ([^\s"]+) ([^\s"]+) HTTP/([^\s"]+). No " occurs before
 * end, so [^\s"] is \S there. Sets groups 4-6 when it matches. */
REGEX_FAST_STEP int regex_fast_request_parts(struct regex_fast_line *l,
                                             size_t end)
{
    const char *s = l->s;
    size_t method = l->i, uri, version;
    size_t method_end = regex_fast_skip_nonspace(s, method, end);
    size_t uri_end;

    if (method_end == method || method_end == end || s[method_end] != ' ')
        return 0;
    uri = method_end + 1;
    uri_end = regex_fast_skip_nonspace(s, uri, end);
    if (uri_end == uri || end - uri_end < 6 ||
        memcmp(s + uri_end, " HTTP/", 6) != 0)
        return 0;
    version = uri_end + 6;
    if (version == end || regex_fast_skip_nonspace(s, version, end) != end)
        return 0;
    regex_fast_set(l, NGXU_REQUEST_METHOD, method, method_end);
    regex_fast_set(l, NGXU_REQUEST_URI, uri, uri_end);
    regex_fast_set(l, NGXU_HTTP_VERSION, version, end);
    return 1;
}

/* (?:(method) (uri) HTTP/(version)|(request)) then the literal lit, which
 * starts with the closing ": the first alternative when it matches, else
 * the second (see the top). */
REGEX_FAST_STEP int regex_fast_request(struct regex_fast_line *l,
                                       const char *lit)
{
    size_t end = regex_fast_find(l->s, l->i, l->n, '"');

    if (end == l->n)
        return 0;
    if (regex_fast_request_parts(l, end)) {
        regex_fast_set(l, NGXU_REQUEST, LF_REGEX_FAST_UNSET,
                       LF_REGEX_FAST_UNSET);
    } else {
        for (unsigned g = NGXU_REQUEST_METHOD; g <= NGXU_HTTP_VERSION; g++)
            regex_fast_set(l, g, LF_REGEX_FAST_UNSET, LF_REGEX_FAST_UNSET);
        regex_fast_set(l, NGXU_REQUEST, l->i, end);
    }
    l->i = end;
    return regex_fast_lit(l, lit);
}

/* One step per group of the pattern, in its order, each with the literal
 * that follows the group. */
static int regex_fast_nginx_upstream(const char *s, size_t n, size_t *ov,
                                     uint32_t ov_pairs)
{
    struct regex_fast_line line = {.s = s, .n = n, .i = 0, .ov = ov};
    struct regex_fast_line *l = &line;

    /* No line this short matches (the literals alone are longer): left
     * to PCRE2, so that the steps may take 16 bytes as there. */
    if (ov_pairs < NGXU_PAIRS || n < 16)
        return 0;
    if (!(regex_fast_nonspace(l, NGXU_REMOTE_ADDR, " - ") &&
          regex_fast_nonspace(l, NGXU_REMOTE_USER, " [") &&
          regex_fast_until(l, NGXU_TIME_LOCAL, 1, "] \"") &&
          regex_fast_request(l, "\" ") &&
          regex_fast_digits_n(l, NGXU_STATUS, 3, " ") &&
          regex_fast_digits(l, NGXU_BODY_BYTES_SENT, " \"") &&
          regex_fast_until(l, NGXU_HTTP_REFERER, 0, "\" \"") &&
          regex_fast_until(l, NGXU_HTTP_USER_AGENT, 0, "\" rt=") &&
          regex_fast_nonspace(l, NGXU_REQUEST_TIME, " uct=\"") &&
          regex_fast_until(l, NGXU_UPSTREAM_CONNECT_TIME, 0, "\" uht=\"") &&
          regex_fast_until(l, NGXU_UPSTREAM_HEADER_TIME, 0, "\" urt=\"") &&
          regex_fast_until(l, NGXU_UPSTREAM_RESPONSE_TIME, 0, "\" ua=\"") &&
          regex_fast_until(l, NGXU_UPSTREAM_ADDR, 0, "\" us=\"") &&
          regex_fast_until(l, NGXU_UPSTREAM_STATUS, 0, "\"")))
        return 0;
    if (l->i != n) /* $ before a final \n, or no match: PCRE2 decides */
        return 0;
    regex_fast_set(l, 0, 0, n);
    return NGXU_PAIRS;
}

struct regex_fast_entry {
    const char *pattern;
    lf_regex_fast_fn fn;
};

static const struct regex_fast_entry regex_fast_table[] = {
    {REGEX_FAST_NGINX_UPSTREAM, regex_fast_nginx_upstream},
};

lf_regex_fast_fn lf_regex_fast_find(const char *pattern)
{
    if (!pattern)
        return NULL;
    for (size_t i = 0; i < sizeof(regex_fast_table) / sizeof(*regex_fast_table);
         i++)
        if (strcmp(regex_fast_table[i].pattern, pattern) == 0)
            return regex_fast_table[i].fn;
    return NULL;
}
