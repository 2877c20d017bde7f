/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_scan.h - finding files: globbing the patterns, telling new files
 * from known ones, noticing rotation, and closing files for good.
 *
 * A file is known by (dev, ino), not by name: a known file found under a
 * new name that still matches a pattern is simply followed there. A known
 * file that no pattern matches any more was rotated away (renamed or
 * deleted): it is drained, kept rotate_wait after its last data, then
 * closed. A new inode at a known name is a new file, read from its start.
 * Thread: tail thread (init for the first scan).
 */
#ifndef TAIL_SCAN_H
#define TAIL_SCAN_H

#include "tail.h"

/* Globs every pattern, opens new files, marks rotated ones. On the first
 * scan (ctx->is_startup) start offsets come from the state file or from
 * read_from_head. Never emits. */
void tail_scan(struct tail_ctx *ctx);

/* Closes files that are done: rotated away and idle for rotate_wait, or
 * deleted, once read to their end. Their incomplete last line is emitted
 * as partial first. Returns 0, or -1 once the instance must stop. */
int tail_scan_reap(struct tail_ctx *ctx);

#endif
