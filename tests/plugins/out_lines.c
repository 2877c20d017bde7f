/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_lines.c - an external output plugin, built as a shared object the way
 * an operator would build one: it includes only <logferry/plugin.h> and
 * exports lfp_plugin_entry. It appends each record's raw line to `path`.
 * The integration tests load it with [plugin] path.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <logferry/plugin.h>

struct lines_conf {
    char *path;
};

struct lines_ctx {
    const struct lfp_host *host;
    FILE *f;
};

static const struct lfp_option lines_options[] = {
    {.name = "path",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct lines_conf, path),
     .desc = "File the raw lines are appended to."},
    {0},
};

static int lines_init(struct lfp_instance *ins, const struct lfp_host *host,
                      const void *vconf, void **out, struct lfp_err *err)
{
    const struct lines_conf *conf = vconf;
    struct lines_ctx *ctx = host->mem_calloc(1, sizeof(*ctx));

    (void)ins;
    ctx->host = host;
    ctx->f = fopen(conf->path, "a");
    if (!ctx->f) {
        (void)snprintf(err->msg, sizeof(err->msg), "open %s: %s", conf->path,
                       strerror(errno));
        err->rc = LFP_ERR_IO;
        host->mem_free(ctx);
        return LFP_ERR_IO;
    }
    *out = ctx;
    return LFP_OK;
}

static int lines_flush(void *vctx, const struct lfp_chunk *chunk,
                       struct lfp_err *err)
{
    struct lines_ctx *ctx = vctx;

    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        if (fwrite(rec->raw, 1, rec->raw_len, ctx->f) != rec->raw_len ||
            fputc('\n', ctx->f) == EOF) {
            (void)snprintf(err->msg, sizeof(err->msg), "write failed");
            return LFP_FLUSH_RETRY;
        }
    }
    if (fflush(ctx->f) != 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "flush failed");
        return LFP_FLUSH_RETRY;
    }
    return LFP_FLUSH_OK;
}

static void lines_destroy(void *vctx)
{
    struct lines_ctx *ctx = vctx;

    if (!ctx)
        return;
    (void)fclose(ctx->f); /* flushed after every chunk */
    ctx->host->mem_free(ctx);
}

static const struct lfp_output_def lines_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "lines",
    .summary = "Append each record's raw line to a file (example plugin).",
    .options = lines_options,
    .conf_size = sizeof(struct lines_conf),
    .init = lines_init,
    .flush = lines_flush,
    .destroy = lines_destroy,
};

/* The only symbol the loader looks up. */
const struct lfp_plugin_entry lfp_plugin_entry = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_plugin_entry),
    .kind = LFP_KIND_OUTPUT,
    .def = &lines_def,
};
