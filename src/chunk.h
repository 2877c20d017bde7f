/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunk.h - chunks of records, their arenas, and the records' fields.
 *
 * A chunk owns a raw buffer (the lines an input read, zero-copied into
 * records), a record vector and an arena for everything parsed from it.
 * Chunks are pooled by the engine and reused: a warmed-up chunk allocates
 * nothing. One thread owns a chunk at a time (input, then a worker, then the
 * outputs read it concurrently without writing).
 */
#ifndef LF_CHUNK_H
#define LF_CHUNK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_arena;

struct lfp_chunk_core {
    struct lf_arena *arena;
    char *raw;
    size_t raw_cap;
    uint32_t rec_cap;
    char tag_buf[128];
    /* Engine bookkeeping. */
    void *owner;            /* the engine input instance that emitted it */
    uint64_t seq;           /* engine-wide order for in-order routing */
    atomic_int pending;     /* outputs still owing an acknowledgement */
    struct lfp_chunk *next; /* queue link */
};

/* Creates a chunk with a raw buffer of raw_cap bytes. Caller frees with
 * lf_chunk_free(). */
struct lfp_chunk *lf_chunk_new(size_t raw_cap, size_t arena_block);
/* Empties it for reuse: no records, arena reset, position zeroed. */
void lf_chunk_reset(struct lfp_chunk *chunk);
void lf_chunk_free(struct lfp_chunk *chunk); /* NULL is a no-op */

/* Sets the tag (copied, cut at 127 bytes). */
void lf_chunk_set_tag(struct lfp_chunk *chunk, const char *tag, size_t len);
/* The raw buffer and its capacity. */
char *lf_chunk_raw(struct lfp_chunk *chunk, size_t *cap);
/* Adds a record for raw[off, off+len). */
void lf_chunk_add_line(struct lfp_chunk *chunk, uint32_t off, uint32_t len,
                       uint32_t rec_flags);
/* Appends n records, contents undefined, and returns the first, for the
 * caller to fill with lfp_record_set_line(). Valid until records are
 * added again. Thread: the chunk's owner (an input). */
struct lfp_record *lf_chunk_add_records(struct lfp_chunk *chunk, uint32_t n);
/* Arena allocation, 8-byte aligned, freed with the chunk's data. */
void *lf_chunk_alloc(struct lfp_chunk *chunk, size_t n);
/* Appends a zeroed field to rec (array grown in the arena). */
struct lfp_field *lf_record_add(struct lfp_chunk *chunk,
                                struct lfp_record *rec);
/* Makes room for n more fields in one step (parsers call it once). */
void lf_record_reserve(struct lfp_chunk *chunk, struct lfp_record *rec,
                       uint32_t n);
/* Finds a field by key, or NULL. */
const struct lfp_field *lf_record_get(const struct lfp_record *rec,
                                      const char *key, size_t key_len);

/* Fills a field in place. */
void lf_field_set_str(struct lfp_field *f, const char *key, const char *s,
                      size_t n);
void lf_field_set_int(struct lfp_field *f, const char *key, int64_t i);
void lf_field_set_float(struct lfp_field *f, const char *key, double d);

#endif
