/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_sketch.h - a mergeable relative-error quantile sketch (DDSketch).
 *
 * A positive value v goes to bucket i = ceil(log_gamma(v)), with
 * gamma = (1 + a) / (1 - a) for a relative accuracy a (0.01: 1%). Every
 * value of bucket i lies in (gamma^(i-1), gamma^i], so answering a quantile
 * with 2 gamma^i / (gamma + 1) is off by at most a times the true value.
 *
 *   index:   offset  offset+1  ...  offset+nbins-1
 *   bins:   [  c0  ][   c1   ] ... [     cN     ]    zero: values <= min
 *
 * Counts live in a dense array over the span of indexes seen; the span is
 * capped at max_buckets by folding the lowest buckets into one (the low
 * quantiles lose their guarantee first, the tail keeps it). Two sketches
 * with the same parameters merge exactly: bucket counts add, so merging the
 * sketches of several workers gives the sketch of all their values.
 *
 * A sketch is not thread-safe: one owner at a time (see metrics.c).
 */
#ifndef LF_METRICS_SKETCH_H
#define LF_METRICS_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Shared, immutable parameters of every sketch of one aggregator. */
/* Values at or below it count as zero: 1 ns, in seconds, for nothing a
 * log holds is shorter. A constant, so that adding a value loads it from
 * no sketch. */
#define LF_SKETCH_MIN_VALUE 1e-9

struct lf_sketch_params {
    double accuracy;     /* relative accuracy a */
    double gamma;        /* (1 + a) / (1 - a) */
    double inv_ln_gamma; /* 1 / ln(gamma) */
    double ln_gamma;
    double min_value;    /* values at or below it count as zero */
    int32_t max_buckets; /* cap on the span of bucket indexes */
};

struct lf_sketch {
    const struct lf_sketch_params *p; /* borrowed, outlives the sketch */
    uint64_t *bins;                   /* owned; cap entries */
    int32_t offset;                   /* bucket index of bins[0] */
    int32_t nbins;                    /* used entries */
    int32_t cap;
    int32_t collapsed; /* buckets folded because of max_buckets */
    uint64_t zero;     /* values <= p->min_value */
    uint64_t count;    /* every value added, zero bucket included */
    double sum, min, max;
};

/* Fills p for relative accuracy `accuracy` (0 < a < 1) and at most
 * max_buckets buckets (>= 16). Returns LFP_ERR_CONFIG with err set when a
 * value is out of range. */
int lf_sketch_params_init(struct lf_sketch_params *p, double accuracy,
                          int32_t max_buckets,
                          struct lfp_err *err) LF_MUST_CHECK;

/* An empty sketch in storage the caller provides; lf_sketch_fini()
 * releases its buckets. */
void lf_sketch_init(struct lf_sketch *s, const struct lf_sketch_params *p);
void lf_sketch_fini(struct lf_sketch *s);
/* An empty sketch; caller frees with lf_sketch_free(). */
struct lf_sketch *lf_sketch_new(const struct lf_sketch_params *p);
void lf_sketch_free(struct lf_sketch *s); /* NULL is a no-op */
/* Empties it, keeping its memory. */
void lf_sketch_reset(struct lf_sketch *s);

/* Adds value v (n times). NaN and negative values are ignored: the caller
 * decides what a missing value is. */
void lf_sketch_add(struct lf_sketch *s, double v);
void lf_sketch_add_n(struct lf_sketch *s, double v, uint64_t n);
/* Adds n to bucket i, which bins do not cover yet: widens them, folding
 * the lowest buckets past max_buckets. lf_sketch_add_at's slow path. */
void lf_sketch_bucket_grow(struct lf_sketch *s, int32_t i, uint64_t n);

/* Adds n values v (>= 0) whose bucket is index (ignored for the zero
 * bucket). Inline: it runs for every latency of every record, and a
 * bucket inside the span is the usual case. */
static inline void lf_sketch_add_at_n(struct lf_sketch *s, double v,
                                      int32_t index, uint64_t n)
{
    uint32_t j;

    s->count += n;
    s->sum += v * (double)n;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    if (v <= s->p->min_value) {
        s->zero += n;
        return;
    }
    j = (uint32_t)(index - s->offset);
    if (j < (uint32_t)s->nbins)
        s->bins[j] += n;
    else
        lf_sketch_bucket_grow(s, index, n);
}

/* lf_sketch_add(s, v) when index is lf_sketch_index(s->p, v), which
 * callers may have computed once for many equal values (v >= 0). */
static inline void lf_sketch_add_at(struct lf_sketch *s, double v,
                                    int32_t index)
{
    lf_sketch_add_at_n(s, v, index, 1);
}
/* Adds every value of src to dst (same params). Exact unless dst must
 * fold buckets to stay within max_buckets. */
void lf_sketch_merge(struct lf_sketch *dst, const struct lf_sketch *src);
/* Adds the bucket counts of src to dst, and nothing else: no count, sum,
 * zero, min or max (lf_sketch_merge() is this plus those). */
void lf_sketch_merge_bins(struct lf_sketch *dst, const struct lf_sketch *src);
/* Empties the buckets of s, keeping its count, sum, zero, min and max,
 * and its memory. */
void lf_sketch_clear_bins(struct lf_sketch *s);
/* Adds n to bucket i, folding the lowest buckets if the span would grow
 * past max_buckets. */
void lf_sketch_add_bucket(struct lf_sketch *s, int32_t i, uint64_t n);

/* ---- per-epoch sketches ---------------------------------------------- */

/* A sketch with 16-bit bucket counts that never folds, for what one
 * worker adds in one epoch (metrics.c's deltas): a quarter of the bytes
 * of struct lf_sketch's buckets, so a line of cache holds 32 of them and
 * more of the buckets stay in the cache. What it cannot hold goes to a
 * full sketch the caller keeps: all its buckets before a span past
 * max_buckets, 2^16 of a count that wraps (see lf_sketch16_add; 65,536
 * values of one series in one bucket in one epoch, a rare slow path).
 * It keeps no params, to fit in 64 bytes: the functions that need them
 * take those of the sketches it merges into. */
struct lf_sketch16 {
    uint16_t *bins; /* owned; cap entries */
    int32_t offset; /* bucket index of bins[0] */
    int32_t nbins;  /* used entries */
    int32_t cap;    /* at most max_buckets */
    uint64_t zero;  /* values <= LF_SKETCH_MIN_VALUE */
    uint64_t count;
    double sum, min, max;
};

void lf_sketch16_init(struct lf_sketch16 *s);
void lf_sketch16_fini(struct lf_sketch16 *s);
/* Empties it, keeping its memory. */
void lf_sketch16_reset(struct lf_sketch16 *s);

/* Adds value v (>= 0) whose bucket is index (ignored for the zero
 * bucket). Returns 0 when the caller must finish in the slow path: the
 * bucket is outside the span (nothing added to it yet: the caller calls
 * lf_sketch16_grow), or its count wrapped to 0 (it stands for 2^16 more,
 * which the caller moves to a full sketch). Count, sum, min, max are
 * done either way. */
static inline int lf_sketch16_add(struct lf_sketch16 *s, double v,
                                  int32_t index)
{
    uint32_t j;

    s->count++;
    s->sum += v;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    if (v <= LF_SKETCH_MIN_VALUE) {
        s->zero++;
        return 1;
    }
    j = (uint32_t)(index - s->offset);
    if (j >= (uint32_t)s->nbins)
        return 0;
    return ++s->bins[j] != 0;
}

/* lf_sketch16_add(s, 0.0, any index), for the common zero (connect
 * times): adding +0.0 leaves the sum as it is (it is never -0.0, its
 * start being +0.0), and a zero never reaches a bucket. */
static inline void lf_sketch16_add_zero(struct lf_sketch16 *s)
{
    s->count++;
    s->zero++;
    if (s->min > 0.0)
        s->min = 0.0;
    if (s->max < 0.0)
        s->max = 0.0;
}

/* Whether bucket i lies in the span of s. */
static inline int lf_sketch16_covers(const struct lf_sketch16 *s, int32_t i)
{
    return (uint32_t)(i - s->offset) < (uint32_t)s->nbins;
}

/* Whether covering bucket i would take the span past p->max_buckets. */
static inline int lf_sketch16_would_fold(const struct lf_sketch16 *s,
                                         const struct lf_sketch_params *p,
                                         int32_t i)
{
    int32_t lo = i < s->offset ? i : s->offset;
    int32_t top = s->offset + s->nbins - 1, hi = i > top ? i : top;

    return s->nbins > 0 && hi - lo + 1 > p->max_buckets;
}

/* Widens the span to bucket i (outside it, and !lf_sketch16_would_fold)
 * and counts one value there. */
void lf_sketch16_grow(struct lf_sketch16 *s, const struct lf_sketch_params *p,
                      int32_t i);
/* Adds the bucket counts of src to dst, and nothing else. */
void lf_sketch_merge_bins16(struct lf_sketch *dst,
                            const struct lf_sketch16 *src);
/* Empties the buckets of s, keeping its count, sum, zero, min and max. */
void lf_sketch16_clear_bins(struct lf_sketch16 *s);
/* Adds every value of src to dst. */
void lf_sketch_merge16(struct lf_sketch *dst, const struct lf_sketch16 *src);

/* The q-quantile (0 <= q <= 1) of the values added: an estimate of the
 * value of rank floor(q * (count - 1)) in sorted order, within the relative
 * accuracy of that value; NaN when the sketch is empty. */
double lf_sketch_quantile(const struct lf_sketch *s, double q);

/* The bucket of v > min_value, and the value a bucket stands for. */
int32_t lf_sketch_index(const struct lf_sketch_params *p, double v);
double lf_sketch_bucket_value(const struct lf_sketch_params *p, int32_t i);
/* Bytes the sketch holds on the heap, the struct included. */
size_t lf_sketch_bytes(const struct lf_sketch *s);

#endif
