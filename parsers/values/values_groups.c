/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values_groups.c - a regex line's named groups turned into fields in one
 * walk.
 *
 * Calling the type's handler per group costs a call, its saved registers
 * and a reload of the record per value, for values most of which take a
 * few stores: a string, a status, "0.025" of an upstream timing. Here the
 * walk keeps the record's next field and its spare room (where a list of
 * one attempt takes its array, as values_list_one() does) in locals, and
 * reads the common form of each common type inline:
 *
 *   string, optional      the value as is ("-" and "" leave an optional out)
 *   int                   1 to 18 digits
 *   duration (s to us)    "d.ddd" or "dd.ddd"
 *   float/int/str_list    one attempt: "d.ddd", a short decimal; digits;
 *                         8 to 16 bytes without a blank (flagged for
 *                         escaping only when a byte needs it); and "-"
 *                         or ""
 *   addr                  a dotted quad of 8 to 15 bytes, a plain IPv6
 *   the time key          the string of the line before (its result
 *                         kept in the time cache), else
 *                         lf_parser_take_time(); then, if the field is
 *                         kept, its type's handler
 *
 * Each field is copied from a head built at init (name, its length, type
 * and key flags) and gets its value. Anything else, including the time
 * field when it is kept, goes to the type's handler with the record
 * brought up to date, exactly as lf_parser_emit_str() would: the fields
 * are the same either way (test_parser compares them).
 *
 * For a sequence of ops met often (the built-in nginx_upstream's), the
 * walk is also unrolled with each op a constant: no loop and no jump on
 * the op per group. lf_parser_walk_find() picks it at init.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "values.h"
#include "values_read.h"

#include "../parser_int.h"
#include "parser.h"
#include "timeutil.h"

_Static_assert(LF_PARSER_GROUP_HEADS == LF_PARSER_NAMES,
               "a head for every output name");

enum values_group_op {
    VALUES_OP_CALL = 0, /* the handler, always */
    VALUES_OP_STR,
    VALUES_OP_OPTIONAL,
    VALUES_OP_INT,
    VALUES_OP_DURATION,
    VALUES_OP_FLOAT_LIST,
    VALUES_OP_INT_LIST,
    VALUES_OP_STR_LIST,
    VALUES_OP_ADDR,
    VALUES_OP_TIME,
};

/* The head of output i of k: its name, length and flags, and the type. */
static struct lfp_field values_group_head(const struct lf_parser_key *k, int i,
                                          uint8_t type, uint8_t flags)
{
    const struct lf_parser_rule *r = k->rule;

    if (i == 0)
        return (struct lfp_field){.key = k->key,
                                  .key_len = k->key_len,
                                  .type = type,
                                  .flags = (uint8_t)(k->key_flags | flags)};
    return (struct lfp_field){.key = r->names[i],
                              .key_len = r->name_lens[i],
                              .type = type,
                              .flags = (uint8_t)(r->name_flags[i] | flags)};
}

/* A list type's heads: the last attempt's value, the array of one
 * element, and the count of 1 when the rule names it. A list whose rule
 * names no array keeps its handler. */
static void values_group_list(struct lf_parser_group *g, uint8_t op,
                              uint8_t type, uint8_t flags)
{
    const struct lf_parser_rule *r = g->key.rule;

    if (!r || !r->names[1])
        return;
    g->op = op;
    g->head[0] = values_group_head(&g->key, 0, type, flags);
    g->head[1] = values_group_head(&g->key, 1, LFP_T_ARRAY, 0);
    g->head[1].n = 1;
    g->nheads = 2;
    if (r->names[2]) {
        g->head[2] = values_group_head(&g->key, 2, LFP_T_INT, 0);
        g->head[2].v.i = 1;
        g->nheads = 3;
    }
}

static void values_group_addr(struct lf_parser_group *g)
{
    const struct lf_parser_rule *r = g->key.rule;

    g->op = VALUES_OP_ADDR;
    g->head[0] = values_group_head(&g->key, 0, LFP_T_STR, 0);
    g->nheads = 1;
    if (r && r->names[1]) {
        g->head[1] = values_group_head(&g->key, 1, LFP_T_STR, 0);
        g->nheads = 2;
    }
}

static void values_group_scalar(struct lf_parser_group *g)
{
    static const int64_t milli_ns[7] = {1000000, 100000, 10000, 1000,
                                        100,     10,     1};
    int unit = g->key.rule ? g->key.rule->unit : 0;

    switch (g->key.type) {
    case LF_PT_STRING:
    case LF_PT_NATIVE:
        g->op = VALUES_OP_STR;
        break;
    case LF_PT_OPTIONAL:
        g->op = VALUES_OP_OPTIONAL;
        break;
    case LF_PT_INT:
        g->op = VALUES_OP_INT;
        g->head[0] = values_group_head(&g->key, 0, LFP_T_INT, 0);
        return;
    case LF_PT_DURATION:
        if (unit > 6)
            return;
        g->op = VALUES_OP_DURATION;
        g->scale = milli_ns[unit];
        g->head[0] = values_group_head(&g->key, 0, LFP_T_INT, 0);
        return;
    default:
        return;
    }
    g->head[0] = values_group_head(&g->key, 0, LFP_T_STR, LFP_FIELD_ESCAPE);
}

void lf_parser_group_init(const struct lf_parser *p, struct lf_parser_group *g,
                          uint32_t num, const char *name, size_t name_len)
{
    memset(g, 0, sizeof(*g));
    g->num = num;
    lf_parser_key_init(p, &g->key, name, name_len);
    g->emit = lf_parser_emit_value_fn(&g->key);
    g->nheads = 1;
    if (g->key.is_time) {
        g->op = VALUES_OP_TIME;
        g->is_time_kept = p->time_keep != 0;
        g->time_fmt_id = p->ntfs ? lf_timefmt_id(p->tfs[0]) : 0;
        return;
    }
    switch (g->key.type) {
    case LF_PT_FLOAT_LIST:
        values_group_list(g, VALUES_OP_FLOAT_LIST, LFP_T_FLOAT, 0);
        break;
    case LF_PT_INT_LIST:
        values_group_list(g, VALUES_OP_INT_LIST, LFP_T_INT, 0);
        break;
    case LF_PT_STR_LIST:
        /* LFP_FIELD_ESCAPE is added where a value needs it */
        values_group_list(g, VALUES_OP_STR_LIST, LFP_T_STR, 0);
        break;
    case LF_PT_ADDR:
        values_group_addr(g);
        break;
    default:
        values_group_scalar(g);
        break;
    }
}

/* A field's first 16 bytes, its key, key_len, type, flags and n: a
 * head copied in one move, its value stored after it. */
#define VALUES_FIELD_HEAD 16
_Static_assert(offsetof(struct lfp_field, v) == VALUES_FIELD_HEAD,
               "a field's value follows its 16-byte head");

/* A string field from head: s[0..n). */
static inline __attribute__((always_inline)) void
values_group_put(struct lfp_field *restrict f,
                 const struct lfp_field *restrict head, uint32_t n,
                 const char *s)
{
    memcpy(f, head, VALUES_FIELD_HEAD);
    f->n = n;
    f->v.s = s;
}

/* A number field from head (whose n is 0): i. */
static inline __attribute__((always_inline)) void
values_group_put_i(struct lfp_field *restrict f,
                   const struct lfp_field *restrict head, int64_t i)
{
    memcpy(f, head, VALUES_FIELD_HEAD);
    f->v.i = i;
}

/* A list of one attempt, whose element *elem (no key) is at the spare
 * field below the room: the value (head 0 has the element's type), the
 * array and the count. Returns the next field. */
static inline __attribute__((always_inline)) struct lfp_field *
values_group_list_one(struct lfp_field *restrict f,
                      const struct lf_parser_group *g,
                      const struct lfp_field *elem)
{
    memcpy(f, &g->head[0], VALUES_FIELD_HEAD);
    f->n = elem->n;
    f->v = elem->v;
    memcpy(f + 1, &g->head[1], VALUES_FIELD_HEAD);
    f[1].v.arr = elem;
    if (g->nheads == 2)
        return f + 2;
    f[2] = g->head[2];
    return f + 3;
}

/* The time: the string of the line before, or any other through
 * lf_parser_take_time(). Returns whether the value is taken. */
static inline __attribute__((always_inline)) int
values_group_time(struct lf_parser_line *line, const struct lf_parser_group *g,
                  const char *s, size_t n)
{
    struct lfp_record *rec = line->rec;
    int64_t ts_ns;

    if (!lf_time_parse_again(line->tc, g->time_fmt_id, s, n, &ts_ns))
        return lf_parser_take_time(line, s, n);
    rec->ts_ns = ts_ns;
    rec->flags &= ~(uint32_t)LFP_REC_TIME_ERROR;
    line->has_time = 1;
    return !g->is_time_kept;
}

/* A walk over a line's groups: the record's next field and the spare
 * room below which one-attempt arrays are taken, kept here rather than
 * in the record; inlined, the compiler keeps them in registers. */
struct values_walk {
    struct lf_parser_line *line;
    struct lfp_field *f;
    struct lfp_field *spare;
    const char *subject;
    const size_t *ov;
};

static inline __attribute__((always_inline)) void
values_walk_begin(struct values_walk *w, struct lf_parser_line *line,
                  const char *subject, const size_t *ov)
{
    struct lfp_record *rec = line->rec;

    w->line = line;
    w->f = rec->fields + rec->nfields;
    w->spare = rec->fields + rec->fields_cap;
    w->subject = subject;
    w->ov = ov;
}

/* Brings the record up to date with the walk. */
static inline __attribute__((always_inline)) void
values_walk_sync(const struct values_walk *w)
{
    struct lfp_record *rec = w->line->rec;

    rec->nfields = (uint32_t)(w->f - rec->fields);
    rec->fields_cap = (uint32_t)(w->spare - rec->fields);
}

/* A list type's value that its inline form did not take: when it is "-"
 * or "", no attempt at all (values_list_none()): the value and the array
 * null, the count 0; returns 0 for anything else, left to the handler. */
static inline __attribute__((always_inline)) int
values_group_list_none(struct values_walk *w, const struct lf_parser_group *g,
                       const char *s, size_t n)
{
    struct lfp_field *restrict f = w->f;

    if (!values_is_dash(s, n))
        return 0;
    memcpy(f, &g->head[0], VALUES_FIELD_HEAD);
    f->type = LFP_T_NULL;
    f->flags &= (uint8_t)~LFP_FIELD_ESCAPE; /* the key's flags alone */
    f->n = 0;
    f->v.i = 0;
    memcpy(f + 1, &g->head[1], VALUES_FIELD_HEAD);
    f[1].type = LFP_T_NULL;
    f[1].n = 0;
    f[1].v.i = 0;
    w->f = f + 2;
    if (g->nheads == 3) {
        f[2] = g->head[2];
        f[2].v.i = 0;
        w->f = f + 3;
    }
    return 1;
}

/* The inline path of g, with op its g->op, for s[0..n): fills the fields
 * at w->f and moves it past them, an element taken below w->spare;
 * returns 0 when the handler must take the value. */
static inline __attribute__((always_inline)) int
values_group_fast(struct values_walk *w, const struct lf_parser_group *g,
                  int op, const char *s, size_t n)
{
    struct lfp_field *restrict e;
    struct lfp_field *f;
    unsigned milli;
    int attempt;
    int64_t i;
    double d;

    switch (op) {
    case VALUES_OP_OPTIONAL:
        if (values_is_dash(s, n))
            return 1;
        /* fall through */
    case VALUES_OP_STR:
        values_group_put(w->f++, &g->head[0], (uint32_t)n, s);
        return 1;
    case VALUES_OP_INT:
        if (values_to_uint_short(s, n, &i) != 0)
            return 0;
        values_group_put_i(w->f++, &g->head[0], i);
        return 1;
    case VALUES_OP_DURATION:
        if (values_to_milli(s, n, &milli) != 0)
            return 0;
        values_group_put_i(w->f++, &g->head[0], (int64_t)milli * g->scale);
        return 1;
    case VALUES_OP_FLOAT_LIST:
        if (values_to_milli(s, n, &milli) == 0)
            d = (double)milli / 1e3;
        else if (values_fast_float(s, n, &d) != 0)
            return values_group_list_none(w, g, s, n);
        e = --w->spare;
        *e = (struct lfp_field){.type = LFP_T_FLOAT, .v.d = d};
        w->f = values_group_list_one(w->f, g, e);
        return 1;
    case VALUES_OP_INT_LIST:
        if (values_to_uint_short(s, n, &i) != 0)
            return values_group_list_none(w, g, s, n);
        e = --w->spare;
        *e = (struct lfp_field){.type = LFP_T_INT, .v.i = i};
        w->f = values_group_list_one(w->f, g, e);
        return 1;
    case VALUES_OP_STR_LIST:
        if (n - 8 > 16 - 8 || (attempt = values_attempt_8_16(s, n)) < 0)
            return values_group_list_none(w, g, s, n);
        e = --w->spare;
        *e = (struct lfp_field){.type = LFP_T_STR, .n = (uint32_t)n, .v.s = s};
        f = w->f;
        w->f = values_group_list_one(f, g, e);
        if (attempt) { /* a byte to escape: the value and its element */
            e->flags = LFP_FIELD_ESCAPE;
            f->flags |= LFP_FIELD_ESCAPE;
        }
        return 1;
    case VALUES_OP_ADDR:
        /* a dotted quad, or a plain IPv6 (at most 39 bytes): either is
         * its own IP, and needs no escaping */
        if ((n - 8 > 15 - 8 || !values_is_quad(s, n)) &&
            (n - 2 > 39 - 2 || !values_ipv6_is_plain(s, n)))
            return 0;
        values_group_put(w->f++, &g->head[0], (uint32_t)n, s);
        if (g->nheads == 2)
            values_group_put(w->f++, &g->head[1], (uint32_t)n, s);
        return 1;
    case VALUES_OP_TIME:
        return values_group_time(w->line, g, s, n);
    case VALUES_OP_CALL:
        return 0;
    default: /* every op is a case: no bound check before the jump */
        __builtin_unreachable();
    }
}

/* One group of the walk, with op its g->op and num its g->num (both
 * constants where the walk is unrolled). */
static inline __attribute__((always_inline)) void
values_group_step(struct values_walk *w, const struct lf_parser_group *g,
                  int op, size_t num)
{
    struct lfp_record *rec = w->line->rec;
    size_t start = w->ov[2 * num];
    size_t stop = w->ov[2 * num + 1];

    /* Unset (both SIZE_MAX) or past its end, in one compare: a set
     * group's end is at most the line's length, below SIZE_MAX. */
    if (start >= stop + 1)
        return;
    if (values_group_fast(w, g, op, w->subject + start, stop - start))
        return;
    /* The handler works on the record: bring it up to date, and take it
     * back after (a nested value may move the fields). */
    values_walk_sync(w);
    g->emit(w->line, &g->key, w->subject + start, stop - start);
    w->f = rec->fields + rec->nfields;
    w->spare = rec->fields + rec->fields_cap;
}

void lf_parser_emit_groups(struct lf_parser_line *line,
                           const struct lf_parser_group *g,
                           const struct lf_parser_group *end,
                           const char *subject, const size_t *ov)
{
    struct values_walk w;

    values_walk_begin(&w, line, subject, ov);
    for (; g < end; g++)
        values_group_step(&w, g, g->op, g->num);
    values_walk_sync(&w);
}

/* ---- walks unrolled for a sequence of ops ------------------------------ */

/* The groups of the built-in nginx_upstream (parsers/defs/nginx.conf),
 * by number: remote_addr addr, remote_user optional, time_local the time,
 * request_method, request_uri and http_version strings, request optional,
 * status and body_bytes_sent int, referer and user agent optional,
 * request_time duration_s, the three upstream timings float_list,
 * upstream_addr str_list, upstream_status int_list. */
#define VALUES_NGXU_GROUPS 17
static const uint8_t values_ngxu_ops[VALUES_NGXU_GROUPS] = {
    VALUES_OP_ADDR,       VALUES_OP_OPTIONAL,   VALUES_OP_TIME,
    VALUES_OP_STR,        VALUES_OP_STR,        VALUES_OP_STR,
    VALUES_OP_OPTIONAL,   VALUES_OP_INT,        VALUES_OP_INT,
    VALUES_OP_OPTIONAL,   VALUES_OP_OPTIONAL,   VALUES_OP_DURATION,
    VALUES_OP_FLOAT_LIST, VALUES_OP_FLOAT_LIST, VALUES_OP_FLOAT_LIST,
    VALUES_OP_STR_LIST,   VALUES_OP_INT_LIST};

/* lf_parser_emit_groups() unrolled for groups whose ops are
 * values_ngxu_ops: each step's op is a constant, so the walk neither
 * loops nor jumps on the op. A line with fewer groups (PCRE2 stopped
 * before the last) takes the loop. */
static void values_walk_ngxu(struct lf_parser_line *line,
                             const struct lf_parser_group *g,
                             const struct lf_parser_group *end,
                             const char *subject, const size_t *ov)
{
    struct values_walk w;

    if (end - g != VALUES_NGXU_GROUPS) {
        lf_parser_emit_groups(line, g, end, subject, ov);
        return;
    }
    values_walk_begin(&w, line, subject, ov);
#pragma GCC unroll 17
    for (int i = 0; i < VALUES_NGXU_GROUPS; i++)
        values_group_step(&w, &g[i], values_ngxu_ops[i], (size_t)i + 1);
    values_walk_sync(&w);
}

lf_parser_walk_fn lf_parser_walk_find(const struct lf_parser_group *g, size_t n)
{
    if (n != VALUES_NGXU_GROUPS)
        return lf_parser_emit_groups;
    for (size_t i = 0; i < n; i++)
        if (g[i].op != values_ngxu_ops[i] || g[i].num != i + 1)
            return lf_parser_emit_groups;
    return values_walk_ngxu;
}
