/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_stats.c - the few numbers we read from librdkafka's statistics
 * JSON (statistics.interval.ms): messages in the producer's queues, their
 * bytes, transmission errors per broker and the brokers' round-trip time.
 *
 * The document is a few kilobytes every interval; a small scanner that
 * tracks the key path is enough, and keeps the plugin on its ABI (no JSON
 * library of the core). Paths read:
 *
 *   .msg_cnt  .msg_size  .brokers.*.txerrs  .brokers.*.rtt.avg  (µs)
 */
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

#define KAFKA_STATS_DEPTH 8
#define KAFKA_STATS_KEY 32

struct kafka_scan {
    const char *p, *end;
    int depth; /* 1 inside the top-level object */
    int is_array[KAFKA_STATS_DEPTH + 1];
    char key[KAFKA_STATS_DEPTH + 1][KAFKA_STATS_KEY];
    int want_key;
};

/* Reads a string at s->p (just after its opening quote) into dst (cut to
 * cap - 1 bytes, escapes kept verbatim: keys we look for have none). */
static int kafka_scan_string(struct kafka_scan *s, char *dst, size_t cap)
{
    size_t n = 0;

    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && s->p + 1 < s->end)
            s->p++;
        if (dst && n + 1 < cap)
            dst[n++] = *s->p;
        s->p++;
    }
    if (dst)
        dst[n] = '\0';
    if (s->p >= s->end)
        return -1;
    s->p++;
    return 0;
}

static int kafka_scan_at(const struct kafka_scan *s, int depth, const char *k)
{
    return s->depth == depth && strcmp(s->key[depth], k) == 0;
}

/* A number value at the current key path. */
static void kafka_scan_number(struct kafka_scan *s, struct kafka_stats *st)
{
    char *after;
    long long v = strtoll(s->p, &after, 10);

    if (after == s->p) {
        s->p++;
        return;
    }
    s->p = after;
    if (kafka_scan_at(s, 1, "msg_cnt"))
        st->msg_cnt = v;
    else if (kafka_scan_at(s, 1, "msg_size"))
        st->msg_bytes = v;
    else if (s->depth >= 3 && strcmp(s->key[1], "brokers") == 0) {
        if (kafka_scan_at(s, 3, "txerrs"))
            st->tx_errs += v;
        else if (kafka_scan_at(s, 4, "avg") && strcmp(s->key[3], "rtt") == 0 &&
                 v > st->rtt_avg_us)
            st->rtt_avg_us = v;
    }
}

static int kafka_scan_open(struct kafka_scan *s, int is_array)
{
    s->depth++;
    if (s->depth <= KAFKA_STATS_DEPTH) {
        s->is_array[s->depth] = is_array;
        s->key[s->depth][0] = '\0';
    }
    s->want_key = !is_array;
    s->p++;
    return 0;
}

/* One token; returns -1 on a malformed document. */
static int kafka_scan_step(struct kafka_scan *s, struct kafka_stats *st)
{
    char c = *s->p;
    int d = s->depth <= KAFKA_STATS_DEPTH ? s->depth : 0;

    switch (c) {
    case '{':
    case '[':
        return kafka_scan_open(s, c == '[');
    case '}':
    case ']':
        if (s->depth-- <= 0)
            return -1;
        s->p++;
        return 0;
    case ',':
        s->want_key = d > 0 && !s->is_array[d];
        s->p++;
        return 0;
    case ':':
        s->want_key = 0;
        s->p++;
        return 0;
    case '"':
        s->p++;
        if (s->want_key && d > 0)
            return kafka_scan_string(s, s->key[d], KAFKA_STATS_KEY);
        return kafka_scan_string(s, NULL, 0);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            kafka_scan_number(s, st);
        else
            s->p++; /* blanks, true, false, null */
        return 0;
    }
}

int kafka_stats_parse(const char *json, size_t len, struct kafka_stats *st)
{
    struct kafka_scan s;

    memset(&s, 0, sizeof(s));
    memset(st, 0, sizeof(*st));
    s.p = json;
    s.end = json + len;
    while (s.p < s.end && *s.p != '{')
        s.p++;
    if (s.p >= s.end)
        return -1;
    while (s.p < s.end) {
        if (kafka_scan_step(&s, st) != 0)
            return -1;
        if (s.depth == 0)
            break;
    }
    if (s.depth != 0)
        return -1;
    st->is_valid = 1;
    return 0;
}
