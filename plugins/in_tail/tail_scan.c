/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_scan.c - globbing the path patterns and the life of each file:
 * found, followed, rotated away, closed.
 */
#include "tail_scan.h"

#include <fnmatch.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

#include "tail_file.h"
#include "tail_read.h"
#include "tail_watch.h"

static struct tail_file *tail_scan_find(struct tail_ctx *ctx, dev_t dev,
                                        ino_t ino)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        if (ctx->files[i]->dev == dev && ctx->files[i]->ino == ino)
            return ctx->files[i];
    return NULL;
}

/* exclude_path patterns are tried on the full path and on the name. */
static int tail_scan_is_excluded(const struct tail_ctx *ctx, const char *path)
{
    const char *name = strrchr(path, '/');

    name = name ? name + 1 : path;
    for (size_t i = 0; i < ctx->conf->exclude_path.n; i++) {
        const char *pat = ctx->conf->exclude_path.items[i];

        if (fnmatch(pat, path, FNM_PATHNAME) == 0 || fnmatch(pat, name, 0) == 0)
            return 1;
    }
    return 0;
}

/* Whether path still names f's inode. */
static int tail_scan_names(const char *path, const struct tail_file *f)
{
    struct stat st;

    return stat(path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino;
}

/* A known file matched again, maybe under a new name. */
static void tail_scan_seen(struct tail_ctx *ctx, struct tail_file *f,
                           const char *path)
{
    f->is_seen = 1;
    f->is_rotated = 0;
    if (strcmp(f->path, path) == 0 || tail_scan_names(f->path, f))
        return;
    TAIL_LOG(ctx, LFP_LOG_INFO, "%s: renamed to %s, still followed", f->path,
             path);
    {
        char *copy = ctx->host->mem_strdup(path);
        char *old;
        /* The stats callback reads path under the lock. */
        pthread_mutex_lock(&ctx->lock);
        old = f->path;
        f->path = copy;
        pthread_mutex_unlock(&ctx->lock);
        ctx->host->mem_free(old);
    }
}

/* Where a newly found file starts: its saved offset if the state file
 * knows it, else its start, or its end for files present at start-up
 * without read_from_head. */
static uint64_t tail_scan_start(struct tail_ctx *ctx, const struct tail_file *f,
                                uint64_t size)
{
    struct tail_db_entry *e = tail_db_find(&ctx->db, f->dev, f->ino);
    uint64_t off = 0;

    if (e) {
        if (!tail_file_matches(f, e->fp_len, e->fp_hash))
            TAIL_LOG(ctx, LFP_LOG_INFO,
                     "%s: its inode held another file when the state was "
                     "saved: reading from the start",
                     f->path);
        else if (e->offset > size)
            TAIL_LOG(ctx, LFP_LOG_INFO,
                     "%s: shorter than its saved offset %llu: reading from "
                     "the start",
                     f->path, (unsigned long long)e->offset);
        else
            off = e->offset;
        tail_db_drop(ctx, e);
        return off;
    }
    if (!ctx->is_startup)
        return 0;
    if (tail_db_has_path(&ctx->db, f->path)) {
        TAIL_LOG(ctx, LFP_LOG_INFO,
                 "%s: replaced since the state was saved: reading from the "
                 "start",
                 f->path);
        return 0;
    }
    return ctx->conf->read_from_head ? 0 : size;
}

/* Opens a file no one follows yet. */
static void tail_scan_add(struct tail_ctx *ctx, const char *path)
{
    struct lfp_err err = {0};
    struct tail_file *f;
    struct tail_file *known;
    struct stat st;

    if (tail_file_open(ctx, path, &f, &err) != LFP_OK) {
        TAIL_LOG(ctx, LFP_LOG_WARN, "%s", err.msg);
        return;
    }
    known = tail_scan_find(ctx, f->dev, f->ino);
    if (known || fstat(f->fd, &st) != 0) {
        /* Renamed between stat and open, or unusable: try next scan. */
        if (known)
            tail_scan_seen(ctx, known, path);
        tail_file_free(ctx, f);
        return;
    }
    f->read_off = f->line_off = f->committed =
        tail_scan_start(ctx, f, (uint64_t)st.st_size);
    f->is_seen = 1;
    tail_files_append(ctx, f);
    tail_watch_file(ctx, f);
    TAIL_LOG(ctx, LFP_LOG_INFO, "following %s from offset %llu", f->path,
             (unsigned long long)f->read_off);
}

static void tail_scan_path(struct tail_ctx *ctx, const char *path)
{
    struct tail_file *f;
    struct stat st;

    if (tail_scan_is_excluded(ctx, path))
        return;
    /* Gone since glob() saw it, or not a file: nothing to follow. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    f = tail_scan_find(ctx, st.st_dev, st.st_ino);
    if (f)
        tail_scan_seen(ctx, f, path);
    else
        tail_scan_add(ctx, path);
}

/* Returns 0, or -1 if the pattern could not be fully expanded. */
static int tail_scan_pattern(struct tail_ctx *ctx, const char *pat)
{
    glob_t g;
    int rc = glob(pat, GLOB_BRACE, NULL, &g);

    if (rc == GLOB_NOMATCH)
        return 0;
    if (rc != 0) {
        TAIL_LOG(ctx, LFP_LOG_WARN, "path %s: expansion failed (glob %d)", pat,
                 rc);
        globfree(&g);
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        tail_scan_path(ctx, g.gl_pathv[i]);
    globfree(&g);
    return 0;
}

/* Known files no pattern matched in a complete scan were rotated away. */
static void tail_scan_mark_rotated(struct tail_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nfiles; i++) {
        struct tail_file *f = ctx->files[i];

        if (f->is_seen || f->is_rotated)
            continue;
        f->is_rotated = 1;
        f->last_data_ms = tail_now_ms();
        ctx->host->counter_add(ctx->ins, LFP_CNT_ROTATIONS, 1);
        TAIL_LOG(ctx, LFP_LOG_INFO,
                 "%s: rotated away, reading it to its end before closing it",
                 f->path);
    }
}

void tail_scan(struct tail_ctx *ctx)
{
    int is_complete = 1;

    /* Watch first: a file created during the glob still wakes us. */
    tail_watch_dirs(ctx);
    for (size_t i = 0; i < ctx->nfiles; i++)
        ctx->files[i]->is_seen = 0;
    for (size_t i = 0; i < ctx->conf->path.n; i++)
        if (tail_scan_pattern(ctx, ctx->conf->path.items[i]) != 0)
            is_complete = 0;
    if (is_complete)
        tail_scan_mark_rotated(ctx);
    ctx->last_scan_ms = tail_now_ms();
    ctx->need_scan = 0;
}

/* Whether f can be closed for good: read to its end, and deleted, or
 * rotated away with no new data for rotate_wait. */
static int tail_scan_is_done(const struct tail_ctx *ctx,
                             const struct tail_file *f, int64_t now)
{
    if (!f->is_at_eof)
        return 0;
    if (f->is_deleted)
        return 1;
    return f->is_rotated && now - f->last_data_ms >= ctx->conf->rotate_wait_ms;
}

int tail_scan_reap(struct tail_ctx *ctx)
{
    size_t i = 0;

    while (i < ctx->nfiles) {
        struct tail_file *f = ctx->files[i];
        int rc;

        if (!tail_scan_is_done(ctx, f, tail_now_ms())) {
            i++;
            continue;
        }
        /* Drain what came since the last pass before letting go. */
        rc = tail_read_poll(ctx, f);
        if (rc < 0 || (rc == 0 && tail_read_flush_partial(ctx, f) < 0))
            return -1;
        if (rc > 0) {
            i++;
            continue;
        }
        if (!f->is_rotated) /* deleted before a rescan saw it go */
            ctx->host->counter_add(ctx->ins, LFP_CNT_ROTATIONS, 1);
        TAIL_LOG(ctx, LFP_LOG_INFO, "%s: %s, closing it", f->path,
                 f->is_deleted ? "deleted and read to its end"
                               : "rotated away and idle");
        tail_files_remove(ctx, i);
        tail_file_free(ctx, f);
    }
    return 0;
}
