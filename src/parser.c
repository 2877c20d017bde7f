/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.c - the [parser] section and what every engine shares: type
 * conversion of values, time extraction, parse-error accounting.
 *
 * An engine (parsers/regex, parsers/json) finds (key, value) pairs in a line
 * and hands each to lf_parser_emit_*(), which apply the types option and the
 * time key. Keys are resolved to a struct lf_parser_key once (regex: per
 * group at init; JSON: per key, behind a bit mask of key lengths so keys
 * that cannot match cost one test), so the per-line path never compares
 * key strings when no types or time_key are configured.
 *
 * The parser is immutable after lf_parser_new() and shared by all workers;
 * its counters are relaxed atomics, added to once per line at most.
 */
#include "parser.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "err.h"
#include "mem.h"

/* One item of the types option. */
struct parser_rule {
    char *key;
    uint16_t key_len;
    uint8_t type; /* enum lf_parser_type */
};

struct lf_parser {
    char *name;
    int format; /* enum lf_parser_format */
    const struct lf_parser_engine *engine;
    void *ectx;
    char *time_key;
    uint16_t time_key_len;
    int time_keep;
    struct lf_timefmt *tf;
    struct parser_rule *rules;
    size_t nrules;
    uint64_t key_len_mask; /* bit min(len, 63) of every rule and time key */
    struct parser_stats *stats;
};

/* Counters: the one part of a parser that workers write, kept apart so the
 * parser itself stays const for them. */
struct parser_stats {
    atomic_uint_fast64_t parse_errors;
    atomic_uint_fast64_t conv_errors;
    atomic_uint_fast64_t time_errors;
};

struct lf_parser_worker {
    const struct lf_parser *p;
    void *ewctx;
    struct lf_timecache tc;
};

/* ---- options ---------------------------------------------------------- */

static const char *const parser_formats[] = {"regex", "json", NULL};

static const struct lfp_option parser_options[] = {
    {.name = "name",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct lf_parser_conf, name),
     .desc = "Name of the parser; inputs refer to it with their parser "
             "option."},
    {.name = "format",
     .type = LFP_OPT_ENUM,
     .def = "regex",
     .enum_values = parser_formats,
     .offset = offsetof(struct lf_parser_conf, format),
     .desc = "Engine: regex (a PCRE2 pattern with named groups) or json "
             "(one JSON object per line, nested keys joined with dots)."},
    {.name = "regex",
     .type = LFP_OPT_REGEX,
     .offset = offsetof(struct lf_parser_conf, regex),
     .desc = "PCRE2 pattern for format regex. Each named group that matched "
             "becomes a field named after the group, in group order; "
             "groups that did not take part in the match are left out. "
             "Required with format regex."},
    {.name = "time_key",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct lf_parser_conf, time_key),
     .desc = "Field holding the event time, parsed with time_format into "
             "the record's timestamp. Without it, records are stamped with "
             "the time they were parsed."},
    {.name = "time_format",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct lf_parser_conf, time_format),
     .desc = "How time_key is written: strftime-style conversions such as "
             "%d/%b/%Y:%H:%M:%S %z, or iso8601 / rfc3339, or %s for epoch "
             "seconds. Required with time_key."},
    {.name = "time_keep",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct lf_parser_conf, time_keep),
     .desc = "Keep the time_key field in the record after its time was "
             "parsed (a field whose time did not parse is always kept)."},
    {.name = "types",
     .type = LFP_OPT_LIST,
     .offset = offsetof(struct lf_parser_conf, types),
     .desc = "Conversions as key:type words, type one of int (integer), "
             "float (double), bool (boolean) or string, e.g. status:int "
             "rt:float. For int, float and bool a value of - or an empty "
             "value becomes null; a value that does not convert stays a "
             "string and is counted."},
    {0},
};

const struct lfp_option *lf_parser_options(void)
{
    return parser_options;
}

size_t lf_parser_conf_size(void)
{
    return sizeof(struct lf_parser_conf);
}

/* ---- building a parser ------------------------------------------------ */

static int parser_check_conf(const struct lf_parser_conf *conf,
                             struct lfp_err *err)
{
    if (!conf->name || !*conf->name)
        return lf_err_set(err, LFP_ERR_CONFIG, "parser: name is required");
    if (conf->format != LF_PARSER_REGEX && conf->format != LF_PARSER_JSON)
        return lf_err_set(err, LFP_ERR_CONFIG, "unknown format %d",
                          conf->format);
    if (conf->format == LF_PARSER_REGEX && (!conf->regex || !*conf->regex))
        return lf_err_set(err, LFP_ERR_CONFIG, "format regex needs a regex");
    if (conf->format == LF_PARSER_JSON && conf->regex)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "regex is only used with format regex");
    if (conf->time_key && !conf->time_format)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "time_key %s needs a time_format", conf->time_key);
    if (conf->time_format && !conf->time_key)
        return lf_err_set(err, LFP_ERR_CONFIG, "time_format needs a time_key");
    if (conf->time_key && strlen(conf->time_key) > UINT16_MAX)
        return lf_err_set(err, LFP_ERR_CONFIG, "time_key is too long");
    return LFP_OK;
}

static int parser_type_from_name(const char *name)
{
    static const struct {
        const char *name;
        int type;
    } names[] = {
        {"int", LF_PT_INT},       {"integer", LF_PT_INT},
        {"float", LF_PT_FLOAT},   {"double", LF_PT_FLOAT},
        {"bool", LF_PT_BOOL},     {"boolean", LF_PT_BOOL},
        {"string", LF_PT_STRING},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].type;
    return -1;
}

static void parser_mask_add(struct lf_parser *p, size_t key_len)
{
    p->key_len_mask |= UINT64_C(1) << (key_len < 63 ? key_len : 63);
}

/* Parses one "key:type" item (the last ':' splits, so keys may hold ':'). */
static int parser_add_rule(struct lf_parser *p, const char *item,
                           struct lfp_err *err)
{
    const char *colon = strrchr(item, ':');
    struct parser_rule *r;
    size_t key_len;
    int type;

    if (!colon || colon == item || !colon[1])
        return lf_err_set(err, LFP_ERR_CONFIG, "types: '%s' is not key:type",
                          item);
    key_len = (size_t)(colon - item);
    type = parser_type_from_name(colon + 1);
    if (type < 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "types: unknown type '%s' in '%s' (int, float, "
                          "bool or string)",
                          colon + 1, item);
    if (key_len > UINT16_MAX)
        return lf_err_set(err, LFP_ERR_CONFIG, "types: key too long");
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].key_len == key_len &&
            memcmp(p->rules[i].key, item, key_len) == 0)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "types: key '%.*s' is listed twice", (int)key_len,
                              item);
    r = &p->rules[p->nrules++];
    r->key = lf_strndup(item, key_len);
    r->key_len = (uint16_t)key_len;
    r->type = (uint8_t)type;
    parser_mask_add(p, key_len);
    return LFP_OK;
}

static int parser_setup(struct lf_parser *p, const struct lf_parser_conf *conf,
                        struct lfp_err *err)
{
    int rc;

    if (conf->types.n)
        p->rules = lf_calloc(conf->types.n, sizeof(*p->rules));
    for (size_t i = 0; i < conf->types.n; i++) {
        rc = parser_add_rule(p, conf->types.items[i], err);
        if (rc != LFP_OK)
            return rc;
    }
    if (conf->time_key) {
        rc = lf_timefmt_compile(conf->time_format, &p->tf, err);
        if (rc != LFP_OK) {
            lf_err_prefix(err, "time_format");
            return rc;
        }
        p->time_key = lf_strdup(conf->time_key);
        p->time_key_len = (uint16_t)strlen(p->time_key);
        p->time_keep = conf->time_keep != 0;
        parser_mask_add(p, p->time_key_len);
    }
    return LFP_OK;
}

int lf_parser_new(const struct lf_parser_conf *conf, struct lf_parser **out,
                  struct lfp_err *err)
{
    struct lf_parser *p;
    int rc;

    *out = NULL;
    rc = parser_check_conf(conf, err);
    if (rc != LFP_OK) {
        if (conf->name)
            lf_err_prefix(err, "parser %s", conf->name);
        return rc;
    }
    p = lf_calloc(1, sizeof(*p));
    p->name = lf_strdup(conf->name);
    p->format = conf->format;
    p->stats = lf_calloc(1, sizeof(*p->stats));
    atomic_init(&p->stats->parse_errors, 0);
    atomic_init(&p->stats->conv_errors, 0);
    atomic_init(&p->stats->time_errors, 0);
    rc = parser_setup(p, conf, err);
    if (rc == LFP_OK) {
        p->engine = conf->format == LF_PARSER_JSON ? &lf_parser_engine_json
                                                   : &lf_parser_engine_regex;
        rc = p->engine->init(p, conf, &p->ectx, err);
        if (rc != LFP_OK)
            p->engine = NULL; /* nothing for destroy */
    }
    if (rc != LFP_OK) {
        lf_err_prefix(err, "parser %s", conf->name);
        lf_parser_free(p);
        return rc;
    }
    *out = p;
    return LFP_OK;
}

void lf_parser_free(struct lf_parser *p)
{
    if (!p)
        return;
    if (p->engine)
        p->engine->destroy(p->ectx);
    for (size_t i = 0; i < p->nrules; i++)
        lf_free(p->rules[i].key);
    lf_free(p->rules);
    lf_timefmt_free(p->tf);
    lf_free(p->time_key);
    lf_free(p->stats);
    lf_free(p->name);
    lf_free(p);
}

const char *lf_parser_name(const struct lf_parser *p)
{
    return p->name;
}

struct lf_parser_worker *lf_parser_worker_new(const struct lf_parser *p)
{
    struct lf_parser_worker *w = lf_calloc(1, sizeof(*w));

    w->p = p;
    w->ewctx = p->engine->worker_new(p->ectx);
    return w;
}

void lf_parser_worker_free(struct lf_parser_worker *w)
{
    if (!w)
        return;
    w->p->engine->worker_free(w->ewctx);
    lf_free(w);
}

uint64_t lf_parser_parse_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->parse_errors, memory_order_relaxed);
}

uint64_t lf_parser_conv_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->conv_errors, memory_order_relaxed);
}

uint64_t lf_parser_time_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->time_errors, memory_order_relaxed);
}

/* ---- keys --------------------------------------------------------------- */

void lf_parser_key_init(const struct lf_parser *p, struct lf_parser_key *k,
                        const char *key, size_t key_len)
{
    k->key = key;
    k->key_len = (uint16_t)key_len;
    k->type = LF_PT_NATIVE;
    k->is_time = 0;
    if (!(p->key_len_mask & (UINT64_C(1) << (key_len < 63 ? key_len : 63))))
        return;
    if (p->time_key && key_len == p->time_key_len &&
        memcmp(key, p->time_key, key_len) == 0)
        k->is_time = 1;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct parser_rule *r = &p->rules[i];
        if (r->key_len == key_len && memcmp(r->key, key, key_len) == 0) {
            k->type = r->type;
            break;
        }
    }
}

/* ---- value conversion --------------------------------------------------- */

/* Decimal integer with an optional sign, the whole of s[0..n). */
static int parser_to_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    uint64_t u = 0, limit;
    int is_neg = 0;

    if (n && (s[0] == '-' || s[0] == '+')) {
        is_neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    limit = is_neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned digit = (unsigned char)s[i] - '0';
        if (digit > 9 || u > (limit - digit) / 10)
            return -1;
        u = u * 10 + digit;
    }
    *v = is_neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* Whether s[0..n) is a decimal number: [+-]digits[.digits][e[+-]digits],
 * or with digits only after the point. Keeps "inf", "nan" and hex out. */
static int parser_is_decimal(const char *s, size_t n)
{
    size_t i = 0, digits = 0;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_start;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        exp_start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == exp_start)
            return 0;
    }
    return i == n;
}

/* The common case without strtod: [+-]digits[.digits] whose digits make
 * an integer m below 2^53 with at most 22 after the point. m and 10^k are
 * exact doubles, so m / 10^k is correctly rounded, as strtod would be. */
static int parser_fast_float(const char *s, size_t n, double *d)
{
    static const double pow10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = n && (s[0] == '-' || s[0] == '+');
    uint64_t m = 0;
    int ndigits = 0, nfrac = -1;

    for (; i < n; i++) {
        if (s[i] == '.' && nfrac < 0) {
            nfrac = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || ndigits == 16)
            return -1;
        m = m * 10 + (uint64_t)(s[i] - '0');
        ndigits++;
        nfrac += nfrac >= 0;
    }
    if (!ndigits || m > (UINT64_C(1) << 53) || nfrac > 22)
        return -1;
    *d = (double)m / pow10[nfrac > 0 ? nfrac : 0];
    if (s[0] == '-')
        *d = -*d;
    return 0;
}

static int parser_to_float(const char *s, size_t n, double *d)
{
    char buf[128];
    char *end;

    if (parser_fast_float(s, n, d) == 0)
        return 0;
    if (n >= sizeof(buf) || !parser_is_decimal(s, n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *d = strtod(buf, &end);
    return end == buf + n && isfinite(*d) ? 0 : -1;
}

static int parser_word_is(const char *s, size_t n, const char *word)
{
    size_t i;

    for (i = 0; i < n && word[i]; i++) {
        int c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != word[i])
            return 0;
    }
    return i == n && word[i] == '\0';
}

static int parser_to_bool(const char *s, size_t n, int64_t *b)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (parser_word_is(s, n, yes[i])) {
            *b = 1;
            return 0;
        }
        if (parser_word_is(s, n, no[i])) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

/* Converts s[0..n) into f per type. Returns 0, or -1 to keep a string. */
static int parser_convert(struct lfp_field *f, int type, const char *s,
                          size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '-')) {
        f->type = LFP_T_NULL;
        return 0;
    }
    switch (type) {
    case LF_PT_INT:
        f->type = LFP_T_INT;
        return parser_to_int(s, n, &f->v.i);
    case LF_PT_FLOAT:
        f->type = LFP_T_FLOAT;
        return parser_to_float(s, n, &f->v.d);
    case LF_PT_BOOL:
        f->type = LFP_T_BOOL;
        return parser_to_bool(s, n, &f->v.i);
    default:
        return -1;
    }
}

static void parser_set_str(struct lfp_field *f, const char *s, size_t n)
{
    f->type = LFP_T_STR;
    f->flags = LFP_FIELD_ESCAPE;
    f->n = (uint32_t)n;
    f->v.s = s;
}

/* ---- time and emitting ------------------------------------------------- */

static void parser_time_failed(struct lf_parser_line *line)
{
    line->rec->flags |= LFP_REC_TIME_ERROR;
    line->rec->ts_ns = lf_time_now_ns();
    line->has_time = 1;
    line->time_errors++;
}

/* Takes s[0..n) as the event time. Returns 1 when the field is done with
 * (parsed, time_keep off), 0 when it must still be added. */
static int parser_take_time(struct lf_parser_line *line, const char *s,
                            size_t n)
{
    const struct lf_parser *p = line->p;
    int64_t ts_ns;

    if (lf_time_parse(p->tf, line->tc, s, n, &ts_ns) != LFP_OK) {
        parser_time_failed(line);
        return 0;
    }
    line->rec->ts_ns = ts_ns;
    line->rec->flags &= ~(uint32_t)LFP_REC_TIME_ERROR;
    line->has_time = 1;
    return !p->time_keep;
}

static struct lfp_field *parser_add(struct lf_parser_line *line,
                                    const struct lf_parser_key *k)
{
    struct lfp_field *f = lf_record_add(line->chunk, line->rec);

    f->key = k->key;
    f->key_len = k->key_len;
    return f;
}

void lf_parser_emit_str(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n)
{
    struct lfp_field *f;

    if (k->is_time && parser_take_time(line, s, n))
        return;
    f = parser_add(line, k);
    if (k->type == LF_PT_STRING || k->type == LF_PT_NATIVE) {
        parser_set_str(f, s, n);
        return;
    }
    if (parser_convert(f, k->type, s, n) != 0) {
        parser_set_str(f, s, n);
        line->conv_errors++;
    }
}

int lf_parser_num_value(struct lfp_field *f, const char *s, size_t n)
{
    int64_t i;
    double d;

    if (parser_to_int(s, n, &i) == 0) {
        f->type = LFP_T_INT;
        f->v.i = i;
        return 0;
    }
    if (parser_to_float(s, n, &d) == 0) {
        f->type = LFP_T_FLOAT;
        f->v.d = d;
        return 0;
    }
    return -1;
}

void lf_parser_emit_num(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n)
{
    struct lfp_field *f;
    int rc;

    if (k->is_time && parser_take_time(line, s, n))
        return;
    f = parser_add(line, k);
    if (k->type == LF_PT_STRING) {
        parser_set_str(f, s, n);
        f->flags = 0; /* digits, sign, '.', 'e': nothing to escape */
        return;
    }
    if (k->type == LF_PT_FLOAT) {
        rc = parser_to_float(s, n, &f->v.d);
        f->type = LFP_T_FLOAT;
    } else {
        rc = lf_parser_num_value(f, s, n);
    }
    if (rc != 0) { /* out of double range, e.g. 1e999 */
        parser_set_str(f, s, n);
        line->conv_errors++;
    }
}

struct lfp_field *lf_parser_emit(struct lf_parser_line *line,
                                 const struct lf_parser_key *k)
{
    if (k->is_time)
        parser_time_failed(line);
    return parser_add(line, k);
}

/* ---- parsing a line ----------------------------------------------------- */

static void parser_count(const struct lf_parser *p,
                         const struct lf_parser_line *line)
{
    if (line->conv_errors)
        atomic_fetch_add_explicit(&p->stats->conv_errors, line->conv_errors,
                                  memory_order_relaxed);
    if (line->time_errors)
        atomic_fetch_add_explicit(&p->stats->time_errors, line->time_errors,
                                  memory_order_relaxed);
}

int lf_parser_parse(const struct lf_parser *p, struct lf_parser_worker *w,
                    struct lfp_chunk *chunk, struct lfp_record *rec)
{
    struct lf_parser_line line = {
        .p = p, .chunk = chunk, .rec = rec, .tc = &w->tc};
    uint32_t flags =
        rec->flags & ~(uint32_t)(LFP_REC_PARSE_ERROR | LFP_REC_TIME_ERROR);

    rec->flags = flags;
    rec->nfields = 0;
    if (p->engine->parse(p->ectx, w->ewctx, &line) != LFP_OK) {
        rec->nfields = 0;
        rec->flags = flags | LFP_REC_PARSE_ERROR;
        rec->ts_ns = lf_time_now_ns();
        atomic_fetch_add_explicit(&p->stats->parse_errors, 1,
                                  memory_order_relaxed);
        return LFP_ERR_PARSE;
    }
    if (!line.has_time) {
        rec->ts_ns = lf_time_now_ns();
        if (p->time_key) {
            rec->flags |= LFP_REC_TIME_ERROR;
            line.time_errors++;
        }
    }
    parser_count(p, &line);
    return LFP_OK;
}
