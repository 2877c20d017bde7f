/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail.h - state shared by the files of the tail input: the instance
 * context and one followed file.
 *
 * Threads: the tail thread (init, run, destroy) owns everything, except the
 * fields marked "under lock", which ack() also touches from output or worker
 * threads. The tail thread takes ctx->lock to change the files array (ack
 * looks files up in it) and to touch fields under lock; it never holds the
 * lock while calling into the host (chunk_get, chunk_emit), because ack may
 * run inside chunk_emit.
 *
 * Offsets of a file, all in bytes from its start:
 *
 *   0 ........ committed ........ line_off ...... read_off ..... size
 *              acked by every     emitted in      read, not yet
 *              output (saved)     chunks          a whole line (carry)
 */
#ifndef TAIL_H
#define TAIL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <logferry/plugin.h>

#include "tail_conf.h"
#include "tail_db.h"
#include "tail_newline.h"

/* Bytes of a file's start hashed into its fingerprint. */
#define TAIL_FP_BYTES 1024

/* Logs through the host, skipping the formatting when the level is off. */
#define TAIL_LOG(ctx, level, ...)                                              \
    do {                                                                       \
        if ((ctx)->host->log_enabled(level))                                   \
            (ctx)->host->log((ctx)->ins, (level), __VA_ARGS__);                \
    } while (0)

/* One chunk of a file handed to the pipeline and not yet committed. */
struct tail_inflight {
    uint64_t seq;
    uint64_t pos_end;
    int is_acked;
    int is_reset; /* marker: the file restarted at 0 (copytruncate) */
};

/* One followed file: an open descriptor and where we are in it. */
struct tail_file {
    char *path; /* the name it was last found under */
    int fd;
    int wd;        /* inotify watch, -1 without */
    uint64_t slot; /* pos_source of its chunks; unique per process */
    dev_t dev;
    ino_t ino;
    uint32_t fp_len; /* bytes hashed into fp_hash */
    uint64_t fp_hash;

    uint64_t read_off; /* next byte to read */
    uint64_t line_off; /* start of the current, incomplete line */
    char *carry;       /* the current line's bytes kept so far */
    size_t carry_len;
    size_t carry_cap;
    int is_skipping; /* line over max_line_size: dropping to its newline */

    int is_seen;    /* matched by the current scan */
    int is_rotated; /* no pattern matches it any more: draining */
    int is_deleted; /* st_nlink == 0 */
    int is_at_eof;  /* read_off reached the size at the last check */
    int64_t last_data_ms;
    uint64_t next_seq;
    uint64_t saved_off; /* snapshot of the commit offset for the state file */

    /* Under lock: chunks in flight, oldest first, and the commit offset. */
    struct tail_inflight *inflight;
    size_t inflight_head;
    size_t inflight_n;
    size_t inflight_cap;
    uint64_t committed;
    int resets_pending; /* reset markers still in inflight */
};

/* One instance of the input. */
struct tail_ctx {
    struct lfp_instance *ins;
    const struct lfp_host *host;
    const struct tail_conf *conf;
    tail_newline_fn newline_find; /* this CPU's fastest */

    pthread_mutex_t lock;
    struct tail_file **files; /* in discovery order; changed under lock */
    size_t nfiles;
    size_t files_cap;
    int is_dirty; /* under lock: the state file is out of date */

    uint64_t next_slot;
    int watch_fd; /* inotify, -1 when polling only */
    int need_scan;
    int is_startup; /* the first scan, in init */
    int64_t last_scan_ms;
    int64_t last_sync_ms;
    struct tail_db db; /* saved entries not yet matched (start-up only) */
};

/* Milliseconds on the monotonic clock. */
int64_t tail_now_ms(void);

/* Fills err with rc and a message unless it already holds one; returns the
 * rc err holds. tail_err_errno appends ": strerror(errno)". */
int tail_err_set(struct lfp_err *err, int rc, const char *fmt, ...)
    LFP_PRINTF(3, 4);
int tail_err_errno(struct lfp_err *err, int rc, const char *fmt, ...)
    LFP_PRINTF(3, 4);

/* Appends f to ctx->files (takes ownership) or removes it (the caller then
 * owns it). Locks: take ctx->lock themselves. Thread: tail thread. */
void tail_files_append(struct tail_ctx *ctx, struct tail_file *f);
void tail_files_remove(struct tail_ctx *ctx, size_t i);

#endif
