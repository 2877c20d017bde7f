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

#include "breaker.h"
#include "engine.h"
#include "instance.h"

struct lf_parser;
struct lf_parser_worker;
struct lf_metrics;
struct lf_metrics_shard;
struct lf_http;
struct lf_config;
struct lf_storage;
struct lf_storage_codec;
struct lf_dlq;

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
    char *storage_path;             /* disk buffer root; NULL: memory only */
    int storage_sync; /* 0 normal, 1 full (fsync every chunk file) */
};

struct engine_input {
    struct lfp_instance ins;
    const struct lfp_input_def *def;
    char *tag;
    int parser;   /* index in engine->parsers, or -1 */
    int *filters; /* indexes of filters whose match fits tag */
    int nfilters;
    int *outputs; /* indexes of outputs whose match fits tag */
    int noutputs;
    int is_counted; /* metrics count its records (lf_metrics_counts_tag) */
    pthread_t thread;
    int started;
    int initialised;
    atomic_int finished;
    int rc; /* enum lfp_input_rc */
    atomic_long inflight;
    atomic_uint_fast64_t emitted;
    /* Runs until stopped (e.g. metric records): does not keep an
     * exit_on_eof pipeline alive. Once every other input is done and
     * nothing is owed to a sink, it has ENGINE_AUX_GRACE_MS (engine.c) to
     * return by itself, then it is stopped. */
    int auxiliary;
};

struct engine_filter {
    struct lfp_instance ins;
    const struct lfp_filter_def *def;
    char *match;
    int initialised;
};

/* The engine's own [output] keys (engine_build.c), beside the plugin's. */
struct engine_output_conf {
    char *retry_limit;           /* "no_limits" or a count */
    int64_t retry_base_ms;       /* 0: [service] retry_base */
    int64_t retry_max_delay_ms;  /* 0: [service] retry_max_delay */
    int64_t mem_buf_limit;       /* bytes queued in memory before spilling */
    int64_t storage_total_limit; /* bytes on disk before inputs pause */
    char *dlq_path;              /* NULL: dead letters are dropped+counted */
    int64_t breaker_failures;    /* 0: no breaker */
    int64_t breaker_cooldown_ms;
};

/* Delivery counters of one output beyond enum lfp_counter (metrics). */
struct engine_output_stats {
    atomic_uint_fast64_t dead_letters;    /* records written to dlq.path */
    atomic_uint_fast64_t dlq_dropped;     /* dead records without a dlq */
    atomic_uint_fast64_t spilled_chunks;  /* chunks written to disk */
    atomic_uint_fast64_t replayed_chunks; /* chunks sent from disk */
    atomic_uint_fast64_t corrupt_chunks;  /* chunk files set aside */
    atomic_uint_fast64_t storage_full;    /* times total_limit was hit */
    atomic_uint_fast64_t breaker_opens;   /* CLOSED/HALF_OPEN -> OPEN */
    atomic_uint_fast64_t storage_bytes;   /* on disk now (gauge) */
    atomic_uint_fast64_t storage_chunks;  /* on disk now (gauge) */
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

    /* Reliability (engine_output.c). Locks: o->lock guards the queue and
     * the flags below it. */
    struct engine_output_conf oc;
    int64_t retry_limit;        /* -1: no limit */
    size_t *qbytes_of;          /* ring beside queue: bytes of each chunk */
    size_t qbytes;              /* bytes of the chunks in queue */
    int is_spilling;            /* the spill thread holds the queue's head */
    int is_blocked;             /* the sender waits (backoff, breaker open) */
    struct lf_breaker breaker;  /* state is a metric */
    struct lf_storage *storage; /* NULL: memory only */
    struct lf_dlq *dlq;         /* NULL: no dlq.path */
    struct lf_storage_codec *codec_send, *codec_spill;
    struct lfp_chunk *replay; /* chunk decoded from disk, sender's */
    char *load_buf;
    size_t load_cap;
    pthread_t spill_thread;
    int spill_started;
    unsigned seed;
    unsigned carry_attempt; /* retries of a chunk moved to disk */
    int64_t retry_at_ms;    /* its next attempt, after the backoff */
    struct engine_output_stats stats;
};

struct engine_worker {
    struct lf_engine *engine;
    pthread_t thread;
    int started;
    struct lf_parser_worker **parsers;
    void **filters;
    struct lf_metrics_shard *metrics;
    /* Asleep on the engine's idle stack (work_lock): cond is signalled
     * when a chunk's emit pops it. */
    pthread_cond_t cond;
    struct engine_worker *next_idle;
    int is_idle;
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

    /* Work queue, in emit order, and the workers waiting for it: a stack,
     * the last to fall asleep on top (engine_worker_wake). */
    pthread_mutex_t work_lock;
    struct lfp_chunk *work_head, *work_tail;
    uint32_t nqueued;
    int nawake; /* workers running, not on the idle stack */
    struct engine_worker *idle_top;
    uint64_t next_seq;
    int work_quit;
    pthread_cond_t idle_cond; /* nawake fell to 0 */

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

    /* Reload (engine_reload.c). */
    char *conf_path;             /* NULL: the embedded default configuration */
    struct lf_engine *next;      /* built from the new configuration */
    struct lf_config *next_conf; /* what next was built from */
    int is_reloading;            /* stopping to hand over to next */
    int was_started;             /* every plugin's init succeeded */
};

/* engine_build.c */
int lf_engine_build(struct lf_engine *e, const struct lf_config *conf,
                    struct lfp_err *err);

/* engine.c: one output is done with c (delivered, dead-lettered or on
 * disk); the last one acks it to its input and returns it to the pool. */
void lf_engine_chunk_done(struct lf_engine *e, struct lfp_chunk *c);
int64_t lf_engine_now_ms(void);
/* Names thread t "<prefix><name>", cut to the 15 bytes a thread name
 * holds, so that top -H and /proc/<pid>/task/<tid>/comm tell the stages
 * apart. A failure is harmless and ignored. */
void lf_engine_name_thread(pthread_t t, const char *prefix, const char *name);

/* engine_reload.c: builds e->next from the configuration file again and,
 * if it is valid, sets e->is_reloading; otherwise logs why and keeps the
 * running pipeline. Thread: the main loop. */
void lf_engine_reload_prepare(struct lf_engine *e);

/* engine_output.c: the output threads. */
/* Sets up what the output needs beyond its plugin: storage folder, dlq,
 * breaker, queues. Thread: main, before threads start. */
int lf_engine_output_setup(struct lf_engine *e, struct engine_output *o,
                           struct lfp_err *err) LF_MUST_CHECK;
/* Starts the sender (and spill) threads. */
int lf_engine_output_start(struct engine_output *o);
/* Queues a routed chunk. Locks: called under route_lock. */
void lf_engine_output_push(struct engine_output *o, struct lfp_chunk *c);
/* Whether the output still has chunks on disk (exit_on_eof, drain). */
int lf_engine_output_has_backlog(struct engine_output *o);
/* Wakes the output's threads (abandon, quit). */
void lf_engine_output_wake(struct engine_output *o);
/* Joins the output's threads after quit was set. */
void lf_engine_output_join(struct engine_output *o);
/* Frees what lf_engine_output_setup made. */
void lf_engine_output_fini(struct engine_output *o);
/* Whether tag matches pattern ('*' matches any run of bytes). */
int lf_engine_tag_match(const char *pattern, const char *tag);

#endif
