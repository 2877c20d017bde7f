/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_codec.c - chunk <-> disk-buffer file image (see storage_codec.h).
 *
 * Encoding writes the payload into one growing buffer, then compresses it
 * after a reserved header. Decoding never trusts a length: every read is
 * checked against what is left, so a corrupt file is an error, not a
 * crash.
 */
#include "storage_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "chunk.h"
#include "crc32c.h"
#include "mem.h"

#define CODEC_MAX_DEPTH 16

struct codec_buf {
    unsigned char *data;
    size_t len, cap;
};

#define CODEC_INLINE 0xffffffffu /* string bytes follow (not in raw) */
#define CODEC_HINTS 64           /* field positions with a key hint */
#define CODEC_KEY_INLINE 0xffffu /* key bytes follow (table full) */

struct codec_key {
    const char *s;
    uint16_t len;
};

struct lf_storage_codec {
    int level;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    struct codec_buf payload; /* encode: serialized records */
    struct codec_buf head;    /* encode: tag, key table, then payload */
    struct codec_buf file;    /* encode: header + compressed payload */
    struct codec_key *keys;   /* encode: key table; decode: keys */
    uint32_t nkeys, keys_cap;
    uint16_t hint[CODEC_HINTS];
};

struct lf_storage_codec *lf_storage_codec_new(int level)
{
    struct lf_storage_codec *codec = lf_calloc(1, sizeof(*codec));

    codec->level = level;
    codec->cctx = ZSTD_createCCtx();
    codec->dctx = ZSTD_createDCtx();
    if (!codec->cctx || !codec->dctx) {
        /* zstd only fails to allocate: same policy as lf_malloc. */
        (void)fprintf(stderr, "logferry: out of memory creating zstd "
                              "contexts\n");
        abort();
    }
    return codec;
}

void lf_storage_codec_free(struct lf_storage_codec *codec)
{
    if (!codec)
        return;
    ZSTD_freeCCtx(codec->cctx);
    ZSTD_freeDCtx(codec->dctx);
    lf_free(codec->payload.data);
    lf_free(codec->head.data);
    lf_free(codec->keys);
    lf_free(codec->file.data);
    lf_free(codec);
}

/* ---- encoding --------------------------------------------------------- */

static void codec_reserve(struct codec_buf *b, size_t need)
{
    if (b->cap - b->len >= need)
        return;
    while (b->cap - b->len < need)
        b->cap = b->cap ? b->cap * 2 : (size_t)64 * 1024;
    b->data = lf_realloc(b->data, b->cap);
}

static void codec_put(struct codec_buf *b, const void *p, size_t n)
{
    codec_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Integers go to disk little-endian: the host order of every target
 * (x86-64, aarch64), so a memcpy of the low bytes is the encoding. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "storage_codec.c assumes a little-endian host"
#endif

static void codec_put_u8(struct codec_buf *b, uint8_t v)
{
    codec_reserve(b, 1);
    b->data[b->len++] = v;
}

static void codec_put_int(struct codec_buf *b, uint64_t v, size_t n)
{
    codec_reserve(b, 8);
    memcpy(b->data + b->len, &v, 8); /* the first n bytes count */
    b->len += n;
}

static void codec_put_u16(struct codec_buf *b, uint16_t v)
{
    codec_put_int(b, v, 2);
}

static void codec_put_u32(struct codec_buf *b, uint32_t v)
{
    codec_put_int(b, v, 4);
}

static void codec_put_u64(struct codec_buf *b, uint64_t v)
{
    codec_put_int(b, v, 8);
}

/* Index of key in the chunk's key table, adding it if new. Records of
 * one parser share their key pointers, so the hint (the index found for
 * the same field position last time) is nearly always right. */
static uint16_t codec_key(struct lf_storage_codec *codec, const char *key,
                          uint16_t len, uint32_t hint)
{
    const struct codec_key *k;

    if (hint < codec->nkeys) {
        k = &codec->keys[hint];
        if (k->s == key && k->len == len)
            return (uint16_t)hint;
    }
    for (uint32_t i = 0; i < codec->nkeys; i++) {
        k = &codec->keys[i];
        if (k->len == len && (k->s == key || memcmp(k->s, key, len) == 0))
            return (uint16_t)i;
    }
    if (codec->nkeys == CODEC_KEY_INLINE)
        return CODEC_KEY_INLINE; /* table full: the key goes inline */
    if (codec->nkeys == codec->keys_cap) {
        codec->keys_cap = codec->keys_cap ? codec->keys_cap * 2 : 64;
        codec->keys =
            lf_realloc(codec->keys, codec->keys_cap * sizeof(*codec->keys));
    }
    codec->keys[codec->nkeys].s = key;
    codec->keys[codec->nkeys].len = len;
    return (uint16_t)codec->nkeys++;
}

/* A string: its length, then its offset in the record's raw line when it
 * lies there (zero-copy parsers), or CODEC_INLINE and the bytes. */
static void codec_put_str(struct codec_buf *b, const struct lfp_record *rec,
                          const char *s, uint32_t n)
{
    codec_put_u32(b, n);
    if (n > 0 && s >= rec->raw && n <= rec->raw_len &&
        (size_t)(s - rec->raw) <= rec->raw_len - n) {
        codec_put_u32(b, (uint32_t)(s - rec->raw));
        return;
    }
    codec_put_u32(b, CODEC_INLINE);
    codec_put(b, s, n);
}

static void codec_put_field(struct lf_storage_codec *codec,
                            const struct lfp_record *rec,
                            const struct lfp_field *f, uint32_t pos)
{
    struct codec_buf *b = &codec->payload;
    uint64_t bits;
    uint16_t idx;

    idx = codec_key(codec, f->key, f->key_len,
                    pos < CODEC_HINTS ? codec->hint[pos] : UINT32_MAX);
    if (pos < CODEC_HINTS)
        codec->hint[pos] = idx;
    codec_put_u16(b, idx);
    if (idx == CODEC_KEY_INLINE) {
        codec_put_u16(b, f->key_len);
        codec_put(b, f->key, f->key_len);
    }
    codec_put_u8(b, f->type);
    codec_put_u8(b, f->flags);
    switch (f->type) {
    case LFP_T_STR:
    case LFP_T_JSON:
        codec_put_str(b, rec, f->v.s, f->n);
        break;
    case LFP_T_INT:
    case LFP_T_BOOL:
        codec_put_u64(b, (uint64_t)f->v.i);
        break;
    case LFP_T_FLOAT:
        memcpy(&bits, &f->v.d, sizeof(bits));
        codec_put_u64(b, bits);
        break;
    case LFP_T_ARRAY:
        codec_put_u32(b, f->n);
        for (uint32_t i = 0; i < f->n; i++)
            codec_put_field(codec, rec, &f->v.arr[i], CODEC_HINTS);
        break;
    default: /* LFP_T_NULL */
        break;
    }
}

/* Writes the records to codec->payload, the key table to codec->head. */
static uint32_t codec_put_records(struct lf_storage_codec *codec,
                                  const struct lfp_chunk *chunk)
{
    struct codec_buf *b = &codec->payload, *h = &codec->head;
    uint32_t n = 0;

    codec->nkeys = 0;
    memset(codec->hint, 0, sizeof(codec->hint));
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        codec_put_u64(b, (uint64_t)rec->ts_ns);
        codec_put_u32(b, rec->flags);
        codec_put_u32(b, rec->raw_len);
        codec_put(b, rec->raw, rec->raw_len);
        codec_put_u32(b, rec->nfields);
        for (uint32_t j = 0; j < rec->nfields; j++)
            codec_put_field(codec, rec, &rec->fields[j], j);
        n++;
    }
    codec_put_u16(h, chunk->tag_len);
    codec_put(h, chunk->tag, chunk->tag_len);
    codec_put_u32(h, codec->nkeys);
    for (uint32_t i = 0; i < codec->nkeys; i++) {
        codec_put_u16(h, codec->keys[i].len);
        codec_put(h, codec->keys[i].s, codec->keys[i].len);
    }
    codec_put_u32(h, n);
    return n;
}

static void codec_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t codec_get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int lf_storage_encode(struct lf_storage_codec *codec,
                      const struct lfp_chunk *chunk, const void **data,
                      size_t *len, uint32_t *nrecords, struct lfp_err *err)
{
    struct codec_buf *f = &codec->file;
    unsigned char *h;
    uint32_t nrec;
    size_t bound, clen;

    codec->payload.len = 0;
    codec->head.len = 0;
    nrec = codec_put_records(codec, chunk);
    /* The key table goes first: records refer to it. */
    codec_put(&codec->head, codec->payload.data, codec->payload.len);
    bound = ZSTD_compressBound(codec->head.len);
    f->len = 0;
    codec_reserve(f, LF_STORAGE_HEADER + bound);
    clen = ZSTD_compressCCtx(codec->cctx, f->data + LF_STORAGE_HEADER, bound,
                             codec->head.data, codec->head.len, codec->level);
    if (ZSTD_isError(clen))
        return lf_err_set(err, LFP_ERR_IO, "zstd compress: %s",
                          ZSTD_getErrorName(clen));
    h = f->data;
    memcpy(h, LF_STORAGE_MAGIC, 4);
    h[4] = LF_STORAGE_VERSION;
    h[5] = 0;
    h[6] = LF_STORAGE_HEADER;
    h[7] = 0;
    codec_le32(h + 8, (uint32_t)clen);
    codec_le32(h + 12, (uint32_t)codec->head.len);
    codec_le32(h + 16, nrec);
    codec_le32(h + 20, lf_crc32c(0, h + LF_STORAGE_HEADER, clen));
    codec_le32(h + 24, lf_crc32c(0, h, 24));
    codec_le32(h + 28, 0);
    f->len = LF_STORAGE_HEADER + clen;
    *data = f->data;
    *len = f->len;
    *nrecords = nrec;
    return LFP_OK;
}

/* ---- decoding --------------------------------------------------------- */

/* A bounds-checked reader over the decompressed payload. */
struct codec_rd {
    const char *p, *end;
    int bad;
};

static const char *codec_take(struct codec_rd *r, size_t n)
{
    const char *p = r->p;

    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    return p;
}

static uint64_t codec_get(struct codec_rd *r, size_t n)
{
    const char *p = codec_take(r, n);
    uint64_t v = 0;

    if (p)
        memcpy(&v, p, n); /* little-endian host, see codec_put_int */
    return v;
}

/* The key table and the record being decoded. */
struct codec_dec {
    struct codec_rd r;
    const struct codec_key *keys;
    uint32_t nkeys;
    const char *raw; /* the current record's raw line */
    uint32_t raw_len;
};

static const char *codec_get_str(struct codec_dec *d, uint32_t n)
{
    uint32_t off = (uint32_t)codec_get(&d->r, 4);

    if (off == CODEC_INLINE)
        return codec_take(&d->r, n);
    if (off > d->raw_len || n > d->raw_len - off) {
        d->r.bad = 1;
        return NULL;
    }
    return d->raw + off;
}

static void codec_get_key(struct codec_dec *d, struct lfp_field *f)
{
    uint16_t idx = (uint16_t)codec_get(&d->r, 2);

    if (idx == CODEC_KEY_INLINE) {
        f->key_len = (uint16_t)codec_get(&d->r, 2);
        f->key = codec_take(&d->r, f->key_len);
    } else if (idx < d->nkeys) {
        f->key = d->keys[idx].s;
        f->key_len = d->keys[idx].len;
    } else {
        d->r.bad = 1;
    }
}

static int codec_get_field(struct codec_dec *d, struct lfp_chunk *chunk,
                           struct lfp_field *f, int depth)
{
    struct codec_rd *r = &d->r;
    uint64_t bits;

    codec_get_key(d, f);
    f->type = (uint8_t)codec_get(r, 1);
    /* The key now lives in the decoded chunk, not in the framed copy the
     * flag promised. */
    f->flags = (uint8_t)(codec_get(r, 1) & ~(uint64_t)LFP_FIELD_KEY_FRAMED);
    switch (f->type) {
    case LFP_T_STR:
    case LFP_T_JSON:
        f->n = (uint32_t)codec_get(r, 4);
        f->v.s = codec_get_str(d, f->n);
        break;
    case LFP_T_INT:
    case LFP_T_BOOL:
        f->v.i = (int64_t)codec_get(r, 8);
        break;
    case LFP_T_FLOAT:
        bits = codec_get(r, 8);
        memcpy(&f->v.d, &bits, sizeof(bits));
        break;
    case LFP_T_NULL:
        break;
    case LFP_T_ARRAY: {
        struct lfp_field *arr;
        f->n = (uint32_t)codec_get(r, 4);
        /* Each element takes at least 4 bytes: bound n before allocating. */
        if (depth >= CODEC_MAX_DEPTH || f->n > (size_t)(r->end - r->p) / 4)
            return LFP_ERR_PARSE;
        arr = lf_chunk_alloc(chunk, sizeof(*arr) * (f->n ? f->n : 1));
        for (uint32_t i = 0; i < f->n && !r->bad; i++)
            if (codec_get_field(d, chunk, &arr[i], depth + 1) != LFP_OK)
                return LFP_ERR_PARSE;
        f->v.arr = arr;
        break;
    }
    default:
        return LFP_ERR_PARSE;
    }
    return r->bad ? LFP_ERR_PARSE : LFP_OK;
}

static int codec_get_record(struct codec_dec *d, struct lfp_chunk *chunk)
{
    struct codec_rd *r = &d->r;
    struct lfp_record *rec;
    int64_t ts = (int64_t)codec_get(r, 8);
    uint32_t flags = (uint32_t)codec_get(r, 4);
    uint32_t raw_len = (uint32_t)codec_get(r, 4);
    const char *raw = codec_take(r, raw_len);
    uint32_t nfields = (uint32_t)codec_get(r, 4);

    /* Each field takes at least 4 bytes: bound nfields before reserving. */
    if (r->bad || nfields > (size_t)(r->end - r->p) / 4)
        return LFP_ERR_PARSE;
    d->raw = raw;
    d->raw_len = raw_len;
    lf_chunk_add_line(chunk, (uint32_t)(raw - chunk->core->raw), raw_len,
                      flags);
    rec = &chunk->records[chunk->nrecords - 1];
    rec->ts_ns = ts;
    if (nfields)
        lf_record_reserve(chunk, rec, nfields);
    for (uint32_t i = 0; i < nfields; i++)
        if (codec_get_field(d, chunk, lf_record_add(chunk, rec), 0) != LFP_OK)
            return LFP_ERR_PARSE;
    return LFP_OK;
}

/* Reads the tag and the key table (keys point into the payload). */
static int codec_get_head(struct lf_storage_codec *codec, struct codec_dec *d,
                          struct lfp_chunk *chunk)
{
    struct codec_rd *r = &d->r;
    uint16_t tag_len = (uint16_t)codec_get(r, 2);
    const char *tag = codec_take(r, tag_len);
    uint32_t nkeys = (uint32_t)codec_get(r, 4);

    if (r->bad || nkeys >= CODEC_KEY_INLINE ||
        nkeys > (size_t)(r->end - r->p) / 2)
        return LFP_ERR_PARSE;
    lf_chunk_set_tag(chunk, tag, tag_len);
    if (nkeys > codec->keys_cap) {
        codec->keys_cap = nkeys;
        codec->keys = lf_realloc(codec->keys, nkeys * sizeof(*codec->keys));
    }
    for (uint32_t i = 0; i < nkeys; i++) {
        codec->keys[i].len = (uint16_t)codec_get(r, 2);
        codec->keys[i].s = codec_take(r, codec->keys[i].len);
    }
    d->keys = codec->keys;
    d->nkeys = nkeys;
    return r->bad ? LFP_ERR_PARSE : LFP_OK;
}

/* Checks the header; fills the compressed and raw lengths. */
static int codec_check_header(const unsigned char *h, size_t len,
                              uint32_t *clen, uint32_t *rlen, uint32_t *nrec,
                              struct lfp_err *err)
{
    if (len < LF_STORAGE_HEADER)
        return lf_err_set(err, LFP_ERR_PARSE,
                          "truncated: %zu bytes, shorter than a header", len);
    if (memcmp(h, LF_STORAGE_MAGIC, 4) != 0)
        return lf_err_set(err, LFP_ERR_PARSE, "bad magic");
    if (codec_get_le32(h + 24) != lf_crc32c(0, h, 24))
        return lf_err_set(err, LFP_ERR_PARSE, "header checksum mismatch");
    if (h[4] != LF_STORAGE_VERSION || h[5] != 0 || h[6] != LF_STORAGE_HEADER)
        return lf_err_set(err, LFP_ERR_PARSE, "unknown version %u",
                          (unsigned)h[4]);
    *clen = codec_get_le32(h + 8);
    *rlen = codec_get_le32(h + 12);
    *nrec = codec_get_le32(h + 16);
    if (len - LF_STORAGE_HEADER != *clen)
        return lf_err_set(err, LFP_ERR_PARSE,
                          "truncated: payload is %zu bytes, header says %u",
                          len - LF_STORAGE_HEADER, *clen);
    if (*rlen > LF_STORAGE_MAX_RAW)
        return lf_err_set(err, LFP_ERR_PARSE, "payload too large (%u)", *rlen);
    if (codec_get_le32(h + 20) != lf_crc32c(0, h + LF_STORAGE_HEADER, *clen))
        return lf_err_set(err, LFP_ERR_PARSE, "payload checksum mismatch");
    return LFP_OK;
}

/* Makes the chunk's raw buffer hold at least n bytes. */
static void codec_grow_raw(struct lfp_chunk *chunk, size_t n)
{
    struct lfp_chunk_core *core = chunk->core;

    if (core->raw_cap >= n)
        return;
    lf_free(core->raw);
    core->raw = lf_malloc(n);
    core->raw_cap = n;
}

int lf_storage_decode(struct lf_storage_codec *codec, const void *data,
                      size_t len, struct lfp_chunk *chunk, struct lfp_err *err)
{
    const unsigned char *h = data;
    uint32_t clen = 0, rlen = 0, nrec = 0;
    struct codec_dec d;
    size_t got;

    if (codec_check_header(h, len, &clen, &rlen, &nrec, err) != LFP_OK)
        return LFP_ERR_PARSE;
    codec_grow_raw(chunk, rlen ? rlen : 1);
    got = ZSTD_decompressDCtx(codec->dctx, chunk->core->raw, rlen,
                              h + LF_STORAGE_HEADER, clen);
    if (ZSTD_isError(got))
        return lf_err_set(err, LFP_ERR_PARSE, "zstd: %s",
                          ZSTD_getErrorName(got));
    if (got != rlen)
        return lf_err_set(err, LFP_ERR_PARSE,
                          "payload is %zu bytes, header says %u", got, rlen);
    memset(&d, 0, sizeof(d));
    d.r.p = chunk->core->raw;
    d.r.end = d.r.p + rlen;
    if (codec_get_head(codec, &d, chunk) != LFP_OK ||
        (uint32_t)codec_get(&d.r, 4) != nrec)
        d.r.bad = 1;
    for (uint32_t i = 0; i < nrec && !d.r.bad; i++)
        if (codec_get_record(&d, chunk) != LFP_OK)
            d.r.bad = 1;
    if (d.r.bad || d.r.p != d.r.end)
        return lf_err_set(err, LFP_ERR_PARSE,
                          "payload does not match its %u records", nrec);
    return LFP_OK;
}
