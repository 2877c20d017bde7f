/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_input.c - the input that emits metric records: every
 * flush_interval, one record per series (tag metrics.tag), so outputs such
 * as Kafka or Elasticsearch carry the aggregates.
 *
 *   {"event.kind":"metric","event.dataset":"logferry.upstream",
 *    "upstream.address":"10.0.1.11:8080",            <- metrics.labels
 *    "upstream.requests":1234,"upstream.requests_by_code":{"200":1200,..},
 *    "upstream.errors":3,"upstream.errors_by_class":{"timeout":3},
 *    "upstream.5xx":5,"upstream.retries":2,"upstream.response_bytes":99,
 *    "upstream.windows":{"1m":{"requests":..,"errors":..,"5xx":..,
 *                              "error_ratio":..,"5xx_ratio":..},..},
 *    "upstream.latency.response_time":{"1m":{"count":..,"sum":..,
 *                              "p50":..,"p99.9":..},..,"lifetime":{..}},..}
 *
 * Counters are totals since the start (like Prometheus counters).
 *
 * It runs on its own input thread. The engine waits for every input to
 * finish before an exit_on_eof run ends, and this one has no end of its
 * own, so it watches the others (read-only, engine_int.h): once every other
 * input has finished and nothing is in flight, every record has been
 * counted; it emits a last set of records and returns LFP_INPUT_DONE. On
 * SIGTERM it stops at once (chunk_get returns NULL while stopping).
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "chunk.h"
#include "engine_int.h"
#include "json_out.h"
#include "mem.h"
#include "metrics_int.h"
#include "timeutil.h"

#define MI_RECORDS_PER_CHUNK 256
#define MI_POLL_MS 50

struct mi_snap {
    char *values[METRICS_MAX_LABELS];
    struct metrics_counts c;
    struct metrics_view v;
};

struct mi_ctx {
    struct lfp_instance *ins;
    const struct lfp_host *host;
    struct lf_engine *e;
    struct lf_metrics *m;
    struct lf_mbuf json;
};

static int mi_init(struct lfp_instance *ins, const struct lfp_host *host,
                   const void *conf, void **ctx, struct lfp_err *err)
{
    struct mi_ctx *mi;

    (void)conf;
    if (!ins->engine || !ins->engine->metrics)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "metric records need metrics.enabled on");
    mi = lf_calloc(1, sizeof(*mi));
    mi->ins = ins;
    mi->host = host;
    mi->e = ins->engine;
    mi->m = ins->engine->metrics;
    lf_mbuf_init(&mi->json);
    *ctx = mi;
    return LFP_OK;
}

static void mi_counts_copy(struct metrics_counts *dst,
                           const struct metrics_counts *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->requests = src->requests;
    dst->errors = src->errors;
    dst->n5xx = src->n5xx;
    dst->retries = src->retries;
    dst->bytes = src->bytes;
    for (uint32_t i = 0; i < src->ncodes; i++)
        lf_metrics_counts_add_code(dst, src->codes[i].code,
                                   src->codes[i].count);
    for (uint32_t i = 0; i < src->nclasses; i++)
        lf_metrics_counts_add_class(dst, src->classes[i].name,
                                    strlen(src->classes[i].name),
                                    src->classes[i].count);
}

/* Copies what the records need, so no lock is held while the pipeline
 * pushes back. Caller frees with mi_snaps_free(). */
static struct mi_snap *mi_snapshot(struct lf_metrics *m, size_t *n)
{
    struct mi_snap *snaps;
    uint32_t max = m->st.max_series;
    int64_t now = lf_time_now_ns();

    pthread_mutex_lock(&m->agg_lock);
    lf_metrics_drain_locked(m, now, 0);
    pthread_mutex_lock(&m->reg_lock);
    snaps = lf_calloc((size_t)m->nlive + 1, sizeof(*snaps));
    *n = 0;
    for (uint32_t id = 0; id <= max; id++) {
        const struct metrics_series *s = m->series[id];
        struct mi_snap *sn;
        if (!s || (id == max && s->total.requests == 0))
            continue;
        sn = &snaps[(*n)++];
        for (int i = 0; i < m->st.nlabels; i++)
            sn->values[i] = lf_strdup(s->values[i]);
        mi_counts_copy(&sn->c, &s->total);
        lf_metrics_series_view(&m->st, s, now, &sn->v, m->scratch);
    }
    pthread_mutex_unlock(&m->reg_lock);
    pthread_mutex_unlock(&m->agg_lock);
    return snaps;
}

static void mi_snaps_free(struct mi_snap *snaps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < METRICS_MAX_LABELS; j++)
            lf_free(snaps[i].values[j]);
        lf_metrics_counts_fini(&snaps[i].c);
    }
    lf_free(snaps);
}

/* Copies the JSON text in mi->json into the chunk's arena as a field. */
static void mi_field_json(struct mi_ctx *mi, struct lfp_chunk *c,
                          struct lfp_record *rec, const char *key)
{
    struct lfp_field *f = mi->host->record_add(c, rec);
    char *s = mi->host->chunk_alloc(c, mi->json.len + 1);

    memcpy(s, mi->json.data, mi->json.len);
    f->key = key;
    f->key_len = (uint16_t)strlen(key);
    f->type = LFP_T_JSON;
    f->n = (uint32_t)mi->json.len;
    f->v.s = s;
    mi->json.len = 0;
}

static void mi_field_int(struct mi_ctx *mi, struct lfp_chunk *c,
                         struct lfp_record *rec, const char *key, uint64_t v)
{
    lf_field_set_int(mi->host->record_add(c, rec), key, (int64_t)v);
}

static void mi_json_number(struct lf_mbuf *b, double v)
{
    if (isfinite(v))
        lf_mbuf_double(b, v);
    else
        lf_mbuf_puts(b, "null");
}

static void mi_json_counts(struct mi_ctx *mi, const struct metrics_counts *c,
                           int classes)
{
    lf_mbuf_puts(&mi->json, "{");
    for (uint32_t i = 0; !classes && i < c->ncodes; i++) {
        if (c->codes[i].code)
            lf_mbuf_printf(&mi->json, "%s\"%d\":", i ? "," : "",
                           (int)c->codes[i].code);
        else
            lf_mbuf_printf(&mi->json, "%s\"none\":", i ? "," : "");
        lf_mbuf_u64(&mi->json, c->codes[i].count);
    }
    for (uint32_t i = 0; classes && i < c->nclasses; i++) {
        char *esc = lf_malloc(strlen(c->classes[i].name) * 6 + 3);
        size_t n =
            lf_json_string(c->classes[i].name, strlen(c->classes[i].name), esc);
        lf_mbuf_printf(&mi->json, "%s", i ? "," : "");
        lf_mbuf_append(&mi->json, esc, n);
        lf_mbuf_printf(&mi->json, ":%llu",
                       (unsigned long long)c->classes[i].count);
        lf_free(esc);
    }
    lf_mbuf_puts(&mi->json, "}");
}

static void mi_json_windows(struct mi_ctx *mi, const struct mi_snap *sn)
{
    const struct metrics_settings *st = &mi->m->st;
    const struct metrics_view *v = &sn->v;

    lf_mbuf_puts(&mi->json, "{");
    for (int w = 0; w < st->nwindows; w++) {
        uint64_t n = v->w_requests[w];
        lf_mbuf_printf(&mi->json,
                       "%s\"%s\":{\"requests\":%llu,\"errors\":%llu,"
                       "\"5xx\":%llu,\"error_ratio\":",
                       w ? "," : "", st->window_names[w], (unsigned long long)n,
                       (unsigned long long)v->w_errors[w],
                       (unsigned long long)v->w_5xx[w]);
        mi_json_number(&mi->json, n ? (double)v->w_errors[w] / (double)n : 0.0);
        lf_mbuf_puts(&mi->json, ",\"5xx_ratio\":");
        mi_json_number(&mi->json, n ? (double)v->w_5xx[w] / (double)n : 0.0);
        lf_mbuf_puts(&mi->json, "}");
    }
    lf_mbuf_puts(&mi->json, "}");
}

static void mi_json_latency(struct mi_ctx *mi, const struct mi_snap *sn, int k)
{
    const struct metrics_settings *st = &mi->m->st;
    const struct metrics_view *v = &sn->v;

    lf_mbuf_puts(&mi->json, "{");
    for (int w = 0; w <= st->nwindows; w++) {
        lf_mbuf_printf(&mi->json,
                       "%s\"%s\":{\"count\":%llu,\"sum\":", w ? "," : "",
                       w < st->nwindows ? st->window_names[w] : "lifetime",
                       (unsigned long long)v->q_count[k][w]);
        mi_json_number(&mi->json, v->q_sum[k][w]);
        for (int q = 0; q < st->nquantiles; q++) {
            lf_mbuf_printf(&mi->json, ",\"p%g\":", st->quantiles[q] * 100.0);
            mi_json_number(&mi->json, v->q[k][w][q]);
        }
        lf_mbuf_puts(&mi->json, "}");
    }
    lf_mbuf_puts(&mi->json, "}");
}

static const char *const mi_latency_keys[METRICS_NKINDS] = {
    "upstream.latency.request_time", "upstream.latency.response_time",
    "upstream.latency.connect_time", "upstream.latency.header_time"};

/* Fills the record of one series. */
static void mi_record(struct mi_ctx *mi, struct lfp_chunk *c,
                      struct lfp_record *rec, const struct mi_snap *sn)
{
    const struct metrics_settings *st = &mi->m->st;

    lf_field_set_str(mi->host->record_add(c, rec), "event.kind", "metric", 6);
    lf_field_set_str(mi->host->record_add(c, rec), "event.dataset",
                     "logferry.upstream", 17);
    for (int i = 0; i < st->nlabels; i++) {
        size_t n = strlen(sn->values[i]);
        char *s = mi->host->chunk_alloc(c, n + 1);
        memcpy(s, sn->values[i], n + 1);
        lf_field_set_str(mi->host->record_add(c, rec), st->label_fields[i], s,
                         n);
    }
    mi_field_int(mi, c, rec, "upstream.requests", sn->c.requests);
    mi_json_counts(mi, &sn->c, 0);
    mi_field_json(mi, c, rec, "upstream.requests_by_code");
    mi_field_int(mi, c, rec, "upstream.errors", sn->c.errors);
    mi_json_counts(mi, &sn->c, 1);
    mi_field_json(mi, c, rec, "upstream.errors_by_class");
    mi_field_int(mi, c, rec, "upstream.5xx", sn->c.n5xx);
    mi_field_int(mi, c, rec, "upstream.retries", sn->c.retries);
    mi_field_int(mi, c, rec, "upstream.response_bytes", sn->c.bytes);
    mi_json_windows(mi, sn);
    mi_field_json(mi, c, rec, "upstream.windows");
    for (int k = 0; k < METRICS_NKINDS; k++) {
        mi_json_latency(mi, sn, k);
        mi_field_json(mi, c, rec, mi_latency_keys[k]);
    }
}

/* Emits one record per series; returns LFP_ERR_STOPPED if the engine
 * stopped us midway. */
static int mi_emit(struct mi_ctx *mi)
{
    size_t n = 0, off = 0;
    struct mi_snap *snaps = mi_snapshot(mi->m, &n);
    struct lfp_chunk *c = NULL;
    int rc = LFP_OK;

    for (size_t i = 0; i < n; i++) {
        size_t cap = mi->host->chunk_raw_cap(mi->ins);
        char *raw;
        int len;
        if (c && (c->nrecords >= MI_RECORDS_PER_CHUNK || cap - off < 300)) {
            mi->host->chunk_emit(mi->ins, c);
            c = NULL;
        }
        if (!c) {
            c = mi->host->chunk_get(mi->ins);
            off = 0;
            if (!c) {
                rc = LFP_ERR_STOPPED;
                break;
            }
        }
        raw = mi->host->chunk_raw(c, &cap);
        /* The raw line names the series: "metrics <first label value>". */
        len = snprintf(raw + off, cap - off, "metrics %.200s",
                       snaps[i].values[0]);
        if (len > 208)
            len = 208;
        mi->host->chunk_add_line(c, (uint32_t)off, (uint32_t)len, 0);
        mi_record(mi, c, &c->records[c->nrecords - 1], &snaps[i]);
        off += (size_t)len;
    }
    if (c && c->nrecords)
        mi->host->chunk_emit(mi->ins, c);
    else if (c)
        mi->host->chunk_put(mi->ins, c);
    mi_snaps_free(snaps, n);
    return rc;
}

/* Whether every other input finished and nothing is in flight: then every
 * record of the run has been observed. */
static int mi_others_done(const struct mi_ctx *mi)
{
    const struct lf_engine *e = mi->e;

    for (int i = 0; i < e->ninputs; i++) {
        if (&e->inputs[i].ins == mi->ins)
            continue;
        if (!atomic_load(&e->inputs[i].finished))
            return 0;
    }
    return atomic_load(&e->inflight) == 0;
}

static int mi_run(void *ctx)
{
    struct mi_ctx *mi = ctx;
    int64_t flush_ms = mi->m->st.flush_ns / 1000000;
    int64_t next = lf_time_now_ns() / 1000000 + flush_ms;

    for (;;) {
        struct pollfd pfd = {.fd = mi->host->stop_fd(mi->ins),
                             .events = POLLIN};
        int64_t now = lf_time_now_ns() / 1000000;
        int64_t wait = next - now;
        if (mi->host->is_stopping(mi->ins))
            return LFP_INPUT_STOPPED;
        if (mi_others_done(mi))
            return mi_emit(mi) == LFP_OK ? LFP_INPUT_DONE : LFP_INPUT_STOPPED;
        if (wait <= 0) {
            if (mi_emit(mi) != LFP_OK)
                return LFP_INPUT_STOPPED;
            next = now + flush_ms;
            continue;
        }
        (void)poll(&pfd, 1, (int)(wait < MI_POLL_MS ? wait : MI_POLL_MS));
    }
}

static void mi_ack(void *ctx, const struct lfp_chunk *chunk)
{
    /* Metric records have no source position to commit. */
    (void)ctx;
    (void)chunk;
}

static void mi_destroy(void *ctx)
{
    struct mi_ctx *mi = ctx;

    if (!mi)
        return;
    lf_mbuf_fini(&mi->json);
    lf_free(mi);
}

static const struct lfp_input_def metrics_input_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_input_def),
    .name = "metrics",
    .summary = "Metric records of the upstream aggregator, every "
               "metrics.flush_interval.",
    .options = NULL,
    .conf_size = 0,
    .init = mi_init,
    .run = mi_run,
    .ack = mi_ack,
    .destroy = mi_destroy,
};

const struct lfp_input_def *lf_metrics_input_def_get(void)
{
    return &metrics_input_def;
}
