/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c - the upstream aggregator: exact counters across worker
 * shards, the cardinality guard, series expiry, sliding windows, what is
 * not counted, and the metrics.* options.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_buf.h"
#include "metrics_int.h"

#define SEC INT64_C(1000000000)
/* A fixed "now" far from the epoch, on a slot boundary. */
#define T0 (INT64_C(1800000000) * SEC)

struct req {
    const char *upstream; /* NULL: field absent */
    int status;           /* 0: field absent */
    const char *error;
    int attempts;
    int bytes;
    double response_s; /* < 0: absent */
    int64_t duration_ns;
};

static struct lf_metrics *metrics_make(const char *const *kv)
{
    struct lfp_kvlist opts = {0};
    struct lfp_err err = {0};
    struct lf_metrics *m = NULL;
    size_t n = 0;

    while (kv[2 * n])
        n++;
    opts.keys = (char **)lf_calloc(n + 1, sizeof(char *));
    opts.vals = (char **)lf_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        opts.keys[i] = (char *)kv[2 * i];
        opts.vals[i] = (char *)kv[2 * i + 1];
    }
    opts.n = n;
    if (lf_metrics_new(&opts, "test.conf", 3, &m, &err) != LFP_OK)
        fail_msg("lf_metrics_new: %s", err.msg);
    lf_free(opts.keys);
    lf_free(opts.vals);
    assert_non_null(m);
    return m;
}

static struct lfp_chunk *chunk_make(const char *tag, const struct req *r,
                                    size_t n)
{
    struct lfp_chunk *c = lf_chunk_new(65536, 65536);

    lf_chunk_set_tag(c, tag, strlen(tag));
    for (size_t i = 0; i < n; i++) {
        struct lfp_record *rec;
        lf_chunk_add_line(c, 0, 0, 0);
        rec = &c->records[c->nrecords - 1];
        if (r[i].upstream)
            lf_field_set_str(lf_record_add(c, rec), "upstream.address",
                             r[i].upstream, strlen(r[i].upstream));
        if (r[i].status)
            lf_field_set_int(lf_record_add(c, rec), "http.response.status_code",
                             r[i].status);
        if (r[i].error)
            lf_field_set_str(lf_record_add(c, rec), "upstream.error",
                             r[i].error, strlen(r[i].error));
        if (r[i].attempts)
            lf_field_set_int(lf_record_add(c, rec), "upstream.attempts",
                             r[i].attempts);
        if (r[i].bytes)
            lf_field_set_int(lf_record_add(c, rec), "http.response.body.bytes",
                             r[i].bytes);
        if (r[i].response_s >= 0)
            lf_field_set_float(lf_record_add(c, rec), "upstream.response_time",
                               r[i].response_s);
        if (r[i].duration_ns)
            lf_field_set_int(lf_record_add(c, rec), "event.duration",
                             r[i].duration_ns);
    }
    return c;
}

static void observe(struct lf_metrics_shard *sh, const char *tag,
                    const struct req *r, size_t n)
{
    struct lfp_chunk *c = chunk_make(tag, r, n);
    lf_metrics_observe(sh, c);
    lf_chunk_free(c);
}

static char *render(struct lf_metrics *m, int64_t now)
{
    struct lf_mbuf b;
    lf_mbuf_init(&b);
    lf_metrics_render(m, now, &b);
    return lf_mbuf_take(&b, NULL);
}

static void assert_line(const char *text, const char *line)
{
    char want[512];
    (void)snprintf(want, sizeof(want), "\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("missing line: %s", line);
}

static const char *const defaults[] = {"enabled", "on", NULL};

static void test_counters_are_exact_across_shards(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *a = lf_metrics_shard_new(m);
    struct lf_metrics_shard *b = lf_metrics_shard_new(m);
    const struct req r1[] = {
        {"10.0.0.1:80", 200, NULL, 1, 100, 0.004, 5000000},
        {"10.0.0.1:80", 502, "refused", 3, 0, 0.020, 25000000},
        {"10.0.0.2:80", 504, "timeout", 2, 10, 1.5, 0},
        {NULL, 404, NULL, 0, 7, -1, 1000},
    };
    const struct req r2[] = {
        {"10.0.0.1:80", 200, NULL, 1, 50, 0.004, 0},
        {"10.0.0.1:80", 0, NULL, 0, 0, 11.0, 0},
    };
    char *text;

    (void)state;
    observe(a, "nginx.access", r1, 4);
    observe(b, "nginx.access", r2, 2);
    text = render(m, T0);
    assert_line(text,
                "logferry_upstream_requests_total{upstream=\"10.0.0.1:80\""
                ",code=\"200\"} 2");
    assert_line(text,
                "logferry_upstream_requests_total{upstream=\"10.0.0.1:80\""
                ",code=\"502\"} 1");
    assert_line(text,
                "logferry_upstream_requests_total{upstream=\"10.0.0.1:80\""
                ",code=\"none\"} 1");
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"-\",code=\"404\"} 1");
    assert_line(text, "logferry_upstream_errors_total{upstream=\"10.0.0.2:80\","
                      "error=\"timeout\"} 1");
    assert_line(text,
                "logferry_upstream_retries_total{upstream=\"10.0.0.1:80\"} 2");
    assert_line(
        text,
        "logferry_upstream_response_bytes_total{upstream=\"10.0.0.1:80\"} 150");
    /* 0.004 twice and 0.020 fall at or below 0.005/0.025; 11 is above 10. */
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"10.0.0.1:80\",le=\"0.005\"} 2");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"10.0.0.1:80\",le=\"0.025\"} 3");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"10.0.0.1:80\",le=\"10\"} 3");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"10.0.0.1:80\",le=\"+Inf\"} 4");
    assert_line(text, "logferry_upstream_response_seconds_count{upstream="
                      "\"10.0.0.1:80\"} 4");
    /* event.duration is in ns: 25 ms lands in the 0.025 bucket. */
    assert_line(text, "logferry_upstream_request_seconds_bucket{upstream="
                      "\"10.0.0.1:80\",le=\"0.025\"} 2");
    assert_line(text, "logferry_upstream_5xx_ratio{upstream=\"10.0.0.1:80\","
                      "window=\"1m\"} 0.25");
    assert_line(text, "logferry_upstream_error_ratio{upstream=\"10.0.0.2:80\","
                      "window=\"5m\"} 1");
    assert_line(text, "logferry_metrics_series 3");
    lf_free(text);
    lf_metrics_shard_free(a);
    lf_metrics_shard_free(b);
    lf_metrics_free(m);
}

static void test_series_past_max_series_fold_into_overflow(void **state)
{
    static const char *const kv[] = {"enabled", "on", "max_series", "2", NULL};
    struct lf_metrics *m = metrics_make(kv);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    struct req r[10];
    char *text;

    (void)state;
    for (int i = 0; i < 10; i++) {
        static const char *const ups[] = {"a:1", "b:1", "c:1", "d:1", "e:1"};
        r[i] = (struct req){ups[i % 5], 200, NULL, 0, 0, -1, 0};
    }
    observe(sh, "x", r, 10);
    observe(sh, "x", r, 10); /* cached decisions give the same answer */
    text = render(m, T0);
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"a:1\",code=\"200\"} 4");
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"b:1\",code=\"200\"} 4");
    assert_null(strstr(text, "upstream=\"c:1\""));
    assert_line(text, "logferry_upstream_requests_total{upstream=\""
                      "__overflow__\",code=\"200\"} 12");
    assert_line(text, "logferry_metrics_overflow_records_total 12");
    assert_line(text, "logferry_metrics_series 2");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

static void test_idle_series_expire_and_free_their_slot(void **state)
{
    static const char *const kv[] = {"enabled",    "on", "max_series", "1",
                                     "series_ttl", "2s", NULL};
    struct lf_metrics *m = metrics_make(kv);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    const struct req a = {"a:1", 200, NULL, 0, 0, -1, 0};
    const struct req b = {"b:1", 200, NULL, 0, 0, -1, 0};
    char *text;

    (void)state;
    observe(sh, "x", &a, 1);
    lf_metrics_tick(m, T0);
    observe(sh, "x", &b, 1); /* no room: folded */
    lf_metrics_tick(m, T0 + 1 * SEC);
    lf_metrics_tick(m, T0 + 4 * SEC); /* a idle for 3 s > 2 s */
    observe(sh, "x", &b, 1);          /* now b gets the slot */
    text = render(m, T0 + 4 * SEC);
    assert_null(strstr(text, "upstream=\"a:1\""));
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"b:1\",code=\"200\"} 1");
    assert_line(text, "logferry_metrics_expired_series_total 1");
    assert_line(text, "logferry_metrics_overflow_records_total 1");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

static void test_windows_slide_and_lifetime_stays(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    const struct req r = {"a:1", 503, "http_503", 0, 0, 0.1, 0};
    char *text;

    (void)state;
    observe(sh, "x", &r, 1);
    lf_metrics_tick(m, T0);
    text = render(m, T0 + 61 * SEC);
    assert_line(text, "logferry_upstream_window_requests{upstream=\"a:1\","
                      "window=\"1m\"} 0");
    assert_line(text, "logferry_upstream_window_requests{upstream=\"a:1\","
                      "window=\"5m\"} 1");
    assert_line(text, "logferry_upstream_5xx_ratio{upstream=\"a:1\","
                      "window=\"5m\"} 1");
    assert_line(text, "logferry_upstream_response_window_seconds_count{"
                      "upstream=\"a:1\",window=\"1m\"} 0");
    assert_line(text, "logferry_upstream_response_window_seconds{upstream="
                      "\"a:1\",window=\"1m\",quantile=\"0.5\"} NaN");
    assert_line(text, "logferry_upstream_response_window_seconds_count{"
                      "upstream=\"a:1\",window=\"5m\"} 1");
    lf_free(text);
    text = render(m, T0 + 301 * SEC);
    assert_line(text, "logferry_upstream_window_requests{upstream=\"a:1\","
                      "window=\"5m\"} 0");
    assert_line(text, "logferry_upstream_response_window_seconds_count{"
                      "upstream=\"a:1\",window=\"lifetime\"} 1");
    assert_line(text, "logferry_upstream_response_window_seconds{upstream="
                      "\"a:1\",window=\"lifetime\",quantile=\"0.99\"} 0.1");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

/* A drain empties the deltas it merges and the shard reuses them: what
 * comes after a drain counts once, codes, errors and values alike. */
static void test_reused_deltas_count_each_request_once(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    const struct req r1[] = {
        {"a:1", 502, "refused", 2, 10, 0.004, 0},
        {"a:1", 200, NULL, 0, 0, 0.4, 0},
    };
    const struct req r2 = {"a:1", 200, NULL, 0, 5, 2.0, 0};
    char *text;

    (void)state;
    observe(sh, "x", r1, 2);
    lf_metrics_tick(m, T0);
    observe(sh, "x", &r2, 1);
    lf_metrics_tick(m, T0 + 2 * SEC);
    observe(sh, "x", &r2, 1);
    text = render(m, T0 + 4 * SEC);
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"a:1\",code=\"200\"} 3");
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"a:1\",code=\"502\"} 1");
    assert_line(text, "logferry_upstream_errors_total{upstream=\"a:1\","
                      "error=\"refused\"} 1");
    assert_line(text, "logferry_upstream_retries_total{upstream=\"a:1\"} 1");
    assert_line(text,
                "logferry_upstream_response_bytes_total{upstream=\"a:1\"} 20");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"a:1\",le=\"0.005\"} 1");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"a:1\",le=\"0.5\"} 2");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"a:1\",le=\"2.5\"} 4");
    assert_line(text, "logferry_upstream_response_window_seconds_count{"
                      "upstream=\"a:1\",window=\"1m\"} 4");
    assert_line(text, "logferry_upstream_response_window_seconds_count{"
                      "upstream=\"a:1\",window=\"lifetime\"} 4");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

/* The shard looks label sets up by their values as the record holds
 * them: a number names the series of its decimal text, and values that
 * agree on their first METRICS_LABEL_MAX bytes name one series. */
static void test_label_values_name_series_by_their_text(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    struct lfp_chunk *c = lf_chunk_new(65536, 65536);
    char long_a[METRICS_LABEL_MAX + 20], long_b[METRICS_LABEL_MAX + 20];
    char want[METRICS_LABEL_MAX + 128];
    char *text;

    (void)state;
    memset(long_a, 'a', sizeof(long_a));
    memcpy(long_b, long_a, sizeof(long_b));
    long_b[METRICS_LABEL_MAX + 5] = 'b';
    lf_chunk_set_tag(c, "x", 1);
    for (int i = 0; i < 6; i++) {
        struct lfp_record *rec;
        struct lfp_field *f;
        lf_chunk_add_line(c, 0, 0, 0);
        rec = &c->records[c->nrecords - 1];
        f = lf_record_add(c, rec);
        if (i == 0)
            lf_field_set_str(f, "upstream.address", "7", 1);
        else if (i == 1)
            lf_field_set_int(f, "upstream.address", 7);
        else if (i == 2)
            lf_field_set_float(f, "upstream.address", 7.0);
        else if (i == 3)
            lf_field_set_str(f, "upstream.address", long_a, sizeof(long_a));
        else if (i == 4)
            lf_field_set_str(f, "upstream.address", long_b, sizeof(long_b));
        else
            lf_field_set_str(f, "upstream.address", "7:", 2);
        lf_field_set_int(lf_record_add(c, rec), "http.response.status_code",
                         200);
    }
    lf_metrics_observe(sh, c);
    lf_metrics_observe(sh, c); /* from the shard's cache this time */
    lf_chunk_free(c);
    text = render(m, T0);
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"7\",code=\"200\"} 6");
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"7:\",code=\"200\"} 2");
    (void)snprintf(want, sizeof(want),
                   "logferry_upstream_requests_total{upstream=\"%.*s\","
                   "code=\"200\"} 4",
                   METRICS_LABEL_MAX, long_a);
    assert_line(text, want);
    assert_line(text, "logferry_metrics_series 3");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

/* Values of every length around the cache's inline key, each a prefix of
 * the next: the short-label path and the general one agree. */
static void test_label_values_of_every_length_keep_their_series(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    static const char text40[] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
    char ups[40][41], want[160];
    struct req r[40];
    char *text;

    (void)state;
    for (int i = 0; i < 40; i++) {
        (void)snprintf(ups[i], sizeof(ups[i]), "%.*s", i + 1, text40);
        r[i] = (struct req){ups[i], 200 + i, NULL, 0, 0, -1, 0};
    }
    observe(sh, "x", r, 40);
    observe(sh, "x", r, 40);
    lf_metrics_tick(m, T0);
    observe(sh, "x", r, 40); /* the cache again, after a drain */
    text = render(m, T0);
    for (int i = 0; i < 40; i++) {
        (void)snprintf(want, sizeof(want),
                       "logferry_upstream_requests_total{upstream=\"%s\","
                       "code=\"%d\"} 3",
                       ups[i], 200 + i);
        assert_line(text, want);
    }
    assert_line(text, "logferry_metrics_series 40");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

static void test_only_live_requests_of_matching_tags_count(void **state)
{
    static const char *const kv[] = {"enabled", "on", "match", "nginx.*", NULL};
    struct lf_metrics *m = metrics_make(kv);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    const struct req r[] = {
        {"a:1", 200, NULL, 0, 0, -1, 0},
        {NULL, 0, "timeout", 0, 0, 0.5, 0}, /* no status, no upstream */
        {"a:1", 200, NULL, 0, 0, -1, 0},    /* dropped below */
    };
    struct lfp_chunk *c = chunk_make("nginx.access", r, 3);
    char *text;

    (void)state;
    c->records[2].flags |= LFP_REC_DROPPED;
    lf_metrics_observe(sh, c);
    lf_chunk_free(c);
    observe(sh, "other.tag", r, 1);
    observe(sh, "metrics.upstream", r, 1);
    text = render(m, T0);
    assert_line(
        text,
        "logferry_upstream_requests_total{upstream=\"a:1\",code=\"200\"} 1");
    assert_line(text, "logferry_metrics_series 1");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

static void test_options_are_checked_with_file_and_line(void **state)
{
    static const struct {
        const char *key, *val, *want;
    } cases[] = {
        {"colour", "red", "test.conf:3: unknown key 'colour'"},
        {"buckets", "0.5,0.1", "not above the bound"},
        {"labels", "upstream.address:le", "not a usable label name"},
        {"windows", "5m,1m", "not longer"},
        {"accuracy", "0.5", "metrics.accuracy"},
        {"quantiles", "1.5", "not between 0 and 1"},
        {"max_series", "0", "out of range"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *keys[] = {"enabled", (char *)cases[i].key};
        char *vals[] = {"on", (char *)cases[i].val};
        struct lfp_kvlist opts = {keys, vals, 2};
        struct lfp_err err = {0};
        struct lf_metrics *m = NULL;
        assert_int_equal(lf_metrics_new(&opts, "test.conf", 3, &m, &err),
                         LFP_ERR_CONFIG);
        assert_null(m);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("%s %s: '%s' lacks '%s'", cases[i].key, cases[i].val,
                     err.msg, cases[i].want);
    }
}

static void test_disabled_metrics_build_nothing(void **state)
{
    struct lfp_kvlist none = {0};
    struct lfp_err err = {0};
    struct lf_metrics *m = (struct lf_metrics *)&err;

    (void)state;
    assert_int_equal(lf_metrics_new(&none, "t", 1, &m, &err), LFP_OK);
    assert_null(m);
    assert_null(lf_metrics_shard_new(NULL));
    lf_metrics_tick(NULL, T0);
}

/* The counts of the `family`_bucket lines of text, in order. */
static int family_bucket_counts(const char *text, const char *family,
                                uint64_t *counts, int max)
{
    char name[128];
    int n = 0;

    (void)snprintf(name, sizeof(name), "%s_bucket{", family);

    for (const char *p = strstr(text, name); p && n < max;
         p = strstr(p + 1, name)) {
        const char *sp = strchr(p, ' ');
        unsigned long long c;
        assert_non_null(sp);
        assert_int_equal(sscanf(sp + 1, "%llu", &c), 1);
        counts[n++] = c;
    }
    return n;
}

/* The counts of the response_seconds_bucket lines of text, in order. */
static int bucket_counts(const char *text, uint64_t *counts, int max)
{
    return family_bucket_counts(text, "logferry_upstream_response_seconds",
                                counts, max);
}

/* Values on, next to and between the bounds, zeros and a sweep wide
 * enough to make a 16-bucket sketch fold. */
static size_t hist_values(const double *bounds, int nb, double *v)
{
    size_t n = 0;

    for (int b = 0; b < nb; b++) {
        double x = bounds[b];
        const double near[] = {
            x,        nextafter(x, 0), nextafter(x, INFINITY),
            x * 1.01, x / 1.01,        x * 1.02,
            x / 1.02, x * 1.03,        x / 1.03,
            x * 1.05, x / 1.05};
        for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++)
            v[n++] = near[i];
    }
    v[n++] = 0.0;
    v[n++] = 1e-10;
    v[n++] = 1e-9;
    for (int j = 0; j < 900; j++)
        v[n++] = 1e-5 * pow(1.013, j);
    return n;
}

/* Deltas read most histogram counts off their sketches (metrics_int.h):
 * every value still lands in the bucket of the first bound at or above
 * it, whether it sits on a bound, one ulp away, or in a sketch that had
 * to fold, and with a bound below the sketches' zero too. */
static void test_histogram_counts_each_value_in_its_bucket(void **state)
{
    static const char *const plain[] = {"enabled",
                                        "on",
                                        "buckets",
                                        "0.001,0.002,0.005,0.01,0.1,1",
                                        "sketch_max_buckets",
                                        "16",
                                        NULL};
    static const char *const tiny[] = {
        "enabled", "on", "buckets", "0.0000000001,0.000000002,0.004,3", NULL};
    const char *const *confs[] = {plain, tiny};
    const double bounds[2][6] = {{0.001, 0.002, 0.005, 0.01, 0.1, 1},
                                 {1e-10, 2e-9, 0.004, 3}};
    const int nbounds[] = {6, 4};
    static double v[1000];
    static struct req r[1000];

    (void)state;
    for (int c = 0; c < 2; c++) {
        struct lf_metrics *m = metrics_make(confs[c]);
        struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
        size_t n = hist_values(bounds[c], nbounds[c], v);
        uint64_t want[8] = {0}, got[8];
        char *text;

        for (size_t i = 0; i < n; i++) {
            int b = 0;
            while (b < nbounds[c] && v[i] > bounds[c][b])
                b++;
            for (int k = b; k <= nbounds[c]; k++)
                want[k]++; /* cumulative, +Inf last */
            r[i] = (struct req){"a:1", 200, NULL, 0, 0, v[i], 0};
        }
        /* Two epochs: the second starts from emptied deltas. */
        observe(sh, "x", r, n / 2);
        lf_metrics_tick(m, T0);
        observe(sh, "x", r + n / 2, n - n / 2);
        text = render(m, T0 + 2 * SEC);
        assert_int_equal(bucket_counts(text, got, 8), nbounds[c] + 1);
        for (int b = 0; b <= nbounds[c]; b++)
            if (got[b] != want[b])
                fail_msg("conf %d bucket %d: %llu, want %llu", c, b,
                         (unsigned long long)got[b],
                         (unsigned long long)want[b]);
        lf_free(text);
        lf_metrics_shard_free(sh);
        lf_metrics_free(m);
    }
}

/* A record whose header time equals its response time, and whose connect
 * time is 0, counts each in its own histogram like any other value: the
 * second of two equal latencies reuses the place of the first, a zero
 * takes the place of 0 without the memo. */
static void test_equal_and_zero_latencies_count_in_their_buckets(void **state)
{
    static const char *const conf[] = {"enabled", "on", "buckets",
                                       "0.0000000001,0.001,0.005,0.1,1", NULL};
    const double bounds[] = {1e-10, 0.001, 0.005, 0.1, 1};
    static double v[1000];
    size_t n = hist_values(bounds, 5, v);
    struct lf_metrics *m = metrics_make(conf);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    struct lfp_chunk *c = lf_chunk_new(65536, 65536);
    uint64_t resp[8] = {0}, head[8] = {0}, conn[8] = {0};
    char *text;

    (void)state;
    lf_chunk_set_tag(c, "x", 1);
    for (size_t i = 0; i < n; i++) {
        struct lfp_record *rec;
        lf_chunk_add_line(c, 0, 0, 0);
        rec = &c->records[c->nrecords - 1];
        lf_field_set_str(lf_record_add(c, rec), "upstream.address", "a:1", 3);
        lf_field_set_int(lf_record_add(c, rec), "http.response.status_code",
                         200);
        lf_field_set_float(lf_record_add(c, rec), "upstream.response_time",
                           v[i]);
        lf_field_set_float(lf_record_add(c, rec), "upstream.connect_time", 0);
        lf_field_set_float(lf_record_add(c, rec), "upstream.header_time", v[i]);
    }
    lf_metrics_observe(sh, c);
    text = render(m, T0);
    assert_int_equal(bucket_counts(text, resp, 8), 6);
    assert_int_equal(
        family_bucket_counts(text, "logferry_upstream_header_seconds", head, 8),
        6);
    assert_int_equal(family_bucket_counts(
                         text, "logferry_upstream_connect_seconds", conn, 8),
                     6);
    for (int b = 0; b < 6; b++) {
        assert_int_equal(head[b], resp[b]);
        assert_int_equal(conn[b], n); /* 0 is at or below every bound */
    }
    lf_free(text);
    lf_chunk_free(c);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

/* Where a sketch index is far enough from every bound to tell the
 * histogram bucket, it is the bucket of every value of that index. */
static void test_bucket_of_index_matches_the_bounds(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    const struct metrics_settings *st = &m->st;
    int told = 0, untold = 0;

    (void)state;
    assert_true(st->is_hist_derived);
    assert_true(st->is_zero_derived);
    for (double x = 1e-8; x < 100.0; x *= 1.0007) {
        const double near[] = {x, nextafter(x, 0), nextafter(x, INFINITY)};
        for (int i = 0; i < 3; i++) {
            int32_t at = lf_sketch_index(&st->sketch, near[i]);
            int bucket = lf_metrics_bucket_of_index(st, at), b = 0;
            while (b < st->nbuckets && near[i] > st->buckets[b])
                b++;
            if (bucket < 0) {
                untold++;
                continue;
            }
            told++;
            if (bucket != b)
                fail_msg("%.17g: index %d tells bucket %d, not %d", near[i],
                         (int)at, bucket, b);
        }
    }
    /* Three indexes around each of the 11 bounds are untold. */
    assert_true(told > 20 * untold);
    lf_metrics_free(m);
}

/* metrics.c divides the request time alone by 1e9. */
/* A class name that needs cleaning is one class however often it comes;
 * past the limit "other" takes the rest, and nothing is lost. */
static void test_error_classes_are_kept_by_clean_name(void **state)
{
    struct metrics_counts c;
    uint64_t total = 0, other = 0;
    (void)state;

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < 100; i++)
        lf_metrics_counts_add_class(&c, "bad\x01name", 8, 1);
    assert_int_equal(c.nclasses, 1);
    assert_string_equal(c.classes[0].name, "bad?name");
    assert_int_equal(c.classes[0].count, 100);
    lf_metrics_counts_fini(&c);

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < 2 * METRICS_MAX_CLASSES; i++) {
        char name[16];
        int n = snprintf(name, sizeof(name), "class%d", i);
        lf_metrics_counts_add_class(&c, name, (size_t)n, 2);
    }
    assert_int_equal(c.nclasses, METRICS_MAX_CLASSES);
    for (uint32_t i = 0; i < c.nclasses; i++) {
        total += c.classes[i].count;
        if (strcmp(c.classes[i].name, "other") == 0)
            other = c.classes[i].count;
    }
    assert_int_equal(total, 4 * METRICS_MAX_CLASSES);
    assert_int_equal(other, 2 * (METRICS_MAX_CLASSES + 1));
    lf_metrics_counts_fini(&c);
}

static void test_request_time_is_the_one_kind_in_ns(void **state)
{
    (void)state;
    for (int k = 0; k < METRICS_NKINDS; k++)
        assert_int_equal(lf_metrics_kinds[k].is_ns, k == METRICS_K_REQUEST);
}

/* A delta's 16-bit bucket count that wraps hands 2^16 values to its
 * spill sketch and to the histogram: the series counts them all. */
static void test_delta_count_past_16_bits_reaches_the_series(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    const struct metrics_settings *st = &m->st;
    struct metrics_delta *d = lf_metrics_delta_new(st);
    struct metrics_series *s = lf_metrics_series_new(st);
    struct metrics_place at;
    const int k = METRICS_K_RESPONSE;
    int b = 0;

    (void)state;
    lf_metrics_place(st, 0.3, &at);
    assert_int_equal(at.bucket, -1); /* read off the sketch */
    while (0.3 > st->buckets[b])
        b++;
    lf_metrics_delta_value(st, d, k, 0.3, &at);
    /* As if UINT16_MAX values had come: the next one wraps. */
    d->sk[k].bins[at.index - d->sk[k].offset] = UINT16_MAX;
    lf_metrics_delta_value(st, d, k, 0.3, &at);
    lf_metrics_series_merge(st, s, d, T0);
    assert_true(s->hist[k].bins[b] == UINT64_C(1) << 16);
    assert_non_null(s->life[k]);
    assert_int_equal(s->life[k]->nbins, 1);
    assert_int_equal(s->life[k]->offset, at.index);
    assert_true(s->life[k]->bins[0] == UINT64_C(1) << 16);
    lf_metrics_series_free(st, s);
    lf_metrics_delta_free(d);
    lf_metrics_free(m);
}

/* A latency counts when it is a finite number >= 0, -0.0 included;
 * NaN and infinities do not. */
static void test_only_finite_latencies_count(void **state)
{
    struct lf_metrics *m = metrics_make(defaults);
    struct lf_metrics_shard *sh = lf_metrics_shard_new(m);
    const double v[] = {NAN, INFINITY, -0.0, 0.0, DBL_MAX, -NAN};
    struct req r[6];
    char *text;

    (void)state;
    for (int i = 0; i < 6; i++)
        r[i] = (struct req){"a:1", 200, NULL, 0, 0, v[i], 0};
    observe(sh, "x", r, 6);
    text = render(m, T0);
    assert_line(text, "logferry_upstream_response_seconds_count{upstream="
                      "\"a:1\"} 3");
    assert_line(text, "logferry_upstream_response_seconds_bucket{upstream="
                      "\"a:1\",le=\"0.005\"} 2");
    lf_free(text);
    lf_metrics_shard_free(sh);
    lf_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_are_exact_across_shards),
        cmocka_unit_test(test_series_past_max_series_fold_into_overflow),
        cmocka_unit_test(test_idle_series_expire_and_free_their_slot),
        cmocka_unit_test(test_windows_slide_and_lifetime_stays),
        cmocka_unit_test(test_reused_deltas_count_each_request_once),
        cmocka_unit_test(test_label_values_name_series_by_their_text),
        cmocka_unit_test(test_label_values_of_every_length_keep_their_series),
        cmocka_unit_test(test_only_live_requests_of_matching_tags_count),
        cmocka_unit_test(test_options_are_checked_with_file_and_line),
        cmocka_unit_test(test_disabled_metrics_build_nothing),
        cmocka_unit_test(test_histogram_counts_each_value_in_its_bucket),
        cmocka_unit_test(test_equal_and_zero_latencies_count_in_their_buckets),
        cmocka_unit_test(test_bucket_of_index_matches_the_bounds),
        cmocka_unit_test(test_error_classes_are_kept_by_clean_name),
        cmocka_unit_test(test_request_time_is_the_one_kind_in_ns),
        cmocka_unit_test(test_delta_count_past_16_bits_reaches_the_series),
        cmocka_unit_test(test_only_finite_latencies_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
