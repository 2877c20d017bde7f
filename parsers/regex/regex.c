/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex.c - the regex parser engine: a PCRE2 pattern whose named groups
 * become the record's fields.
 *
 * The pattern is compiled once, 8-bit and without UTF (PCRE2_NEVER_UTF, so
 * a (*UTF) in the pattern cannot turn it on): lines are bytes and may hold
 * invalid UTF-8, and the JIT does no UTF check that could reject them or,
 * worse, be skipped on invalid input. JIT compilation is used when the
 * platform has it; the interpreter otherwise.
 *
 * At init every named group gets a struct lf_parser_group (values.h): its
 * number, a resolved struct lf_parser_key (name from PCRE2's name table,
 * which lives as long as the code, or its rename; type; time key), its
 * type's handler and the fields it becomes, sorted by group number.
 * Per line there is one match, one reservation of the most fields the
 * groups may add, and one walk over that array (values.h: the walk
 * lf_parser_walk_find() picked at init, which reads the common forms
 * inline, unrolled for the built-in nginx_upstream's types): values
 * point into the raw line, nothing is copied, no name is compared.
 *
 * Each worker owns its match data, match context and JIT stack.
 *
 * A pattern that has a hand-written matcher (regex_fast.c: found by its
 * exact text, so `base` definitions inherit it) is tried with that first;
 * it fills the ovector as PCRE2 would, and PCRE2 runs only on the lines
 * it leaves undecided.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "parser.h"
#include "regex_fast.h"

#include "../values/values.h"

#define REGEX_JIT_STACK_MIN ((PCRE2_SIZE)32 << 10)
#define REGEX_JIT_STACK_MAX ((PCRE2_SIZE)512 << 10)

/* A fast matcher fills the match data's ovector in place. */
_Static_assert(sizeof(PCRE2_SIZE) == sizeof(size_t) &&
                   LF_REGEX_FAST_UNSET == PCRE2_UNSET,
               "regex_fast.h offsets are PCRE2's");

struct regex_ctx {
    pcre2_general_context *gctx;
    pcre2_code *code;
    int is_jit;
    lf_regex_fast_fn fast;  /* hand-written matcher for this pattern, or NULL */
    lf_parser_walk_fn walk; /* adds the groups' values (values.h) */
    uint32_t ngroups;
    uint32_t nfields;               /* fields a line may add, at most */
    struct lf_parser_group *groups; /* named groups by number */
};

struct regex_worker {
    pcre2_match_data *md;
    PCRE2_SIZE *ov; /* md's ovector, of ov_pairs pairs */
    uint32_t ov_pairs;
    pcre2_match_context *mctx;
    pcre2_jit_stack *stack;
};

static void *regex_malloc(PCRE2_SIZE n, void *data)
{
    (void)data;
    return lf_malloc(n);
}

static void regex_free(void *p, void *data)
{
    (void)data;
    lf_free(p);
}

static int regex_group_cmp(const void *a, const void *b)
{
    const struct lf_parser_group *ga = a, *gb = b;

    return ga->num < gb->num ? -1 : ga->num > gb->num;
}

/* Reads the name table into ctx->groups. */
static int regex_groups(const struct lf_parser *p, struct regex_ctx *ctx,
                        struct lfp_err *err)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;

    (void)pcre2_pattern_info(ctx->code, PCRE2_INFO_NAMECOUNT, &count);
    (void)pcre2_pattern_info(ctx->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    (void)pcre2_pattern_info(ctx->code, PCRE2_INFO_NAMETABLE, &table);
    if (count == 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "regex has no named group such as (?<status>...)");
    ctx->groups = lf_calloc(count, sizeof(*ctx->groups));
    ctx->ngroups = count;
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry_size;
        const char *name = (const char *)e + 2;

        lf_parser_group_init(p, &ctx->groups[i], (uint32_t)e[0] << 8 | e[1],
                             name, strlen(name));
        ctx->nfields += lf_parser_emit_room(&ctx->groups[i].key);
    }
    qsort(ctx->groups, count, sizeof(*ctx->groups), regex_group_cmp);
    ctx->walk = lf_parser_walk_find(ctx->groups, count);
    return LFP_OK;
}

static int regex_check_time_key(const struct regex_ctx *ctx,
                                const struct lf_parser_conf *conf,
                                struct lfp_err *err)
{
    if (!conf->time_key)
        return LFP_OK;
    for (uint32_t i = 0; i < ctx->ngroups; i++)
        if (ctx->groups[i].key.is_time)
            return LFP_OK;
    return lf_err_set(err, LFP_ERR_CONFIG,
                      "time_key %s is not a named group of the regex",
                      conf->time_key);
}

static int regex_compile(struct regex_ctx *ctx, const char *pattern,
                         struct lfp_err *err)
{
    pcre2_compile_context *cctx = pcre2_compile_context_create(ctx->gctx);
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE offset = 0;
    int code = 0;

    ctx->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                              PCRE2_NEVER_UTF, &code, &offset, cctx);
    pcre2_compile_context_free(cctx);
    if (!ctx->code) {
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            msg[0] = '\0';
        return lf_err_set(err, LFP_ERR_CONFIG, "regex: %s at offset %zu",
                          (const char *)msg, (size_t)offset);
    }
    /* Without JIT support the interpreter runs the same pattern. */
    ctx->is_jit = pcre2_jit_compile(ctx->code, PCRE2_JIT_COMPLETE) == 0;
    return LFP_OK;
}

static void regex_destroy(void *ectx)
{
    struct regex_ctx *ctx = ectx;

    if (!ctx)
        return;
    lf_free(ctx->groups);
    pcre2_code_free(ctx->code);
    pcre2_general_context_free(ctx->gctx);
    lf_free(ctx);
}

static int regex_init(struct lf_parser *p, const struct lf_parser_conf *conf,
                      void **ectx, struct lfp_err *err)
{
    struct regex_ctx *ctx = lf_calloc(1, sizeof(*ctx));
    int rc;

    ctx->gctx = pcre2_general_context_create(regex_malloc, regex_free, NULL);
    rc = regex_compile(ctx, conf->regex, err);
    if (rc == LFP_OK)
        rc = regex_groups(p, ctx, err);
    if (rc == LFP_OK)
        rc = regex_check_time_key(ctx, conf, err);
    if (rc != LFP_OK) {
        regex_destroy(ctx);
        return rc;
    }
    ctx->fast = lf_regex_fast_find(conf->regex);
    if (ctx->fast)
        lf_log_debug("parser",
                     "%s: regex has a hand-written matcher, PCRE2 "
                     "takes the lines it leaves undecided",
                     lf_parser_name(p));
    *ectx = ctx;
    return LFP_OK;
}

static void *regex_worker_new(const void *ectx)
{
    const struct regex_ctx *ctx = ectx;
    struct regex_worker *rw = lf_calloc(1, sizeof(*rw));

    rw->md = pcre2_match_data_create_from_pattern(ctx->code, ctx->gctx);
    rw->ov = pcre2_get_ovector_pointer(rw->md);
    rw->ov_pairs = pcre2_get_ovector_count(rw->md);
    rw->mctx = pcre2_match_context_create(ctx->gctx);
    if (ctx->is_jit) {
        rw->stack = pcre2_jit_stack_create(REGEX_JIT_STACK_MIN,
                                           REGEX_JIT_STACK_MAX, ctx->gctx);
        pcre2_jit_stack_assign(rw->mctx, NULL, rw->stack);
    }
    return rw;
}

static void regex_worker_free(void *ewctx)
{
    struct regex_worker *rw = ewctx;

    if (!rw)
        return;
    pcre2_jit_stack_free(rw->stack);
    pcre2_match_context_free(rw->mctx);
    pcre2_match_data_free(rw->md);
    lf_free(rw);
}

static int regex_parse(const void *ectx, void *ewctx,
                       struct lf_parser_line *line)
{
    const struct regex_ctx *ctx = ectx;
    struct regex_worker *rw = ewctx;
    struct lfp_record *rec = line->rec;
    PCRE2_SPTR subject = (PCRE2_SPTR)(rec->raw ? rec->raw : "");
    const PCRE2_SIZE *ov = rw->ov;
    const char *raw = (const char *)subject;
    const struct lf_parser_group *g = ctx->groups, *g_end = g + ctx->ngroups;
    int rc = 0;

    if (ctx->fast) /* 0: undecided, PCRE2 answers */
        rc = ctx->fast((const char *)subject, rec->raw_len, rw->ov,
                       rw->ov_pairs);
    if (rc <= 0)
        rc = ctx->is_jit ? pcre2_jit_match(ctx->code, subject, rec->raw_len, 0,
                                           0, rw->md, rw->mctx)
                         : pcre2_match(ctx->code, subject, rec->raw_len, 0, 0,
                                       rw->md, rw->mctx);
    if (rc <= 0) /* no match, or a match or stack limit hit */
        return LFP_ERR_PARSE;
    lf_record_reserve(line->chunk, rec, ctx->nfields);
    /* Groups from the first numbered rc on are unset: the walk stops
     * before them. */
    while (g_end > g && g_end[-1].num >= (uint32_t)rc)
        g_end--;
    ctx->walk(line, g, g_end, raw, ov);
    return LFP_OK;
}

const struct lf_parser_engine lf_parser_engine_regex = {
    .name = "regex",
    .init = regex_init,
    .worker_new = regex_worker_new,
    .worker_free = regex_worker_free,
    .parse = regex_parse,
    .destroy = regex_destroy,
};
