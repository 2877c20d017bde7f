/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_es.c - the `es` output: records to Elasticsearch or OpenSearch
 * through the _bulk API.
 *
 * A flush encodes the chunk once (es_bulk.c), then runs rounds
 * (es_round.c) until every document is indexed or rejected:
 *
 *   encode ──► round ──► all settled? ──► OK (chunk acknowledged)
 *                │
 *                ├─ some progress, some refused (429/5xx items):
 *                │     back off, send only the refused ones again,
 *                │     up to item_retries rounds
 *                └─ no progress (node down, whole request refused) or
 *                      item_retries used up: RETRY, the engine backs off
 *                      and hands the same chunk back; the batch is kept,
 *                      so settled documents are not sent again
 *
 * Delivery is at-least-once and, with generated ids, idempotent: a
 * document sent twice overwrites itself. Rejected documents (mapping and
 * parse errors) go to rejected_path with the server's reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "es_ctx.h"
#include "es_json.h"

static void es_encoder_init(struct es_ctx *ctx)
{
    const struct es_conf *conf = ctx->conf;
    struct es_encoder *enc = &ctx->enc;

    memset(enc, 0, sizeof(*enc));
    enc->host = ctx->host;
    enc->index_fmt = conf->index;
    enc->has_date = strchr(conf->index, '%') != NULL;
    enc->op = conf->op_type == ES_OP_CREATE ? "create" : "index";
    enc->id_key = conf->id_key;
    enc->generate_id = conf->generate_id;
    enc->type = conf->compat == ES_COMPAT_ES6 ? "_doc" : NULL;
}

static int es_open_rejected(struct es_ctx *ctx, struct lfp_err *err)
{
    const char *path = ctx->conf->rejected_path;

    ctx->rejected_fd = -1;
    if (!path)
        return LFP_OK;
    ctx->rejected_fd =
        open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (ctx->rejected_fd < 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "open rejected_path %s: %s",
                       path, strerror(errno));
        err->rc = LFP_ERR_IO;
        return LFP_ERR_IO;
    }
    return LFP_OK;
}

static void es_destroy(void *vctx);

static int es_init(struct lfp_instance *ins, const struct lfp_host *host,
                   const void *conf, void **out, struct lfp_err *err)
{
    struct es_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    ctx->conf = conf;
    ctx->host = host;
    ctx->ins = ins;
    ctx->rejected_fd = -1;
    ctx->piece_limit = (size_t)ctx->conf->bulk_max_bytes;
    ctx->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)ctx;
    ctx->is_detected = ctx->conf->compat != ES_COMPAT_AUTO;
    es_encoder_init(ctx);
    if (es_open_rejected(ctx, err) != LFP_OK ||
        es_http_init(&ctx->http, host, ctx->conf, err) != LFP_OK) {
        es_destroy(ctx);
        return err->rc;
    }
    *out = ctx;
    return LFP_OK;
}

/* GET / tells the flavour and version: Elasticsearch before 7 needs a
 * _type in every action. Failing to ask is a retry (the cluster may just
 * be down); an answer we cannot read means a modern typeless server. */
static int es_detect(struct es_ctx *ctx, struct lfp_err *err)
{
    struct es_buf resp = {0};
    long status = 0;
    const char *ver, *num, *dist, *end;
    const char *dist_s = "elasticsearch", *num_s = "?";
    size_t dist_n = 13, num_n = 1;
    int64_t major = 0;

    if (es_http_get(&ctx->http, "/", &resp, &status, err) != LFP_OK)
        return LFP_ERR_AGAIN;
    end = resp.data + resp.len;
    if (status != 200) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "GET / answered HTTP %ld (credentials?)", status);
        es_buf_free(ctx->host, &resp);
        return LFP_ERR_AGAIN;
    }
    ver = es_json_get(resp.data, end, "version");
    num = ver ? es_json_get(ver, end, "number") : NULL;
    dist = ver ? es_json_get(ver, end, "distribution") : NULL;
    if (dist)
        (void)es_json_str(dist, end, &dist_s, &dist_n);
    if (num && es_json_str(num, end, &num_s, &num_n) == 0)
        (void)es_json_int(num_s, num_s + num_n, &major);
    if (major > 0 && major < 7 &&
        !(dist_n == 10 && memcmp(dist_s, "opensearch", 10) == 0))
        ctx->enc.type = "_doc";
    ctx->host->log(ctx->ins, LFP_LOG_INFO, "server is %.*s %.*s%s", (int)dist_n,
                   dist_s, (int)num_n, num_s,
                   ctx->enc.type ? " (typed bulk actions)" : "");
    es_buf_free(ctx->host, &resp);
    ctx->is_detected = 1;
    return LFP_OK;
}

/* Full jitter: a uniform wait in [0, min(30 s, base * 2^attempt)]. */
static void es_backoff(struct es_ctx *ctx, unsigned attempt)
{
    int64_t cap = ctx->conf->item_retry_base_ms;

    for (unsigned i = 0; i < attempt && cap < 30000; i++)
        cap *= 2;
    if (cap > 30000)
        cap = 30000;
    (void)poll(NULL, 0,
               (int)((double)rand_r(&ctx->seed) / ((double)RAND_MAX + 1.0) *
                     (double)(cap + 1)));
}

static int es_give_back(struct es_ctx *ctx, const struct es_round *rr,
                        struct lfp_err *err)
{
    (void)snprintf(
        err->msg, sizeof(err->msg), "%zu of %zu documents not indexed yet: %s",
        ctx->batch.npending, ctx->batch.ndocs,
        rr->reason[0] ? rr->reason : "refused with 429/5xx (server busy)");
    err->rc = LFP_ERR_AGAIN;
    return LFP_FLUSH_RETRY;
}

static int es_flush(void *vctx, const struct lfp_chunk *chunk,
                    struct lfp_err *err)
{
    struct es_ctx *ctx = vctx;
    unsigned attempt = 0;

    if (!ctx->is_detected && es_detect(ctx, err) != LFP_OK)
        return LFP_FLUSH_RETRY;
    if (!es_batch_matches(&ctx->batch, chunk))
        es_batch_encode(&ctx->enc, &ctx->batch, chunk);
    for (;;) {
        struct es_round rr = {0};

        if (ctx->batch.npending > 0)
            es_round_run(ctx, &rr);
        if (es_round_write_rejected(ctx, err) != LFP_OK)
            return LFP_FLUSH_RETRY;
        if (ctx->batch.npending == 0) {
            es_batch_reset(&ctx->batch);
            return LFP_FLUSH_OK;
        }
        if (rr.must_resplit)
            continue; /* smaller requests now: not a failed attempt */
        if (rr.settled == 0 || rr.is_fatalish ||
            attempt >= (unsigned)ctx->conf->item_retries)
            return es_give_back(ctx, &rr, err);
        ctx->host->counter_add(ctx->ins, LFP_CNT_RETRIES, ctx->batch.npending);
        es_backoff(ctx, attempt++);
    }
}

static void es_destroy(void *vctx)
{
    struct es_ctx *ctx = vctx;
    const struct es_stats *st;

    if (!ctx)
        return;
    st = &ctx->st;
    if (st->requests > 0)
        ctx->host->log(ctx->ins, LFP_LOG_INFO,
                       "es stats indexed=%llu duplicates=%llu rejected=%llu "
                       "item_retries=%llu requests=%llu failed_requests=%llu "
                       "bytes_sent=%llu",
                       (unsigned long long)st->indexed,
                       (unsigned long long)st->duplicates,
                       (unsigned long long)st->rejected,
                       (unsigned long long)st->item_retries,
                       (unsigned long long)st->requests,
                       (unsigned long long)st->failed_requests,
                       (unsigned long long)st->bytes_sent);
    es_http_fini(&ctx->http);
    es_batch_free(ctx->host, &ctx->batch);
    es_buf_free(ctx->host, &ctx->rejbuf);
    ctx->host->mem_free(ctx->rej_docs);
    ctx->host->mem_free(ctx->send);
    if (ctx->rejected_fd >= 0)
        (void)close(ctx->rejected_fd);
    ctx->host->mem_free(ctx);
}

const struct lfp_output_def out_es_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "es",
    .summary = "Index records into Elasticsearch or OpenSearch with the "
               "_bulk API.",
    .options = es_options,
    .conf_size = sizeof(struct es_conf),
    .validate = es_conf_validate,
    .init = es_init,
    .flush = es_flush,
    .destroy = es_destroy,
};
