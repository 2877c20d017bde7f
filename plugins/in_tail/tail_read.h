/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_read.h - reading a file into chunks, one record per line.
 *
 * Bytes are read straight into a chunk's raw buffer and split on '\n'.
 * The last, incomplete line is kept in the file's carry buffer and copied
 * to the front of the next chunk, so a line is emitted only once its
 * newline arrived. A line over max_line_size keeps its first max_line_size
 * bytes; the rest is dropped up to the newline, then the line is emitted
 * marked truncated, so no chunk ever ends in the middle of a line.
 * Thread: tail thread.
 */
#ifndef TAIL_READ_H
#define TAIL_READ_H

#include "tail.h"

/* Reads what f holds now, up to a few chunks, and emits its whole lines.
 * Detects truncation (copytruncate: restart at 0) and deletion. Returns 1
 * if it read data, 0 if not, -1 once the instance must stop. */
int tail_read_poll(struct tail_ctx *ctx, struct tail_file *f);

/* Emits the carried, incomplete line marked partial (end of a one-shot
 * run, or a file closed for good). Returns 0, or -1 once the instance
 * must stop. */
int tail_read_flush_partial(struct tail_ctx *ctx, struct tail_file *f);

#endif
