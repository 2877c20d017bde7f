/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_db.h - the state file: committed offsets that survive a restart.
 *
 * Text, one line per followed file, after a "#" header line:
 *
 *   dev ino fp_len fp_hash committed_offset path
 *
 * dev, ino, fp_len and the offset in decimal, fp_hash in 16 hex digits,
 * the path last, with "\\" and "\n" escaped as \\ and \n. It is replaced
 * atomically: written to PATH.tmp, fsynced, renamed over PATH, and the
 * directory fsynced. A corrupt file is logged with its line number and
 * ignored (the input starts fresh); it is never fatal.
 */
#ifndef TAIL_DB_H
#define TAIL_DB_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct tail_ctx;

/* A file as the state file remembers it. */
struct tail_db_entry {
    uint64_t dev;
    uint64_t ino;
    uint32_t fp_len;
    uint64_t fp_hash;
    uint64_t offset;
    char *path; /* owned */
};

/* Entries loaded at start-up that no file has claimed yet. */
struct tail_db {
    struct tail_db_entry *v;
    size_t n;
    size_t cap;
};

/* Checks that the state file's directory exists and is writable, so a bad
 * db path stops start-up instead of failing at every sync. */
int tail_db_check(const char *path, struct lfp_err *err);

/* Loads conf->db into ctx->db. A missing file is a first start; an
 * unreadable or corrupt one is logged and ignored. Thread: init. */
void tail_db_load(struct tail_ctx *ctx);

/* The entry for (dev, ino), or NULL; borrowed until the next change. */
struct tail_db_entry *tail_db_find(struct tail_db *db, uint64_t dev,
                                   uint64_t ino);
/* Whether some entry names path. */
int tail_db_has_path(const struct tail_db *db, const char *path);
/* Removes one entry, freeing its path. */
void tail_db_drop(struct tail_ctx *ctx, struct tail_db_entry *entry);
/* Removes every entry and frees the array. */
void tail_db_clear(struct tail_ctx *ctx);

/* Writes the state file when it is out of date and db_sync_interval has
 * passed since the last write, or always with is_forced. Failures are
 * logged and retried at the next sync. Thread: tail thread or destroy. */
void tail_db_sync(struct tail_ctx *ctx, int is_forced);

#endif
