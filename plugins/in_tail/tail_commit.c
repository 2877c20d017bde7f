/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_commit.c - per-file queue of chunks in flight.
 *
 * The queue is an array used from inflight_head on; popped slots are
 * reclaimed by sliding the live part down when the array must grow.
 */
#include "tail_commit.h"

#include <string.h>

static void tail_commit_append(struct tail_ctx *ctx, struct tail_file *f,
                               const struct tail_inflight *entry)
{
    if (f->inflight_head + f->inflight_n == f->inflight_cap) {
        if (f->inflight_head > 0) {
            memmove(f->inflight, f->inflight + f->inflight_head,
                    f->inflight_n * sizeof(*f->inflight));
            f->inflight_head = 0;
        }
        if (f->inflight_n == f->inflight_cap) {
            f->inflight_cap = f->inflight_cap ? f->inflight_cap * 2 : 8;
            f->inflight = ctx->host->mem_realloc(
                f->inflight, f->inflight_cap * sizeof(*f->inflight));
        }
    }
    f->inflight[f->inflight_head + f->inflight_n++] = *entry;
}

/* Pops the acknowledged prefix; returns 1 if it popped anything (the
 * saved state changes). */
static int tail_commit_advance(struct tail_file *f)
{
    int popped = 0;

    while (f->inflight_n > 0 && f->inflight[f->inflight_head].is_acked) {
        const struct tail_inflight *e = &f->inflight[f->inflight_head];

        f->committed = e->pos_end;
        if (e->is_reset)
            f->resets_pending--;
        f->inflight_head++;
        f->inflight_n--;
        popped = 1;
    }
    if (f->inflight_n == 0)
        f->inflight_head = 0;
    return popped;
}

void tail_commit_push(struct tail_ctx *ctx, struct tail_file *f, uint64_t seq,
                      uint64_t pos_end)
{
    struct tail_inflight e = {.seq = seq, .pos_end = pos_end};

    tail_commit_append(ctx, f, &e);
}

void tail_commit_reset(struct tail_ctx *ctx, struct tail_file *f)
{
    struct tail_inflight e = {.pos_end = 0, .is_acked = 1, .is_reset = 1};

    f->resets_pending++;
    tail_commit_append(ctx, f, &e);
    (void)tail_commit_advance(f); /* applies now if nothing is in flight */
}

int tail_commit_ack(struct tail_file *f, uint64_t seq)
{
    for (size_t i = 0; i < f->inflight_n; i++) {
        struct tail_inflight *e = &f->inflight[f->inflight_head + i];

        if (!e->is_reset && e->seq == seq) {
            e->is_acked = 1;
            return tail_commit_advance(f);
        }
    }
    return 0; /* unknown seq: nothing to commit */
}
