/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parser.c - configured parsers (src/parser.c) with their engines
 * (parsers/regex, parsers/json): fields, types, time, parse errors and
 * malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "mem.h"
#include "parser.h"
#include "timeutil.h"

#define NS INT64_C(1000000000)
#define RAW_CAP (4u << 20)

/* nginx log_format upstream (see the benchmark generator). */
#define NGINX_UPSTREAM_RE                                                      \
    "^(?<remote_addr>\\S+) - (?<remote_user>\\S+) \\[(?<time_local>[^\\]]+)"   \
    "\\] \"(?<request>[^\"]*)\" (?<status>\\d{3}) (?<body_bytes_sent>\\d+) "   \
    "\"(?<http_referer>[^\"]*)\" \"(?<http_user_agent>[^\"]*)\" "              \
    "rt=(?<request_time>\\S+) uct=\"(?<upstream_connect_time>[^\"]*)\" "       \
    "uht=\"(?<upstream_header_time>[^\"]*)\" "                                 \
    "urt=\"(?<upstream_response_time>[^\"]*)\" "                               \
    "ua=\"(?<upstream_addr>[^\"]*)\" us=\"(?<upstream_status>[^\"]*)\"$"

#define NGINX_LINE                                                             \
    "217.162.72.221 - - [01/Jun/2025:00:00:00 +0000] \"GET "                   \
    "/api/v1/users/849056 HTTP/1.1\" 200 854 \"-\" \"Go-http-client/1.1\" "    \
    "rt=0.209 uct=\"0.000\" uht=\"0.025\" urt=\"0.025\" "                      \
    "ua=\"10.0.1.13:8080\" us=\"200\""

static char *nginx_types[] = {
    "status:int",
    "body_bytes_sent:integer",
    "request_time:float",
    "upstream_connect_time:double",
    "upstream_header_time:float",
    "upstream_response_time:float",
    "upstream_status:int",
};

/* One parser with a worker and a chunk to feed it. */
struct fixture {
    struct lf_parser *p;
    struct lf_parser_worker *w;
    struct lfp_chunk *chunk;
    size_t used;
};

static struct lf_parser_conf nginx_conf(void)
{
    struct lf_parser_conf conf = {
        .name = "nginx_upstream",
        .format = LF_PARSER_REGEX,
        .regex = NGINX_UPSTREAM_RE,
        .time_key = "time_local",
        .time_format = "%d/%b/%Y:%H:%M:%S %z",
        .types = {.items = nginx_types,
                  .n = sizeof(nginx_types) / sizeof(nginx_types[0])},
    };
    return conf;
}

static void fixture_open(struct fixture *fx, const struct lf_parser_conf *conf)
{
    struct lfp_err err = {0};

    memset(fx, 0, sizeof(*fx));
    if (lf_parser_new(conf, &fx->p, &err) != LFP_OK)
        fail_msg("lf_parser_new: %s", err.msg);
    fx->w = lf_parser_worker_new(fx->p);
    fx->chunk = lf_chunk_new(RAW_CAP, (size_t)64 << 10);
}

static void fixture_close(struct fixture *fx)
{
    lf_chunk_free(fx->chunk);
    lf_parser_worker_free(fx->w);
    lf_parser_free(fx->p);
}

/* Copies a line into the chunk and parses it; returns the parse result. */
static int parse_n(struct fixture *fx, const char *line, size_t len,
                   struct lfp_record **rec)
{
    size_t cap;
    char *raw = lf_chunk_raw(fx->chunk, &cap);

    assert_true(len <= cap);
    if (fx->used + len > cap) { /* earlier records are done with */
        lf_chunk_reset(fx->chunk);
        fx->used = 0;
    }
    memcpy(raw + fx->used, line, len);
    lf_chunk_add_line(fx->chunk, (uint32_t)fx->used, (uint32_t)len, 0);
    fx->used += len;
    *rec = &fx->chunk->records[fx->chunk->nrecords - 1];
    return lf_parser_parse(fx->p, fx->w, fx->chunk, *rec);
}

static int parse(struct fixture *fx, const char *line, struct lfp_record **rec)
{
    return parse_n(fx, line, strlen(line), rec);
}

static const struct lfp_field *field(const struct lfp_record *rec,
                                     const char *key)
{
    const struct lfp_field *f = lf_record_get(rec, key, strlen(key));

    if (!f)
        fail_msg("no field %s", key);
    return f;
}

static void assert_str(const struct lfp_record *rec, const char *key,
                       const char *want)
{
    const struct lfp_field *f = field(rec, key);

    assert_int_equal(f->type, LFP_T_STR);
    assert_int_equal(f->n, strlen(want));
    assert_memory_equal(f->v.s, want, f->n);
}

static void assert_int_field(const struct lfp_record *rec, const char *key,
                             int64_t want)
{
    const struct lfp_field *f = field(rec, key);

    assert_int_equal(f->type, LFP_T_INT);
    assert_int_equal(f->v.i, want);
}

static void assert_float_field(const struct lfp_record *rec, const char *key,
                               double want)
{
    const struct lfp_field *f = field(rec, key);

    assert_int_equal(f->type, LFP_T_FLOAT);
    assert_float_equal(f->v.d, want, 1e-12);
}

static void assert_type(const struct lfp_record *rec, const char *key, int type)
{
    assert_int_equal(field(rec, key)->type, type);
}

/* Copies s without its NUL, as part of a longer line. */
static void put(char *dst, const char *s)
{
    while (*s)
        *dst++ = *s++;
}

static int has_field(const struct lfp_record *rec, const char *key)
{
    return lf_record_get(rec, key, strlen(key)) != NULL;
}

/* ---- regex ------------------------------------------------------------ */

static void test_regex_nginx_upstream_line_gives_typed_fields(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, NGINX_LINE, &rec), LFP_OK);
    assert_int_equal(rec->flags, 0);
    assert_int_equal(rec->ts_ns, INT64_C(1748736000) * NS);
    assert_int_equal(rec->nfields, 13);
    assert_str(rec, "remote_addr", "217.162.72.221");
    assert_str(rec, "remote_user", "-");
    assert_str(rec, "request", "GET /api/v1/users/849056 HTTP/1.1");
    assert_int_field(rec, "status", 200);
    assert_int_field(rec, "body_bytes_sent", 854);
    assert_str(rec, "http_referer", "-");
    assert_str(rec, "http_user_agent", "Go-http-client/1.1");
    assert_float_field(rec, "request_time", 0.209);
    assert_float_field(rec, "upstream_connect_time", 0.0);
    assert_float_field(rec, "upstream_header_time", 0.025);
    assert_float_field(rec, "upstream_response_time", 0.025);
    assert_str(rec, "upstream_addr", "10.0.1.13:8080");
    assert_int_field(rec, "upstream_status", 200);
    assert_false(has_field(rec, "time_local"));
    /* Fields come in group order; strings point into the raw line. */
    assert_memory_equal(rec->fields[0].key, "remote_addr", 11);
    assert_memory_equal(rec->fields[12].key, "upstream_status", 15);
    assert_ptr_equal(field(rec, "remote_addr")->v.s, rec->raw);
    assert_true(field(rec, "remote_addr")->flags & LFP_FIELD_ESCAPE);
    assert_int_equal(lf_parser_parse_errors(fx.p), 0);
    assert_int_equal(lf_parser_conv_errors(fx.p), 0);
    assert_string_equal(lf_parser_name(fx.p), "nginx_upstream");
    fixture_close(&fx);
}

static void test_regex_unmatched_line_is_parse_error_keeping_raw(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line = "this is not an access log line";
    int64_t before = lf_time_now_ns();

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_ERR_PARSE);
    assert_true(rec->flags & LFP_REC_PARSE_ERROR);
    assert_int_equal(rec->nfields, 0);
    assert_int_equal(rec->raw_len, strlen(line));
    assert_memory_equal(rec->raw, line, rec->raw_len);
    assert_true(rec->ts_ns >= before);
    assert_int_equal(lf_parser_parse_errors(fx.p), 1);
    /* A good line after it parses. */
    assert_int_equal(parse(&fx, NGINX_LINE, &rec), LFP_OK);
    assert_false(rec->flags & LFP_REC_PARSE_ERROR);
    fixture_close(&fx);
}

static void
test_regex_dash_becomes_null_and_bad_number_stays_string(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line =
        "10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 502 "
        "150 \"-\" \"curl/8.5.0\" rt=0.050 uct=\"-\" uht=\"\" "
        "urt=\"0.025, 0.030\" ua=\"10.0.1.14:8080, 10.0.1.15:8080\" "
        "us=\"502, 504\"";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    assert_type(rec, "upstream_connect_time", LFP_T_NULL);
    assert_type(rec, "upstream_header_time", LFP_T_NULL);
    assert_str(rec, "upstream_response_time", "0.025, 0.030");
    assert_str(rec, "upstream_status", "502, 504");
    assert_int_field(rec, "status", 502);
    assert_int_equal(lf_parser_conv_errors(fx.p), 2);
    fixture_close(&fx);
}

static void test_regex_time_kept_when_time_keep_is_on(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    conf.time_keep = 1;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, NGINX_LINE, &rec), LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748736000) * NS);
    assert_str(rec, "time_local", "01/Jun/2025:00:00:00 +0000");
    assert_int_equal(rec->nfields, 14);
    fixture_close(&fx);
}

static void test_regex_bad_time_keeps_field_and_flags_record(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line =
        "10.0.0.1 - - [31/Feb/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 "
        "1 \"-\" \"-\" rt=0.001 uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" "
        "us=\"-\"";
    int64_t before = lf_time_now_ns();

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    assert_true(rec->flags & LFP_REC_TIME_ERROR);
    assert_false(rec->flags & LFP_REC_PARSE_ERROR);
    assert_true(rec->ts_ns >= before);
    assert_str(rec, "time_local", "31/Feb/2025:00:00:00 +0000");
    assert_int_equal(lf_parser_time_errors(fx.p), 1);
    /* The next line's good time clears nothing it should not. */
    assert_int_equal(parse(&fx, NGINX_LINE, &rec), LFP_OK);
    assert_int_equal(rec->flags, 0);
    fixture_close(&fx);
}

static void test_regex_optional_groups_are_omitted(void **state)
{
    struct lf_parser_conf conf = {
        .name = "opt",
        .regex = "^(?<a>\\w+)(?: (?<b>[a-z]+))?(?: (?<c>\\d+))?$",
        .types = {.items = (char *[]){"c:int"}, .n = 1},
    };
    struct fixture fx;
    struct lfp_record *rec;
    int64_t before = lf_time_now_ns();

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, "x", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 1);
    assert_str(rec, "a", "x");
    assert_true(rec->ts_ns >= before); /* no time_key: now */
    assert_false(rec->flags & LFP_REC_TIME_ERROR);
    assert_int_equal(parse(&fx, "x 12", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 2);
    assert_false(has_field(rec, "b"));
    assert_int_field(rec, "c", 12);
    assert_int_equal(parse(&fx, "x y 3", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 3);
    assert_str(rec, "b", "y");
    fixture_close(&fx);
}

static void test_regex_bool_int_and_float_conversions(void **state)
{
    struct lf_parser_conf conf = {
        .name = "conv",
        .regex = "^(?<b>\\S*) (?<i>\\S*) (?<f>\\S*)$",
        .types = {.items = (char *[]){"b:bool", "i:int", "f:float"}, .n = 3},
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, "TRUE -42 1e3", &rec), LFP_OK);
    assert_int_equal(field(rec, "b")->type, LFP_T_BOOL);
    assert_int_equal(field(rec, "b")->v.i, 1);
    assert_int_field(rec, "i", -42);
    assert_float_field(rec, "f", 1000.0);
    assert_int_equal(parse(&fx, "off 9223372036854775807 .5", &rec), LFP_OK);
    assert_int_equal(field(rec, "b")->v.i, 0);
    assert_int_field(rec, "i", INT64_MAX);
    assert_float_field(rec, "f", 0.5);
    assert_int_equal(parse(&fx, "maybe 9223372036854775808 nan", &rec), LFP_OK);
    assert_str(rec, "b", "maybe");
    assert_str(rec, "i", "9223372036854775808");
    assert_str(rec, "f", "nan");
    assert_int_equal(parse(&fx, "yes 0x10 inf", &rec), LFP_OK);
    assert_str(rec, "i", "0x10");
    assert_str(rec, "f", "inf");
    assert_int_equal(lf_parser_conv_errors(fx.p), 5);
    fixture_close(&fx);
}

static void test_regex_float_conversion_matches_strtod(void **state)
{
    struct lf_parser_conf conf = {
        .name = "f",
        .regex = "^(?<f>.*)$",
        .types = {.items = (char *[]){"f:float"}, .n = 1},
    };
    struct fixture fx;
    struct lfp_record *rec;
    uint64_t seed = 42;
    char buf[64];

    (void)state;
    fixture_open(&fx, &conf);
    for (int i = 0; i < 20000; i++) {
        int len, ndigits, point;
        double want;

        seed = seed * 6364136223846793005u + 1442695040888963407u;
        ndigits = 1 + (int)(seed >> 59) % 20;
        point = (int)(seed >> 40) % (ndigits + 1);
        len = snprintf(buf, sizeof(buf), "%s", (seed >> 20) & 1 ? "-" : "");
        for (int k = 0; k < ndigits; k++) {
            if (k == point)
                buf[len++] = '.';
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            buf[len++] = (char)('0' + (seed >> 33) % 10);
        }
        buf[len] = '\0';
        want = strtod(buf, NULL);
        assert_int_equal(parse(&fx, buf, &rec), LFP_OK);
        if (field(rec, "f")->type != LFP_T_FLOAT ||
            field(rec, "f")->v.d != want) /* exact: the same rounding */
            fail_msg("%s: got %.17g, want %.17g", buf, field(rec, "f")->v.d,
                     want);
    }
    fixture_close(&fx);
}

static void test_regex_config_errors_name_the_problem(void **state)
{
    const struct {
        struct lf_parser_conf conf;
        const char *want;
    } cases[] = {
        {{.name = "a", .regex = "(?<x>abc"}, "offset 8"},
        {{.name = "a", .regex = "abc"}, "named group"},
        {{.name = "a"}, "needs a regex"},
        {{.regex = "(?<x>a)"}, "name"},
        {{.name = "a", .regex = "(?<x>a)", .time_key = "x"}, "time_format"},
        {{.name = "a", .regex = "(?<x>a)", .time_format = "%s"}, "time_key"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .time_key = "y",
          .time_format = "%s"},
         "not a named group"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .time_key = "x",
          .time_format = "%H:%Q"},
         "%Q"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .types = {.items = (char *[]){"x"}, .n = 1}},
         "'x' is not key:type"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .types = {.items = (char *[]){"x:number"}, .n = 1}},
         "unknown type 'number'"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .types = {.items = (char *[]){"x:int", "x:float"}, .n = 2}},
         "twice"},
        {{.name = "a", .format = LF_PARSER_JSON, .regex = "(?<x>a)"},
         "only used with format regex"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lfp_err err = {0};
        struct lf_parser *p = (struct lf_parser *)&err;

        assert_int_equal(lf_parser_new(&cases[i].conf, &p, &err),
                         LFP_ERR_CONFIG);
        assert_null(p);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
    }
}

static void test_regex_error_message_has_pcre2_text_and_offset(void **state)
{
    struct lf_parser_conf conf = {.name = "bad", .regex = "^(?<a>[a-z)$"};
    struct lf_parser *p;
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_parser_new(&conf, &p, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "parser bad"));
    assert_non_null(strstr(err.msg, "missing terminating ]"));
    assert_non_null(strstr(err.msg, "at offset 12"));
}

static void test_regex_invalid_utf8_and_binary_bytes_still_match(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char line[] =
        "10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] \"GET /\xff\xfe\xc3 "
        "HTTP/1.1\" 400 0 \"-\" \"\x16\x03\x01\x00\xf7\" rt=0.000 "
        "uct=\"-\" uht=\"-\" urt=\"-\" ua=\"-\" us=\"-\"";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse_n(&fx, line, sizeof(line) - 1, &rec), LFP_OK);
    assert_int_equal(field(rec, "request")->n, 17);
    assert_memory_equal(field(rec, "request")->v.s,
                        "GET /\xff\xfe\xc3 HTTP/1.1", 17);
    assert_int_equal(field(rec, "http_user_agent")->n, 5);
    assert_memory_equal(field(rec, "http_user_agent")->v.s,
                        "\x16\x03\x01\x00\xf7", 5);
    assert_int_field(rec, "status", 400);
    fixture_close(&fx);
}

static void test_regex_malformed_lines_never_crash(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line = NGINX_LINE;
    size_t len = strlen(line);
    char *big = lf_malloc(1u << 20);

    (void)state;
    fixture_open(&fx, &conf);
    /* Every cut of the line, mid-quote included, is a parse error. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(parse_n(&fx, line, cut, &rec), LFP_ERR_PARSE);
    assert_int_equal(parse_n(&fx, "\0\0\0\x01\x02", 5, &rec), LFP_ERR_PARSE);
    memset(big, 'A', 1u << 20);
    assert_int_equal(parse_n(&fx, big, 1u << 20, &rec), LFP_ERR_PARSE);
    assert_int_equal(rec->raw_len, 1u << 20);
    assert_int_equal(lf_parser_parse_errors(fx.p), len + 2);
    fixture_close(&fx);
    lf_free(big);
}

static void test_regex_nul_bytes_and_one_mib_field(void **state)
{
    struct lf_parser_conf conf = {.name = "all",
                                  .regex = "^(?<a>[^ ]*) (?<b>.*)$"};
    struct fixture fx;
    struct lfp_record *rec;
    size_t n = (1u << 20) + 2;
    char *big = lf_malloc(n);

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse_n(&fx, "x\0y z\x01", 6, &rec), LFP_OK);
    assert_int_equal(field(rec, "a")->n, 3);
    assert_memory_equal(field(rec, "a")->v.s, "x\0y", 3);
    memset(big, 'B', n);
    big[1] = ' ';
    assert_int_equal(parse_n(&fx, big, n, &rec), LFP_OK);
    assert_int_equal(field(rec, "b")->n, 1u << 20);
    fixture_close(&fx);
    lf_free(big);
}

static void test_regex_workers_do_not_share_state(void **state)
{
    struct lf_parser_conf conf = nginx_conf();
    struct fixture fx;
    struct lf_parser_worker *w2;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    w2 = lf_parser_worker_new(fx.p);
    assert_int_equal(parse(&fx, NGINX_LINE, &rec), LFP_OK);
    rec->nfields = 0;
    assert_int_equal(lf_parser_parse(fx.p, w2, fx.chunk, rec), LFP_OK);
    assert_int_equal(rec->nfields, 13);
    lf_parser_worker_free(w2);
    fixture_close(&fx);
}

/* ---- json ------------------------------------------------------------- */

static struct lf_parser_conf json_conf(void)
{
    struct lf_parser_conf conf = {.name = "j", .format = LF_PARSER_JSON};
    return conf;
}

static void test_json_nested_objects_flatten_to_dotted_keys(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line =
        "{\"status\":200,\"upstream\":{\"addr\":\"10.0.1.13:8080\","
        "\"time\":0.025,\"deep\":{\"x\":true}},\"n\":null,\"neg\":-12,"
        "\"big\":12345678901234567890,\"e\":1e3,\"after\":\"z\","
        "\"empty\":{},\"f\":false}";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    assert_int_field(rec, "status", 200);
    assert_str(rec, "upstream.addr", "10.0.1.13:8080");
    assert_float_field(rec, "upstream.time", 0.025);
    assert_int_equal(field(rec, "upstream.deep.x")->type, LFP_T_BOOL);
    assert_int_equal(field(rec, "upstream.deep.x")->v.i, 1);
    assert_type(rec, "n", LFP_T_NULL);
    assert_int_field(rec, "neg", -12);
    assert_float_field(rec, "big", 12345678901234567890.0);
    assert_float_field(rec, "e", 1000.0);
    assert_str(rec, "after", "z");
    assert_int_equal(field(rec, "f")->type, LFP_T_BOOL);
    assert_int_equal(field(rec, "f")->v.i, 0);
    assert_int_equal(rec->nfields, 10);
    assert_int_equal(parse(&fx, "  {}  ", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 0);
    fixture_close(&fx);
}

static void test_json_arrays_become_array_fields(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const struct lfp_field *f;
    const char *line = "{\"tags\":[\"a\",\"b\\n\",1,2.5,null,false,"
                       "{\"k\":[1, \"]\"]},[2,[3]]],\"none\":[],"
                       "\"o\":{\"l\":[1]}}";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    f = field(rec, "tags");
    assert_int_equal(f->type, LFP_T_ARRAY);
    assert_int_equal(f->n, 8);
    assert_int_equal(f->v.arr[0].type, LFP_T_STR);
    assert_memory_equal(f->v.arr[0].v.s, "a", 1);
    assert_int_equal(f->v.arr[1].n, 2);
    assert_memory_equal(f->v.arr[1].v.s, "b\n", 2);
    assert_int_equal(f->v.arr[2].type, LFP_T_INT);
    assert_int_equal(f->v.arr[2].v.i, 1);
    assert_int_equal(f->v.arr[3].type, LFP_T_FLOAT);
    assert_int_equal(f->v.arr[4].type, LFP_T_NULL);
    assert_int_equal(f->v.arr[5].type, LFP_T_BOOL);
    assert_int_equal(f->v.arr[6].type, LFP_T_JSON);
    assert_int_equal(f->v.arr[6].n, strlen("{\"k\":[1, \"]\"]}"));
    assert_memory_equal(f->v.arr[6].v.s, "{\"k\":[1, \"]\"]}", f->v.arr[6].n);
    assert_int_equal(f->v.arr[7].type, LFP_T_JSON);
    assert_memory_equal(f->v.arr[7].v.s, "[2,[3]]", f->v.arr[7].n);
    assert_int_equal(field(rec, "none")->type, LFP_T_ARRAY);
    assert_int_equal(field(rec, "none")->n, 0);
    assert_int_equal(field(rec, "o.l")->type, LFP_T_ARRAY);
    fixture_close(&fx);
}

static void test_json_long_array_becomes_json_text(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    size_t cap = 8 + 5000 * 2 + 32, n = 0, array_len;
    char *line = lf_malloc(cap);

    (void)state;
    fixture_open(&fx, &conf);
    n += (size_t)snprintf(line, cap, "{\"a\":[");
    for (int i = 0; i < 5000; i++) {
        line[n++] = '1';
        line[n++] = ',';
    }
    line[n - 1] = ']';
    array_len = n - 5;
    n += (size_t)snprintf(line + n, cap - n, ",\"b\":\"after\"}");
    assert_int_equal(parse_n(&fx, line, n, &rec), LFP_OK);
    assert_int_equal(field(rec, "a")->type, LFP_T_JSON);
    assert_int_equal(field(rec, "a")->n, array_len);
    assert_memory_equal(field(rec, "a")->v.s, "[1,1,", 5);
    assert_str(rec, "b", "after");
    /* Nothing of it carries over to the next line. */
    assert_int_equal(parse(&fx, "{\"c\":\"y\",\"d\":[\"e\"]}", &rec), LFP_OK);
    assert_str(rec, "c", "y");
    assert_int_equal(field(rec, "d")->type, LFP_T_ARRAY);
    assert_int_equal(field(rec, "d")->n, 1);
    fixture_close(&fx);
    lf_free(line);
}

static void test_json_escapes_are_decoded(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line = "{\"msg\":\"caf\\u00e9 \\\"q\\\" \\\\ \\/\","
                       "\"a\\\"b\":{\"c\\u0041\":\"x\\u0000y\"},"
                       "\"plain\":\"p\"}";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    assert_str(rec, "msg", "caf\xc3\xa9 \"q\" \\ /");
    assert_int_equal(field(rec, "a\"b.cA")->n, 3);
    assert_memory_equal(field(rec, "a\"b.cA")->v.s, "x\0y", 3);
    /* Strings without escapes point into the line. */
    assert_true(field(rec, "plain")->v.s > rec->raw &&
                field(rec, "plain")->v.s < rec->raw + rec->raw_len);
    fixture_close(&fx);
}

static void test_json_types_and_time_apply(void **state)
{
    struct lf_parser_conf conf = {
        .name = "j",
        .format = LF_PARSER_JSON,
        .time_key = "time",
        .time_format = "iso8601",
        .types = {.items = (char *[]){"rt:float", "st:int", "code:string",
                                      "n:float"},
                  .n = 4},
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx,
                           "{\"time\":\"2025-06-01T12:34:56.789Z\","
                           "\"rt\":\"0.123\",\"st\":\"-\",\"code\":502,"
                           "\"n\":7}",
                           &rec),
                     LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748781296) * NS + 789000000);
    assert_false(has_field(rec, "time"));
    assert_float_field(rec, "rt", 0.123);
    assert_type(rec, "st", LFP_T_NULL);
    assert_str(rec, "code", "502");
    assert_float_field(rec, "n", 7.0);
    /* A line without the time key: now, flagged. */
    assert_int_equal(parse(&fx, "{\"rt\":\"x\"}", &rec), LFP_OK);
    assert_true(rec->flags & LFP_REC_TIME_ERROR);
    assert_str(rec, "rt", "x");
    /* A time key holding a number that does not parse. */
    assert_int_equal(parse(&fx, "{\"time\":17}", &rec), LFP_OK);
    assert_true(rec->flags & LFP_REC_TIME_ERROR);
    assert_int_field(rec, "time", 17);
    assert_int_equal(lf_parser_time_errors(fx.p), 2);
    assert_int_equal(lf_parser_conv_errors(fx.p), 1);
    fixture_close(&fx);
}

static void test_json_epoch_number_time(void **state)
{
    struct lf_parser_conf conf = {
        .name = "j",
        .format = LF_PARSER_JSON,
        .time_key = "ts",
        .time_format = "%s",
        .time_keep = 1,
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, "{\"ts\":1700000000.5}", &rec), LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1700000000) * NS + 500000000);
    assert_float_field(rec, "ts", 1700000000.5);
    fixture_close(&fx);
}

static void test_json_bad_lines_are_parse_errors(void **state)
{
    static const char *const bad[] = {
        "{\"a\":\"b",  "{\"a\":1",
        "{\"a\":1,",   "hello",
        "[1,2]",       "\"str\"",
        "123",         "",
        "   ",         "{\"a\":1} {\"b\":2}",
        "{\"a\":1} x", "{\"a\":1}}",
        "{'a':1}",     "{\"a\":tru}",
        "{\"a\":01}",  "{a:1}",
        "{\"a\":1}]",
    };
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(&fx, bad[i], &rec) != LFP_ERR_PARSE)
            fail_msg("'%s' parsed", bad[i]);
        assert_true(rec->flags & LFP_REC_PARSE_ERROR);
        assert_int_equal(rec->nfields, 0);
        /* The worker recovers: the next good line parses. */
        assert_int_equal(parse(&fx, "{\"ok\":1} ", &rec), LFP_OK);
        assert_int_field(rec, "ok", 1);
        assert_int_equal(rec->nfields, 1);
    }
    assert_int_equal(lf_parser_parse_errors(fx.p),
                     sizeof(bad) / sizeof(bad[0]));
    fixture_close(&fx);
}

static void test_json_binary_and_invalid_utf8(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char nul_in_string[] = "{\"a\":\"x\0y\"}";
    const char nul_after[] = "{\"a\":1}\0";
    const char bad_utf8[] = "{\"a\":\"\xff\xfe\xc3\",\"b\":1}";

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(
        parse_n(&fx, nul_in_string, sizeof(nul_in_string) - 1, &rec),
        LFP_ERR_PARSE);
    assert_int_equal(parse_n(&fx, nul_after, sizeof(nul_after) - 1, &rec),
                     LFP_ERR_PARSE);
    assert_int_equal(parse_n(&fx, bad_utf8, sizeof(bad_utf8) - 1, &rec),
                     LFP_OK);
    assert_int_equal(field(rec, "a")->n, 3);
    assert_memory_equal(field(rec, "a")->v.s, "\xff\xfe\xc3", 3);
    assert_int_field(rec, "b", 1);
    assert_int_equal(parse_n(&fx, "\x00\x01\x02\xff", 4, &rec), LFP_ERR_PARSE);
    fixture_close(&fx);
}

static void test_json_huge_and_deep_lines_never_crash(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    size_t n = 1u << 20;
    char *big = lf_malloc(n + 16);

    (void)state;
    fixture_open(&fx, &conf);
    /* A 1 MiB string value, escapes included. */
    put(big, "{\"s\":\"");
    memset(big + 6, 'x', n);
    put(big + 6 + 100, "\\n");
    put(big + 6 + n, "\"}");
    assert_int_equal(parse_n(&fx, big, n + 8, &rec), LFP_OK);
    assert_int_equal(field(rec, "s")->n, n - 1);
    /* 1 MiB of '[' and of '{"a":' nesting. */
    memset(big, '[', n);
    assert_int_equal(parse_n(&fx, big, n, &rec), LFP_ERR_PARSE);
    for (size_t i = 0; i + 5 <= n; i += 5)
        put(big + i, "{\"a\":");
    assert_int_equal(parse_n(&fx, big, n - n % 5, &rec), LFP_ERR_PARSE);
    /* Nesting inside an array. */
    put(big, "{\"a\":");
    memset(big + 5, '[', n - 5);
    assert_int_equal(parse_n(&fx, big, n, &rec), LFP_ERR_PARSE);
    assert_int_equal(parse(&fx, "{\"ok\":true}", &rec), LFP_OK);
    fixture_close(&fx);
    lf_free(big);
}

static void test_json_every_cut_of_a_line_is_handled(void **state)
{
    struct lf_parser_conf conf = json_conf();
    struct fixture fx;
    struct lfp_record *rec;
    const char *line = "{\"a\":\"q\\\"x\",\"b\":{\"c\":[1,{\"d\":null}]},"
                       "\"e\":-1.5e-3,\"f\":true}";
    size_t len = strlen(line);

    (void)state;
    fixture_open(&fx, &conf);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(parse_n(&fx, line, cut, &rec), LFP_ERR_PARSE);
    assert_int_equal(parse_n(&fx, line, len, &rec), LFP_OK);
    assert_float_field(rec, "e", -1.5e-3);
    fixture_close(&fx);
}

static void test_option_table_lists_parser_keys(void **state)
{
    static const char *const want[] = {"name",     "format",      "regex",
                                       "time_key", "time_format", "time_keep",
                                       "types"};
    const struct lfp_option *opt = lf_parser_options();
    size_t i;

    (void)state;
    for (i = 0; opt[i].name; i++) {
        assert_true(i < 7);
        assert_string_equal(opt[i].name, want[i]);
        assert_non_null(opt[i].desc);
        assert_true(opt[i].offset < lf_parser_conf_size());
    }
    assert_int_equal(i, 7);
    assert_int_equal(opt[0].flags, LFP_OPT_REQUIRED);
    assert_int_equal(opt[1].type, LFP_OPT_ENUM);
    assert_string_equal(opt[1].def, "regex");
    assert_string_equal(opt[1].enum_values[LF_PARSER_JSON], "json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_nginx_upstream_line_gives_typed_fields),
        cmocka_unit_test(test_regex_unmatched_line_is_parse_error_keeping_raw),
        cmocka_unit_test(
            test_regex_dash_becomes_null_and_bad_number_stays_string),
        cmocka_unit_test(test_regex_time_kept_when_time_keep_is_on),
        cmocka_unit_test(test_regex_bad_time_keeps_field_and_flags_record),
        cmocka_unit_test(test_regex_optional_groups_are_omitted),
        cmocka_unit_test(test_regex_bool_int_and_float_conversions),
        cmocka_unit_test(test_regex_float_conversion_matches_strtod),
        cmocka_unit_test(test_regex_config_errors_name_the_problem),
        cmocka_unit_test(test_regex_error_message_has_pcre2_text_and_offset),
        cmocka_unit_test(test_regex_invalid_utf8_and_binary_bytes_still_match),
        cmocka_unit_test(test_regex_malformed_lines_never_crash),
        cmocka_unit_test(test_regex_nul_bytes_and_one_mib_field),
        cmocka_unit_test(test_regex_workers_do_not_share_state),
        cmocka_unit_test(test_json_nested_objects_flatten_to_dotted_keys),
        cmocka_unit_test(test_json_arrays_become_array_fields),
        cmocka_unit_test(test_json_long_array_becomes_json_text),
        cmocka_unit_test(test_json_escapes_are_decoded),
        cmocka_unit_test(test_json_types_and_time_apply),
        cmocka_unit_test(test_json_epoch_number_time),
        cmocka_unit_test(test_json_bad_lines_are_parse_errors),
        cmocka_unit_test(test_json_binary_and_invalid_utf8),
        cmocka_unit_test(test_json_huge_and_deep_lines_never_crash),
        cmocka_unit_test(test_json_every_cut_of_a_line_is_handled),
        cmocka_unit_test(test_option_table_lists_parser_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
