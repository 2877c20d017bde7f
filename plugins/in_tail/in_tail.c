/* SPDX-License-Identifier: Apache-2.0 */
/*
 * in_tail.c - the tail input: follows log files matched by glob patterns
 * and emits their lines in chunks, committing offsets on acknowledgement.
 *
 * The input's thread runs tail_run(): rescan the patterns every
 * refresh_interval (sooner on inotify directory events), read every file
 * with new data, close files done after rotation, write the state file,
 * then sleep in poll() on inotify and the stop fd for at most
 * TAIL_WAIT_MS. After a pass that read data and reached the end of every
 * file, it first lets them grow for read_interval, so a busy file is read
 * in large chunks. Acks arrive on other threads (tail_ack) and only touch the
 * in-flight queues under ctx->lock. See tail.h for the offsets kept per
 * file and docs/reference/in_tail.md for the behaviour users see.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tail.h"
#include "tail_commit.h"
#include "tail_file.h"
#include "tail_read.h"
#include "tail_scan.h"
#include "tail_watch.h"

/* Longest sleep between passes: bounds the latency without inotify. */
#define TAIL_WAIT_MS 250

int64_t tail_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int tail_err_vset(struct lfp_err *err, int rc, int errnum,
                         const char *fmt, va_list ap)
{
    size_t len;

    if (!err || (err->rc != LFP_OK && err->msg[0] != '\0'))
        return err ? err->rc : rc;
    err->rc = rc;
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    len = strlen(err->msg);
    if (errnum != 0)
        (void)snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
                       strerror(errnum));
    return rc;
}

int tail_err_set(struct lfp_err *err, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rc = tail_err_vset(err, rc, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int tail_err_errno(struct lfp_err *err, int rc, const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;

    va_start(ap, fmt);
    rc = tail_err_vset(err, rc, errnum, fmt, ap);
    va_end(ap);
    return rc;
}

void tail_files_append(struct tail_ctx *ctx, struct tail_file *f)
{
    pthread_mutex_lock(&ctx->lock);
    if (ctx->nfiles == ctx->files_cap) {
        ctx->files_cap = ctx->files_cap ? ctx->files_cap * 2 : 8;
        ctx->files = ctx->host->mem_realloc(
            ctx->files, ctx->files_cap * sizeof(struct tail_file *));
    }
    ctx->files[ctx->nfiles++] = f;
    ctx->is_dirty = 1;
    pthread_mutex_unlock(&ctx->lock);
}

void tail_files_remove(struct tail_ctx *ctx, size_t i)
{
    pthread_mutex_lock(&ctx->lock);
    memmove(&ctx->files[i], &ctx->files[i + 1],
            (ctx->nfiles - i - 1) * sizeof(struct tail_file *));
    ctx->nfiles--;
    ctx->is_dirty = 1;
    pthread_mutex_unlock(&ctx->lock);
}

/* max_line_size must fit twice in a chunk: the carried line plus room to
 * read behind it. */
static int tail_check_chunk_size(struct lfp_instance *ins,
                                 const struct lfp_host *host,
                                 const struct tail_conf *conf,
                                 struct lfp_err *err)
{
    size_t cap = host->chunk_raw_cap(ins);
    char line[32];
    char need[32];

    if ((uint64_t)conf->max_line_bytes <= cap / 2)
        return LFP_OK;
    tail_conf_fmt_size(conf->max_line_bytes, line, sizeof(line));
    tail_conf_fmt_size(conf->max_line_bytes * 2, need, sizeof(need));
    return tail_err_set(err, LFP_ERR_CONFIG,
                        "max_line_size %s needs chunk_size of at least %s "
                        "in [service]",
                        line, need);
}

static int tail_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *vconf, void **out, struct lfp_err *err)
{
    const struct tail_conf *conf = vconf;
    struct tail_ctx *ctx;

    if (tail_check_chunk_size(ins, host, conf, err) != LFP_OK ||
        (conf->db && tail_db_check(conf->db, err) != LFP_OK))
        return err->rc;
    ctx = host->mem_calloc(1, sizeof(*ctx));
    ctx->ins = ins;
    ctx->host = host;
    ctx->conf = conf;
    ctx->newline_find = tail_newline_finder(0);
    ctx->watch_fd = -1;
    pthread_mutex_init(&ctx->lock, NULL);
    tail_watch_open(ctx);
    if (conf->db)
        tail_db_load(ctx);
    ctx->is_startup = 1;
    tail_scan(ctx);
    ctx->is_startup = 0;
    /* Entries no file claimed describe files gone while we were down. */
    tail_db_clear(ctx);
    ctx->last_sync_ms = tail_now_ms();
    *out = ctx;
    return LFP_OK;
}

/* Reads every file once. Returns 1 if any had data, 0 if none, -1 once
 * the instance must stop. Files rotated away come first in the array
 * (found earlier), so an old file is drained before its successor. */
static int tail_pass(struct tail_ctx *ctx)
{
    int has_read = 0;

    for (size_t i = 0; i < ctx->nfiles; i++) {
        int rc = tail_read_poll(ctx, ctx->files[i]);

        if (rc < 0)
            return -1;
        has_read |= rc;
    }
    return has_read;
}

/* Sleeps until inotify or the stop fd wakes us, or TAIL_WAIT_MS. */
static void tail_wait(struct tail_ctx *ctx)
{
    struct pollfd pfd[2] = {
        {.fd = ctx->host->stop_fd(ctx->ins), .events = POLLIN},
        {.fd = ctx->watch_fd, .events = POLLIN},
    };
    nfds_t n = ctx->watch_fd >= 0 ? 2 : 1;
    int timeout = TAIL_WAIT_MS;

    if (ctx->conf->refresh_interval_ms < timeout)
        timeout = (int)ctx->conf->refresh_interval_ms;
    if (poll(pfd, n, timeout) > 0 && n == 2 && (pfd[1].revents & POLLIN))
        ctx->need_scan |= tail_watch_drain(ctx);
}

/* Whether the last pass read every file to its end. */
static int tail_caught_up(const struct tail_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        if (!ctx->files[i]->is_at_eof)
            return 0;
    return 1;
}

/* read_interval: lets the files grow after a pass that read data and
 * caught up, so the next pass reads more at once. Only the stop fd wakes
 * it early; the writes seen meanwhile wait in the inotify queue. */
static void tail_pause(struct tail_ctx *ctx)
{
    struct pollfd pfd = {.fd = ctx->host->stop_fd(ctx->ins), .events = POLLIN};

    (void)poll(&pfd, 1, (int)ctx->conf->read_interval_ms);
}

/* exit_on_eof: everything was read; emit the incomplete last lines. */
static int tail_finish(struct tail_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nfiles; i++)
        if (tail_read_flush_partial(ctx, ctx->files[i]) < 0)
            return LFP_INPUT_STOPPED;
    TAIL_LOG(ctx, LFP_LOG_INFO, "exit_on_eof: %zu files read to their end",
             ctx->nfiles);
    return LFP_INPUT_DONE;
}

static int tail_run(void *vctx)
{
    struct tail_ctx *ctx = vctx;

    if (ctx->watch_fd >= 0)
        ctx->need_scan |= tail_watch_drain(ctx);
    while (!ctx->host->is_stopping(ctx->ins)) {
        int rc;

        if (ctx->need_scan ||
            tail_now_ms() - ctx->last_scan_ms >= ctx->conf->refresh_interval_ms)
            tail_scan(ctx);
        rc = tail_pass(ctx);
        if (rc < 0 || tail_scan_reap(ctx) < 0)
            return LFP_INPUT_STOPPED;
        tail_db_sync(ctx, 0);
        if (rc == 0 && ctx->conf->exit_on_eof)
            return tail_finish(ctx);
        if (rc == 0)
            tail_wait(ctx);
        else if (ctx->conf->read_interval_ms > 0 && !ctx->conf->exit_on_eof &&
                 tail_caught_up(ctx))
            tail_pause(ctx);
    }
    return LFP_INPUT_STOPPED;
}

static void tail_ack(void *vctx, const struct lfp_chunk *chunk)
{
    struct tail_ctx *ctx = vctx;

    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nfiles; i++) {
        struct tail_file *f = ctx->files[i];

        if (f->slot != chunk->pos_source)
            continue;
        if (tail_commit_ack(f, chunk->pos_seq))
            ctx->is_dirty = 1;
        break;
    }
    /* No file: it was closed after rotation, nothing left to commit. */
    pthread_mutex_unlock(&ctx->lock);
}

static void tail_destroy(void *vctx)
{
    struct tail_ctx *ctx = vctx;

    if (!ctx)
        return;
    tail_db_sync(ctx, 1);
    for (size_t i = 0; i < ctx->nfiles; i++)
        tail_file_free(ctx, ctx->files[i]);
    ctx->host->mem_free(ctx->files);
    tail_db_clear(ctx);
    tail_watch_close(ctx);
    pthread_mutex_destroy(&ctx->lock);
    ctx->host->mem_free(ctx);
}

/* Reports, per followed file, the bytes not yet committed (file size minus
 * the committed offset): how far delivery lags behind the writer.
 * Thread: the HTTP server's; everything read here is under ctx->lock. */
static void tail_stats(void *vctx, lfp_stat_fn emit, void *arg)
{
    struct tail_ctx *ctx = vctx;

    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nfiles; i++) {
        const struct tail_file *f = ctx->files[i];
        struct stat st;
        double lag = 0;
        if (f->fd >= 0 && fstat(f->fd, &st) == 0 &&
            (uint64_t)st.st_size > f->committed)
            lag = (double)((uint64_t)st.st_size - f->committed);
        emit(arg, "tail_lag_bytes",
             "Bytes of a followed file not yet delivered to every output "
             "(file size minus committed offset).",
             "file", f->path, lag);
    }
    pthread_mutex_unlock(&ctx->lock);
}

const struct lfp_input_def in_tail_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_input_def),
    .name = "tail",
    .summary = "Follows log files matched by glob patterns through "
               "rotation; offsets are committed once every output has the "
               "lines.",
    .options = tail_options,
    .conf_size = sizeof(struct tail_conf),
    .validate = tail_conf_validate,
    .init = tail_init,
    .run = tail_run,
    .ack = tail_ack,
    .destroy = tail_destroy,
    .stats = tail_stats,
};
