/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parser.c - configured parsers (src/parser.c) with their engines
 * (parsers/regex, parsers/json): fields, types, time, parse errors and
 * malformed input.
 */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "json_out.h"
#include "lf_test.h"
#include "mem.h"
#include "parser.h"
#include "timeutil.h"

#include "../../parsers/values/values.h"

#define NS INT64_C(1000000000)
/* A time_format list of one format. */
#define TIME_FORMAT(s)                                                         \
    {                                                                          \
        .items = (char *[]){s}, .n = 1                                         \
    }
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

static char *nginx_time_format[] = {"%d/%b/%Y:%H:%M:%S %z"};

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
        .time_format = {.items = nginx_time_format, .n = 1},
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
    /* Keys with a rule are the parser's own copies: stable and plain;
     * a group without one keeps PCRE2's name and no promise. */
    assert_int_equal(field(rec, "status")->flags & 0x06,
                     LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN);
    assert_int_equal(field(rec, "request")->flags & 0x06, 0);
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
    assert_int_equal(parse(&fx, "no -9223372036854775808 1", &rec), LFP_OK);
    assert_int_field(rec, "i", INT64_MIN);
    assert_int_equal(parse(&fx, "no -9223372036854775809 1", &rec), LFP_OK);
    assert_str(rec, "i", "-9223372036854775809");
    assert_int_equal(parse(&fx, "no 99999999999999999999 1", &rec), LFP_OK);
    assert_str(rec, "i", "99999999999999999999");
    assert_int_equal(parse(&fx, "no 999999999999999999 1", &rec), LFP_OK);
    assert_int_field(rec, "i", INT64_C(999999999999999999));
    /* past 18 digits, leading zeros do not overflow */
    assert_int_equal(parse(&fx, "no +0000000000000000000042 1", &rec), LFP_OK);
    assert_int_field(rec, "i", 42);
    assert_int_equal(parse(&fx, "no -0000000000000000000042 1", &rec), LFP_OK);
    assert_int_field(rec, "i", -42);
    assert_int_equal(parse(&fx, "yes 0x10 inf", &rec), LFP_OK);
    assert_str(rec, "i", "0x10");
    assert_str(rec, "f", "inf");
    assert_int_equal(lf_parser_conv_errors(fx.p), 7);
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
        {{.name = "a", .regex = "(?<x>a)", .time_format = TIME_FORMAT("%s")},
         "time_key"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .time_key = "y",
          .time_format = TIME_FORMAT("%s")},
         "not a named group"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .time_key = "x",
          .time_format = TIME_FORMAT("%H:%Q")},
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
    /* A key in the line's buffer is not stable. */
    assert_int_equal(field(rec, "after")->flags & LFP_FIELD_KEY_STABLE, 0);
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
        .time_format = TIME_FORMAT("iso8601"),
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
        .time_format = TIME_FORMAT("%s"),
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

/* ---- types, rename, ecs ------------------------------------------------- */

/* A parser over "a|b|c..." lines: each group NAME takes one '|' field. */
static void open_fields(struct fixture *fx, const char *regex, char **types,
                        size_t ntypes, char **renames, size_t nrenames,
                        int is_ecs)
{
    struct lf_parser_conf conf = {
        .name = "t",
        .regex = (char *)regex,
        .types = {.items = types, .n = ntypes},
        .rename = {.items = renames, .n = nrenames},
        .ecs = is_ecs,
    };

    fixture_open(fx, &conf);
}

static const struct lfp_field *array_field(const struct lfp_record *rec,
                                           const char *key, uint32_t n)
{
    const struct lfp_field *f = field(rec, key);

    assert_int_equal(f->type, LFP_T_ARRAY);
    assert_int_equal(f->n, n);
    return f->v.arr;
}

static void test_list_types_split_nginx_multi_values(void **state)
{
    char *types[] = {"s:int_list", "a:str_list", "t:float_list"};
    char *renames[] = {"s:up.status/up.statuses",
                       "a:up.address/up.addresses/up.attempts", "t:up.time"};
    struct fixture fx;
    struct lfp_record *rec;
    const struct lfp_field *e;

    (void)state;
    open_fields(&fx, "^(?<s>[^|]*)\\|(?<a>[^|]*)\\|(?<t>[^|]*)$", types, 3,
                renames, 3, 1);
    assert_int_equal(
        parse(&fx,
              "502, 504 : 200|10.0.0.5:80, [fd00::6]:80 : unix:/s|-, "
              "60.002 : 0.001",
              &rec),
        LFP_OK);
    e = array_field(rec, "up.statuses", 3);
    assert_int_equal(e[0].v.i, 502);
    assert_int_equal(e[1].v.i, 504);
    assert_int_equal(e[2].v.i, 200);
    assert_int_field(rec, "up.status", 200);
    e = array_field(rec, "up.addresses", 3);
    assert_int_equal(e[1].n, strlen("[fd00::6]:80"));
    assert_memory_equal(e[1].v.s, "[fd00::6]:80", e[1].n);
    assert_str(rec, "up.address", "unix:/s");
    assert_int_field(rec, "up.attempts", 3);
    e = array_field(rec, "up.time_list", 3); /* no second name: _list */
    assert_int_equal(e[0].type, LFP_T_NULL);
    assert_float_equal(e[1].v.d, 60.002, 1e-12);
    assert_float_field(rec, "up.time", 0.001);
    /* A whole "-" is no attempt: null value and array, count 0. */
    assert_int_equal(parse(&fx, "-|-|-", &rec), LFP_OK);
    assert_type(rec, "up.status", LFP_T_NULL);
    assert_type(rec, "up.statuses", LFP_T_NULL);
    assert_int_field(rec, "up.attempts", 0);
    /* "502, -": the last attempt has no status. */
    assert_int_equal(parse(&fx, "502, -|a:1, b:2|0.1", &rec), LFP_OK);
    assert_type(rec, "up.status", LFP_T_NULL);
    e = array_field(rec, "up.statuses", 2);
    assert_int_equal(e[0].v.i, 502);
    assert_int_equal(e[1].type, LFP_T_NULL);
    assert_int_equal(lf_parser_conv_errors(fx.p), 0);
    fixture_close(&fx);
}

static void test_list_element_that_does_not_convert_stays_string(void **state)
{
    char *types[] = {"s:int_list"};
    struct fixture fx;
    struct lfp_record *rec;
    const struct lfp_field *e;

    (void)state;
    open_fields(&fx, "^(?<s>.*)$", types, 1, NULL, 0, 1);
    assert_int_equal(parse(&fx, "502, 2x0", &rec), LFP_OK);
    e = array_field(rec, "s_list", 2);
    assert_int_equal(e[0].v.i, 502);
    assert_int_equal(e[1].type, LFP_T_STR);
    assert_str(rec, "s", "2x0");
    assert_int_equal(lf_parser_conv_errors(fx.p), 1);
    fixture_close(&fx);
}

/* Lists of 15 to 40 attempts, around the 16 the split gathers before it
 * counts, with an attempt that does not convert at each place: every
 * attempt in order, the last one, the count, and each bad one counted
 * once. */
static void test_long_lists_keep_every_attempt(void **state)
{
    char *types[] = {"s:int_list"};
    char *renames[] = {"s:st/sts/stn"};
    struct fixture fx;
    struct lfp_record *rec;
    uint64_t errors = 0;

    (void)state;
    open_fields(&fx, "^(?<s>.*)$", types, 1, renames, 1, 1);
    for (uint32_t len = 15; len <= 40; len++) {
        for (uint32_t bad = 0; bad <= len; bad++) { /* bad == len: none */
            char line[512];
            size_t at = 0;
            const struct lfp_field *e;

            for (uint32_t i = 0; i < len; i++) {
                int w = snprintf(line + at, sizeof(line) - at, "%s%u%s",
                                 i ? (i % 5 ? ", " : " : ") : "", 500 + i,
                                 i == bad ? "x" : "");
                assert_true(w > 0 && (size_t)w < sizeof(line) - at);
                at += (size_t)w;
            }
            assert_int_equal(parse(&fx, line, &rec), LFP_OK);
            e = array_field(rec, "sts", len);
            for (uint32_t i = 0; i < len; i++) {
                if (i == bad) {
                    assert_int_equal(e[i].type, LFP_T_STR);
                } else {
                    assert_int_equal(e[i].type, LFP_T_INT);
                    assert_int_equal(e[i].v.i, 500 + i);
                }
            }
            if (bad == len - 1)
                assert_int_equal(field(rec, "st")->type, LFP_T_STR);
            else
                assert_int_field(rec, "st", 500 + len - 1);
            assert_int_field(rec, "stn", len);
            errors += bad < len;
            assert_int_equal(lf_parser_conv_errors(fx.p), errors);
        }
    }
    fixture_close(&fx);
}

/* The shapes at the edges of the float fast path (sign, point at either
 * end, 16 and 17 digits, 2^53 and past it, 18 and 19 bytes) convert as
 * strtod does, as a float and as a one-entry float_list; the rest stay
 * strings and count. */
static void test_float_edge_shapes_match_strtod(void **state)
{
    static const char *const ok[] = {"0",
                                     "-0",
                                     "+0",
                                     "-0.0",
                                     "5.",
                                     ".5",
                                     "+1.5",
                                     "-.25",
                                     "1234567890123456",
                                     "1234567890.123456",
                                     "9007199254740992",
                                     "9007199254740993",
                                     "12345678901234567",
                                     "-1234567890123.4567",
                                     "-12345678901234.5678",
                                     "0.0000000000000001",
                                     "00000000000000001.5",
                                     "1e3",
                                     "2.5E-3"};
    static const char *const bad[] = {"+",   ".",  "-.",  "1.2.3",  "1..2",
                                      "1,5", " 1", "1 ",  "0x1p3",  "1e",
                                      "--1", "1-", "inf", "1.5e999"};
    struct lf_parser_conf conf = {
        .name = "f",
        .regex = "^(?<f>[^|]*)\\|(?<l>[^|]*)$",
        .types = {.items = (char *[]){"f:float", "l:float_list"}, .n = 2},
    };
    struct fixture fx;
    struct lfp_record *rec;
    char line[80];

    (void)state;
    fixture_open(&fx, &conf);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double want = strtod(ok[i], NULL);

        snprintf(line, sizeof(line), "%s|%s", ok[i], ok[i]);
        assert_int_equal(parse(&fx, line, &rec), LFP_OK);
        assert_int_equal(field(rec, "f")->type, LFP_T_FLOAT);
        assert_int_equal(field(rec, "l")->type, LFP_T_FLOAT);
        /* bit for bit: the same rounding and the sign of a zero */
        assert_memory_equal(&field(rec, "f")->v.d, &want, sizeof(want));
        assert_memory_equal(&field(rec, "l")->v.d, &want, sizeof(want));
        assert_memory_equal(&array_field(rec, "l_list", 1)[0].v.d, &want,
                            sizeof(want));
    }
    assert_int_equal(lf_parser_conv_errors(fx.p), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(line, sizeof(line), "%s|%s", bad[i], bad[i]);
        assert_int_equal(parse(&fx, line, &rec), LFP_OK);
        assert_str(rec, "f", bad[i]);
        assert_str(rec, "l", bad[i]);
        assert_int_equal(array_field(rec, "l_list", 1)[0].type, LFP_T_STR);
    }
    assert_int_equal(lf_parser_conv_errors(fx.p),
                     2 * (sizeof(bad) / sizeof(bad[0])));
    fixture_close(&fx);
}

/* A value without separators is one attempt, whether it converts or not;
 * a blank or a comma alone does not separate. */
static void test_list_of_one_attempt(void **state)
{
    char *types[] = {"s:int_list", "a:str_list"};
    char *renames[] = {"s:st/sts/stn", "a:ad/ads/adn"};
    struct fixture fx;
    struct lfp_record *rec;
    const struct lfp_field *e;

    (void)state;
    open_fields(&fx, "^(?<s>[^|]*)\\|(?<a>[^|]*)$", types, 2, renames, 2, 1);
    assert_int_equal(parse(&fx, "-5|10.0.0.1:80", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 6);
    assert_int_field(rec, "st", -5);
    assert_int_equal(array_field(rec, "sts", 1)[0].v.i, -5);
    assert_int_field(rec, "stn", 1);
    assert_str(rec, "ad", "10.0.0.1:80");
    e = array_field(rec, "ads", 1);
    assert_int_equal(e[0].type, LFP_T_STR);
    assert_int_equal(e[0].n, strlen("10.0.0.1:80"));
    assert_int_field(rec, "adn", 1);
    assert_int_equal(parse(&fx, "2x0|a b", &rec), LFP_OK);
    assert_str(rec, "st", "2x0");
    assert_int_equal(array_field(rec, "sts", 1)[0].type, LFP_T_STR);
    assert_str(rec, "ad", "a b");
    assert_int_field(rec, "adn", 1);
    assert_int_equal(lf_parser_conv_errors(fx.p), 1);
    assert_int_equal(parse(&fx, "200 |a,b", &rec), LFP_OK);
    assert_str(rec, "st", "200 ");
    assert_str(rec, "ad", "a,b");
    assert_int_field(rec, "adn", 1);
    assert_int_equal(parse(&fx, "1, 2|a , b", &rec), LFP_OK);
    assert_int_field(rec, "st", 2);
    assert_int_field(rec, "stn", 2);
    e = array_field(rec, "ads", 2);
    assert_int_equal(e[0].n, 2); /* "a " */
    assert_str(rec, "ad", "b");
    assert_int_equal(lf_parser_conv_errors(fx.p), 2);
    fixture_close(&fx);
}

/* ---- the group walk ---------------------------------------------------- */

/* Two values as equal as the JSON writer and the finders can tell:
 * the same type, flags, length and value (strings at the same address,
 * arrays element by element). */
static void assert_same_value(const struct lfp_field *a,
                              const struct lfp_field *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->n, b->n);
    switch (a->type) {
    case LFP_T_STR:
        assert_ptr_equal(a->v.s, b->v.s);
        break;
    case LFP_T_INT:
    case LFP_T_BOOL:
        assert_int_equal(a->v.i, b->v.i);
        break;
    case LFP_T_FLOAT:
        assert_memory_equal(&a->v.d, &b->v.d, sizeof(double));
        break;
    case LFP_T_ARRAY:
        for (uint32_t i = 0; i < a->n; i++)
            assert_same_value(&a->v.arr[i], &b->v.arr[i]);
        break;
    default:
        break;
    }
}

static void assert_same_lines(const struct lf_parser_line *la,
                              const struct lf_parser_line *lb);

/* value as group `name` through lf_parser_emit_groups() (in the room the
 * regex engine reserves) and through lf_parser_emit_str(), the type's
 * handler, each with its own time cache: the same fields, record flags,
 * time and counts. */
static void walk_compare(struct fixture *fx, struct lf_timecache tc[2],
                         const char *name, const char *value)
{
    struct lf_parser_group g;
    struct lfp_record ra = {0}, rb = {0};
    struct lf_parser_line la = {
        .p = fx->p, .w = fx->w, .chunk = fx->chunk, .rec = &ra, .tc = &tc[0]};
    struct lf_parser_line lb = {
        .p = fx->p, .w = fx->w, .chunk = fx->chunk, .rec = &rb, .tc = &tc[1]};
    size_t n = strlen(value);
    size_t ov[4] = {SIZE_MAX, SIZE_MAX, 0, n};
    uint32_t room;

    lf_parser_group_init(fx->p, &g, 1, name, strlen(name));
    room = lf_parser_emit_room(&g.key);
    lf_record_reserve(fx->chunk, &ra, room);
    room = ra.fields_cap;
    lf_parser_emit_groups(&la, &g, &g + 1, value, ov);
    lf_parser_emit_str(&lb, &g.key, value, n);
    if (ra.nfields != rb.nfields)
        fail_msg("%s \"%s\": %u fields walked, %u by the handler", name, value,
                 ra.nfields, rb.nfields);
    /* within the room: values plus the array taken below it */
    assert_true(ra.nfields <= ra.fields_cap && ra.fields_cap <= room);
    assert_same_lines(&la, &lb);
}

/* Two lines' records and counts as equal as assert_same_value() tells. */
static void assert_same_lines(const struct lf_parser_line *la,
                              const struct lf_parser_line *lb)
{
    const struct lfp_record *ra = la->rec, *rb = lb->rec;

    assert_int_equal(ra->nfields, rb->nfields);
    for (uint32_t i = 0; i < ra->nfields; i++) {
        assert_ptr_equal(ra->fields[i].key, rb->fields[i].key);
        assert_int_equal(ra->fields[i].key_len, rb->fields[i].key_len);
        assert_same_value(&ra->fields[i], &rb->fields[i]);
    }
    assert_int_equal(ra->flags, rb->flags);
    assert_int_equal(la->has_time, lb->has_time);
    if (la->has_time && !(ra->flags & LFP_REC_TIME_ERROR))
        assert_int_equal(ra->ts_ns, rb->ts_ns);
    assert_int_equal(la->conv_errors, lb->conv_errors);
    assert_int_equal(la->time_errors, lb->time_errors);
}

/* Values for the walk tests: each type's inline forms and shapes either
 * side of them. */
static const char *const walk_values[] = {"",
                                          "-",
                                          "--",
                                          "0",
                                          "7",
                                          "200",
                                          "-5",
                                          "+5",
                                          "007",
                                          "999999999999999999",
                                          "9999999999999999999",
                                          "12345678901234567890",
                                          "0.025",
                                          "0.000",
                                          "12.345",
                                          "99.999",
                                          "123.456",
                                          "1.5",
                                          "1.",
                                          ".5",
                                          "-0.025",
                                          "1e3",
                                          "0x10",
                                          "a.bcd",
                                          "1.23a",
                                          "00.000",
                                          "0.0250",
                                          "502, 504",
                                          "502, 504 : 200",
                                          "0.1, 0.2",
                                          "- : 0.3",
                                          "10.0.1.13:8080",
                                          "10.0.1.13:80",
                                          "1.2.3.4",
                                          "1.2.3.45",
                                          "255.255.255.255",
                                          "256.255.255.255",
                                          "01.2.3.4",
                                          "1.2.3.4.5",
                                          "10.0.0.1 ",
                                          "a b",
                                          "abcdefgh",
                                          "abcdefghijklmnop",
                                          "abcdefghijklmnopq",
                                          "abcdefgh jklmnopq",
                                          "abcdefg, ijklmnop",
                                          "abcdefg ",
                                          " bcdefgh",
                                          "::1",
                                          "[::1]:80",
                                          "01/Jun/2025:00:00:00 +0000",
                                          "31/Dec/2025:23:59:59 +0100",
                                          "32/Jun/2025:00:00:00 +0000",
                                          "HTTP/1.1",
                                          "true",
                                          "off",
                                          "\"quoted\"",
                                          "caf\xc3\xa9",
                                          "10.0.1.13:808\"",
                                          "10.0\\1.13:8080",
                                          "1234567\x01",
                                          "\t1234567",
                                          "caf\xc3\xa9:8080",
                                          "1234567\x7f"};
#define WALK_NVALUES (sizeof(walk_values) / sizeof(walk_values[0]))

/* Every type the walk reads inline, and some it leaves to the handler,
 * on the shapes either side of its inline forms; each value twice, the
 * second time found in the time cache, and with time_keep off and on. */
static void test_group_walk_gives_the_handlers_fields(void **state)
{
    static const char *const names[] = {
        "str", "opt", "i",  "d",   "dn", "ds", "fl", "fl3", "fl1", "il",
        "sl",  "sl1", "ad", "ad1", "t",  "ht", "u",  "sec", "b"};

    char *types[] = {"opt:optional",   "i:int",           "d:duration_ms",
                     "dn:duration_ns", "ds:duration_s",   "fl:float_list",
                     "fl3:float_list", "fl1:float_list",  "il:int_list",
                     "sl:str_list",    "sl1:str_list",    "ad:addr",
                     "ad1:addr",       "ht:http_version", "u:uint",
                     "sec:seconds_ms", "b:bool"};
    char *renames[] = {
        "str:s.out",           "fl:f.last/f.all",     "fl3:g.last/g.all/g.n",
        "il:i.last/i.all/i.n", "sl:a.last/a.all/a.n", "ad:c.address/c.ip",
        "i:http.status"};
    char *tf[] = {"%d/%b/%Y:%H:%M:%S %z"};
    struct lf_parser_conf conf = {
        .name = "walk",
        .regex = "^(?<str>.)(?<opt>.)(?<i>.)(?<d>.)(?<dn>.)(?<ds>.)(?<fl>.)"
                 "(?<fl3>.)(?<fl1>.)(?<il>.)(?<sl>.)(?<sl1>.)(?<ad>.)"
                 "(?<ad1>.)(?<t>.)(?<ht>.)(?<u>.)(?<sec>.)(?<b>.)$",
        .time_key = "t",
        .time_format = {.items = tf, .n = 1},
        .types = {.items = types, .n = sizeof(types) / sizeof(types[0])},
        .rename = {.items = renames, .n = sizeof(renames) / sizeof(renames[0])},
        .ecs = 1,
    };
    struct lf_timecache tc[2] = {0};
    struct fixture fx;

    (void)state;
    for (int keep = 0; keep <= 1; keep++) {
        conf.time_keep = keep;
        fixture_open(&fx, &conf);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            for (size_t j = 0; j < 2 * WALK_NVALUES; j++)
                walk_compare(&fx, tc, names[i], walk_values[j / 2]);
        fixture_close(&fx);
    }
}

/* The walk unrolled for the built-in nginx_upstream's groups
 * (lf_parser_walk_find()) against the loop, lf_parser_emit_groups(), on
 * lines whose groups take every value of walk_values in turn, with the
 * request split (groups 4-6) or whole (7). */
static void test_group_walk_unrolled_gives_the_loops_fields(void **state)
{
    const char *const *names = lf_test_ngxu_groups;
    enum { NG = LF_TEST_NGXU_NGROUPS };
    struct lf_parser_group groups[NG];
    struct lf_timecache tc[2] = {0};
    struct lfp_err err = {0};
    struct fixture fx = {0};
    lf_parser_walk_fn walk;
    uint32_t room = 0;

    (void)state;
    if (lf_parser_new_builtin("nginx_upstream", &fx.p, &err) != LFP_OK)
        fail_msg("nginx_upstream: %s", err.msg);
    fx.w = lf_parser_worker_new(fx.p);
    fx.chunk = lf_chunk_new(RAW_CAP, (size_t)64 << 10);
    for (uint32_t i = 0; i < NG; i++) {
        lf_parser_group_init(fx.p, &groups[i], i + 1, names[i],
                             strlen(names[i]));
        room += lf_parser_emit_room(&groups[i].key);
    }
    walk = lf_parser_walk_find(groups, NG);
    assert_true(walk != lf_parser_emit_groups);
    assert_true(lf_parser_walk_find(groups, NG - 1) == lf_parser_emit_groups);
    for (size_t j = 0; j < 2 * WALK_NVALUES; j++) {
        char subject[1024];
        size_t ov[2 * (NG + 1)], at = 0;
        struct lfp_record ra = {0}, rb = {0};
        struct lf_parser_line la = {
            .p = fx.p, .w = fx.w, .chunk = fx.chunk, .rec = &ra, .tc = &tc[0]};
        struct lf_parser_line lb = {
            .p = fx.p, .w = fx.w, .chunk = fx.chunk, .rec = &rb, .tc = &tc[1]};

        for (size_t i = 0; i < NG; i++) {
            const char *v = walk_values[(j / 2 + 5 * i) % WALK_NVALUES];
            size_t n = strlen(v);
            int is_unset = j % 2 ? i >= 3 && i <= 5 : i == 6;

            assert_true(at + n <= sizeof(subject));
            put(subject + at, v);
            ov[2 * (i + 1)] = is_unset ? SIZE_MAX : at;
            ov[2 * (i + 1) + 1] = is_unset ? SIZE_MAX : at + n;
            at += n;
        }
        ov[0] = 0;
        ov[1] = at;
        lf_record_reserve(fx.chunk, &ra, room);
        lf_record_reserve(fx.chunk, &rb, room);
        walk(&la, groups, groups + NG, subject, ov);
        lf_parser_emit_groups(&lb, groups, groups + NG, subject, ov);
        assert_same_lines(&la, &lb);
    }
    fixture_close(&fx);
}

/* str_list values around 8 and 16 bytes, the lengths its blank test
 * reads as two words, with a blank at either end of them or a separator:
 * the attempts and the last one as the general split gives them. */
static void test_str_list_blanks_near_word_lengths(void **state)
{
    static const struct {
        const char *in, *last;
        int attempts;
    } cases[] = {
        {"10.0.1.13:8080", "10.0.1.13:8080", 1},
        {"1234567", "1234567", 1},
        {"12345678", "12345678", 1},
        {"1234567 ", "1234567 ", 1},
        {" 1234567", " 1234567", 1},
        {"1234 678", "1234 678", 1},
        {"123456789abcdefg", "123456789abcdefg", 1},
        {"123456789abcdef ", "123456789abcdef ", 1},
        {" 23456789abcdefg", " 23456789abcdefg", 1},
        {"12345678 abcdefg", "12345678 abcdefg", 1},
        {"12345678901234567", "12345678901234567", 1},
        {"a, b", "b", 2},
        {"1234567, 89", "89", 2},
        {"12345678, 9abcde", "9abcde", 2},
        {"1.2.3.4:80 : 5.6", "5.6", 2},
        {"10.0.0.5:80, 10.0.0.6:80", "10.0.0.6:80", 2},
    };
    char *types[] = {"a:str_list"};
    char *renames[] = {"a:ad/ads/adn"};
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct lfp_field *e;

        assert_int_equal(parse(&fx, cases[i].in, &rec), LFP_OK);
        size_t n = strlen(cases[i].in);
        /* one attempt of 8 to 16 plain bytes: vouched for, not escaped */
        int is_plain = cases[i].attempts == 1 && n >= 8 && n <= 16 &&
                       !strchr(cases[i].in, ' ');

        assert_str(rec, "ad", cases[i].last);
        assert_int_equal(field(rec, "ad")->flags & LFP_FIELD_ESCAPE,
                         is_plain ? 0 : LFP_FIELD_ESCAPE);
        assert_int_field(rec, "adn", cases[i].attempts);
        e = array_field(rec, "ads", (uint32_t)cases[i].attempts);
        assert_int_equal(e[cases[i].attempts - 1].type, LFP_T_STR);
        assert_int_equal(e[cases[i].attempts - 1].n, strlen(cases[i].last));
    }
    assert_int_equal(parse(&fx, "-", &rec), LFP_OK);
    assert_type(rec, "ad", LFP_T_NULL);
    assert_int_field(rec, "adn", 0);
    assert_int_equal(lf_parser_conv_errors(fx.p), 0);
    fixture_close(&fx);
}

/* A str_list value of one attempt, 8 to 16 bytes (the fast path), is
 * flagged for escaping, with its array's element, exactly when it holds a
 * byte JSON must escape or check: a quote, a backslash, a control byte or
 * a byte >= 0x80, at either end of the two words the fast path reads. The
 * JSON written has them escaped (invalid UTF-8 as U+FFFD). */
static void test_str_list_escapes_only_values_that_need_it(void **state)
{
    static const struct {
        const char *in, *json;
    } cases[] = {
        {"10.0.1.13:8080", "\"10.0.1.13:8080\""},
        {"12345678", "\"12345678\""},
        {"123456789abcdefg", "\"123456789abcdefg\""},
        {"!#$%&'()*+,-./~\x7f", "\"!#$%&'()*+,-./~\x7f\""},
        {"\"0.0.1.13:8080", "\"\\\"0.0.1.13:8080\""},
        {"10.0.1.13:808\"", "\"10.0.1.13:808\\\"\""},
        {"10.0\\1.13:8080", "\"10.0\\\\1.13:8080\""},
        {"\x01"
         "0.0.1.13:8080",
         "\"\\u00010.0.1.13:8080\""},
        {"1234567\t", "\"1234567\\t\""},
        {"123456789abcdef\x1f", "\"123456789abcdef\\u001f\""},
        {"caf\xc3\xa9:8080", "\"caf\xc3\xa9:8080\""},
        {"\xc3\xa9"
         "bcdefgh",
         "\"\xc3\xa9"
         "bcdefgh\""},
        {"10.0.1.13:80\x80", "\"10.0.1.13:80\\ufffd\""},
    };
    char *types[] = {"a:str_list"};
    char *renames[] = {"a:ad/ads/adn"};
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i].in;
        int is_plain = 1;
        char json[512], want[128];
        size_t n;

        for (const char *p = in; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80 ||
                *p == '"' || *p == '\\')
                is_plain = 0;
        assert_int_equal(parse(&fx, in, &rec), LFP_OK);
        assert_str(rec, "ad", in);
        assert_int_equal(field(rec, "ad")->flags & LFP_FIELD_ESCAPE,
                         is_plain ? 0 : LFP_FIELD_ESCAPE);
        assert_int_equal(array_field(rec, "ads", 1)[0].flags,
                         is_plain ? 0 : LFP_FIELD_ESCAPE);
        assert_true(lf_json_record_bound(rec) < sizeof(json));
        n = lf_json_record(rec, json);
        json[n] = '\0';
        (void)snprintf(want, sizeof(want), "\"ad\":%s,\"ads\":[%s]",
                       cases[i].json, cases[i].json);
        if (!strstr(json, want))
            fail_msg("want %s in %s", want, json);
    }
    fixture_close(&fx);
}

/* ---- numbers against a reference ---------------------------------------- */

/* What a number value must become, written the plain way: an int for
 * [+-]digits within int64, a float for what values_is_decimal() takes and
 * strtod reads as finite, ns for [+-]digits[.digits] (cut past ns) within
 * the bound the duration check has always used. */
static int ref_int(const char *s, size_t n, int64_t *v)
{
    size_t i = n && (s[0] == '-' || s[0] == '+');
    uint64_t u = 0, limit = (n && s[0] == '-') ? (uint64_t)INT64_MAX + 1
                                               : (uint64_t)INT64_MAX;

    if (i == n)
        return -1;
    for (; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || u > (limit - d) / 10)
            return -1;
        u = u * 10 + d;
    }
    *v = (n && s[0] == '-') ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

static int ref_float(const char *s, size_t n, double *d)
{
    char buf[64];
    size_t i = 0, digits = 0;
    char *end;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_start;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        exp_start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == exp_start)
            return -1;
    }
    if (i != n || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *d = strtod(buf, &end);
    return isfinite(*d) ? 0 : -1;
}

/* 0 and ns, 1 for a negative duration, -1 for none. */
static int ref_ns(const char *s, size_t n, int unit, int64_t *ns)
{
    static const int64_t scale[10] = {1,         10,        100,     1000,
                                      10000,     100000,    1000000, 10000000,
                                      100000000, 1000000000};
    size_t i = n && (s[0] == '-' || s[0] == '+');
    int64_t whole = 0, frac = 0;
    int nfrac = 0, digits = 0, fdigits = 9 - unit;

    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        if (whole > (INT64_MAX / 10 - 9) / scale[fdigits])
            return -1;
        whole = whole * 10 + (s[i] - '0');
    }
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
            if (nfrac < fdigits) {
                frac = frac * 10 + (s[i] - '0');
                nfrac++;
            }
    if (i != n || digits == 0)
        return -1;
    if (s[0] == '-')
        return 1;
    if (whole > (INT64_MAX - frac * scale[fdigits - nfrac]) / scale[fdigits])
        return -1; /* past int64 ns */
    *ns = whole * scale[fdigits] + frac * scale[fdigits - nfrac];
    return 0;
}

/* f holds s[0..n) as the string it stays when it does not convert. */
static void assert_kept_str(const struct lfp_field *f, const char *s, size_t n)
{
    assert_int_equal(f->type, LFP_T_STR);
    assert_int_equal(f->n, n);
    assert_memory_equal(f->v.s, s, n);
}

/* One value v of ints, int lists, float lists, floats and durations in
 * each unit, against the reference. Returns the conversion errors it
 * must count. */
static uint64_t check_number_value(const struct lfp_record *rec, const char *v)
{
    static const char *const dur[] = {"ds", "dm", "du", "dn"};
    static const int units[] = {0, 3, 6, 9};
    size_t n = strlen(v);
    int is_dash = n == 0 || (n == 1 && v[0] == '-');
    uint64_t errors = 0;
    int64_t i;
    double d;

    if (is_dash) {
        assert_type(rec, "i", LFP_T_NULL);
        assert_type(rec, "il", LFP_T_NULL);
        assert_type(rec, "fl", LFP_T_NULL);
        assert_type(rec, "f", LFP_T_NULL);
        for (int u = 0; u < 4; u++)
            assert_type(rec, dur[u], LFP_T_NULL);
        return 0;
    }
    if (ref_int(v, n, &i) == 0) {
        assert_int_field(rec, "i", i);
        assert_int_field(rec, "il", i);
        assert_int_equal(array_field(rec, "il_list", 1)[0].v.i, i);
    } else {
        assert_kept_str(field(rec, "i"), v, n);
        assert_kept_str(field(rec, "il"), v, n);
        errors += 2;
    }
    if (ref_float(v, n, &d) == 0) {
        assert_int_equal(field(rec, "f")->type, LFP_T_FLOAT);
        assert_memory_equal(&field(rec, "f")->v.d, &d, sizeof(d));
        assert_int_equal(field(rec, "fl")->type, LFP_T_FLOAT);
        assert_memory_equal(&field(rec, "fl")->v.d, &d, sizeof(d));
        assert_memory_equal(&array_field(rec, "fl_list", 1)[0].v.d, &d,
                            sizeof(d));
    } else {
        assert_kept_str(field(rec, "f"), v, n);
        assert_kept_str(field(rec, "fl"), v, n);
        errors += 2;
    }
    for (int u = 0; u < 4; u++) {
        int rc = ref_ns(v, n, units[u], &i);
        if (rc == 0) {
            assert_int_field(rec, dur[u], i);
        } else if (rc == 1) {
            assert_type(rec, dur[u], LFP_T_NULL);
        } else {
            assert_kept_str(field(rec, dur[u]), v, n);
            errors++;
        }
    }
    return errors;
}

/* Ints, floats, one-attempt lists and durations of every shape near the
 * fast paths (signs, points, lengths around 9, 16, 18 and 19 digits,
 * stray bytes) convert as the plain reference says, and count the same
 * errors. */
static void test_number_shapes_convert_as_the_reference(void **state)
{
    static const char *const edges[] = {
        "",
        "-",
        "+",
        ".",
        "-.",
        "+.",
        "5.",
        ".5",
        "-.5",
        "0",
        "-0",
        "0.000",
        "0.025",
        "60.002",
        "99.999",
        "00.025",
        "000.025",
        "9.9999",
        "1.00",
        "-1.000",
        "+1.000",
        "1.02x",
        "x.025",
        "1.0 5",
        "1,025",
        "1.:25",
        "1/.025",
        "12.3456",
        "0.0000001",
        "1e5",
        "200",
        "+200",
        "-200",
        "0200",
        "2x0",
        "/00", /* three bytes, each just outside the digits once */
        "9:9",
        "99/",
        "999",
        "000",
        "1.2.3",
        "1..2",
        " 1",
        "1 ",
        "1e3",
        "1E-2",
        "0x10",
        "123456789",
        "1234567890",
        "922337203",
        "922337204",
        "9223372036",
        "9223372036.854775807",
        "9223372036.854775808",
        "9223372036.9",
        "9223372037",
        "9223372036855",
        "9223372036854776",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "999999999999999999",
        "9999999999999999999",
        "000000000000000000000000001",
        "9007199254740993",
        "90071992547409.93",
        "1234567890123456.7",
        "0.0000000019",
        "1.0000000001",
        "+0000000000.5",
        "-922337203.6",
    };
    static const char alphabet[] = "0123456789000111999..-+e x";
    char *types[] = {"i:int",          "il:int_list",   "fl:float_list",
                     "f:float",        "ds:duration_s", "dm:duration_ms",
                     "du:duration_us", "dn:duration_ns"};
    struct fixture fx;
    struct lfp_record *rec;
    uint64_t errors = 0, seed = 42;
    char v[32], line[8 * 32 + 16];

    (void)state;
    open_fields(&fx,
                "^(?<i>[^|]*)\\|(?<il>[^|]*)\\|(?<fl>[^|]*)\\|(?<f>[^|]*)\\|"
                "(?<ds>[^|]*)\\|(?<dm>[^|]*)\\|(?<du>[^|]*)\\|(?<dn>[^|]*)$",
                types, 8, NULL, 0, 1);
    for (size_t k = 0; k < 20000 + sizeof(edges) / sizeof(edges[0]); k++) {
        if (k < sizeof(edges) / sizeof(edges[0])) {
            (void)snprintf(v, sizeof(v), "%s", edges[k]);
        } else {
            size_t len;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            len = (size_t)(seed >> 59) % 23;
            for (size_t j = 0; j < len; j++) {
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                v[j] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
            }
            v[len] = '\0';
        }
        (void)snprintf(line, sizeof(line), "%s|%s|%s|%s|%s|%s|%s|%s", v, v, v,
                       v, v, v, v, v);
        assert_int_equal(parse(&fx, line, &rec), LFP_OK);
        assert_true(rec->nfields <= rec->fields_cap);
        errors += check_number_value(rec, v);
        assert_int_equal(lf_parser_conv_errors(fx.p), errors);
    }
    fixture_close(&fx);
}

/* Each array of one attempt is the last field of the room reserved for
 * its value: many list values in a line stay within the record's fields
 * (regex reserves them, JSON grows them per value), and the arrays keep
 * their element when fields added later move the record's fields. */
static void test_lists_of_one_attempt_stay_in_their_room(void **state)
{
    char *types[] = {"a:int_list", "b:float_list", "c:str_list",
                     "d:int_list", "e:float_list", "f:str_list"};
    /* three names each: every value takes all the room it may */
    char *renames[] = {"a:a/as/an", "b:b/bs/bn", "c:c/cs/cn",
                       "d:d/ds/dn", "e:e/es/en", "f:f/fs/fn"};
    struct lf_parser_conf json_conf = {
        .name = "j",
        .format = LF_PARSER_JSON,
        .types = {.items = types, .n = 6},
        .rename = {.items = renames, .n = 6},
        .ecs = 1,
    };
    const char *const keys[] = {"as", "bs", "cs", "ds", "es", "fs"};
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    for (int is_json = 0; is_json < 2; is_json++) {
        if (is_json)
            fixture_open(&fx, &json_conf);
        else
            open_fields(&fx,
                        "^(?<a>\\S*) (?<b>\\S*) (?<c>\\S*) (?<d>\\S*) "
                        "(?<e>\\S*) (?<f>\\S*)$",
                        types, 6, renames, 6, 1);
        for (int round = 0; round < 3; round++) {
            const char *line =
                is_json ? "{\"a\":\"-7\",\"b\":\"0.025\",\"c\":\"x:1\","
                          "\"d\":\"9\",\"e\":\"-\",\"f\":\"y\"}"
                        : "-7 0.025 x:1 9 - y";

            assert_int_equal(parse(&fx, line, &rec), LFP_OK);
            assert_true(rec->nfields <= rec->fields_cap);
            for (int grow = 0; grow < 40 * round; grow++)
                lf_field_set_int(lf_record_add(fx.chunk, rec), "g", grow);
            assert_int_equal(array_field(rec, keys[0], 1)[0].v.i, -7);
            assert_float_equal(array_field(rec, keys[1], 1)[0].v.d, 0.025, 0);
            assert_int_equal(array_field(rec, keys[2], 1)[0].n, 3);
            assert_memory_equal(array_field(rec, keys[2], 1)[0].v.s, "x:1", 3);
            assert_int_equal(array_field(rec, keys[3], 1)[0].v.i, 9);
            assert_type(rec, keys[4], LFP_T_NULL);
            assert_int_equal(array_field(rec, keys[5], 1)[0].v.s[0], 'y');
            assert_int_field(rec, "d", 9);
            assert_int_field(rec, "dn", 1);
            assert_type(rec, "e", LFP_T_NULL);
            assert_int_field(rec, "en", 0);
        }
        fixture_close(&fx);
    }
}

static void test_durations_and_seconds_take_their_unit(void **state)
{
    char *types[] = {"s:duration_s", "m:duration_ms", "n:duration_ns",
                     "f:seconds_ms", "u:uint"};
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, "^(?<s>\\S*) (?<m>\\S*) (?<n>\\S*) (?<f>\\S*) (?<u>\\S*)$",
                types, 5, NULL, 0, 1);
    assert_int_equal(parse(&fx, "60.004 15000 357313 30 7", &rec), LFP_OK);
    assert_int_field(rec, "s", INT64_C(60004000000));
    assert_int_field(rec, "m", INT64_C(15000000000));
    assert_int_field(rec, "n", 357313);
    assert_float_field(rec, "f", 0.03);
    assert_int_field(rec, "u", 7);
    /* Exact decimals, digits past the nanosecond cut, -1 is no value. */
    assert_int_equal(parse(&fx, "0.0000000019 -1 - -1 -1", &rec), LFP_OK);
    assert_int_field(rec, "s", 1);
    assert_type(rec, "m", LFP_T_NULL);
    assert_type(rec, "n", LFP_T_NULL);
    assert_type(rec, "f", LFP_T_NULL);
    assert_type(rec, "u", LFP_T_NULL);
    assert_int_equal(lf_parser_conv_errors(fx.p), 0);
    /* Not decimals, or past int64 ns: kept as strings and counted. */
    assert_int_equal(parse(&fx, "1e3 0x10 99999999999999999999 abc 1.5", &rec),
                     LFP_OK);
    assert_str(rec, "s", "1e3");
    assert_str(rec, "m", "0x10");
    assert_str(rec, "n", "99999999999999999999");
    assert_str(rec, "f", "abc");
    assert_str(rec, "u", "1.5");
    assert_int_equal(parse(&fx, "99999999999 1 1 1 1", &rec), LFP_OK);
    assert_str(rec, "s", "99999999999");
    assert_int_equal(lf_parser_conv_errors(fx.p), 6);
    /* The largest that fits, and just past it in the whole part and in
     * the fraction. */
    assert_int_equal(
        parse(&fx, "9223372036.854775807 9223372036854 1 1 1", &rec), LFP_OK);
    assert_int_field(rec, "s", INT64_MAX);
    assert_int_field(rec, "m", INT64_C(9223372036854000000));
    assert_int_equal(parse(&fx, "9223372037 9223372036855 1 1 1", &rec),
                     LFP_OK);
    assert_str(rec, "s", "9223372037");
    assert_str(rec, "m", "9223372036855");
    assert_int_equal(parse(&fx, "9223372036.854775808 1 1 1 1", &rec), LFP_OK);
    assert_str(rec, "s", "9223372036.854775808");
    assert_int_equal(lf_parser_conv_errors(fx.p), 9);
    fixture_close(&fx);
}

static void test_addr_gives_ip_only_for_ip_literals(void **state)
{
    char *types[] = {"a:addr"};
    char *renames[] = {"a:source.address/source.ip"};
    static const struct {
        const char *in, *ip;
    } cases[] = {
        {"192.0.2.1", "192.0.2.1"},
        {"2001:db8::7", "2001:db8::7"},
        {"[2001:db8::7]:80", "2001:db8::7"},
        {"192.0.2.1:5000", "192.0.2.1"},
        {"unix:", NULL},
        {"localhost", NULL},
        {"192.0.2.256", NULL},
        {"01.2.3.4", NULL},
        {"1.2.3", NULL},
        {"tcp://10.0.0.1:80", NULL},
        {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},
        {"1.2.3.4.", NULL},
        {"1.2.3.4.5", NULL},
        {"1.2.3.1234", NULL},
        {"1..3.4", NULL},
        {".1.2.3", NULL},
        {"1.2.3.04", NULL},
        /* a quad with a port, or what only looks like one */
        {"0.0.0.0:80", "0.0.0.0"},
        {"10.0.0.1:abc", "10.0.0.1"},
        {"1.2.3.4:", "1.2.3.4"},
        {"1.2.3.4:80:90", NULL},
        {"1.2.3.4::", NULL},
        {"01.2.3.4:80", NULL},
        {"1.2.3.04:80", NULL},
        {"256.1.1.1:80", NULL},
        {"1.2.3.4x", NULL},
        {"1.2.3.4 ", NULL},
        {"1.2.3.4.5:80", NULL},
        /* ports are not checked, in range or not */
        {"10.0.1.13:8080", "10.0.1.13"},
        {"1.2.3.4:99999", "1.2.3.4"},
        {"255.255.255.255:65536", "255.255.255.255"},
        {"1.2.3.4:-1", "1.2.3.4"},
        /* the longest quad and a byte past it */
        {"100.100.100.100", "100.100.100.100"},
        {"100.100.100.1000", NULL},
        {"100.100.100.1001", NULL},
        {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&fx, cases[i].in, &rec), LFP_OK);
        assert_str(rec, "source.address", cases[i].in);
        /* escaping is skipped only for an address that is its IP */
        assert_int_equal(field(rec, "source.address")->flags & LFP_FIELD_ESCAPE,
                         cases[i].ip && strcmp(cases[i].ip, cases[i].in) == 0
                             ? 0
                             : LFP_FIELD_ESCAPE);
        if (cases[i].ip) {
            assert_str(rec, "source.ip", cases[i].ip);
            assert_false(field(rec, "source.ip")->flags & LFP_FIELD_ESCAPE);
        } else if (has_field(rec, "source.ip")) {
            fail_msg("%s: source.ip should be absent", cases[i].in);
        }
    }
    assert_int_equal(parse(&fx, "-", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 0);
    assert_int_equal(parse(&fx, "", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 0);
    fixture_close(&fx);
    /* without a second name, the address alone */
    open_fields(&fx, "^(?<a>.*)$", types, 1, NULL, 0, 1);
    assert_int_equal(parse(&fx, "192.0.2.1", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 1);
    assert_str(rec, "a", "192.0.2.1");
    assert_int_equal(parse(&fx, "192.0.2.1:80", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 1);
    assert_str(rec, "a", "192.0.2.1:80");
    fixture_close(&fx);
}

/* Digits and dots of every length an address of digits takes, around
 * the lengths of a dotted quad (7 to 15): an IP exactly when inet_pton()
 * reads it as IPv4 (four parts of 1-3 digits, each at most 255, no
 * leading zero). */
static void test_addr_quads_match_inet_pton(void **state)
{
    static const char *const edges[] = {
        "1.2.3.4",         "10.20.30.40",     "1.22.133.4",
        "100.200.255.9",   "255.255.255.256", "255.255.256.255",
        "249.250.251.252", "199.299.1.1",     "1.2.3.40",
        "1.2.3.400",       "0.0.0.00",        "00.0.0.0",
        "1.2.3.4.",        "1.2..3.4",        "123.123.123.1234",
        "1234.1.1.1",      "1.2.3.4.5.6",     "12345678",
        "1.2.3",           "9.99.199.255",    "0.10.100.255",
    };
    static const char alphabet[] = "0123456789...012559";
    char *types[] = {"a:addr"};
    char *renames[] = {"a:source.address/source.ip"};
    struct fixture fx;
    struct lfp_record *rec;
    uint64_t seed = 7;
    char v[24];

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t k = 0; k < 50000 + sizeof(edges) / sizeof(edges[0]); k++) {
        unsigned char bin[4];
        int is_ip;

        if (k < sizeof(edges) / sizeof(edges[0])) {
            (void)snprintf(v, sizeof(v), "%s", edges[k]);
        } else {
            size_t len;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            len = 5 + (size_t)(seed >> 59) % 13;
            for (size_t j = 0; j < len; j++) {
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                v[j] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
            }
            v[len] = '\0';
        }
        if (strcmp(v, "-") == 0 || v[0] == '\0')
            continue;
        is_ip = inet_pton(AF_INET, v, bin) == 1;
        assert_int_equal(parse(&fx, v, &rec), LFP_OK);
        assert_str(rec, "source.address", v);
        assert_int_equal(has_field(rec, "source.ip"), is_ip);
        assert_int_equal(field(rec, "source.address")->flags & LFP_FIELD_ESCAPE,
                         is_ip ? 0 : LFP_FIELD_ESCAPE);
    }
    fixture_close(&fx);
}

/* Bare IPv6 addresses of every shape near the plain form the address
 * check reads itself (groups of 0 to 5 digits, "::" and ":::" anywhere,
 * 7 to 9 groups, an IPv4 tail, a stray byte): an IP exactly when
 * inet_pton() reads it as IPv6. */
static void test_addr_ipv6_matches_inet_pton(void **state)
{
    static const char *const tokens[] = {
        "",     "",      "0",    "1",    "ab",      "FFFF", "fFfF",
        "abcd", "12345", "0000", "beef", "1.2.3.4", "g1",   "1:2",
    };
    char *types[] = {"a:addr"};
    char *renames[] = {"a:source.address/source.ip"};
    struct fixture fx;
    struct lfp_record *rec;
    uint64_t seed = 11;
    size_t decided = 0;
    char v[96];

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t k = 0; k < 50000; k++) {
        unsigned char bin[16];
        size_t ntok, len = 0, colons = 0;
        int is_ip;

        seed = seed * 6364136223846793005u + 1442695040888963407u;
        ntok = 1 + (size_t)(seed >> 60) % 11;
        for (size_t t = 0; t < ntok; t++) {
            const char *tok;

            seed = seed * 6364136223846793005u + 1442695040888963407u;
            tok = tokens[(seed >> 33) % (sizeof(tokens) / sizeof(tokens[0]))];
            if (t)
                v[len++] = ':';
            memcpy(v + len, tok, strlen(tok));
            len += strlen(tok);
        }
        v[len] = '\0';
        for (size_t j = 0; j < len; j++)
            colons += v[j] == ':';
        if (colons < 2) /* an address and a port, or no colon */
            continue;
        is_ip = inet_pton(AF_INET6, v, bin) == 1;
        decided += (size_t)is_ip;
        assert_int_equal(parse(&fx, v, &rec), LFP_OK);
        assert_str(rec, "source.address", v);
        if (has_field(rec, "source.ip") != is_ip)
            fail_msg("%s: source.ip %s", v, is_ip ? "missing" : "present");
        assert_int_equal(field(rec, "source.address")->flags & LFP_FIELD_ESCAPE,
                         is_ip ? 0 : LFP_FIELD_ESCAPE);
    }
    assert_true(decided > 1000);
    fixture_close(&fx);
}

static void test_addr_list_picks_first_public_address(void **state)
{
    char *types[] = {"a:addr_list"};
    char *renames[] = {"a:source.address/source.ip/list"};
    static const struct {
        const char *in, *pick, *ip;
        uint32_t n;
    } cases[] = {
        {"10.0.0.2, 10.0.0.1, 127.0.0.1", "10.0.0.2", "10.0.0.2", 3},
        {"10.0.0.2, 10.0.0.1, 81.2.69.143", "81.2.69.143", "81.2.69.143", 3},
        {"\"10.5.102.222, 175.16.199.1, 204.246.1.1\" 10.2.1.185",
         "175.16.199.1", "175.16.199.1", 4},
        {"fd00::1, [fd00::2]:80, 2001:db8:1::9", "2001:db8:1::9",
         "2001:db8:1::9", 3},
        {"localhost, localhost", "localhost", NULL, 2},
        {"100.64.0.1,169.254.1.1,192.0.2.9", "192.0.2.9", "192.0.2.9", 3},
        {"[fd00::5]", "[fd00::5]", "fd00::5", 1},
        {"10.0.0.1:80, 81.2.69.143:443", "81.2.69.143:443", "81.2.69.143", 2},
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, "^(?<a>.*)$", types, 1, renames, 1, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&fx, cases[i].in, &rec), LFP_OK);
        assert_str(rec, "source.address", cases[i].pick);
        if (cases[i].ip)
            assert_str(rec, "source.ip", cases[i].ip);
        else
            assert_false(has_field(rec, "source.ip"));
        (void)array_field(rec, "list", cases[i].n);
    }
    assert_int_equal(parse(&fx, "-", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 0);
    fixture_close(&fx);
}

static void test_flags_optional_and_http_version(void **state)
{
    char *types[] = {"f:flags", "o:optional", "v:http_version"};
    struct fixture fx;
    struct lfp_record *rec;
    const struct lfp_field *e;

    (void)state;
    open_fields(&fx, "^(?<f>\\S*) (?<o>\\S*) (?<v>\\S*)$", types, 3, NULL, 0,
                1);
    assert_int_equal(parse(&fx, "UF,URX x HTTP/1.1", &rec), LFP_OK);
    e = array_field(rec, "f", 2);
    assert_memory_equal(e[0].v.s, "UF", 2);
    assert_memory_equal(e[1].v.s, "URX", 3);
    assert_str(rec, "o", "x");
    assert_str(rec, "v", "1.1");
    assert_int_equal(parse(&fx, "- - -", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 0);
    assert_int_equal(parse(&fx, "NR  2", &rec), LFP_OK);
    assert_int_equal(rec->nfields, 2);
    assert_str(rec, "v", "2");
    fixture_close(&fx);
}

static void test_rename_applies_only_with_ecs_on(void **state)
{
    char *types[] = {"status:int", "up:int_list"};
    char *renames[] = {"status:http.response.status_code",
                       "up:upstream.status_code/upstream.status_codes"};
    const char *re = "^(?<status>\\d+) (?<up>.*)$";
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    open_fields(&fx, re, types, 2, renames, 2, 1);
    assert_int_equal(parse(&fx, "502 502, 504", &rec), LFP_OK);
    assert_int_field(rec, "http.response.status_code", 502);
    assert_int_field(rec, "upstream.status_code", 504);
    (void)array_field(rec, "upstream.status_codes", 2);
    assert_false(has_field(rec, "status"));
    fixture_close(&fx);
    open_fields(&fx, re, types, 2, renames, 2, 0);
    assert_int_equal(parse(&fx, "502 502, 504", &rec), LFP_OK);
    assert_int_field(rec, "status", 502);
    assert_int_field(rec, "up", 504);
    (void)array_field(rec, "up_list", 2);
    assert_false(has_field(rec, "http.response.status_code"));
    fixture_close(&fx);
}

static void test_json_keys_are_renamed_and_typed(void **state)
{
    char *types[] = {"duration:duration_ms", "flags:flags",
                     ":authority:optional"};
    char *renames[] = {"duration:event.duration", ":authority:url.domain",
                       "a.b:nested.name"};
    struct lf_parser_conf conf = {
        .name = "j",
        .format = LF_PARSER_JSON,
        .types = {.items = types, .n = 3},
        .rename = {.items = renames, .n = 3},
        .ecs = 1,
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx,
                           "{\"duration\":12,\"flags\":\"UF,URX\","
                           "\":authority\":\"x.example\",\"a\":{\"b\":1},"
                           "\"other\":\"kept\"}",
                           &rec),
                     LFP_OK);
    assert_int_field(rec, "event.duration", 12000000);
    (void)array_field(rec, "flags", 2);
    assert_str(rec, "url.domain", "x.example");
    assert_int_field(rec, "nested.name", 1);
    assert_str(rec, "other", "kept");
    fixture_close(&fx);
}

static void test_time_formats_are_tried_in_order(void **state)
{
    char *formats[] = {"%d/%b/%Y:%H:%M:%S.%f", "%d/%b/%Y:%H:%M:%S"};
    struct lf_parser_conf conf = {
        .name = "t",
        .regex = "^\\[(?<t>[^\\]]+)\\]$",
        .time_key = "t",
        .time_format = {.items = formats, .n = 2},
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx, "[01/Jun/2025:00:00:01.250]", &rec), LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748736001) * NS + 250000000);
    assert_int_equal(parse(&fx, "[01/Jun/2025:00:00:02]", &rec), LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748736002) * NS);
    assert_int_equal(parse(&fx, "[2025-06-01]", &rec), LFP_OK);
    assert_true(rec->flags & LFP_REC_TIME_ERROR);
    fixture_close(&fx);
}

/* ---- base, nested, built-ins --------------------------------------------- */

static void test_base_with_ecs_off_keeps_source_names(void **state)
{
    char *types[] = {"status:string"};
    struct lf_parser_conf conf = {
        .name = "mine",
        .base = "nginx_upstream",
        .types = {.items = types, .n = 1},
        .ecs = 0,
    };
    struct fixture fx;
    struct lfp_record *rec;
    const char *line =
        "10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 502 "
        "150 \"-\" \"curl/8.5.0\" rt=0.050 uct=\"-, -\" uht=\"-, -\" "
        "urt=\"0.000, 0.001\" ua=\"10.0.1.14:8080, 10.0.1.15:8080\" "
        "us=\"502, 502\"";

    (void)state;
    fixture_open(&fx, &conf);
    assert_string_equal(lf_parser_name(fx.p), "mine");
    assert_int_equal(parse(&fx, line, &rec), LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748736000) * NS); /* base's time */
    assert_str(rec, "status", "502"); /* this section's type wins */
    assert_str(rec, "remote_addr", "10.0.0.1");
    assert_int_field(rec, "request_time", 50000000); /* base's type */
    assert_str(rec, "upstream_addr", "10.0.1.15:8080");
    (void)array_field(rec, "upstream_addr_list", 2);
    assert_false(has_field(rec, "http.response.status_code"));
    fixture_close(&fx);
}

static void test_nested_value_is_parsed_by_the_builtin(void **state)
{
    struct lf_parser_conf conf = {
        .name = "cri",
        .regex = "^\\S+ (?:stdout|stderr) [FP] (?<log>.*)$",
        .nested = {.items = (char *[]){"log:envoy_json"}, .n = 1},
        .ecs = 1,
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx,
                           "2025-01-01T00:00:00Z stdout F {\"start_time\":"
                           "\"2025-06-01T00:00:00.500Z\",\"response_code\":503,"
                           "\"response_flags\":\"UH\",\"upstream_host\":null}",
                           &rec),
                     LFP_OK);
    assert_int_equal(rec->ts_ns, INT64_C(1748736000) * NS + 500000000);
    assert_int_field(rec, "http.response.status_code", 503);
    (void)array_field(rec, "envoy.response_flags", 1);
    assert_type(rec, "upstream.address", LFP_T_NULL);
    assert_false(has_field(rec, "log"));
    /* A value the nested parser refuses makes the line a parse error. */
    assert_int_equal(parse(&fx, "2025-01-01T00:00:00Z stdout F {\"a\":", &rec),
                     LFP_ERR_PARSE);
    assert_int_equal(rec->nfields, 0);
    assert_int_equal(parse(&fx, "2025 stdout F {\"response_code\":200}", &rec),
                     LFP_OK);
    assert_false(rec->flags & LFP_REC_PARSE_ERROR);
    fixture_close(&fx);
}

/* The fields of a nested value must not take the room the outer regex
 * reserved for the values after it. */
static void test_nested_value_before_other_groups(void **state)
{
    struct lf_parser_conf conf = {
        .name = "outer",
        .regex = "^(?<log>\\S+) (?<a>\\S) (?<b>\\S) (?<c>\\S) (?<d>\\S) "
                 "(?<e>\\S) (?<f>\\S) (?<g>\\S) (?<h>\\S)$",
        .nested = {.items = (char *[]){"log:envoy_json"}, .n = 1},
        .ecs = 1,
    };
    struct fixture fx;
    struct lfp_record *rec;

    (void)state;
    fixture_open(&fx, &conf);
    assert_int_equal(parse(&fx,
                           "{\"response_code\":503,\"bytes_sent\":7,"
                           "\"method\":\"GET\",\"path\":\"/x\"} "
                           "1 2 3 4 5 6 7 8",
                           &rec),
                     LFP_OK);
    assert_true(rec->nfields <= rec->fields_cap);
    assert_int_field(rec, "http.response.status_code", 503);
    assert_str(rec, "a", "1");
    assert_str(rec, "h", "8");
    fixture_close(&fx);
}

static void test_new_option_errors_name_the_problem(void **state)
{
    const struct {
        struct lf_parser_conf conf;
        const char *want;
    } cases[] = {
        {{.name = "a",
          .regex = "(?<x>a)",
          .types = {.items = (char *[]){"x:list"}, .n = 1}},
         "unknown type 'list'"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .ecs = 1,
          .types = {.items = (char *[]){"x:int"}, .n = 1},
          .rename = {.items = (char *[]){"x:a/b"}, .n = 1}},
         "gives 2 names"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .ecs = 1,
          .types = {.items = (char *[]){"x:int_list"}, .n = 1},
          .rename = {.items = (char *[]){"x:a/b/c/d"}, .n = 1}},
         "gives 4 names"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .rename = {.items = (char *[]){"x:a", "x:b"}, .n = 2}},
         "listed twice"},
        {{.name = "a", .base = "no_such_parser", .ecs = 1},
         "no built-in parser named 'no_such_parser'"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .nested = {.items = (char *[]){"x:nope"}, .n = 1}},
         "no built-in parser named 'nope'"},
        {{.name = "a",
          .regex = "(?<x>a)",
          .nested = {.items = (char *[]){"x"}, .n = 1}},
         "is not key:value"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lfp_err err = {0};
        struct lf_parser *p = NULL;
        assert_int_equal(lf_parser_new(&cases[i].conf, &p, &err),
                         LFP_ERR_CONFIG);
        assert_null(p);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
    }
}

/* Every built-in definition, with a line of its format. */
static const struct {
    const char *name;
    const char *line;
} builtins[] = {
    {"nginx_upstream", NGINX_LINE},
    {"nginx_combined",
     "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 3 "
     "\"-\" \"curl/8.5.0\""},
    {"nginx_json",
     "{\"time_iso8601\":\"2025-06-01T00:00:00+00:00\",\"status\":200,"
     "\"upstream_status\":\"502, 200\"}"},
    {"nginx_error",
     "2025/06/01 00:00:00 [error] 7#7: *3 upstream timed out (110: "
     "Connection timed out) while reading response header from upstream, "
     "client: 192.0.2.1, server: x, request: \"GET / HTTP/1.1\", upstream: "
     "\"http://10.0.0.1:80/\", host: \"x\""},
    {"nginx_ingress",
     "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 3 "
     "\"-\" \"curl/8.5.0\" 80 0.004 [ns-svc-80] [] 10.0.0.1:80 3 0.004 200 "
     "abc"},
    {"nginx_proxy_manager",
     "[01/Jun/2025:00:00:00 +0000] - 200 200 - GET https x.example \"/\" "
     "[Client 192.0.2.1] [Length 3] [Gzip -] [Sent-to 10.0.0.1] \"curl\" "
     "\"-\""},
    {"envoy",
     "[2025-06-01T00:00:00.000Z] \"GET / HTTP/1.1\" 504 UT 0 24 15000 - "
     "\"192.0.2.1\" \"curl/8.5.0\" \"id\" \"x.example\" \"10.0.0.1:80\""},
    {"envoy_text",
     "[2025-06-01T00:00:00.000Z] \"GET / HTTP/1.1\" 200 - 0 24 1 1 \"-\" "
     "\"curl/8.5.0\" \"id\" \"x.example\" \"10.0.0.1:80\""},
    {"envoy_json",
     "{\"start_time\":\"2025-06-01T00:00:00.000Z\",\"response_code\":200}"},
    {"haproxy_http",
     "192.0.2.1:5000 [01/Jun/2025:00:00:00.000] www api/a1 0/0/0/1/1 200 9 "
     "- - ---- 1/1/1/1/0 0/0 \"GET / HTTP/1.1\""},
    {"traefik_clf",
     "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 3 "
     "\"-\" \"curl\" 1 \"r@docker\" \"http://10.0.0.1:80\" 2ms"},
    {"traefik_json",
     "{\"StartUTC\":\"2025-06-01T00:00:00Z\",\"DownstreamStatus\":200}"},
    {"apache_combined",
     "192.0.2.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 3 "
     "\"-\" \"curl/8.5.0\""},
    {"alibaba_slb", "{\"time\":\"2025-06-01T00:00:00Z\",\"status\":\"200\","
                    "\"upstream_status\":\"200\"}"},
};

static void builtin_open(struct fixture *fx, const char *name)
{
    struct lfp_err err = {0};

    memset(fx, 0, sizeof(*fx));
    if (lf_parser_new_builtin(name, &fx->p, &err) != LFP_OK)
        fail_msg("built-in %s: %s", name, err.msg);
    fx->w = lf_parser_worker_new(fx->p);
    fx->chunk = lf_chunk_new(RAW_CAP, (size_t)64 << 10);
}

/* The built-in nginx_upstream (hand matcher and unrolled walk): the
 * upstream address is written without escaping when it is plain, and
 * escaped, the value and its array, when it holds a backslash, a control
 * byte or UTF-8. */
static void
test_nginx_upstream_address_is_escaped_when_it_needs_it(void **state)
{
    static const struct {
        const char *ua, *json;
        int is_plain;
    } cases[] = {
        {"10.0.1.13:8080", "\"10.0.1.13:8080\"", 1},
        {"10.0\\1.13:8080", "\"10.0\\\\1.13:8080\"", 0},
        {"10.0.1.13:80\x01", "\"10.0.1.13:80\\u0001\"", 0},
        {"caf\xc3\xa9:8080", "\"caf\xc3\xa9:8080\"", 0},
    };
    struct fixture fx;

    (void)state;
    builtin_open(&fx, "nginx_upstream");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lfp_record *rec;
        char line[512], json[4096], want[128];
        size_t n;

        (void)snprintf(line, sizeof(line),
                       "10.0.0.1 - - [01/Jun/2025:00:00:00 +0000] \"GET / "
                       "HTTP/1.1\" 200 1 \"-\" \"-\" rt=0.209 "
                       "uct=\"0.000\" uht=\"0.025\" urt=\"0.025\" "
                       "ua=\"%s\" us=\"200\"",
                       cases[i].ua);
        assert_int_equal(parse(&fx, line, &rec), LFP_OK);
        assert_false(rec->flags & LFP_REC_PARSE_ERROR);
        assert_int_equal(field(rec, "upstream.address")->flags &
                             LFP_FIELD_ESCAPE,
                         cases[i].is_plain ? 0 : LFP_FIELD_ESCAPE);
        assert_true(lf_json_record_bound(rec) < sizeof(json));
        n = lf_json_record(rec, json);
        json[n] = '\0';
        (void)snprintf(want, sizeof(want),
                       "\"upstream.address\":%s,\"upstream.addresses\":[%s]",
                       cases[i].json, cases[i].json);
        if (!strstr(json, want))
            fail_msg("want %s in %s", want, json);
    }
    fixture_close(&fx);
}

static void test_every_builtin_parses_its_format_with_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        struct fixture fx;
        struct lfp_record *rec;
        builtin_open(&fx, builtins[i].name);
        if (parse(&fx, builtins[i].line, &rec) != LFP_OK)
            fail_msg("%s does not parse its line", builtins[i].name);
        if (rec->flags & LFP_REC_TIME_ERROR ||
            rec->ts_ns != INT64_C(1748736000) * NS)
            fail_msg("%s: time %lld", builtins[i].name, (long long)rec->ts_ns);
        assert_true(rec->nfields > 0);
        fixture_close(&fx);
    }
}

static void test_builtins_survive_cut_binary_and_huge_lines(void **state)
{
    size_t big_n = (size_t)1 << 20;
    char *big = lf_malloc(big_n + 1);

    (void)state;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        struct fixture fx;
        struct lfp_record *rec;
        const char *line = builtins[i].line;
        size_t len = strlen(line);
        builtin_open(&fx, builtins[i].name);
        for (size_t cut = 0; cut < len; cut++) /* never crash; ASan checks */
            (void)parse_n(&fx, line, cut, &rec);
        assert_int_equal(parse_n(&fx, "\xff\xfe\0\x01\x80\x90", 6, &rec),
                         LFP_ERR_PARSE);
        /* 1 MiB: the line's start, then binary junk without a newline */
        for (size_t j = 0; j < big_n; j++)
            big[j] = (char)(j * 131 + 7);
        memcpy(big, line, len / 2);
        assert_int_equal(parse_n(&fx, big, big_n, &rec), LFP_ERR_PARSE);
        assert_int_equal(rec->raw_len, big_n);
        /* and a good line right after */
        assert_int_equal(parse(&fx, line, &rec), LFP_OK);
        fixture_close(&fx);
    }
    lf_free(big);
}

static void test_line_cut_inside_a_quote_is_a_parse_error(void **state)
{
    static const char *const names[] = {"nginx_upstream",  "nginx_combined",
                                        "envoy",           "traefik_clf",
                                        "apache_combined", "nginx_ingress"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *line = NULL;
        struct fixture fx;
        struct lfp_record *rec;
        int is_open = 0;
        for (size_t j = 0; j < sizeof(builtins) / sizeof(builtins[0]); j++)
            if (strcmp(builtins[j].name, names[i]) == 0)
                line = builtins[j].line;
        assert_non_null(line);
        builtin_open(&fx, names[i]);
        for (size_t cut = 1; line[cut]; cut++) {
            is_open ^= line[cut - 1] == '"';
            if (is_open && parse_n(&fx, line, cut, &rec) != LFP_ERR_PARSE)
                fail_msg("%s cut at %zu parsed", names[i], cut);
        }
        fixture_close(&fx);
    }
}

#ifndef LF_SANITIZED
#include <malloc.h>

static void test_parse_path_allocates_nothing_once_warm(void **state)
{
    static const char *const names[] = {"nginx_upstream", "envoy",
                                        "haproxy_http", "nginx_json"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct fixture fx;
        struct lfp_record *rec;
        const char *line = NULL;
        size_t before = 0;
        for (size_t j = 0; j < sizeof(builtins) / sizeof(builtins[0]); j++)
            if (strcmp(builtins[j].name, names[i]) == 0)
                line = builtins[j].line;
        builtin_open(&fx, names[i]);
        for (int round = 0; round < 2; round++) {
            lf_chunk_reset(fx.chunk);
            fx.used = 0;
            if (round == 1)
                before = mallinfo2().uordblks;
            for (int n = 0; n < 2000; n++) {
                assert_int_equal(parse(&fx, line, &rec), LFP_OK);
                (void)parse(&fx, "garbage that does not parse", &rec);
            }
        }
        if (mallinfo2().uordblks != before)
            fail_msg("%s: %zu bytes allocated while parsing", names[i],
                     mallinfo2().uordblks - before);
        fixture_close(&fx);
    }
}
#endif

/* ---- golden files: tests/parsers/<parser>/<case>.log --------------------- */

#include <dirent.h>
#include <sys/stat.h>

#define GOLDEN_DIR LF_TEST_SOURCE_DIR "/parsers"

/* One record as a golden line: its JSON, with "@timestamp":"*" when the
 * time is the time of parsing (parse error, or no time in the line). */
static size_t golden_render(const struct lfp_record *rec, char *out)
{
    size_t n = lf_json_record(rec, out);

    if (rec->flags & (LFP_REC_PARSE_ERROR | LFP_REC_TIME_ERROR)) {
        /* {"@timestamp":"YYYY-MM-DDThh:mm:ss.mmmZ" -> {"@timestamp":"*" */
        size_t head = strlen("{\"@timestamp\":\"");
        memmove(out + head + 1, out + head + LF_TIME_ISO_LEN,
                n - head - LF_TIME_ISO_LEN);
        out[head] = '*';
        n -= LF_TIME_ISO_LEN - 1;
    }
    out[n++] = '\n';
    return n;
}

/* Parses every line of log with the built-in `name`; returns the JSON
 * lines (caller frees). A last line without a newline is a line. */
static char *golden_output(const char *name, const char *log, size_t log_len,
                           size_t *out_len)
{
    struct fixture fx;
    struct lfp_record *rec;
    size_t cap = log_len * 16 + 4096, len = 0, start = 0;
    char *out = lf_malloc(cap);

    builtin_open(&fx, name);
    for (size_t i = 0; i < log_len; i++) {
        if (log[i] != '\n' && i + 1 < log_len)
            continue;
        size_t end = log[i] == '\n' ? i : i + 1;
        (void)parse_n(&fx, log + start, end - start, &rec);
        assert_true(len + lf_json_record_bound(rec) + 1 < cap);
        len += golden_render(rec, out + len);
        start = i + 1;
    }
    fixture_close(&fx);
    *out_len = len;
    return out;
}

/* Compares; on a difference, prints the first differing line. */
static int golden_compare(const char *path, const char *want, size_t want_len,
                          const char *got, size_t got_len)
{
    size_t line = 1, i = 0;

    if (want_len == got_len && memcmp(want, got, got_len) == 0)
        return 0;
    while (i < want_len && i < got_len && want[i] == got[i])
        line += want[i++] == '\n';
    while (i > 0 && want[i - 1] != '\n') /* back to the line's start */
        i--;
    print_error("%s:%zu differs\n  want: %.400s\n  got:  %.400s\n", path, line,
                want + i, got + i);
    return 1;
}

static int golden_case(const char *name, const char *dir, const char *file,
                       int is_update)
{
    char log_path[1024], json_path[1024];
    size_t log_len = 0, want_len = 0, got_len;
    char *log, *want, *got;
    int rc = 0;

    (void)snprintf(log_path, sizeof(log_path), "%s/%s", dir, file);
    (void)snprintf(json_path, sizeof(json_path), "%s/%.*s.json", dir,
                   (int)(strlen(file) - 4), file);
    log = lf_test_read_file(log_path, &log_len);
    assert_non_null(log);
    got = golden_output(name, log, log_len, &got_len);
    if (is_update) {
        FILE *f = fopen(json_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, 1, got_len, f), got_len);
        assert_int_equal(fclose(f), 0);
    } else {
        want = lf_test_read_file(json_path, &want_len);
        if (!want) {
            print_error("%s: missing (LF_GOLDEN_UPDATE=1 writes it)\n",
                        json_path);
            rc = 1;
        } else {
            rc = golden_compare(json_path, want, want_len, got, got_len);
        }
        lf_free(want);
    }
    lf_free(got);
    lf_free(log);
    return rc;
}

static void test_golden_files_match(void **state)
{
    const char *update = getenv("LF_GOLDEN_UPDATE");
    int is_update = update && strcmp(update, "1") == 0;
    DIR *top = opendir(GOLDEN_DIR);
    struct dirent *d;
    int ncases = 0, nfail = 0;

    (void)state;
    assert_non_null(top);
    while ((d = readdir(top)) != NULL) {
        char dir[768];
        DIR *sub;
        struct dirent *e;
        if (d->d_name[0] == '.')
            continue;
        (void)snprintf(dir, sizeof(dir), "%s/%s", GOLDEN_DIR, d->d_name);
        sub = opendir(dir);
        if (!sub)
            continue; /* README and other files */
        while ((e = readdir(sub)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0)
                continue;
            ncases++;
            nfail += golden_case(d->d_name, dir, e->d_name, is_update);
        }
        (void)closedir(sub);
    }
    (void)closedir(top);
    assert_true(ncases >= 24); /* two cases per built-in format at least */
    assert_int_equal(nfail, 0);
}

static void test_option_table_lists_parser_keys(void **state)
{
    static const char *const want[] = {
        "name",      "base",  "format", "regex", "time_key", "time_format",
        "time_keep", "types", "rename", "ecs",   "nested"};
    const size_t nwant = sizeof(want) / sizeof(want[0]);
    const struct lfp_option *opt = lf_parser_options();
    size_t i;

    (void)state;
    for (i = 0; opt[i].name; i++) {
        assert_true(i < nwant);
        assert_string_equal(opt[i].name, want[i]);
        assert_non_null(opt[i].desc);
        assert_true(opt[i].offset < lf_parser_conf_size());
    }
    assert_int_equal(i, nwant);
    assert_int_equal(opt[0].flags, LFP_OPT_REQUIRED);
    assert_int_equal(opt[2].type, LFP_OPT_ENUM);
    assert_string_equal(opt[2].def, "regex");
    assert_string_equal(opt[2].enum_values[LF_PARSER_JSON], "json");
    assert_int_equal(opt[5].flags, LFP_OPT_MULTI); /* time_format */
    assert_string_equal(opt[9].def, "on");         /* ecs */
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
        cmocka_unit_test(test_list_types_split_nginx_multi_values),
        cmocka_unit_test(test_list_element_that_does_not_convert_stays_string),
        cmocka_unit_test(test_long_lists_keep_every_attempt),
        cmocka_unit_test(test_float_edge_shapes_match_strtod),
        cmocka_unit_test(test_list_of_one_attempt),
        cmocka_unit_test(test_group_walk_gives_the_handlers_fields),
        cmocka_unit_test(test_group_walk_unrolled_gives_the_loops_fields),
        cmocka_unit_test(test_str_list_blanks_near_word_lengths),
        cmocka_unit_test(test_str_list_escapes_only_values_that_need_it),
        cmocka_unit_test(test_lists_of_one_attempt_stay_in_their_room),
        cmocka_unit_test(test_number_shapes_convert_as_the_reference),
        cmocka_unit_test(test_durations_and_seconds_take_their_unit),
        cmocka_unit_test(test_addr_gives_ip_only_for_ip_literals),
        cmocka_unit_test(test_addr_quads_match_inet_pton),
        cmocka_unit_test(test_addr_ipv6_matches_inet_pton),
        cmocka_unit_test(test_addr_list_picks_first_public_address),
        cmocka_unit_test(test_flags_optional_and_http_version),
        cmocka_unit_test(test_rename_applies_only_with_ecs_on),
        cmocka_unit_test(test_json_keys_are_renamed_and_typed),
        cmocka_unit_test(test_time_formats_are_tried_in_order),
        cmocka_unit_test(test_base_with_ecs_off_keeps_source_names),
        cmocka_unit_test(test_nested_value_is_parsed_by_the_builtin),
        cmocka_unit_test(test_nested_value_before_other_groups),
        cmocka_unit_test(test_new_option_errors_name_the_problem),
        cmocka_unit_test(test_every_builtin_parses_its_format_with_time),
        cmocka_unit_test(
            test_nginx_upstream_address_is_escaped_when_it_needs_it),
        cmocka_unit_test(test_builtins_survive_cut_binary_and_huge_lines),
        cmocka_unit_test(test_line_cut_inside_a_quote_is_a_parse_error),
#ifndef LF_SANITIZED
        cmocka_unit_test(test_parse_path_allocates_nothing_once_warm),
#endif
        cmocka_unit_test(test_golden_files_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
