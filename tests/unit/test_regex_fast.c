/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_regex_fast.c - the hand-written matchers (parsers/regex/regex_fast.c)
 * against PCRE2 itself.
 *
 * Every line here goes to both: the matcher may decline ("undecided"), but
 * when it answers, PCRE2 compiled as regex.c compiles it (8-bit, NEVER_UTF,
 * JIT) must give the same rc and the same offsets for every group below
 * it. Beyond that, the nginx_upstream matcher is complete: it declines only
 * lines PCRE2 does not match or that end in \n, and the tests hold it to
 * that too, so it cannot silently become a no-op.
 *
 * Lines: hand-written edge cases, every cut and every one-byte change of
 * typical lines, random edits, the shared corpus, the golden parser cases,
 * and (from tests/integration/test_regex_fast.py, through
 * LF_REGEX_FAST_LINES) files from the shared generator. Each line is
 * copied to a buffer of exactly its size, so that ASan builds catch a read
 * past its end.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../parsers/regex/regex_fast.h"
#include "chunk.h"
#include "config.h"
#include "embedded.h"
#include "json_out.h"
#include "lf_test.h"
#include "mem.h"
#include "parser.h"

#define RF_PAIRS 18 /* nginx_upstream: 17 groups and the whole match */
#define RF_MAX_PAIRS 64
#define RF_REQUEST_METHOD ((size_t)4)
#define RF_REQUEST ((size_t)7)
#define RF_RAW_CAP (4u << 20)

/* What a case expects of the matcher. */
enum rf_want {
    RF_UNDECIDED,  /* it must decline */
    RF_FIRST_ALT,  /* it decides; method, URI and version set */
    RF_SECOND_ALT, /* it decides; request set, the other three unset */
    RF_ANY,        /* agreement only */
};

/* The built-in nginx_upstream pattern, compiled as regex.c does. */
static struct {
    char *regex; /* from the embedded definitions; owned */
    pcre2_code *code;
    pcre2_match_data *md;
    uint32_t ov_pairs;
    int is_jit;
    lf_regex_fast_fn fast;
} rf;

/* Lines checked and decided, per source. */
struct rf_count {
    size_t lines;
    size_t decided;
};

#define RF_HEAD "10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] "
#define RF_TAIL                                                                \
    " 200 854 \"-\" \"curl/8.5.0\" rt=0.209 uct=\"0.000\" uht=\"0.025\" "      \
    "urt=\"0.025\" ua=\"10.0.1.13:8080\" us=\"200\""

/* Lines as the generator writes them: both request alternatives, retries,
 * internal redirects, IPv6, a user, a 499. */
static const char *const rf_typical[] = {
    "217.162.72.221 - - [01/Jun/2025:00:00:00 +0000] \"GET "
    "/api/v1/users/849056 HTTP/1.1\" 200 854 \"-\" \"Go-http-client/1.1\" "
    "rt=0.209 uct=\"0.000\" uht=\"0.025\" urt=\"0.025\" "
    "ua=\"10.0.1.13:8080\" us=\"200\"",
    "5.111.96.75 - - [01/Jun/2025:00:00:07 +0000] "
    "\"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\\xA7\" 400 157 "
    "\"-\" \"-\" rt=0.000 uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"-\"",
    "23.207.157.87 - - [01/Jun/2025:00:00:00 +0000] \"GET "
    "/api/v1/users/591204 HTTP/1.1\" 504 167 "
    "\"https://shop.example.com/account/orders?page=2\" \"Mozilla/5.0 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)\" "
    "rt=60.003 uct=\"-, 0.001\" uht=\"-, -\" urt=\"0.000, 60.002\" "
    "ua=\"10.0.1.14:8080, 10.0.1.15:8080\" us=\"502, 504\"",
    "188.74.69.189 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 "
    "24121 \"https://m.example.com/\" \"kube-probe/1.29\" rt=0.102 "
    "uct=\"0.002 : 0.000\" uht=\"0.097 : 0.002\" urt=\"0.098 : 0.004\" "
    "ua=\"10.0.2.22:3000 : 10.0.5.51:8443\" us=\"200 : 200\"",
    "2001:db8:336b:53e6::fcaf - alice [01/Jun/2025:00:00:06 +0000] \"POST "
    "/api/v1/users/160839/orders HTTP/2.0\" 304 0 \"-\" "
    "\"Go-http-client/2.0\" rt=0.040 uct=\"0.000\" uht=\"0.040\" "
    "urt=\"0.040\" ua=\"[fd00:0:0:6::62]:4000\" us=\"304\"",
    "176.35.35.48 - - [01/Jun/2025:00:00:00 +0000] \"GET "
    "/fonts/inter-var.woff2 HTTP/2.0\" 499 0 \"https://www.google.com/\" "
    "\"Mozilla/5.0 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)\" rt=0.186 uct=\"0.000\" uht=\"-\" "
    "urt=\"0.186\" ua=\"10.0.5.52:8443\" us=\"-\"",
    "1.134.159.210 - - [01/Jun/2025:00:00:04 +0000] \"-\" 400 157 \"-\" "
    "\"-\" rt=0.000 uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"-\"",
};
#define RF_NTYPICAL (sizeof(rf_typical) / sizeof(rf_typical[0]))

/* ---- set-up ------------------------------------------------------------- */

/* The regex of the built-in definition `name`; caller frees. NULL if none. */
static char *rf_builtin_regex(const char *name)
{
    struct lf_config *defs = NULL;
    struct lfp_err err = {0};
    char *regex = NULL;

    if (lf_config_load_string("builtin parsers", lf_embedded_parser_defs, NULL,
                              &defs, &err) != LFP_OK) {
        print_error("built-in definitions: %s\n", err.msg);
        return NULL;
    }
    for (size_t i = 0; i < defs->nsec && !regex; i++) {
        const char *n = lf_section_get(&defs->secs[i], "name");
        const char *re = lf_section_get(&defs->secs[i], "regex");
        if (strcmp(defs->secs[i].name, "parser") == 0 && n && re &&
            strcmp(n, name) == 0)
            regex = lf_strdup(re);
    }
    lf_config_free(defs);
    return regex;
}

static int rf_setup(void **state)
{
    int code = 0;
    PCRE2_SIZE offset = 0;

    (void)state;
    rf.regex = rf_builtin_regex("nginx_upstream");
    if (!rf.regex)
        return -1;
    rf.code = pcre2_compile((PCRE2_SPTR)rf.regex, PCRE2_ZERO_TERMINATED,
                            PCRE2_NEVER_UTF, &code, &offset, NULL);
    if (!rf.code)
        return -1;
    rf.is_jit = pcre2_jit_compile(rf.code, PCRE2_JIT_COMPLETE) == 0;
    rf.md = pcre2_match_data_create_from_pattern(rf.code, NULL);
    rf.ov_pairs = pcre2_get_ovector_count(rf.md);
    rf.fast = lf_regex_fast_find(rf.regex);
    return 0;
}

static int rf_teardown(void **state)
{
    (void)state;
    pcre2_match_data_free(rf.md);
    pcre2_code_free(rf.code);
    lf_free(rf.regex);
    return 0;
}

/* ---- one line through both ---------------------------------------------- */

/* Prints s[0..n) with unprintable bytes as \xHH, at most 400 bytes. */
static void rf_print_line(const char *what, const char *s, size_t n)
{
    char buf[1700];
    size_t len = 0;

    for (size_t i = 0; i < n && i < 400; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[len++] = (char)c;
        else
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\\x%02x", c);
    }
    buf[len] = '\0';
    print_error("%s (%zu bytes): %s%s\n", what, n, buf, n > 400 ? "..." : "");
}

/* Runs the fast matcher and PCRE2 on s[0..n) and fails the test if they
 * disagree, or if the matcher declines a line PCRE2 matches (one that does
 * not end in \n). Returns the matcher's rc; its offsets go to ov (2 *
 * RF_MAX_PAIRS). */
static int rf_check_ov(const char *line, size_t n, size_t *ov)
{
    char *s = lf_malloc(n); /* exactly n: ASan sees a read past the end */
    const PCRE2_SIZE *want = pcre2_get_ovector_pointer(rf.md);
    int fast_rc, rc;

    assert_non_null(rf.fast);
    assert_true(rf.ov_pairs <= RF_MAX_PAIRS);
    if (n)
        memcpy(s, line, n);
    memset(ov, 0xa5, sizeof(*ov) * 2 * RF_MAX_PAIRS); /* not UNSET, not 0 */
    fast_rc = rf.fast(s, n, ov, rf.ov_pairs);
    rc = rf.is_jit
             ? pcre2_jit_match(rf.code, (PCRE2_SPTR)s, n, 0, 0, rf.md, NULL)
             : pcre2_match(rf.code, (PCRE2_SPTR)s, n, 0, 0, rf.md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        rf_print_line("line", s, n);
        fail_msg("PCRE2 error %d", rc);
    }
    if (fast_rc < 0 || (fast_rc > 0 && fast_rc != rc)) {
        rf_print_line("line", s, n);
        fail_msg("fast rc %d, PCRE2 rc %d", fast_rc, rc);
    }
    for (int i = 0; i < 2 * fast_rc; i++)
        if (ov[i] != want[i]) {
            rf_print_line("line", s, n);
            fail_msg("group %d %s: fast %zu, PCRE2 %zu", i / 2,
                     i % 2 ? "end" : "start", ov[i], (size_t)want[i]);
        }
    if (fast_rc == 0 && rc > 0 && !(n > 0 && s[n - 1] == '\n')) {
        rf_print_line("line", s, n);
        fail_msg("undecided on a line PCRE2 matches");
    }
    lf_free(s);
    return fast_rc;
}

static int rf_check(const char *line, size_t n, struct rf_count *count)
{
    size_t ov[2 * RF_MAX_PAIRS];
    int rc = rf_check_ov(line, n, ov);

    if (count) {
        count->lines++;
        count->decided += rc > 0;
    }
    return rc;
}

/* Checks every line of a buffer (lines end at \n, which they do not
 * include; a last line without one counts). */
static void rf_check_lines(const char *buf, size_t len, struct rf_count *count)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && buf[i] != '\n')
            continue;
        if (i > start || i < len)
            (void)rf_check(buf + start, i - start, count);
        start = i + 1;
    }
}

static void rf_check_file(const char *path, struct rf_count *count)
{
    size_t len = 0;
    char *buf = lf_test_read_file(path, &len);

    if (!buf)
        fail_msg("%s: cannot read it", path);
    rf_check_lines(buf, len, count);
    lf_free(buf);
}

/* ---- the pattern and its groups ------------------------------------------ */

static void test_builtin_nginx_upstream_regex_has_a_fast_matcher(void **state)
{
    size_t n;

    (void)state;
    assert_non_null(rf.regex);
    if (!rf.fast)
        fail_msg("the regex of nginx_upstream in parsers/defs/nginx.conf is "
                 "not the pattern of the matcher in "
                 "parsers/regex/regex_fast.c: update the matcher with it");
    /* Bound to the text byte for byte: any other byte, or a byte more or
     * less, finds nothing. */
    n = strlen(rf.regex);
    for (size_t i = 0; i < n; i++) {
        char *other = lf_strdup(rf.regex);
        other[i] = other[i] == 'x' ? 'y' : 'x';
        assert_null(lf_regex_fast_find(other));
        other[i] = '\0';
        assert_null(lf_regex_fast_find(other));
        lf_free(other);
    }
    {
        char *longer = lf_malloc(n + 2);
        memcpy(longer, rf.regex, n);
        memcpy(longer + n, " ", 2);
        assert_null(lf_regex_fast_find(longer));
        lf_free(longer);
    }
    assert_null(lf_regex_fast_find(NULL));
    assert_null(lf_regex_fast_find(""));
}

static void test_group_numbers_are_pcre2s(void **state)
{
    const char *const *names = lf_test_ngxu_groups;
    const size_t nnames = LF_TEST_NGXU_NGROUPS;
    uint32_t count = 0, entry_size = 0, captures = 0;
    PCRE2_SPTR table = NULL;

    (void)state;
    assert_int_equal(
        pcre2_pattern_info(rf.code, PCRE2_INFO_CAPTURECOUNT, &captures), 0);
    assert_int_equal(captures, nnames);
    assert_int_equal(rf.ov_pairs, RF_PAIRS);
    (void)pcre2_pattern_info(rf.code, PCRE2_INFO_NAMECOUNT, &count);
    (void)pcre2_pattern_info(rf.code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    (void)pcre2_pattern_info(rf.code, PCRE2_INFO_NAMETABLE, &table);
    assert_int_equal(count, nnames);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry_size;
        uint32_t num = (uint32_t)e[0] << 8 | e[1];
        const char *want = num >= 1 && num <= nnames ? names[num - 1] : "?";
        assert_string_equal((const char *)e + 2, want);
    }
    assert_string_equal(names[RF_REQUEST_METHOD - 1], "request_method");
    assert_string_equal(names[RF_REQUEST - 1], "request");
}

/* The classes as the matcher reads them (its header comment), byte by
 * byte against PCRE2's tables. */
static void test_character_classes_are_pcre2s(void **state)
{
    static const struct {
        const char *re;
        const char *excluded; /* bytes the class does not match */
        size_t nexcluded;
    } classes[] = {
        {"^\\S$", "\t\n\v\f\r ", 6},
        {"^[^\\s\"]$", "\t\n\v\f\r \"", 7},
        {"^[^\"]$", "\"", 1},
        {"^[^\\]]$", "]", 1},
        {"^\\d$", "", 0}, /* inverted below: only 0-9 match */
    };

    (void)state;
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        int code = 0;
        PCRE2_SIZE offset = 0;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)classes[c].re, PCRE2_ZERO_TERMINATED,
                          PCRE2_NEVER_UTF, &code, &offset, NULL);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        assert_non_null(re);
        for (int b = 0; b < 256; b++) {
            unsigned char s[1] = {(unsigned char)b};
            int is_match = pcre2_match(re, s, 1, 0, 0, md, NULL) > 0;
            int want =
                memchr(classes[c].excluded, b, classes[c].nexcluded) == NULL;
            if (strcmp(classes[c].re, "^\\d$") == 0)
                want = b >= '0' && b <= '9';
            if (is_match != want)
                fail_msg("%s on byte 0x%02x: PCRE2 %d", classes[c].re, b,
                         is_match);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
    }
}

static void test_matcher_declines_a_short_ovector(void **state)
{
    size_t ov[2 * RF_MAX_PAIRS];
    const char *line = rf_typical[0];

    (void)state;
    assert_non_null(rf.fast);
    assert_int_equal(rf.fast(line, strlen(line), ov, RF_PAIRS - 1), 0);
    assert_int_equal(rf.fast(line, strlen(line), ov, RF_PAIRS), RF_PAIRS);
    assert_int_equal(rf.fast(line, strlen(line), ov, RF_MAX_PAIRS), RF_PAIRS);
}

/* ---- hand-written cases ------------------------------------------------- */

struct rf_case {
    const char *line;
    size_t len; /* 0: strlen(line) */
    enum rf_want want;
};

/* A string literal with NUL bytes: its bytes and its length. */
#define RF_BYTES(s) s, sizeof(s) - 1

static void rf_check_case(const struct rf_case *c)
{
    size_t n = c->len ? c->len : strlen(c->line);
    size_t ov[2 * RF_MAX_PAIRS];
    int rc = rf_check_ov(c->line, n, ov);
    int is_ok = 1;

    if (c->want == RF_UNDECIDED)
        is_ok = rc == 0;
    else if (c->want == RF_FIRST_ALT)
        is_ok = rc == RF_PAIRS && ov[2 * RF_REQUEST] == PCRE2_UNSET &&
                ov[2 * RF_REQUEST_METHOD] != PCRE2_UNSET;
    else if (c->want == RF_SECOND_ALT)
        is_ok = rc == RF_PAIRS && ov[2 * RF_REQUEST] != PCRE2_UNSET &&
                ov[2 * RF_REQUEST_METHOD] == PCRE2_UNSET;
    if (!is_ok) {
        rf_print_line("case", c->line, n);
        fail_msg("want %d, fast rc %d", (int)c->want, rc);
    }
}

static void test_edge_cases_agree_with_pcre2(void **state)
{
    static const struct rf_case cases[] = {
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL, 0, RF_FIRST_ALT},
        /* the request: "-", empty, no version, extra spaces, tabs */
        {RF_HEAD "\"-\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET /\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / HTTP/\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / HTTP1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET  / HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET /  HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\" GET / HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / HTTP/1.1 \"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / x HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / HTTP/1.1 HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET /HTTP/1.1 HTTP/1.1\"" RF_TAIL, 0, RF_FIRST_ALT},
        {RF_HEAD "\"GET\t/ HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET / HTTP/1.1\t\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET /a\rb HTTP/1.1\"" RF_TAIL, 0, RF_SECOND_ALT},
        {RF_HEAD "\"GET /\x01\x7f HTTP/1.1\"" RF_TAIL, 0, RF_FIRST_ALT},
        {RF_HEAD "\"GET /\xc3\xa9\xff\x80\xa0\x85 HTTP/1.1\"" RF_TAIL, 0,
         RF_FIRST_ALT},
        {RF_HEAD "\"\\x16\\x03\\x01\"" RF_TAIL, 0, RF_SECOND_ALT},
        /* a " where none belongs */
        {RF_HEAD "\"GET /a\"b HTTP/1.1\"" RF_TAIL, 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 854 \"-\" \"cu\"rl\" rt=0.2 "
                 "uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"-\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 854 \"-\" \"curl\" rt=0.2 "
                 "uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"2\"0\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 854 \"-\" \"curl\" rt=\"0.2\" "
                 "uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"-\"",
         0, RF_FIRST_ALT},
        /* the time */
        {"10.0.0.1 - - [01/Jun]/2025:00:00:00 +0000] \"GET / "
         "HTTP/1.1\"" RF_TAIL,
         0, RF_UNDECIDED},
        {"10.0.0.1 - - [] \"GET / HTTP/1.1\"" RF_TAIL, 0, RF_UNDECIDED},
        {"10.0.0.1 - - [[x] \"GET / HTTP/1.1\"" RF_TAIL, 0, RF_FIRST_ALT},
        {"10.0.0.1 - - [a\tb\nc\"d] \"GET / HTTP/1.1\"" RF_TAIL, 0,
         RF_FIRST_ALT},
        /* status and bytes */
        {RF_HEAD "\"GET / HTTP/1.1\" 20x 854 \"-\" \"-\" rt=0 uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 2000 854 \"-\" \"-\" rt=0 uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 20 854 \"-\" \"-\" rt=0 uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 - \"-\" \"-\" rt=0 uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200  \"-\" \"-\" rt=0 uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 00012345678901234567890123 \"-\" "
                 "\"-\" rt=0 uct=\"\" uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_FIRST_ALT},
        /* empty upstream fields, and fields missing at the end */
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"\" \"\" rt=- uct=\"\" uht=\"\" "
                 "urt=\"\" ua=\"\" us=\"\"",
         0, RF_FIRST_ALT},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\" rt=0.1 uct=\"-\"", 0,
         RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\" rt= uct=\"\" uht=\"\" "
                 "urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        /* white space: tabs inside fields, and at the start or the end */
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"a\tb\" \"c\td\v\f\r\ne\" "
                 "rt=0.1 uct=\"\t\" uht=\"\" urt=\"\" ua=\"\" us=\"\n\"",
         0, RF_FIRST_ALT},
        {"10.0.0.1\t- - [01/Jun/2025:00:00:00 +0000] \"GET / "
         "HTTP/1.1\"" RF_TAIL,
         0, RF_UNDECIDED},
        {"10.0.0.1 - a\tb [01/Jun/2025:00:00:00 +0000] \"-\"" RF_TAIL, 0,
         RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\" rt=0.1\t uct=\"\" "
                 "uht=\"\" urt=\"\" ua=\"\" us=\"\"",
         0, RF_UNDECIDED},
        {" 10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] \"-\"" RF_TAIL, 0,
         RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL "\n", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL "\r", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL "\r\n", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL " ", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL "\n\n", 0, RF_UNDECIDED},
        {RF_HEAD "\"GET / HTTP/1.1\"" RF_TAIL "x", 0, RF_UNDECIDED},
        {"", 0, RF_UNDECIDED},
        {"\n", 0, RF_UNDECIDED},
        {" - ", 0, RF_UNDECIDED},
        /* high bytes, invalid UTF-8 and NUL in every kind of field */
        {"\xff\xfe\x80 - \xc3\x28 [\xa0\x85] \"\xe2\x82 \x80\x81 HTTP/\xf0\" "
         "200 1 \"\xc0\xaf\" \"\xed\xa0\x80\" rt=\xfe uct=\"\x85\" "
         "uht=\"\xa0\" urt=\"\xff\" ua=\"\x80\" us=\"\xc3\"",
         0, RF_FIRST_ALT},
        {RF_BYTES("a\0b - - [\0] \"GET /\0 HTTP/\0\" 200 1 \"\0\" \"\0\" "
                  "rt=\0 uct=\"\0\" uht=\"\" urt=\"\" ua=\"\" us=\"\0\""),
         RF_FIRST_ALT},
        {RF_BYTES("a - - [t] \"\0\" 200 1 \"\" \"\" rt=0 uct=\"\" uht=\"\" "
                  "urt=\"\" ua=\"\" us=\"\"\0"),
         RF_UNDECIDED},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        rf_check_case(&cases[i]);
}

static void test_long_fields_agree_with_pcre2(void **state)
{
    size_t field_n = (size_t)1 << 20;
    const char *head = RF_HEAD "\"GET /";
    const char *mid = " HTTP/1.1\" 200 1 \"-\" \"";
    const char *tail = "\" rt=0.1 uct=\"\" uht=\"\" urt=\"\" ua=\"\" us=\"\"";
    size_t n = strlen(head) + field_n + strlen(mid) + field_n + strlen(tail);
    char *line = lf_malloc(n);
    char *p = line;
    struct rf_case c = {.line = line, .len = n, .want = RF_FIRST_ALT};

    (void)state;
    memcpy(p, head, strlen(head));
    p += strlen(head);
    memset(p, 'u', field_n); /* a 1 MiB URI */
    p += field_n;
    memcpy(p, mid, strlen(mid));
    p += strlen(mid);
    memset(p, 'a', field_n); /* and user agent */
    p += field_n;
    memcpy(p, tail, strlen(tail));
    rf_check_case(&c);
    line[strlen(head) + 7] = '\t'; /* the URI is no longer \S+ */
    c.want = RF_SECOND_ALT;
    rf_check_case(&c);
    lf_free(line);
}

/* ---- every cut, every one-byte change, random edits --------------------- */

static void test_every_cut_of_a_line_agrees_with_pcre2(void **state)
{
    (void)state;
    for (size_t t = 0; t < RF_NTYPICAL; t++) {
        const char *line = rf_typical[t];
        size_t n = strlen(line);
        char *nl = lf_malloc(n + 1);

        for (size_t cut = 0; cut <= n; cut++) {
            int rc = rf_check(line, cut, NULL);
            /* only the whole line matches */
            assert_int_equal(rc, cut == n ? RF_PAIRS : 0);
            memcpy(nl, line, cut); /* and with a \n after the cut */
            nl[cut] = '\n';
            assert_int_equal(rf_check(nl, cut + 1, NULL), 0);
        }
        lf_free(nl);
    }
}

/* body_bytes_sent's digits, which the matcher reads a word at a time:
 * runs of 1 to 24 digits with each byte value in each place of the run
 * and in place of the blank after it. */
static void test_digit_runs_of_every_length_agree_with_pcre2(void **state)
{
    static const char head[] = RF_HEAD "\"GET / HTTP/1.1\" 200 ";
    static const char tail[] = " \"-\" \"curl\" rt=0.2 uct=\"\" uht=\"\" "
                               "urt=\"\" ua=\"\" us=\"\"";
    struct rf_count count = {0};
    char line[sizeof(head) + 32 + sizeof(tail)];
    size_t matching = 0;

    (void)state;
    for (size_t len = 1; len <= 24; len++) {
        matching += 10 * len + 1; /* a digit in the run, or the blank */
        for (size_t at = 0; at <= len; at++) {
            for (int b = 0; b < 256; b++) {
                size_t n = sizeof(head) - 1;

                memcpy(line, head, n);
                for (size_t k = 0; k < len; k++)
                    line[n + k] = (char)('0' + (k * 7 + len) % 10);
                memcpy(line + n + len, tail, sizeof(tail) - 1);
                line[n + at] = (char)b;
                (void)rf_check(line, n + len + sizeof(tail) - 1, &count);
            }
        }
    }
    print_message("digit runs: %zu of %zu lines decided\n", count.decided,
                  count.lines);
    /* every line that matches is decided */
    assert_int_equal(count.decided, matching);
}

/* Every byte value at every offset of the first two typical lines (one of
 * each request alternative): replacing the byte there, inserting before
 * it, and deleting it. */
static void test_every_one_byte_change_agrees_with_pcre2(void **state)
{
    struct rf_count count = {0};

    (void)state;
    for (size_t t = 0; t < 2; t++) {
        const char *line = rf_typical[t];
        size_t n = strlen(line);
        char *buf = lf_malloc(n + 1);

        for (size_t at = 0; at <= n; at++) {
            for (int b = 0; b < 256 && at < n; b++) {
                memcpy(buf, line, n);
                buf[at] = (char)b;
                (void)rf_check(buf, n, &count);
            }
            for (int b = 0; b < 256; b++) {
                memcpy(buf, line, at);
                buf[at] = (char)b;
                memcpy(buf + at + 1, line + at, n - at);
                (void)rf_check(buf, n + 1, &count);
            }
            if (at < n) {
                memcpy(buf, line, at);
                memcpy(buf + at, line + at + 1, n - at - 1);
                (void)rf_check(buf, n - 1, &count);
            }
        }
        lf_free(buf);
    }
    print_message("one-byte changes: %zu of %zu lines decided\n", count.decided,
                  count.lines);
    assert_true(count.decided > count.lines / 4);
}

static uint64_t rf_rand(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    return *seed >> 33;
}

/* A byte that is likely to matter here half of the time, else any. */
static char rf_rand_byte(uint64_t *seed)
{
    static const char special[] = " \"[]\t\n\r\v\f-0123456789HTP/=\\\0\x80\xa0"
                                  "\x85\xff";
    uint64_t r = rf_rand(seed);

    if (r & 1)
        return (char)(r >> 8);
    return special[(r >> 8) % (sizeof(special) - 1)];
}

static void test_random_edits_agree_with_pcre2(void **state)
{
    struct rf_count count = {0};
    uint64_t seed = 7;
    char buf[1024];

    (void)state;
    for (int k = 0; k < 20000; k++) {
        const char *line = rf_typical[rf_rand(&seed) % RF_NTYPICAL];
        size_t n = strlen(line);
        int edits = 1 + (int)(rf_rand(&seed) % 3);

        memcpy(buf, line, n);
        for (int e = 0; e < edits; e++) {
            size_t at = n ? rf_rand(&seed) % n : 0;
            switch (rf_rand(&seed) % 3) {
            case 0: /* replace */
                if (n)
                    buf[at] = rf_rand_byte(&seed);
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = rf_rand_byte(&seed);
                n++;
                break;
            default: /* delete */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
            }
        }
        (void)rf_check(buf, n, &count);
    }
    print_message("random edits: %zu of %zu lines decided\n", count.decided,
                  count.lines);
    assert_true(count.decided > 0 && count.decided < count.lines);
}

/* ---- files: the shared corpus, the golden cases, generated logs ---------- */

static struct rf_count rf_walk_count;

static int rf_walk_file(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_F)
        rf_check_file(path, &rf_walk_count);
    return 0;
}

static void test_shared_corpus_agrees_with_pcre2(void **state)
{
    const char *dir = LF_SHARED_DIR "/corpus";

    (void)state;
    rf_walk_count = (struct rf_count){0};
    if (nftw(dir, rf_walk_file, 16, FTW_PHYS) != 0)
        fail_msg("%s: cannot walk it (set LF_SHARED_DIR)", dir);
    print_message("corpus: %zu of %zu lines decided\n", rf_walk_count.decided,
                  rf_walk_count.lines);
    assert_true(rf_walk_count.lines > 1000);
}

static void test_golden_parser_cases_agree_with_pcre2(void **state)
{
    const char *dir = LF_TEST_SOURCE_DIR "/parsers";
    struct rf_count upstream = {0};

    (void)state;
    rf_walk_count = (struct rf_count){0};
    if (nftw(dir, rf_walk_file, 16, FTW_PHYS) != 0)
        fail_msg("%s: cannot walk it", dir);
    rf_check_file(LF_TEST_SOURCE_DIR "/parsers/nginx_upstream/typical.log",
                  &upstream);
    rf_check_file(LF_TEST_SOURCE_DIR "/parsers/nginx_upstream/malformed.log",
                  &upstream);
    print_message("golden cases: %zu of %zu lines decided, nginx_upstream's "
                  "%zu of %zu\n",
                  rf_walk_count.decided, rf_walk_count.lines, upstream.decided,
                  upstream.lines);
    assert_true(upstream.decided > 0);
}

/* Files named in LF_REGEX_FAST_LINES (':'-separated), written by the
 * shared generator: the matcher must decide every line, and agree. */
static void test_generated_lines_are_all_decided(void **state)
{
    const char *env = getenv("LF_REGEX_FAST_LINES");
    char *paths, *next;

    (void)state;
    if (!env || !*env) {
        print_message("LF_REGEX_FAST_LINES is not set: "
                      "tests/integration/test_regex_fast.py sets it\n");
        skip();
    }
    paths = lf_strdup(env);
    for (char *path = paths; path; path = next) {
        struct rf_count count = {0};

        next = strchr(path, ':');
        if (next)
            *next++ = '\0';
        rf_check_file(path, &count);
        print_message("generated %s: %zu of %zu lines decided\n", path,
                      count.decided, count.lines);
        assert_true(count.lines > 0);
        assert_int_equal(count.decided, count.lines);
    }
    lf_free(paths);
}

/* ---- through the parser: regex.c's hook -----------------------------------
 */

struct rf_parser {
    struct lf_parser *p;
    struct lf_parser_worker *w;
    struct lfp_chunk *chunk;
};

static void rf_parser_open(struct rf_parser *rp,
                           const struct lf_parser_conf *conf)
{
    struct lfp_err err = {0};

    if (lf_parser_new(conf, &rp->p, &err) != LFP_OK)
        fail_msg("lf_parser_new: %s", err.msg);
    rp->w = lf_parser_worker_new(rp->p);
    rp->chunk = lf_chunk_new(RF_RAW_CAP, (size_t)64 << 10);
}

static void rf_parser_close(struct rf_parser *rp)
{
    lf_chunk_free(rp->chunk);
    lf_parser_worker_free(rp->w);
    lf_parser_free(rp->p);
}

/* Parses the line into a fresh chunk; returns its record as JSON (caller
 * frees), with the time zeroed when it is the time of parsing. */
static char *rf_parser_json(struct rf_parser *rp, const char *line, size_t n)
{
    size_t cap;
    char *raw, *json;
    struct lfp_record *rec;

    lf_chunk_reset(rp->chunk);
    raw = lf_chunk_raw(rp->chunk, &cap);
    assert_true(n <= cap);
    memcpy(raw, line, n);
    lf_chunk_add_line(rp->chunk, 0, (uint32_t)n, 0);
    rec = &rp->chunk->records[0];
    (void)lf_parser_parse(rp->p, rp->w, rp->chunk, rec);
    if (rec->flags & (LFP_REC_PARSE_ERROR | LFP_REC_TIME_ERROR))
        rec->ts_ns = 0;
    json = lf_malloc(lf_json_record_bound(rec) + 1);
    json[lf_json_record(rec, json)] = '\0';
    return json;
}

/* The built-in parser (fast path) and the same definition with a regex
 * that means the same but reads differently (PCRE2 only) make the same
 * records. */
static void test_parser_with_fast_path_makes_the_same_records(void **state)
{
    size_t n = strlen(rf.regex);
    char *slow_regex = lf_malloc(n + 5);
    struct lf_parser_conf fast_conf = {.name = "fast",
                                       .base = "nginx_upstream"};
    struct lf_parser_conf slow_conf = {
        .name = "slow", .base = "nginx_upstream", .regex = slow_regex};
    struct rf_parser fast, slow;
    uint64_t seed = 11;
    char buf[1024];

    (void)state;
    memcpy(slow_regex, rf.regex, n);
    memcpy(slow_regex + n, "(?:)", 5);
    assert_null(lf_regex_fast_find(slow_regex));
    rf_parser_open(&fast, &fast_conf);
    rf_parser_open(&slow, &slow_conf);
    for (int k = 0; k < 4000; k++) {
        const char *line = rf_typical[(size_t)k % RF_NTYPICAL];
        size_t len = strlen(line);
        char *want, *got;

        memcpy(buf, line, len);
        if (k >= (int)RF_NTYPICAL) /* one random byte changed */
            buf[rf_rand(&seed) % len] = rf_rand_byte(&seed);
        got = rf_parser_json(&fast, buf, len);
        want = rf_parser_json(&slow, buf, len);
        if (strcmp(got, want) != 0) {
            rf_print_line("line", buf, len);
            fail_msg("records differ\n  fast: %s\n  pcre2: %s", got, want);
        }
        lf_free(got);
        lf_free(want);
    }
    assert_int_equal(lf_parser_parse_errors(fast.p),
                     lf_parser_parse_errors(slow.p));
    assert_int_equal(lf_parser_conv_errors(fast.p),
                     lf_parser_conv_errors(slow.p));
    rf_parser_close(&fast);
    rf_parser_close(&slow);
    lf_free(slow_regex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_nginx_upstream_regex_has_a_fast_matcher),
        cmocka_unit_test(test_group_numbers_are_pcre2s),
        cmocka_unit_test(test_character_classes_are_pcre2s),
        cmocka_unit_test(test_matcher_declines_a_short_ovector),
        cmocka_unit_test(test_edge_cases_agree_with_pcre2),
        cmocka_unit_test(test_long_fields_agree_with_pcre2),
        cmocka_unit_test(test_every_cut_of_a_line_agrees_with_pcre2),
        cmocka_unit_test(test_every_one_byte_change_agrees_with_pcre2),
        cmocka_unit_test(test_digit_runs_of_every_length_agree_with_pcre2),
        cmocka_unit_test(test_random_edits_agree_with_pcre2),
        cmocka_unit_test(test_shared_corpus_agrees_with_pcre2),
        cmocka_unit_test(test_golden_parser_cases_agree_with_pcre2),
        cmocka_unit_test(test_generated_lines_are_all_decided),
        cmocka_unit_test(test_parser_with_fast_path_makes_the_same_records),
    };
    return cmocka_run_group_tests(tests, rf_setup, rf_teardown);
}
