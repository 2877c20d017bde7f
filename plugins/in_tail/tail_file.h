/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_file.h - opening a followed file and knowing which file it is.
 *
 * A file is (st_dev, st_ino) plus a fingerprint: a 64-bit FNV-1a hash of
 * its first min(size, 1024) bytes and of that length. An inode reused for
 * other content has another fingerprint, so it is a new file.
 * Thread: tail thread.
 */
#ifndef TAIL_FILE_H
#define TAIL_FILE_H

#include <stdint.h>

#include "tail.h"

/* Opens path read-only and fingerprints it. On success *out is a new file
 * at offset 0, not yet in ctx->files; the caller owns it (tail_file_free).
 * Fails on open errors and on anything but a regular file. */
int tail_file_open(struct tail_ctx *ctx, const char *path,
                   struct tail_file **out, struct lfp_err *err);
/* Closes the descriptor and watch and frees f. NULL is a no-op. */
void tail_file_free(struct tail_ctx *ctx, struct tail_file *f);

/* Recomputes f's fingerprint over its first min(size, 1024) bytes. */
void tail_file_fingerprint(struct tail_file *f, uint64_t size);
/* Whether f's first fp_len bytes hash to fp_hash (a saved fingerprint). */
int tail_file_matches(const struct tail_file *f, uint32_t fp_len,
                      uint64_t fp_hash);

#endif
