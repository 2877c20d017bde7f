/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_filter_classify.c - the classify filter (plugins/filter_classify/):
 * the class, failed attempt and outcome it gives records parsed by the
 * built-in parsers, line by line, for every kind of evidence; its options;
 * the records it must leave alone; and that docs/taxonomy.md lists every
 * class it can write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/filter_classify/classify_rules.h"
#include "chunk.h"
#include "json_out.h"
#include "mem.h"
#include "parser.h"
#include "test_host.h"

extern const struct lfp_filter_def filter_classify_def;

#define RAW_CAP (1u << 20)

/* A built-in parser feeding the classify filter. */
struct fixture {
    struct lf_test_host *th;
    void *conf;
    void *ctx;
    struct lf_parser *p;
    struct lf_parser_worker *w;
    void *fw; /* the filter's worker */
    struct lfp_chunk *chunk;
    size_t used;
};

static void fixture_open(struct fixture *fx, const char *parser,
                         const char *const *opts)
{
    const struct lfp_filter_def *def = &filter_classify_def;
    struct lfp_err err = {0};

    memset(fx, 0, sizeof(*fx));
    fx->th = lf_test_host_new(4096, 1);
    fx->conf = lf_test_conf_new(def->options, def->conf_size);
    for (size_t i = 0; opts && opts[i]; i += 2)
        assert_int_equal(
            lf_test_conf_set(def->options, fx->conf, opts[i], opts[i + 1]), 0);
    assert_int_equal(def->init(lf_test_host_instance(fx->th),
                               lf_test_host_api(fx->th), fx->conf, &fx->ctx,
                               &err),
                     LFP_OK);
    if (lf_parser_new_builtin(parser, &fx->p, &err) != LFP_OK)
        fail_msg("%s: %s", parser, err.msg);
    fx->w = lf_parser_worker_new(fx->p);
    fx->fw = def->worker_new(fx->ctx);
    fx->chunk = lf_chunk_new(RAW_CAP, (size_t)64 << 10);
}

static void fixture_close(struct fixture *fx)
{
    filter_classify_def.worker_free(fx->ctx, fx->fw);
    filter_classify_def.destroy(fx->ctx);
    lf_chunk_free(fx->chunk);
    lf_parser_worker_free(fx->w);
    lf_parser_free(fx->p);
    lf_test_conf_free(filter_classify_def.options, fx->conf);
    lf_test_host_free(fx->th);
}

/* Parses line into a fresh one-record chunk and runs the filter on it. */
static struct lfp_record *classify_line(struct fixture *fx, const char *line)
{
    size_t cap, len = strlen(line);
    char *raw;

    lf_chunk_reset(fx->chunk);
    raw = lf_chunk_raw(fx->chunk, &cap);
    assert_true(len <= cap);
    memcpy(raw, line, len);
    lf_chunk_add_line(fx->chunk, 0, (uint32_t)len, 0);
    (void)lf_parser_parse(fx->p, fx->w, fx->chunk, &fx->chunk->records[0]);
    filter_classify_def.filter(fx->ctx, fx->fw, fx->chunk);
    return &fx->chunk->records[0];
}

static const struct lfp_field *get(const struct lfp_record *rec,
                                   const char *key)
{
    return lf_record_get(rec, key, strlen(key));
}

/* Checks upstream.error, upstream.failed_attempt and event.outcome
 * (NULL / 0 / NULL: absent). */
static void expect(const struct lfp_record *rec, const char *line,
                   const char *cls, int64_t failed_attempt, const char *outcome)
{
    const struct lfp_field *e = get(rec, "upstream.error");
    const struct lfp_field *a = get(rec, "upstream.failed_attempt");
    const struct lfp_field *o = get(rec, "event.outcome");

    if (rec->flags & LFP_REC_PARSE_ERROR)
        fail_msg("does not parse: %s", line);
    if (!cls != !e ||
        (e && (e->n != strlen(cls) || memcmp(e->v.s, cls, e->n) != 0)))
        fail_msg("upstream.error: want %s, got %.*s\n  in %s",
                 cls ? cls : "(none)", e ? (int)e->n : 6, e ? e->v.s : "(none)",
                 line);
    if ((failed_attempt == 0) != (a == NULL) ||
        (a && (a->type != LFP_T_INT || a->v.i != failed_attempt)))
        fail_msg("upstream.failed_attempt: want %lld, got %lld\n  in %s",
                 (long long)failed_attempt, a ? (long long)a->v.i : 0LL, line);
    if (!outcome != !o ||
        (o && (o->n != strlen(outcome) || memcmp(o->v.s, outcome, o->n) != 0)))
        fail_msg("event.outcome: want %s, got %.*s\n  in %s",
                 outcome ? outcome : "(none)", o ? (int)o->n : 6,
                 o ? o->v.s : "(none)", line);
}

struct line_case {
    const char *line;
    const char *cls;
    int64_t failed_attempt;
    const char *outcome;
};

static void run_cases(const char *parser, const struct line_case *cases,
                      size_t n, const char *const *opts)
{
    struct fixture fx;

    fixture_open(&fx, parser, opts);
    for (size_t i = 0; i < n; i++)
        expect(classify_line(&fx, cases[i].line), cases[i].line, cases[i].cls,
               cases[i].failed_attempt, cases[i].outcome);
    fixture_close(&fx);
}

#define RUN(parser, cases, opts)                                               \
    run_cases(parser, cases, sizeof(cases) / sizeof(cases[0]), opts)

/* ---- nginx access: the upstream attempts --------------------------------- */

#define UP(status, uct, uht, urt, ua, us)                                      \
    "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET /a HTTP/1.1\" " status   \
    " 10 \"-\" \"curl/8.5.0\" rt=0.1 uct=\"" uct "\" uht=\"" uht               \
    "\" urt=\"" urt "\" ua=\"" ua "\" us=\"" us "\""

static void test_nginx_attempts_name_the_failure(void **state)
{
    static const struct line_case cases[] = {
        {UP("200", "0.001", "0.010", "0.010", "10.0.0.1:80", "200"), NULL, 0,
         "success"},
        {UP("502", "-", "-", "0.000", "10.0.0.1:80", "502"), "connect_refused",
         0, "failure"},
        {UP("502", "0.001", "-", "0.300", "10.0.0.1:80", "502"),
         "upstream_closed_early", 0, "failure"},
        {UP("502", "0.001", "0.002", "0.002", "10.0.0.1:80", "502"),
         "upstream_error_status", 0, "failure"},
        {UP("502", "-", "-", "0.000", "api_backend", "502"),
         "no_healthy_upstream", 0, "failure"},
        {UP("504", "0.001", "-", "60.002", "10.0.0.1:80", "504"),
         "upstream_timeout", 0, "failure"},
        {UP("504", "-", "-", "5.001", "10.0.0.1:80", "504"), "connect_timeout",
         0, "failure"},
        {UP("503", "0.001", "0.004", "0.004", "10.0.0.1:80", "503"),
         "upstream_error_status", 0, "failure"},
        {UP("503", "-", "-", "-", "-", "-"), "unavailable_other", 0, "failure"},
        {UP("499", "0.001", "-", "12.000", "10.0.0.1:80", "-"), "client_abort",
         0, "failure"},
        {UP("500", "0.001", "0.004", "0.004", "10.0.0.1:80", "500"), NULL, 0,
         "failure"},
        {UP("404", "-", "-", "-", "-", "-"), NULL, 0, "success"},
        /* retried: the class is the last failed attempt's */
        {UP("502", "-, -", "-, -", "0.000, 0.001", "10.0.0.1:80, 10.0.0.2:80",
            "502, 502"),
         "connect_refused", 2, "failure"},
        {UP("504", "-, 0.001", "-, -", "0.000, 60.002",
            "10.0.0.1:80, 10.0.0.2:80", "502, 504"),
         "upstream_timeout", 2, "failure"},
        {UP("200", "-, 0.001", "-, 0.010", "0.000, 0.010",
            "10.0.0.1:80, 10.0.0.2:80", "502, 200"),
         "connect_refused", 1, "success"},
        {UP("499", "-, 0.001", "-, -", "0.000, 9.000",
            "10.0.0.1:80, 10.0.0.2:80", "502, -"),
         "client_abort", 2, "failure"},
        /* an internal redirect to a second group after a failure */
        {UP("200", "0.001 : 0.001", "- : 0.002", "0.3 : 0.002",
            "10.0.0.1:80 : 10.0.5.1:80", "502 : 200"),
         "upstream_closed_early", 1, "success"},
    };

    (void)state;
    RUN("nginx_upstream", cases, NULL);
}

static void test_status_alone_gives_the_fallback_classes(void **state)
{
#define COMB(status)                                                           \
    "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" " status    \
    " 10 \"-\" \"curl/8.5.0\""
    static const struct line_case cases[] = {
        {COMB("502"), "bad_gateway_other", 0, "failure"},
        {COMB("503"), "unavailable_other", 0, "failure"},
        {COMB("504"), "upstream_timeout", 0, "failure"},
        {COMB("499"), "client_abort", 0, "failure"},
        {COMB("500"), NULL, 0, "failure"},
        {COMB("404"), NULL, 0, "success"},
        {COMB("200"), NULL, 0, "success"},
    };
#undef COMB

    (void)state;
    RUN("nginx_combined", cases, NULL);
}

static void test_failure_status_moves_the_outcome_threshold(void **state)
{
    static const char *const opts[] = {"failure_status", "400", NULL};
    static const struct line_case cases[] = {
        {UP("404", "-", "-", "-", "-", "-"), NULL, 0, "failure"},
        {UP("399", "-", "-", "-", "-", "-"), NULL, 0, "success"},
        {UP("200", "-, 0.001", "-, 0.010", "0.000, 0.010",
            "10.0.0.1:80, 10.0.0.2:80", "502, 200"),
         "connect_refused", 1, "success"},
    };

    (void)state;
    RUN("nginx_upstream", cases, opts);
}

/* ---- nginx error log ------------------------------------------------------
 */

#define ERR(msg)                                                               \
    "2025/06/01 00:00:00 [error] 7#7: *3 " msg ", client: 192.0.2.1, "         \
    "server: x, request: \"GET / HTTP/1.1\", upstream: "                       \
    "\"http://10.0.0.1:80/\", host: \"x\""

static void test_nginx_error_messages_name_the_failure(void **state)
{
    static const struct line_case cases[] = {
        {ERR("upstream timed out (110: Connection timed out) while reading "
             "response header from upstream"),
         "upstream_timeout", 0, "failure"},
        {ERR("upstream timed out (110: Connection timed out) while connecting "
             "to upstream"),
         "connect_timeout", 0, "failure"},
        {ERR("connect() failed (111: Connection refused) while connecting to "
             "upstream"),
         "connect_refused", 0, "failure"},
        {ERR("connect() failed (113: No route to host) while connecting to "
             "upstream"),
         "connect_failed", 0, "failure"},
        {ERR("recv() failed (104: Connection reset by peer) while reading "
             "response header from upstream"),
         "connection_reset", 0, "failure"},
        {ERR("upstream prematurely closed connection while reading response "
             "header from upstream"),
         "upstream_closed_early", 0, "failure"},
        {ERR("writev() failed (32: Broken pipe) while sending request to "
             "upstream"),
         "upstream_closed_early", 0, "failure"},
        {ERR("no live upstreams while connecting to upstream"),
         "no_healthy_upstream", 0, "failure"},
        {ERR("SSL_do_handshake() failed (SSL: error:0A000086:SSL "
             "routines::certificate verify failed) while SSL handshaking to "
             "upstream"),
         "tls_failure", 0, "failure"},
        {ERR("upstream SSL certificate verify error: (10:certificate has "
             "expired) while SSL handshaking to upstream"),
         "tls_failure", 0, "failure"},
        {ERR("upstream sent too big header while reading response header "
             "from upstream"),
         "invalid_response", 0, "failure"},
        {ERR("epoll_wait() reported that client prematurely closed "
             "connection, so upstream connection is closed too (104: "
             "Connection reset by peer) while reading upstream"),
         "client_abort", 0, "failure"},
        /* not upstream failures: no class, no outcome */
        {ERR("an upstream response is buffered to a temporary file "
             "/tmp/1 while reading upstream"),
         NULL, 0, NULL},
        {"2025/06/01 00:00:00 [crit] 7#7: *3 SSL_do_handshake() failed (SSL: "
         "error:0A00010B:SSL routines::wrong version number) while SSL "
         "handshaking, client: 192.0.2.1, server: 0.0.0.0:443",
         NULL, 0, NULL},
        {"2025/06/01 00:00:00 [info] 7#7: *3 client 192.0.2.1 closed "
         "keepalive connection",
         NULL, 0, NULL},
        {"2025/06/01 00:00:00 [notice] 7#7: signal process started", NULL, 0,
         NULL},
    };

    (void)state;
    RUN("nginx_error", cases, NULL);
}

/* ---- Envoy ------------------------------------------------------------------
 */

#define ENVOY(status, flags, more)                                             \
    "[2025-06-01T00:00:00.000Z] \"GET / HTTP/1.1\" " status " " flags more     \
    " 0 10 5 - \"192.0.2.1\" \"curl/8.5.0\" \"id\" \"x.example\" "             \
    "\"10.0.0.1:80\""

static void test_envoy_flags_name_the_failure(void **state)
{
    static const struct line_case cases[] = {
        {ENVOY("200", "-", ""), NULL, 0, "success"},
        {ENVOY("503", "UH", ""), "no_healthy_upstream", 0, "failure"},
        {ENVOY("503", "UF,URX", ""), "connect_failed", 0, "failure"},
        {ENVOY("503", "UF,URX",
               " \"TLS error: Secret is not supplied by SDS\""),
         "tls_failure", 0, "failure"},
        {ENVOY("503", "UF", " \"delayed connect error: 111\""),
         "connect_refused", 0, "failure"},
        {ENVOY("504", "UT", ""), "upstream_timeout", 0, "failure"},
        {ENVOY("503", "UC", ""), "upstream_closed_early", 0, "failure"},
        {ENVOY("503", "UR", ""), "connection_reset", 0, "failure"},
        {ENVOY("503", "UO", ""), "upstream_overflow", 0, "failure"},
        {ENVOY("404", "NR", ""), "no_route", 0, "failure"},
        {ENVOY("502", "UPE", ""), "invalid_response", 0, "failure"},
        {ENVOY("0", "DC", ""), "client_abort", 0, "failure"},
        /* a cause outside the upstream: no class even with a 503 */
        {ENVOY("503", "UAEX", ""), NULL, 0, "failure"},
        {ENVOY("429", "RL", ""), NULL, 0, "success"},
        /* no flags: the status decides */
        {ENVOY("503", "-", ""), "unavailable_other", 0, "failure"},
    };

    (void)state;
    RUN("envoy", cases, NULL);
}

/* ---- HAProxy
 * ------------------------------------------------------------------ */

#define HAP(server, timers, status, state)                                     \
    "192.0.2.1:5000 [01/Jun/2025:00:00:00.000] www api/" server " " timers     \
    " " status " 10 - - " state " 1/1/1/1/0 0/0 \"GET / HTTP/1.1\""

static void test_haproxy_termination_states_name_the_failure(void **state)
{
    static const struct line_case cases[] = {
        {HAP("a1", "0/0/0/1/1", "200", "----"), NULL, 0, "success"},
        {HAP("a1", "0/0/-1/-1/5", "503", "SC--"), "connect_refused", 0,
         "failure"},
        {HAP("<NOSRV>", "0/-1/-1/-1/0", "503", "SC--"), "no_healthy_upstream",
         0, "failure"},
        {HAP("a1", "0/0/-1/-1/3002", "503", "sC--"), "connect_timeout", 0,
         "failure"},
        {HAP("a1", "0/0/0/-1/60001", "504", "sH--"), "upstream_timeout", 0,
         "failure"},
        {HAP("a1", "0/0/0/-1/12", "502", "SH--"), "upstream_closed_early", 0,
         "failure"},
        {HAP("a1", "0/0/0/5/9", "502", "PH--"), "invalid_response", 0,
         "failure"},
        {HAP("<NOSRV>", "0/5000/-1/-1/5000", "503", "sQ--"),
         "upstream_overflow", 0, "failure"},
        {HAP("a1", "0/0/0/1/900", "200", "CD--"), "client_abort", 0, "failure"},
        {HAP("a1", "0/0/0/-1/900", "502", "----"), "upstream_error_status", 0,
         "failure"},
        {HAP("<NOSRV>", "-1/-1/-1/-1/6001", "408", "cR--"), NULL, 0, "success"},
        {"192.0.2.1:5000 [01/Jun/2025:00:00:00.000] db-in db/pg1 1/0/905 1200 "
         "cD 3/3/1/1/0 0/0",
         "client_abort", 0, "failure"},
    };

    (void)state;
    RUN("haproxy_http", cases, NULL);
}

/* ---- options, records left alone, documentation -----------------------------
 */

static void test_key_options_read_source_names(void **state)
{
    static const char *const opts[] = {"status_key",
                                       "status",
                                       "upstream_status_key",
                                       "upstream_status_list",
                                       "upstream_connect_time_key",
                                       "upstream_connect_time_list",
                                       "upstream_header_time_key",
                                       "upstream_header_time_list",
                                       "upstream_addresses_key",
                                       "upstream_addr_list",
                                       NULL};
    struct lf_parser_conf conf = {
        .name = "native", .base = "nginx_upstream", .ecs = 0};
    struct fixture fx;
    struct lfp_err err = {0};
    const char *line = UP("504", "-, 0.001", "-, -", "0.000, 60.002",
                          "10.0.0.1:80, 10.0.0.2:80", "502, 504");

    (void)state;
    fixture_open(&fx, "nginx_upstream", opts);
    lf_parser_worker_free(fx.w);
    lf_parser_free(fx.p);
    assert_int_equal(lf_parser_new(&conf, &fx.p, &err), LFP_OK);
    fx.w = lf_parser_worker_new(fx.p);
    expect(classify_line(&fx, line), line, "upstream_timeout", 2, "failure");
    fixture_close(&fx);
}

static void test_parse_errors_and_dropped_records_are_left_alone(void **state)
{
    struct fixture fx;
    struct lfp_record *rec;
    const char *line = UP("502", "-", "-", "0.000", "10.0.0.1:80", "502");
    size_t cap;
    char *raw;

    (void)state;
    fixture_open(&fx, "nginx_upstream", NULL);
    rec = classify_line(&fx, "not a line");
    assert_true(rec->flags & LFP_REC_PARSE_ERROR);
    assert_int_equal(rec->nfields, 0);
    lf_chunk_reset(fx.chunk);
    raw = lf_chunk_raw(fx.chunk, &cap);
    memcpy(raw, line, strlen(line));
    lf_chunk_add_line(fx.chunk, 0, (uint32_t)strlen(line), 0);
    rec = &fx.chunk->records[0];
    assert_int_equal(lf_parser_parse(fx.p, fx.w, fx.chunk, rec), LFP_OK);
    rec->flags |= LFP_REC_DROPPED;
    filter_classify_def.filter(fx.ctx, fx.fw, fx.chunk);
    assert_null(get(rec, "upstream.error"));
    assert_null(get(rec, "event.outcome"));
    fixture_close(&fx);
}

/* The keys the filter adds are framed for the JSON writer
 * (LFP_FIELD_KEY_FRAMED: ,"key": around the name, 28 bytes or less, 32
 * bytes readable from the frame) and come out as JSON whole. */
static void test_added_keys_are_framed_and_written_whole(void **state)
{
    static const char *const keys[] = {"event.outcome", "upstream.error",
                                       "upstream.failed_attempt"};
    struct fixture fx;
    struct lfp_record *rec;
    char *buf;
    size_t n;

    (void)state;
    fixture_open(&fx, "nginx_upstream", NULL);
    rec = classify_line(&fx, UP("504", "-, 0.001", "-, -", "0.000, 60.002",
                                "10.0.0.1:80, 10.0.0.2:80", "502, 504"));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct lfp_field *f = get(rec, keys[i]);
        char frame[32];

        assert_non_null(f);
        assert_int_equal(
            f->flags & (LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN |
                        LFP_FIELD_KEY_FRAMED | LFP_FIELD_ESCAPE),
            LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN | LFP_FIELD_KEY_FRAMED);
        assert_true(f->key_len <= 28);
        memcpy(frame, f->key - 2, sizeof(frame)); /* all 32 readable */
        assert_memory_equal(frame, ",\"", 2);
        assert_memory_equal(frame + 2, keys[i], strlen(keys[i]));
        assert_memory_equal(frame + 2 + f->key_len, "\":", 2);
    }
    buf = lf_malloc(lf_json_record_bound(rec) + 1);
    n = lf_json_record(rec, buf);
    buf[n] = '\0';
    assert_non_null(strstr(buf, ",\"event.outcome\":\"failure\","
                                "\"upstream.error\":\"upstream_timeout\","
                                "\"upstream.failed_attempt\":2}"));
    lf_free(buf);
    fixture_close(&fx);
}

static void test_every_record_of_a_chunk_is_classified(void **state)
{
    static const char *const lines[] = {
        UP("200", "0.001", "0.010", "0.010", "10.0.0.1:80", "200"),
        UP("502", "-", "-", "0.000", "10.0.0.1:80", "502"),
        "garbage",
        UP("504", "0.001", "-", "60.002", "10.0.0.1:80", "504"),
    };
    static const char *const want[] = {NULL, "connect_refused", NULL,
                                       "upstream_timeout"};
    struct fixture fx;
    size_t cap, used = 0;
    char *raw;

    (void)state;
    fixture_open(&fx, "nginx_upstream", NULL);
    raw = lf_chunk_raw(fx.chunk, &cap);
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(lines[i]);
        memcpy(raw + used, lines[i], n);
        lf_chunk_add_line(fx.chunk, (uint32_t)used, (uint32_t)n, 0);
        used += n;
        (void)lf_parser_parse(fx.p, fx.w, fx.chunk, &fx.chunk->records[i]);
    }
    filter_classify_def.filter(fx.ctx, fx.fw, fx.chunk);
    assert_int_equal(fx.chunk->nrecords, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct lfp_field *e =
            get(&fx.chunk->records[i], "upstream.error");
        if (!want[i]) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(e->n, strlen(want[i]));
        assert_memory_equal(e->v.s, want[i], e->n);
    }
    fixture_close(&fx);
}

/* ---- the shortcut for records that show nothing ------------------------ */

static struct lfp_field quiet_int(int64_t v)
{
    return (struct lfp_field){.type = LFP_T_INT, .v.i = v};
}

static struct lfp_field quiet_str(const char *s)
{
    return (struct lfp_field){
        .type = LFP_T_STR, .n = (uint32_t)strlen(s), .v.s = s};
}

static struct lfp_field quiet_arr(const struct lfp_field *arr, uint32_t n)
{
    return (struct lfp_field){.type = LFP_T_ARRAY, .n = n, .v.arr = arr};
}

/* Every mix of evidence the shortcut looks at, each value once on and
 * once off its edges: when classify_is_quiet() says yes, the rules say
 * no failure, and it says yes for the usual success. */
static void test_quiet_records_are_those_the_rules_pass(void **state)
{
    static const int64_t codes[] = {-1,  0,   200, 498, 499, 500,
                                    501, 502, 503, 504, 505, 599};
    struct lfp_field one[12], two[3][2], st[14], up[30], msg[3], flags[2],
        term[3], addrs[2];
    size_t nst = 0, nup = 0, nquiet = 0;
    struct classify_evidence ev;

    (void)state;
    st[nst++] = (struct lfp_field){.type = LFP_T_NULL};
    st[nst++] = quiet_str("200");
    up[nup++] = (struct lfp_field){.type = LFP_T_NULL};
    up[nup++] = quiet_str("200");
    up[nup++] = quiet_arr(NULL, 0);
    for (size_t i = 0; i < 12; i++) {
        st[nst++] = quiet_int(codes[i]);
        up[nup++] = quiet_int(codes[i]);
        one[i] = quiet_int(codes[i]);
        up[nup++] = quiet_arr(&one[i], 1);
    }
    two[0][0] = quiet_int(200), two[0][1] = quiet_int(200);
    two[1][0] = quiet_int(502), two[1][1] = quiet_int(200);
    two[2][0] = quiet_int(200), two[2][1] = quiet_int(504);
    for (size_t i = 0; i < 3; i++)
        up[nup++] = quiet_arr(two[i], 2);
    msg[0] = quiet_str("upstream timed out"), msg[1] = quiet_str("hello");
    msg[2] = quiet_int(1);
    flags[0] = quiet_str("UF"), flags[1] = quiet_str("-");
    term[0] = quiet_str("sH--"), term[1] = quiet_str("----");
    term[2] = quiet_str("-");
    addrs[0] = quiet_str("backend"), addrs[1] = quiet_str("10.0.0.1:80");
    for (size_t mask = 0; mask < 16 * 4 * 3 * 4; mask++) {
        size_t m = mask;
        memset(&ev, 0, sizeof(ev));
        ev.f[CLASSIFY_K_MESSAGE] = m % 4 ? &msg[m % 4 - 1] : NULL, m /= 4;
        ev.f[CLASSIFY_K_FLAGS] = m % 3 ? &flags[m % 3 - 1] : NULL, m /= 3;
        ev.f[CLASSIFY_K_TERMINATION] = m % 4 ? &term[m % 4 - 1] : NULL;
        m /= 4;
        ev.f[CLASSIFY_K_UP_ADDRESSES] = m % 2 ? &addrs[0] : NULL;
        ev.f[CLASSIFY_K_UP_ADDRESS] = m / 2 % 2 ? &addrs[1] : NULL;
        for (size_t i = 0; i <= nst; i++) {
            ev.f[CLASSIFY_K_STATUS] = i < nst ? &st[i] : NULL;
            for (size_t j = 0; j <= nup; j++) {
                struct classify_result res;
                ev.f[CLASSIFY_K_UP_STATUS] = j < nup ? &up[j] : NULL;
                if (!classify_is_quiet(&ev))
                    continue;
                nquiet++;
                classify_decide(&ev, &res);
                assert_int_equal(res.cls, CLASSIFY_NONE);
                assert_int_equal(res.is_final, 1);
                assert_int_equal(res.failed_attempt, 0);
            }
        }
    }
    assert_true(nquiet > 0);
    memset(&ev, 0, sizeof(ev));
    ev.f[CLASSIFY_K_STATUS] = &one[2]; /* 200 */
    up[0] = quiet_arr(&one[2], 1);     /* [200] */
    ev.f[CLASSIFY_K_UP_STATUS] = &up[0];
    assert_true(classify_is_quiet(&ev));
}

static void test_taxonomy_doc_lists_every_class(void **state)
{
    static const char *const classes[] = {
        "connect_refused",   "connect_timeout",   "connect_failed",
        "upstream_timeout",  "connection_reset",  "upstream_closed_early",
        "invalid_response",  "tls_failure",       "no_healthy_upstream",
        "upstream_overflow", "no_route",          "upstream_error_status",
        "client_abort",      "bad_gateway_other", "unavailable_other",
    };
    FILE *f = fopen(LF_TEST_SOURCE_DIR "/../docs/taxonomy.md", "rb");
    char *doc = lf_malloc(1 << 20);
    size_t n;

    (void)state;
    assert_non_null(f);
    n = fread(doc, 1, (1 << 20) - 1, f);
    (void)fclose(f);
    doc[n] = '\0';
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        char row[64];
        (void)snprintf(row, sizeof(row), "| `%s` |", classes[i]);
        if (!strstr(doc, row))
            fail_msg("docs/taxonomy.md has no row for %s", classes[i]);
    }
    lf_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nginx_attempts_name_the_failure),
        cmocka_unit_test(test_status_alone_gives_the_fallback_classes),
        cmocka_unit_test(test_failure_status_moves_the_outcome_threshold),
        cmocka_unit_test(test_nginx_error_messages_name_the_failure),
        cmocka_unit_test(test_envoy_flags_name_the_failure),
        cmocka_unit_test(test_haproxy_termination_states_name_the_failure),
        cmocka_unit_test(test_key_options_read_source_names),
        cmocka_unit_test(test_parse_errors_and_dropped_records_are_left_alone),
        cmocka_unit_test(test_added_keys_are_framed_and_written_whole),
        cmocka_unit_test(test_every_record_of_a_chunk_is_classified),
        cmocka_unit_test(test_quiet_records_are_those_the_rules_pass),
        cmocka_unit_test(test_taxonomy_doc_lists_every_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
