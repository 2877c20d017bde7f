/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_stdout.c - the `stdout` output: records on standard output, one per
 * line, written per chunk.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <logferry/plugin.h>

#include "file_encode.h"

struct stdout_conf {
    int format;
};

struct stdout_ctx {
    const struct stdout_conf *conf;
    const struct lfp_host *host;
    struct lfp_instance *ins;
    struct file_buf buf;
};

static const struct lfp_option stdout_options[] = {
    {.name = "format",
     .type = LFP_OPT_ENUM,
     .def = "json_lines",
     .enum_values = file_format_names,
     .offset = offsetof(struct stdout_conf, format),
     .desc = "json_lines writes one JSON object per record with @timestamp "
             "in ISO 8601 UTC; raw writes each line as it was read."},
    {0},
};

static int stdout_init(struct lfp_instance *ins, const struct lfp_host *host,
                       const void *conf, void **out, struct lfp_err *err)
{
    struct stdout_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    (void)err;
    ctx->conf = conf;
    ctx->host = host;
    ctx->ins = ins;
    *out = ctx;
    return LFP_OK;
}

static int stdout_flush(void *vctx, const struct lfp_chunk *chunk,
                        struct lfp_err *err)
{
    struct stdout_ctx *ctx = vctx;
    size_t bytes;
    int e;

    e = file_write_chunk(ctx->host, &ctx->buf, STDOUT_FILENO, chunk,
                         ctx->conf->format, &bytes);
    if (e != 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "write stdout: %s",
                       strerror(e));
        err->rc = LFP_ERR_IO;
        /* Nobody reads the pipe any more: retrying cannot succeed. */
        return e == EPIPE ? LFP_FLUSH_ERROR : LFP_FLUSH_RETRY;
    }
    ctx->host->counter_add(ctx->ins, LFP_CNT_BYTES_OUT, bytes);
    return LFP_FLUSH_OK;
}

static void stdout_destroy(void *vctx)
{
    struct stdout_ctx *ctx = vctx;

    if (!ctx)
        return;
    file_buf_free(ctx->host, &ctx->buf);
    ctx->host->mem_free(ctx);
}

const struct lfp_output_def out_stdout_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "stdout",
    .summary = "Print records on standard output as JSON lines.",
    .options = stdout_options,
    .conf_size = sizeof(struct stdout_conf),
    .init = stdout_init,
    .flush = stdout_flush,
    .destroy = stdout_destroy,
};
