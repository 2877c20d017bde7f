/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.c - bump allocation over a list of blocks.
 *
 * The arena keeps up to LF_ARENA_KEEP bytes of blocks across resets; what a
 * rare big chunk needed beyond that goes back to the heap, so one huge line
 * does not pin memory for the life of the process.
 */
#include "arena.h"

#include <string.h>

#include "mem.h"

#define LF_ARENA_KEEP (4u << 20)

struct arena_block {
    struct arena_block *next;
    size_t cap;
    size_t used;
    /* data follows, 8-byte aligned */
};

struct lf_arena {
    struct arena_block *head;  /* blocks in use, current first */
    struct arena_block *spare; /* standard blocks kept by reset */
    size_t block_bytes;
    size_t reserved;
};

#define ARENA_HDR ((sizeof(struct arena_block) + 7u) & ~(size_t)7u)

static struct arena_block *arena_block_new(struct lf_arena *arena, size_t cap)
{
    struct arena_block *b = lf_malloc(ARENA_HDR + cap);
    b->cap = cap;
    b->used = 0;
    b->next = arena->head;
    arena->head = b;
    arena->reserved += ARENA_HDR + cap;
    return b;
}

struct lf_arena *lf_arena_new(size_t block_bytes)
{
    struct lf_arena *arena = lf_calloc(1, sizeof(*arena));
    arena->block_bytes = block_bytes < 1024 ? 1024 : block_bytes;
    return arena;
}

void *lf_arena_alloc(struct lf_arena *arena, size_t n)
{
    struct arena_block *b = arena->head;
    void *p;

    n = (n + 7u) & ~(size_t)7u;
    if (!b || b->cap - b->used < n) {
        if (n <= arena->block_bytes && arena->spare) {
            b = arena->spare;
            arena->spare = b->next;
            b->used = 0;
            b->next = arena->head;
            arena->head = b;
        } else {
            size_t cap = n > arena->block_bytes ? n : arena->block_bytes;
            b = arena_block_new(arena, cap);
        }
    }
    p = (char *)b + ARENA_HDR + b->used;
    b->used += n;
    return p;
}

char *lf_arena_memdup(struct lf_arena *arena, const void *p, size_t n)
{
    char *d = lf_arena_alloc(arena, n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void lf_arena_reset(struct lf_arena *arena)
{
    struct arena_block *b = arena->head;
    size_t kept = 0;

    for (struct arena_block *sp = arena->spare; sp; sp = sp->next)
        kept += ARENA_HDR + sp->cap;
    /* Keep standard-size blocks up to LF_ARENA_KEEP bytes for reuse. */
    while (b) {
        struct arena_block *next = b->next;
        if (b->cap == arena->block_bytes && kept + b->cap <= LF_ARENA_KEEP) {
            b->next = arena->spare;
            arena->spare = b;
            kept += ARENA_HDR + b->cap;
        } else {
            lf_free(b);
        }
        b = next;
    }
    arena->head = NULL;
    arena->reserved = kept;
}

size_t lf_arena_reserved(const struct lf_arena *arena)
{
    return arena->reserved;
}

void lf_arena_free(struct lf_arena *arena)
{
    struct arena_block *b;

    if (!arena)
        return;
    for (int i = 0; i < 2; i++) {
        b = i == 0 ? arena->head : arena->spare;
        while (b) {
            struct arena_block *next = b->next;
            lf_free(b);
            b = next;
        }
    }
    lf_free(arena);
}
