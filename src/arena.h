/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.h - bump allocator for data that dies with its chunk.
 *
 * Blocks are kept across lf_arena_reset(), so a chunk reused from the pool
 * allocates nothing once warmed up. Not thread-safe: a chunk is owned by one
 * thread at a time.
 */
#ifndef LF_ARENA_H
#define LF_ARENA_H

#include <stddef.h>

struct lf_arena; /* opaque */

/* Creates an arena whose blocks are block_bytes (larger requests get a
 * block of their own). Caller frees with lf_arena_free(). */
struct lf_arena *lf_arena_new(size_t block_bytes);
/* n bytes, 8-byte aligned, valid until reset or free. Never NULL. */
void *lf_arena_alloc(struct lf_arena *arena, size_t n);
/* Copies n bytes into the arena. */
char *lf_arena_memdup(struct lf_arena *arena, const void *p, size_t n);
/* Drops all data, keeps the first block (extra blocks are released). */
void lf_arena_reset(struct lf_arena *arena);
/* Bytes currently reserved from the heap. */
size_t lf_arena_reserved(const struct lf_arena *arena);
void lf_arena_free(struct lf_arena *arena); /* NULL is a no-op */

#endif
