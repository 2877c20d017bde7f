/* SPDX-License-Identifier: Apache-2.0 */
/*
 * logferry/find.h - finding several fields of a record at once, for filters
 * and aggregators that read the same keys from every record.
 *
 * Header-only: it is compiled into the plugin and adds nothing to the ABI.
 * Records from one parser come in a few layouts: the same keys in the same
 * order, give or take an optional field. A finder remembers the last
 * layouts it saw, by the addresses of their keys, with where each wanted
 * key was; a record whose keys are all LFP_FIELD_KEY_STABLE and sit at the
 * addresses of a remembered layout costs one pointer compare per field and
 * no string compare. Any other record is scanned (keys compared by length
 * first, then by content) and its layout remembered when it can be.
 *
 *   static const char *const keys[] = {"http.response.status_code",
 *                                      "upstream.error"};
 *   struct lfp_find *fd = malloc(sizeof(*fd));
 *   const struct lfp_field *got[2];
 *
 *   lfp_find_init(fd, keys, 2);                   once, per thread
 *   lfp_find_fields(fd, rec, got);                per record
 *
 * got[k] is the first field of rec with key k, or NULL. A finder is
 * written by every lookup: give each worker its own, and a new one when
 * the pipeline is rebuilt (stable keys are stable for one pipeline).
 */
#ifndef LOGFERRY_FIND_H
#define LOGFERRY_FIND_H

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <logferry/plugin.h>

#define LFP_FIND_MAX 64     /* keys per finder */
#define LFP_FIND_FIELDS 64  /* longest record remembered, a power of two */
#define LFP_FIND_LAYOUTS 16 /* layouts remembered, a power of two */
#define LFP_FIND_HINTS 256  /* entries of the hash index of layouts */

struct lfp_find_layout {
    uint32_t nfields; /* 0: unused */
    const char *keys[LFP_FIND_FIELDS];
    /* got[k] is (fields & mask[k]) + off[k]: &fields[i] for a key at i
     * (mask all ones, off i fields), NULL for an absent one (both 0),
     * without a branch. Aligned for 16-byte loads of two keys' worth. */
    _Alignas(16) uintptr_t mask[LFP_FIND_MAX];
    _Alignas(16) uintptr_t off[LFP_FIND_MAX];
};

struct lfp_find {
    int nkeys;
    const char *keys[LFP_FIND_MAX]; /* borrowed: they outlive the finder */
    uint16_t lens[LFP_FIND_MAX];
    uint64_t len_mask; /* bit min(len, 63) of every key */
    unsigned next;     /* layout slot to replace next */
    /* The slot of the last layout matched with this field count (its
     * low bits): the layouts of one parser mostly differ by a field or
     * two, so the count alone names the right one nearly always, and
     * trying it first costs no hash. A hint, checked like any slot. */
    uint8_t by_count[LFP_FIND_FIELDS];
    /* The slot a record of that hash (lfp_find_hash) matched last: a
     * hint, checked like any slot; all 0 at first. */
    uint8_t hint[LFP_FIND_HINTS];
    struct lfp_find_layout layouts[LFP_FIND_LAYOUTS];
};

static inline uint64_t lfp_find_len_bit(size_t len)
{
    return UINT64_C(1) << (len < 63 ? len : 63);
}

/* Sets fd up for keys[0..n) (n at most LFP_FIND_MAX; more are ignored). A
 * NULL or empty key is never found. */
static inline void lfp_find_init(struct lfp_find *fd, const char *const *keys,
                                 int n)
{
    memset(fd, 0, sizeof(*fd));
    fd->nkeys = n < LFP_FIND_MAX ? n : LFP_FIND_MAX;
    for (int k = 0; k < fd->nkeys; k++) {
        size_t len = keys[k] ? strlen(keys[k]) : 0;
        fd->keys[k] = keys[k];
        fd->lens[k] = (uint16_t)(len <= UINT16_MAX ? len : 0);
        if (fd->lens[k])
            fd->len_mask |= lfp_find_len_bit(len);
    }
}

/* The hint index of rec's layout, from the count and three key addresses
 * (n >= 1): the layouts of one parser differ by optional fields near the
 * start or the middle, and by fields filters append at the end. */
static inline unsigned lfp_find_hash(const struct lfp_field *fields, uint32_t n)
{
    uint64_t x = (uint64_t)(uintptr_t)fields[n - 1].key ^
                 ((uint64_t)(uintptr_t)fields[n / 2].key << 1) ^
                 ((uint64_t)(uintptr_t)fields[n / 4].key << 2) ^ n;

    return (unsigned)((x * UINT64_C(0x9e3779b97f4a7c15)) >> 56);
}

/* The differences of the key addresses of fields[0..4) from keys[0..4),
 * or'ed: 0 when all are equal. */
static inline uintptr_t lfp_find_diff4(const struct lfp_field *fields,
                                       const char *const *keys)
{
    return ((uintptr_t)fields[0].key ^ (uintptr_t)keys[0]) |
           ((uintptr_t)fields[1].key ^ (uintptr_t)keys[1]) |
           ((uintptr_t)fields[2].key ^ (uintptr_t)keys[2]) |
           ((uintptr_t)fields[3].key ^ (uintptr_t)keys[3]);
}

/* Whether fields[0..n) have the keys at keys[0..n), by address. Four at
 * a time and the last four overlapping, without a loop for the rest: the
 * hint finds the right layout nearly always, so the compare is usually
 * whole and a branch per field costs more than it saves. */
static inline int lfp_find_same_keys(const struct lfp_field *fields,
                                     const char *const *keys, uint32_t n)
{
    const struct lfp_field *f = fields, *last;
    const char *const *k = keys;

    if (n < 4) {
        for (uint32_t i = 0; i < n; i++)
            if (fields[i].key != keys[i])
                return 0;
        return 1;
    }
    last = &fields[n - 4];
    for (; f < last; f += 4, k += 4)
        if (lfp_find_diff4(f, k))
            return 0;
    return !lfp_find_diff4(last, &keys[n - 4]);
}

static inline int lfp_find_is_layout(const struct lfp_find_layout *l,
                                     const struct lfp_record *rec)
{
    return l->nfields == rec->nfields &&
           lfp_find_same_keys(rec->fields, l->keys, rec->nfields);
}

/* The remembered layout of rec, or NULL. The slot the hint names is tried
 * first, then every slot. A layout holds stable keys only, and no other
 * live string can sit at the address of one: a field whose key has that
 * address has that key, whatever its flags say. */
static inline const struct lfp_find_layout *
lfp_find_layout_of(struct lfp_find *fd, const struct lfp_record *rec,
                   unsigned h)
{
    const struct lfp_find_layout *l = &fd->layouts[fd->hint[h]];

    if (lfp_find_is_layout(l, rec))
        return l;
    for (unsigned j = 0; j < LFP_FIND_LAYOUTS; j++) {
        l = &fd->layouts[j];
        if (lfp_find_is_layout(l, rec)) {
            fd->hint[h] = (uint8_t)j;
            return l;
        }
    }
    return NULL;
}

/* got[0..n) = NULL, four at a time (fixed-size stores, no call) and the
 * last four overlapping. */
static inline void lfp_find_clear(const struct lfp_field **got, int n)
{
    int k;

    if (n < 4) {
        for (k = 0; k < n; k++)
            got[k] = NULL;
        return;
    }
    for (k = 0; k + 4 < n; k += 4)
        got[k] = got[k + 1] = got[k + 2] = got[k + 3] = NULL;
    k = n - 4;
    got[k] = got[k + 1] = got[k + 2] = got[k + 3] = NULL;
}

/* Wanted key k of a record of layout l whose fields are at base. */
static inline const struct lfp_field *
lfp_find_got(const struct lfp_find_layout *l, uintptr_t base, int k)
{
    return (const struct lfp_field *)((base & l->mask[k]) + l->off[k]);
}

#ifdef __SSE2__
/* got[k], got[k + 1] from layout l, k even (the aligned pair of mask and
 * off), base in both halves of b: one and, one add, one store. */
static inline void lfp_find_fill2(const struct lfp_find_layout *l, __m128i b,
                                  int k, const struct lfp_field **got)
{
    __m128i mask = _mm_load_si128((const __m128i *)(const void *)&l->mask[k]);
    __m128i off = _mm_load_si128((const __m128i *)(const void *)&l->off[k]);

    _mm_storeu_si128((__m128i *)(void *)&got[k],
                     _mm_add_epi64(_mm_and_si128(b, mask), off));
}
#endif

/* got[0..n) from layout l for rec: two at a time where SSE2 is. */
static inline void lfp_find_fill(const struct lfp_find_layout *l,
                                 const struct lfp_record *rec,
                                 const struct lfp_field **got, int n)
{
    uintptr_t base = (uintptr_t)rec->fields;
    int k = 0;

#ifdef __SSE2__
    __m128i b = _mm_set1_epi64x((long long)base);

    for (; k + 4 <= n; k += 4) {
        lfp_find_fill2(l, b, k, got);
        lfp_find_fill2(l, b, k + 2, got);
    }
    if (k + 2 <= n) {
        lfp_find_fill2(l, b, k, got);
        k += 2;
    }
#endif
    for (; k < n; k++)
        got[k] = lfp_find_got(l, base, k);
}

/* The scan: each field whose key length some wanted key has is compared
 * with those keys. Remembers the layout when every key is stable. */
static inline void lfp_find_scan(struct lfp_find *fd,
                                 const struct lfp_record *rec,
                                 const struct lfp_field **got, unsigned h)
{
    struct lfp_find_layout *l = &fd->layouts[fd->next];
    int stable = rec->nfields <= LFP_FIND_FIELDS;

    lfp_find_clear(got, fd->nkeys);
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const struct lfp_field *f = &rec->fields[i];
        if (!(f->flags & LFP_FIELD_KEY_STABLE))
            stable = 0;
        if (!(fd->len_mask & lfp_find_len_bit(f->key_len)))
            continue;
        for (int k = 0; k < fd->nkeys; k++)
            if (!got[k] && f->key_len == fd->lens[k] &&
                memcmp(f->key, fd->keys[k], f->key_len) == 0)
                got[k] = f; /* no break: two wanted keys may be equal */
    }
    if (!stable)
        return;
    l->nfields = rec->nfields;
    for (uint32_t i = 0; i < rec->nfields; i++)
        l->keys[i] = rec->fields[i].key;
    for (int k = 0; k < fd->nkeys; k++) {
        size_t i = got[k] ? (size_t)(got[k] - rec->fields) : 0;
        l->mask[k] = got[k] ? UINTPTR_MAX : 0;
        l->off[k] = i * sizeof(*rec->fields);
    }
    fd->hint[h] = (uint8_t)fd->next;
    fd->by_count[rec->nfields & (LFP_FIND_FIELDS - 1)] = (uint8_t)fd->next;
    fd->next = (fd->next + 1) & (LFP_FIND_LAYOUTS - 1);
}

/* got[k] is the first field of key k in rec, or NULL when rec has none. */
static inline void lfp_find_fields(struct lfp_find *fd,
                                   const struct lfp_record *rec,
                                   const struct lfp_field **got)
{
    const struct lfp_find_layout *l;
    unsigned h;

    if (rec->nfields == 0) { /* unused slots have nfields 0 */
        lfp_find_clear(got, fd->nkeys);
        return;
    }
    l = &fd->layouts[fd->by_count[rec->nfields & (LFP_FIND_FIELDS - 1)]];
    if (!lfp_find_is_layout(l, rec)) {
        h = lfp_find_hash(rec->fields, rec->nfields);
        l = lfp_find_layout_of(fd, rec, h);
        if (!l) {
            lfp_find_scan(fd, rec, got, h);
            return;
        }
        fd->by_count[rec->nfields & (LFP_FIND_FIELDS - 1)] =
            (uint8_t)(l - fd->layouts);
    }
    lfp_find_fill(l, rec, got, fd->nkeys);
}

#endif
