/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_watch.h - inotify wake-ups for the tail loop.
 *
 * Only a latency aid: the loop also rescans every refresh_interval and
 * checks every open file each pass, so without inotify (or on file systems
 * that send no events, like NFS) nothing is missed, only seen later.
 * Thread: tail thread.
 */
#ifndef TAIL_WATCH_H
#define TAIL_WATCH_H

#include "tail.h"

/* Opens ctx->watch_fd; on failure logs once and leaves it -1 (polling). */
void tail_watch_open(struct tail_ctx *ctx);
void tail_watch_close(struct tail_ctx *ctx);
/* (Re)adds watches on the directories of the path patterns, for files
 * appearing or going. Directories that do not exist yet are retried at
 * the next scan. */
void tail_watch_dirs(struct tail_ctx *ctx);
/* Watches f's inode (not its name) for new data. */
void tail_watch_file(struct tail_ctx *ctx, struct tail_file *f);
/* Drops f's watch, if any. */
void tail_watch_forget(struct tail_ctx *ctx, struct tail_file *f);
/* Reads pending events; returns 1 if one calls for a rescan. */
int tail_watch_drain(struct tail_ctx *ctx);

#endif
