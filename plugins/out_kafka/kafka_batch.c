/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_batch.c - one chunk to Kafka: encode, produce, wait for every
 * delivery report, answer OK, RETRY or ERROR.
 *
 * A chunk is acknowledged only when librdkafka reported every one of its
 * messages delivered (acks all by default). Reports come through
 * kafka_batch_on_delivery, served by rd_kafka_flush()/rd_kafka_poll() on
 * the output's thread. A full librdkafka queue is back-pressure: we serve
 * reports until there is room, and the pipeline behind us waits.
 *
 * Retry: a transient failure (broker down, timeout) answers RETRY and keeps
 * the batch; the engine calls flush again with the same chunk after its
 * backoff, and only the slots not delivered are produced again. A message
 * that timed out may still have been written by the broker
 * (RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED): producing it again may
 * duplicate it, which at-least-once allows; we count those.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kafka.h"

/* How long past librdkafka's own delivery timeout we wait for reports
 * before giving a batch up (librdkafka reports every message by then). */
#define KAFKA_WAIT_MARGIN_MS 10000
/* Poll slice while waiting for reports or room in the queue. */
#define KAFKA_POLL_MS 100

static int64_t kafka_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kafka_err_is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
        return 1;
    default:
        return 0;
    }
}

static void kafka_buf_reserve(const struct lfp_host *host,
                              struct kafka_batch *b, size_t need)
{
    if (b->buf_cap - b->buf_len >= need)
        return;
    while (b->buf_cap - b->buf_len < need)
        b->buf_cap = b->buf_cap ? b->buf_cap * 2 : (size_t)256 * 1024;
    b->buf = host->mem_realloc(b->buf, b->buf_cap);
}

/* Appends rec's payload to b->buf. record_to_json answers 0 while the room
 * is below the record's bound: grow and try again (the bound is finite). */
static void kafka_encode_one(const struct kafka_ctx *ctx, struct kafka_batch *b,
                             const struct lfp_record *rec)
{
    if (ctx->conf->format == KAFKA_FORMAT_RAW) {
        kafka_buf_reserve(ctx->host, b, rec->raw_len);
        memcpy(b->buf + b->buf_len, rec->raw, rec->raw_len);
        b->buf_len += rec->raw_len;
        return;
    }
    for (;;) {
        size_t room = b->buf_cap - b->buf_len;
        size_t n =
            room ? ctx->host->record_to_json(rec, b->buf + b->buf_len, room)
                 : 0;
        if (n > 0) {
            b->buf_len += n;
            return;
        }
        kafka_buf_reserve(ctx->host, b, room * 2 + 4096);
    }
}

/* A batch for chunk with every live record encoded. Dropped records are
 * DONE from the start. Caller frees with kafka_batch_free(). */
static struct kafka_batch *kafka_batch_new(const struct kafka_ctx *ctx,
                                           const struct lfp_chunk *chunk)
{
    struct kafka_batch *b = ctx->host->mem_calloc(
        1, sizeof(*b) + (size_t)chunk->nrecords * sizeof(struct kafka_slot));

    b->nrecords = chunk->nrecords;
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        struct kafka_slot *slot = &b->slots[i];
        size_t off = b->buf_len;

        slot->batch = b;
        if (rec->flags & LFP_REC_DROPPED) {
            slot->state = KAFKA_SLOT_DONE;
            continue;
        }
        kafka_encode_one(ctx, b, rec);
        slot->off = (uint32_t)off;
        slot->len = (uint32_t)(b->buf_len - off);
    }
    return b;
}

static void kafka_batch_free(const struct lfp_host *host, struct kafka_batch *b)
{
    if (!b)
        return;
    host->mem_free(b->buf);
    host->mem_free(b);
}

/* Whether two batches hold the same payloads: the engine retries a chunk
 * it got RETRY for, from memory or replayed from its disk buffer (another
 * chunk object then), so the content is what identifies it. */
static int kafka_batch_same(const struct kafka_batch *a,
                            const struct kafka_batch *b)
{
    if (a->nrecords != b->nrecords || a->buf_len != b->buf_len ||
        memcmp(a->buf, b->buf, a->buf_len) != 0)
        return 0;
    for (uint32_t i = 0; i < a->nrecords; i++)
        if (a->slots[i].off != b->slots[i].off ||
            a->slots[i].len != b->slots[i].len)
            return 0;
    return 1;
}

/* Carries what the last attempt learnt over to a retry of the same chunk:
 * delivered and rejected records stay so, failed ones are sent again. */
static void kafka_batch_carry(struct kafka_batch *to,
                              const struct kafka_batch *from)
{
    for (uint32_t i = 0; i < to->nrecords; i++) {
        to->slots[i].state = from->slots[i].state;
        to->slots[i].is_maybe_written = from->slots[i].is_maybe_written;
    }
    to->reject_err = from->reject_err;
}

static void kafka_orphan_unlink(struct kafka_ctx *ctx, struct kafka_batch *b)
{
    for (struct kafka_batch **pp = &ctx->orphans; *pp;
         pp = &(*pp)->next_orphan) {
        if (*pp == b) {
            *pp = b->next_orphan;
            return;
        }
    }
}

void kafka_batch_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                             void *opaque)
{
    struct kafka_ctx *ctx = opaque;
    struct kafka_slot *slot = msg->_private;
    struct kafka_batch *b = slot->batch;

    (void)rk;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        slot->state = KAFKA_SLOT_DONE;
        ctx->delivered++;
        ctx->bytes_unreported += slot->len;
    } else if (kafka_err_is_permanent(msg->err)) {
        slot->state = KAFKA_SLOT_REJECTED;
        ctx->dr_errors++;
        if (!b->reject_err)
            b->reject_err = msg->err;
    } else {
        slot->state = KAFKA_SLOT_FAILED;
        slot->is_maybe_written = rd_kafka_message_status(msg) ==
                                 RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
        ctx->dr_errors++;
        if (!b->first_err)
            b->first_err = msg->err;
    }
    b->pending--;
    if (b->is_orphan && b->pending == 0) {
        kafka_orphan_unlink(ctx, b);
        kafka_batch_free(ctx->host, b);
    }
}

static rd_kafka_resp_err_t
kafka_producev(struct kafka_ctx *ctx, const struct lfp_chunk *chunk, uint32_t i)
{
    const struct lfp_record *rec = &chunk->records[i];
    struct kafka_slot *slot = &ctx->cur->slots[i];
    char *payload = ctx->cur->buf + slot->off;
    char num[KAFKA_NUM_MAX], topic[KAFKA_TOPIC_MAX + 1];
    const char *key = NULL;
    size_t key_len = 0;

    if (ctx->key_len > 0)
        key = kafka_key_of(ctx->host, rec, ctx->conf->message_key, ctx->key_len,
                           num, &key_len);
    /* No copy: the batch owns the payload until its report comes back. */
    if (ctx->rkt)
        return rd_kafka_producev(ctx->rk, RD_KAFKA_V_RKT(ctx->rkt),
                                 RD_KAFKA_V_VALUE(payload, slot->len),
                                 RD_KAFKA_V_KEY(key, key_len),
                                 RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    (void)kafka_tpl_expand(&ctx->topic, ctx->host, chunk, rec, topic);
    return rd_kafka_producev(
        ctx->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, slot->len),
        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
}

/* Produces slot i, waiting while librdkafka's queue is full. */
static rd_kafka_resp_err_t kafka_produce_slot(struct kafka_ctx *ctx,
                                              const struct lfp_chunk *chunk,
                                              uint32_t i)
{
    for (;;) {
        rd_kafka_resp_err_t e = kafka_producev(ctx, chunk, i);

        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e;
        /* Back-pressure: serve reports until there is room. The queue
         * drains by delivery or by librdkafka's timeout, so this ends. */
        ctx->queue_full_waits++;
        if (ctx->host->is_stopping(ctx->ins))
            return e;
        rd_kafka_poll(ctx->rk, KAFKA_POLL_MS);
    }
}

/* Produces every slot still to send. */
static void kafka_batch_produce(struct kafka_ctx *ctx,
                                const struct lfp_chunk *chunk)
{
    struct kafka_batch *b = ctx->cur;

    b->first_err = 0; /* reject_err stays: rejected slots are final */
    for (uint32_t i = 0; i < b->nrecords; i++) {
        struct kafka_slot *slot = &b->slots[i];
        rd_kafka_resp_err_t e;

        if (slot->state != KAFKA_SLOT_TODO && slot->state != KAFKA_SLOT_FAILED)
            continue;
        if (slot->state == KAFKA_SLOT_FAILED) {
            ctx->resent++;
            ctx->maybe_duplicated += slot->is_maybe_written;
        }
        e = kafka_produce_slot(ctx, chunk, i);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            slot->state = KAFKA_SLOT_SENT;
            slot->is_maybe_written = 0;
            b->pending++;
            continue;
        }
        ctx->dr_errors++;
        slot->state =
            kafka_err_is_permanent(e) ? KAFKA_SLOT_REJECTED : KAFKA_SLOT_FAILED;
        if (slot->state == KAFKA_SLOT_REJECTED && !b->reject_err)
            b->reject_err = e;
        if (slot->state == KAFKA_SLOT_FAILED && !b->first_err)
            b->first_err = e;
    }
}

/* Serves reports until the batch has all of them. Returns 0, or -1 when
 * the deadline passed or the output must stop first. */
static int kafka_batch_wait(struct kafka_ctx *ctx)
{
    int64_t deadline =
        kafka_now_ms() + ctx->conf->delivery_timeout_ms + KAFKA_WAIT_MARGIN_MS;

    while (ctx->cur->pending > 0) {
        if (kafka_now_ms() > deadline || ctx->host->is_stopping(ctx->ins))
            return -1;
        /* Unlike rd_kafka_poll, flush sends at once, ignoring linger.ms:
         * nothing more comes until this chunk is done. */
        (void)rd_kafka_flush(ctx->rk, KAFKA_POLL_MS);
    }
    return 0;
}

/* Gives the current batch up: its last report frees it. */
static void kafka_batch_orphan(struct kafka_ctx *ctx)
{
    struct kafka_batch *b = ctx->cur;

    ctx->maybe_duplicated += b->pending;
    b->is_orphan = 1;
    b->next_orphan = ctx->orphans;
    ctx->orphans = b;
    ctx->cur = NULL;
}

/* Counts the slots in each state. */
static void kafka_batch_count(const struct kafka_batch *b, uint32_t *failed,
                              uint32_t *rejected)
{
    *failed = *rejected = 0;
    for (uint32_t i = 0; i < b->nrecords; i++) {
        *failed += b->slots[i].state == KAFKA_SLOT_FAILED;
        *rejected += b->slots[i].state == KAFKA_SLOT_REJECTED;
    }
}

/* The answer for a batch whose reports are all in. */
static int kafka_batch_verdict(struct kafka_ctx *ctx, struct lfp_err *err)
{
    struct kafka_batch *b = ctx->cur;
    uint32_t failed, rejected;
    int rc = LFP_FLUSH_OK;

    kafka_batch_count(b, &failed, &rejected);
    if (failed > 0) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%u of %u records not delivered yet: %s", failed,
                       b->nrecords, rd_kafka_err2str(b->first_err));
        err->rc = LFP_ERR_AGAIN;
        return LFP_FLUSH_RETRY; /* keep the batch: resend what failed */
    }
    if (rejected > 0) {
        ctx->rejected += rejected;
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%u of %u records rejected by kafka: %s", rejected,
                       b->nrecords, rd_kafka_err2str(b->reject_err));
        err->rc = LFP_ERR_IO;
        rc = LFP_FLUSH_ERROR;
    }
    ctx->cur = NULL;
    kafka_batch_free(ctx->host, b);
    return rc;
}

int kafka_batch_flush(struct kafka_ctx *ctx, const struct lfp_chunk *chunk,
                      struct lfp_err *err)
{
    int rc;

    struct kafka_batch *b = kafka_batch_new(ctx, chunk);

    /* The last answer was RETRY (all its reports are in): if this is the
     * same chunk again, resend only what was not delivered. */
    if (ctx->cur && kafka_batch_same(ctx->cur, b))
        kafka_batch_carry(b, ctx->cur);
    kafka_batch_free(ctx->host, ctx->cur);
    ctx->cur = b;
    kafka_batch_produce(ctx, chunk);
    if (kafka_batch_wait(ctx) != 0) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%u delivery reports still owed: the chunk will be "
                       "sent again",
                       ctx->cur->pending);
        err->rc = LFP_ERR_AGAIN;
        kafka_batch_orphan(ctx);
        rc = LFP_FLUSH_RETRY;
    } else {
        rc = kafka_batch_verdict(ctx, err);
    }
    if (ctx->bytes_unreported > 0) {
        ctx->host->counter_add(ctx->ins, LFP_CNT_BYTES_OUT,
                               ctx->bytes_unreported);
        ctx->bytes_unreported = 0;
    }
    return rc;
}

void kafka_batch_free_all(struct kafka_ctx *ctx)
{
    kafka_batch_free(ctx->host, ctx->cur);
    ctx->cur = NULL;
    while (ctx->orphans) {
        struct kafka_batch *b = ctx->orphans;
        ctx->orphans = b->next_orphan;
        kafka_batch_free(ctx->host, b);
    }
}
