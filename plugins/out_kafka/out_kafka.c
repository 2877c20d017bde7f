/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_kafka.c - the `kafka` output: one message per record to Apache
 * Kafka through librdkafka's idempotent producer.
 *
 * Delivery is acknowledged by the broker, not by the queue: a chunk is
 * taken only when librdkafka reported every message of it delivered
 * (kafka_batch.c). Transient failures answer RETRY and go through the
 * engine's backoff; permanent ones (message too large, unknown topic)
 * answer ERROR with the reason. librdkafka's statistics are read every
 * stats_interval and logged as one line (kafka_stats.c).
 *
 * Threads: init and destroy on the main thread; flush on the output's own
 * thread, which alone polls the producer; drain on the main thread after
 * the output thread ended. librdkafka's log callback runs on its own
 * threads and only calls host->log.
 */
#include <stdio.h>
#include <string.h>

#include "kafka.h"

static void kafka_on_log(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    struct kafka_ctx *ctx = rd_kafka_opaque(rk);
    int lvl;

    /* Connection errors are transient and show again in delivery reports
     * and statistics: warn, don't cry error. */
    if (level <= 4)
        lvl = LFP_LOG_WARN;
    else if (level <= 6)
        lvl = LFP_LOG_INFO;
    else
        lvl = LFP_LOG_DEBUG;
    if (ctx && ctx->host->log_enabled(lvl))
        ctx->host->log(ctx->ins, lvl, "librdkafka %s: %s", fac, buf);
}

static void kafka_on_error(rd_kafka_t *rk, int e, const char *reason,
                           void *opaque)
{
    struct kafka_ctx *ctx = opaque;

    (void)rk;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        ctx->has_fatal = 1; /* the next flush replaces the producer */
        return;
    }
    if (e == RD_KAFKA_RESP_ERR__TRANSPORT)
        return; /* the log callback told it already */
    ctx->host->log(ctx->ins, LFP_LOG_WARN, "kafka: %s", reason);
}

static int kafka_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct kafka_ctx *ctx = opaque;

    (void)rk;
    if (kafka_stats_parse(json, len, &ctx->stats) != 0)
        return 0; /* not ours to keep: librdkafka frees json */
    pthread_mutex_lock(&ctx->pub_lock);
    ctx->pub = ctx->stats;
    ctx->pub_delivered = ctx->delivered;
    ctx->pub_dr_errors = ctx->dr_errors;
    pthread_mutex_unlock(&ctx->pub_lock);
    ctx->host->log(
        ctx->ins, LFP_LOG_INFO,
        "stats: in_flight=%lld in_flight_bytes=%lld "
        "delivered=%llu delivery_errors=%llu tx_errors=%lld "
        "rtt_avg_ms=%.3f resent=%llu queue_full_waits=%llu",
        (long long)ctx->stats.msg_cnt, (long long)ctx->stats.msg_bytes,
        (unsigned long long)ctx->delivered, (unsigned long long)ctx->dr_errors,
        (long long)ctx->stats.tx_errs, (double)ctx->stats.rtt_avg_us / 1000.0,
        (unsigned long long)ctx->resent,
        (unsigned long long)ctx->queue_full_waits);
    return 0;
}

int kafka_producer_new(struct kafka_ctx *ctx, struct lfp_err *err)
{
    rd_kafka_conf_t *rkc;
    char why[512];

    if (kafka_conf_build(ctx->conf, &rkc, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    rd_kafka_conf_set_opaque(rkc, ctx);
    rd_kafka_conf_set_dr_msg_cb(rkc, kafka_batch_on_delivery);
    rd_kafka_conf_set_error_cb(rkc, kafka_on_error);
    rd_kafka_conf_set_log_cb(rkc, kafka_on_log);
    if (ctx->conf->stats_interval_ms > 0)
        rd_kafka_conf_set_stats_cb(rkc, kafka_on_stats);
    ctx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, why, sizeof(why));
    if (!ctx->rk) {
        rd_kafka_conf_destroy(rkc); /* not taken on failure */
        (void)snprintf(err->msg, sizeof(err->msg), "kafka producer: %s", why);
        err->rc = LFP_ERR_CONFIG;
        return LFP_ERR_CONFIG;
    }
    ctx->has_fatal = 0;
    if (ctx->topic.is_static) {
        ctx->rkt = rd_kafka_topic_new(ctx->rk, ctx->conf->topic, NULL);
        if (!ctx->rkt) {
            (void)snprintf(err->msg, sizeof(err->msg), "topic %s: %s",
                           ctx->conf->topic,
                           rd_kafka_err2str(rd_kafka_last_error()));
            err->rc = LFP_ERR_CONFIG;
            kafka_producer_free(ctx);
            return LFP_ERR_CONFIG;
        }
    }
    return LFP_OK;
}

void kafka_producer_free(struct kafka_ctx *ctx)
{
    if (!ctx->rk)
        return;
    /* Fail what is still queued or in flight, and serve those reports so
     * every orphan batch is released before the producer goes. */
    (void)rd_kafka_purge(ctx->rk,
                         RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(ctx->rk, 0);
    (void)rd_kafka_poll(ctx->rk, 0);
    if (ctx->rkt)
        rd_kafka_topic_destroy(ctx->rkt);
    ctx->rkt = NULL;
    rd_kafka_destroy(ctx->rk);
    ctx->rk = NULL;
}

static void kafka_ctx_free(struct kafka_ctx *ctx)
{
    if (!ctx)
        return;
    kafka_producer_free(ctx);
    kafka_batch_free_all(ctx);
    kafka_tpl_fini(&ctx->topic, ctx->host);
    pthread_mutex_destroy(&ctx->pub_lock);
    ctx->host->mem_free(ctx);
}

static int kafka_init(struct lfp_instance *ins, const struct lfp_host *host,
                      const void *conf, void **out, struct lfp_err *err)
{
    struct kafka_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    ctx->conf = conf;
    ctx->host = host;
    ctx->ins = ins;
    pthread_mutex_init(&ctx->pub_lock, NULL);
    ctx->key_len = ctx->conf->message_key ? strlen(ctx->conf->message_key) : 0;
    if (kafka_tpl_init(&ctx->topic, host, ctx->conf->topic, err) != LFP_OK ||
        kafka_producer_new(ctx, err) != LFP_OK) {
        kafka_ctx_free(ctx);
        return LFP_ERR_CONFIG;
    }
    *out = ctx;
    return LFP_OK;
}

/* A fatal error (e.g. the idempotent producer's sequence broke) ends a
 * producer: every produce fails from then on. Make a new one; what the old
 * one held was reported failed and is produced again. Returns LFP_OK or
 * LFP_ERR_CONFIG with err filled. */
static int kafka_replace_fatal(struct kafka_ctx *ctx, struct lfp_err *err)
{
    char why[512] = "";
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (ctx->rk)
        e = rd_kafka_fatal_error(ctx->rk, why, sizeof(why));
    if (ctx->rk && !ctx->has_fatal && e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return LFP_OK;
    ctx->host->log(ctx->ins, LFP_LOG_ERROR,
                   "kafka producer failed (%s: %s): making a new one",
                   rd_kafka_err2name(e), why);
    kafka_producer_free(ctx);
    return kafka_producer_new(ctx, err);
}

static int kafka_flush(void *vctx, const struct lfp_chunk *chunk,
                       struct lfp_err *err)
{
    struct kafka_ctx *ctx = vctx;

    if (kafka_replace_fatal(ctx, err) != LFP_OK)
        return LFP_FLUSH_RETRY;
    return kafka_batch_flush(ctx, chunk, err);
}

static int kafka_drain(void *vctx, struct lfp_err *err)
{
    struct kafka_ctx *ctx = vctx;
    int left;

    if (!ctx->rk)
        return LFP_OK;
    (void)rd_kafka_flush(ctx->rk, (int)ctx->conf->drain_timeout_ms);
    left = rd_kafka_outq_len(ctx->rk);
    ctx->host->log(
        ctx->ins, LFP_LOG_INFO,
        "delivered=%llu resent=%llu maybe_duplicated=%llu "
        "rejected=%llu delivery_errors=%llu",
        (unsigned long long)ctx->delivered, (unsigned long long)ctx->resent,
        (unsigned long long)ctx->maybe_duplicated,
        (unsigned long long)ctx->rejected, (unsigned long long)ctx->dr_errors);
    if (left > 0) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%d messages still queued after %lld ms; their chunks "
                       "were not acknowledged and are read again",
                       left, (long long)ctx->conf->drain_timeout_ms);
        err->rc = LFP_ERR_AGAIN;
        return LFP_ERR_AGAIN;
    }
    return LFP_OK;
}

static void kafka_destroy(void *vctx)
{
    kafka_ctx_free(vctx);
}

/* librdkafka's statistics as gauges, as of its last statistics callback
 * (every stats_interval). Thread: the HTTP server's. */
static void kafka_stats(void *vctx, lfp_stat_fn emit, void *arg)
{
    struct kafka_ctx *ctx = vctx;
    struct kafka_stats st;
    uint64_t delivered, dr_errors;

    pthread_mutex_lock(&ctx->pub_lock);
    st = ctx->pub;
    delivered = ctx->pub_delivered;
    dr_errors = ctx->pub_dr_errors;
    pthread_mutex_unlock(&ctx->pub_lock);
    if (!st.is_valid)
        return; /* no statistics yet (or stats_interval off) */
    emit(arg, "kafka_messages_in_flight",
         "Messages in librdkafka's queues, not yet delivered.", NULL, NULL,
         (double)st.msg_cnt);
    emit(arg, "kafka_in_flight_bytes",
         "Bytes of the messages in librdkafka's queues.", NULL, NULL,
         (double)st.msg_bytes);
    emit(arg, "kafka_delivered_messages",
         "Messages the brokers acknowledged since start.", NULL, NULL,
         (double)delivered);
    emit(arg, "kafka_delivery_errors",
         "Delivery reports with an error since start.", NULL, NULL,
         (double)dr_errors);
    emit(arg, "kafka_broker_tx_errors",
         "Transmission errors summed over brokers since start.", NULL, NULL,
         (double)st.tx_errs);
    emit(arg, "kafka_broker_rtt_seconds",
         "Largest average broker round-trip time over the brokers.", NULL, NULL,
         (double)st.rtt_avg_us / 1e6);
}

const struct lfp_output_def out_kafka_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "kafka",
    .summary = "Send records to Apache Kafka, one message per record, "
               "acknowledged by the broker.",
    .options = kafka_options,
    .conf_size = sizeof(struct kafka_conf),
    .validate = kafka_conf_validate,
    .init = kafka_init,
    .flush = kafka_flush,
    .drain = kafka_drain,
    .destroy = kafka_destroy,
    .stats = kafka_stats,
};
