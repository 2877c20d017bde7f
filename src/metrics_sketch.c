/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_sketch.c - DDSketch with a dense store whose span is capped by
 * folding the lowest buckets (see metrics_sketch.h for the idea).
 */
#include "metrics_sketch.h"

#include <math.h>
#include <string.h>

#include "mem.h"

int lf_sketch_params_init(struct lf_sketch_params *p, double accuracy,
                          int32_t max_buckets, struct lfp_err *err)
{
    if (!(accuracy > 0.0 && accuracy < 1.0))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "sketch accuracy %g is not between 0 and 1",
                          accuracy);
    if (max_buckets < 16)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "sketch max_buckets %d is below 16",
                          (int)max_buckets);
    memset(p, 0, sizeof(*p));
    p->accuracy = accuracy;
    p->gamma = (1.0 + accuracy) / (1.0 - accuracy);
    p->ln_gamma = log(p->gamma);
    p->inv_ln_gamma = 1.0 / p->ln_gamma;
    p->min_value = LF_SKETCH_MIN_VALUE;
    p->max_buckets = max_buckets;
    return LFP_OK;
}

void lf_sketch_init(struct lf_sketch *s, const struct lf_sketch_params *p)
{
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->min = INFINITY;
    s->max = -INFINITY;
}

void lf_sketch_fini(struct lf_sketch *s)
{
    lf_free(s->bins);
    s->bins = NULL;
}

struct lf_sketch *lf_sketch_new(const struct lf_sketch_params *p)
{
    struct lf_sketch *s = lf_malloc(sizeof(*s));

    lf_sketch_init(s, p);
    return s;
}

void lf_sketch_free(struct lf_sketch *s)
{
    if (!s)
        return;
    lf_sketch_fini(s);
    lf_free(s);
}

void lf_sketch_reset(struct lf_sketch *s)
{
    lf_sketch_clear_bins(s);
    s->zero = 0;
    s->count = 0;
    s->sum = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
}

int32_t lf_sketch_index(const struct lf_sketch_params *p, double v)
{
    return (int32_t)ceil(log(v) * p->inv_ln_gamma);
}

double lf_sketch_bucket_value(const struct lf_sketch_params *p, int32_t i)
{
    return 2.0 * exp((double)i * p->ln_gamma) / (p->gamma + 1.0);
}

size_t lf_sketch_bytes(const struct lf_sketch *s)
{
    return sizeof(*s) + sizeof(*s->bins) * (size_t)s->cap;
}

/* Makes bins cover the indexes [lo, hi] (hi - lo < max_buckets), keeping
 * the counts already there. */
static void sketch_cover(struct lf_sketch *s, int32_t lo, int32_t hi)
{
    int32_t old_lo = s->offset, n;
    int32_t shift;

    if (s->nbins == 0) {
        old_lo = lo;
        s->offset = lo;
    } else if (s->offset + s->nbins - 1 > hi) {
        hi = s->offset + s->nbins - 1;
    }
    if (lo > old_lo)
        lo = old_lo;
    n = hi - lo + 1;
    if (n > s->cap) {
        int32_t cap = s->cap ? s->cap : 8;
        while (cap < n)
            cap *= 2;
        if (cap > s->p->max_buckets)
            cap = s->p->max_buckets;
        s->bins = lf_realloc(s->bins, sizeof(*s->bins) * (size_t)cap);
        memset(s->bins + s->cap, 0, sizeof(*s->bins) * (size_t)(cap - s->cap));
        s->cap = cap;
    }
    shift = old_lo - lo;
    if (shift > 0 && s->nbins > 0) {
        memmove(s->bins + shift, s->bins, sizeof(*s->bins) * (size_t)s->nbins);
        memset(s->bins, 0, sizeof(*s->bins) * (size_t)shift);
    }
    s->offset = lo;
    if (s->nbins == 0 || hi - lo + 1 > s->nbins + shift)
        s->nbins = hi - lo + 1;
    else
        s->nbins += shift;
}

/* Folds every bucket below new_lo into bucket new_lo. */
static void sketch_collapse(struct lf_sketch *s, int32_t new_lo)
{
    int32_t top = s->offset + s->nbins - 1;
    int32_t k = new_lo - s->offset; /* entries that go */
    uint64_t folded = 0;

    if (s->nbins == 0 || k <= 0)
        return;
    if (new_lo > top) {
        for (int32_t j = 0; j < s->nbins; j++)
            folded += s->bins[j];
        memset(s->bins, 0, sizeof(*s->bins) * (size_t)s->nbins);
        s->bins[0] = folded;
        s->collapsed += s->nbins;
        s->offset = new_lo;
        s->nbins = 1;
        return;
    }
    for (int32_t j = 0; j < k; j++)
        folded += s->bins[j];
    memmove(s->bins, s->bins + k, sizeof(*s->bins) * (size_t)(s->nbins - k));
    memset(s->bins + s->nbins - k, 0, sizeof(*s->bins) * (size_t)k);
    s->bins[0] += folded;
    s->nbins -= k;
    s->offset = new_lo;
    s->collapsed += k;
}

void lf_sketch_bucket_grow(struct lf_sketch *s, int32_t i, uint64_t n)
{
    int32_t lo = i, hi = i;

    if (s->nbins > 0) {
        if (s->offset < lo)
            lo = s->offset;
        if (s->offset + s->nbins - 1 > hi)
            hi = s->offset + s->nbins - 1;
    }
    if (hi - lo + 1 > s->p->max_buckets) {
        int32_t new_lo = hi - s->p->max_buckets + 1;
        sketch_collapse(s, new_lo);
        if (i < new_lo)
            i = new_lo;
        lo = s->nbins > 0 && s->offset < i ? s->offset : i;
    }
    sketch_cover(s, lo, hi);
    s->bins[i - s->offset] += n;
}

void lf_sketch_add_bucket(struct lf_sketch *s, int32_t i, uint64_t n)
{
    if (i >= s->offset && i - s->offset < s->nbins) /* the usual case */
        s->bins[i - s->offset] += n;
    else
        lf_sketch_bucket_grow(s, i, n);
}

void lf_sketch_add_n(struct lf_sketch *s, double v, uint64_t n)
{
    if (!(v >= 0.0) || n == 0) /* NaN or negative */
        return;
    lf_sketch_add_at_n(s, v, v > s->p->min_value ? lf_sketch_index(s->p, v) : 0,
                       n);
}

void lf_sketch_add(struct lf_sketch *s, double v)
{
    lf_sketch_add_n(s, v, 1);
}

void lf_sketch_merge(struct lf_sketch *dst, const struct lf_sketch *src)
{
    if (src->count == 0)
        return;
    dst->count += src->count;
    dst->sum += src->sum;
    dst->zero += src->zero;
    dst->collapsed += src->collapsed;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    lf_sketch_merge_bins(dst, src);
}

/* The union [*lo, *hi] of dst's span and the nbins buckets from offset;
 * whether it fits in max_buckets. When it does, a merge covers it once
 * and adds the buckets as plain sums; otherwise the folding path takes
 * them, lowest first. */
static int sketch_union(const struct lf_sketch *dst, int32_t offset,
                        int32_t nbins, int32_t *lo, int32_t *hi)
{
    *lo = offset;
    *hi = offset + nbins - 1;
    if (dst->nbins > 0 && dst->offset < *lo)
        *lo = dst->offset;
    if (dst->nbins > 0 && dst->offset + dst->nbins - 1 > *hi)
        *hi = dst->offset + dst->nbins - 1;
    return *hi - *lo + 1 <= dst->p->max_buckets;
}

/* Adds nbins buckets from offset to dst, their counts in b64 or, when
 * b64 is NULL, in b16: the 64-bit and the 16-bit merges are this one
 * (inline, each with its array known). */
static inline __attribute__((always_inline)) void
sketch_merge_span(struct lf_sketch *dst, int32_t offset, int32_t nbins,
                  const uint64_t *b64, const uint16_t *b16)
{
    int32_t lo, hi;

    if (nbins == 0)
        return;
    if (sketch_union(dst, offset, nbins, &lo, &hi)) {
        uint64_t *to;
        sketch_cover(dst, lo, hi);
        to = dst->bins + (offset - dst->offset);
        for (int32_t j = 0; j < nbins; j++)
            to[j] += b64 ? b64[j] : b16[j];
        return;
    }
    for (int32_t j = 0; j < nbins; j++) {
        uint64_t n = b64 ? b64[j] : b16[j];
        if (n)
            lf_sketch_add_bucket(dst, offset + j, n);
    }
}

void lf_sketch_merge_bins(struct lf_sketch *dst, const struct lf_sketch *src)
{
    sketch_merge_span(dst, src->offset, src->nbins, src->bins, NULL);
}

void lf_sketch_clear_bins(struct lf_sketch *s)
{
    if (s->nbins)
        memset(s->bins, 0, sizeof(*s->bins) * (size_t)s->nbins);
    s->nbins = 0;
    s->offset = 0;
    s->collapsed = 0;
}

/* ---- per-epoch sketches ---------------------------------------------- */

/* A line of cache each: metrics.c touches four of them a record. */
_Static_assert(sizeof(struct lf_sketch16) == 64, "lf_sketch16 is 64 bytes");

void lf_sketch16_init(struct lf_sketch16 *s)
{
    memset(s, 0, sizeof(*s));
    s->min = INFINITY;
    s->max = -INFINITY;
}

void lf_sketch16_fini(struct lf_sketch16 *s)
{
    lf_free(s->bins);
    s->bins = NULL;
}

void lf_sketch16_clear_bins(struct lf_sketch16 *s)
{
    if (s->nbins)
        memset(s->bins, 0, sizeof(*s->bins) * (size_t)s->nbins);
    s->nbins = 0;
    s->offset = 0;
}

void lf_sketch16_reset(struct lf_sketch16 *s)
{
    lf_sketch16_clear_bins(s);
    s->zero = 0;
    s->count = 0;
    s->sum = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
}

void lf_sketch16_grow(struct lf_sketch16 *s, const struct lf_sketch_params *p,
                      int32_t i)
{
    int32_t lo = i, hi = i, shift, n;

    if (s->nbins > 0) {
        lo = i < s->offset ? i : s->offset;
        hi = i > s->offset + s->nbins - 1 ? i : s->offset + s->nbins - 1;
    }
    n = hi - lo + 1; /* at most max_buckets: the caller spilled first */
    if (n > s->cap) {
        int32_t cap = s->cap ? s->cap : 8;
        while (cap < n)
            cap *= 2;
        if (cap > p->max_buckets)
            cap = p->max_buckets;
        s->bins = lf_realloc(s->bins, sizeof(*s->bins) * (size_t)cap);
        memset(s->bins + s->cap, 0, sizeof(*s->bins) * (size_t)(cap - s->cap));
        s->cap = cap;
    }
    shift = s->nbins > 0 ? s->offset - lo : 0;
    if (shift > 0) {
        memmove(s->bins + shift, s->bins, sizeof(*s->bins) * (size_t)s->nbins);
        memset(s->bins, 0, sizeof(*s->bins) * (size_t)shift);
    }
    s->offset = lo;
    s->nbins = n;
    s->bins[i - lo]++;
}

void lf_sketch_merge_bins16(struct lf_sketch *dst,
                            const struct lf_sketch16 *src)
{
    sketch_merge_span(dst, src->offset, src->nbins, NULL, src->bins);
}

void lf_sketch_merge16(struct lf_sketch *dst, const struct lf_sketch16 *src)
{
    if (src->count == 0)
        return;
    dst->count += src->count;
    dst->sum += src->sum;
    dst->zero += src->zero;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    lf_sketch_merge_bins16(dst, src);
}

double lf_sketch_quantile(const struct lf_sketch *s, double q)
{
    uint64_t rank, cum;
    double v;

    if (s->count == 0)
        return NAN;
    if (q <= 0.0)
        return s->min;
    if (q >= 1.0)
        return s->max;
    rank = (uint64_t)floor(q * (double)(s->count - 1));
    cum = s->zero;
    if (rank < cum)
        return s->min;
    v = s->max;
    for (int32_t j = 0; j < s->nbins; j++) {
        cum += s->bins[j];
        if (rank < cum) {
            v = lf_sketch_bucket_value(s->p, s->offset + j);
            break;
        }
    }
    /* The extremes are known exactly: never answer outside them. */
    if (v < s->min)
        v = s->min;
    if (v > s->max)
        v = s->max;
    return v;
}
