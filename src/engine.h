/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the pipeline: inputs -> workers (parse, filter) -> router ->
 * output queues, and acknowledgements back to the inputs.
 *
 *   input thread --chunk_emit--> work queue --> worker pool (parse, filter)
 *        ^                                           |
 *        |                          in-order router (by emit sequence)
 *        |                                           v
 *        +--- ack (last output) <-- output threads <-- one queue per output
 *
 * Chunks come from one bounded pool (service chunk_size x max_chunks), so
 * memory is bounded and a slow output pushes back on the inputs: a tail
 * simply stops reading. Routing follows emit order, so every output sees
 * chunks (and records) in the order the inputs read them. A chunk goes back
 * to its input's ack callback only when every matching output reported OK.
 * See docs/internals/pipeline.md.
 */
#ifndef LF_ENGINE_H
#define LF_ENGINE_H

#include <stddef.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_config;
struct lf_engine;

/* Builds every parser and plugin instance from conf and checks it all
 * (nothing starts). Errors are "file:line: message". Caller frees with
 * lf_engine_free(). */
int lf_engine_new(const struct lf_config *conf, struct lf_engine **out,
                  struct lfp_err *err) LF_MUST_CHECK;
/* Runs until every input is done and drained, or lf_engine_stop() plus the
 * grace period. Returns the process exit code (0 ok, 2 runtime failure). */
int lf_engine_run(struct lf_engine *e);
/* Asks the engine to re-read its configuration (SIGHUP, POST
 * /api/v1/reload). Async-signal-safe. An invalid new configuration is
 * refused with its error (logged) and the running pipeline goes on; a
 * valid one makes lf_engine_run() drain, stop and return, and
 * lf_engine_take_next() hands over the engine built from it. */
void lf_engine_request_reload(struct lf_engine *e);
/* The file a reload re-reads (copied); NULL: the embedded default. */
void lf_engine_set_config_path(struct lf_engine *e, const char *path);
/* After lf_engine_run() returned: the engine to run next (a reload), or
 * NULL. The caller owns it and *conf, the configuration it was built
 * from (keep it to fall back on if the new engine fails to start). NULL
 * also when a stop was requested during the hand-over. */
struct lf_engine *lf_engine_take_next(struct lf_engine *e,
                                      struct lf_config **conf);
/* Whether lf_engine_run() got every plugin and output started. */
int lf_engine_was_started(const struct lf_engine *e);
/* Asks the engine to stop. Async-signal-safe. */
void lf_engine_stop(struct lf_engine *e);
void lf_engine_free(struct lf_engine *e); /* NULL is a no-op */

/* The [service] option table, for --help-plugin service. */
const struct lfp_option *lf_engine_service_options(void);
/* The keys every [output] takes beside its plugin's own (retry_limit,
 * storage.total_limit_size, dlq.path, breaker.*), for --help-plugin
 * output. */
const struct lfp_option *lf_engine_output_options(void);

/* Host entries implemented by the engine (see plugin.h). */
struct lfp_chunk *lf_engine_chunk_get(struct lfp_instance *ins);
size_t lf_engine_chunk_raw_cap(struct lfp_instance *ins);
void lf_engine_chunk_emit(struct lfp_instance *ins, struct lfp_chunk *chunk);
void lf_engine_chunk_put(struct lfp_instance *ins, struct lfp_chunk *chunk);

#endif
