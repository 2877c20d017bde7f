/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values.c - turning the values an engine found into typed fields, per the
 * key's rule (types, output names), and taking the event time.
 *
 * Everything here runs once per value on the hot path: it switches on the
 * precomputed type, never looks a name up, never mallocs. Strings point
 * into the raw line (or the chunk's arena, for unescaped JSON); the only
 * memory taken is the chunk's arena for arrays (list types, flags).
 *
 * nginx multi-value fields, as $upstream_* variables write them:
 *
 *   "10.0.0.5:8080, 10.0.0.6:8080 : 10.0.5.51:8443"
 *     ", " between attempts in one upstream group, " : " between groups
 *     (internal redirects), "-" for an attempt without that value
 *   -> name      "10.0.5.51:8443"                  (the last attempt)
 *      name[1]   ["10.0.0.5:8080", "10.0.0.6:8080", "10.0.5.51:8443"]
 *      name[2]   3                                  (attempts)
 *
 * A value that is "-" or empty as a whole is no attempt at all: the last
 * value and the array are null, the count 0.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"
#include "values_read.h"

#include "../parser_int.h"
#include "chunk.h"
#include "parser.h"

#define VALUES_ADDR_MAX 64 /* longest address text checked as an IP */

/* ---- type names ------------------------------------------------------- */

static const struct {
    const char *name;
    uint8_t type;
    uint8_t unit;
} values_types[] = {
    {"int", LF_PT_INT, 0},
    {"integer", LF_PT_INT, 0},
    {"float", LF_PT_FLOAT, 0},
    {"double", LF_PT_FLOAT, 0},
    {"bool", LF_PT_BOOL, 0},
    {"boolean", LF_PT_BOOL, 0},
    {"string", LF_PT_STRING, 0},
    {"optional", LF_PT_OPTIONAL, 0},
    {"uint", LF_PT_UINT, 0},
    {"duration_s", LF_PT_DURATION, 0},
    {"duration_ms", LF_PT_DURATION, 3},
    {"duration_us", LF_PT_DURATION, 6},
    {"duration_ns", LF_PT_DURATION, 9},
    {"seconds_ms", LF_PT_SECONDS, 3},
    {"seconds_us", LF_PT_SECONDS, 6},
    {"seconds_ns", LF_PT_SECONDS, 9},
    {"int_list", LF_PT_INT_LIST, 0},
    {"float_list", LF_PT_FLOAT_LIST, 0},
    {"str_list", LF_PT_STR_LIST, 0},
    {"addr", LF_PT_ADDR, 0},
    {"addr_list", LF_PT_ADDR_LIST, 0},
    {"flags", LF_PT_FLAGS, 0},
    {"http_version", LF_PT_HTTP_VERSION, 0},
};

int lf_parser_type_from_name(const char *name, uint8_t *unit)
{
    for (size_t i = 0; i < sizeof(values_types) / sizeof(values_types[0]);
         i++) {
        if (strcmp(name, values_types[i].name) == 0) {
            *unit = values_types[i].unit;
            return values_types[i].type;
        }
    }
    return -1;
}

int lf_parser_type_names(int type)
{
    switch (type) {
    case LF_PT_INT_LIST:
    case LF_PT_FLOAT_LIST:
    case LF_PT_STR_LIST:
    case LF_PT_ADDR_LIST:
        return 3;
    case LF_PT_ADDR:
        return 2;
    default:
        return 1;
    }
}

/* ---- scalar conversion -------------------------------------------------- */

/* values_to_int() for more than 18 digits, which may overflow. */
static __attribute__((noinline)) int
values_to_int_long(const char *p, const char *end, int is_neg, int64_t *v)
{
    uint64_t u = 0;
    uint64_t limit = is_neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    for (; p < end; p++) {
        unsigned digit = (unsigned char)*p - '0';
        if (digit > 9 || u > (limit - digit) / 10)
            return -1;
        u = u * 10 + digit;
    }
    *v = is_neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* values_to_int() for at most 18 digits, which cannot overflow: -1 for
 * more. Inline: status codes and sizes, several a line. */
static inline int values_to_int_short(const char *s, size_t n, int64_t *v)
{
    const char *p = s, *end = s + n;
    uint64_t u = 0;
    int is_neg = 0;

    if (n && (s[0] == '-' || s[0] == '+')) {
        is_neg = s[0] == '-';
        p++;
    }
    if (p == end || end - p > 18)
        return -1;
    for (; p < end; p++) {
        uint64_t digit = (uint64_t)(unsigned char)*p - '0';
        if (digit > 9)
            return -1;
        u = u * 10 + digit;
    }
    *v = is_neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* Decimal integer with an optional sign, the whole of s[0..n). */
static inline int values_to_int(const char *s, size_t n, int64_t *v)
{
    size_t sign = n && (s[0] == '-' || s[0] == '+');

    if (n - sign > 18)
        return values_to_int_long(s + sign, s + n, s[0] == '-', v);
    return values_to_int_short(s, n, v);
}

/* Whether s[0..n) is a decimal number: [+-]digits[.digits][e[+-]digits],
 * or with digits only after the point. Keeps "inf", "nan" and hex out. */
static int values_is_decimal(const char *s, size_t n)
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

/* The rare case: exponents, more digits; the text as strtod reads it. */
static int values_slow_float(const char *s, size_t n, double *d)
{
    char buf[128];
    char *end;

    if (n >= sizeof(buf) || !values_is_decimal(s, n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *d = strtod(buf, &end);
    return end == buf + n && isfinite(*d) ? 0 : -1;
}

static inline int values_to_float(const char *s, size_t n, double *d)
{
    if (values_fast_float(s, n, d) == 0)
        return 0;
    return values_slow_float(s, n, d);
}

static int values_word_is(const char *s, size_t n, const char *word)
{
    size_t i;

    for (i = 0; i < n && word[i]; i++) {
        int c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != word[i])
            return 0;
    }
    return i == n && word[i] == '\0';
}

static int values_to_bool(const char *s, size_t n, int64_t *b)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (values_word_is(s, n, yes[i])) {
            *b = 1;
            return 0;
        }
        if (values_word_is(s, n, no[i])) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

/* A decimal in 10^-unit seconds as int ns, exactly (digits past ns are
 * cut). Returns 0, 1 for a negative value (not a duration), -1 if s is
 * not [+-]digits[.digits] or does not fit in int64 ns. Inline, into the
 * duration handler's fast path. */
static inline __attribute__((always_inline)) int
values_to_ns(const char *s, size_t n, int unit, int64_t *ns)
{
    static const int64_t scale[10] = {1,         10,        100,     1000,
                                      10000,     100000,    1000000, 10000000,
                                      100000000, 1000000000};
    int fdigits = 9 - unit;
    /* the most the whole part may be before a further digit */
    int64_t limit = (INT64_MAX / 10 - 9) / scale[fdigits];
    size_t i = n && (s[0] == '-' || s[0] == '+'), start = i;
    int64_t whole = 0, frac = 0;
    int nfrac = 0, has_point = 0;
    unsigned c;

    for (; i < n && (c = (unsigned char)s[i] - '0') <= 9; i++) {
        if (whole > limit)
            return -1;
        whole = whole * 10 + c;
    }
    if (i < n && s[i] == '.') {
        has_point = 1;
        for (i++; i < n && (c = (unsigned char)s[i] - '0') <= 9; i++)
            if (nfrac < fdigits) {
                frac = frac * 10 + c;
                nfrac++;
            }
    }
    if (i != n || i - start == (size_t)has_point) /* not all, or no digit */
        return -1;
    if (s[0] == '-')
        return 1;
    /* The whole part may still be too large for int64 ns. */
    if (__builtin_mul_overflow(whole, scale[fdigits], &whole) ||
        __builtin_add_overflow(whole, frac * scale[fdigits - nfrac], ns))
        return -1;
    return 0;
}

/* ---- fields ---------------------------------------------------------------
 */

/* f's key flags stay; the value may need escaping. */
static void values_set_str(struct lfp_field *f, const char *s, size_t n)
{
    f->type = LFP_T_STR;
    f->flags |= LFP_FIELD_ESCAPE;
    f->n = (uint32_t)n;
    f->v.s = s;
}

/* The most room one value takes in the record's fields: its names
 * (LF_PARSER_NAMES), and for a list of one attempt the array's element,
 * taken from the end of the room (values_list_one()). */
#define VALUES_ROOM (LF_PARSER_NAMES + 1)

/* Makes room for the most fields one value takes (VALUES_ROOM), so the
 * emitting functions append without a check each: the regex engine
 * reserved a line's fields at its start, JSON grows them here. */
static void values_room(struct lf_parser_line *line)
{
    struct lfp_record *rec = line->rec;

    if (rec->fields_cap - rec->nfields < VALUES_ROOM)
        lf_record_reserve(line->chunk, rec,
                          rec->fields_cap ? rec->fields_cap : 8);
}

/* Appends f to the record; values_room() made room for it. Always
 * inlined, as the other appends are: a call per field, with the registers
 * it saves, costs more than the append itself, which runs ~20 times a
 * line; inlined, the caller's compound literal becomes a few stores. */
static inline __attribute__((always_inline)) void
values_put(struct lf_parser_line *line, struct lfp_field f)
{
    struct lfp_record *rec = line->rec;

    rec->fields[rec->nfields++] = f;
}

/* A new field named key, of the given type, for the caller to give a
 * value. */
static inline __attribute__((always_inline)) struct lfp_field *
values_add(struct lf_parser_line *line, const char *key, uint16_t key_len,
           uint8_t key_flags, uint8_t type)
{
    struct lfp_field *f = &line->rec->fields[line->rec->nfields++];

    *f = (struct lfp_field){
        .key = key, .key_len = key_len, .type = type, .flags = key_flags};
    return f;
}

static inline __attribute__((always_inline)) struct lfp_field *
values_add_k(struct lf_parser_line *line, const struct lf_parser_key *k,
             uint8_t type)
{
    return values_add(line, k->key, k->key_len, k->key_flags, type);
}

/* k's value as a string, which may need escaping. */
static inline __attribute__((always_inline)) void
values_add_str(struct lf_parser_line *line, const struct lf_parser_key *k,
               const char *s, size_t n)
{
    struct lfp_field *f = &line->rec->fields[line->rec->nfields++];

    *f = (struct lfp_field){.key = k->key,
                            .key_len = k->key_len,
                            .type = LFP_T_STR,
                            .flags = k->key_flags | LFP_FIELD_ESCAPE,
                            .n = (uint32_t)n,
                            .v.s = s};
}

/* Further output i (1 or 2) of k's rule, or NULL when it has none. */
static inline __attribute__((always_inline)) struct lfp_field *
values_add_extra(struct lf_parser_line *line, const struct lf_parser_key *k,
                 int i, uint8_t type)
{
    const struct lf_parser_rule *r = k->rule;

    if (!r || !r->names[i])
        return NULL;
    return values_add(line, r->names[i], r->name_lens[i], r->name_flags[i],
                      type);
}

/* Converts s[0..n) into f per a scalar type. Returns 0, or -1 to keep a
 * string. "-" and "" are null. */
static inline int values_convert(struct lfp_field *f, int type, int unit,
                                 const char *s, size_t n)
{
    int rc;

    if (values_is_dash(s, n)) {
        f->type = LFP_T_NULL;
        return 0;
    }
    switch (type) {
    case LF_PT_INT:
        f->type = LFP_T_INT;
        return values_to_int(s, n, &f->v.i);
    case LF_PT_UINT:
        f->type = LFP_T_INT;
        rc = values_to_int(s, n, &f->v.i);
        if (rc == 0 && f->v.i < 0)
            f->type = LFP_T_NULL;
        return rc;
    case LF_PT_FLOAT:
        f->type = LFP_T_FLOAT;
        return values_to_float(s, n, &f->v.d);
    case LF_PT_BOOL:
        f->type = LFP_T_BOOL;
        return values_to_bool(s, n, &f->v.i);
    case LF_PT_DURATION:
        f->type = LFP_T_INT;
        rc = values_to_ns(s, n, unit, &f->v.i);
        if (rc == 1)
            f->type = LFP_T_NULL;
        return rc < 0 ? -1 : 0;
    case LF_PT_SECONDS:
        f->type = LFP_T_FLOAT;
        rc = values_to_float(s, n, &f->v.d);
        if (rc == 0 && f->v.d < 0)
            f->type = LFP_T_NULL; /* HAProxy's -1: never reached */
        else if (rc == 0)
            f->v.d /= unit == 3 ? 1e3 : unit == 6 ? 1e6 : 1e9;
        return rc;
    default:
        return -1;
    }
}

/* A scalar of the given type; inlined with a constant type for the common
 * ones, so their conversion is picked without the switch. */
static inline __attribute__((always_inline)) void
values_scalar_as(struct lf_parser_line *line, const struct lf_parser_key *k,
                 int type, const char *s, size_t n)
{
    struct lfp_field *f = values_add_k(line, k, LFP_T_NULL);
    int unit = k->rule ? k->rule->unit : 0;

    if (values_convert(f, type, unit, s, n) != 0) {
        values_set_str(f, s, n);
        line->conv_errors++;
    }
}

static void values_scalar(struct lf_parser_line *line,
                          const struct lf_parser_key *k, const char *s,
                          size_t n)
{
    values_scalar_as(line, k, k->type, s, n);
}

/* k's value, an int. Stored member by member through a restrict
 * pointer: the field aliases nothing read here, and without saying so
 * each byte store would have the compiler reload k and the record. */
static inline __attribute__((always_inline)) void
values_add_int(struct lf_parser_line *line, const struct lf_parser_key *k,
               int64_t i)
{
    struct lfp_record *rec = line->rec;
    struct lfp_field *restrict f = &rec->fields[rec->nfields++];

    f->key = k->key;
    f->key_len = k->key_len;
    f->type = LFP_T_INT;
    f->flags = k->key_flags;
    f->n = 0;
    f->v.i = i;
}

/* The handlers below have a fast path for the common value and leave the
 * rest ("-", "", long numbers, what does not convert) to an _other
 * function, called last and kept out of line: the fast path then calls
 * nothing and saves no register. */

static __attribute__((noinline)) void
values_int_other(struct lf_parser_line *line, const struct lf_parser_key *k,
                 const char *s, size_t n)
{
    values_scalar_as(line, k, LF_PT_INT, s, n);
}

static void values_int(struct lf_parser_line *line,
                       const struct lf_parser_key *k, const char *s, size_t n)
{
    int64_t i;

    if (values_to_uint_short(s, n, &i) != 0) {
        values_int_other(line, k, s, n);
        return;
    }
    values_add_int(line, k, i);
}

static __attribute__((noinline)) void
values_duration_other(struct lf_parser_line *line,
                      const struct lf_parser_key *k, const char *s, size_t n)
{
    values_scalar_as(line, k, LF_PT_DURATION, s, n);
}

static void values_duration(struct lf_parser_line *line,
                            const struct lf_parser_key *k, const char *s,
                            size_t n)
{
    static const int64_t milli_ns[7] = {1000000, 100000, 10000, 1000,
                                        100,     10,     1};
    int unit = k->rule ? k->rule->unit : 0;
    unsigned milli;
    int64_t ns;

    /* Thousandths, in a unit of seconds down to us: exact in ns. */
    if (unit <= 6 && values_to_milli(s, n, &milli) == 0)
        ns = (int64_t)milli * milli_ns[unit];
    else if (values_is_dash(s, n) || values_to_ns(s, n, unit, &ns) != 0) {
        values_duration_other(line, k, s, n);
        return;
    }
    values_add_int(line, k, ns);
}

static void values_string(struct lf_parser_line *line,
                          const struct lf_parser_key *k, const char *s,
                          size_t n)
{
    values_add_str(line, k, s, n);
}

static void values_optional(struct lf_parser_line *line,
                            const struct lf_parser_key *k, const char *s,
                            size_t n)
{
    if (!values_is_dash(s, n))
        values_add_str(line, k, s, n);
}

/* ---- lists ----------------------------------------------------------------
 */

/* Length of the list separator at s[i] (", " or " : "), or 0. Inline:
 * it runs for every byte of every list value. */
static inline size_t values_list_sep(const char *s, size_t n, size_t i)
{
    if (s[i] == ',')
        return i + 1 < n && s[i + 1] == ' ' ? 2 : 0;
    if (s[i] == ' ')
        return i + 2 < n && s[i + 1] == ':' && s[i + 2] == ' ' ? 3 : 0;
    return 0;
}

static uint32_t values_list_count(const char *s, size_t n)
{
    uint32_t count = 1;

    if (!memchr(s, ' ', n)) /* both separators hold a blank */
        return 1;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != ',' && s[i] != ' ')
            continue;
        size_t sep = values_list_sep(s, n, i);
        if (sep) {
            count++;
            i += sep - 1;
        }
    }
    return count;
}

static void values_list_elem(struct lf_parser_line *line, struct lfp_field *e,
                             int type, const char *s, size_t n)
{
    int rc;

    memset(e, 0, sizeof(*e));
    if (values_is_dash(s, n)) {
        e->type = LFP_T_NULL;
        return;
    }
    if (type == LF_PT_STR_LIST) {
        values_set_str(e, s, n);
        return;
    }
    /* values_convert's int and float, without its switch */
    if (type == LF_PT_FLOAT_LIST) {
        e->type = LFP_T_FLOAT;
        rc = values_to_float(s, n, &e->v.d);
    } else {
        e->type = LFP_T_INT;
        rc = values_to_int(s, n, &e->v.i);
    }
    if (rc != 0) {
        values_set_str(e, s, n);
        line->conv_errors++;
    }
}

/* Stores k's fields for the attempts arr[0..m) at f: the last one's
 * value (k's key flags and its own), the array and the count, the last
 * two when the rule names them. Returns how many. Stored member by member
 * through restrict pointers: the fields alias nothing read here, and
 * without saying so each byte store would have the compiler reload k, its
 * rule and the record, and a field built whole goes through the stack. */
static inline __attribute__((always_inline)) uint32_t
values_list_put(struct lfp_field *restrict f, const struct lf_parser_key *k,
                const struct lfp_field *last, const struct lfp_field *arr,
                uint32_t m)
{
    const struct lf_parser_rule *r = k->rule;
    uint32_t added = 1;

    f->key = k->key;
    f->key_len = k->key_len;
    f->type = last->type;
    f->flags = k->key_flags | last->flags;
    f->n = last->n;
    f->v = last->v;
    if (r && r->names[1]) {
        f[added].key = r->names[1];
        f[added].key_len = r->name_lens[1];
        f[added].type = LFP_T_ARRAY;
        f[added].flags = r->name_flags[1];
        f[added].n = m;
        f[added].v.arr = arr;
        added++;
    }
    if (r && r->names[2]) {
        f[added].key = r->names[2];
        f[added].key_len = r->name_lens[2];
        f[added].type = LFP_T_INT;
        f[added].flags = r->name_flags[2];
        f[added].n = 0;
        f[added].v.i = m;
        added++;
    }
    return added;
}

/* A list of one attempt, e (no key). Its array is the last field of the
 * room made for the value (VALUES_ROOM), taken off the record's capacity
 * instead of an arena call: those fields are in the chunk's arena too,
 * and stay there when the record's fields grow and move. */
static inline __attribute__((always_inline)) void
values_list_one(struct lf_parser_line *line, const struct lf_parser_key *k,
                const struct lfp_field *e)
{
    struct lfp_record *rec = line->rec;
    uint32_t nfields = rec->nfields, cap = rec->fields_cap - 1;
    struct lfp_field *restrict arr = rec->fields + cap;

    rec->fields_cap = cap;
    arr->key = NULL;
    arr->key_len = 0;
    arr->type = e->type;
    arr->flags = e->flags;
    arr->n = e->n;
    arr->v = e->v;
    rec->nfields =
        nfields + values_list_put(rec->fields + nfields, k, e, arr, 1);
}

/* A whole "-" or "": no attempt at all. */
static void values_list_none(struct lf_parser_line *line,
                             const struct lf_parser_key *k)
{
    values_add_k(line, k, LFP_T_NULL);
    (void)values_add_extra(line, k, 1, LFP_T_NULL);
    (void)values_add_extra(line, k, 2, LFP_T_INT); /* 0 attempts */
}

/* The most attempts values_list_split() gathers on the stack before it
 * knows their count; a longer list is counted first. */
#define VALUES_LIST_STACK 16

/* Splits s[0..n) into at most max attempts at arr, each converted per
 * type. Returns how many, or max + 1 when there are more (arr[0..max)
 * then converted, and conversion errors counted). */
static uint32_t values_list_fill(struct lf_parser_line *line,
                                 struct lfp_field *arr, uint32_t max, int type,
                                 const char *s, size_t n)
{
    uint32_t m = 0;
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        size_t sep = i < n ? values_list_sep(s, n, i) : 1;
        if (!sep)
            continue;
        if (m == max)
            return max + 1;
        values_list_elem(line, &arr[m++], type, s + start, i - start);
        start = i + sep;
        i += sep - 1;
    }
    return m;
}

/* Splits s[0..n) at the separators into the array of attempts, each
 * converted per type, in one pass onto the stack (a longer list counted
 * first). One attempt (a value that does not convert) takes its array as
 * values_list_one() does. */
static void values_list_split(struct lf_parser_line *line,
                              const struct lf_parser_key *k, const char *s,
                              size_t n)
{
    struct lfp_record *rec = line->rec;
    struct lfp_field tmp[VALUES_LIST_STACK], *arr;
    uint32_t conv_errors = line->conv_errors;
    uint32_t m = values_list_fill(line, tmp, VALUES_LIST_STACK, k->type, s, n);

    if (m > VALUES_LIST_STACK) { /* counted again below */
        line->conv_errors = conv_errors;
        m = values_list_count(s, n);
        arr = lf_chunk_alloc(line->chunk, m * sizeof(*arr));
        (void)values_list_fill(line, arr, m, k->type, s, n); /* m of them */
    } else {
        arr = m == 1 ? &rec->fields[--rec->fields_cap]
                     : lf_chunk_alloc(line->chunk, m * sizeof(*arr));
        memcpy(arr, tmp, m * sizeof(*arr));
    }
    rec->nfields +=
        values_list_put(rec->fields + rec->nfields, k, &arr[m - 1], arr, m);
}

/* The list types, each with a path for one attempt, the common case:
 * the whole value as the one element. A number holds no blank and both
 * separators do, so for int_list and float_list converting the value is
 * the test; what does not convert is split (and counted there if an
 * attempt does not convert). */
static __attribute__((noinline)) void
values_int_list_other(struct lf_parser_line *line,
                      const struct lf_parser_key *k, const char *s, size_t n)
{
    int64_t i;

    if (values_is_dash(s, n))
        values_list_none(line, k);
    else if (values_to_int(s, n, &i) == 0)
        values_list_one(line, k,
                        &(struct lfp_field){.type = LFP_T_INT, .v.i = i});
    else
        values_list_split(line, k, s, n);
}

static void values_int_list(struct lf_parser_line *line,
                            const struct lf_parser_key *k, const char *s,
                            size_t n)
{
    int64_t i;

    if (values_to_uint_short(s, n, &i) != 0) {
        values_int_list_other(line, k, s, n);
        return;
    }
    values_list_one(line, k, &(struct lfp_field){.type = LFP_T_INT, .v.i = i});
}

static __attribute__((noinline)) void
values_float_list_other(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n)
{
    double d;

    if (values_is_dash(s, n))
        values_list_none(line, k);
    else if (values_to_float(s, n, &d) == 0)
        values_list_one(line, k,
                        &(struct lfp_field){.type = LFP_T_FLOAT, .v.d = d});
    else
        values_list_split(line, k, s, n);
}

static void values_float_list(struct lf_parser_line *line,
                              const struct lf_parser_key *k, const char *s,
                              size_t n)
{
    unsigned milli;
    double d;

    if (values_to_milli(s, n, &milli) == 0)
        d = (double)milli / 1e3;
    else if (values_fast_float(s, n, &d) != 0) {
        values_float_list_other(line, k, s, n);
        return;
    }
    values_list_one(line, k,
                    &(struct lfp_field){.type = LFP_T_FLOAT, .v.d = d});
}

static __attribute__((noinline)) void
values_str_list_other(struct lf_parser_line *line,
                      const struct lf_parser_key *k, const char *s, size_t n)
{
    if (values_is_dash(s, n))
        values_list_none(line, k);
    else if (!memchr(s, ' ', n))
        values_list_one(line, k,
                        &(struct lfp_field){.type = LFP_T_STR,
                                            .flags = LFP_FIELD_ESCAPE,
                                            .n = (uint32_t)n,
                                            .v.s = s});
    else
        values_list_split(line, k, s, n);
}

/* The fast path takes a value of 8 to 16 bytes without a blank: one
 * attempt, not "-" (both separators hold a blank); escaped only when it
 * holds a byte that needs it (values_attempt_8_16(), as the group walk
 * decides). */
static void values_str_list(struct lf_parser_line *line,
                            const struct lf_parser_key *k, const char *s,
                            size_t n)
{
    int attempt = n - 8 > 16 - 8 ? -1 : values_attempt_8_16(s, n);

    if (attempt < 0) {
        values_str_list_other(line, k, s, n);
        return;
    }
    values_list_one(line, k,
                    &(struct lfp_field){.type = LFP_T_STR,
                                        .flags = attempt ? LFP_FIELD_ESCAPE : 0,
                                        .n = (uint32_t)n,
                                        .v.s = s});
}

/* ---- addresses ------------------------------------------------------------
 */

/* A dotted-quad IPv4 address, the whole of s[0..n), into bin[0..4). */
static int values_ipv4(const char *s, size_t n, unsigned char *bin)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        size_t start = i;
        unsigned v = 0, c;
        while (i < n && i - start < 3 && (c = (unsigned char)s[i] - '0') <= 9) {
            v = v * 10 + c;
            i++;
        }
        /* one to three digits, no leading zero, at most 255 */
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return -1;
        bin[part] = (unsigned char)v;
        if (part < 3 && (i >= n || s[i++] != '.'))
            return -1;
    }
    return i == n ? 0 : -1;
}

/* The dotted quad at the start of s[0..n) into bin[0..4): its length, or
 * 0 when s does not start with one. values_ipv4() in one pass, for the
 * common address, which is nothing but the quad (or has a port). */
static inline size_t values_ipv4_prefix(const char *s, size_t n,
                                        unsigned char *bin)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        unsigned v, c;

        if (i >= n || (v = (unsigned char)s[i++] - '0') > 9)
            return 0;
        /* a leading zero is the whole part: what follows must be a '.' */
        if (v && i < n && (c = (unsigned char)s[i] - '0') <= 9) {
            v = v * 10 + c;
            if (++i < n && (c = (unsigned char)s[i] - '0') <= 9) {
                v = v * 10 + c;
                i++;
            }
        }
        if (v > 255)
            return 0;
        bin[part] = (unsigned char)v;
        if (part < 3 && (i >= n || s[i++] != '.'))
            return 0;
    }
    return i;
}

/* The IP inside an address as written: a, [a], [a]:port or a:port (one
 * ':' only, so a bare IPv6 keeps its colons). Sets *ip, *ip_n and *family
 * and returns 1 when it is an IP literal; its bytes go to bin unless bin
 * is NULL (then a plain IPv6 is only checked, values_ipv6_is_plain()). */
static int values_ip(const char *s, size_t n, const char **ip, size_t *ip_n,
                     unsigned char *bin, int *family)
{
    char buf[VALUES_ADDR_MAX];
    unsigned char scratch[16];
    const char *colon;
    size_t quad;

    if (!bin)
        bin = scratch;
    quad = values_ipv4_prefix(s, n, bin);

    /* The quad alone, or before a port: what the general path below finds
     * for it, without searching the address for colons first. */
    if (quad && (quad == n || (s[quad] == ':' &&
                               !memchr(s + quad + 1, ':', n - quad - 1)))) {
        *family = AF_INET;
        *ip = s;
        *ip_n = quad;
        return 1;
    }
    if (n && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return 0;
        s++;
        n = (size_t)(end - s);
        *family = memchr(s, ':', n) ? AF_INET6 : AF_INET;
    } else if ((colon = memchr(s, ':', n)) == NULL) {
        *family = AF_INET; /* a, no port */
    } else if (!memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
        n = (size_t)(colon - s); /* a:port */
        *family = AF_INET;
    } else {
        *family = AF_INET6; /* a bare IPv6 */
    }
    if (n == 0 || n >= sizeof(buf))
        return 0;
    if (*family == AF_INET) {
        if (values_ipv4(s, n, bin) != 0)
            return 0;
    } else if (bin != scratch || !values_ipv6_is_plain(s, n)) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, bin) != 1)
            return 0;
    }
    *ip = s;
    *ip_n = n;
    return 1;
}

/* Whether an IP is private, loopback, link-local, CGNAT or unspecified. */
static int values_ip_is_private(const unsigned char *b, int family)
{
    static const unsigned char zero[16] = {0};

    if (family == AF_INET)
        return b[0] == 10 || b[0] == 127 || b[0] == 0 ||
               (b[0] == 172 && (b[1] & 0xf0) == 16) ||
               (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) ||
               (b[0] == 100 && (b[1] & 0xc0) == 64);
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return 1; /* :: and ::1 */
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

static __attribute__((noinline)) void
values_addr_other(struct lf_parser_line *line, const struct lf_parser_key *k,
                  const char *s, size_t n)
{
    struct lfp_field *f;
    const char *ip;
    size_t ip_n;
    int family;

    if (values_is_dash(s, n))
        return;
    f = values_add_k(line, k, LFP_T_NULL);
    values_set_str(f, s, n);
    if (!values_ip(s, n, &ip, &ip_n, NULL, &family))
        return;
    if (ip_n == n) /* the address is the IP: digits, dots, hex, colons */
        f->flags &= (uint8_t)~LFP_FIELD_ESCAPE;
    if ((f = values_add_extra(line, k, 1, LFP_T_NULL)) != NULL) {
        values_set_str(f, ip, ip_n);
        f->flags &= (uint8_t)~LFP_FIELD_ESCAPE;
    }
}

/* An address; the fast path is a dotted quad alone, the common client
 * address: what values_addr_other() adds for it, without values_ip()'s
 * frame and its search for a port. */
static void values_addr(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n)
{
    const struct lf_parser_rule *r = k->rule;
    struct lfp_record *rec = line->rec;
    struct lfp_field *restrict f;
    unsigned char bin[4];

    if (n - 8 <= 15 - 8 ? !values_is_quad(s, n)
                        : values_ipv4_prefix(s, n, bin) != n || n == 0) {
        values_addr_other(line, k, s, n);
        return;
    }
    f = &rec->fields[rec->nfields++];
    f->key = k->key;
    f->key_len = k->key_len;
    f->type = LFP_T_STR;
    f->flags = k->key_flags & (uint8_t)~LFP_FIELD_ESCAPE; /* digits, dots */
    f->n = (uint32_t)n;
    f->v.s = s;
    if (r && r->names[1]) {
        f = &rec->fields[rec->nfields++];
        f->key = r->names[1];
        f->key_len = r->name_lens[1];
        f->type = LFP_T_STR;
        f->flags = r->name_flags[1] & (uint8_t)~LFP_FIELD_ESCAPE;
        f->n = (uint32_t)n;
        f->v.s = s;
    }
}

/* One entry of an address list: s[*i..) up to a ',' or a blank, without
 * quotes. Returns 0 at the end. */
static int values_addr_next(const char *s, size_t n, size_t *i, const char **e,
                            size_t *e_n)
{
    size_t j;

    while (*i < n &&
           (s[*i] == ',' || s[*i] == ' ' || s[*i] == '"' || s[*i] == '\t'))
        (*i)++;
    j = *i;
    while (j < n && s[j] != ',' && s[j] != ' ' && s[j] != '"' && s[j] != '\t')
        j++;
    if (j == *i)
        return 0;
    *e = s + *i;
    *e_n = j - *i;
    *i = j;
    return 1;
}

/* Picks the client of an address list: the first public IP, else the
 * first entry. */
struct values_pick {
    const char *e, *ip;
    size_t e_n, ip_n;
    int is_public;
};

static void values_pick_consider(struct values_pick *pk, const char *e,
                                 size_t e_n)
{
    unsigned char bin[16];
    const char *ip;
    size_t ip_n;
    int family;
    int is_ip = values_ip(e, e_n, &ip, &ip_n, bin, &family);
    int is_public = is_ip && !values_ip_is_private(bin, family);

    if (pk->e && (pk->is_public || !is_public))
        return;
    pk->e = e;
    pk->e_n = e_n;
    pk->ip = is_ip ? ip : NULL;
    pk->ip_n = is_ip ? ip_n : 0;
    pk->is_public = is_public;
}

static void values_addr_list(struct lf_parser_line *line,
                             const struct lf_parser_key *k, const char *s,
                             size_t n)
{
    struct values_pick pk = {0};
    struct lfp_field *arr, *f;
    const char *e;
    size_t e_n, i = 0;
    uint32_t m = 0, cap = 0;

    for (size_t j = 0; values_addr_next(s, n, &j, &e, &e_n);)
        cap++;
    if (cap == 0 || (cap == 1 && values_addr_next(s, n, &i, &e, &e_n) &&
                     values_is_dash(e, e_n)))
        return;
    arr = lf_chunk_alloc(line->chunk, cap * sizeof(*arr));
    i = 0;
    while (values_addr_next(s, n, &i, &e, &e_n)) {
        memset(&arr[m], 0, sizeof(arr[m]));
        values_set_str(&arr[m++], e, e_n);
        values_pick_consider(&pk, e, e_n);
    }
    values_set_str(values_add_k(line, k, LFP_T_NULL), pk.e, pk.e_n);
    if (pk.ip && (f = values_add_extra(line, k, 1, LFP_T_NULL)) != NULL)
        values_set_str(f, pk.ip, pk.ip_n);
    f = values_add_extra(line, k, 2, LFP_T_ARRAY);
    if (f) {
        f->n = m;
        f->v.arr = arr;
    }
}

/* ---- flags, versions ------------------------------------------------------
 */

static void values_flags(struct lf_parser_line *line,
                         const struct lf_parser_key *k, const char *s, size_t n)
{
    struct lfp_field *f, *arr;
    uint32_t m = 1;
    size_t start = 0;

    if (values_is_dash(s, n))
        return;
    for (size_t i = 0; i < n; i++)
        m += s[i] == ',';
    arr = lf_chunk_alloc(line->chunk, m * sizeof(*arr));
    m = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        memset(&arr[m], 0, sizeof(arr[m]));
        values_set_str(&arr[m++], s + start, i - start);
        start = i + 1;
    }
    f = values_add_k(line, k, LFP_T_ARRAY);
    f->n = m;
    f->v.arr = arr;
}

static void values_http_version(struct lf_parser_line *line,
                                const struct lf_parser_key *k, const char *s,
                                size_t n)
{
    if (values_is_dash(s, n))
        return;
    if (n > 5 && memcmp(s, "HTTP/", 5) == 0) {
        s += 5;
        n -= 5;
    }
    values_add_str(line, k, s, n);
}

/* ---- nested ----------------------------------------------------------------
 */

/* Parses s[0..n) with the rule's parser, its fields added to this record.
 * The record's raw text stands for s meanwhile, so the inner engine sees
 * exactly the value; s lives in the raw buffer or the chunk's arena. */
static void values_nested(struct lf_parser_line *line,
                          const struct lf_parser_key *k, const char *s,
                          size_t n)
{
    const struct lf_parser *sub = line->p->subs[k->rule->sub];
    struct lf_parser_worker *sw = line->w->subs[k->rule->sub];
    struct lfp_record *rec = line->rec;
    const char *raw = rec->raw;
    uint32_t raw_len = rec->raw_len;
    /* The room the outer engine reserved for the values after this one:
     * the inner fields may take it, so it is made again afterwards. */
    uint32_t room = rec->fields_cap - rec->nfields;
    struct lf_parser_line inner = {
        .p = sub, .w = sw, .chunk = line->chunk, .rec = rec, .tc = &sw->tc};
    int rc;

    rec->raw = s;
    rec->raw_len = (uint32_t)n;
    rc = sub->engine->parse(sub->ectx, sw->ewctx, &inner);
    rec->raw = raw;
    rec->raw_len = raw_len;
    lf_record_reserve(line->chunk, rec, room);
    if (rc != LFP_OK || inner.is_failed) {
        line->is_failed = 1;
        return;
    }
    line->has_time |= inner.has_time;
    line->conv_errors += inner.conv_errors;
    line->time_errors += inner.time_errors;
}

/* ---- time ------------------------------------------------------------------
 */

static void values_time_failed(struct lf_parser_line *line)
{
    line->rec->flags |= LFP_REC_TIME_ERROR;
    line->rec->ts_ns = lf_time_now_ns();
    line->has_time = 1;
    line->time_errors++;
}

/* The time parsed: the record's timestamp. Returns whether the value is
 * taken (not kept as a field too). */
static inline int values_time_taken(struct lf_parser_line *line, int64_t ts_ns)
{
    line->rec->ts_ns = ts_ns;
    line->rec->flags &= ~(uint32_t)LFP_REC_TIME_ERROR;
    line->has_time = 1;
    return !line->p->time_keep;
}

/* lf_parser_take_time() past the first format. */
static __attribute__((noinline)) int
values_take_time_other(struct lf_parser_line *line, const char *s, size_t n)
{
    const struct lf_parser *p = line->p;
    int64_t ts_ns;

    for (size_t i = 1; i < p->ntfs; i++)
        if (lf_time_parse(p->tfs[i], line->tc, s, n, &ts_ns) == LFP_OK)
            return values_time_taken(line, ts_ns);
    values_time_failed(line);
    return 0;
}

/* The first format apart from the others: most parsers have one, and
 * the loop over them kept registers saved on every line. */
int lf_parser_take_time(struct lf_parser_line *line, const char *s, size_t n)
{
    const struct lf_parser *p = line->p;
    int64_t ts_ns;

    if (p->ntfs && lf_time_parse(p->tfs[0], line->tc, s, n, &ts_ns) == LFP_OK)
        return values_time_taken(line, ts_ns);
    return values_take_time_other(line, s, n);
}

/* ---- emitting
 * ---------------------------------------------------------------- */

/* Each type's handler: one indirect jump per value. A switch over them
 * all, with the handlers inlined into it, saved and restored every
 * register on each call however little the type had to do. */
static const lf_parser_emit_fn values_emit[] = {
    [LF_PT_STRING] = values_string,
    [LF_PT_INT] = values_int,
    [LF_PT_FLOAT] = values_scalar,
    [LF_PT_BOOL] = values_scalar,
    [LF_PT_NATIVE] = values_string,
    [LF_PT_OPTIONAL] = values_optional,
    [LF_PT_UINT] = values_scalar,
    [LF_PT_DURATION] = values_duration,
    [LF_PT_SECONDS] = values_scalar,
    [LF_PT_INT_LIST] = values_int_list,
    [LF_PT_FLOAT_LIST] = values_float_list,
    [LF_PT_STR_LIST] = values_str_list,
    [LF_PT_ADDR] = values_addr,
    [LF_PT_ADDR_LIST] = values_addr_list,
    [LF_PT_FLAGS] = values_flags,
    [LF_PT_HTTP_VERSION] = values_http_version,
    [LF_PT_NESTED] = values_nested,
};
_Static_assert(sizeof(values_emit) / sizeof(values_emit[0]) == LF_PT_NESTED + 1,
               "a handler for every enum lf_parser_type");

/* lf_parser_emit_str() for the time key, or with the record's fields to
 * grow: apart, so that the common path calls nothing but the handler and
 * saves no register. */
static __attribute__((noinline)) void
values_emit_slow(struct lf_parser_line *line, const struct lf_parser_key *k,
                 const char *s, size_t n)
{
    if (k->is_time && lf_parser_take_time(line, s, n))
        return;
    values_room(line);
    values_emit[k->type](line, k, s, n);
}

void lf_parser_emit_str(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n)
{
    const struct lfp_record *rec = line->rec;

    if (k->is_time || rec->fields_cap - rec->nfields < VALUES_ROOM)
        values_emit_slow(line, k, s, n);
    else
        values_emit[k->type](line, k, s, n);
}

lf_parser_emit_fn lf_parser_emit_value_fn(const struct lf_parser_key *k)
{
    return values_emit[k->type];
}

uint32_t lf_parser_emit_room(const struct lf_parser_key *k)
{
    switch (k->type) {
    case LF_PT_INT_LIST:
    case LF_PT_FLOAT_LIST:
    case LF_PT_STR_LIST:
        return lf_parser_key_nfields(k) + 1; /* values_list_one() */
    default:
        return lf_parser_key_nfields(k);
    }
}

int lf_parser_num_value(struct lfp_field *f, const char *s, size_t n)
{
    int64_t i;
    double d;

    if (values_to_int(s, n, &i) == 0) {
        f->type = LFP_T_INT;
        f->v.i = i;
        return 0;
    }
    if (values_to_float(s, n, &d) == 0) {
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

    if (k->type != LF_PT_NATIVE && k->type != LF_PT_INT &&
        k->type != LF_PT_FLOAT && k->type != LF_PT_BOOL &&
        k->type != LF_PT_STRING) {
        lf_parser_emit_str(line, k, s, n); /* e.g. a duration in ms */
        return;
    }
    if (k->is_time && lf_parser_take_time(line, s, n))
        return;
    values_room(line);
    f = values_add_k(line, k, LFP_T_NULL);
    if (k->type == LF_PT_STRING) {
        values_set_str(f, s, n);
        f->flags &= (uint8_t)~LFP_FIELD_ESCAPE; /* digits, sign, '.', 'e' */
        return;
    }
    if (k->type == LF_PT_FLOAT) {
        rc = values_to_float(s, n, &f->v.d);
        f->type = LFP_T_FLOAT;
    } else {
        rc = lf_parser_num_value(f, s, n);
    }
    if (rc != 0) { /* out of double range, e.g. 1e999 */
        values_set_str(f, s, n);
        line->conv_errors++;
    }
}

struct lfp_field *lf_parser_emit(struct lf_parser_line *line,
                                 const struct lf_parser_key *k)
{
    if (k->is_time)
        values_time_failed(line);
    values_room(line);
    return values_add_k(line, k, LFP_T_NULL);
}
