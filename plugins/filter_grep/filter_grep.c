/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filter_grep.c - the `grep` filter: keep or drop records by a field regex.
 *
 *   regex   KEY PATTERN   keep only records whose KEY matches (all rules)
 *   exclude KEY PATTERN   drop records whose KEY matches (any rule)
 *
 * KEY "message" (or "log") on a record without that field matches the raw
 * line, so grep works without a parser too. A record lacking KEY does not
 * match. Dropped records are flagged LFP_REC_DROPPED and counted by the
 * engine, never removed silently. Patterns are compiled once with PCRE2 JIT;
 * each worker has its own match data.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <logferry/plugin.h>

struct grep_conf {
    struct lfp_list regex;
    struct lfp_list exclude;
};

struct grep_rule {
    char *key;
    size_t key_len;
    pcre2_code *re;
    int exclude;
};

struct grep_ctx {
    const struct lfp_host *host;
    struct grep_rule *rules;
    size_t nrules;
};

static const struct lfp_option grep_options[] = {
    {.name = "regex",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct grep_conf, regex),
     .desc = "KEY PATTERN: keep only records whose field KEY matches the "
             "PCRE2 PATTERN; repeat for more rules (all must match)."},
    {.name = "exclude",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct grep_conf, exclude),
     .desc = "KEY PATTERN: drop records whose field KEY matches the PCRE2 "
             "PATTERN; repeat for more rules (any match drops)."},
    {0},
};

/* Splits "KEY PATTERN" and compiles PATTERN. */
static int grep_rule_init(struct grep_rule *r, const struct lfp_host *host,
                          const char *spec, int exclude, struct lfp_err *err)
{
    const char *sp = strpbrk(spec, " \t");
    const char *pat;
    PCRE2_SIZE off;
    int code;

    if (!sp || sp == spec) {
        (void)snprintf(err->msg, sizeof(err->msg), "'%s': expected KEY PATTERN",
                       spec);
        return err->rc = LFP_ERR_CONFIG;
    }
    pat = sp + strspn(sp, " \t");
    r->key_len = (size_t)(sp - spec);
    r->key = host->mem_alloc(r->key_len + 1);
    memcpy(r->key, spec, r->key_len);
    r->key[r->key_len] = '\0';
    r->exclude = exclude;
    r->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &code,
                          &off, NULL);
    if (!r->re) {
        PCRE2_UCHAR msg[160];
        (void)pcre2_get_error_message(code, msg, sizeof(msg));
        (void)snprintf(err->msg, sizeof(err->msg),
                       "pattern '%s': %s at offset %zu", pat, (const char *)msg,
                       (size_t)off);
        return err->rc = LFP_ERR_CONFIG;
    }
    (void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* falls back */
    return LFP_OK;
}

static void grep_destroy(void *vctx)
{
    struct grep_ctx *ctx = vctx;

    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->nrules; i++) {
        ctx->host->mem_free(ctx->rules[i].key);
        pcre2_code_free(ctx->rules[i].re);
    }
    ctx->host->mem_free(ctx->rules);
    ctx->host->mem_free(ctx);
}

static int grep_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *vconf, void **out, struct lfp_err *err)
{
    const struct grep_conf *conf = vconf;
    struct grep_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));
    size_t n = conf->regex.n + conf->exclude.n;

    (void)ins;
    ctx->host = host;
    ctx->rules = host->mem_calloc(n ? n : 1, sizeof(struct grep_rule));
    for (size_t i = 0; i < n; i++) {
        int ex = i >= conf->regex.n;
        const char *spec =
            ex ? conf->exclude.items[i - conf->regex.n] : conf->regex.items[i];
        ctx->nrules++;
        if (grep_rule_init(&ctx->rules[i], host, spec, ex, err) != LFP_OK) {
            grep_destroy(ctx);
            return LFP_ERR_CONFIG;
        }
    }
    *out = ctx;
    return LFP_OK;
}

static int grep_validate(const void *vconf, struct lfp_err *err)
{
    const struct grep_conf *conf = vconf;

    if (conf->regex.n + conf->exclude.n > 0)
        return LFP_OK;
    (void)snprintf(err->msg, sizeof(err->msg),
                   "needs at least one 'regex' or 'exclude' rule");
    return err->rc = LFP_ERR_CONFIG;
}

static void *grep_worker_new(void *vctx)
{
    (void)vctx;
    return pcre2_match_data_create(32, NULL);
}

static void grep_worker_free(void *vctx, void *wctx)
{
    (void)vctx;
    pcre2_match_data_free(wctx);
}

/* Whether rule r matches rec; records without the key do not match. */
static int grep_match(const struct grep_ctx *ctx, const struct grep_rule *r,
                      const struct lfp_record *rec, pcre2_match_data *md)
{
    const struct lfp_field *f = ctx->host->record_get(rec, r->key, r->key_len);
    const char *s;
    size_t n;

    if (f && f->type == LFP_T_STR) {
        s = f->v.s;
        n = f->n;
    } else if (!f &&
               (strcmp(r->key, "message") == 0 || strcmp(r->key, "log") == 0)) {
        s = rec->raw;
        n = rec->raw_len;
    } else {
        return 0; /* absent or not a string */
    }
    return pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, 0, md, NULL) >= 0;
}

static void grep_filter(void *vctx, void *wctx, struct lfp_chunk *chunk)
{
    const struct grep_ctx *ctx = vctx;

    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        for (size_t j = 0; j < ctx->nrules; j++) {
            const struct grep_rule *r = &ctx->rules[j];
            int m = grep_match(ctx, r, rec, wctx);
            if (m == r->exclude) {
                rec->flags |= LFP_REC_DROPPED;
                break;
            }
        }
    }
}

const struct lfp_filter_def filter_grep_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_filter_def),
    .name = "grep",
    .summary = "Keep or drop records by matching a field against a regex.",
    .options = grep_options,
    .conf_size = sizeof(struct grep_conf),
    .validate = grep_validate,
    .init = grep_init,
    .worker_new = grep_worker_new,
    .worker_free = grep_worker_free,
    .filter = grep_filter,
    .destroy = grep_destroy,
};
