/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - per-upstream request metrics aggregated on the hot path.
 *
 * Workers observe each chunk into their own shard after filters (no lock on
 * the per-line path); readers (the /metrics endpoint, the metric-records
 * input) merge the shards on demand. Configured by the [service] keys
 * `metrics.*` (prefix removed before lf_metrics_new sees them).
 * See docs/metrics.md.
 */
#ifndef LF_METRICS_H
#define LF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_mbuf;
struct lf_metrics;       /* the aggregator, shared */
struct lf_metrics_shard; /* one per worker */

/* Builds the aggregator from the [service] metrics.* options (prefix
 * removed). `file`/`line` locate the [service] section for messages.
 * Returns LFP_OK with *out NULL when metrics are disabled. */
int lf_metrics_new(const struct lfp_kvlist *opts, const char *file, int line,
                   struct lf_metrics **out, struct lfp_err *err) LF_MUST_CHECK;
void lf_metrics_free(struct lf_metrics *m); /* NULL is a no-op */

/* Per-worker shard. Thread: created at start-up, used by one worker. */
struct lf_metrics_shard *lf_metrics_shard_new(struct lf_metrics *m);
void lf_metrics_shard_free(struct lf_metrics_shard *s);
/* Adds the chunk's live records (not LFP_REC_DROPPED) when its tag is
 * counted. Thread: a worker. */
void lf_metrics_observe(struct lf_metrics_shard *s,
                        const struct lfp_chunk *chunk);
/* Whether chunks of this tag are counted: metrics.match takes it and it
 * is not the tag of metric records. */
int lf_metrics_counts_tag(const struct lf_metrics *m, const char *tag);
/* lf_metrics_observe without the tag check, for a caller that made it
 * once for many chunks or runs of a chunk's records (the engine's
 * workers). Thread: a worker. */
void lf_metrics_observe_records(struct lf_metrics_shard *s,
                                const struct lfp_chunk *chunk);

/* Rolls windows, drops idle series. Thread: the engine's main loop, about
 * once a second. */
void lf_metrics_tick(struct lf_metrics *m, int64_t now_ns);

/* Appends the upstream metric families in the Prometheus text format
 * 0.0.4 to out, after merging every shard. Thread: any (the HTTP server). */
void lf_metrics_render(struct lf_metrics *m, int64_t now_ns,
                       struct lf_mbuf *out);

/* The metrics.* option table (names without the prefix), for the docs. */
const struct lfp_option *lf_metrics_options(void);

/* The input that emits metric records into the pipeline, or NULL when
 * metric records are off; its tag. */
const struct lfp_input_def *lf_metrics_input_def(const struct lf_metrics *m);
const char *lf_metrics_input_tag(const struct lf_metrics *m);

#endif
