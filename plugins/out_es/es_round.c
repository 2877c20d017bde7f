/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_round.c - one round of a flush: send the pending documents, read
 * what the server said about each, and sort them (es_ctx.h).
 *
 *   pending docs ──► cut into requests (≤ bulk_max_bytes, about
 *                    total/workers each) ──► up to `workers` in flight
 *   per request:  transport error, 429, 5xx ──► all its docs stay PENDING
 *                 413 ──► resplit smaller (a single doc: rejected)
 *                 other 4xx ──► all its docs rejected, with the answer
 *                 200 ──► per item: 2xx DONE, 409 on create DONE,
 *                          429/5xx PENDING, other REJECTED
 *
 * Rejected documents are collected and written to rejected_path after the
 * round, one JSON line each: the time, the item's status, the server's
 * error object verbatim, the action line and the document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "es_ctx.h"
#include "es_json.h"

#define ES_MIN_PIECE ((size_t)256 << 10)
/* 413 halves the request size down to this, then it is a plain failure. */
#define ES_MIN_SPLIT ((size_t)4 << 10)

static void es_round_reason(struct es_round *rr, const char *fmt, ...)
    LFP_PRINTF(2, 3);

/* Keeps the first failure of the round: the one an operator needs. */
static void es_round_reason(struct es_round *rr, const char *fmt, ...)
{
    va_list ap;

    if (rr->reason[0])
        return;
    va_start(ap, fmt);
    (void)vsnprintf(rr->reason, sizeof(rr->reason), fmt, ap);
    va_end(ap);
}

/* ---- rejected documents ------------------------------------------------ */

static void es_now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    char sec[24];

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm))
        memset(&tm, 0, sizeof(tm));
    (void)strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(out, 32, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

/* Marks doc rejected and queues its line: error is the server's JSON
 * error object (or NULL: one is made of fallback_type). */
static void es_reject(struct es_ctx *ctx, size_t di, long status,
                      const char *error, size_t error_len,
                      const char *fallback_type)
{
    const struct lfp_host *host = ctx->host;
    struct es_doc *doc = &ctx->batch.docs[di];
    const char *action = ctx->batch.body.data + doc->off;
    char head[128];
    char now[32];
    int n;

    doc->state = ES_DOC_REJECTED;
    if (ctx->nrej == ctx->rej_cap) {
        ctx->rej_cap = ctx->rej_cap ? ctx->rej_cap * 2 : 64;
        ctx->rej_docs =
            host->mem_realloc(ctx->rej_docs, ctx->rej_cap * sizeof(size_t));
    }
    ctx->rej_docs[ctx->nrej++] = di;
    es_now_iso(now);
    n = snprintf(head, sizeof(head), "{\"time\":\"%s\",\"status\":%ld,", now,
                 status);
    es_buf_append(host, &ctx->rejbuf, head, (size_t)n);
    es_buf_append(host, &ctx->rejbuf, "\"error\":", 8);
    if (error) {
        es_buf_append(host, &ctx->rejbuf, error, error_len);
    } else {
        n = snprintf(head, sizeof(head), "{\"type\":\"%s\"}", fallback_type);
        es_buf_append(host, &ctx->rejbuf, head, (size_t)n);
    }
    es_buf_append(host, &ctx->rejbuf, ",\"action\":", 10);
    es_buf_append(host, &ctx->rejbuf, action, doc->src_off - 1);
    es_buf_append(host, &ctx->rejbuf, ",\"document\":", 12);
    es_buf_append(host, &ctx->rejbuf, action + doc->src_off,
                  doc->len - doc->src_off - 1);
    es_buf_append(host, &ctx->rejbuf, "}\n", 2);
    if (!ctx->rej_reason[0] && error)
        (void)snprintf(ctx->rej_reason, sizeof(ctx->rej_reason), "%.*s",
                       (int)error_len, error);
}

static int es_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int es_round_write_rejected(struct es_ctx *ctx, struct lfp_err *err)
{
    int e = 0;
    size_t n = ctx->nrej;

    if (n == 0)
        return LFP_OK;
    if (ctx->rejected_fd >= 0)
        e = es_write_all(ctx->rejected_fd, ctx->rejbuf.data, ctx->rejbuf.len);
    ctx->rejbuf.len = 0;
    ctx->nrej = 0;
    if (e != 0) {
        /* Not written: they go again, and are rejected again, until the
         * file takes them. Nothing is lost in between. */
        for (size_t i = 0; i < n; i++)
            ctx->batch.docs[ctx->rej_docs[i]].state = ES_DOC_PENDING;
        ctx->batch.npending += n;
        (void)snprintf(err->msg, sizeof(err->msg), "write %s: %s",
                       ctx->conf->rejected_path, strerror(e));
        err->rc = LFP_ERR_IO;
        return LFP_ERR_IO;
    }
    ctx->st.rejected += n;
    ctx->host->counter_add(ctx->ins, LFP_CNT_ERRORS, n);
    if (ctx->rejected_fd < 0)
        ctx->host->counter_add(ctx->ins, LFP_CNT_DROPPED, n);
    ctx->host->log(ctx->ins, LFP_LOG_WARN, "%zu documents rejected%s: %s", n,
                   ctx->rejected_fd >= 0 ? " (written to rejected_path)"
                                         : " and dropped (no rejected_path)",
                   ctx->rej_reason);
    ctx->rej_reason[0] = '\0';
    return LFP_OK;
}

/* ---- answers ---------------------------------------------------------- */

static void es_item_result(struct es_ctx *ctx, size_t di, const char *item,
                           const char *end)
{
    const char *key, *obj, *err_v, *err_end;
    size_t key_len;
    int64_t status = 0;

    obj = es_json_first(item, end, &key, &key_len);
    if (!obj ||
        es_json_int(es_json_get(obj, end, "status"), end, &status) != 0) {
        ctx->st.item_retries++; /* unreadable: send it again */
        return;
    }
    if (status >= 200 && status < 300) {
        ctx->st.indexed++;
    } else if (status == 409 && ctx->conf->op_type == ES_OP_CREATE) {
        ctx->st.duplicates++;
    } else if (status == 429 || status >= 500) {
        ctx->st.item_retries++;
        return;
    } else {
        err_v = es_json_get(obj, end, "error");
        err_end = err_v ? es_json_skip(err_v, end) : NULL;
        es_reject(ctx, di, (long)status, err_end ? err_v : NULL,
                  err_end ? (size_t)(err_end - err_v) : 0, "unknown");
        ctx->batch.npending--;
        return;
    }
    ctx->batch.docs[di].state = ES_DOC_DONE;
    ctx->batch.npending--;
}

/* A 200 answer: {"errors":false} settles every document at once; with
 * errors, items[i] is the answer for the i-th document of the request. */
static void es_apply_items(struct es_ctx *ctx, const struct es_req *req,
                           struct es_round *rr)
{
    const char *p = req->resp.data, *end = p + req->resp.len;
    const char *errors = es_json_get(p, end, "errors");
    const char *item;
    size_t i = 0;

    if (!errors) {
        es_round_reason(rr, "bulk answer without errors flag from %s",
                        ctx->conf->hosts.items[req->host_idx]);
        return;
    }
    if (!es_json_is_true(errors, end)) {
        for (size_t j = 0; j < req->count; j++)
            ctx->batch.docs[ctx->send[req->first + j]].state = ES_DOC_DONE;
        ctx->batch.npending -= req->count;
        ctx->st.indexed += req->count;
        return;
    }
    item = es_json_elem_first(es_json_get(p, end, "items"), end);
    for (; item && i < req->count; i++) {
        es_item_result(ctx, ctx->send[req->first + i], item, end);
        item = es_json_elem_next(item, end);
    }
    if (i < req->count)
        es_round_reason(rr,
                        "bulk answer from %s with fewer items than "
                        "documents",
                        ctx->conf->hosts.items[req->host_idx]);
}

/* A whole request refused with a 4xx that retrying cannot cure: every
 * document in it is rejected with the server's error. */
static void es_reject_request(struct es_ctx *ctx, const struct es_req *req)
{
    const char *p = req->resp.data, *end = p + req->resp.len;
    const char *err_v = req->resp.len ? es_json_get(p, end, "error") : NULL;
    const char *err_end = err_v ? es_json_skip(err_v, end) : NULL;

    for (size_t j = 0; j < req->count; j++)
        es_reject(ctx, ctx->send[req->first + j], req->status,
                  err_end ? err_v : NULL,
                  err_end ? (size_t)(err_end - err_v) : 0, "request_refused");
    ctx->batch.npending -= req->count;
}

static void es_http_error(struct es_ctx *ctx, const struct es_req *req,
                          struct es_round *rr)
{
    long s = req->status;

    ctx->st.failed_requests++;
    if (req->cc != CURLE_OK && req->is_resp_too_large) {
        es_round_reason(rr, "%s: answer larger than response_max_bytes",
                        ctx->conf->hosts.items[req->host_idx]);
        return;
    }
    if (req->cc != CURLE_OK) {
        es_http_host_failed(&ctx->http, req->host_idx);
        es_round_reason(rr, "%s: %s", ctx->conf->hosts.items[req->host_idx],
                        req->errbuf[0] ? req->errbuf
                                       : curl_easy_strerror(req->cc));
        return;
    }
    if (s == 413 && req->count == 1) {
        es_reject(ctx, ctx->send[req->first], s, NULL, 0,
                  "request_entity_too_large");
        ctx->batch.npending--;
        return;
    }
    if (s == 413 && ctx->piece_limit > ES_MIN_SPLIT) {
        ctx->piece_limit /= 2;
        rr->must_resplit = 1;
        return;
    }
    es_round_reason(rr, "%s answered HTTP %ld",
                    ctx->conf->hosts.items[req->host_idx], s);
    if (s == 401 || s == 403 || s == 404)
        rr->is_fatalish = 1;
    else if (s >= 400 && s < 500 && s != 408 && s != 429)
        es_reject_request(ctx, req);
}

static void es_round_done(struct es_ctx *ctx, const struct es_req *req,
                          struct es_round *rr)
{
    size_t before = ctx->batch.npending;

    ctx->st.requests++;
    ctx->st.bytes_sent += req->body_len;
    ctx->host->counter_add(ctx->ins, LFP_CNT_BYTES_OUT, req->body_len);
    if (req->cc == CURLE_OK && req->status == 200)
        es_apply_items(ctx, req, rr);
    else
        es_http_error(ctx, req, rr);
    rr->settled += before - ctx->batch.npending;
}

/* ---- sending ---------------------------------------------------------- */

/* Fills ctx->send with the pending documents; returns their bytes. */
static size_t es_round_collect(struct es_ctx *ctx)
{
    struct es_batch *b = &ctx->batch;
    size_t n = 0, bytes = 0;

    if (ctx->send_cap < b->ndocs) {
        ctx->send_cap = b->ndocs;
        ctx->send =
            ctx->host->mem_realloc(ctx->send, ctx->send_cap * sizeof(size_t));
    }
    for (size_t i = 0; i < b->ndocs; i++) {
        if (b->docs[i].state != ES_DOC_PENDING)
            continue;
        ctx->send[n++] = i;
        bytes += b->docs[i].len;
    }
    return bytes;
}

/* Puts send[first, first+count) in one body: the batch itself when the
 * documents are contiguous in it, else a copy in the slot. */
static const char *es_round_body(struct es_ctx *ctx, struct es_req *req,
                                 size_t bytes)
{
    const struct es_batch *b = &ctx->batch;
    const struct es_doc *d0 = &b->docs[ctx->send[req->first]];
    size_t expect = d0->off;
    int is_contiguous = 1;

    for (size_t j = 0; j < req->count && is_contiguous; j++) {
        const struct es_doc *d = &b->docs[ctx->send[req->first + j]];
        is_contiguous = d->off == expect;
        expect = d->off + d->len;
    }
    if (is_contiguous)
        return b->body.data + d0->off;
    req->plain.len = 0;
    es_buf_reserve(ctx->host, &req->plain, bytes);
    for (size_t j = 0; j < req->count; j++) {
        const struct es_doc *d = &b->docs[ctx->send[req->first + j]];
        es_buf_append(ctx->host, &req->plain, b->body.data + d->off, d->len);
    }
    return req->plain.data;
}

/* Starts the next request of up to target bytes from send[*next]. */
static int es_round_start(struct es_ctx *ctx, struct es_req *req, size_t nsend,
                          size_t *next, size_t target, struct es_round *rr)
{
    struct lfp_err err = {0};
    size_t bytes = 0;
    const char *body;

    req->first = *next;
    while (*next < nsend) {
        size_t len = ctx->batch.docs[ctx->send[*next]].len;
        if (bytes > 0 && bytes + len > target)
            break;
        bytes += len;
        (*next)++;
    }
    req->count = *next - req->first;
    body = es_round_body(ctx, req, bytes);
    if (es_http_submit(&ctx->http, req, body, bytes, &err) != LFP_OK) {
        es_round_reason(rr, "%s", err.msg);
        return LFP_ERR_IO;
    }
    return LFP_OK;
}

void es_round_run(struct es_ctx *ctx, struct es_round *rr)
{
    size_t total = es_round_collect(ctx);
    size_t nsend = ctx->batch.npending;
    size_t target = total / (size_t)ctx->conf->workers + 1;
    size_t next = 0;
    struct es_req *req;

    if (target < ES_MIN_PIECE)
        target = ES_MIN_PIECE;
    if (target > ctx->piece_limit)
        target = ctx->piece_limit;
    for (;;) {
        while (next < nsend && (req = es_http_idle(&ctx->http)) != NULL) {
            if (es_round_start(ctx, req, nsend, &next, target, rr) != LFP_OK) {
                next = nsend; /* the rest stays pending for a retry */
                break;
            }
        }
        req = es_http_wait(&ctx->http);
        if (!req)
            break;
        es_round_done(ctx, req, rr);
    }
}
