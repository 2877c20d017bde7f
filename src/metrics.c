/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c - per-upstream metrics (not configured: every call is a no-op). */
#include "metrics.h"

#include "config.h"

int lf_metrics_new(const struct lfp_kvlist *opts, const char *file, int line,
                   struct lf_metrics **out, struct lfp_err *err)
{
    *out = NULL;
    if (opts->n > 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: unknown key 'metrics.%s'", file, line,
                          opts->keys[0]);
    return LFP_OK;
}

void lf_metrics_free(struct lf_metrics *m)
{
    (void)m;
}

struct lf_metrics_shard *lf_metrics_shard_new(struct lf_metrics *m)
{
    (void)m;
    return NULL;
}

void lf_metrics_shard_free(struct lf_metrics_shard *s)
{
    (void)s;
}

void lf_metrics_observe(struct lf_metrics_shard *s,
                        const struct lfp_chunk *chunk)
{
    (void)s;
    (void)chunk;
}

void lf_metrics_tick(struct lf_metrics *m, int64_t now_ns)
{
    (void)m;
    (void)now_ns;
}

const struct lfp_input_def *lf_metrics_input_def(const struct lf_metrics *m)
{
    (void)m;
    return NULL;
}

const char *lf_metrics_input_tag(const struct lf_metrics *m)
{
    (void)m;
    return "metrics.upstream";
}
