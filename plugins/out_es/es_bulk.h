/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_bulk.h - a chunk encoded as bulk documents, and what the server said
 * about each of them.
 *
 *   body:  {"index":{"_index":"proxy-2025.06.01","_id":"Zm9v..."}}\n
 *          {"@timestamp":"2025-06-01T00:00:03.000Z","source.ip":...}\n
 *          {"index":{...}}\n
 *          ...
 *   docs[i] = {off, len, src_off, rec, state}: one action + source pair
 *
 * A batch is kept across a RETRY of the same chunk (the engine hands the
 * same chunk back until it is acknowledged), so documents already indexed
 * or dead-lettered are not sent, or dead-lettered, twice; the generated
 * _id makes anything that is sent twice overwrite itself.
 *
 * Thread: the output's own; nothing here is shared.
 */
#ifndef LF_OUT_ES_BULK_H
#define LF_OUT_ES_BULK_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

/* A growable byte buffer (heap, through the host). */
struct es_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Makes room for need more bytes. */
void es_buf_reserve(const struct lfp_host *host, struct es_buf *buf,
                    size_t need);
void es_buf_append(const struct lfp_host *host, struct es_buf *buf,
                   const void *data, size_t n);
void es_buf_free(const struct lfp_host *host, struct es_buf *buf);

enum es_doc_state {
    ES_DOC_PENDING = 0, /* to send (again) */
    ES_DOC_DONE,        /* indexed, or already there (409 on create) */
    ES_DOC_REJECTED,    /* refused for good: written to the rejected file */
};

struct es_doc {
    size_t off;       /* action line in batch body */
    uint32_t len;     /* action line + source, both newlines included */
    uint32_t src_off; /* where the source starts, from off */
    uint32_t rec;     /* index into chunk->records */
    uint8_t state;    /* enum es_doc_state */
};

struct es_batch {
    /* Identity of the chunk it encodes, to recognise a retry. */
    const struct lfp_chunk *chunk;
    uint64_t pos_seq;
    uint64_t pos_begin;
    uint32_t nrecords;
    uint64_t fingerprint; /* of the records' times, sizes and flags */
    int is_valid;

    struct es_buf body;
    struct es_doc *docs;
    size_t ndocs;
    size_t docs_cap;
    size_t npending;
};

/* What the encoder needs from the configuration. Read-only after
 * es_encoder_init, except the index-name cache. */
struct es_encoder {
    const struct lfp_host *host;
    const char *index_fmt;
    int has_date;       /* index_fmt has % conversions */
    const char *op;     /* "index" or "create" */
    const char *type;   /* "_doc" for es6, else NULL */
    const char *id_key; /* NULL: generated ids (or none) */
    int generate_id;
    /* Last expanded index name and the second it was made for. */
    int64_t cache_sec;
    int has_cache;
    char index[256];
    size_t index_len;
};

/* Encodes the chunk's live records (not LFP_REC_DROPPED) into b, replacing
 * what b held; every document starts PENDING. */
void es_batch_encode(struct es_encoder *enc, struct es_batch *b,
                     const struct lfp_chunk *chunk);
/* Whether b encodes exactly this chunk (a retry of it): the same pointer
 * and position, and the same records (a pooled chunk may come back with
 * other data at the same address, after the engine moved the first one to
 * its disk buffer). */
int es_batch_matches(const struct es_batch *b, const struct lfp_chunk *chunk);
/* Forgets the chunk (after OK); buffers are kept for the next one. */
void es_batch_reset(struct es_batch *b);
void es_batch_free(const struct lfp_host *host, struct es_batch *b);

/* The generated _id: 22 base64url characters of a 128-bit MurmurHash3 of
 * the tag, the line's source offset and its raw bytes, NUL-terminated. */
void es_doc_id(const char *tag, size_t tag_len, uint64_t offset,
               const char *raw, size_t raw_len, char out[23]);
/* Expands the index pattern for a timestamp (ns, UTC) into enc->index and
 * returns its length. */
size_t es_index_name(struct es_encoder *enc, int64_t ts_ns);

#endif
