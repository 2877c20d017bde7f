/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_file.c - the `file` output: newline-delimited records appended to a
 * file, one write() per chunk.
 *
 * The file is reopened when it was moved or deleted (an external rotation),
 * so records never go to an unlinked inode. A failed write (disk full, I/O
 * error) is a retry: the chunk stays unacknowledged and nothing is lost.
 * A chunk that was partly written before a failure is written again whole
 * on retry: at-least-once, never a gap.
 *
 * Blocks are reserved ahead of the end of a regular file (`preallocate`,
 * fallocate with FALLOC_FL_KEEP_SIZE, so the size only grows with what is
 * written): ext4 then writes into allocated blocks and skips its delayed
 * allocation bookkeeping per page, which took about a third of the kernel
 * time of writing the output. The reservation is a hint: when it fails
 * (disk full, a file system without fallocate) the writes go on as before
 * and report their own errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <logferry/plugin.h>

#include "file_encode.h"

struct file_conf {
    char *path;
    int format;
    int fsync;
    int mkdirs;
    int64_t preallocate;
};

struct file_ctx {
    const struct file_conf *conf;
    const struct lfp_host *host;
    struct lfp_instance *ins;
    int fd;
    dev_t dev;
    ino_t ino;
    off_t size;     /* of the file: at open, then what we wrote */
    off_t reserved; /* blocks are reserved up to here (preallocate) */
    int can_reserve;
    struct file_buf buf;
};

static const struct lfp_option file_options[] = {
    {.name = "path",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct file_conf, path),
     .desc = "File the records are appended to; created if missing."},
    {.name = "format",
     .type = LFP_OPT_ENUM,
     .def = "json_lines",
     .enum_values = file_format_names,
     .offset = offsetof(struct file_conf, format),
     .desc = "json_lines writes one JSON object per record with @timestamp "
             "in ISO 8601 UTC; raw writes each line as it was read."},
    {.name = "fsync",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct file_conf, fsync),
     .desc = "Call fsync() after each chunk before acknowledging it, so "
             "acknowledged records survive a power loss."},
    {.name = "mkdir",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct file_conf, mkdirs),
     .desc = "Create the file's missing parent directories."},
    {.name = "preallocate",
     .type = LFP_OPT_SIZE,
     .def = "8M",
     .min = 0,
     .max = INT64_C(1) << 30,
     .offset = offsetof(struct file_conf, preallocate),
     .desc = "Reserve disk blocks this far past the end of a regular file "
             "(fallocate, keeping the size), so the kernel writes into "
             "allocated blocks, which costs it less; up to this much stays "
             "reserved past the end. 0 turns it off."},
    {0},
};

static int file_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n >= sizeof(tmp))
        return ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    return 0;
}

/* A crash can leave a half-written last line; start on a fresh line so
 * the next record is not glued to it (the torn record was not acked and is
 * written again whole). */
static int file_end_line(struct file_ctx *ctx, const struct stat *st,
                         struct lfp_err *err)
{
    char last;

    if (st->st_size == 0 || !S_ISREG(st->st_mode))
        return LFP_OK;
    if (pread(ctx->fd, &last, 1, st->st_size - 1) == 1 && last == '\n')
        return LFP_OK;
    if (file_write_all(ctx->fd, "\n", 1) == 0)
        return LFP_OK;
    (void)snprintf(err->msg, sizeof(err->msg), "write %s: %s", ctx->conf->path,
                   strerror(errno));
    err->rc = LFP_ERR_IO;
    return LFP_ERR_IO;
}

static int file_open(struct file_ctx *ctx, struct lfp_err *err)
{
    struct stat st;

    if (ctx->fd >= 0)
        (void)close(ctx->fd);
    ctx->fd =
        open(ctx->conf->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (ctx->fd < 0 || fstat(ctx->fd, &st) < 0) {
        int e = errno;
        (void)snprintf(err->msg, sizeof(err->msg), "open %s: %s",
                       ctx->conf->path, strerror(e));
        err->rc = LFP_ERR_IO;
        return LFP_ERR_IO;
    }
    ctx->dev = st.st_dev;
    ctx->ino = st.st_ino;
    ctx->size = st.st_size;
    ctx->reserved = st.st_size;
    ctx->can_reserve = S_ISREG(st.st_mode) && ctx->conf->preallocate > 0;
    return file_end_line(ctx, &st, err);
}

/* Keeps blocks reserved at least half a step past the end. A file system
 * without fallocate turns it off; other failures (ENOSPC) skip it this
 * time. */
static void file_reserve(struct file_ctx *ctx)
{
    off_t step = (off_t)ctx->conf->preallocate;

    if (!ctx->can_reserve || ctx->reserved - ctx->size >= step / 2)
        return;
    if (ctx->reserved < ctx->size)
        ctx->reserved = ctx->size;
    if (fallocate(ctx->fd, FALLOC_FL_KEEP_SIZE, ctx->reserved, step) == 0) {
        ctx->reserved += step;
        return;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL ||
        errno == ENODEV || errno == ESPIPE)
        ctx->can_reserve = 0;
}

static int file_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *conf, void **out, struct lfp_err *err)
{
    struct file_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    ctx->conf = conf;
    ctx->host = host;
    ctx->ins = ins;
    ctx->fd = -1;
    if (ctx->conf->mkdirs && file_mkdirs(ctx->conf->path) != 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "mkdir for %s: %s",
                       ctx->conf->path, strerror(errno));
        err->rc = LFP_ERR_IO;
        host->mem_free(ctx);
        return LFP_ERR_IO;
    }
    if (file_open(ctx, err) != LFP_OK) {
        host->mem_free(ctx);
        return LFP_ERR_IO;
    }
    *out = ctx;
    return LFP_OK;
}

/* Reopens the file if it no longer is the one we hold. */
static int file_check_rotated(struct file_ctx *ctx, struct lfp_err *err)
{
    struct stat st;

    if (ctx->fd >= 0 && stat(ctx->conf->path, &st) == 0 &&
        st.st_dev == ctx->dev && st.st_ino == ctx->ino)
        return LFP_OK;
    return file_open(ctx, err);
}

static int file_flush(void *vctx, const struct lfp_chunk *chunk,
                      struct lfp_err *err)
{
    struct file_ctx *ctx = vctx;
    size_t bytes;
    int e;

    if (file_check_rotated(ctx, err) != LFP_OK)
        return LFP_FLUSH_RETRY;
    file_reserve(ctx);
    e = file_write_chunk(ctx->host, &ctx->buf, ctx->fd, chunk,
                         ctx->conf->format, &bytes);
    ctx->size += (off_t)bytes;
    if (e == 0 && ctx->conf->fsync && fsync(ctx->fd) < 0)
        e = errno;
    if (e != 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "write %s: %s",
                       ctx->conf->path, strerror(e));
        err->rc = LFP_ERR_IO;
        return LFP_FLUSH_RETRY;
    }
    ctx->host->counter_add(ctx->ins, LFP_CNT_BYTES_OUT, bytes);
    return LFP_FLUSH_OK;
}

static void file_destroy(void *vctx)
{
    struct file_ctx *ctx = vctx;

    if (!ctx)
        return;
    if (ctx->fd >= 0)
        (void)close(ctx->fd);
    file_buf_free(ctx->host, &ctx->buf);
    ctx->host->mem_free(ctx);
}

const struct lfp_output_def out_file_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "file",
    .summary = "Append records to a file as JSON lines or raw lines.",
    .options = file_options,
    .conf_size = sizeof(struct file_conf),
    .init = file_init,
    .flush = file_flush,
    .destroy = file_destroy,
};
