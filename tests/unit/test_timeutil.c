/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_timeutil.c - time formats, civil-date arithmetic, the per-thread
 * cache and @timestamp printing (src/timeutil.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mem.h"
#include "timeutil.h"

#define NS INT64_C(1000000000)

/* Parses s with fmt (no cache); fails the test if fmt does not compile. */
static int parse_with(const char *fmt, const char *s, int64_t *ts_ns)
{
    struct lf_timefmt *tf = NULL;
    struct lfp_err err = {0};
    int rc;

    assert_int_equal(lf_timefmt_compile(fmt, &tf, &err), LFP_OK);
    rc = lf_time_parse(tf, NULL, s, strlen(s), ts_ns);
    lf_timefmt_free(tf);
    return rc;
}

static int64_t parse_ok(const char *fmt, const char *s)
{
    int64_t ts = 0;

    if (parse_with(fmt, s, &ts) != LFP_OK)
        fail_msg("'%s' did not parse with '%s'", s, fmt);
    return ts;
}

static void assert_rejected(const char *fmt, const char *s)
{
    int64_t ts = 0;

    if (parse_with(fmt, s, &ts) != LFP_ERR_PARSE)
        fail_msg("'%s' parsed with '%s', expected LFP_ERR_PARSE", s, fmt);
}

static void test_days_from_civil_matches_known_dates(void **state)
{
    (void)state;
    assert_int_equal(lf_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(lf_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(lf_days_from_civil(2000, 1, 1), 10957);
    assert_int_equal(lf_days_from_civil(2000, 2, 29), 11016);
    assert_int_equal(lf_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(lf_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(lf_days_from_civil(2038, 1, 19), 24855);
    assert_int_equal(lf_days_from_civil(2100, 2, 28), 47540);
    assert_int_equal(lf_days_from_civil(2100, 3, 1), 47541);
    assert_int_equal(lf_days_from_civil(1600, 3, 1), -135080);
    assert_int_equal(lf_days_from_civil(1, 1, 1), -719162);
    assert_int_equal(lf_days_from_civil(9999, 12, 31), 2932896);
}

static void test_nginx_time_local_with_zone(void **state)
{
    const char *fmt = "%d/%b/%Y:%H:%M:%S %z";

    (void)state;
    assert_int_equal(parse_ok(fmt, "01/Jun/2025:00:00:00 +0000"),
                     INT64_C(1748736000) * NS);
    assert_int_equal(parse_ok(fmt, "10/Oct/2000:13:55:36 -0700"),
                     INT64_C(971211336) * NS);
    assert_int_equal(parse_ok(fmt, "10/oct/2000:13:55:36 -07:00"),
                     INT64_C(971211336) * NS);
    assert_int_equal(parse_ok(fmt, "01/Jun/2025:02:00:00 +0200"),
                     INT64_C(1748736000) * NS);
}

static void test_iso8601_fractions_and_zones(void **state)
{
    int64_t base = INT64_C(1748781296) * NS;

    (void)state;
    assert_int_equal(parse_ok("iso8601", "2025-06-01T12:34:56.789123Z"),
                     base + 789123000);
    assert_int_equal(parse_ok("rfc3339", "2025-06-01T12:34:56Z"), base);
    assert_int_equal(parse_ok("iso8601", "2025-06-01T14:34:56+02:00"), base);
    assert_int_equal(parse_ok("iso8601", "2025-06-01T14:34:56+0200"), base);
    assert_int_equal(parse_ok("iso8601", "2025-06-01T10:34:56-02"), base);
    assert_int_equal(parse_ok("iso8601", "2025-06-01 12:34:56"), base);
    assert_int_equal(parse_ok("ISO8601", "2025-06-01t12:34:56,5z"),
                     base + 500000000);
    assert_int_equal(parse_ok("iso8601", "2025-06-01T12:34:56.123456789123Z"),
                     base + 123456789);
    assert_rejected("iso8601", "2025-6-01T12:34:56Z");
    assert_rejected("iso8601", "2025-06-01T12:34:56.Z");
    assert_rejected("iso8601", "2025-06-01T12:34:56+02:");
    assert_rejected("iso8601", "2025-06-01X12:34:56Z");
}

static void test_haproxy_and_nginx_error_formats(void **state)
{
    (void)state;
    assert_int_equal(
        parse_ok("%d/%b/%Y:%H:%M:%S.%f", "09/Dec/2013:12:59:46.633"),
        INT64_C(1386593986) * NS + 633000000);
    assert_int_equal(parse_ok("%Y/%m/%d %H:%M:%S", "2018/05/29 15:33:58"),
                     INT64_C(1527608038) * NS);
    assert_rejected("%d/%b/%Y:%H:%M:%S.%f", "09/Dec/2013:12:59:46");
}

static void test_epoch_seconds_with_fraction(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("%s", "1700000000"), INT64_C(1700000000) * NS);
    assert_int_equal(parse_ok("%s", "1700000000.123"),
                     INT64_C(1700000000) * NS + 123000000);
    assert_int_equal(parse_ok("%s", "-1.5"), -NS - 500000000);
    assert_int_equal(parse_ok("%s.%f", "1700000000.000001"),
                     INT64_C(1700000000) * NS + 1000);
    assert_rejected("%s", "17000x");
    assert_rejected("%s", "");
    assert_rejected("%s", "99999999999999999999");
}

static void test_other_conversions(void **state)
{
    int64_t day = INT64_C(1704067200) * NS; /* 2024-01-01 */

    (void)state;
    assert_int_equal(parse_ok("%Y-%j", "2024-060"),
                     day + INT64_C(59) * 86400 * NS);
    assert_int_equal(parse_ok("%y%m%d", "240101"), day);
    assert_int_equal(
        parse_ok("%a, %e %B %Y %T %Z", "Mon,  1 January 2024 00:00:00 GMT"),
        day);
    assert_int_equal(parse_ok("%A %d %b %Y", "monday 01 JAN 2024"), day);
    assert_int_equal(parse_ok("%F %H%%", "2024-01-01 00%"), day);
    assert_int_equal(parse_ok("%m/%d/%Y %H:%M", "1/1/2024 0:00"), day);
    assert_rejected("%Y-%j", "2023-366");
    assert_rejected("%a %Y-%m-%d", "Xyz 2024-01-01");
    assert_rejected("%Y-%m-%d %Z", "2024-01-01 CEST");
}

static void test_impossible_dates_are_rejected(void **state)
{
    (void)state;
    assert_rejected("iso8601", "2025-13-01T00:00:00Z");
    assert_rejected("iso8601", "2025-00-01T00:00:00Z");
    assert_rejected("iso8601", "2025-02-30T00:00:00Z");
    assert_rejected("iso8601", "2023-02-29T00:00:00Z");
    assert_rejected("iso8601", "2100-02-29T00:00:00Z");
    assert_rejected("iso8601", "2025-06-00T00:00:00Z");
    assert_rejected("iso8601", "2025-04-31T00:00:00Z");
    assert_rejected("iso8601", "2025-06-01T25:00:00Z");
    assert_rejected("iso8601", "2025-06-01T24:00:00Z");
    assert_rejected("iso8601", "2025-06-01T12:60:00Z");
    assert_rejected("iso8601", "2025-06-01T12:00:61Z");
    assert_rejected("iso8601", "2025-06-01T12:00:00+24:00");
    assert_rejected("%d/%b/%Y:%H:%M:%S %z", "01/Foo/2025:00:00:00 +0000");
    /* Outside what int64 nanoseconds hold. */
    assert_rejected("iso8601", "1500-01-01T00:00:00Z");
    assert_rejected("iso8601", "2300-01-01T00:00:00Z");
    assert_int_equal(parse_ok("iso8601", "2024-02-29T00:00:00Z"),
                     INT64_C(1709164800) * NS);
    assert_int_equal(parse_ok("iso8601", "2000-02-29T00:00:00Z"),
                     INT64_C(951782400) * NS);
    assert_int_equal(parse_ok("iso8601", "2016-12-31T23:59:60Z"),
                     INT64_C(1483228800) * NS);
}

static void test_truncated_and_trailing_input_is_rejected(void **state)
{
    const char *fmt = "%d/%b/%Y:%H:%M:%S %z";

    (void)state;
    assert_rejected(fmt, "");
    assert_rejected(fmt, "01/Jun/2025:00:00:00");
    assert_rejected(fmt, "01/Jun/2025:00:00:00 +0");
    assert_rejected(fmt, "01/Jun/2025:00:00:00 +00:");
    assert_int_equal(parse_ok(fmt, "01/Jun/2025:00:00:00 +00"),
                     INT64_C(1748736000) * NS);
    assert_rejected(fmt, "01/Jun/2025:00:00:00 +0000 ");
    assert_rejected(fmt, "01/Jun/2025:00:00:00 +0000x");
    assert_rejected("%s", "1700000000.");
}

static void test_bad_formats_fail_to_compile(void **state)
{
    static const char *const bad[] = {
        "%Q", "%Y-%m-%", "%H:%M:%S", "%Y-%m-%d %H:%M:%S%f", "", "%b %d",
    };
    struct lf_timefmt *tf;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lfp_err err = {0};
        tf = (struct lf_timefmt *)&err;
        assert_int_equal(lf_timefmt_compile(bad[i], &tf, &err), LFP_ERR_CONFIG);
        assert_null(tf);
        assert_true(err.msg[0] != '\0');
    }
    {
        struct lfp_err err = {0};
        assert_int_equal(lf_timefmt_compile("%Y-%Q", &tf, &err),
                         LFP_ERR_CONFIG);
        assert_non_null(strstr(err.msg, "%Q"));
    }
}

static void test_cache_hit_and_miss_give_the_same_result(void **state)
{
    static const char *const lines[] = {
        "01/Jun/2025:00:00:00 +0000", "01/Jun/2025:00:00:00 +0000",
        "01/Jun/2025:00:00:00 +0200", "01/Jun/2025:00:00:00 -0130",
        "01/Jun/2025:00:00:01 +0000", "01/Jun/2025:00:00:00 +0000",
        "1/Jun/2025:00:00:00 +0000",  "01/Jun/2025:00:00:00 +0000",
        "31/Dec/1999:23:59:59 +0000", "31/Dec/1999:23:59:59 -0000",
        "30/Feb/2025:00:00:00 +0000", "01/Jun/2025:00:00:00 +0000",
    };
    struct lf_timefmt *tf;
    struct lf_timecache cache = {0};
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_timefmt_compile("%d/%b/%Y:%H:%M:%S %z", &tf, &err),
                     LFP_OK);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        int64_t cached = -1, fresh = -2;
        size_t len = strlen(lines[i]);
        int rc1 = lf_time_parse(tf, &cache, lines[i], len, &cached);
        int rc2 = lf_time_parse(tf, NULL, lines[i], len, &fresh);
        assert_int_equal(rc1, rc2);
        if (rc1 == LFP_OK)
            assert_int_equal(cached, fresh);
    }
    /* The last line filled the cache with its date and time. */
    assert_int_equal(cache.key_len, 20);
    assert_memory_equal(cache.key, "01/Jun/2025:00:00:00", 20);
    assert_int_equal(cache.sec, INT64_C(1748736000));
    lf_timefmt_free(tf);
}

static void test_cache_shared_by_two_formats_keeps_them_apart(void **state)
{
    struct lf_timefmt *dmy, *mdy;
    struct lf_timecache cache = {0};
    struct lfp_err err = {0};
    const char *s = "01/02/2025 00:00:00";
    int64_t a, b;

    (void)state;
    assert_int_equal(lf_timefmt_compile("%d/%m/%Y %H:%M:%S", &dmy, &err), 0);
    assert_int_equal(lf_timefmt_compile("%m/%d/%Y %H:%M:%S", &mdy, &err), 0);
    assert_int_equal(lf_time_parse(dmy, &cache, s, strlen(s), &a), LFP_OK);
    assert_int_equal(lf_time_parse(mdy, &cache, s, strlen(s), &b), LFP_OK);
    assert_int_equal(a, INT64_C(1738368000) * NS); /* 1 February */
    assert_int_equal(b, INT64_C(1735776000) * NS); /* 2 January */
    lf_timefmt_free(dmy);
    lf_timefmt_free(mdy);
}

static void test_cache_reuses_seconds_for_iso_fractions(void **state)
{
    struct lf_timefmt *tf;
    struct lf_timecache cache = {0};
    struct lfp_err err = {0};
    const char *a = "2025-06-01T12:34:56.100Z";
    const char *b = "2025-06-01T12:34:56.200+01:00";
    int64_t ts;

    (void)state;
    assert_int_equal(lf_timefmt_compile("iso8601", &tf, &err), LFP_OK);
    assert_int_equal(lf_time_parse(tf, &cache, a, strlen(a), &ts), LFP_OK);
    assert_int_equal(ts, INT64_C(1748781296) * NS + 100000000);
    assert_int_equal(cache.key_len, 19);
    assert_int_equal(lf_time_parse(tf, &cache, b, strlen(b), &ts), LFP_OK);
    assert_int_equal(ts, INT64_C(1748777696) * NS + 200000000);
    /* The same text again, whole; a prefix of it is not a match. */
    assert_int_equal(lf_time_parse(tf, &cache, b, strlen(b), &ts), LFP_OK);
    assert_int_equal(ts, INT64_C(1748777696) * NS + 200000000);
    assert_int_equal(lf_time_parse(tf, &cache, b, strlen(b) - 1, &ts),
                     LFP_ERR_PARSE);
    assert_int_equal(lf_time_parse(tf, &cache, a, strlen(a), &ts), LFP_OK);
    assert_int_equal(ts, INT64_C(1748781296) * NS + 100000000);
    lf_timefmt_free(tf);
}

/* The whole-string cache tells apart strings of every length that differ
 * in one byte anywhere, short ones and the bytes either side of a word
 * boundary included: each parses as without the cache. Each string is
 * exactly its length on the heap, so that ASan sees a read past it. */
static void test_cache_whole_string_differs_in_any_byte(void **state)
{
    static const char base[] = "1700000000.123456789123456789123456789";
    struct lf_timefmt *tf;
    struct lf_timecache cache = {0};
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_timefmt_compile("%s", &tf, &err), LFP_OK);
    for (size_t len = 1; len < sizeof(base); len++) {
        for (size_t j = 0; j <= len; j++) {
            int64_t cached = -1, fresh = -2;
            char *s = lf_malloc(len);
            int rc1, rc2;

            memcpy(s, base, len);
            /* j == len: the string the cache holds, unchanged */
            if (j < len && s[j] != '.')
                s[j] = (char)('0' + (s[j] - '0' + 1) % 10);
            rc1 = lf_time_parse(tf, &cache, base, len, &cached);
            rc2 = lf_time_parse(tf, NULL, base, len, &fresh);
            assert_int_equal(rc1, rc2);
            if (rc1 == LFP_OK)
                assert_int_equal(cached, fresh);
            rc1 = lf_time_parse(tf, &cache, s, len, &cached);
            rc2 = lf_time_parse(tf, NULL, s, len, &fresh);
            lf_free(s);
            assert_int_equal(rc1, rc2);
            if (rc1 == LFP_OK)
                assert_int_equal(cached, fresh);
        }
    }
    lf_timefmt_free(tf);
}

static void test_format_iso_prints_milliseconds_utc(void **state)
{
    char out[LF_TIME_ISO_LEN + 1] = {0};

    (void)state;
    lf_time_format_iso(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    lf_time_format_iso(INT64_C(1748781296) * NS + 789123000, out);
    assert_string_equal(out, "2025-06-01T12:34:56.789Z");
    lf_time_format_iso(INT64_C(1748781296) * NS + 5000000, out);
    assert_string_equal(out, "2025-06-01T12:34:56.005Z");
    lf_time_format_iso(INT64_C(951782400) * NS, out);
    assert_string_equal(out, "2000-02-29T00:00:00.000Z");
    lf_time_format_iso(INT64_C(2147483647) * NS, out);
    assert_string_equal(out, "2038-01-19T03:14:07.000Z");
    lf_time_format_iso(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    lf_time_format_iso(INT64_C(4107542400) * NS, out);
    assert_string_equal(out, "2100-03-01T00:00:00.000Z");
}

static void test_format_iso_round_trips_through_parse(void **state)
{
    struct lf_timefmt *tf;
    struct lfp_err err = {0};
    char out[LF_TIME_ISO_LEN];

    (void)state;
    assert_int_equal(lf_timefmt_compile("iso8601", &tf, &err), LFP_OK);
    for (int64_t ts = -INT64_C(86400123) * 1000000;
         ts < INT64_C(4) * NS * 1000000000; ts += INT64_C(7777777777777777)) {
        int64_t back;
        lf_time_format_iso(ts, out);
        assert_int_equal(lf_time_parse(tf, NULL, out, sizeof(out), &back),
                         LFP_OK);
        assert_int_equal(back, ts - ((ts % 1000000 + 1000000) % 1000000));
    }
    lf_timefmt_free(tf);
}

static void test_now_is_after_2024(void **state)
{
    (void)state;
    assert_true(lf_time_now_ns() > INT64_C(1704067200) * NS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_from_civil_matches_known_dates),
        cmocka_unit_test(test_nginx_time_local_with_zone),
        cmocka_unit_test(test_iso8601_fractions_and_zones),
        cmocka_unit_test(test_haproxy_and_nginx_error_formats),
        cmocka_unit_test(test_epoch_seconds_with_fraction),
        cmocka_unit_test(test_other_conversions),
        cmocka_unit_test(test_impossible_dates_are_rejected),
        cmocka_unit_test(test_truncated_and_trailing_input_is_rejected),
        cmocka_unit_test(test_bad_formats_fail_to_compile),
        cmocka_unit_test(test_cache_hit_and_miss_give_the_same_result),
        cmocka_unit_test(test_cache_shared_by_two_formats_keeps_them_apart),
        cmocka_unit_test(test_cache_reuses_seconds_for_iso_fractions),
        cmocka_unit_test(test_cache_whole_string_differs_in_any_byte),
        cmocka_unit_test(test_format_iso_prints_milliseconds_utc),
        cmocka_unit_test(test_format_iso_round_trips_through_parse),
        cmocka_unit_test(test_now_is_after_2024),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
