/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_prom.c - the upstream metric families in the Prometheus text
 * format 0.0.4: counters, one histogram per latency, one summary per
 * latency whose quantiles come from the sketches (label window: each
 * sliding window and "lifetime"), and error ratios per window.
 *
 * A family's samples are written together, after its HELP and TYPE
 * lines; series come in registry order.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "metrics_int.h"

struct prom_ctx {
    struct lf_metrics *m;
    struct lf_mbuf *out;
    struct metrics_series **series; /* snapshot, n entries */
    struct metrics_view *views;
    size_t n;
    uint32_t nlive;
};

static void prom_family(struct prom_ctx *c, const char *name, const char *type,
                        const char *help)
{
    lf_mbuf_printf(c->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                   type);
}

/* name{labels of s[,extra]} (no value). extra: already formatted
 * `k="v"` pairs or NULL. */
static void prom_sample(struct prom_ctx *c, const char *name,
                        const char *suffix, const struct metrics_series *s,
                        const char *extra)
{
    const struct metrics_settings *st = &c->m->st;

    lf_mbuf_puts(c->out, name);
    lf_mbuf_puts(c->out, suffix);
    lf_mbuf_append(c->out, "{", 1);
    for (int i = 0; i < st->nlabels; i++) {
        lf_mbuf_printf(c->out, "%s%s=\"", i ? "," : "", st->label_names[i]);
        lf_mbuf_label_value(c->out, s->values[i], strlen(s->values[i]));
        lf_mbuf_append(c->out, "\"", 1);
    }
    if (extra) {
        lf_mbuf_append(c->out, ",", 1);
        lf_mbuf_puts(c->out, extra);
    }
    lf_mbuf_append(c->out, "} ", 2);
}

static void prom_u64(struct prom_ctx *c, const char *name,
                     const struct metrics_series *s, uint64_t v)
{
    prom_sample(c, name, "", s, NULL);
    lf_mbuf_u64(c->out, v);
    lf_mbuf_append(c->out, "\n", 1);
}

static void prom_counters(struct prom_ctx *c)
{
    static const char req[] = "logferry_upstream_requests_total";
    static const char errs[] = "logferry_upstream_errors_total";
    struct lf_mbuf extra;

    lf_mbuf_init(&extra);
    prom_family(c, req, "counter",
                "Requests by final HTTP status code "
                "(http.response.status_code; none: no status).");
    for (size_t i = 0; i < c->n; i++) {
        const struct metrics_counts *t = &c->series[i]->total;
        for (uint32_t j = 0; j < t->ncodes; j++) {
            char code[32];
            if (t->codes[j].code)
                (void)snprintf(code, sizeof(code), "code=\"%d\"",
                               (int)t->codes[j].code);
            else
                (void)snprintf(code, sizeof(code), "code=\"none\"");
            prom_sample(c, req, "", c->series[i], code);
            lf_mbuf_u64(c->out, t->codes[j].count);
            lf_mbuf_append(c->out, "\n", 1);
        }
    }
    prom_family(c, errs, "counter",
                "Requests that failed upstream, by class (upstream.error).");
    for (size_t i = 0; i < c->n; i++) {
        const struct metrics_counts *t = &c->series[i]->total;
        for (uint32_t j = 0; j < t->nclasses; j++) {
            extra.len = 0;
            lf_mbuf_puts(&extra, "error=\"");
            lf_mbuf_label_value(&extra, t->classes[j].name,
                                strlen(t->classes[j].name));
            lf_mbuf_puts(&extra, "\"");
            prom_sample(c, errs, "", c->series[i], extra.data);
            lf_mbuf_u64(c->out, t->classes[j].count);
            lf_mbuf_append(c->out, "\n", 1);
        }
    }
    lf_mbuf_fini(&extra);
    prom_family(c, "logferry_upstream_retries_total", "counter",
                "Extra upstream attempts (upstream.attempts - 1).");
    for (size_t i = 0; i < c->n; i++)
        prom_u64(c, "logferry_upstream_retries_total", c->series[i],
                 c->series[i]->total.retries);
    prom_family(c, "logferry_upstream_response_bytes_total", "counter",
                "Response body bytes sent to clients "
                "(http.response.body.bytes).");
    for (size_t i = 0; i < c->n; i++)
        prom_u64(c, "logferry_upstream_response_bytes_total", c->series[i],
                 c->series[i]->total.bytes);
}

static void prom_histogram(struct prom_ctx *c, int k)
{
    const struct metrics_settings *st = &c->m->st;
    const char *name = lf_metrics_kinds[k].metric;
    char help[200], le[64];

    (void)snprintf(help, sizeof(help), "%s, in seconds.",
                   lf_metrics_kinds[k].help);
    prom_family(c, name, "histogram", help);
    for (size_t i = 0; i < c->n; i++) {
        const struct metrics_hist *h = &c->series[i]->hist[k];
        uint64_t cum = 0;
        for (int b = 0; b <= st->nbuckets; b++) {
            struct lf_mbuf v;
            cum += h->bins[b];
            lf_mbuf_init(&v);
            if (b < st->nbuckets)
                lf_mbuf_double(&v, st->buckets[b]);
            else
                lf_mbuf_puts(&v, "+Inf");
            (void)snprintf(le, sizeof(le), "le=\"%s\"", v.data);
            lf_mbuf_fini(&v);
            prom_sample(c, name, "_bucket", c->series[i], le);
            lf_mbuf_u64(c->out, cum);
            lf_mbuf_append(c->out, "\n", 1);
        }
        prom_sample(c, name, "_sum", c->series[i], NULL);
        lf_mbuf_double(c->out, h->sum);
        lf_mbuf_append(c->out, "\n", 1);
        prom_sample(c, name, "_count", c->series[i], NULL);
        lf_mbuf_u64(c->out, h->count);
        lf_mbuf_append(c->out, "\n", 1);
    }
}

static void prom_summary_window(struct prom_ctx *c, int k, size_t i, int w)
{
    const struct metrics_settings *st = &c->m->st;
    const struct metrics_view *v = &c->views[i];
    const char *name = lf_metrics_kinds[k].window;
    const char *wname = w < st->nwindows ? st->window_names[w] : "lifetime";
    char extra[160];

    for (int q = 0; q < st->nquantiles; q++) {
        (void)snprintf(extra, sizeof(extra), "window=\"%s\",quantile=\"%s\"",
                       wname, st->quantile_names[q]);
        prom_sample(c, name, "", c->series[i], extra);
        lf_mbuf_double(c->out, v->q[k][w][q]);
        lf_mbuf_append(c->out, "\n", 1);
    }
    (void)snprintf(extra, sizeof(extra), "window=\"%s\"", wname);
    prom_sample(c, name, "_sum", c->series[i], extra);
    lf_mbuf_double(c->out, v->q_sum[k][w]);
    lf_mbuf_append(c->out, "\n", 1);
    prom_sample(c, name, "_count", c->series[i], extra);
    lf_mbuf_u64(c->out, v->q_count[k][w]);
    lf_mbuf_append(c->out, "\n", 1);
}

static void prom_summary(struct prom_ctx *c, int k)
{
    char help[300];

    (void)snprintf(help, sizeof(help),
                   "%s, in seconds: quantiles from a relative-error sketch "
                   "over each sliding window and the process lifetime.",
                   lf_metrics_kinds[k].help);
    prom_family(c, lf_metrics_kinds[k].window, "summary", help);
    for (size_t i = 0; i < c->n; i++)
        for (int w = 0; w <= c->m->st.nwindows; w++)
            prom_summary_window(c, k, i, w);
}

static double prom_ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void prom_windows(struct prom_ctx *c)
{
    static const char *const names[] = {"logferry_upstream_window_requests",
                                        "logferry_upstream_error_ratio",
                                        "logferry_upstream_5xx_ratio"};
    static const char *const helps[] = {
        "Requests within the sliding window.",
        "Share of requests with an upstream error within the window.",
        "Share of requests answered with a 5xx status within the window."};
    const struct metrics_settings *st = &c->m->st;
    char extra[80];

    for (int f = 0; f < 3; f++) {
        prom_family(c, names[f], "gauge", helps[f]);
        for (size_t i = 0; i < c->n; i++) {
            const struct metrics_view *v = &c->views[i];
            for (int w = 0; w < st->nwindows; w++) {
                (void)snprintf(extra, sizeof(extra), "window=\"%s\"",
                               st->window_names[w]);
                prom_sample(c, names[f], "", c->series[i], extra);
                if (f == 0)
                    lf_mbuf_u64(c->out, v->w_requests[w]);
                else
                    lf_mbuf_double(c->out, prom_ratio(f == 1 ? v->w_errors[w]
                                                             : v->w_5xx[w],
                                                      v->w_requests[w]));
                lf_mbuf_append(c->out, "\n", 1);
            }
        }
    }
}

static void prom_self(struct prom_ctx *c)
{
    struct lf_metrics *m = c->m;

    lf_mbuf_printf(
        c->out,
        "# HELP logferry_metrics_series Upstream series tracked now "
        "(__overflow__ excluded).\n"
        "# TYPE logferry_metrics_series gauge\n"
        "logferry_metrics_series %u\n"
        "# HELP logferry_metrics_max_series The cardinality guard "
        "(metrics.max_series).\n"
        "# TYPE logferry_metrics_max_series gauge\n"
        "logferry_metrics_max_series %u\n"
        "# HELP logferry_metrics_overflow_records_total Records counted in "
        "the __overflow__ series because max_series was reached.\n"
        "# TYPE logferry_metrics_overflow_records_total counter\n"
        "logferry_metrics_overflow_records_total %llu\n"
        "# HELP logferry_metrics_expired_series_total Series dropped after "
        "series_ttl without records.\n"
        "# TYPE logferry_metrics_expired_series_total counter\n"
        "logferry_metrics_expired_series_total %llu\n",
        (unsigned)c->nlive, (unsigned)m->st.max_series,
        (unsigned long long)atomic_load(&m->overflow_records),
        (unsigned long long)atomic_load(&m->expired_series));
}

/* The live series (and __overflow__ once it counted something). */
static void prom_snapshot(struct prom_ctx *c)
{
    struct lf_metrics *m = c->m;
    uint32_t n = m->st.max_series;

    pthread_mutex_lock(&m->reg_lock);
    c->nlive = m->nlive;
    c->series =
        lf_calloc((size_t)m->nlive + 1, sizeof(struct metrics_series *));
    for (uint32_t id = 0; id < n; id++)
        if (m->series[id])
            c->series[c->n++] = m->series[id];
    if (m->series[n]->total.requests)
        c->series[c->n++] = m->series[n];
    pthread_mutex_unlock(&m->reg_lock);
}

void lf_metrics_prom_locked(struct lf_metrics *m, int64_t now_ns,
                            struct lf_mbuf *out)
{
    struct prom_ctx c = {.m = m, .out = out};

    prom_snapshot(&c);
    c.views = lf_calloc(c.n + 1, sizeof(*c.views));
    for (size_t i = 0; i < c.n; i++)
        lf_metrics_series_view(&m->st, c.series[i], now_ns, &c.views[i],
                               m->scratch);
    prom_counters(&c);
    for (int k = 0; k < METRICS_NKINDS; k++)
        prom_histogram(&c, k);
    for (int k = 0; k < METRICS_NKINDS; k++)
        prom_summary(&c, k);
    prom_windows(&c);
    prom_self(&c);
    lf_free(c.views);
    lf_free(c.series);
}
