/* SPDX-License-Identifier: Apache-2.0 */
/*
 * out_null.c - the `null` output: acknowledges every chunk and keeps
 * nothing. For benchmarks and for measuring the pipeline without a sink.
 */
#include <stddef.h>

#include <logferry/plugin.h>

static int null_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *conf, void **out, struct lfp_err *err)
{
    (void)ins;
    (void)host;
    (void)conf;
    (void)err;
    *out = NULL;
    return LFP_OK;
}

static int null_flush(void *ctx, const struct lfp_chunk *chunk,
                      struct lfp_err *err)
{
    (void)ctx;
    (void)chunk;
    (void)err;
    return LFP_FLUSH_OK;
}

static const struct lfp_option null_options[] = {{0}};

const struct lfp_output_def out_null_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "null",
    .summary = "Discard records (acknowledges them); for benchmarks.",
    .options = null_options,
    .conf_size = 0,
    .init = null_init,
    .flush = null_flush,
};
