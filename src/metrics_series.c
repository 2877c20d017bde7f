/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_series.c - the counts, histograms and sketches of one series,
 * and its window ring.
 *
 * The ring has nslots slots of slot_ns each (10 s for windows 1m,5m: 30
 * slots); slot k of absolute time t is t / slot_ns, stored at k % nslots. A
 * window of n slots is the current slot and the n - 1 before it, so it
 * covers between (n - 1) and n slots of time. Windows are merged on read:
 * the shortest first, each longer one continues from it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "metrics_int.h"

const struct metrics_kind_def lf_metrics_kinds[METRICS_NKINDS] = {
    {.field = "event.duration",
     .is_ns = 1,
     .metric = "logferry_upstream_request_seconds",
     .window = "logferry_upstream_request_window_seconds",
     .record = "request_time",
     .help = "Request time as the proxy logged it (event.duration)"},
    {.field = "upstream.response_time",
     .metric = "logferry_upstream_response_seconds",
     .window = "logferry_upstream_response_window_seconds",
     .record = "response_time",
     .help = "Upstream response time (upstream.response_time)"},
    {.field = "upstream.connect_time",
     .metric = "logferry_upstream_connect_seconds",
     .window = "logferry_upstream_connect_window_seconds",
     .record = "connect_time",
     .help = "Upstream connect time (upstream.connect_time)"},
    {.field = "upstream.header_time",
     .metric = "logferry_upstream_header_seconds",
     .window = "logferry_upstream_header_window_seconds",
     .record = "header_time",
     .help = "Upstream time to response header (upstream.header_time)"},
};

void lf_metrics_counts_add_code(struct metrics_counts *c, int32_t code,
                                uint64_t n)
{
    for (uint32_t i = 0; i < c->ncodes; i++) {
        if (c->codes[i].code == code) {
            c->codes[i].count += n;
            return;
        }
    }
    if (c->ncodes == c->codes_cap) {
        c->codes_cap = c->codes_cap ? c->codes_cap * 2 : 4;
        c->codes = lf_realloc(c->codes, sizeof(*c->codes) * c->codes_cap);
    }
    c->codes[c->ncodes].code = code;
    c->codes[c->ncodes++].count = n;
}

/* The class named name[0, len) in c, or NULL. */
static struct metrics_class *counts_class(struct metrics_counts *c,
                                          const char *name, size_t len)
{
    for (uint32_t i = 0; i < c->nclasses; i++)
        if (c->classes[i].len == len &&
            memcmp(c->classes[i].name, name, len) == 0)
            return &c->classes[i];
    return NULL;
}

void lf_metrics_counts_add_class(struct metrics_counts *c, const char *name,
                                 size_t len, uint64_t n)
{
    struct metrics_class *cl = counts_class(c, name, len);
    char *clean;

    if (cl) {
        cl->count += n;
        return;
    }
    /* Names are kept cleaned: a value that needed cleaning is found by
     * its cleaned form, or it would take a new class at every sighting. */
    clean = lf_mbuf_clean_dup(name, len, METRICS_LABEL_MAX);
    cl = counts_class(c, clean, strlen(clean));
    if (cl) {
        cl->count += n;
        lf_free(clean);
        return;
    }
    /* The last slot is kept for "other", which takes what comes past. */
    if (c->nclasses >= METRICS_MAX_CLASSES - 1 && strcmp(clean, "other") != 0) {
        lf_free(clean);
        lf_metrics_counts_add_class(c, "other", 5, n);
        return;
    }
    if (c->nclasses == c->classes_cap) {
        c->classes_cap = c->classes_cap ? c->classes_cap * 2 : 4;
        c->classes =
            lf_realloc(c->classes, sizeof(*c->classes) * c->classes_cap);
    }
    c->classes[c->nclasses].name = clean;
    c->classes[c->nclasses].len = strlen(clean);
    c->classes[c->nclasses++].count = n;
}

void lf_metrics_counts_fini(struct metrics_counts *c)
{
    for (uint32_t i = 0; i < c->nclasses; i++)
        lf_free(c->classes[i].name);
    lf_free(c->classes);
    lf_free(c->codes);
    memset(c, 0, sizeof(*c));
}

static void series_counts_merge(struct metrics_counts *dst,
                                const struct metrics_counts *src)
{
    dst->requests += src->requests;
    dst->errors += src->errors;
    dst->n5xx += src->n5xx;
    dst->retries += src->retries;
    dst->bytes += src->bytes;
    for (uint32_t i = 0; i < src->ncodes; i++)
        lf_metrics_counts_add_code(dst, src->codes[i].code,
                                   src->codes[i].count);
    for (uint32_t i = 0; i < src->nclasses; i++)
        lf_metrics_counts_add_class(dst, src->classes[i].name,
                                    strlen(src->classes[i].name),
                                    src->classes[i].count);
}

/* Counters in a delta's hist. */
static size_t series_delta_rows(const struct metrics_settings *st)
{
    return (size_t)METRICS_NKINDS * ((size_t)st->nbuckets + 1);
}

struct metrics_delta *lf_metrics_delta_new(const struct metrics_settings *st)
{
    struct metrics_delta *d =
        lf_calloc(1, sizeof(*d) + sizeof(uint64_t) * series_delta_rows(st));

    for (int k = 0; k < METRICS_NKINDS; k++)
        lf_sketch16_init(&d->sk[k]);
    return d;
}

void lf_metrics_delta_free(struct metrics_delta *d)
{
    if (!d)
        return;
    lf_metrics_counts_fini(&d->c);
    for (int k = 0; k < METRICS_NKINDS; k++) {
        lf_sketch16_fini(&d->sk[k]);
        lf_sketch_free(d->spill[k]);
    }
    lf_free(d);
}

void lf_metrics_delta_reset(const struct metrics_settings *st,
                            struct metrics_delta *d)
{
    struct metrics_counts *c = &d->c;

    c->requests = c->errors = c->n5xx = c->retries = c->bytes = 0;
    c->ncodes = 0;
    for (uint32_t i = 0; i < c->nclasses; i++)
        lf_free(c->classes[i].name);
    c->nclasses = 0;
    d->is_pending = 0;
    memset(d->hist, 0, sizeof(uint64_t) * series_delta_rows(st));
    for (int k = 0; k < METRICS_NKINDS; k++) {
        lf_sketch16_reset(&d->sk[k]);
        if (d->spill[k])
            lf_sketch_reset(d->spill[k]);
    }
}

/* Index of the first bucket whose bound is >= v; nbuckets if none. */
static int series_bucket(const struct metrics_settings *st, double v)
{
    int lo = 0, hi = st->nbuckets;

    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v <= st->buckets[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A bound whose index is i - 1, i or i + 1 may split the values of
 * index i: -1. Otherwise every value of index i is above the bounds
 * below by a factor of gamma at least, and below the others, so no
 * rounding in the index moves it across a bound. */
int lf_metrics_bucket_of_index(const struct metrics_settings *st, int32_t i)
{
    int b = 0;

    if (!st->is_hist_derived)
        return -1;
    while (b < st->nbuckets && st->bound_index[b] < i - 1)
        b++;
    if (b < st->nbuckets && st->bound_index[b] <= i + 1)
        return -1;
    return b;
}

void lf_metrics_place(const struct metrics_settings *st, double v,
                      struct metrics_place *at)
{
    int bucket = series_bucket(st, v);

    if (v > st->sketch.min_value) {
        at->index = lf_sketch_index(&st->sketch, v);
        at->bucket =
            lf_metrics_bucket_of_index(st, at->index) >= 0 ? -1 : bucket;
    } else {
        at->index = 0;
        at->bucket = st->is_zero_derived ? -1 : bucket;
    }
}

/* Adds the counts of sk's buckets whose histogram bucket they tell to
 * bins[b * stride] (lf_metrics_bucket_of_index): bucket b takes the indexes
 * from two past bound b - 1 to two short of bound b, one run each. */
static void series_hist_derive(const struct metrics_settings *st,
                               const struct lf_sketch16 *sk, uint64_t *bins,
                               size_t stride)
{
    int64_t first = sk->offset, last = (int64_t)sk->offset + sk->nbins - 1;

    if (!st->is_hist_derived || sk->nbins == 0)
        return;
    for (int b = 0; b <= st->nbuckets; b++) {
        int64_t lo = b > 0 ? (int64_t)st->bound_index[b - 1] + 2 : first;
        int64_t hi = b < st->nbuckets ? (int64_t)st->bound_index[b] - 2 : last;
        uint64_t n = 0;
        if (lo < first)
            lo = first;
        if (hi > last)
            hi = last;
        for (int64_t i = lo; i <= hi; i++)
            n += sk->bins[i - first];
        bins[(size_t)b * stride] += n;
    }
}

/* The spill sketch of kind k of d, made when first needed. */
static struct lf_sketch *series_spill(const struct metrics_settings *st,
                                      struct metrics_delta *d, int k)
{
    if (!d->spill[k])
        d->spill[k] = lf_sketch_new(&st->sketch);
    return d->spill[k];
}

void lf_metrics_delta_grow(const struct metrics_settings *st,
                           struct metrics_delta *d, int k, int32_t index)
{
    struct lf_sketch16 *s = &d->sk[k];
    int bucket;

    if (lf_sketch16_covers(s, index)) {
        /* The count wrapped to 0: it stands for 2^16 more values. The
         * histogram counts them now when it reads this bucket off the
         * sketch (else they were counted one by one). */
        bucket = lf_metrics_bucket_of_index(st, index);
        if (bucket >= 0)
            d->hist[(size_t)bucket * METRICS_NKINDS + (size_t)k] += UINT64_C(1)
                                                                    << 16;
        lf_sketch_add_bucket(series_spill(st, d, k), index, UINT64_C(1) << 16);
        return;
    }
    if (lf_sketch16_would_fold(s, &st->sketch, index)) {
        /* Past max_buckets: the histogram counts the buckets now and
         * the spill sketch keeps them (and folds), so the delta's
         * buckets start again from this one. */
        series_hist_derive(st, s, &d->hist[k], METRICS_NKINDS);
        lf_sketch_merge_bins16(series_spill(st, d, k), s);
        lf_sketch16_clear_bins(s);
    }
    lf_sketch16_grow(s, &st->sketch, index);
}

struct metrics_series *lf_metrics_series_new(const struct metrics_settings *st)
{
    struct metrics_series *s = lf_calloc(1, sizeof(*s));

    for (int k = 0; k < METRICS_NKINDS; k++)
        s->hist[k].bins = lf_calloc((size_t)st->nbuckets + 1, sizeof(uint64_t));
    return s;
}

static void series_ring_free(const struct metrics_settings *st,
                             struct metrics_series *s)
{
    if (!s->ring)
        return;
    for (int i = 0; i < st->nslots; i++)
        for (int k = 0; k < METRICS_NKINDS; k++)
            lf_sketch_free(s->ring[i].sk[k]);
    lf_free(s->ring);
    s->ring = NULL;
}

void lf_metrics_series_free(const struct metrics_settings *st,
                            struct metrics_series *s)
{
    if (!s)
        return;
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        lf_free(s->values[i]);
    lf_free(s->key);
    lf_metrics_counts_fini(&s->total);
    for (int k = 0; k < METRICS_NKINDS; k++) {
        lf_free(s->hist[k].bins);
        lf_sketch_free(s->life[k]);
    }
    series_ring_free(st, s);
    lf_free(s);
}

/* The ring slot of absolute slot number `slot`, emptied if it held an
 * older one. */
static struct metrics_slot *series_slot(const struct metrics_settings *st,
                                        struct metrics_series *s, int64_t slot)
{
    struct metrics_slot *sl;

    if (!s->ring) {
        s->ring = lf_calloc((size_t)st->nslots, sizeof(*s->ring));
        for (int i = 0; i < st->nslots; i++)
            s->ring[i].slot = -1;
    }
    sl = &s->ring[slot % st->nslots];
    if (sl->slot != slot) {
        sl->slot = slot;
        sl->requests = sl->errors = sl->n5xx = 0;
        for (int k = 0; k < METRICS_NKINDS; k++)
            if (sl->sk[k])
                lf_sketch_reset(sl->sk[k]);
    }
    return sl;
}

/* Adds sketch k of d, its spilled buckets included, to *dst. Folding
 * gives the same buckets whatever the order counts come in (each value
 * ends in max(its index, the lowest kept)), so the spill changes no
 * quantile. */
static void series_sketch_merge(const struct metrics_settings *st,
                                struct lf_sketch **dst,
                                const struct metrics_delta *d, int k)
{
    if (d->sk[k].count == 0)
        return;
    if (!*dst)
        *dst = lf_sketch_new(&st->sketch);
    lf_sketch_merge16(*dst, &d->sk[k]);
    if (d->spill[k])
        lf_sketch_merge_bins(*dst, d->spill[k]);
}

void lf_metrics_series_merge(const struct metrics_settings *st,
                             struct metrics_series *s,
                             const struct metrics_delta *d, int64_t now_ns)
{
    struct metrics_slot *sl = series_slot(st, s, now_ns / st->slot_ns);

    series_counts_merge(&s->total, &d->c);
    sl->requests += d->c.requests;
    sl->errors += d->c.errors;
    sl->n5xx += d->c.n5xx;
    for (int k = 0; k < METRICS_NKINDS; k++) {
        uint64_t *bins = s->hist[k].bins;
        for (int b = 0; b <= st->nbuckets; b++)
            bins[b] += d->hist[(size_t)b * METRICS_NKINDS + k];
        series_hist_derive(st, &d->sk[k], bins, 1);
        if (st->is_zero_derived)
            bins[0] += d->sk[k].zero;
        s->hist[k].sum += d->sk[k].sum;
        s->hist[k].count += d->sk[k].count;
        series_sketch_merge(st, &s->life[k], d, k);
        series_sketch_merge(st, &sl->sk[k], d, k);
    }
    s->last_ns = now_ns;
}

static void series_quantiles(const struct metrics_settings *st,
                             const struct lf_sketch *sk, double *q)
{
    for (int i = 0; i < st->nquantiles; i++)
        q[i] = sk ? lf_sketch_quantile(sk, st->quantiles[i]) : NAN;
}

/* Windows of kind k: merges slots newest first into scratch, reading the
 * quantiles off each time a window's span is reached. */
static void series_view_kind(const struct metrics_settings *st,
                             const struct metrics_series *s, int64_t now_slot,
                             int k, struct metrics_view *v,
                             struct lf_sketch *scratch)
{
    int w = 0;

    lf_sketch_reset(scratch);
    for (int j = 0; j < st->nslots && w < st->nwindows; j++) {
        const struct metrics_slot *sl =
            s->ring && now_slot >= j ? &s->ring[(now_slot - j) % st->nslots]
                                     : NULL;
        if (sl && sl->slot == now_slot - j && sl->sk[k])
            lf_sketch_merge(scratch, sl->sk[k]);
        while (w < st->nwindows && j + 1 == st->window_slots[w]) {
            v->q_count[k][w] = scratch->count;
            v->q_sum[k][w] = scratch->sum;
            series_quantiles(st, scratch->count ? scratch : NULL, v->q[k][w]);
            w++;
        }
    }
    lf_sketch_reset(scratch);
    v->q_count[k][st->nwindows] = s->life[k] ? s->life[k]->count : 0;
    v->q_sum[k][st->nwindows] = s->life[k] ? s->life[k]->sum : 0;
    series_quantiles(st, s->life[k], v->q[k][st->nwindows]);
}

void lf_metrics_series_view(const struct metrics_settings *st,
                            const struct metrics_series *s, int64_t now_ns,
                            struct metrics_view *v, struct lf_sketch *scratch)
{
    int64_t now_slot = now_ns / st->slot_ns;

    memset(v, 0, sizeof(*v));
    for (int w = 0; w < st->nwindows; w++) {
        for (int j = 0; s->ring && j < st->window_slots[w] && j <= now_slot;
             j++) {
            const struct metrics_slot *sl =
                &s->ring[(now_slot - j) % st->nslots];
            if (sl->slot != now_slot - j)
                continue;
            v->w_requests[w] += sl->requests;
            v->w_errors[w] += sl->errors;
            v->w_5xx[w] += sl->n5xx;
        }
    }
    for (int k = 0; k < METRICS_NKINDS; k++)
        series_view_kind(st, s, now_slot, k, v, scratch);
}

void lf_metrics_series_trim(const struct metrics_settings *st,
                            struct metrics_series *s, int64_t now_ns)
{
    int64_t now_slot = now_ns / st->slot_ns;

    if (s->ring && s->last_ns / st->slot_ns <= now_slot - st->nslots)
        series_ring_free(st, s);
}
