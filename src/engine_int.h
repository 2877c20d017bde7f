/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_int.h - the engine's private structures, shared by engine.c (the
 * running pipeline) and engine_build.c (building it from the config).
 */
#ifndef LF_ENGINE_INT_H
#define LF_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"
#include "instance.h"

struct lf_parser;
struct lf_parser_worker;
struct lf_metrics;
struct lf_metrics_shard;
struct lf_http;

struct engine_service {
    int log_level;
    int64_t workers;
    int64_t grace_ms;
    int64_t chunk_size;
    int64_t max_chunks;
    int64_t retry_base_ms;
    int64_t retry_max_delay_ms;
    char *plugins_dir;
    int http_server;
    char *http_listen;
    struct lfp_kvlist metrics_opts; /* metrics.* keys, prefix removed */
};

struct engine_input {
    struct lfp_instance ins;
    const struct lfp_input_def *def;
    char *tag;
    int parser;       /* index in engine->parsers, or -1 */
    int *filters;     /* indexes of filters whose match fits tag */
    int nfilters;
    int *outputs;     /* indexes of outputs whose match fits tag */
    int noutputs;
    pthread_t thread;
    int started;
    int initialised;
    atomic_int finished;
    int rc;           /* enum lfp_input_rc */
    atomic_long inflight;
    atomic_uint_fast64_t emitted;
};

struct engine_filter {
    struct lfp_instance ins;
    const struct lfp_filter_def *def;
    char *match;
    int initialised;
};

struct engine_output {
    struct lfp_instance ins;
    const struct lfp_output_def *def;
    char *match;
    int initialised;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct lfp_chunk **queue; /* ring of max_chunks entries */
    size_t qhead, qlen;
    int quit;
};

struct engine_worker {
    struct lf_engine *engine;
    pthread_t thread;
    int started;
    struct lf_parser_worker **parsers;
    void **filters;
    struct lf_metrics_shard *metrics;
};

struct lf_engine {
    struct engine_service svc;

    struct lf_parser **parsers;
    int nparsers;
    struct engine_input *inputs;
    int ninputs;
    struct engine_filter *filters;
    int nfilters;
    struct engine_output *outputs;
    int noutputs;
    struct engine_worker *workers;
    int nworkers;

    /* Chunk pool: at most svc.max_chunks chunks, created on demand. */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct lfp_chunk **pool_all;
    size_t pool_n;
    struct lfp_chunk *pool_free;

    /* Work queue, in emit order. */
    pthread_mutex_t work_lock;
    pthread_cond_t work_cond;
    struct lfp_chunk *work_head, *work_tail;
    uint64_t next_seq;
    int work_quit;

    /* In-order router: slot seq % max_chunks. */
    pthread_mutex_t route_lock;
    struct lfp_chunk **reorder;
    uint64_t route_next;

    struct lf_metrics *metrics; /* NULL when metrics are off */
    struct lf_http *http;       /* NULL when the HTTP server is off */

    atomic_long inflight;
    atomic_int stop_requested;
    atomic_int reload_requested;
    atomic_int abandon;
    int wake_fd;
    int failed; /* a start-up step failed: exit code 2 */
};

/* engine_build.c */
int lf_engine_build(struct lf_engine *e, const struct lf_config *conf,
                    struct lfp_err *err);
/* Whether tag matches pattern ('*' matches any run of bytes). */
int lf_engine_tag_match(const char *pattern, const char *tag);

#endif
