/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_stats.c - logferry's own metrics, read from struct lf_engine
 * (engine_int.h) without changing it: per-instance counters (LFP_CNT_* and
 * LF_CNT_*), records emitted per input, chunks in flight, output queues and
 * the chunk pool. Label plugin="in_tail:0" is the instance's log label.
 */
#include "engine_stats.h"

#include <stdio.h>
#include <string.h>

#include "chunk.h"
#include "engine_int.h"
#include "mem.h"
#include "metrics_buf.h"

struct stats_family {
    const char *name;
    const char *type;
    const char *help;
    int kind;    /* LFP_KIND_* whose instances have it */
    int counter; /* index in lfp_instance.counters; -1: special */
};

/* Families read straight from instance counters. */
static const struct stats_family stats_families[] = {
    {"logferry_input_records_total", "counter",
     "Records an input handed to the pipeline.", LFP_KIND_INPUT, -1},
    {"logferry_input_bytes_total", "counter", "Bytes an input read.",
     LFP_KIND_INPUT, LFP_CNT_BYTES_IN},
    {"logferry_parse_errors_total", "counter",
     "Lines no parser matched (kept with the raw text).", LFP_KIND_INPUT,
     LF_CNT_PARSE_ERRORS},
    {"logferry_input_truncated_records_total", "counter",
     "Lines cut at max_line_size.", LFP_KIND_INPUT, LFP_CNT_TRUNCATED},
    {"logferry_input_rotations_total", "counter", "Files rotated.",
     LFP_KIND_INPUT, LFP_CNT_ROTATIONS},
    {"logferry_filter_dropped_records_total", "counter",
     "Records a filter removed.", LFP_KIND_FILTER, LF_CNT_FILTERED},
    {"logferry_output_records_total", "counter", "Records an output delivered.",
     LFP_KIND_OUTPUT, LFP_CNT_RECORDS_OUT},
    {"logferry_output_bytes_total", "counter", "Bytes an output wrote.",
     LFP_KIND_OUTPUT, LFP_CNT_BYTES_OUT},
    {"logferry_output_dropped_records_total", "counter",
     "Records an output dropped after a permanent failure.", LFP_KIND_OUTPUT,
     LFP_CNT_DROPPED},
    {"logferry_output_retries_total", "counter",
     "Flushes an output will retry.", LFP_KIND_OUTPUT, LFP_CNT_RETRIES},
    {"logferry_output_errors_total", "counter",
     "Permanent flush failures of an output.", LFP_KIND_OUTPUT, LFP_CNT_ERRORS},
};

static void stats_sample(struct lf_mbuf *out, const char *name,
                         const struct lfp_instance *ins, uint64_t v)
{
    lf_mbuf_printf(out, "%s{plugin=\"", name);
    lf_mbuf_label_value(out, ins->label, strlen(ins->label));
    lf_mbuf_puts(out, "\"} ");
    lf_mbuf_u64(out, v);
    lf_mbuf_puts(out, "\n");
}

static void stats_family_render(struct lf_engine *e,
                                const struct stats_family *f,
                                struct lf_mbuf *out)
{
    lf_mbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
                   f->name, f->type);
    if (f->kind == LFP_KIND_INPUT)
        for (int i = 0; i < e->ninputs; i++) {
            const struct engine_input *in = &e->inputs[i];
            stats_sample(out, f->name, &in->ins,
                         f->counter < 0
                             ? (uint64_t)atomic_load(&in->emitted)
                             : lf_instance_counter(&in->ins, f->counter));
        }
    else if (f->kind == LFP_KIND_FILTER)
        for (int i = 0; i < e->nfilters; i++)
            stats_sample(out, f->name, &e->filters[i].ins,
                         lf_instance_counter(&e->filters[i].ins, f->counter));
    else
        for (int i = 0; i < e->noutputs; i++)
            stats_sample(out, f->name, &e->outputs[i].ins,
                         lf_instance_counter(&e->outputs[i].ins, f->counter));
}

static void stats_gauges(struct lf_engine *e, struct lf_mbuf *out)
{
    lf_mbuf_puts(out, "# HELP logferry_input_inflight_chunks Chunks of an "
                      "input not yet acknowledged by every output.\n"
                      "# TYPE logferry_input_inflight_chunks gauge\n");
    for (int i = 0; i < e->ninputs; i++)
        stats_sample(out, "logferry_input_inflight_chunks", &e->inputs[i].ins,
                     (uint64_t)atomic_load(&e->inputs[i].inflight));
    lf_mbuf_puts(out, "# HELP logferry_output_queue_chunks Chunks waiting "
                      "in an output's queue.\n"
                      "# TYPE logferry_output_queue_chunks gauge\n");
    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        uint64_t n = 0;
        if (o->queue) { /* set before the HTTP server starts */
            pthread_mutex_lock(&o->lock);
            n = o->qlen;
            pthread_mutex_unlock(&o->lock);
        }
        stats_sample(out, "logferry_output_queue_chunks", &o->ins, n);
    }
}

static void stats_pool(struct lf_engine *e, struct lf_mbuf *out)
{
    size_t n, nfree = 0;

    pthread_mutex_lock(&e->pool_lock);
    n = e->pool_n;
    for (const struct lfp_chunk *c = e->pool_free; c; c = c->core->next)
        nfree++;
    pthread_mutex_unlock(&e->pool_lock);
    lf_mbuf_printf(
        out,
        "# HELP logferry_pipeline_inflight_chunks Chunks between an input "
        "and the last acknowledgement.\n"
        "# TYPE logferry_pipeline_inflight_chunks gauge\n"
        "logferry_pipeline_inflight_chunks %ld\n"
        "# HELP logferry_chunk_pool_chunks Chunks allocated (at most "
        "max_chunks).\n"
        "# TYPE logferry_chunk_pool_chunks gauge\n"
        "logferry_chunk_pool_chunks %zu\n"
        "# HELP logferry_chunk_pool_free_chunks Allocated chunks not in "
        "use.\n"
        "# TYPE logferry_chunk_pool_free_chunks gauge\n"
        "logferry_chunk_pool_free_chunks %zu\n"
        "# HELP logferry_chunk_buffer_bytes Raw buffer bytes of the "
        "allocated chunks.\n"
        "# TYPE logferry_chunk_buffer_bytes gauge\n"
        "logferry_chunk_buffer_bytes %llu\n"
        "# HELP logferry_chunk_buffer_limit_bytes Raw buffer bytes the "
        "pool may reach (chunk_size x max_chunks).\n"
        "# TYPE logferry_chunk_buffer_limit_bytes gauge\n"
        "logferry_chunk_buffer_limit_bytes %llu\n",
        (long)atomic_load(&e->inflight), n, nfree,
        (unsigned long long)n * (unsigned long long)e->svc.chunk_size,
        (unsigned long long)e->svc.max_chunks *
            (unsigned long long)e->svc.chunk_size);
}

/* ---- gauges reported by plugins (their stats callback) ---------------- */

#define STATS_MAX_PLUGIN_SAMPLES 4096

struct stats_sample_rec {
    char name[96];
    const char *help; /* static in the plugin */
    const struct lfp_instance *ins;
    char label_name[32];
    char label_value[256];
    int has_label;
    double value;
};

struct stats_collect {
    struct stats_sample_rec *recs;
    size_t n;
    const struct lfp_instance *ins; /* the instance being asked */
};

static void stats_collect_one(void *arg, const char *name, const char *help,
                              const char *label_name, const char *label_value,
                              double value)
{
    struct stats_collect *c = arg;
    struct stats_sample_rec *r;

    if (c->n >= STATS_MAX_PLUGIN_SAMPLES || !name)
        return; /* bounded: a runaway plugin cannot grow the page */
    r = &c->recs[c->n++];
    (void)snprintf(r->name, sizeof(r->name), "logferry_%s", name);
    r->help = help ? help : "Reported by the plugin.";
    r->ins = c->ins;
    r->has_label = label_name && label_value;
    (void)snprintf(r->label_name, sizeof(r->label_name), "%s",
                   r->has_label ? label_name : "");
    (void)snprintf(r->label_value, sizeof(r->label_value), "%s",
                   r->has_label ? label_value : "");
    r->value = value;
}

static void stats_plugin_collect(struct lf_engine *e, struct stats_collect *c)
{
    for (int i = 0; i < e->ninputs; i++) {
        const struct lfp_input_def *def = e->inputs[i].def;
        if (!e->inputs[i].initialised ||
            !LFP_DEF_HAS(def, struct lfp_input_def, stats))
            continue;
        c->ins = &e->inputs[i].ins;
        def->stats(e->inputs[i].ins.ctx, stats_collect_one, c);
    }
    for (int i = 0; i < e->noutputs; i++) {
        const struct lfp_output_def *def = e->outputs[i].def;
        if (!e->outputs[i].initialised ||
            !LFP_DEF_HAS(def, struct lfp_output_def, stats))
            continue;
        c->ins = &e->outputs[i].ins;
        def->stats(e->outputs[i].ins.ctx, stats_collect_one, c);
    }
}

/* Renders the collected samples grouped by name: one HELP/TYPE each. */
static void stats_plugins(struct lf_engine *e, struct lf_mbuf *out)
{
    struct stats_collect c = {0};

    c.recs = lf_calloc(STATS_MAX_PLUGIN_SAMPLES, sizeof(*c.recs));
    stats_plugin_collect(e, &c);
    for (size_t i = 0; i < c.n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c.recs[j].name, c.recs[i].name) == 0;
        if (seen)
            continue;
        lf_mbuf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", c.recs[i].name,
                       c.recs[i].help, c.recs[i].name);
        for (size_t j = i; j < c.n; j++) {
            const struct stats_sample_rec *r = &c.recs[j];
            if (strcmp(r->name, c.recs[i].name) != 0)
                continue;
            lf_mbuf_printf(out, "%s{plugin=\"", r->name);
            lf_mbuf_label_value(out, r->ins->label, strlen(r->ins->label));
            if (r->has_label) {
                lf_mbuf_printf(out, "\",%s=\"", r->label_name);
                lf_mbuf_label_value(out, r->label_value,
                                    strlen(r->label_value));
            }
            lf_mbuf_printf(out, "\"} %.17g\n", r->value);
        }
    }
    lf_free(c.recs);
}

void lf_engine_stats_render(struct lf_engine *e, struct lf_mbuf *out)
{
    lf_mbuf_printf(out,
                   "# HELP logferry_build_info Version of logferry.\n"
                   "# TYPE logferry_build_info gauge\n"
                   "logferry_build_info{version=\"%s\"} 1\n",
                   LF_VERSION);
    for (size_t i = 0; i < sizeof(stats_families) / sizeof(*stats_families);
         i++)
        stats_family_render(e, &stats_families[i], out);
    stats_gauges(e, out);
    stats_pool(e, out);
    stats_plugins(e, out);
}
