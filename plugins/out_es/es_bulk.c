/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_bulk.c - encoding a chunk as bulk action + source pairs (es_bulk.h).
 *
 * Document ids. A generated _id must be the same every time the same line
 * is sent: on an in-flush retry, on the engine's retry of the chunk, and
 * after a crash when tail reads the uncommitted lines again, possibly cut
 * into chunks at other places. So it is built from what survives all
 * three: the tag, the line's own offset in its source (the chunk's
 * pos_begin plus the lines before it, newlines included) and the raw
 * bytes. pos_source is left out on purpose: tail numbers files by slot,
 * which is not stable across restarts. Two sources with the same tag whose
 * lines are byte-identical at the same offset get one document.
 */
#include "es_bulk.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void es_buf_reserve(const struct lfp_host *host, struct es_buf *buf,
                    size_t need)
{
    size_t cap = buf->cap;

    if (cap - buf->len >= need)
        return;
    while (cap - buf->len < need)
        cap = cap ? cap * 2 : (size_t)1 << 16;
    buf->data = host->mem_realloc(buf->data, cap);
    buf->cap = cap;
}

void es_buf_append(const struct lfp_host *host, struct es_buf *buf,
                   const void *data, size_t n)
{
    es_buf_reserve(host, buf, n);
    memcpy(buf->data + buf->len, data, n);
    buf->len += n;
}

void es_buf_free(const struct lfp_host *host, struct es_buf *buf)
{
    host->mem_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

/* ---- ids: MurmurHash3 x64 128 (public domain, Austin Appleby) -------- */

static uint64_t es_rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t es_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

static uint64_t es_load64(const unsigned char *p)
{
    uint64_t v = 0;

    /* Callers pass initialised bytes; the analyzer loses track of them. */
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i]; /* NOLINT(clang-analyzer-core.Undefined*) */
    return v;
}

static const uint64_t es_c1 = UINT64_C(0x87c37b91114253d5);
static const uint64_t es_c2 = UINT64_C(0x4cf5ad432745937f);

static void es_murmur_mix(uint64_t *h1, uint64_t *h2, uint64_t k1, uint64_t k2)
{
    k1 *= es_c1;
    k1 = es_rotl64(k1, 31);
    k1 *= es_c2;
    *h1 ^= k1;
    *h1 = es_rotl64(*h1, 27);
    *h1 += *h2;
    *h1 = *h1 * 5 + 0x52dce729;
    k2 *= es_c2;
    k2 = es_rotl64(k2, 33);
    k2 *= es_c1;
    *h2 ^= k2;
    *h2 = es_rotl64(*h2, 31);
    *h2 += *h1;
    *h2 = *h2 * 5 + 0x38495ab5;
}

static void es_murmur128(const void *key, size_t len, uint64_t seed,
                         uint64_t out[2])
{
    const unsigned char *data = key;
    const unsigned char *tail = data + (len & ~(size_t)15);
    uint64_t h1 = seed, h2 = seed, k1 = 0, k2 = 0;

    for (size_t i = 0; i + 16 <= len; i += 16)
        es_murmur_mix(&h1, &h2, es_load64(data + i), es_load64(data + i + 8));
    for (size_t i = len & 15; i > 8; i--)
        k2 = (k2 << 8) | tail[i - 1];
    for (size_t i = (len & 15) < 8 ? (len & 15) : 8; i > 0; i--)
        k1 = (k1 << 8) | tail[i - 1];
    if ((len & 15) > 8) {
        k2 *= es_c2;
        k2 = es_rotl64(k2, 33);
        k2 *= es_c1;
        h2 ^= k2;
    }
    if ((len & 15) > 0) {
        k1 *= es_c1;
        k1 = es_rotl64(k1, 31);
        k1 *= es_c2;
        h1 ^= k1;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = es_fmix64(h1);
    h2 = es_fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

void es_doc_id(const char *tag, size_t tag_len, uint64_t offset,
               const char *raw, size_t raw_len, char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789-_";
    unsigned char key[128 + 8 + 16] = {0};
    uint64_t h[2];
    size_t n;
    unsigned char bytes[16];

    /* The raw line first, then (tag, offset, that hash): no copy of the
     * line, and the three parts cannot run into each other. */
    es_murmur128(raw, raw_len, 0, h);
    n = tag_len < 128 ? tag_len : 128;
    memcpy(key, tag, n);
    for (int i = 0; i < 8; i++)
        key[n + i] = (unsigned char)(offset >> (8 * i));
    for (int i = 0; i < 16; i++)
        key[n + 8 + i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
    es_murmur128(key, n + 24, UINT64_C(0x6c6f6766657272), h);
    for (int i = 0; i < 16; i++)
        bytes[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
    n = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < 16)
            v |= bytes[i + 2];
        out[n++] = b64[(v >> 18) & 63];
        out[n++] = b64[(v >> 12) & 63];
        if (i + 1 < 16)
            out[n++] = b64[(v >> 6) & 63];
        if (i + 2 < 16)
            out[n++] = b64[v & 63];
    }
    out[n] = '\0';
}

/* ---- index names ------------------------------------------------------ */

/* One date conversion of the index pattern (es_conf.c lets only these
 * through); literal formats keep strftime checkable. */
static size_t es_date_conv(char c, const struct tm *tm, char *out, size_t cap)
{
    switch (c) {
    case 'Y':
        return strftime(out, cap, "%Y", tm);
    case 'm':
        return strftime(out, cap, "%m", tm);
    case 'd':
        return strftime(out, cap, "%d", tm);
    case 'H':
        return strftime(out, cap, "%H", tm);
    case 'j':
        return strftime(out, cap, "%j", tm);
    case 'G':
        return strftime(out, cap, "%G", tm);
    case 'V':
        return strftime(out, cap, "%V", tm);
    case 'U':
        return strftime(out, cap, "%U", tm);
    case 'W':
        return strftime(out, cap, "%W", tm);
    case 'u':
        return strftime(out, cap, "%u", tm);
    case 'w':
        return strftime(out, cap, "%w", tm);
    default:
        if (cap < 1)
            return 0;
        out[0] = c; /* %% and anything validation let through */
        return 1;
    }
}

static size_t es_index_expand(const char *fmt, const struct tm *tm, char *out,
                              size_t cap)
{
    size_t n = 0;

    for (const char *p = fmt; *p && n + 1 < cap; p++) {
        if (*p == '%' && p[1]) {
            n += es_date_conv(*++p, tm, out + n, cap - 1 - n);
            continue;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    return n;
}

size_t es_index_name(struct es_encoder *enc, int64_t ts_ns)
{
    int64_t sec = ts_ns / 1000000000;
    struct tm tm;
    time_t t;

    if (!enc->has_date) {
        if (!enc->has_cache) {
            enc->index_len = strlen(enc->index_fmt);
            memcpy(enc->index, enc->index_fmt, enc->index_len + 1);
            enc->has_cache = 1;
        }
        return enc->index_len;
    }
    if (ts_ns < 0 && ts_ns % 1000000000 != 0)
        sec--;
    if (enc->has_cache && sec == enc->cache_sec)
        return enc->index_len;
    t = (time_t)sec;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    enc->index_len =
        es_index_expand(enc->index_fmt, &tm, enc->index, sizeof(enc->index));
    enc->cache_sec = sec;
    enc->has_cache = 1;
    return enc->index_len;
}

/* ---- encoding --------------------------------------------------------- */

/* Appends s as a JSON string body; 0 if it holds a byte that would need
 * more than a backslash (control or non-ASCII), which ids must not. */
static int es_append_id_str(const struct lfp_host *host, struct es_buf *buf,
                            const char *s, size_t n)
{
    es_buf_reserve(host, buf, n * 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            return 0;
        if (c == '"' || c == '\\')
            buf->data[buf->len++] = '\\';
        buf->data[buf->len++] = (char)c;
    }
    return 1;
}

/* The id_key value of rec as an _id, or 0 to fall back to a generated
 * one (absent, empty, too long for an _id, or not printable ASCII). */
static int es_append_key_id(const struct es_encoder *enc, struct es_buf *buf,
                            const struct lfp_record *rec)
{
    const struct lfp_field *f =
        enc->host->record_get(rec, enc->id_key, strlen(enc->id_key));
    char num[24];
    size_t mark = buf->len;

    if (!f)
        return 0;
    if (f->type == LFP_T_INT) {
        int n = snprintf(num, sizeof(num), "%lld", (long long)f->v.i);
        es_buf_append(enc->host, buf, num, (size_t)n);
        return 1;
    }
    if (f->type != LFP_T_STR || f->n == 0 || f->n > 512)
        return 0;
    if (!es_append_id_str(enc->host, buf, f->v.s, f->n)) {
        buf->len = mark;
        return 0;
    }
    return 1;
}

static void es_append_action(struct es_encoder *enc, struct es_buf *buf,
                             const struct lfp_chunk *chunk,
                             const struct lfp_record *rec, uint64_t offset)
{
    const struct lfp_host *host = enc->host;
    size_t ilen = es_index_name(enc, rec->ts_ns);
    char id[23];

    es_buf_reserve(host, buf, ilen + 128);
    es_buf_append(host, buf, "{\"", 2);
    es_buf_append(host, buf, enc->op, strlen(enc->op));
    es_buf_append(host, buf, "\":{\"_index\":\"", 13);
    es_buf_append(host, buf, enc->index, ilen);
    es_buf_append(host, buf, "\"", 1);
    if (enc->type)
        es_buf_append(host, buf, ",\"_type\":\"_doc\"", 15);
    if (enc->id_key || enc->generate_id) {
        es_buf_append(host, buf, ",\"_id\":\"", 8);
        if (!enc->id_key || !es_append_key_id(enc, buf, rec)) {
            es_doc_id(chunk->tag, chunk->tag_len, offset, rec->raw,
                      rec->raw_len, id);
            es_buf_append(host, buf, id, 22);
        }
        es_buf_append(host, buf, "\"", 1);
    }
    es_buf_append(host, buf, "}}\n", 3);
}

/* record_to_json answers 0 when the room is below the record's bound:
 * grow and try again (the bound is finite, so this ends). */
static void es_append_source(const struct lfp_host *host, struct es_buf *buf,
                             const struct lfp_record *rec)
{
    for (;;) {
        size_t room = buf->cap - buf->len;
        size_t n =
            room > 1 ? host->record_to_json(rec, buf->data + buf->len, room - 1)
                     : 0;
        if (n > 0) {
            buf->len += n;
            buf->data[buf->len++] = '\n';
            return;
        }
        es_buf_reserve(host, buf, room * 2 + 4096);
    }
}

static struct es_doc *es_batch_add_doc(const struct lfp_host *host,
                                       struct es_batch *b)
{
    if (b->ndocs == b->docs_cap) {
        b->docs_cap = b->docs_cap ? b->docs_cap * 2 : 1024;
        b->docs = host->mem_realloc(b->docs, b->docs_cap * sizeof(*b->docs));
    }
    return &b->docs[b->ndocs++];
}

/* What tells two chunks at the same address apart: every record's time,
 * size and flags, and the first and last lines' bytes. */
static uint64_t es_chunk_fingerprint(const struct lfp_chunk *chunk)
{
    uint64_t h[2] = {0, 0}, acc = chunk->nrecords;
    uint64_t words[3];

    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        words[0] = (uint64_t)rec->ts_ns;
        words[1] = ((uint64_t)rec->raw_len << 32) | rec->flags;
        words[2] = acc;
        es_murmur128(words, sizeof(words), i, h);
        acc = h[0];
    }
    if (chunk->nrecords > 0) {
        const struct lfp_record *a = &chunk->records[0];
        const struct lfp_record *z = &chunk->records[chunk->nrecords - 1];
        es_murmur128(a->raw, a->raw_len, acc, h);
        acc ^= h[1];
        es_murmur128(z->raw, z->raw_len, acc, h);
        acc ^= h[0];
    }
    return acc;
}

void es_batch_encode(struct es_encoder *enc, struct es_batch *b,
                     const struct lfp_chunk *chunk)
{
    uint64_t offset = chunk->pos_begin;

    b->body.len = 0;
    b->ndocs = 0;
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        struct es_doc *doc;
        uint64_t line_off = offset;

        offset += (uint64_t)rec->raw_len + 1;
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        doc = es_batch_add_doc(enc->host, b);
        doc->off = b->body.len;
        doc->rec = i;
        doc->state = ES_DOC_PENDING;
        es_append_action(enc, &b->body, chunk, rec, line_off);
        doc->src_off = (uint32_t)(b->body.len - doc->off);
        es_append_source(enc->host, &b->body, rec);
        doc->len = (uint32_t)(b->body.len - doc->off);
    }
    b->npending = b->ndocs;
    b->chunk = chunk;
    b->pos_seq = chunk->pos_seq;
    b->pos_begin = chunk->pos_begin;
    b->nrecords = chunk->nrecords;
    b->fingerprint = es_chunk_fingerprint(chunk);
    b->is_valid = 1;
}

int es_batch_matches(const struct es_batch *b, const struct lfp_chunk *chunk)
{
    return b->is_valid && b->chunk == chunk && b->pos_seq == chunk->pos_seq &&
           b->pos_begin == chunk->pos_begin && b->nrecords == chunk->nrecords &&
           b->fingerprint == es_chunk_fingerprint(chunk);
}

void es_batch_reset(struct es_batch *b)
{
    b->is_valid = 0;
    b->chunk = NULL;
    b->ndocs = 0;
    b->npending = 0;
    b->body.len = 0;
}

void es_batch_free(const struct lfp_host *host, struct es_batch *b)
{
    es_buf_free(host, &b->body);
    host->mem_free(b->docs);
    b->docs = NULL;
    b->ndocs = b->docs_cap = 0;
    b->is_valid = 0;
}
