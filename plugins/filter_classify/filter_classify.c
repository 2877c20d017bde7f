/* SPDX-License-Identifier: Apache-2.0 */
/*
 * filter_classify.c - the `classify` filter: names the upstream failure a
 * record shows, in one taxonomy for every proxy format.
 *
 * For each record it gathers the evidence fields with the worker's finder
 * (logferry/find.h: records of one layout cost one compare per key), asks
 * classify_decide() (the rules, classify_rules.c) unless classify_is_quiet()
 * shows no failure at a glance, and adds:
 *
 *   event.outcome           "failure" when the status is failure_status or
 *                           above or the final upstream attempt failed,
 *                           else "success" (records without a status get
 *                           it only when they show a failure)
 *   upstream.error          the class, e.g. "upstream_timeout"
 *   upstream.failed_attempt 1-based attempt the class describes, for
 *                           requests that were tried more than once
 *
 * Parse errors and dropped records are left alone. The keys and strings
 * added are static; only the chunk's arena grows (record_add). Per worker:
 * the finder, which remembers where the keys were in the last record.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <logferry/find.h>
#include <logferry/plugin.h>

#include "classify_conf.h"
#include "classify_rules.h"

/* A key the filter adds, stored as the JSON writer's framed key
 * (LFP_FIELD_KEY_FRAMED): ,"name": and zeros to 32 bytes, so separator,
 * key and colon go out in one fixed-size move. A name over 28 bytes does
 * not fit the frame: its initializer is too long, an error with -Werror. */
struct classify_frame_key {
    char frame[32];
    uint16_t len;
};

#define CLASSIFY_KEY(name)                                                     \
    {                                                                          \
        .frame = ",\"" name "\":", .len = sizeof(name) - 1                     \
    }

static const struct classify_frame_key classify_key_outcome =
    CLASSIFY_KEY("event.outcome");
static const struct classify_frame_key classify_key_error =
    CLASSIFY_KEY("upstream.error");
static const struct classify_frame_key classify_key_failed_attempt =
    CLASSIFY_KEY("upstream.failed_attempt");

/* Static storage, plain ASCII, framed. */
#define CLASSIFY_KEY_FLAGS                                                     \
    (LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN | LFP_FIELD_KEY_FRAMED)

static void classify_set_key(struct lfp_field *f,
                             const struct classify_frame_key *k)
{
    f->key = k->frame + 2;
    f->key_len = k->len;
    f->flags = CLASSIFY_KEY_FLAGS;
}

struct classify_ctx {
    const struct lfp_host *host;
    int64_t failure_status;
    const char *keys[CLASSIFY_K__COUNT]; /* borrowed from the conf */
};

static int classify_init(struct lfp_instance *ins, const struct lfp_host *host,
                         const void *vconf, void **out, struct lfp_err *err)
{
    const struct classify_conf *conf = vconf;
    struct classify_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    (void)ins;
    (void)err;
    ctx->host = host;
    ctx->failure_status = conf->failure_status;
    for (int i = 0; i < CLASSIFY_K__COUNT; i++)
        ctx->keys[i] = conf->keys[i]; /* conf outlives the instance */
    *out = ctx;
    return LFP_OK;
}

static void classify_destroy(void *vctx)
{
    struct classify_ctx *ctx = vctx;

    if (ctx)
        ctx->host->mem_free(ctx);
}

static void *classify_worker_new(void *vctx)
{
    const struct classify_ctx *ctx = vctx;
    struct lfp_find *fd = ctx->host->mem_calloc(1, sizeof(*fd));

    lfp_find_init(fd, ctx->keys, CLASSIFY_K__COUNT);
    return fd;
}

static void classify_worker_free(void *vctx, void *wctx)
{
    const struct classify_ctx *ctx = vctx;

    ctx->host->mem_free(wctx);
}

/* s: static, plain ASCII (no LFP_FIELD_ESCAPE). */
static void classify_add_str(const struct classify_ctx *ctx,
                             struct lfp_chunk *chunk, struct lfp_record *rec,
                             const struct classify_frame_key *k, const char *s)
{
    struct lfp_field *f = ctx->host->record_add(chunk, rec);

    classify_set_key(f, k);
    f->type = LFP_T_STR;
    f->n = (uint32_t)strlen(s);
    f->v.s = s;
}

/* ev: the caller's, filled here (lfp_find_fields sets every entry). */
static void classify_record(const struct classify_ctx *ctx, struct lfp_find *fd,
                            struct lfp_chunk *chunk, struct lfp_record *rec,
                            struct classify_evidence *ev)
{
    struct classify_result res;
    const struct lfp_field *st;
    const char *outcome = NULL;
    int is_failure;

    lfp_find_fields(fd, rec, ev->f);
    if (classify_is_quiet(ev)) /* res.attempts is not read here */
        res = (struct classify_result){.is_final = 1};
    else
        classify_decide(ev, &res);
    st = ev->f[CLASSIFY_K_STATUS];
    is_failure = res.cls != CLASSIFY_NONE && res.is_final;
    if (st && st->type == LFP_T_INT)
        outcome = is_failure || st->v.i >= ctx->failure_status ? "failure"
                                                               : "success";
    else if (is_failure)
        outcome = "failure";
    if (outcome)
        classify_add_str(ctx, chunk, rec, &classify_key_outcome, outcome);
    if (res.cls == CLASSIFY_NONE)
        return;
    classify_add_str(ctx, chunk, rec, &classify_key_error,
                     classify_class_name(res.cls));
    if (res.failed_attempt) {
        struct lfp_field *f = ctx->host->record_add(chunk, rec);
        classify_set_key(f, &classify_key_failed_attempt);
        f->type = LFP_T_INT;
        f->v.i = res.failed_attempt;
    }
}

static void classify_filter(void *vctx, void *wctx, struct lfp_chunk *chunk)
{
    const struct classify_ctx *ctx = vctx;
    /* Cleared once, not per record: the finder sets every entry. */
    struct classify_evidence ev = {{0}};

    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & (LFP_REC_DROPPED | LFP_REC_PARSE_ERROR))
            continue;
        classify_record(ctx, wctx, chunk, rec, &ev);
    }
}

const struct lfp_filter_def filter_classify_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_filter_def),
    .name = "classify",
    .summary = "Add event.outcome and the class of upstream failure "
               "(upstream.error, see docs/taxonomy.md) from status codes, "
               "nginx error messages, Envoy response flags and HAProxy "
               "termination states.",
    .options = classify_options,
    .conf_size = sizeof(struct classify_conf),
    .init = classify_init,
    .worker_new = classify_worker_new,
    .worker_free = classify_worker_free,
    .filter = classify_filter,
    .destroy = classify_destroy,
};
