/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_json_out.c - the JSON writer: every output must parse with yajl and
 * give back the same strings (or U+FFFD for bytes that are not UTF-8).
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "chunk.h"
#include "json_out.h"
#include "mem.h"

/* Encodes rec, parses it back with yajl, and returns the tree. */
static yajl_val roundtrip(const struct lfp_record *rec, char **text)
{
    size_t bound = lf_json_record_bound(rec);
    char *buf = lf_malloc(bound + 1);
    size_t n = lf_json_record(rec, buf);
    char errbuf[256];
    yajl_val v;

    assert_true(n <= bound);
    buf[n] = '\0';
    v = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
    if (!v)
        fail_msg("yajl rejected %s: %s", buf, errbuf);
    *text = buf;
    return v;
}

static const char *get_str(yajl_val v, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val s = yajl_tree_get(v, path, yajl_t_string);
    assert_non_null(s);
    return YAJL_GET_STRING(s);
}

static void test_escapes_controls_quotes_and_backslashes(void **state)
{
    struct lfp_field f = {0};
    struct lfp_record rec = {.ts_ns = 0, .fields = &f, .nfields = 1};
    const char s[] = "a\"b\\c\n\t\x01\x1f/\x7f";
    char *text;
    yajl_val v;

    (void)state;
    lf_field_set_str(&f, "k", s, sizeof(s) - 1);
    v = roundtrip(&rec, &text);
    assert_string_equal(get_str(v, "k"), s);
    assert_string_equal(get_str(v, "@timestamp"), "1970-01-01T00:00:00.000Z");
    yajl_tree_free(v);
    lf_free(text);
}

static void test_valid_utf8_passes_invalid_becomes_replacement(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"a\xffz", "a\xef\xbf\xbdz"},
        {"\xc3", "\xef\xbf\xbd"},                 /* cut sequence */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
        {"\xed\xa0\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lfp_field f = {0};
        struct lfp_record rec = {.fields = &f, .nfields = 1};
        char *text;
        yajl_val v;
        lf_field_set_str(&f, "k", cases[i].in, strlen(cases[i].in));
        v = roundtrip(&rec, &text);
        if (strcmp(get_str(v, "k"), cases[i].out) != 0)
            fail_msg("case %zu: %s", i, text);
        yajl_tree_free(v);
        lf_free(text);
    }
}

static void test_random_bytes_always_give_valid_json(void **state)
{
    unsigned seed = 42;
    char s[300];

    (void)state;
    for (int iter = 0; iter < 5000; iter++) {
        struct lfp_field f[2];
        struct lfp_record rec = {.fields = f, .nfields = 2};
        size_t n = (size_t)rand_r(&seed) % sizeof(s);
        char *text;
        yajl_val v;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(rand_r(&seed) & 0xff);
        memset(f, 0, sizeof(f));
        lf_field_set_str(&f[0], "k", s, n);
        f[1].key = s;
        f[1].key_len = (uint16_t)(n < 20 ? n : 20);
        f[1].type = LFP_T_INT;
        v = roundtrip(&rec, &text);
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* One byte that needs escaping, at every place of strings of every length
 * up to 120 (three steps of 32 bytes and the blocks after them): the word
 * and vector scans must stop at it wherever it is. */
static void test_a_special_byte_is_caught_at_every_offset(void **state)
{
    static const unsigned char specials[] = {'"', '\\', 0x01, 0x1f, 0x80, 0xff};
    char s[120], want[136];

    (void)state;
    for (size_t n = 1; n <= sizeof(s); n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t c = 0; c < sizeof(specials); c++) {
                struct lfp_field f;
                struct lfp_record rec = {.fields = &f, .nfields = 1};
                size_t w = 0;
                char *text;
                yajl_val v;
                memset(s, 'a', n);
                s[at] = (char)specials[c];
                memcpy(want, s, at);
                w = at;
                if (specials[c] >= 0x80) { /* alone it is not UTF-8 */
                    memcpy(want + w, "\xef\xbf\xbd", 3);
                    w += 3;
                } else {
                    want[w++] = s[at];
                }
                memcpy(want + w, s + at + 1, n - at - 1);
                w += n - at - 1;
                want[w] = '\0';
                memset(&f, 0, sizeof(f));
                lf_field_set_str(&f, "k", s, n);
                v = roundtrip(&rec, &text);
                assert_string_equal(get_str(v, "k"), want);
                yajl_tree_free(v);
                lf_free(text);
            }
        }
    }
}

/* Strings that need no escaping, of every length up to 120, with the
 * flag that asks for the check: the blocks checked are the copy, so each
 * byte must land in its place. */
static void test_plain_strings_of_every_length_come_out_whole(void **state)
{
    char s[121];

    (void)state;
    for (size_t i = 0; i < sizeof(s) - 1; i++)
        s[i] = (char)(' ' + 1 + (i * 7) % 90); /* no quote or backslash */
    for (size_t i = 0; i < sizeof(s) - 1; i++)
        if (s[i] == '"' || s[i] == '\\')
            s[i] = 'x';
    for (size_t n = 0; n < sizeof(s); n++) {
        struct lfp_field f;
        struct lfp_record rec = {.fields = &f, .nfields = 1};
        char want[160], *text;
        yajl_val v;
        memcpy(want, s, n);
        want[n] = '\0';
        memset(&f, 0, sizeof(f));
        lf_field_set_str(&f, "k", s, n);
        v = roundtrip(&rec, &text);
        assert_string_equal(get_str(v, "k"), want);
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* Flagged keys and values are copied; the others still escaped. */
static void test_plain_flags_copy_and_others_escape(void **state)
{
    struct lfp_field f[3];
    struct lfp_record rec = {.fields = f, .nfields = 3};
    char *text;
    yajl_val v;

    (void)state;
    memset(f, 0, sizeof(f));
    lf_field_set_str(&f[0], "source.ip", "10.0.0.1", 8);
    f[0].flags = LFP_FIELD_KEY_PLAIN | LFP_FIELD_KEY_STABLE;
    lf_field_set_str(&f[1], "k\"q", "a\"b\n", 4);
    lf_field_set_str(&f[2], "plain.key", "x\"y", 3);
    f[2].flags |= LFP_FIELD_KEY_PLAIN;
    v = roundtrip(&rec, &text);
    assert_non_null(strstr(text, ",\"source.ip\":\"10.0.0.1\""));
    assert_non_null(strstr(text, ",\"k\\\"q\":\"a\\\"b\\n\""));
    assert_string_equal(get_str(v, "plain.key"), "x\"y");
    yajl_tree_free(v);
    lf_free(text);
}

/* Plain keys are copied inline up to 32 bytes and the general way past
 * that; either way the key comes out whole. */
static void test_plain_keys_of_every_length_come_out_whole(void **state)
{
    static const char key[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";

    (void)state;
    for (size_t n = 1; n < sizeof(key); n++) {
        struct lfp_field f[2];
        struct lfp_record rec = {.fields = f, .nfields = 2};
        char want[96], buf[512];
        size_t len;
        memset(f, 0, sizeof(f));
        lf_field_set_int(&f[0], "a", 1);
        lf_field_set_int(&f[1], "b", 2);
        f[0].key = key;
        f[0].key_len = (uint16_t)n;
        f[0].flags = LFP_FIELD_KEY_PLAIN | LFP_FIELD_KEY_STABLE;
        len = lf_json_record(&rec, buf);
        buf[len] = '\0';
        /* The key and its value fit: n is below 46. */
        (void)snprintf(want, sizeof(want), ",\"%.*s\":1,", (int)n, key);
        if (!strstr(buf, want))
            fail_msg("key of %zu bytes: %s", n, buf);
    }
}

static void test_numbers_bools_nulls_arrays(void **state)
{
    struct lfp_field arr[2];
    struct lfp_field f[6];
    struct lfp_record rec = {
        .ts_ns = INT64_C(1748736000123456789), .fields = f, .nfields = 6};
    const char *p_i[] = {"i", NULL}, *p_d[] = {"d", NULL}, *p_a[] = {"a", NULL};
    char *text;
    yajl_val v, x;

    (void)state;
    memset(f, 0, sizeof(f));
    memset(arr, 0, sizeof(arr));
    lf_field_set_int(&f[0], "i", INT64_MIN);
    lf_field_set_float(&f[1], "d", 0.209);
    f[2].key = "b";
    f[2].key_len = 1;
    f[2].type = LFP_T_BOOL;
    f[2].v.i = 1;
    f[3].key = "n";
    f[3].key_len = 1;
    f[3].type = LFP_T_NULL;
    lf_field_set_str(&arr[0], "", "10.0.0.1:80", 11);
    lf_field_set_int(&arr[1], "", 502);
    f[4].key = "a";
    f[4].key_len = 1;
    f[4].type = LFP_T_ARRAY;
    f[4].n = 2;
    f[4].v.arr = arr;
    lf_field_set_float(&f[5], "inf", 1.0 / 0.0);
    v = roundtrip(&rec, &text);
    assert_non_null(strstr(text, "\"d\":0.209,"));
    assert_non_null(strstr(text, "\"inf\":null"));
    assert_string_equal(get_str(v, "@timestamp"), "2025-06-01T00:00:00.123Z");
    x = yajl_tree_get(v, p_i, yajl_t_number);
    assert_non_null(x);
    assert_true(YAJL_GET_INTEGER(x) == INT64_MIN);
    x = yajl_tree_get(v, p_d, yajl_t_number);
    assert_true(YAJL_GET_DOUBLE(x) == 0.209);
    x = yajl_tree_get(v, p_a, yajl_t_array);
    assert_non_null(x);
    assert_int_equal(YAJL_GET_ARRAY(x)->len, 2);
    yajl_tree_free(v);
    lf_free(text);
}

/* Every integer near zero, where the short ones come from a table of
 * texts, negative ones do not, and the lengths change at 10, 100 and
 * 1000. */
static void test_small_integers_match_printf(void **state)
{
    (void)state;
    for (int64_t i = -1100; i <= 1100; i++) {
        struct lfp_field f[2];
        struct lfp_record rec = {.fields = f, .nfields = 2};
        char want[64], buf[256];
        size_t n;
        memset(f, 0, sizeof(f));
        lf_field_set_int(&f[0], "i", i);
        lf_field_set_int(&f[1], "j", i / 7);
        (void)snprintf(want, sizeof(want), /* always fits */
                       ",\"i\":%" PRId64 ",\"j\":%" PRId64 "}", i, i / 7);
        n = lf_json_record(&rec, buf);
        buf[n] = '\0';
        if (!strstr(buf, want))
            fail_msg("%" PRId64 " written as %s", i, buf);
    }
}

/* A key the way a parser stores its names: ,\" before it, \": after it,
 * zeros to 32 bytes. */
struct framed_key {
    char frame[32];
};

static const char *framed(struct framed_key *k, const char *key)
{
    size_t n = strlen(key);

    assert_true(n <= 28);
    memset(k->frame, 0, sizeof(k->frame));
    memcpy(k->frame, ",\"", 2);
    memcpy(k->frame + 2, key, n);
    memcpy(k->frame + 2 + n, "\":", 2);
    return k->frame + 2;
}

/* An array of one value equal to the field before it reuses that text;
 * any difference (bits, type, size, escaping) writes it anew. Keys that
 * need escaping, plain keys and framed keys take different paths: each
 * must give the same text. */
static void test_one_value_arrays_after_their_scalar(void **state)
{
    static const char url[] = "/a\"b";
    static const char long_url[] = "/a/very/long/path/of/forty/bytes/or/more";
    static const char *const names[9] = {"t", "u", "s", "p", "i",
                                         "q", "b", "l", "a"};
    struct lfp_field arr[8];
    struct lfp_field f[16];
    struct framed_key keys[16];
    struct lfp_record rec = {.fields = f, .nfields = 16};

    (void)state;
    for (int how = 0; how < 3; how++) {
        char *text;
        yajl_val v;
        memset(f, 0, sizeof(f));
        memset(arr, 0, sizeof(arr));
        lf_field_set_float(&f[0], names[0], 0.025);
        lf_field_set_float(&arr[0], "", 0.025); /* same bits */
        lf_field_set_float(&f[2], names[1], 0.5);
        lf_field_set_float(&arr[1], "", 0.25); /* other bits */
        lf_field_set_str(&f[4], names[2], url, 4);
        lf_field_set_str(&arr[2], "", url, 4); /* same string */
        lf_field_set_str(&f[6], names[3], url, 3);
        lf_field_set_str(&arr[3], "", url, 4); /* longer */
        lf_field_set_int(&f[8], names[4], 502);
        lf_field_set_float(&arr[4], "", 502.0); /* other type */
        lf_field_set_str(&f[10], names[5], "10.0.0.1", 8);
        f[10].flags &= (uint8_t)~LFP_FIELD_ESCAPE;
        lf_field_set_str(&arr[5], "", "10.0.0.1", 8);
        f[12].type = LFP_T_BOOL; /* no scalar text to reuse */
        f[12].v.i = 1;
        f[12].key = names[6];
        f[12].key_len = 1;
        arr[6] = f[12];
        lf_field_set_str(&f[14], names[7], long_url, sizeof(long_url) - 1);
        lf_field_set_str(&arr[7], "", long_url, sizeof(long_url) - 1);
        for (int i = 0; i < 8; i++) {
            f[2 * i + 1].key = names[8];
            f[2 * i + 1].key_len = 1;
            f[2 * i + 1].type = LFP_T_ARRAY;
            f[2 * i + 1].n = 1;
            f[2 * i + 1].v.arr = &arr[i];
        }
        for (int i = 0; i < 16 && how > 0; i++) {
            f[i].flags |= LFP_FIELD_KEY_PLAIN;
            if (how == 2) {
                f[i].key = framed(&keys[i], names[i % 2 ? 8 : i / 2]);
                f[i].flags |= LFP_FIELD_KEY_FRAMED;
            }
        }
        v = roundtrip(&rec, &text);
        assert_non_null(strstr(text, "\"t\":0.025,\"a\":[0.025],"));
        assert_non_null(strstr(text, "\"u\":0.5,\"a\":[0.25],"));
        assert_non_null(strstr(text, "\"s\":\"/a\\\"b\",\"a\":[\"/a\\\"b\"],"));
        assert_non_null(strstr(text, "\"p\":\"/a\\\"\",\"a\":[\"/a\\\"b\"],"));
        assert_non_null(strstr(text, "\"i\":502,\"a\":[502],"));
        assert_non_null(
            strstr(text, "\"q\":\"10.0.0.1\",\"a\":[\"10.0.0.1\"],"));
        assert_non_null(strstr(text, "\"b\":true,\"a\":[true],"));
        assert_non_null(strstr(text, "\"l\":\"/a/very/long/path/of/forty/"
                                     "bytes/or/more\",\"a\":[\"/a/very/long/"
                                     "path/of/forty/bytes/or/more\"]}"));
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* Every double must read back exactly, fast path or not. */
static void test_doubles_round_trip_exactly(void **state)
{
    static const double fixed[] = {0.0,
                                   0.209,
                                   60.002,
                                   1e-6,
                                   123456.789,
                                   -0.5,
                                   0.1 + 0.2,
                                   1e20,
                                   3.14159265358979,
                                   5e-324,
                                   1.7976931348623157e308,
                                   -1e-7};
    unsigned seed = 7;

    (void)state;
    /* The second half repeats the first: those texts come from the
     * writer's memo of recent doubles, and -0.0 is not 0.0. */
    for (int i = 0; i < 40000; i++) {
        struct lfp_field f = {0};
        struct lfp_record rec = {.fields = &f, .nfields = 1};
        const char *path[] = {"d", NULL};
        double d;
        char *text;
        yajl_val v;
        if (i == 20000)
            seed = 7;
        if (i % 20000 < (int)(sizeof(fixed) / sizeof(fixed[0])))
            d = fixed[i % 20000];
        else if (i % 2)
            d = (double)(rand_r(&seed) % 100000000) / 1000.0;
        else
            d = (double)rand_r(&seed) / (double)RAND_MAX * 1e4;
        if (i == 20001)
            d = -0.0;
        lf_field_set_float(&f, "d", d);
        v = roundtrip(&rec, &text);
        if (YAJL_GET_DOUBLE(yajl_tree_get(v, path, yajl_t_number)) != d)
            fail_msg("%.17g came back different: %s", d, text);
        if (i == 20001 && !strstr(text, "\"d\":-0"))
            fail_msg("-0.0 lost its sign: %s", text);
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* Texts of up to 16 bytes and longer ones are remembered in slots of
 * their own sizes: written again, each comes back whole. */
static void test_doubles_of_every_text_length_repeat_exactly(void **state)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {0.025, "0.025"},
        {1234567.0625, "1234567.0625"},
        {0.12345678901234, "0.12345678901234"},     /* 16 bytes */
        {0.123456789012345, "0.123456789012345"},   /* 17 */
        {0.1 + 0.2, "0.30000000000000004"},         /* 19 bytes */
        {123456789.01234567, "123456789.01234567"}, /* 18 */
        {1.2345678901234568e-300, "1.2345678901234568e-300"},
        {-1.2345678901234568e-300, "-1.2345678901234568e-300"}, /* 24 */
        {-0.001, "-0.001"},
        {1.5e300, "1.5e+300"},
    };

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct lfp_field f[2];
            struct lfp_record rec = {.fields = f, .nfields = 2};
            char want[96], *text;
            yajl_val v;
            memset(f, 0, sizeof(f));
            lf_field_set_float(&f[0], "a", cases[i].d);
            lf_field_set_float(&f[1], "b", cases[i].d);
            /* The texts are short: want always holds them. */
            (void)snprintf(want, sizeof(want), "\"a\":%s,\"b\":%s}",
                           cases[i].text, cases[i].text);
            v = roundtrip(&rec, &text);
            if (!strstr(text, want))
                fail_msg("round %d: %s, not %s", round, text, want);
            yajl_tree_free(v);
            lf_free(text);
        }
    }
}

/* The memo of doubles is per thread and starts empty: the first record
 * of a new thread must still write 0 for +0.0 (an empty slot holds the
 * bits of +0.0). */
static void *zero_in_first_record(void *arg)
{
    struct lfp_field f[2];
    struct lfp_record rec = {.fields = f, .nfields = 2};
    char buf[256];
    size_t n;

    memset(f, 0, sizeof(f));
    lf_field_set_float(&f[0], "z", 0.0);
    lf_field_set_float(&f[1], "m", -0.0);
    n = lf_json_record(&rec, buf);
    buf[n] = '\0';
    *(int *)arg = strstr(buf, ",\"z\":0,\"m\":-0}") != NULL;
    return NULL;
}

static void test_zero_in_the_first_record_of_a_thread(void **state)
{
    pthread_t t;
    int ok = 0;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, zero_in_first_record, &ok), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(ok);
}

static void test_unparsed_record_keeps_raw_line_and_marks(void **state)
{
    const char raw[] = "garbage \"line\" \xff";
    struct lfp_record rec = {.raw = raw,
                             .raw_len = sizeof(raw) - 1,
                             .flags = LFP_REC_PARSE_ERROR | LFP_REC_TRUNCATED};
    char *text;
    yajl_val v;
    const char *p_t[] = {"log.truncated", NULL};

    (void)state;
    v = roundtrip(&rec, &text);
    assert_string_equal(get_str(v, "message"), "garbage \"line\" \xef\xbf\xbd");
    assert_string_equal(get_str(v, "error.type"), "parse_error");
    assert_true(YAJL_IS_TRUE(yajl_tree_get(v, p_t, yajl_t_true)));
    yajl_tree_free(v);
    lf_free(text);
}

static void test_cap_below_bound_returns_zero(void **state)
{
    struct lfp_record rec = {.raw = "x", .raw_len = 1};
    char buf[16];

    (void)state;
    assert_int_equal(lf_json_record_cap(&rec, buf, sizeof(buf)), 0);
}

/* The opening is remembered from the record before: each record still
 * gets its own time, repeated or not, before the epoch or not. */
static void test_timestamps_follow_each_record(void **state)
{
    static const struct {
        int64_t ts_ns;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {0, "1970-01-01T00:00:00.000Z"},
        {INT64_C(1748736000123456789), "2025-06-01T00:00:00.123Z"},
        {INT64_C(1748736000123456789), "2025-06-01T00:00:00.123Z"},
        {INT64_C(1748736000124000000), "2025-06-01T00:00:00.124Z"},
        {INT64_C(1748736001000000000), "2025-06-01T00:00:01.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {0, "1970-01-01T00:00:00.000Z"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lfp_field f = {0};
        struct lfp_record rec = {
            .ts_ns = cases[i].ts_ns, .fields = &f, .nfields = 1};
        char *text;
        yajl_val v;
        lf_field_set_int(&f, "i", 1);
        v = roundtrip(&rec, &text);
        if (strcmp(get_str(v, "@timestamp"), cases[i].text) != 0)
            fail_msg("case %zu: %s", i, text);
        assert_true(strncmp(text, "{\"@timestamp\":\"", 15) == 0);
        assert_string_equal(text + 39, "\",\"i\":1}");
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* Integers of every length, each power of ten and its neighbours, and
 * random values of every bit length, written as printf writes them. */
static void test_integers_match_printf(void **state)
{
    unsigned seed = 11;
    int64_t vals[4096];
    size_t nv = 0;

    (void)state;
    for (int64_t p = 1; nv < 60; p *= 10) {
        vals[nv++] = p - 1;
        vals[nv++] = p;
        vals[nv++] = p + 1;
        if (p > INT64_MAX / 10)
            break;
    }
    vals[nv++] = INT64_MAX;
    vals[nv++] = INT64_MIN;
    while (nv < sizeof(vals) / sizeof(vals[0]) / 2) {
        uint64_t r = (uint64_t)rand_r(&seed) << 42 ^
                     (uint64_t)rand_r(&seed) << 21 ^ (uint64_t)rand_r(&seed);
        vals[nv++] = (int64_t)(r >> (rand_r(&seed) % 64));
    }
    for (size_t i = 0, n = nv; i < n; i++)
        vals[nv++] = vals[i] == INT64_MIN ? 0 : -vals[i];
    for (size_t i = 0; i < nv; i++) {
        struct lfp_field f = {0};
        struct lfp_record rec = {.fields = &f, .nfields = 1};
        char want[64], *text;
        yajl_val v;
        lf_field_set_int(&f, "i", vals[i]);
        snprintf(want, sizeof(want), "\"i\":%" PRId64 "}", vals[i]);
        v = roundtrip(&rec, &text);
        if (!strstr(text, want))
            fail_msg("%" PRId64 " written as %s", vals[i], text);
        yajl_tree_free(v);
        lf_free(text);
    }
}

/* A record with a field of every kind; framed keys when frame is set. */
static void mixed_record(struct lfp_field *f, struct lfp_field *arr,
                         struct framed_key *keys, int frame)
{
    static const char *const names[8] = {
        "source.ip",
        "url.original",
        "upstream.response_time",
        "http.response.body.bytes",
        "upstream.response_times",
        "abcdefghijklmnopqrstuvwxyz01", /* 28 bytes: the longest framed */
        "x",
        "upstream.addresses",
    };

    memset(f, 0, 8 * sizeof(*f));
    memset(arr, 0, 2 * sizeof(*arr));
    lf_field_set_str(&f[0], names[0], "10.0.0.1", 8);
    f[0].flags = 0; /* an IP: checked when it was parsed */
    lf_field_set_str(&f[1], names[1], "/a\"b\x01\xff/caf\xc3\xa9", 13);
    lf_field_set_float(&f[2], names[2], 0.025);
    lf_field_set_int(&f[3], names[3], 1234567890123);
    lf_field_set_float(&arr[0], "", 0.025);
    f[4].key = names[4];
    f[4].key_len = (uint16_t)strlen(names[4]);
    f[4].type = LFP_T_ARRAY;
    f[4].n = 1;
    f[4].v.arr = &arr[0];
    lf_field_set_int(&f[5], names[5], -7);
    lf_field_set_str(&f[6], names[6], "plain", 5);
    lf_field_set_str(&arr[1], "", "10.0.0.1:80", 11);
    f[7].key = names[7];
    f[7].key_len = (uint16_t)strlen(names[7]);
    f[7].type = LFP_T_ARRAY;
    f[7].n = 1;
    f[7].v.arr = &arr[1];
    for (int i = 0; i < 8; i++) {
        f[i].flags |= LFP_FIELD_KEY_PLAIN | LFP_FIELD_KEY_STABLE;
        if (frame) {
            f[i].key = framed(&keys[i], names[i]);
            f[i].flags |= LFP_FIELD_KEY_FRAMED;
        }
    }
}

/* A framed key is written exactly as the same key without the hint. */
static void test_framed_keys_write_the_same_bytes(void **state)
{
    struct lfp_field f[8], g[8], arr[2], arr2[2];
    struct framed_key keys[8];
    struct lfp_record a = {.ts_ns = 1, .fields = f, .nfields = 8};
    struct lfp_record b = {.ts_ns = 1, .fields = g, .nfields = 8};
    char *ta, *tb;
    yajl_val va, vb;

    (void)state;
    mixed_record(f, arr, keys, 0);
    mixed_record(g, arr2, keys, 1);
    va = roundtrip(&a, &ta);
    vb = roundtrip(&b, &tb);
    assert_string_equal(ta, tb);
    assert_non_null(strstr(tb, ",\"abcdefghijklmnopqrstuvwxyz01\":-7,"));
    assert_non_null(strstr(tb, ",\"upstream.response_times\":[0.025],"));
    yajl_tree_free(va);
    yajl_tree_free(vb);
    lf_free(ta);
    lf_free(tb);
}

/* Whatever cap is given, nothing is written at or past it, and a record
 * either comes out whole or not at all (0). The bytes after cap are
 * watched for every cap from too small to plenty. */
static void test_cap_is_never_written_past(void **state)
{
    struct lfp_field f[8], arr[2];
    struct framed_key keys[8];
    char want[1024], buf[1024 + 64];

    (void)state;
    for (int frame = 0; frame < 2; frame++) {
        struct lfp_record rec = {.ts_ns = 1, .fields = f, .nfields = 8};
        size_t full, bound;
        mixed_record(f, arr, keys, frame);
        bound = lf_json_record_bound(&rec);
        assert_true(bound <= sizeof(want));
        full = lf_json_record(&rec, want);
        for (size_t cap = 0; cap <= bound; cap++) {
            size_t n;
            memset(buf, 0x5a, sizeof(buf));
            n = lf_json_record_cap(&rec, buf, cap);
            for (size_t i = cap; i < sizeof(buf); i++)
                if (buf[i] != 0x5a)
                    fail_msg("cap %zu: byte %zu written", cap, i);
            if (n != 0 && (n != full || memcmp(buf, want, n) != 0))
                fail_msg("cap %zu: a record of %zu bytes, not %zu", cap, n,
                         full);
        }
        assert_int_equal(lf_json_record_cap(&rec, buf, bound), full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_controls_quotes_and_backslashes),
        cmocka_unit_test(test_valid_utf8_passes_invalid_becomes_replacement),
        cmocka_unit_test(test_random_bytes_always_give_valid_json),
        cmocka_unit_test(test_a_special_byte_is_caught_at_every_offset),
        cmocka_unit_test(test_plain_strings_of_every_length_come_out_whole),
        cmocka_unit_test(test_plain_flags_copy_and_others_escape),
        cmocka_unit_test(test_plain_keys_of_every_length_come_out_whole),
        cmocka_unit_test(test_numbers_bools_nulls_arrays),
        cmocka_unit_test(test_one_value_arrays_after_their_scalar),
        cmocka_unit_test(test_doubles_round_trip_exactly),
        cmocka_unit_test(test_doubles_of_every_text_length_repeat_exactly),
        cmocka_unit_test(test_zero_in_the_first_record_of_a_thread),
        cmocka_unit_test(test_unparsed_record_keeps_raw_line_and_marks),
        cmocka_unit_test(test_cap_below_bound_returns_zero),
        cmocka_unit_test(test_timestamps_follow_each_record),
        cmocka_unit_test(test_integers_match_printf),
        cmocka_unit_test(test_small_integers_match_printf),
        cmocka_unit_test(test_framed_keys_write_the_same_bytes),
        cmocka_unit_test(test_cap_is_never_written_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
