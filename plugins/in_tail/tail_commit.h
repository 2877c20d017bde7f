/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_commit.h - committing a file's offset only over acknowledged chunks.
 *
 * Each file keeps its chunks in flight in emit order. Acks may come out of
 * order (outputs differ in speed); the commit offset advances only over
 * the acknowledged prefix, so it never passes a line some output still
 * owes:
 *
 *   inflight: [seq 7 acked][seq 8 waiting][seq 9 acked]
 *   committed = pos_end of seq 7; acking 8 moves it to pos_end of 9.
 *
 * Locks: the caller holds ctx->lock for every function here.
 */
#ifndef TAIL_COMMIT_H
#define TAIL_COMMIT_H

#include <stdint.h>

#include "tail.h"

/* Records a chunk about to be emitted. */
void tail_commit_push(struct tail_ctx *ctx, struct tail_file *f, uint64_t seq,
                      uint64_t pos_end);
/* Records that the file restarted at offset 0: once every older chunk is
 * acknowledged the commit offset drops to 0. */
void tail_commit_reset(struct tail_ctx *ctx, struct tail_file *f);
/* Marks chunk seq acknowledged; returns 1 if the saved state changed. */
int tail_commit_ack(struct tail_file *f, uint64_t seq);

#endif
