/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka.h - the kafka output's private structures, shared by its files.
 *
 * One producer (rd_kafka_t) per output instance. Every librdkafka callback
 * that touches our state (delivery reports, statistics, errors) is served
 * by rd_kafka_poll()/rd_kafka_flush(), which only the output's thread calls
 * (and the main thread in drain/destroy, after the output thread ended), so
 * this state needs no lock. Only the log callback runs on librdkafka's own
 * threads, and it only calls host->log.
 *
 * A flush turns a chunk into a batch:
 *
 *   batch ─► buf: every payload of the chunk, encoded once (JSON or raw)
 *     └─► slots[nrecords]: {batch, off, len, state}
 *           each produced message's opaque points at its slot; the
 *           delivery report sets the state and decrements batch->pending.
 *
 * Payloads are handed to librdkafka without a copy: the batch owns them
 * and lives until its last delivery report came back. After a RETRY the
 * batch is kept; when the engine retries the same chunk (same payloads,
 * from memory or from its disk buffer) only the slots that were not
 * delivered are produced again, so a retry resends as little as possible. A
 * batch given up before all its reports came back (the wait outlived its
 * deadline, or the output is stopping) becomes an orphan, freed by its last
 * report or at destroy.
 */
#ifndef LF_OUT_KAFKA_H
#define LF_OUT_KAFKA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <logferry/plugin.h>

enum kafka_format { KAFKA_FORMAT_JSON = 0, KAFKA_FORMAT_RAW };
enum kafka_acks { KAFKA_ACKS_ALL = 0, KAFKA_ACKS_ONE, KAFKA_ACKS_NONE };

/* Filled by the core from kafka_options (kafka_conf.c). */
struct kafka_conf {
    char *brokers;
    char *topic;
    char *message_key;
    int format;      /* enum kafka_format */
    int compression; /* index into kafka_compression_names */
    int is_idempotent;
    int acks; /* enum kafka_acks */
    int64_t linger_ms;
    int64_t batch_bytes;
    int64_t queue_limit_bytes;
    int64_t delivery_timeout_ms;
    int64_t drain_timeout_ms;
    int64_t stats_interval_ms;
    char *sasl_username;
    char *sasl_password;
    struct lfp_kvlist rdkafka; /* rdkafka.* keys, prefix removed */
};

extern const struct lfp_option kafka_options[];
extern const char *const kafka_compression_names[];

/* ---- topic templates (kafka_topic.c) ----------------------------------- */

/* One piece of a topic template: literal text, a record field or the tag. */
struct kafka_tpl_part {
    int kind; /* KAFKA_TPL_* */
    char *text;
    size_t len;
};

#define KAFKA_TPL_TEXT 0
#define KAFKA_TPL_FIELD 1
#define KAFKA_TPL_TAG 2

/* Kafka's own limit on a topic name's length. */
#define KAFKA_TOPIC_MAX 249

struct kafka_tpl {
    struct kafka_tpl_part *parts;
    size_t nparts;
    int is_static; /* no reference: the topic is the text itself */
};

/* Compiles "logs-${upstream.address}" or "${@tag}". Returns LFP_OK or
 * LFP_ERR_CONFIG with err filled. Caller frees with kafka_tpl_fini().
 * Thread: any (init and validate). */
int kafka_tpl_init(struct kafka_tpl *tpl, const struct lfp_host *host,
                   const char *text, struct lfp_err *err);
void kafka_tpl_fini(struct kafka_tpl *tpl, const struct lfp_host *host);
/* Checks a template's syntax without a host (validate). */
int kafka_tpl_check(const char *text, struct lfp_err *err);
/* Expands tpl for rec into out (NUL-terminated, at most KAFKA_TOPIC_MAX
 * bytes). Field values are made topic-safe: bytes outside [A-Za-z0-9._-]
 * become '_'; a missing or null field becomes "unknown". Returns the
 * length. */
size_t kafka_tpl_expand(const struct kafka_tpl *tpl,
                        const struct lfp_host *host,
                        const struct lfp_chunk *chunk,
                        const struct lfp_record *rec,
                        char out[KAFKA_TOPIC_MAX + 1]);
/* Room for a number written as text (a key or a topic part). */
#define KAFKA_NUM_MAX 64

/* The message key of rec: the value of field `key`, pointing into the
 * record, or a number written as text into buf. Sets *len; NULL when the
 * field is missing, null or an array (no key). */
const char *kafka_key_of(const struct lfp_host *host,
                         const struct lfp_record *rec, const char *key,
                         size_t key_len, char buf[KAFKA_NUM_MAX], size_t *len);

/* ---- statistics (kafka_stats.c) ---------------------------------------- */

/* What we read from librdkafka's statistics JSON. */
struct kafka_stats {
    int64_t msg_cnt;    /* messages in the producer's queues (in flight) */
    int64_t msg_bytes;  /* their payload bytes */
    int64_t tx_errs;    /* transmission errors, summed over brokers */
    int64_t rtt_avg_us; /* largest average broker round-trip time, µs */
    int is_valid;
};

/* Reads the few numbers above from a statistics document. Returns 0, or
 * -1 when the document is not librdkafka statistics. */
int kafka_stats_parse(const char *json, size_t len, struct kafka_stats *st);

/* ---- batches (kafka_batch.c) ------------------------------------------- */

enum kafka_slot_state {
    KAFKA_SLOT_TODO = 0, /* not produced yet */
    KAFKA_SLOT_SENT,     /* produced, delivery report pending */
    KAFKA_SLOT_DONE,     /* delivered, or a dropped record: nothing to do */
    KAFKA_SLOT_FAILED,   /* transient failure: produce again on retry */
    KAFKA_SLOT_REJECTED, /* permanent failure: never acceptable */
};

struct kafka_batch;

struct kafka_slot {
    struct kafka_batch *batch;
    uint32_t off, len;        /* payload in batch->buf */
    uint8_t state;            /* enum kafka_slot_state */
    uint8_t is_maybe_written; /* failed, but the broker may have it */
};

struct kafka_batch {
    uint32_t nrecords;
    uint32_t pending; /* produced and not yet reported */
    int is_orphan;
    int first_err;  /* rd_kafka_resp_err_t of the first transient error */
    int reject_err; /* ... and of the first permanent one */
    char *buf;      /* payloads; owned */
    size_t buf_len, buf_cap;
    struct kafka_batch *next_orphan;
    struct kafka_slot slots[];
};

struct kafka_ctx {
    const struct kafka_conf *conf;
    const struct lfp_host *host;
    struct lfp_instance *ins;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt; /* static topic, or NULL with a template */
    struct kafka_tpl topic;
    size_t key_len;
    struct kafka_batch *cur;     /* last batch, kept while it is retried */
    struct kafka_batch *orphans; /* given up, still owed reports */
    int has_fatal;               /* librdkafka raised a fatal error */
    struct kafka_stats stats;
    /* The last statistics, copied for the stats callback (other thread). */
    pthread_mutex_t pub_lock;
    struct kafka_stats pub;
    uint64_t pub_delivered, pub_dr_errors;
    /* Totals since start, for the statistics line and the summary. */
    uint64_t delivered, resent, maybe_duplicated, rejected, dr_errors;
    uint64_t queue_full_waits;
    uint64_t bytes_unreported; /* delivered, not yet in LFP_CNT_BYTES_OUT */
};

/* Builds the librdkafka configuration from conf; caller owns *out (handed
 * to rd_kafka_new, or freed with rd_kafka_conf_destroy). Returns LFP_OK or
 * LFP_ERR_CONFIG with err filled; never quotes a credential. */
int kafka_conf_build(const struct kafka_conf *conf, rd_kafka_conf_t **out,
                     struct lfp_err *err);
/* The output's validate callback: rules across keys. */
int kafka_conf_validate(const void *conf, struct lfp_err *err);

/* Makes the producer from the options. Returns LFP_OK, or LFP_ERR_CONFIG
 * with err filled (secrets are never quoted). Thread: init. */
int kafka_producer_new(struct kafka_ctx *ctx, struct lfp_err *err);
/* Purges what is still queued, serves the last reports, destroys the
 * producer. NULL rk is a no-op. */
void kafka_producer_free(struct kafka_ctx *ctx);

/* Delivers one chunk; returns enum lfp_flush_rc. Thread: output. */
int kafka_batch_flush(struct kafka_ctx *ctx, const struct lfp_chunk *chunk,
                      struct lfp_err *err);
/* The librdkafka delivery report callback (conf opaque is the ctx). */
void kafka_batch_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                             void *opaque);
/* Frees ctx->cur and every orphan: only once the producer is gone. */
void kafka_batch_free_all(struct kafka_ctx *ctx);

/* Whether a produce or delivery error can never succeed on retry. */
int kafka_err_is_permanent(rd_kafka_resp_err_t e);

#endif
