/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_stats.h - logferry's own metrics in the Prometheus text format:
 * records in/out/dropped per plugin instance, parse errors, retries,
 * chunks in flight, queues and the chunk pool.
 */
#ifndef LF_ENGINE_STATS_H
#define LF_ENGINE_STATS_H

struct lf_engine;
struct lf_mbuf;

/* Appends the engine's metric families to out. Reads counters (relaxed
 * atomics) and takes the pool and output queue locks for a moment; never
 * blocks the pipeline. Thread: any (the HTTP server). */
void lf_engine_stats_render(struct lf_engine *e, struct lf_mbuf *out);

#endif
