/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_conf.c - the kafka output's options and the librdkafka
 * configuration made from them.
 *
 * Our keys are set first, then every rdkafka.* key in file order, so an
 * rdkafka.* key overrides what one of ours set (rdkafka.linger.ms wins over
 * linger). Values of keys that may hold credentials are never quoted in an
 * error: librdkafka's own messages quote the value, so for those keys we
 * write our own.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kafka.h"

static const char *const kafka_format_names[] = {"json", "raw", NULL};
static const char *const kafka_acks_names[] = {"all", "1", "0", NULL};
const char *const kafka_compression_names[] = {"zstd",   "lz4",  "gzip",
                                               "snappy", "none", NULL};

const struct lfp_option kafka_options[] = {
    {.name = "brokers",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct kafka_conf, brokers),
     .desc = "Bootstrap brokers as host:port, comma-separated."},
    {.name = "topic",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct kafka_conf, topic),
     .desc = "Topic of every record. ${field} is replaced by the record's "
             "field and ${@tag} by the record's tag, e.g. logs-${@tag}; "
             "in the configuration file write $${field}, since ${NAME} "
             "there means an environment variable. Characters Kafka does "
             "not allow in a topic name become '_', and a missing field "
             "becomes 'unknown'."},
    {.name = "message_key",
     .type = LFP_OPT_STR,
     .def = "upstream.address",
     .offset = offsetof(struct kafka_conf, message_key),
     .desc = "Record field whose value is the message key, so that the "
             "records of one key (by default one upstream) land in one "
             "partition, in order. A record without the field is sent "
             "without a key. An empty value sends every record without a "
             "key."},
    {.name = "format",
     .type = LFP_OPT_ENUM,
     .def = "json",
     .enum_values = kafka_format_names,
     .offset = offsetof(struct kafka_conf, format),
     .desc = "json sends each record as one JSON object with @timestamp "
             "first; raw sends each line as it was read. One record per "
             "message."},
    {.name = "compression",
     .type = LFP_OPT_ENUM,
     .def = "zstd",
     .enum_values = kafka_compression_names,
     .offset = offsetof(struct kafka_conf, compression),
     .desc = "Compression of message batches on the wire and on the "
             "broker's disk."},
    {.name = "idempotence",
     .type = LFP_OPT_BOOL,
     .def = "on",
     .offset = offsetof(struct kafka_conf, is_idempotent),
     .desc = "Idempotent producer: the broker drops the duplicates that "
             "librdkafka's own retries would make, and keeps each "
             "partition in order. Needs acks all."},
    {.name = "acks",
     .type = LFP_OPT_ENUM,
     .def = "all",
     .enum_values = kafka_acks_names,
     .offset = offsetof(struct kafka_conf, acks),
     .desc = "Replicas that must have a message before it counts as "
             "delivered: all (every in-sync replica), 1 (the leader) or 0 "
             "(none: no delivery guarantee)."},
    {.name = "linger",
     .type = LFP_OPT_DURATION,
     .def = "5ms",
     .min = 0,
     .max = 900000,
     .offset = offsetof(struct kafka_conf, linger_ms),
     .desc = "How long librdkafka waits for more messages before it sends "
             "a batch (linger.ms). Once a chunk is produced its batches go "
             "at once."},
    {.name = "batch_size",
     .type = LFP_OPT_SIZE,
     .def = "1M",
     .min = 1,
     .max = INT64_C(2147483647),
     .offset = offsetof(struct kafka_conf, batch_bytes),
     .desc = "Largest batch of messages sent to one partition in one "
             "request, in bytes (batch.size)."},
    {.name = "queue_limit",
     .type = LFP_OPT_SIZE,
     .def = "64M",
     .min = 1 << 20,
     .max = INT64_C(2097151) << 10,
     .offset = offsetof(struct kafka_conf, queue_limit_bytes),
     .desc = "Bytes of messages this output may hold in librdkafka's queue "
             "(queue.buffering.max.kbytes). A full queue pushes back on the "
             "pipeline; nothing is dropped."},
    {.name = "delivery_timeout",
     .type = LFP_OPT_DURATION,
     .def = "30s",
     .min = 100,
     .max = 3600000,
     .offset = offsetof(struct kafka_conf, delivery_timeout_ms),
     .desc = "How long librdkafka tries to deliver a message "
             "(message.timeout.ms) before the chunk is handed back to "
             "logferry's retries with backoff."},
    {.name = "drain_timeout",
     .type = LFP_OPT_DURATION,
     .def = "5s",
     .min = 0,
     .max = 3600000,
     .offset = offsetof(struct kafka_conf, drain_timeout_ms),
     .desc = "On shutdown, how long to wait for messages still queued in "
             "librdkafka (rd_kafka_flush)."},
    {.name = "stats_interval",
     .type = LFP_OPT_DURATION,
     .def = "60s",
     .min = 0,
     .max = 86400000,
     .offset = offsetof(struct kafka_conf, stats_interval_ms),
     .desc = "How often librdkafka's statistics are read, logged and "
             "published as gauges on /metrics: messages in flight, delivery "
             "errors, broker round-trip time. 0 turns them off."},
    {.name = "sasl_username",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct kafka_conf, sasl_username),
     .desc = "SASL user name (sasl.username); set the mechanism with "
             "rdkafka.sasl.mechanisms and rdkafka.security.protocol."},
    {.name = "sasl_password",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_SECRET,
     .offset = offsetof(struct kafka_conf, sasl_password),
     .desc = "SASL password (sasl.password); write ${ENV_VAR} so it comes "
             "from the environment. Never shown in logs or errors."},
    {.name = "rdkafka.",
     .type = LFP_OPT_PREFIX,
     .offset = offsetof(struct kafka_conf, rdkafka),
     .desc = "Handed to librdkafka unchanged, e.g. rdkafka.security.protocol "
             "SASL_SSL or rdkafka.ssl.ca.location /etc/ssl/ca.pem; set after "
             "the keys above, so it overrides them."},
    {0},
};

/* Whether a librdkafka property may hold a credential. */
static int kafka_conf_is_secret(const char *key)
{
    static const char *const words[] = {"password", "secret", ".pem",
                                        "jaas",     "token",  NULL};

    for (int i = 0; words[i]; i++)
        if (strstr(key, words[i]))
            return 1;
    return 0;
}

static int kafka_conf_put(rd_kafka_conf_t *rkc, const char *key,
                          const char *val, const char *what,
                          struct lfp_err *err)
{
    char why[512];

    if (rd_kafka_conf_set(rkc, key, val, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return LFP_OK;
    if (kafka_conf_is_secret(key))
        (void)snprintf(err->msg, sizeof(err->msg),
                       "%s%s: refused by librdkafka (value not shown)", what,
                       key);
    else
        (void)snprintf(err->msg, sizeof(err->msg), "%s%s: %s", what, key, why);
    err->rc = LFP_ERR_CONFIG;
    return LFP_ERR_CONFIG;
}

static int kafka_conf_put_int(rd_kafka_conf_t *rkc, const char *key, int64_t v,
                              struct lfp_err *err)
{
    char num[32];

    (void)snprintf(num, sizeof(num), "%lld", (long long)v);
    return kafka_conf_put(rkc, key, num, "", err);
}

/* Our own keys, before the rdkafka.* ones. */
static int kafka_conf_ours(const struct kafka_conf *conf, rd_kafka_conf_t *rkc,
                           struct lfp_err *err)
{
    const struct {
        const char *key, *val;
    } strs[] = {
        {"bootstrap.servers", conf->brokers},
        {"client.id", "logferry"},
        {"compression.codec", kafka_compression_names[conf->compression]},
        {"enable.idempotence", conf->is_idempotent ? "true" : "false"},
        {"acks", kafka_acks_names[conf->acks]},
        /* Java clients' partitioner: a key lands where theirs would. */
        {"partitioner", "murmur2_random"},
        {"sasl.username", conf->sasl_username},
        {"sasl.password", conf->sasl_password},
    };
    const struct {
        const char *key;
        int64_t v;
    } ints[] = {
        {"linger.ms", conf->linger_ms},
        {"batch.size", conf->batch_bytes},
        {"queue.buffering.max.kbytes", conf->queue_limit_bytes / 1024},
        {"message.timeout.ms", conf->delivery_timeout_ms},
        {"statistics.interval.ms", conf->stats_interval_ms},
    };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strs[i].val &&
            kafka_conf_put(rkc, strs[i].key, strs[i].val, "", err) != LFP_OK)
            return LFP_ERR_CONFIG;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (kafka_conf_put_int(rkc, ints[i].key, ints[i].v, err) != LFP_OK)
            return LFP_ERR_CONFIG;
    return LFP_OK;
}

/* Builds the librdkafka configuration; caller owns *out (handed to
 * rd_kafka_new, or freed with rd_kafka_conf_destroy). */
int kafka_conf_build(const struct kafka_conf *conf, rd_kafka_conf_t **out,
                     struct lfp_err *err)
{
    rd_kafka_conf_t *rkc = rd_kafka_conf_new();

    if (kafka_conf_ours(conf, rkc, err) != LFP_OK)
        goto fail;
    for (size_t i = 0; i < conf->rdkafka.n; i++)
        if (kafka_conf_put(rkc, conf->rdkafka.keys[i], conf->rdkafka.vals[i],
                           "rdkafka.", err) != LFP_OK)
            goto fail;
    *out = rkc;
    return LFP_OK;
fail:
    rd_kafka_conf_destroy(rkc);
    return LFP_ERR_CONFIG;
}

int kafka_conf_validate(const void *vconf, struct lfp_err *err)
{
    const struct kafka_conf *conf = vconf;

    if (conf->is_idempotent && conf->acks != KAFKA_ACKS_ALL) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "acks %s needs idempotence off: the idempotent "
                       "producer needs acks all",
                       kafka_acks_names[conf->acks]);
        err->rc = LFP_ERR_CONFIG;
        return LFP_ERR_CONFIG;
    }
    if (!conf->sasl_password != !conf->sasl_username) {
        (void)snprintf(err->msg, sizeof(err->msg),
                       "sasl_username and sasl_password go together");
        err->rc = LFP_ERR_CONFIG;
        return LFP_ERR_CONFIG;
    }
    return kafka_tpl_check(conf->topic, err);
}
