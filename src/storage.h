/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h - one output's disk buffer: a folder of chunk files, a FIFO.
 *
 *   <storage.path>/<output>/0000000000000007.lfc   one chunk per file
 *                          /0000000000000008.lfc   (names: a sequence)
 *                          /corrupt/...            set aside, never read
 *
 * A file is written as <id>.tmp, fsync'ed, renamed to <id>.lfc and the
 * folder fsync'ed: a .lfc file is always whole, so once lf_storage_put()
 * returns the chunk may be acknowledged to its input. Leftover .tmp files
 * (a crash mid-write, before any ack) are removed at open. The format of a
 * file is in storage_codec.h.
 *
 * Ids start at 2^32 in a new folder, so that a chunk can be queued before
 * the oldest one (lf_storage_put_front) with a smaller id.
 *
 * Thread: the spill side (put) and the send side (put_front, head, load,
 * drop, set_aside) run on different threads; an internal lock guards the
 * queue.
 * File I/O is done outside the lock.
 */
#ifndef LF_STORAGE_H
#define LF_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_storage; /* opaque */

/* Opens (creating it and its parents) the folder dir and queues the chunk
 * files found there, oldest first. Files too short to hold a header are
 * set aside at once. Caller frees with lf_storage_free(). */
int lf_storage_open(const char *dir, const char *label, struct lf_storage **out,
                    struct lfp_err *err) LF_MUST_CHECK;
void lf_storage_free(struct lf_storage *st); /* NULL is a no-op */

/* is_full 1 (the default): fsync each file and the folder before a put
 * returns, so an acknowledged chunk survives a power loss. 0: no fsync;
 * the rename still makes files whole, which survives a crash of the
 * process but not of the machine. */
void lf_storage_set_sync(struct lf_storage *st, int is_full);
/* Writes one file image (lf_storage_encode) durably and queues it.
 * LFP_ERR_IO with the reason (disk full, I/O error): nothing is queued. */
int lf_storage_put(struct lf_storage *st, const void *data, size_t len,
                   struct lfp_err *err) LF_MUST_CHECK;
/* Like lf_storage_put, but queues the chunk before every other: for a
 * chunk older than all on disk (the one the sender was retrying). */
int lf_storage_put_front(struct lf_storage *st, const void *data, size_t len,
                         struct lfp_err *err) LF_MUST_CHECK;
/* The oldest queued chunk: 1 and its id, or 0 when the queue is empty. */
int lf_storage_head(struct lf_storage *st, uint64_t *id);
/* Reads file id whole into *buf (grown as needed; caller frees it with
 * lf_free()). LFP_ERR_IO when it cannot be read. */
int lf_storage_load(struct lf_storage *st, uint64_t id, char **buf, size_t *cap,
                    size_t *len, struct lfp_err *err) LF_MUST_CHECK;
/* The head chunk id was delivered (or dead-lettered): deletes its file. */
void lf_storage_drop(struct lf_storage *st, uint64_t id);
/* The head chunk id is corrupt: moves its file to corrupt/, logs why and
 * counts it. */
void lf_storage_set_aside(struct lf_storage *st, uint64_t id, const char *why);

/* Chunks and bytes queued; files set aside since open. Thread: any. */
size_t lf_storage_count(struct lf_storage *st);
uint64_t lf_storage_bytes(struct lf_storage *st);
uint64_t lf_storage_corrupt(struct lf_storage *st);

#endif
