/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the per-upstream aggregator: per-worker shards, the series
 * registry with its cardinality guard, drains and expiry. See
 * metrics_int.h for the picture and the lock order, docs/metrics.md for
 * what is counted.
 */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "log.h"
#include "mem.h"
#include "metrics_int.h"
#include "timeutil.h"

#define METRICS_LOG "metrics"

_Static_assert(sizeof(struct metrics_cache_entry) == 64,
               "a cache entry fills one cache line");
#define METRICS_EMPTY UINT32_MAX

/* Fields a record is read for, after the label fields. */
enum metrics_field {
    MF_STATUS = 0,
    MF_ADDRESS,
    MF_ERROR,
    MF_ATTEMPTS,
    MF_BYTES,
    MF_KIND0, /* METRICS_NKINDS latency fields follow */
    MF__COUNT = MF_KIND0 + METRICS_NKINDS
};

static const char *const metrics_fields[MF_KIND0] = {
    "http.response.status_code", "upstream.address", "upstream.error",
    "upstream.attempts", "http.response.body.bytes"};

/* ---- life cycle ------------------------------------------------------ */

static uint64_t metrics_hash(const char *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(1099511628211);
    }
    return h ^ (h >> 29);
}

static void metrics_overflow_init(struct lf_metrics *m)
{
    struct metrics_series *s = lf_metrics_series_new(&m->st);
    uint32_t id = m->st.max_series;

    for (int i = 0; i < m->st.nlabels; i++)
        s->values[i] = lf_strdup(METRICS_OVERFLOW);
    s->id = id;
    m->series[id] = s;
}

int lf_metrics_new(const struct lfp_kvlist *opts, const char *file, int line,
                   struct lf_metrics **out, struct lfp_err *err)
{
    struct lf_metrics *m = lf_calloc(1, sizeof(*m));
    uint32_t n;
    int enabled = 0;

    *out = NULL;
    if (lf_metrics_settings_init(&m->st, opts, file, line, &enabled, err) !=
            LFP_OK ||
        !enabled) {
        lf_metrics_settings_fini(&m->st);
        lf_free(m);
        return err->rc == LFP_OK ? LFP_OK : LFP_ERR_CONFIG;
    }
    n = m->st.max_series;
    pthread_mutex_init(&m->agg_lock, NULL);
    pthread_mutex_init(&m->shards_lock, NULL);
    pthread_mutex_init(&m->reg_lock, NULL);
    m->series = lf_calloc((size_t)n + 1, sizeof(struct metrics_series *));
    m->gen = lf_calloc((size_t)n + 1, sizeof(*m->gen));
    m->free_ids = lf_calloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        m->free_ids[m->nfree++] = n - 1 - i; /* pop gives 0, 1, 2... */
    m->table_size = 16;
    while (m->table_size < 2 * (n + 1))
        m->table_size *= 2;
    m->table = lf_malloc(sizeof(uint32_t) * m->table_size);
    memset(m->table, 0xff, sizeof(uint32_t) * m->table_size);
    m->scratch = lf_sketch_new(&m->st.sketch);
    for (int j = 0; j < MF__COUNT + m->st.nlabels; j++)
        m->want[j] = j < MF_KIND0    ? metrics_fields[j]
                     : j < MF__COUNT ? lf_metrics_kinds[j - MF_KIND0].field
                                     : m->st.label_fields[j - MF__COUNT];
    metrics_overflow_init(m);
    *out = m;
    return LFP_OK;
}

void lf_metrics_free(struct lf_metrics *m)
{
    if (!m)
        return;
    while (m->shards)
        lf_metrics_shard_free(m->shards);
    for (uint32_t i = 0; i <= m->st.max_series; i++)
        lf_metrics_series_free(&m->st, m->series[i]);
    lf_free(m->series);
    lf_free(m->gen);
    lf_free(m->free_ids);
    lf_free(m->table);
    lf_sketch_free(m->scratch);
    pthread_mutex_destroy(&m->agg_lock);
    pthread_mutex_destroy(&m->shards_lock);
    pthread_mutex_destroy(&m->reg_lock);
    lf_metrics_settings_fini(&m->st);
    lf_free(m);
}

static void metrics_epoch_init(struct metrics_epoch *ep, uint32_t n)
{
    ep->delta = lf_calloc((size_t)n + 1, sizeof(struct metrics_delta *));
    ep->dirty = lf_calloc((size_t)n + 1, sizeof(*ep->dirty));
    ep->ndirty = 0;
}

static void metrics_epoch_fini(struct metrics_epoch *ep, uint32_t n)
{
    for (uint32_t id = 0; id <= n; id++)
        lf_metrics_delta_free(ep->delta[id]);
    lf_free(ep->delta);
    lf_free(ep->dirty);
}

static void metrics_cache_clear(struct lf_metrics_shard *sh)
{
    for (uint32_t i = 0; i < sh->cache_size; i++) {
        struct metrics_cache_entry *ce = &sh->cache[i];
        if (ce->key != ce->inline_key)
            lf_free(ce->key);
        ce->key = NULL;
    }
    sh->cache_used = 0;
}

struct lf_metrics_shard *lf_metrics_shard_new(struct lf_metrics *m)
{
    struct lf_metrics_shard *sh;
    uint32_t limit;

    if (!m)
        return NULL;
    sh = lf_calloc(1, sizeof(*sh));
    sh->m = m;
    pthread_mutex_init(&sh->lock, NULL);
    metrics_epoch_init(&sh->cur, m->st.max_series);
    metrics_epoch_init(&sh->spare, m->st.max_series);
    /* Room for every series twice (stale entries), within 64K entries. */
    limit = 2 * (m->st.max_series + 1);
    sh->cache_limit = limit < 1024 ? 1024 : limit > 65536 ? 65536 : limit;
    sh->cache_size = 2048;
    while (sh->cache_size < 2 * sh->cache_limit)
        sh->cache_size *= 2;
    /* One entry a line: a spare entry's room to align the array. */
    sh->cache_mem = lf_calloc((size_t)sh->cache_size + 1, sizeof(*sh->cache));
    sh->cache = (struct metrics_cache_entry *)(((uintptr_t)sh->cache_mem + 63) &
                                               ~(uintptr_t)63);
    lfp_find_init(&sh->find, m->want, MF__COUNT + m->st.nlabels);
    for (size_t i = 0; i < METRICS_MEMO; i++)
        sh->memo[i].bits = UINT64_MAX;
    lf_metrics_place(&m->st, 0.0, &sh->zero_at);
    pthread_mutex_lock(&m->shards_lock);
    sh->next = m->shards;
    m->shards = sh;
    pthread_mutex_unlock(&m->shards_lock);
    return sh;
}

void lf_metrics_shard_free(struct lf_metrics_shard *sh)
{
    struct lf_metrics *m;

    if (!sh)
        return;
    m = sh->m;
    /* What the worker added since the last drain still counts. */
    pthread_mutex_lock(&m->agg_lock);
    lf_metrics_drain_locked(m, lf_time_now_ns(), 0);
    pthread_mutex_lock(&m->shards_lock);
    for (struct lf_metrics_shard **p = &m->shards; *p; p = &(*p)->next) {
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    }
    pthread_mutex_unlock(&m->shards_lock);
    pthread_mutex_unlock(&m->agg_lock);
    metrics_epoch_fini(&sh->cur, m->st.max_series);
    metrics_epoch_fini(&sh->spare, m->st.max_series);
    metrics_cache_clear(sh);
    lf_free(sh->cache_mem);
    lf_free(sh->scratch);
    pthread_mutex_destroy(&sh->lock);
    lf_free(sh);
}

/* ---- registry (reg_lock held) ---------------------------------------- */

static uint32_t *metrics_table_find(struct lf_metrics *m, const char *key,
                                    uint32_t len, uint64_t hash)
{
    uint32_t mask = m->table_size - 1;

    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        struct metrics_series *s;
        if (m->table[i] == METRICS_EMPTY)
            return &m->table[i];
        s = m->series[m->table[i]];
        if (s->hash == hash && s->key_len == len &&
            memcmp(s->key, key, len) == 0)
            return &m->table[i];
    }
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void metrics_table_remove(struct lf_metrics *m, uint32_t *slot)
{
    uint32_t mask = m->table_size - 1;
    uint32_t i = (uint32_t)(slot - m->table), j = i;

    m->table[i] = METRICS_EMPTY;
    for (;;) {
        uint32_t k;
        j = (j + 1) & mask;
        if (m->table[j] == METRICS_EMPTY)
            return;
        k = (uint32_t)m->series[m->table[j]]->hash & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            m->table[i] = m->table[j];
            m->table[j] = METRICS_EMPTY;
            i = j;
        }
    }
}

/* Cleaned copies of the raw label values in raw (length-prefixed, as
 * built by metrics_key) and the registry key made of them. */
static struct metrics_series *
metrics_series_make(struct lf_metrics *m, const char *raw, struct lf_mbuf *key)
{
    struct metrics_series *s = lf_metrics_series_new(&m->st);
    size_t off = 0;

    for (int i = 0; i < m->st.nlabels; i++) {
        uint16_t n;
        memcpy(&n, raw + off, sizeof(n));
        s->values[i] =
            lf_mbuf_clean_dup(raw + off + sizeof(n), n, METRICS_LABEL_MAX);
        off += sizeof(n) + n;
        n = (uint16_t)strlen(s->values[i]);
        lf_mbuf_append(key, (const char *)&n, sizeof(n));
        lf_mbuf_append(key, s->values[i], n);
    }
    return s;
}

/* The id of the label set in raw (a metrics_key), registering it when
 * there is room; the __overflow__ id otherwise. Sets *gen to what a cache
 * entry must hold to stay valid. */
static uint32_t metrics_register(struct lf_metrics *m, const char *raw,
                                 uint32_t *gen)
{
    struct lf_mbuf key;
    struct metrics_series *s;
    uint32_t *slot, id;
    size_t klen;
    uint64_t hash;

    lf_mbuf_init(&key);
    s = metrics_series_make(m, raw, &key);
    hash = metrics_hash(key.data, key.len);
    pthread_mutex_lock(&m->reg_lock);
    slot = metrics_table_find(m, key.data, (uint32_t)key.len, hash);
    if (*slot != METRICS_EMPTY) {
        id = *slot;
    } else if (m->nfree == 0) {
        id = m->st.max_series;
    } else {
        id = m->free_ids[--m->nfree];
        s->hash = hash;
        s->key = lf_mbuf_take(&key, &klen);
        s->key_len = (uint32_t)klen;
        s->id = id;
        m->series[id] = s;
        m->nlive++;
        *slot = id;
        s = NULL;
    }
    *gen = id == m->st.max_series ? atomic_load(&m->overflow_gen)
                                  : atomic_load(&m->gen[id]);
    pthread_mutex_unlock(&m->reg_lock);
    lf_metrics_series_free(&m->st, s);
    lf_mbuf_fini(&key);
    return id;
}

/* ---- the worker's path ----------------------------------------------- */

static uint64_t metrics_mix(uint64_t h)
{
    h *= UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 32);
}

static uint64_t metrics_load64(const char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* Bytes p[0, n), n <= 8, as one word (the 4-byte loads overlap). */
static uint64_t metrics_word(const char *p, size_t n)
{
    uint32_t lo, hi;

    if (n == 0)
        return 0;
    if (n < 4)
        return (uint64_t)(unsigned char)p[0] |
               (uint64_t)(unsigned char)p[n / 2] << 8 |
               (uint64_t)(unsigned char)p[n - 1] << 16;
    memcpy(&lo, p, sizeof(lo));
    memcpy(&hi, p + n - 4, sizeof(hi));
    return (uint64_t)hi << 32 | lo;
}

/* h extended with the value p[0, n), a word at a time (the last word
 * overlaps the one before it). The length goes in with the first word:
 * one mix for up to 8 bytes, two for an address with its port. Inline:
 * every line hashes its label values. */
static inline __attribute__((always_inline)) uint64_t
metrics_hash_value(uint64_t h, const char *p, size_t n)
{
    size_t j = 0;

    h ^= (uint64_t)n << 56;
    if (n <= 8)
        return metrics_mix(h ^ metrics_word(p, n));
    for (; j + 16 < n; j += 8)
        h = metrics_mix(h ^ metrics_load64(p + j));
    h = metrics_mix(h ^ metrics_load64(p + j));
    return metrics_mix(h ^ metrics_load64(p + n - 8));
}

/* The record's label values: strings as they are (cut at
 * METRICS_LABEL_MAX), numbers printed into num[i], "-" when absent.
 * Returns their hash for the shard cache, taken straight from the record
 * since every line looks its label set up; *key_len is the length of
 * their raw key (metrics_key). */
static uint64_t metrics_labels(const struct lf_metrics *m,
                               const struct lfp_field *const *got,
                               struct metrics_label *lab,
                               char (*num)[METRICS_NUM_MAX], size_t *key_len)
{
    uint64_t h = 0;
    size_t len = 0;

    for (int i = 0; i < m->st.nlabels; i++) {
        const struct lfp_field *f = got[MF__COUNT + i];
        int n = 0;
        if (f && f->type == LFP_T_STR && f->n > 0) {
            lab[i].s = f->v.s;
            lab[i].n = f->n < METRICS_LABEL_MAX ? f->n : METRICS_LABEL_MAX;
        } else {
            if (f && (f->type == LFP_T_INT || f->type == LFP_T_BOOL))
                n = snprintf(num[i], METRICS_NUM_MAX, "%lld",
                             (long long)f->v.i);
            else if (f && f->type == LFP_T_FLOAT)
                n = snprintf(num[i], METRICS_NUM_MAX, "%.17g", f->v.d);
            lab[i].s = n > 0 ? num[i] : METRICS_MISSING;
            lab[i].n = n > 0 ? (size_t)n : 1;
        }
        h = metrics_hash_value(h, lab[i].s, lab[i].n);
        len += sizeof(uint16_t) + lab[i].n;
    }
    *key_len = len;
    return h;
}

/* Whether a[0, n) and b[0, n) are equal: label values are short, and a
 * call to memcmp costs more than comparing them here. Inline, as every
 * line compares its label values with a cache entry's. */
static inline __attribute__((always_inline)) int
metrics_bytes_equal(const char *a, const char *b, size_t n)
{
    size_t j = 0;

    if (n <= 8)
        return metrics_word(a, n) == metrics_word(b, n);
    for (; j + 16 < n; j += 8)
        if (metrics_load64(a + j) != metrics_load64(b + j))
            return 0;
    return ((metrics_load64(a + j) ^ metrics_load64(b + j)) |
            (metrics_load64(a + n - 8) ^ metrics_load64(b + n - 8))) == 0;
}

/* Whether key (length-prefixed values, see metrics_key) holds lab, when
 * the key's length is that of lab's key: then each length read lies
 * inside the key once the ones before it matched. */
static int metrics_key_is(const char *key, const struct metrics_label *lab,
                          int n)
{
    for (int i = 0; i < n; i++) {
        uint16_t n16;
        memcpy(&n16, key, sizeof(n16));
        if (n16 != lab[i].n ||
            !metrics_bytes_equal(key + sizeof(n16), lab[i].s, lab[i].n))
            return 0;
        key += sizeof(n16) + lab[i].n;
    }
    return 1;
}

/* Builds the raw key of lab in sh->scratch: each value as a 2-byte length
 * and its bytes. Returns its length. */
static size_t metrics_key(struct lf_metrics_shard *sh,
                          const struct metrics_label *lab, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += sizeof(uint16_t) + lab[i].n;
    if (len > sh->scratch_cap) {
        sh->scratch_cap = len * 2 + 64;
        sh->scratch = lf_realloc(sh->scratch, sh->scratch_cap);
    }
    len = 0;
    for (int i = 0; i < n; i++) {
        uint16_t n16 = (uint16_t)lab[i].n;
        memcpy(sh->scratch + len, &n16, sizeof(n16));
        memcpy(sh->scratch + len + sizeof(n16), lab[i].s, lab[i].n);
        len += sizeof(n16) + lab[i].n;
    }
    return len;
}

static int metrics_cache_valid(const struct lf_metrics *m,
                               const struct metrics_cache_entry *ce)
{
    if (ce->id == m->st.max_series)
        return ce->gen ==
               atomic_load_explicit(&m->overflow_gen, memory_order_relaxed);
    return ce->gen ==
           atomic_load_explicit(&m->gen[ce->id], memory_order_relaxed);
}

/* The cache entry of lab (hash: its hash, len: the length of its key),
 * or the empty one where it goes. */
static inline struct metrics_cache_entry *
metrics_cache_find(struct lf_metrics_shard *sh, const struct metrics_label *lab,
                   uint64_t hash, size_t len)
{
    uint32_t mask = sh->cache_size - 1;

    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        struct metrics_cache_entry *ce = &sh->cache[i];
        if (!ce->key || (ce->hash == hash && ce->key_len == len &&
                         metrics_key_is(ce->key, lab, sh->m->st.nlabels)))
            return ce;
    }
}

/* The series id of the label values lab (hash: their hash, key_len: the
 * length of their key). The key is built only when the cache misses. */
static uint32_t metrics_lookup(struct lf_metrics_shard *sh,
                               const struct metrics_label *lab, uint64_t hash,
                               size_t key_len)
{
    struct lf_metrics *m = sh->m;
    struct metrics_cache_entry *ce = metrics_cache_find(sh, lab, hash, key_len);
    size_t len;

    if (ce->key && metrics_cache_valid(m, ce))
        return ce->id;
    len = metrics_key(sh, lab, m->st.nlabels);
    if (!ce->key) {
        if (sh->cache_used >= sh->cache_limit) {
            metrics_cache_clear(sh);
            ce = metrics_cache_find(sh, lab, hash, key_len);
        }
        ce->hash = hash;
        ce->key = len <= METRICS_CACHE_INLINE ? ce->inline_key : lf_malloc(len);
        memcpy(ce->key, sh->scratch, len);
        ce->key_len = (uint32_t)len;
        sh->cache_used++;
    }
    ce->id = metrics_register(m, sh->scratch, &ce->gen);
    return ce->id;
}

/* The series id of a record whose one label is a short string, when the
 * first cache slot of its hash holds that value; METRICS_EMPTY when not
 * (then metrics_lookup looks). The usual configuration, one address
 * label, takes this path for nearly every line, without building lab[].
 * The hash is metrics_labels' and the key metrics_key's: one value of n
 * bytes has a key of n + 2, its length first, so a key of that length
 * holding those bytes after the length holds that value. */
static inline uint32_t metrics_lookup_short(struct lf_metrics_shard *sh,
                                            const struct lfp_field *const *got)
{
    const struct lfp_field *f = got[MF__COUNT];
    const struct metrics_cache_entry *ce;
    uint64_t hash;

    if (sh->m->st.nlabels != 1 || !f || f->type != LFP_T_STR || f->n == 0 ||
        f->n > METRICS_CACHE_INLINE - sizeof(uint16_t))
        return METRICS_EMPTY;
    hash = metrics_hash_value(0, f->v.s, f->n);
    ce = &sh->cache[(uint32_t)hash & (sh->cache_size - 1)];
    if (!ce->key || ce->hash != hash ||
        ce->key_len != f->n + sizeof(uint16_t) ||
        !metrics_bytes_equal(ce->key + sizeof(uint16_t), f->v.s, f->n) ||
        !metrics_cache_valid(sh->m, ce))
        return METRICS_EMPTY;
    return ce->id;
}

static struct metrics_delta *metrics_delta_get(struct lf_metrics_shard *sh,
                                               uint32_t id)
{
    struct metrics_epoch *ep = &sh->cur;
    struct metrics_delta *d = ep->delta[id];

    if (!d) {
        d = lf_metrics_delta_new(&sh->m->st);
        ep->delta[id] = d;
    }
    if (!d->is_pending) {
        d->is_pending = 1;
        ep->dirty[ep->ndirty++] = id;
    }
    return d;
}

/* Whether f holds a finite number >= 0, put in *v. For a float, one
 * compare of its bits: every pattern from +infinity up is infinite, NaN
 * or negative, but for -0.0, which is >= 0. */
static inline int metrics_number(const struct lfp_field *f, double *v)
{
    uint64_t bits;

    if (!f)
        return 0;
    if (f->type == LFP_T_FLOAT) {
        *v = f->v.d;
        memcpy(&bits, v, sizeof(bits));
        return bits < UINT64_C(0x7ff0000000000000) ||
               bits == UINT64_C(0x8000000000000000);
    }
    *v = (double)f->v.i;
    return f->type == LFP_T_INT && f->v.i >= 0;
}

/* Counts one request of code in c. A delta holds a handful of codes, and
 * the loop here costs less than the call that would run it; only a code
 * new to the epoch goes out of line. */
static inline void metrics_count_code(struct metrics_counts *c, int32_t code)
{
    for (uint32_t i = 0; i < c->ncodes; i++) {
        if (c->codes[i].code == code) {
            c->codes[i].count++;
            return;
        }
    }
    lf_metrics_counts_add_code(c, code, 1);
}

static void metrics_counts_record(struct metrics_delta *d,
                                  const struct lfp_field *const *got)
{
    const struct lfp_field *f = got[MF_STATUS];
    int32_t code = f && f->type == LFP_T_INT && f->v.i > 0 && f->v.i < 1000
                       ? (int32_t)f->v.i
                       : 0;

    d->c.requests++;
    metrics_count_code(&d->c, code);
    if (code >= 500 && code <= 599)
        d->c.n5xx++;
    f = got[MF_ERROR];
    if (f && f->type == LFP_T_STR && f->n > 0 &&
        !(f->n == 1 && f->v.s[0] == '-')) {
        d->c.errors++;
        lf_metrics_counts_add_class(&d->c, f->v.s, f->n, 1);
    }
    f = got[MF_ATTEMPTS];
    if (f && f->type == LFP_T_INT && f->v.i > 1)
        d->c.retries += (uint64_t)(f->v.i - 1);
    f = got[MF_BYTES];
    if (f && f->type == LFP_T_INT && f->v.i > 0)
        d->c.bytes += (uint64_t)f->v.i;
}

/* The place of v (bits: its bits), from the memo when v was seen lately:
 * timings have a few thousand distinct values, and the log and the
 * bucket search cost more than the lookup. */
static struct metrics_place metrics_place_of(struct lf_metrics_shard *sh,
                                             double v, uint64_t bits)
{
    size_t slot = (size_t)((bits * UINT64_C(0x9e3779b97f4a7c15)) >> 54) &
                  (METRICS_MEMO - 1);

    if (sh->memo[slot].bits != bits) {
        lf_metrics_place(&sh->m->st, v, &sh->memo[slot].at);
        sh->memo[slot].bits = bits;
    }
    return sh->memo[slot].at;
}

/* The value a record's latencies last looked up in the memo, and its
 * place: a single attempt logs the same header and response time, and
 * the second then costs neither the memo's line nor its hash. */
struct metrics_values {
    uint64_t bits; /* UINT64_MAX (a NaN, never a value): none yet */
    struct metrics_place at;
};

/* Adds latency f of kind k, when it is a number, to d. Inline with a
 * constant k: the kind's sketch and rows are at fixed offsets. A zero
 * (connect times mostly) takes the shard's zero_at, without the memo. */
static inline __attribute__((always_inline)) void
metrics_kind_value(struct lf_metrics_shard *sh, struct metrics_delta *d,
                   struct metrics_values *seen, int k,
                   const struct lfp_field *f)
{
    uint64_t bits;
    double v;

    if (!metrics_number(f, &v))
        return;
    if (k == METRICS_K_REQUEST) /* the one kind in ns, lf_metrics_kinds */
        v /= 1e9;
    memcpy(&bits, &v, sizeof(bits));
    if (bits == 0) {
        lf_metrics_delta_zero(d, k, &sh->zero_at);
        return;
    }
    if (bits != seen->bits) {
        seen->at = metrics_place_of(sh, v, bits);
        seen->bits = bits;
    }
    lf_metrics_delta_value(&sh->m->st, d, k, v, &seen->at);
}

static void metrics_record(struct lf_metrics_shard *sh,
                           const struct lfp_record *rec)
{
    const struct metrics_settings *st = &sh->m->st;
    const struct lfp_field **got = sh->got;
    struct metrics_values seen = {.bits = UINT64_MAX};
    struct metrics_delta *d;
    uint64_t hash;
    size_t key_len;
    uint32_t id;

    lfp_find_fields(&sh->find, rec, got);
    /* A request has a status or an upstream; anything else (error log
     * lines, probes) is not counted here. */
    if (!got[MF_STATUS] && !got[MF_ADDRESS])
        return;
    id = metrics_lookup_short(sh, got);
    if (id == METRICS_EMPTY) {
        hash = metrics_labels(sh->m, got, sh->lab, sh->num, &key_len);
        id = metrics_lookup(sh, sh->lab, hash, key_len);
    }
    if (id == st->max_series)
        sh->folded++;
    d = metrics_delta_get(sh, id);
    metrics_counts_record(d, got);
    metrics_kind_value(sh, d, &seen, METRICS_K_REQUEST, got[MF_KIND0]);
    metrics_kind_value(sh, d, &seen, METRICS_K_RESPONSE, got[MF_KIND0 + 1]);
    metrics_kind_value(sh, d, &seen, METRICS_K_CONNECT, got[MF_KIND0 + 2]);
    metrics_kind_value(sh, d, &seen, METRICS_K_HEADER, got[MF_KIND0 + 3]);
}

int lf_metrics_counts_tag(const struct lf_metrics *m, const char *tag)
{
    return strcmp(tag, m->st.tag) != 0 && lf_engine_tag_match(m->st.match, tag);
}

void lf_metrics_observe(struct lf_metrics_shard *sh,
                        const struct lfp_chunk *chunk)
{
    if (sh && lf_metrics_counts_tag(sh->m, chunk->tag))
        lf_metrics_observe_records(sh, chunk);
}

void lf_metrics_observe_records(struct lf_metrics_shard *sh,
                                const struct lfp_chunk *chunk)
{
    struct lf_metrics *m = sh->m;
    uint64_t n = 0;

    pthread_mutex_lock(&sh->lock);
    sh->folded = 0;
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & (LFP_REC_DROPPED | LFP_REC_PARSE_ERROR))
            continue;
        metrics_record(sh, rec);
        n++;
    }
    pthread_mutex_unlock(&sh->lock);
    atomic_fetch_add_explicit(&m->observed_records, n, memory_order_relaxed);
    if (sh->folded)
        atomic_fetch_add_explicit(&m->overflow_records, sh->folded,
                                  memory_order_relaxed);
}

/* ---- drains and expiry (agg_lock held) ------------------------------- */

static void metrics_merge_epoch(struct lf_metrics *m, struct metrics_epoch *ep,
                                int64_t now_ns)
{
    for (uint32_t i = 0; i < ep->ndirty; i++) {
        uint32_t id = ep->dirty[i];
        struct metrics_series *s = m->series[id];
        /* Expiry never drops a series with a pending delta. */
        if (s)
            lf_metrics_series_merge(&m->st, s, ep->delta[id], now_ns);
        lf_metrics_delta_reset(&m->st, ep->delta[id]);
    }
    ep->ndirty = 0;
}

static int metrics_pending(const struct lf_metrics *m, uint32_t id)
{
    for (const struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next)
        if (sh->cur.delta[id] && sh->cur.delta[id]->is_pending)
            return 1;
    return 0;
}

/* All shard locks held, after metrics_pending said no: the (empty) deltas
 * an expired series kept go with it. */
static void metrics_deltas_free(struct lf_metrics *m, uint32_t id)
{
    for (struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next) {
        lf_metrics_delta_free(sh->cur.delta[id]);
        sh->cur.delta[id] = NULL;
        lf_metrics_delta_free(sh->spare.delta[id]);
        sh->spare.delta[id] = NULL;
    }
}

/* All shard locks and reg_lock held: drops idle series. */
static void metrics_expire(struct lf_metrics *m, int64_t now_ns)
{
    uint32_t dropped = 0;

    for (uint32_t id = 0; id < m->st.max_series; id++) {
        struct metrics_series *s = m->series[id];
        if (!s)
            continue;
        lf_metrics_series_trim(&m->st, s, now_ns);
        if (s->last_ns == 0 || now_ns - s->last_ns < m->st.ttl_ns ||
            metrics_pending(m, id))
            continue;
        metrics_table_remove(
            m, metrics_table_find(m, s->key, s->key_len, s->hash));
        m->series[id] = NULL;
        metrics_deltas_free(m, id);
        atomic_fetch_add(&m->gen[id], 1);
        m->free_ids[m->nfree++] = id;
        m->nlive--;
        dropped++;
        lf_metrics_series_free(&m->st, s);
    }
    lf_metrics_series_trim(&m->st, m->series[m->st.max_series], now_ns);
    if (dropped) {
        /* Label sets folded into __overflow__ may now get their own. */
        atomic_fetch_add(&m->overflow_gen, 1);
        atomic_fetch_add(&m->expired_series, dropped);
        lf_log_debug(METRICS_LOG, "dropped %u idle series", dropped);
    }
}

static void metrics_expire_all(struct lf_metrics *m, int64_t now_ns)
{
    for (struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next)
        pthread_mutex_lock(&sh->lock);
    pthread_mutex_lock(&m->reg_lock);
    metrics_expire(m, now_ns);
    pthread_mutex_unlock(&m->reg_lock);
    for (struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next)
        pthread_mutex_unlock(&sh->lock);
}

void lf_metrics_drain_locked(struct lf_metrics *m, int64_t now_ns, int expire)
{
    pthread_mutex_lock(&m->shards_lock);
    for (struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next) {
        struct metrics_epoch tmp;
        pthread_mutex_lock(&sh->lock);
        tmp = sh->cur;
        sh->cur = sh->spare;
        sh->spare = tmp;
        pthread_mutex_unlock(&sh->lock);
    }
    pthread_mutex_lock(&m->reg_lock);
    for (struct lf_metrics_shard *sh = m->shards; sh; sh = sh->next)
        metrics_merge_epoch(m, &sh->spare, now_ns);
    pthread_mutex_unlock(&m->reg_lock);
    m->last_drain_ns = now_ns;
    if (expire && now_ns - m->last_expire_ns >= INT64_C(1000000000)) {
        metrics_expire_all(m, now_ns);
        m->last_expire_ns = now_ns;
    }
    pthread_mutex_unlock(&m->shards_lock);
}

void lf_metrics_tick(struct lf_metrics *m, int64_t now_ns)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->agg_lock);
    if (now_ns - m->last_drain_ns >= INT64_C(1000000000))
        lf_metrics_drain_locked(m, now_ns, 1);
    pthread_mutex_unlock(&m->agg_lock);
}

void lf_metrics_render(struct lf_metrics *m, int64_t now_ns,
                       struct lf_mbuf *out)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->agg_lock);
    lf_metrics_drain_locked(m, now_ns, 0);
    lf_metrics_prom_locked(m, now_ns, out);
    pthread_mutex_unlock(&m->agg_lock);
}

const struct lfp_input_def *lf_metrics_input_def(const struct lf_metrics *m)
{
    return m && m->st.flush_ns > 0 ? lf_metrics_input_def_get() : NULL;
}

const char *lf_metrics_input_tag(const struct lf_metrics *m)
{
    return m ? m->st.tag : "metrics.upstream";
}
