/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_int.h - the aggregator's private structures, shared by
 * metrics.c (shards, registry, drain), metrics_conf.c (settings),
 * metrics_series.c (totals and windows of one series), metrics_prom.c
 * (the /metrics text) and metrics_input.c (metric records).
 *
 *   worker ──observe──► shard (its own lock, once per run of records)
 *                         cache: raw label values -> (series id, gen)
 *                         delta[id]: what this worker added since the
 *                                    last drain
 *   reader/tick ──drain──► swaps each shard's delta array for the one it
 *                          emptied last time (O(1) under the shard
 *                          lock), merges the deltas into the series
 *                          (under reg_lock) and empties them
 *   registry: label set -> id in [0, max_series); id max_series is the
 *             __overflow__ series. Taken by a worker only when its cache
 *             misses (first sight of a label set), never per known line.
 *
 * Locks, in this order: agg_lock (readers, drain) -> shard->lock ->
 * reg_lock. A worker holds only its shard lock, and reg_lock inside it.
 */
#ifndef LF_METRICS_INT_H
#define LF_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <logferry/find.h>

#include "metrics.h"
#include "metrics_buf.h"
#include "metrics_sketch.h"

#define METRICS_MAX_LABELS 8
#define METRICS_MEMO 1024 /* value places kept per shard, a power of 2 */
#define METRICS_MAX_WINDOWS 8
#define METRICS_MAX_QUANTILES 8
#define METRICS_MAX_CLASSES 32 /* error classes kept per series */
#define METRICS_LABEL_MAX 256  /* bytes of one label value */
#define METRICS_NUM_MAX 40     /* a number label printed, "%.17g" included */
#define METRICS_OVERFLOW "__overflow__"
#define METRICS_MISSING "-" /* a label field absent from the record */

/* The latency distributions, in the order of lf_metrics_kinds[]. */
enum metrics_kind {
    METRICS_K_REQUEST = 0, /* event.duration (ns) */
    METRICS_K_RESPONSE,    /* upstream.response_time (s) */
    METRICS_K_CONNECT,     /* upstream.connect_time (s) */
    METRICS_K_HEADER,      /* upstream.header_time (s) */
    METRICS_NKINDS
};

struct metrics_kind_def {
    const char *field;  /* record field */
    int is_ns;          /* integer nanoseconds (else seconds) */
    const char *metric; /* histogram family name */
    const char *window; /* summary family name */
    const char *record; /* key prefix in metric records */
    const char *help;
};
extern const struct metrics_kind_def lf_metrics_kinds[METRICS_NKINDS];

/* Everything the options say, checked and converted. */
struct metrics_settings {
    int nlabels;
    char *label_fields[METRICS_MAX_LABELS]; /* record fields, owned */
    char *label_names[METRICS_MAX_LABELS];  /* Prometheus labels, owned */
    double *buckets;                        /* ascending upper bounds, owned */
    int nbuckets;
    struct lf_sketch_params sketch;
    /* The sketch index of each bound, owned. A sketch bucket more than
     * one index away from every bound holds values of one histogram
     * bucket only, so per-epoch deltas read those counts off their
     * sketches (see struct metrics_delta). */
    int32_t *bound_index;
    int is_hist_derived; /* bound_index ascending: the above holds */
    int is_zero_derived; /* and the sketch's zero count is bucket 0's */
    int nwindows;
    int64_t window_ns[METRICS_MAX_WINDOWS];  /* ascending */
    char *window_names[METRICS_MAX_WINDOWS]; /* as typed: "1m", owned */
    int window_slots[METRICS_MAX_WINDOWS];   /* slots each window spans */
    int64_t slot_ns;                         /* width of one ring slot */
    int nslots;                              /* ring length */
    int nquantiles;
    double quantiles[METRICS_MAX_QUANTILES];
    char *quantile_names[METRICS_MAX_QUANTILES]; /* "0.99", owned */
    uint32_t max_series;
    int64_t ttl_ns;
    int64_t flush_ns; /* 0: no metric records */
    char *tag;        /* of metric records, owned */
    char *match;      /* tag pattern of the chunks counted, owned */
};

/* Parses opts into st (zeroed by the caller). Errors name file:line.
 * *enabled tells whether metrics.enabled is on. */
int lf_metrics_settings_init(struct metrics_settings *st,
                             const struct lfp_kvlist *opts, const char *file,
                             int line, int *enabled,
                             struct lfp_err *err) LF_MUST_CHECK;
void lf_metrics_settings_fini(struct metrics_settings *st);

/* ---- counts shared by deltas and series ----------------------------- */

struct metrics_code {
    int32_t code;
    uint64_t count;
};

struct metrics_class {
    char *name; /* owned */
    size_t len; /* strlen(name) */
    uint64_t count;
};

struct metrics_counts {
    uint64_t requests, errors, n5xx, retries, bytes;
    struct metrics_code *codes; /* owned, ncodes used */
    uint32_t ncodes, codes_cap;
    struct metrics_class *classes; /* owned */
    uint32_t nclasses, classes_cap;
};

struct metrics_hist {
    uint64_t *bins; /* nbuckets + 1 (the last: above every bound), owned */
    double sum;
    uint64_t count;
};

/* What one shard added to one series since the last drain. A drain
 * empties it and keeps it, with its sketches' buckets, for the next
 * epoch: a series seen once is usually seen again.
 *
 * The histogram of a kind is mostly read off its sketch at the drain:
 * a value whose sketch bucket is far from every bound (and a zero when
 * is_zero_derived) adds only to the sketch. The others, a few percent,
 * are also counted in hist. So a latency stores to one counter, not
 * two, and the histogram's rows stay out of the cache. The sketches
 * count in 16 bits, for the same reason. */
struct metrics_delta {
    /* What a line touches first and together: the sketches (64 bytes
     * each), then the flag and the counts. */
    struct lf_sketch16 sk[METRICS_NKINDS];
    int is_pending; /* on its epoch's dirty list */
    struct metrics_counts c;
    /* What a sketch could not hold (lf_sketch16_add), counted in hist
     * when it came here, kept for the quantiles; NULL: none yet. */
    struct lf_sketch *spill[METRICS_NKINDS];
    /* [nbuckets + 1][METRICS_NKINDS]: what the sketches do not tell
     * (the last bucket: above every bound). */
    uint64_t hist[];
};

/* One slot of a series' window ring. */
struct metrics_slot {
    int64_t slot; /* absolute slot number (now / slot_ns); -1: empty */
    uint64_t requests, errors, n5xx;
    struct lf_sketch *sk[METRICS_NKINDS]; /* owned, NULL if none */
};

struct metrics_series {
    char *values[METRICS_MAX_LABELS]; /* cleaned label values, owned */
    char *key;                        /* registry key, owned */
    uint32_t key_len;
    uint64_t hash;
    uint32_t id;
    int64_t last_ns; /* when data last came (drain time) */
    struct metrics_counts total;
    struct metrics_hist hist[METRICS_NKINDS];
    struct lf_sketch *life[METRICS_NKINDS]; /* owned, NULL if none */
    struct metrics_slot *ring;              /* nslots, NULL until data */
};

/* What readers show of one series at one instant. */
struct metrics_view {
    uint64_t w_requests[METRICS_MAX_WINDOWS];
    uint64_t w_errors[METRICS_MAX_WINDOWS];
    uint64_t w_5xx[METRICS_MAX_WINDOWS];
    /* [kind][window], the last window index (nwindows) is the lifetime */
    uint64_t q_count[METRICS_NKINDS][METRICS_MAX_WINDOWS + 1];
    double q_sum[METRICS_NKINDS][METRICS_MAX_WINDOWS + 1];
    double q[METRICS_NKINDS][METRICS_MAX_WINDOWS + 1][METRICS_MAX_QUANTILES];
};

/* metrics_series.c */
void lf_metrics_counts_add_code(struct metrics_counts *c, int32_t code,
                                uint64_t n);
/* Adds n to class name[0, len), kept cleaned (lf_mbuf_clean_dup) when
 * new; once METRICS_MAX_CLASSES - 1 classes are kept, the class "other"
 * takes every new one. */
void lf_metrics_counts_add_class(struct metrics_counts *c, const char *name,
                                 size_t len, uint64_t n);
void lf_metrics_counts_fini(struct metrics_counts *c);
struct metrics_delta *lf_metrics_delta_new(const struct metrics_settings *st);
void lf_metrics_delta_free(struct metrics_delta *d);
/* Empties d, keeping its memory. */
void lf_metrics_delta_reset(const struct metrics_settings *st,
                            struct metrics_delta *d);
/* Where a value goes: its histogram bucket, or -1 when its sketch bucket
 * tells it, and its sketch index. Workers keep the places of recent
 * values (timings repeat), see metrics.c. */
struct metrics_place {
    int32_t bucket;
    int32_t index;
};
void lf_metrics_place(const struct metrics_settings *st, double v,
                      struct metrics_place *at);
/* The histogram bucket of values of sketch index i, or -1 when the
 * bucket of i is too close to a bound to tell. */
int lf_metrics_bucket_of_index(const struct metrics_settings *st, int32_t i);
/* lf_metrics_delta_value's slow path: sketch k of d has no bucket
 * `index` yet, or its count there wrapped. */
void lf_metrics_delta_grow(const struct metrics_settings *st,
                           struct metrics_delta *d, int k, int32_t index);
/* Adds value v (seconds, >= 0) of kind k to d; at is its place. Inline:
 * it runs for every latency of every record. */
static inline void lf_metrics_delta_value(const struct metrics_settings *st,
                                          struct metrics_delta *d, int k,
                                          double v,
                                          const struct metrics_place *at)
{
    if (at->bucket >= 0)
        d->hist[(size_t)at->bucket * METRICS_NKINDS + (size_t)k]++;
    if (!lf_sketch16_add(&d->sk[k], v, at->index))
        lf_metrics_delta_grow(st, d, k, at->index);
}
/* lf_metrics_delta_value(st, d, k, 0.0, zero_at), zero_at being the
 * place of 0.0. */
static inline void lf_metrics_delta_zero(struct metrics_delta *d, int k,
                                         const struct metrics_place *zero_at)
{
    if (zero_at->bucket >= 0)
        d->hist[(size_t)zero_at->bucket * METRICS_NKINDS + (size_t)k]++;
    lf_sketch16_add_zero(&d->sk[k]);
}
struct metrics_series *lf_metrics_series_new(const struct metrics_settings *st);
void lf_metrics_series_free(const struct metrics_settings *st,
                            struct metrics_series *s);
/* Merges d into s, into the ring slot of now_ns. */
void lf_metrics_series_merge(const struct metrics_settings *st,
                             struct metrics_series *s,
                             const struct metrics_delta *d, int64_t now_ns);
/* Computes the windows and quantiles of s at now_ns; scratch is an empty
 * sketch the function may fill (left reset). */
void lf_metrics_series_view(const struct metrics_settings *st,
                            const struct metrics_series *s, int64_t now_ns,
                            struct metrics_view *v, struct lf_sketch *scratch);
/* Frees ring slots that fell out of every window. */
void lf_metrics_series_trim(const struct metrics_settings *st,
                            struct metrics_series *s, int64_t now_ns);

/* ---- the aggregator -------------------------------------------------- */

#define METRICS_CACHE_INLINE 36 /* key bytes a cache entry holds itself */

/* 64 bytes, on a cache line of its own: a lookup that hits reads one
 * line, the key included when it is short (one address label is). */
struct metrics_cache_entry {
    uint64_t hash;
    /* Raw label values, length-prefixed: inline, or owned when longer;
     * NULL: empty. */
    char *key;
    uint32_t key_len;
    uint32_t id;
    uint32_t gen;
    char inline_key[METRICS_CACHE_INLINE];
};

/* One label value of the record being observed, as its series key holds
 * it: borrowed from the record, or from the shard's num. */
struct metrics_label {
    const char *s;
    size_t n;
};

struct metrics_epoch {
    struct metrics_delta **delta; /* [max_series + 1], NULL: none yet */
    uint32_t *dirty;              /* ids with a delta, ndirty used */
    uint32_t ndirty;
};

struct lf_metrics_shard {
    struct lf_metrics *m;
    pthread_mutex_t lock; /* held by the worker for one chunk */
    struct metrics_epoch cur, spare;
    struct metrics_cache_entry *cache; /* open addressing, cache_size */
    void *cache_mem;                   /* cache, before aligning it */
    uint32_t cache_size, cache_used, cache_limit;
    char *scratch; /* raw key being built */
    size_t scratch_cap;
    struct metrics_label lab[METRICS_MAX_LABELS];  /* the record's labels */
    char num[METRICS_MAX_LABELS][METRICS_NUM_MAX]; /* number labels printed */
    struct lfp_find find; /* the fields read, m->want */
    /* The record being observed: its fields, as m->want lists them. */
    const struct lfp_field *got[16 + METRICS_MAX_LABELS];
    /* Places of recent values, by the bits of the value: direct-mapped,
     * a slot's bits are UINT64_MAX (a NaN, never a value) when empty. */
    struct {
        uint64_t bits;
        struct metrics_place at;
    } memo[METRICS_MEMO];
    struct metrics_place zero_at; /* the place of 0.0 */
    uint64_t folded; /* records folded into __overflow__, this chunk */
    struct lf_metrics_shard *next;
};

struct lf_metrics {
    struct metrics_settings st;

    pthread_mutex_t agg_lock; /* drains and readers */
    pthread_mutex_t shards_lock;
    struct lf_metrics_shard *shards;

    pthread_mutex_t reg_lock;
    struct metrics_series **series; /* [max_series + 1]; NULL: free */
    _Atomic uint32_t *gen;          /* [max_series + 1] */
    uint32_t *free_ids;             /* stack of free ids */
    uint32_t nfree;
    uint32_t nlive;  /* series in use, __overflow__ excluded */
    uint32_t *table; /* registry hash: ids, UINT32_MAX empty */
    uint32_t table_size;
    _Atomic uint32_t overflow_gen; /* bumped when ids are freed */

    atomic_uint_fast64_t overflow_records;
    atomic_uint_fast64_t expired_series;
    atomic_uint_fast64_t observed_records;
    int64_t last_drain_ns;
    int64_t last_expire_ns;
    struct lf_sketch *scratch; /* readers' (under agg_lock) */
    /* Record fields read, in metrics.c's order, then the label fields;
     * each shard finds them with its own struct lfp_find. */
    const char *want[16 + METRICS_MAX_LABELS];
};

/* Under agg_lock: moves every shard's deltas into the series; every
 * series idle for series_ttl is dropped when `expire` is set. */
void lf_metrics_drain_locked(struct lf_metrics *m, int64_t now_ns, int expire);

/* metrics_prom.c: appends the upstream metric families. Under agg_lock,
 * after a drain. */
void lf_metrics_prom_locked(struct lf_metrics *m, int64_t now_ns,
                            struct lf_mbuf *out);

/* metrics_input.c */
const struct lfp_input_def *lf_metrics_input_def_get(void);

#endif
