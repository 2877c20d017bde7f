/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_out_kafka.c - the kafka output (plugins/out_kafka/) against
 * librdkafka's mock cluster: delivery acknowledged by the broker, keys and
 * partitions, topic templates, retries that resend only what failed,
 * permanent errors, back-pressure on a full queue, statistics, options.
 *
 * Each test gets a fresh three-broker mock cluster; records are read back
 * with a real librdkafka consumer, so what is asserted is what the cluster
 * holds. The real broker is exercised by tests/integration/test_kafka.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../../plugins/out_kafka/kafka.h"
#include "chunk.h"
#include "lf_test.h"
#include "mem.h"
#include "test_host.h"

extern const struct lfp_output_def out_kafka_def;

#define KT_PARTITIONS 4
#define KT_WAIT_MS 10000
#define KT_MAX_MSGS 4096
#define KT_API_PRODUCE 0 /* the Kafka protocol ApiKey of Produce */

/* One message read back from the mock cluster. */
struct kt_msg {
    char topic[64];
    int32_t partition;
    int64_t offset;
    char key[64]; /* "" when the message has no key */
    int has_key;
    int n; /* the record's "n" field, parsed from the JSON payload */
    char payload[512];
};

/* One mock cluster for the whole file (making one takes a second); each
 * test writes to a topic of its own. */
static rd_kafka_t *kt_mrk; /* owns the mock cluster */
static rd_kafka_mock_cluster_t *kt_mc;
static char kt_bootstraps[256];
static int kt_ntopics;

struct kt {
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    char topic[32];
    struct lf_test_host *th;
    struct kafka_conf *conf;
    struct kafka_ctx *ctx;
    struct lfp_chunk *chunk;
    struct kt_msg *msgs;
    size_t nmsgs;
};

static int64_t kt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- set-up ----------------------------------------------------------- */

static int kt_group_setup(void **state)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char why[256];

    (void)state;
    /* This handle only owns the mock cluster: no warning about it. */
    (void)rd_kafka_conf_set(c, "log_level", "3", why, sizeof(why));
    kt_mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (!kt_mrk)
        return -1;
    kt_mc = rd_kafka_mock_cluster_new(kt_mrk, 3);
    if (!kt_mc)
        return -1;
    (void)snprintf(kt_bootstraps, sizeof(kt_bootstraps), "%s",
                   rd_kafka_mock_cluster_bootstraps(kt_mc));
    return 0;
}

static int kt_group_teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(kt_mc);
    rd_kafka_destroy(kt_mrk);
    return 0;
}

static int kt_setup(void **state)
{
    struct kt *t = lf_calloc(1, sizeof(*t));

    t->mc = kt_mc;
    t->bootstraps = kt_bootstraps;
    (void)snprintf(t->topic, sizeof(t->topic), "logs-%d", ++kt_ntopics);
    assert_int_equal(
        rd_kafka_mock_topic_create(t->mc, t->topic, KT_PARTITIONS, 1), 0);
    t->th = lf_test_host_new(4096, 1);
    t->conf = lf_test_conf_new(out_kafka_def.options, out_kafka_def.conf_size);
    assert_int_equal(lf_test_conf_set(out_kafka_def.options, t->conf, "brokers",
                                      t->bootstraps),
                     0);
    assert_int_equal(
        lf_test_conf_set(out_kafka_def.options, t->conf, "topic", t->topic), 0);
    assert_int_equal(lf_test_conf_set(out_kafka_def.options, t->conf,
                                      "message_key", "upstream.address"),
                     0);
    assert_int_equal(
        lf_test_conf_set(out_kafka_def.options, t->conf, "stats_interval", "0"),
        0);
    t->msgs = lf_calloc(KT_MAX_MSGS, sizeof(*t->msgs));
    *state = t;
    return 0;
}

/* Sets rdkafka.KEY VALUE (strings are static in the tests). */
static void kt_rdkafka(struct kt *t, const char *key, const char *val)
{
    struct lfp_kvlist *kv = &t->conf->rdkafka;

    kv->keys = lf_realloc(kv->keys, sizeof(char *) * (kv->n + 1));
    kv->vals = lf_realloc(kv->vals, sizeof(char *) * (kv->n + 1));
    kv->keys[kv->n] = lf_strdup(key);
    kv->vals[kv->n++] = lf_strdup(val);
}

static void kt_set(struct kt *t, const char *key, const char *val)
{
    assert_int_equal(lf_test_conf_set(out_kafka_def.options, t->conf, key, val),
                     0);
}

static int kt_teardown(void **state)
{
    struct kt *t = *state;
    struct lfp_kvlist *kv = &t->conf->rdkafka;

    if (t->ctx)
        out_kafka_def.destroy(t->ctx);
    lf_chunk_free(t->chunk);
    for (size_t i = 0; i < kv->n; i++) {
        lf_free(kv->keys[i]);
        lf_free(kv->vals[i]);
    }
    lf_free(kv->keys);
    lf_free(kv->vals);
    lf_test_conf_free(out_kafka_def.options, t->conf);
    lf_test_host_free(t->th);
    lf_free(t->msgs);
    lf_free(t);
    return 0;
}

/* validate + init; returns init's rc, err filled. */
static int kt_init(struct kt *t, struct lfp_err *err)
{
    int rc = out_kafka_def.validate(t->conf, err);
    void *ctx = NULL;

    if (rc != LFP_OK)
        return rc;
    rc = out_kafka_def.init(lf_test_host_instance(t->th),
                            lf_test_host_api(t->th), t->conf, &ctx, err);
    t->ctx = ctx;
    return rc;
}

static void kt_init_ok(struct kt *t)
{
    struct lfp_err err = {0};

    if (kt_init(t, &err) != LFP_OK)
        fail_msg("init: %s", err.msg);
}

/* A chunk of n records: "line <i>", fields upstream.address (one of nkeys
 * addresses), pool ("p<i%3>:x") and n (i). Records whose i is a multiple
 * of drop_every (if > 0) are marked dropped. */
static struct lfp_chunk *kt_chunk(int n, int nkeys, int drop_every)
{
    struct lfp_chunk *c = lf_chunk_new((size_t)256 * 1024, 4096);
    size_t cap, off = 0;
    char *raw;

    lf_chunk_set_tag(c, "nginx.access", strlen("nginx.access"));
    raw = lf_chunk_raw(c, &cap);
    for (int i = 0; i < n; i++) {
        int len = snprintf(raw + off, cap - off, "line %d", i);
        struct lfp_record *rec;
        char *addr = lf_chunk_alloc(c, 32);
        char *pool = lf_chunk_alloc(c, 16);

        lf_chunk_add_line(c, (uint32_t)off, (uint32_t)len, 0);
        off += (size_t)len;
        rec = &c->records[c->nrecords - 1];
        rec->ts_ns = INT64_C(1748736000) * 1000000000 + i;
        (void)snprintf(addr, 32, "10.0.0.%d:8080", i % nkeys);
        (void)snprintf(pool, 16, "p%d:x", i % 3);
        lf_field_set_str(lf_record_add(c, rec), "upstream.address", addr,
                         strlen(addr));
        lf_field_set_str(lf_record_add(c, rec), "pool", pool, strlen(pool));
        lf_field_set_int(lf_record_add(c, rec), "n", i);
        if (drop_every > 0 && i % drop_every == 0)
            rec->flags |= LFP_REC_DROPPED;
    }
    return c;
}

static int kt_flush(struct kt *t, struct lfp_err *err)
{
    memset(err, 0, sizeof(*err));
    return out_kafka_def.flush(t->ctx, t->chunk, err);
}

/* Flushes the same chunk again while the answer is RETRY, as the engine
 * would (a reconnect or a new leader takes a metadata refresh). */
static int kt_flush_until_taken(struct kt *t, struct lfp_err *err)
{
    int rc = LFP_FLUSH_RETRY;

    for (int attempt = 0; attempt < 30 && rc == LFP_FLUSH_RETRY; attempt++)
        rc = kt_flush(t, err);
    return rc;
}

/* ---- reading back ------------------------------------------------------ */

static void kt_keep(struct kt *t, const rd_kafka_message_t *m)
{
    struct kt_msg *k;
    const char *p;
    int len;

    assert_true(t->nmsgs < KT_MAX_MSGS);
    k = &t->msgs[t->nmsgs++];
    (void)snprintf(k->topic, sizeof(k->topic), "%s",
                   rd_kafka_topic_name(m->rkt));
    k->partition = m->partition;
    k->offset = m->offset;
    k->has_key = m->key != NULL;
    len = (int)(m->key_len < sizeof(k->key) ? m->key_len : sizeof(k->key) - 1);
    (void)snprintf(k->key, sizeof(k->key), "%.*s", len,
                   m->key ? (const char *)m->key : "");
    len = (int)(m->len < sizeof(k->payload) ? m->len : sizeof(k->payload) - 1);
    (void)snprintf(k->payload, sizeof(k->payload), "%.*s", len,
                   (const char *)m->payload);
    p = strstr(k->payload, "\"n\":");
    k->n = p ? (int)strtol(p + 4, NULL, 10) : -1;
}

/* Index of (topic, partition) among the topics read, or -1. */
static int kt_part_index(const rd_kafka_message_t *m, const char *const *topics,
                         int ntopics)
{
    for (int i = 0; i < ntopics; i++)
        if (strcmp(rd_kafka_topic_name(m->rkt), topics[i]) == 0 &&
            m->partition >= 0 && m->partition < KT_PARTITIONS)
            return i * KT_PARTITIONS + m->partition;
    return -1;
}

static rd_kafka_t *kt_consumer_new(const struct kt *t)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", t->bootstraps},
                              {"group.id", "kt"},
                              {"enable.partition.eof", "true"},
                              {"fetch.wait.max.ms", "10"}};
    char why[256];
    rd_kafka_t *rk;

    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        assert_int_equal(
            rd_kafka_conf_set(c, props[i][0], props[i][1], why, sizeof(why)),
            RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof(why));
    assert_non_null(rk);
    return rk;
}

/* Reads every partition of the topics from the start to its end (the
 * flushes were acknowledged, so the end is all there is). Fills t->msgs. */
static void kt_consume(struct kt *t, const char *const *topics, int ntopics)
{
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(ntopics * KT_PARTITIONS);
    rd_kafka_t *rk = kt_consumer_new(t);
    int64_t deadline = kt_now_ms() + (int64_t)KT_WAIT_MS * LF_TEST_SLOW;
    int is_at_end[16] = {0}, nend = 0;

    assert_true(ntopics * KT_PARTITIONS <= 16);
    for (int i = 0; i < ntopics; i++)
        for (int p = 0; p < KT_PARTITIONS; p++)
            rd_kafka_topic_partition_list_add(parts, topics[i], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    t->nmsgs = 0;
    while (nend < ntopics * KT_PARTITIONS && kt_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        int k;

        if (!m)
            continue;
        k = kt_part_index(m, topics, ntopics);
        if (!m->err)
            kt_keep(t, m);
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && k >= 0 &&
                 !is_at_end[k]) {
            is_at_end[k] = 1;
            nend++;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(nend, ntopics * KT_PARTITIONS);
    rd_kafka_topic_partition_list_destroy(parts);
    (void)rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void kt_consume_one(struct kt *t)
{
    const char *topics[] = {t->topic};

    kt_consume(t, topics, 1);
}

/* How many read-back messages carry record n. */
static int kt_count_n(const struct kt *t, int n)
{
    int count = 0;

    for (size_t i = 0; i < t->nmsgs; i++)
        count += t->msgs[i].n == n;
    return count;
}

/* ---- delivery ---------------------------------------------------------- */

static void test_flush_is_ok_once_every_record_is_in_the_topic(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_init_ok(t);
    t->chunk = kt_chunk(200, 7, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    /* Acknowledged means reported delivered: nothing is left queued. */
    assert_int_equal(rd_kafka_outq_len(t->ctx->rk), 0);
    assert_int_equal(t->ctx->delivered, 200);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(kt_count_n(t, i), 1);
    /* One JSON object per message, event time first, fields after. */
    assert_non_null(
        strstr(t->msgs[0].payload, "{\"@timestamp\":\"2025-06-01T"));
    assert_non_null(
        strstr(t->msgs[0].payload, "\"upstream.address\":\"10.0.0."));
    assert_true(lf_test_host_counter(t->th, LFP_CNT_BYTES_OUT) >
                (uint64_t)200 * 40);
}

/* What the stats callback reported: the delivered-messages gauge. */
struct kt_seen {
    int n;
    int has_rtt;
    double delivered;
};

static void kt_seen_stat(void *arg, const char *name, const char *help,
                         const char *label_name, const char *label_value,
                         double value)
{
    struct kt_seen *seen = arg;

    (void)label_name;
    (void)label_value;
    assert_non_null(help);
    seen->n++;
    if (strcmp(name, "kafka_delivered_messages") == 0)
        seen->delivered = value;
    if (strcmp(name, "kafka_broker_rtt_seconds") == 0)
        seen->has_rtt = value >= 0;
}

static int kt_stats_seen(void *arg)
{
    struct kt *t = arg;
    struct kt_seen seen = {0};

    rd_kafka_poll(t->ctx->rk, 20);
    out_kafka_def.stats(t->ctx, kt_seen_stat, &seen);
    return seen.n > 0 && seen.delivered == 200;
}

static void test_librdkafka_statistics_become_gauges(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;
    struct kt_seen seen = {0};

    kt_set(t, "stats_interval", "100ms");
    kt_init_ok(t);
    out_kafka_def.stats(t->ctx, kt_seen_stat, &seen);
    assert_int_equal(seen.n, 0); /* nothing before the first statistics */
    t->chunk = kt_chunk(200, 7, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    assert_true(lf_test_wait_until(kt_stats_seen, t, 10000));
    out_kafka_def.stats(t->ctx, kt_seen_stat, &seen);
    assert_int_equal(seen.n, 6);
    assert_true(seen.has_rtt);
}

static void test_records_of_one_key_share_a_partition_in_order(void **state)
{
    struct kt *t = *state;
    int32_t part_of[7];
    int last_n[7];
    struct lfp_err err;

    kt_init_ok(t);
    t->chunk = kt_chunk(700, 7, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 700);
    for (int k = 0; k < 7; k++) {
        part_of[k] = -1;
        last_n[k] = -1;
    }
    /* Messages come partition by partition, each in offset order. */
    for (size_t i = 0; i < t->nmsgs; i++) {
        const struct kt_msg *m = &t->msgs[i];
        int k = m->n % 7;
        char want[32];

        (void)snprintf(want, sizeof(want), "10.0.0.%d:8080", k);
        assert_true(m->has_key);
        assert_string_equal(m->key, want);
        if (part_of[k] < 0)
            part_of[k] = m->partition;
        assert_int_equal(m->partition, part_of[k]);
        assert_true(m->n > last_n[k]);
        last_n[k] = m->n;
    }
}

static void test_record_without_the_key_field_is_sent_without_key(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "message_key", "no.such.field");
    kt_init_ok(t);
    t->chunk = kt_chunk(10, 2, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 10);
    for (size_t i = 0; i < t->nmsgs; i++)
        assert_false(t->msgs[i].has_key);
}

static void test_dropped_records_are_not_sent(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_init_ok(t);
    t->chunk = kt_chunk(30, 3, 3); /* 0, 3, ... 27 dropped: 20 left */
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 20);
    for (int i = 0; i < 30; i++)
        assert_int_equal(kt_count_n(t, i), i % 3 == 0 ? 0 : 1);
}

static void test_raw_format_sends_the_line_as_read(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "format", "raw");
    kt_init_ok(t);
    t->chunk = kt_chunk(5, 1, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 5);
    assert_string_equal(t->msgs[0].payload, "line 0");
}

static void test_topic_template_takes_tag_and_field_made_safe(void **state)
{
    struct kt *t = *state;
    const char *topics[] = {"t.nginx.access.p0_x", "t.nginx.access.p1_x",
                            "t.nginx.access.p2_x"};
    struct lfp_err err;

    for (int i = 0; i < 3; i++)
        assert_int_equal(
            rd_kafka_mock_topic_create(t->mc, topics[i], KT_PARTITIONS, 1), 0);
    kt_set(t, "topic", "t.${@tag}.${pool}");
    kt_init_ok(t);
    t->chunk = kt_chunk(30, 2, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume(t, topics, 3);
    assert_int_equal(t->nmsgs, 30);
    for (size_t i = 0; i < t->nmsgs; i++) {
        char want[64];
        (void)snprintf(want, sizeof(want), "t.nginx.access.p%d_x",
                       t->msgs[i].n % 3);
        assert_string_equal(t->msgs[i].topic, want);
    }
}

static void test_template_expansion_of_missing_and_long_values(void **state)
{
    struct kt *t = *state;
    const struct lfp_host *host = lf_test_host_api(t->th);
    struct lfp_chunk *c = kt_chunk(1, 1, 0);
    struct kafka_tpl tpl;
    struct lfp_err err = {0};
    char out[KAFKA_TOPIC_MAX + 1], long_topic[400];

    assert_int_equal(kafka_tpl_init(&tpl, host, "a-${nope}-${n}", &err),
                     LFP_OK);
    assert_false(tpl.is_static);
    (void)kafka_tpl_expand(&tpl, host, c, &c->records[0], out);
    assert_string_equal(out, "a-unknown-0");
    kafka_tpl_fini(&tpl, host);

    memset(long_topic, 'x', sizeof(long_topic) - 1);
    long_topic[sizeof(long_topic) - 1] = '\0';
    assert_int_equal(kafka_tpl_init(&tpl, host, long_topic, &err), LFP_OK);
    assert_true(tpl.is_static);
    assert_int_equal(kafka_tpl_expand(&tpl, host, c, &c->records[0], out),
                     KAFKA_TOPIC_MAX);
    kafka_tpl_fini(&tpl, host);
    lf_chunk_free(c);
}

/* ---- failures ---------------------------------------------------------- */

static void kt_all_brokers(struct kt *t, int is_up)
{
    for (int b = 1; b <= 3; b++)
        assert_int_equal(is_up ? rd_kafka_mock_broker_set_up(t->mc, b)
                               : rd_kafka_mock_broker_set_down(t->mc, b),
                         0);
}

static void test_unreachable_cluster_is_retry_then_delivered(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "delivery_timeout", "500ms");
    kt_init_ok(t);
    t->chunk = kt_chunk(50, 5, 0);
    kt_all_brokers(t, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_RETRY);
    assert_non_null(strstr(err.msg, "50 of 50 records not delivered yet"));
    assert_int_equal(t->ctx->delivered, 0);
    kt_all_brokers(t, 1);
    assert_int_equal(kt_flush_until_taken(t, &err), LFP_FLUSH_OK);
    assert_true(t->ctx->resent >= 50);
    kt_consume_one(t);
    /* At-least-once: every record is there; a timed-out one may twice. */
    for (int i = 0; i < 50; i++)
        assert_true(kt_count_n(t, i) >= 1);
    assert_true(t->nmsgs <= 50 + t->ctx->maybe_duplicated);
}

static void test_retry_resends_only_what_was_not_delivered(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;
    int first_delivered;

    kt_set(t, "delivery_timeout", "500ms");
    kt_init_ok(t);
    t->chunk = kt_chunk(80, 8, 0);
    /* Partition 0 has no leader: its messages fail, the rest arrive. */
    assert_int_equal(rd_kafka_mock_partition_set_leader(t->mc, t->topic, 0, -1),
                     0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_RETRY);
    first_delivered = (int)t->ctx->delivered;
    assert_true(first_delivered > 0 && first_delivered < 80);
    assert_int_equal(rd_kafka_mock_partition_set_leader(t->mc, t->topic, 0, 1),
                     0);
    /* The engine may retry from its disk buffer: another chunk object
     * with the same records. */
    lf_chunk_free(t->chunk);
    t->chunk = kt_chunk(80, 8, 0);
    assert_int_equal(kt_flush_until_taken(t, &err), LFP_FLUSH_OK);
    assert_int_equal(t->ctx->delivered, 80);
    /* Only partition 0's records were produced again, each time. */
    assert_int_equal(t->ctx->resent % (uint64_t)(80 - first_delivered), 0);
    assert_true(t->ctx->resent > 0);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 80);
    for (int i = 0; i < 80; i++)
        assert_int_equal(kt_count_n(t, i), 1);
}

static void test_other_chunk_after_a_retry_is_sent_whole(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "delivery_timeout", "300ms");
    kt_init_ok(t);
    t->chunk = kt_chunk(10, 2, 0);
    kt_all_brokers(t, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_RETRY);
    kt_all_brokers(t, 1);
    /* The engine gave that chunk up (shutdown): a new one comes. */
    lf_chunk_free(t->chunk);
    t->chunk = kt_chunk(25, 2, 0);
    assert_int_equal(kt_flush_until_taken(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    for (int i = 0; i < 25; i++)
        assert_true(kt_count_n(t, i) >= 1);
}

static void test_stopping_output_stops_waiting_for_reports(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;
    int64_t t0;

    kt_init_ok(t); /* delivery_timeout 30s */
    t->chunk = kt_chunk(20, 2, 0);
    kt_all_brokers(t, 0);
    (void)lf_test_host_input_stop(t->th); /* the host says: stop */
    t0 = kt_now_ms();
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_RETRY);
    assert_true(kt_now_ms() - t0 < (int64_t)5000 * LF_TEST_SLOW);
    assert_non_null(strstr(err.msg, "delivery reports still owed"));
    assert_non_null(t->ctx->orphans);
    assert_int_equal(t->ctx->maybe_duplicated, 20);
    kt_all_brokers(t, 1);
    /* destroy (teardown) purges the orphan's messages and frees it. */
}

static int kt_has_fatal(void *arg)
{
    struct kt *t = arg;

    (void)rd_kafka_poll(t->ctx->rk, 20);
    return t->ctx->has_fatal;
}

static void test_fatal_producer_error_gets_a_new_producer(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;
    rd_kafka_t *old;

    kt_init_ok(t);
    t->chunk = kt_chunk(10, 2, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    old = t->ctx->rk;
    assert_int_equal(
        rd_kafka_test_fatal_error(
            old, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_true(lf_test_wait_until(kt_has_fatal, t, KT_WAIT_MS));
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_ERROR,
                                     "OUT_OF_ORDER_SEQUENCE_NUMBER"));
    assert_false(t->ctx->has_fatal);
    kt_consume_one(t);
    for (int i = 0; i < 10; i++)
        assert_int_equal(kt_count_n(t, i), 2);
}

static void test_fatal_error_found_at_the_next_flush(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_init_ok(t);
    t->chunk = kt_chunk(10, 2, 0);
    /* Nothing polled the error callback: the flush must see it itself. */
    assert_int_equal(
        rd_kafka_test_fatal_error(
            t->ctx->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 10);
}

static void test_message_over_the_size_limit_is_a_permanent_error(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_rdkafka(t, "message.max.bytes", "1000");
    kt_set(t, "format", "json");
    kt_init_ok(t);
    t->chunk = kt_chunk(3, 1, 0);
    /* Make record 1 larger than message.max.bytes. */
    {
        char *big = lf_chunk_alloc(t->chunk, 2000);
        memset(big, 'a', 2000);
        lf_field_set_str(lf_record_add(t->chunk, &t->chunk->records[1]), "big",
                         big, 2000);
    }
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_ERROR);
    assert_non_null(strstr(err.msg, "1 of 3 records rejected"));
    assert_non_null(strstr(err.msg, "too large"));
    assert_int_equal(t->ctx->rejected, 1);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 2); /* the others were delivered */
}

static void test_broker_rejecting_a_batch_is_a_permanent_error(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "message_key", ""); /* one partition gets them all */
    kt_rdkafka(t, "sticky.partitioning.linger.ms", "100000");
    kt_init_ok(t);
    t->chunk = kt_chunk(5, 1, 0);
    rd_kafka_mock_push_request_errors(t->mc, KT_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_ERROR);
    assert_non_null(strstr(err.msg, "records rejected by kafka"));
    assert_true(t->ctx->rejected > 0);
}

static void test_full_queue_waits_and_loses_nothing(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_rdkafka(t, "queue.buffering.max.messages", "10");
    kt_init_ok(t);
    t->chunk = kt_chunk(500, 5, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    assert_true(t->ctx->queue_full_waits > 0);
    kt_consume_one(t);
    assert_int_equal(t->nmsgs, 500);
}

static void test_drain_flushes_and_logs_totals(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_init_ok(t);
    t->chunk = kt_chunk(20, 2, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    assert_int_equal(out_kafka_def.drain(t->ctx, &err), LFP_OK);
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_INFO, "delivered=20 "));
}

/* ---- statistics -------------------------------------------------------- */

static void test_stats_reads_queue_errors_and_round_trip(void **state)
{
    static const char json[] =
        "{\"name\":\"p#1\",\"type\":\"producer\",\"msg_cnt\":42,"
        "\"msg_size\":4200,\"brokers\":{"
        "\"a:9092/1\":{\"name\":\"a\",\"txerrs\":2,\"rtt\":{\"min\":5,"
        "\"max\":9,\"avg\":1500,\"cnt\":3},\"req\":{\"Produce\":4}},"
        "\"b:9092/2\":{\"txerrs\":3,\"rtt\":{\"avg\":2500}},"
        "\"GroupCoordinator\":{\"txerrs\":0,\"rtt\":{\"avg\":0}}},"
        "\"topics\":{\"logs\":{\"partitions\":{\"0\":{\"msg_cnt\":7,"
        "\"txerrs\":99}}}},\"list\":[1,{\"avg\":9999}],\"s\":\"a\\\"}\"}";
    struct kafka_stats st;

    (void)state;
    assert_int_equal(kafka_stats_parse(json, strlen(json), &st), 0);
    assert_int_equal(st.msg_cnt, 42);
    assert_int_equal(st.msg_bytes, 4200);
    assert_int_equal(st.tx_errs, 5);
    assert_int_equal(st.rtt_avg_us, 2500);
    assert_int_equal(kafka_stats_parse("{\"a\":[1,2}", 10, &st), -1);
    assert_int_equal(kafka_stats_parse("nothing", 7, &st), -1);
}

static int kt_has_stats_line(void *arg)
{
    struct kt *t = arg;

    (void)rd_kafka_poll(t->ctx->rk, 20);
    return lf_test_host_log_has(t->th, LFP_LOG_INFO, "stats: in_flight=0 ");
}

static void test_statistics_become_a_log_line(void **state)
{
    struct kt *t = *state;
    struct lfp_err err;

    kt_set(t, "stats_interval", "100ms");
    kt_init_ok(t);
    t->chunk = kt_chunk(10, 2, 0);
    assert_int_equal(kt_flush(t, &err), LFP_FLUSH_OK);
    assert_true(lf_test_wait_until(kt_has_stats_line, t, KT_WAIT_MS));
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_INFO, "delivered=10 "));
}

/* ---- options ----------------------------------------------------------- */

static void test_acks_one_with_idempotence_is_refused(void **state)
{
    struct kt *t = *state;
    struct lfp_err err = {0};

    kt_set(t, "acks", "1");
    assert_int_equal(out_kafka_def.validate(t->conf, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "idempotent"));
    kt_set(t, "idempotence", "off");
    memset(&err, 0, sizeof(err));
    assert_int_equal(out_kafka_def.validate(t->conf, &err), LFP_OK);
}

static void test_malformed_topic_template_is_refused(void **state)
{
    struct kt *t = *state;
    struct lfp_err err = {0};

    kt_set(t, "topic", "logs-${upstream");
    assert_int_equal(out_kafka_def.validate(t->conf, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "malformed"));
}

static void
test_bad_rdkafka_key_fails_init_without_showing_secrets(void **state)
{
    struct kt *t = *state;
    struct lfp_err err = {0};

    kt_rdkafka(t, "no.such.password", "hunter2");
    assert_int_equal(kt_init(t, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "rdkafka.no.such.password"));
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(t->ctx);
}

static void test_bad_rdkafka_value_names_the_key(void **state)
{
    struct kt *t = *state;
    struct lfp_err err = {0};

    kt_rdkafka(t, "linger.ms", "soon");
    assert_int_equal(kt_init(t, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "rdkafka.linger.ms"));
}

static void test_rdkafka_keys_override_ours(void **state)
{
    struct kt *t = *state;
    rd_kafka_conf_t *rkc;
    struct lfp_err err = {0};
    char val[64];
    size_t n = sizeof(val);

    kt_rdkafka(t, "compression.codec", "lz4");
    assert_int_equal(kafka_conf_build(t->conf, &rkc, &err), LFP_OK);
    assert_int_equal(rd_kafka_conf_get(rkc, "compression.codec", val, &n),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(val, "lz4");
    n = sizeof(val);
    assert_int_equal(rd_kafka_conf_get(rkc, "enable.idempotence", val, &n),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(val, "true");
    n = sizeof(val);
    assert_int_equal(rd_kafka_conf_get(rkc, "acks", val, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "-1"); /* all */
    rd_kafka_conf_destroy(rkc);
}

#define KT_TEST(f) cmocka_unit_test_setup_teardown(f, kt_setup, kt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        KT_TEST(test_flush_is_ok_once_every_record_is_in_the_topic),
        KT_TEST(test_librdkafka_statistics_become_gauges),
        KT_TEST(test_records_of_one_key_share_a_partition_in_order),
        KT_TEST(test_record_without_the_key_field_is_sent_without_key),
        KT_TEST(test_dropped_records_are_not_sent),
        KT_TEST(test_raw_format_sends_the_line_as_read),
        KT_TEST(test_topic_template_takes_tag_and_field_made_safe),
        KT_TEST(test_template_expansion_of_missing_and_long_values),
        KT_TEST(test_unreachable_cluster_is_retry_then_delivered),
        KT_TEST(test_retry_resends_only_what_was_not_delivered),
        KT_TEST(test_other_chunk_after_a_retry_is_sent_whole),
        KT_TEST(test_stopping_output_stops_waiting_for_reports),
        KT_TEST(test_fatal_producer_error_gets_a_new_producer),
        KT_TEST(test_fatal_error_found_at_the_next_flush),
        KT_TEST(test_message_over_the_size_limit_is_a_permanent_error),
        KT_TEST(test_broker_rejecting_a_batch_is_a_permanent_error),
        KT_TEST(test_full_queue_waits_and_loses_nothing),
        KT_TEST(test_drain_flushes_and_logs_totals),
        cmocka_unit_test(test_stats_reads_queue_errors_and_round_trip),
        KT_TEST(test_statistics_become_a_log_line),
        KT_TEST(test_acks_one_with_idempotence_is_refused),
        KT_TEST(test_malformed_topic_template_is_refused),
        KT_TEST(test_bad_rdkafka_key_fails_init_without_showing_secrets),
        KT_TEST(test_bad_rdkafka_value_names_the_key),
        KT_TEST(test_rdkafka_keys_override_ours),
    };

    return cmocka_run_group_tests(tests, kt_group_setup, kt_group_teardown);
}
