/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_stats.c - logferry's own metrics, read from struct lf_engine
 * (engine_int.h) without changing it: per-instance counters (LFP_CNT_* and
 * LF_CNT_*), records emitted per input, chunks in flight, output queues and
 * the chunk pool. Label plugin="in_tail:0" is the instance's log label.
 */
#include "engine_stats.h"

#include <string.h>

#include "chunk.h"
#include "engine_int.h"
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
}
