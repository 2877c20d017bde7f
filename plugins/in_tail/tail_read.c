/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_read.c - from file bytes to chunks of lines.
 *
 * Layout of a chunk's raw buffer while it fills:
 *
 *   0             line_start             fill               cap
 *   | whole lines  | current line (no \n) | free: next read  |
 *
 * Bytes dropped from an over-long line stay behind as an unused gap: the
 * records point at their own bytes, so nothing needs to be moved. Since
 * max_line_size is at most half the chunk, a full chunk always holds at
 * least one whole line and the current line always fits in the next one.
 */
#include "tail_read.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tail_commit.h"
#include "tail_file.h"

/* Chunks one file may fill in a pass before the others get their turn. */
#define TAIL_CHUNKS_PER_PASS 4

struct tail_cursor {
    struct lfp_chunk *chunk;
    char *raw;
    size_t cap;
    size_t fill;       /* bytes of raw in use */
    size_t line_start; /* start of the current line in raw */
};

/* What is kept of the line line[0, len): a trailing '\r' goes (unless
 * the line was already cut), and past max it is cut, which sets
 * LFP_REC_TRUNCATED in *flags. */
static inline size_t tail_line_keep(const char *line, size_t len, size_t max,
                                    uint32_t *flags)
{
    if (!(*flags & LFP_REC_TRUNCATED) && len > 0 && line[len - 1] == '\r')
        len--;
    if (len > max) {
        len = max;
        *flags |= LFP_REC_TRUNCATED;
    }
    return len;
}

/* Adds raw[off, off+len) as a record: a trailing '\r' goes, a line over
 * max_line_size is cut and counted. */
static void tail_read_add(struct tail_ctx *ctx, struct lfp_chunk *c,
                          const char *raw, size_t off, size_t len,
                          uint32_t flags)
{
    len = tail_line_keep(raw + off, len, (size_t)ctx->conf->max_line_bytes,
                         &flags);
    if (flags & LFP_REC_TRUNCATED)
        ctx->host->counter_add(ctx->ins, LFP_CNT_TRUNCATED, 1);
    ctx->host->chunk_add_line(c, (uint32_t)off, (uint32_t)len, flags);
}

/* Adds a record for each newline at[0, n) (offsets from raw[from]): the
 * line from cur->line_start to it, a trailing '\r' removed, cut at
 * max_line_size. The first ends a long line being skipped, if any: its
 * kept part, whose rest was never stored, is emitted cut. */
static void tail_read_lines(struct tail_ctx *ctx, struct tail_file *f,
                            struct tail_cursor *cur, size_t from,
                            const uint32_t *at, uint32_t n)
{
    struct lfp_record *rec = ctx->host->chunk_add_records(cur->chunk, n);
    size_t max = (size_t)ctx->conf->max_line_bytes;
    const char *raw = cur->raw;
    size_t line_start = cur->line_start;
    uint64_t truncated = 0;
    uint32_t i = 0;

    if (f->is_skipping) {
        lfp_record_set_line(&rec[0], raw + line_start, (uint32_t)max,
                            LFP_REC_TRUNCATED);
        truncated++;
        f->is_skipping = 0;
        line_start = from + at[0] + 1;
        i = 1;
    }
    for (; i < n; i++) {
        size_t nl = from + at[i];
        uint32_t flags = 0;
        size_t len =
            tail_line_keep(raw + line_start, nl - line_start, max, &flags);

        truncated += flags != 0;
        lfp_record_set_line(&rec[i], raw + line_start, (uint32_t)len, flags);
        line_start = nl + 1;
    }
    if (truncated)
        ctx->host->counter_add(ctx->ins, LFP_CNT_TRUNCATED, truncated);
    cur->line_start = line_start;
}

/* Splits the got bytes just read at raw[cur->fill] into records. */
static void tail_read_split(struct tail_ctx *ctx, struct tail_file *f,
                            struct tail_cursor *cur, size_t got)
{
    size_t max = (size_t)ctx->conf->max_line_bytes;
    size_t start = cur->fill;
    size_t end = start + got;
    uint64_t base = f->read_off - got; /* file offset of raw[start] */
    uint32_t at[TAIL_NEWLINE_MAX];
    size_t p = start;

    while (p < end) {
        size_t done;
        uint32_t n = ctx->newline_find(cur->raw + p, end - p, at, &done);

        if (n > 0)
            tail_read_lines(ctx, f, cur, p, at, n);
        p += done;
    }
    if (cur->line_start > start)
        f->line_off = base + (cur->line_start - start);
    if (f->is_skipping) {
        end = start; /* still inside the long line: drop what we read */
    } else if (end - cur->line_start > max + 1) {
        /* One byte of slack so "max bytes + \r\n" is not cut. */
        f->is_skipping = 1;
        end = cur->line_start + max;
    }
    cur->fill = end;
}

/* Keeps the current line for the next chunk. */
static void tail_read_carry(struct tail_ctx *ctx, struct tail_file *f,
                            const struct tail_cursor *cur)
{
    size_t len = cur->fill - cur->line_start;

    if (len > f->carry_cap) {
        f->carry_cap = (size_t)ctx->conf->max_line_bytes + 1;
        f->carry = ctx->host->mem_realloc(f->carry, f->carry_cap);
    }
    if (len > 0)
        memcpy(f->carry, cur->raw + cur->line_start, len);
    f->carry_len = len;
}

/* Reads f into c until c is full or f has nothing more now. Returns the
 * bytes read. */
static size_t tail_read_fill(struct tail_ctx *ctx, struct tail_file *f,
                             struct lfp_chunk *c)
{
    struct tail_cursor cur = {0};
    size_t total = 0;

    cur.chunk = c;
    cur.raw = ctx->host->chunk_raw(c, &cur.cap);
    if (f->carry_len > 0)
        memcpy(cur.raw, f->carry, f->carry_len);
    cur.fill = f->carry_len;
    while (cur.fill < cur.cap) {
        ssize_t n = pread(f->fd, cur.raw + cur.fill, cur.cap - cur.fill,
                          (off_t)f->read_off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            TAIL_LOG(ctx, LFP_LOG_WARN, "read %s: %s", f->path,
                     strerror(errno));
        if (n <= 0)
            break;
        f->read_off += (uint64_t)n;
        total += (size_t)n;
        tail_read_split(ctx, f, &cur, (size_t)n);
    }
    tail_read_carry(ctx, f, &cur);
    return total;
}

/* Hands c, holding f's lines from pos_begin on, to the pipeline. The
 * in-flight entry goes first: the ack may come before chunk_emit returns. */
static void tail_read_emit(struct tail_ctx *ctx, struct tail_file *f,
                           struct lfp_chunk *c, uint64_t pos_begin)
{
    c->pos_source = f->slot;
    c->pos_begin = pos_begin;
    c->pos_end = f->line_off;
    c->pos_seq = f->next_seq++;
    pthread_mutex_lock(&ctx->lock);
    tail_commit_push(ctx, f, c->pos_seq, c->pos_end);
    pthread_mutex_unlock(&ctx->lock);
    ctx->host->counter_add(ctx->ins, LFP_CNT_RECORDS_IN, c->nrecords);
    ctx->host->chunk_emit(ctx->ins, c);
}

/* Fills and emits one chunk. Returns 1 if bytes were read, 0 if not, -1
 * once the instance must stop. */
static int tail_read_chunk(struct tail_ctx *ctx, struct tail_file *f)
{
    struct lfp_chunk *c = ctx->host->chunk_get(ctx->ins);
    uint64_t pos_begin = f->line_off;
    size_t got;

    if (!c)
        return -1;
    got = tail_read_fill(ctx, f, c);
    if (got > 0) {
        ctx->host->counter_add(ctx->ins, LFP_CNT_BYTES_IN, got);
        f->last_data_ms = tail_now_ms();
        if (f->fp_len < TAIL_FP_BYTES)
            tail_file_fingerprint(f, f->read_off);
    }
    if (c->nrecords > 0)
        tail_read_emit(ctx, f, c, pos_begin);
    else
        ctx->host->chunk_put(ctx->ins, c);
    return got > 0;
}

int tail_read_flush_partial(struct tail_ctx *ctx, struct tail_file *f)
{
    uint64_t pos_begin = f->line_off;
    struct lfp_chunk *c;
    size_t cap;
    char *raw;

    if (f->carry_len == 0)
        return 0;
    c = ctx->host->chunk_get(ctx->ins);
    if (!c)
        return -1;
    raw = ctx->host->chunk_raw(c, &cap);
    memcpy(raw, f->carry, f->carry_len);
    tail_read_add(ctx, c, raw, 0, f->carry_len,
                  LFP_REC_PARTIAL | (f->is_skipping ? LFP_REC_TRUNCATED : 0));
    f->line_off = f->read_off;
    f->carry_len = 0;
    f->is_skipping = 0;
    tail_read_emit(ctx, f, c, pos_begin);
    return 0;
}

/* The file is shorter than what we read: it was truncated in place
 * (copytruncate). Restart at 0. Returns -1 once the instance must stop. */
static int tail_read_truncated(struct tail_ctx *ctx, struct tail_file *f,
                               uint64_t size)
{
    TAIL_LOG(ctx, LFP_LOG_INFO,
             "%s: truncated to %llu bytes, below offset %llu: reading from "
             "the start",
             f->path, (unsigned long long)size,
             (unsigned long long)f->read_off);
    ctx->host->counter_add(ctx->ins, LFP_CNT_ROTATIONS, 1);
    if (tail_read_flush_partial(ctx, f) < 0)
        return -1;
    f->read_off = f->line_off = 0;
    tail_file_fingerprint(f, size);
    pthread_mutex_lock(&ctx->lock);
    tail_commit_reset(ctx, f);
    ctx->is_dirty = 1;
    pthread_mutex_unlock(&ctx->lock);
    return 0;
}

int tail_read_poll(struct tail_ctx *ctx, struct tail_file *f)
{
    int has_read = 0;

    for (int i = 0; i < TAIL_CHUNKS_PER_PASS; i++) {
        struct stat st;
        int rc;

        if (fstat(f->fd, &st) != 0) {
            TAIL_LOG(ctx, LFP_LOG_WARN, "stat %s: %s", f->path,
                     strerror(errno));
            break;
        }
        f->is_deleted = st.st_nlink == 0;
        if ((uint64_t)st.st_size < f->read_off &&
            tail_read_truncated(ctx, f, (uint64_t)st.st_size) < 0)
            return -1;
        f->is_at_eof = (uint64_t)st.st_size <= f->read_off;
        if (f->is_at_eof)
            break;
        rc = tail_read_chunk(ctx, f);
        if (rc <= 0)
            return rc < 0 ? -1 : has_read;
        has_read = 1;
    }
    return has_read;
}
