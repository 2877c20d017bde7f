/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - running the pipeline: threads, queues, routing, acks,
 * shutdown. See engine.h for the picture.
 *
 * Locks (never nested except route_lock -> output lock, pool_lock):
 *   pool_lock   free chunks          work_lock  work queue, sequence
 *   route_lock  reorder window       out->lock  one output's queue
 * A chunk has one owner at a time: the input until chunk_emit, a worker
 * until it is routed, then the outputs read it concurrently; the last
 * output to finish acks it to the input and returns it to the pool.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "config.h"
#include "engine_int.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "option.h"
#include "parser.h"
#include "registry.h"
#include "timeutil.h"

#define ENGINE_LOG "engine"
#define ENGINE_AUX_GRACE_MS 1000

int64_t lf_engine_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void engine_wake(struct lf_engine *e)
{
    uint64_t one = 1;
    if (write(e->wake_fd, &one, sizeof(one)) < 0) {
        /* Counter already non-zero: the main loop wakes anyway. */
    }
}

static struct engine_input *engine_input_of(struct lfp_instance *ins)
{
    /* ins is the first member of struct engine_input. */
    return (struct engine_input *)ins;
}

/* ---- chunk pool ------------------------------------------------------- */

struct lfp_chunk *lf_engine_chunk_get(struct lfp_instance *ins)
{
    struct lf_engine *e = ins->engine;
    struct engine_input *in = engine_input_of(ins);
    struct lfp_chunk *c = NULL;

    pthread_mutex_lock(&e->pool_lock);
    while (!atomic_load(&ins->stopping)) {
        if (e->pool_free) {
            c = e->pool_free;
            e->pool_free = c->core->next;
            break;
        }
        if (e->pool_n < (size_t)e->svc.max_chunks) {
            c = lf_chunk_new((size_t)e->svc.chunk_size,
                             (size_t)e->svc.chunk_size);
            e->pool_all[e->pool_n++] = c;
            break;
        }
        pthread_cond_wait(&e->pool_cond, &e->pool_lock);
    }
    pthread_mutex_unlock(&e->pool_lock);
    if (!c)
        return NULL;
    lf_chunk_reset(c);
    lf_chunk_set_tag(c, in->tag, strlen(in->tag));
    c->core->owner = in;
    return c;
}

size_t lf_engine_chunk_raw_cap(struct lfp_instance *ins)
{
    return (size_t)ins->engine->svc.chunk_size;
}

static void engine_pool_put(struct lf_engine *e, struct lfp_chunk *c)
{
    pthread_mutex_lock(&e->pool_lock);
    c->core->next = e->pool_free;
    e->pool_free = c;
    pthread_cond_signal(&e->pool_cond);
    pthread_mutex_unlock(&e->pool_lock);
}

void lf_engine_chunk_put(struct lfp_instance *ins, struct lfp_chunk *chunk)
{
    engine_pool_put(ins->engine, chunk);
}

/* Wakes inputs blocked in chunk_get so they notice they must stop. */
static void engine_pool_broadcast(struct lf_engine *e)
{
    pthread_mutex_lock(&e->pool_lock);
    pthread_cond_broadcast(&e->pool_cond);
    pthread_mutex_unlock(&e->pool_lock);
}

/* work_lock held, the idle stack not empty: wakes its top worker. */
static void engine_worker_pop(struct lf_engine *e)
{
    struct engine_worker *w = e->idle_top;

    e->idle_top = w->next_idle;
    w->is_idle = 0;
    e->nawake++;
    pthread_cond_signal(&w->cond);
}

/* work_lock held. Wakes the worker that fell asleep last, when no worker
 * is awake or the queue holds more than two chunks beyond one for each
 * awake worker (one just woken has not taken its chunk yet). A tail pass
 * under a light stream emits two or three chunks at once: one worker then
 * takes them one after the other, with its caches and metrics shard warm,
 * while the others sleep; a backlog wakes them. */
static void engine_worker_wake(struct lf_engine *e)
{
    if (e->idle_top && (e->nawake == 0 || e->nqueued > (uint32_t)e->nawake + 2))
        engine_worker_pop(e);
}

void lf_engine_chunk_emit(struct lfp_instance *ins, struct lfp_chunk *chunk)
{
    struct lf_engine *e = ins->engine;
    struct engine_input *in = engine_input_of(ins);

    atomic_fetch_add(&in->inflight, 1);
    atomic_fetch_add(&e->inflight, 1);
    atomic_fetch_add_explicit(&in->emitted, chunk->nrecords,
                              memory_order_relaxed);
    pthread_mutex_lock(&e->work_lock);
    chunk->core->seq = e->next_seq++;
    chunk->core->next = NULL;
    if (e->work_tail)
        e->work_tail->core->next = chunk;
    else
        e->work_head = chunk;
    e->work_tail = chunk;
    e->nqueued++;
    engine_worker_wake(e);
    pthread_mutex_unlock(&e->work_lock);
}

/* ---- acknowledgement -------------------------------------------------- */

void lf_engine_chunk_done(struct lf_engine *e, struct lfp_chunk *c)
{
    struct engine_input *in = c->core->owner;

    if (atomic_fetch_sub(&c->core->pending, 1) != 1)
        return;
    if (in->def->ack)
        in->def->ack(in->ins.ctx, c);
    atomic_fetch_sub(&in->inflight, 1);
    engine_pool_put(e, c);
    if (atomic_fetch_sub(&e->inflight, 1) == 1)
        engine_wake(e);
}

/* ---- workers ---------------------------------------------------------- */

/* Records a worker takes through every stage before the next run: their
 * lines and fields (about 12 KiB) are still in the L1 cache when the
 * filters and metrics read them, where a whole chunk's (about 1.2 MiB)
 * no longer fit in L2 by the time a stage comes back to its first record.
 */
#define ENGINE_RUN_RECORDS 16

static void engine_parse(struct lf_engine *e, struct engine_worker *w,
                         struct engine_input *in, struct lfp_chunk *c)
{
    uint64_t parse_errors = 0, truncated = 0;

    if (in->parser >= 0) {
        const struct lf_parser *p = e->parsers[in->parser];
        struct lf_parser_worker *pw = w->parsers[in->parser];
        for (uint32_t i = 0; i < c->nrecords; i++)
            if (lf_parser_parse(p, pw, c, &c->records[i]) != LFP_OK)
                parse_errors++;
    } else {
        int64_t now = lf_time_now_ns();
        for (uint32_t i = 0; i < c->nrecords; i++)
            c->records[i].ts_ns = now;
    }
    for (uint32_t i = 0; i < c->nrecords; i++)
        truncated += (c->records[i].flags & LFP_REC_TRUNCATED) != 0;
    if (parse_errors)
        atomic_fetch_add_explicit(&in->ins.counters[LF_CNT_PARSE_ERRORS],
                                  parse_errors, memory_order_relaxed);
    if (truncated)
        atomic_fetch_add_explicit(&in->ins.counters[LFP_CNT_TRUNCATED],
                                  truncated, memory_order_relaxed);
}

static void engine_filter(struct lf_engine *e, struct engine_worker *w,
                          struct engine_input *in, struct lfp_chunk *c)
{
    for (int i = 0; i < in->nfilters; i++) {
        struct engine_filter *f = &e->filters[in->filters[i]];
        uint64_t before = 0, after = 0;
        for (uint32_t r = 0; r < c->nrecords; r++)
            before += (c->records[r].flags & LFP_REC_DROPPED) == 0;
        f->def->filter(f->ins.ctx, w->filters[in->filters[i]], c);
        for (uint32_t r = 0; r < c->nrecords; r++)
            after += (c->records[r].flags & LFP_REC_DROPPED) == 0;
        atomic_fetch_add_explicit(&f->ins.counters[LF_CNT_FILTERED],
                                  before - after, memory_order_relaxed);
        atomic_fetch_add_explicit(&in->ins.counters[LF_CNT_FILTERED],
                                  before - after, memory_order_relaxed);
    }
}

static void engine_dispatch(struct lf_engine *e, struct lfp_chunk *c)
{
    struct engine_input *in = c->core->owner;

    if (in->noutputs == 0) {
        atomic_store(&c->core->pending, 1);
        lf_engine_chunk_done(e, c);
        return;
    }
    atomic_store(&c->core->pending, in->noutputs);
    for (int i = 0; i < in->noutputs; i++)
        lf_engine_output_push(&e->outputs[in->outputs[i]], c);
}

/* Routes chunks in emit order: a chunk waits in the window until every
 * chunk emitted before it was routed. */
static void engine_route(struct lf_engine *e, struct lfp_chunk *c)
{
    size_t n = (size_t)e->svc.max_chunks;

    pthread_mutex_lock(&e->route_lock);
    e->reorder[c->core->seq % n] = c;
    while (e->reorder[e->route_next % n]) {
        struct lfp_chunk *next = e->reorder[e->route_next % n];
        e->reorder[e->route_next % n] = NULL;
        e->route_next++;
        engine_dispatch(e, next);
    }
    pthread_mutex_unlock(&e->route_lock);
}

/* Parses, filters and counts chunk c one run of records at a time; each
 * stage sees a view of c that holds the run (same tag and arena). */
static void engine_work(struct lf_engine *e, struct engine_worker *w,
                        struct engine_input *in, struct lfp_chunk *c)
{
    for (uint32_t at = 0; at < c->nrecords; at += ENGINE_RUN_RECORDS) {
        struct lfp_chunk run = *c;
        run.records = c->records + at;
        run.nrecords = c->nrecords - at < ENGINE_RUN_RECORDS
                           ? c->nrecords - at
                           : ENGINE_RUN_RECORDS;
        engine_parse(e, w, in, &run);
        engine_filter(e, w, in, &run);
        if (w->metrics && in->is_counted)
            lf_metrics_observe_records(w->metrics, &run);
    }
}

static void *engine_worker_main(void *arg)
{
    struct engine_worker *w = arg;
    struct lf_engine *e = w->engine;

    for (;;) {
        struct lfp_chunk *c;
        struct engine_input *in;

        pthread_mutex_lock(&e->work_lock);
        while (!e->work_head && !e->work_quit) {
            w->is_idle = 1;
            w->next_idle = e->idle_top;
            e->idle_top = w;
            if (--e->nawake == 0) /* engine_start_threads waits */
                pthread_cond_signal(&e->idle_cond);
            while (w->is_idle)
                pthread_cond_wait(&w->cond, &e->work_lock);
        }
        c = e->work_head;
        if (!c) {
            pthread_mutex_unlock(&e->work_lock);
            break;
        }
        e->work_head = c->core->next;
        if (!e->work_head)
            e->work_tail = NULL;
        e->nqueued--;
        pthread_mutex_unlock(&e->work_lock);

        in = c->core->owner;
        engine_work(e, w, in, c);
        engine_route(e, c);
    }
    return NULL;
}

/* ---- inputs ----------------------------------------------------------- */

static void *engine_input_main(void *arg)
{
    struct engine_input *in = arg;

    in->rc = in->def->run(in->ins.ctx);
    if (in->rc == LFP_INPUT_FAILED)
        lf_log_error(in->ins.label, "input stopped after a fatal error");
    else if (in->rc == LFP_INPUT_DONE)
        lf_log_debug(in->ins.label, "input done");
    atomic_store(&in->finished, 1);
    engine_wake(in->ins.engine);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------- */

int lf_engine_new(const struct lf_config *conf, struct lf_engine **out,
                  struct lfp_err *err)
{
    struct lf_engine *e = lf_calloc(1, sizeof(*e));

    pthread_mutex_init(&e->pool_lock, NULL);
    pthread_cond_init(&e->pool_cond, NULL);
    pthread_mutex_init(&e->work_lock, NULL);
    pthread_cond_init(&e->idle_cond, NULL);
    pthread_mutex_init(&e->route_lock, NULL);
    atomic_init(&e->inflight, 0);
    atomic_init(&e->stop_requested, 0);
    atomic_init(&e->abandon, 0);
    atomic_init(&e->reload_requested, 0);
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->wake_fd < 0) {
        lf_err_errno(err, LFP_ERR_IO, "eventfd");
        lf_engine_free(e);
        return LFP_ERR_IO;
    }
    if (lf_engine_build(e, conf, err) != LFP_OK) {
        lf_engine_free(e);
        return LFP_ERR_CONFIG;
    }
    e->pool_all = lf_calloc((size_t)e->svc.max_chunks, sizeof(void *));
    e->reorder = lf_calloc((size_t)e->svc.max_chunks, sizeof(void *));
    *out = e;
    return LFP_OK;
}

static int engine_init_plugin(struct lfp_instance *ins,
                              int (*init)(struct lfp_instance *,
                                          const struct lfp_host *, const void *,
                                          void **, struct lfp_err *))
{
    struct lfp_err err = {0};

    if (init(ins, &lf_host, ins->conf, &ins->ctx, &err) == LFP_OK)
        return LFP_OK;
    lf_log_error(ins->label, "cannot start: %s",
                 err.msg[0] ? err.msg : "init failed");
    return LFP_ERR_CONFIG;
}

static int engine_init_all(struct lf_engine *e)
{
    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        struct lfp_err err = {0};
        if (lf_engine_output_setup(e, o, &err) != LFP_OK) {
            lf_log_error(o->ins.label, "cannot start: %s", err.msg);
            return LFP_ERR_CONFIG;
        }
        if (engine_init_plugin(&o->ins, o->def->init) != LFP_OK)
            return LFP_ERR_CONFIG;
        o->initialised = 1;
    }
    for (int i = 0; i < e->nfilters; i++) {
        struct engine_filter *f = &e->filters[i];
        if (engine_init_plugin(&f->ins, f->def->init) != LFP_OK)
            return LFP_ERR_CONFIG;
        f->initialised = 1;
    }
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        if (engine_init_plugin(&in->ins, in->def->init) != LFP_OK)
            return LFP_ERR_CONFIG;
        in->initialised = 1;
    }
    return LFP_OK;
}

static void engine_worker_setup(struct lf_engine *e, struct engine_worker *w)
{
    w->engine = e;
    pthread_cond_init(&w->cond, NULL);
    w->parsers = lf_calloc((size_t)e->nparsers + 1, sizeof(void *));
    for (int i = 0; i < e->nparsers; i++)
        w->parsers[i] = lf_parser_worker_new(e->parsers[i]);
    w->filters = lf_calloc((size_t)e->nfilters + 1, sizeof(void *));
    for (int i = 0; i < e->nfilters; i++) {
        struct engine_filter *f = &e->filters[i];
        if (f->def->worker_new)
            w->filters[i] = f->def->worker_new(f->ins.ctx);
    }
    if (e->metrics)
        w->metrics = lf_metrics_shard_new(e->metrics);
}

void lf_engine_name_thread(pthread_t t, const char *prefix, const char *name)
{
    char buf[16];

    (void)snprintf(buf, sizeof(buf), "%s%s", prefix, name);
    (void)pthread_setname_np(t, buf);
}

static int engine_start_threads(struct lf_engine *e)
{
    e->nworkers = (int)e->svc.workers;
    e->workers = lf_calloc((size_t)e->nworkers, sizeof(*e->workers));
    for (int i = 0; i < e->noutputs; i++) {
        if (lf_engine_output_start(&e->outputs[i]) != LFP_OK)
            return LFP_ERR_IO;
    }
    for (int i = 0; i < e->nworkers; i++) {
        struct engine_worker *w = &e->workers[i];
        char name[8];
        engine_worker_setup(e, w);
        /* Awake from here until it first sleeps, so that a chunk emitted
         * before then wakes no other worker. */
        pthread_mutex_lock(&e->work_lock);
        e->nawake++;
        pthread_mutex_unlock(&e->work_lock);
        if (pthread_create(&w->thread, NULL, engine_worker_main, w) != 0) {
            pthread_mutex_lock(&e->work_lock);
            e->nawake--;
            pthread_mutex_unlock(&e->work_lock);
            return LFP_ERR_IO;
        }
        w->started = 1;
        (void)snprintf(name, sizeof(name), "%d", i);
        lf_engine_name_thread(w->thread, "worker:", name);
    }
    /* Every worker on the idle stack before the first chunk: otherwise
     * one that starts late falls asleep on top of the one that took the
     * first chunks, and a light stream moves to it. */
    pthread_mutex_lock(&e->work_lock);
    while (e->nawake > 0)
        pthread_cond_wait(&e->idle_cond, &e->work_lock);
    pthread_mutex_unlock(&e->work_lock);
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        if (pthread_create(&in->thread, NULL, engine_input_main, in) != 0)
            return LFP_ERR_IO;
        in->started = 1;
        lf_engine_name_thread(in->thread, "", in->ins.label);
    }
    return LFP_OK;
}

/* Whether every input that is not auxiliary has returned. */
static int engine_inputs_finished(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++)
        if (!e->inputs[i].auxiliary && !atomic_load(&e->inputs[i].finished))
            return 0;
    return 1;
}

/* Whether every auxiliary input returned by itself. */
static int engine_aux_finished(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++)
        if (e->inputs[i].auxiliary && !atomic_load(&e->inputs[i].finished))
            return 0;
    return 1;
}

/* Chunks still owed to a sink: in memory (in flight) or on disk. */
static int engine_busy(struct lf_engine *e)
{
    if (atomic_load(&e->inflight) > 0)
        return 1;
    for (int i = 0; i < e->noutputs; i++)
        if (lf_engine_output_has_backlog(&e->outputs[i]))
            return 1;
    return 0;
}

/* Sleeps on wake_fd for up to ms. */
static void engine_main_wait(struct lf_engine *e, int ms)
{
    struct pollfd pfd = {.fd = e->wake_fd, .events = POLLIN};
    uint64_t v;

    if (poll(&pfd, 1, ms) > 0 && read(e->wake_fd, &v, sizeof(v)) < 0) {
        /* Drained by someone else: nothing to do. */
    }
}

static void engine_stop_inputs(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++)
        lf_instance_stop(&e->inputs[i].ins);
    engine_pool_broadcast(e);
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        if (in->started)
            pthread_join(in->thread, NULL);
        in->started = 0;
    }
}

/* Waits until nothing is in flight or grace passes; then abandons. */
static void engine_drain(struct lf_engine *e, int64_t grace_ms)
{
    int64_t deadline = lf_engine_now_ms() + grace_ms;

    while (engine_busy(e) && lf_engine_now_ms() < deadline &&
           atomic_load(&e->stop_requested) < 2)
        engine_main_wait(e, 50);
    if (engine_busy(e)) {
        lf_log_warn(ENGINE_LOG,
                    "not all delivered within grace: %ld chunks in memory "
                    "stay uncommitted (read again on the next start) or go "
                    "to the disk buffer; chunks on disk are sent on the "
                    "next start",
                    (long)atomic_load(&e->inflight));
        atomic_store(&e->abandon, 1);
        for (int i = 0; i < e->noutputs; i++) {
            /* A flush blocked on a dead sink checks is_stopping. */
            lf_instance_stop(&e->outputs[i].ins);
            lf_engine_output_wake(&e->outputs[i]);
        }
    }
}

static void engine_stop_threads(struct lf_engine *e)
{
    pthread_mutex_lock(&e->work_lock);
    e->work_quit = 1;
    while (e->idle_top)
        engine_worker_pop(e);
    pthread_mutex_unlock(&e->work_lock);
    for (int i = 0; i < e->nworkers; i++)
        if (e->workers[i].started)
            pthread_join(e->workers[i].thread, NULL);
    for (int i = 0; i < e->noutputs; i++)
        lf_engine_output_join(&e->outputs[i]);
}

static uint64_t engine_sum(const struct lf_engine *e, int kind, int counter)
{
    uint64_t n = 0;

    if (kind == LFP_KIND_INPUT)
        for (int i = 0; i < e->ninputs; i++)
            n += lf_instance_counter(&e->inputs[i].ins, counter);
    else
        for (int i = 0; i < e->noutputs; i++)
            n += lf_instance_counter(&e->outputs[i].ins, counter);
    return n;
}

/* Delivery counters summed over outputs: dead letters, spilled,
 * replayed and corrupt chunks. */
static void engine_sum_stats(const struct lf_engine *e, uint64_t out[4])
{
    memset(out, 0, 4 * sizeof(uint64_t));
    for (int i = 0; i < e->noutputs; i++) {
        const struct engine_output_stats *st = &e->outputs[i].stats;
        out[0] += atomic_load(&st->dead_letters);
        out[1] += atomic_load(&st->spilled_chunks);
        out[2] += atomic_load(&st->replayed_chunks);
        out[3] += atomic_load(&st->corrupt_chunks);
    }
}

static void engine_summary(const struct lf_engine *e)
{
    uint64_t emitted = 0, st[4];

    for (int i = 0; i < e->ninputs; i++)
        emitted += atomic_load(&e->inputs[i].emitted);
    engine_sum_stats(e, st);
    lf_log_info(
        ENGINE_LOG,
        "summary records_in=%llu records_out=%llu parse_errors=%llu "
        "truncated=%llu dropped=%llu filtered=%llu retries=%llu "
        "dead_letters=%llu spilled_chunks=%llu replayed_chunks=%llu "
        "corrupt_chunks=%llu",
        (unsigned long long)emitted,
        (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT, LFP_CNT_RECORDS_OUT),
        (unsigned long long)engine_sum(e, LFP_KIND_INPUT, LF_CNT_PARSE_ERRORS),
        (unsigned long long)engine_sum(e, LFP_KIND_INPUT, LFP_CNT_TRUNCATED),
        (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT, LFP_CNT_DROPPED),
        (unsigned long long)engine_sum(e, LFP_KIND_INPUT, LF_CNT_FILTERED),
        (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT, LFP_CNT_RETRIES),
        (unsigned long long)st[0], (unsigned long long)st[1],
        (unsigned long long)st[2], (unsigned long long)st[3]);
}

static int engine_finish(struct lf_engine *e)
{
    int rc = e->failed ? 2 : 0;

    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        struct lfp_err err = {0};
        if (o->initialised && o->def->drain &&
            o->def->drain(o->ins.ctx, &err) != LFP_OK) {
            lf_log_error(o->ins.label, "final flush failed: %s", err.msg);
            rc = 2;
        }
    }
    for (int i = 0; i < e->ninputs; i++)
        if (e->inputs[i].rc == LFP_INPUT_FAILED)
            rc = 2;
    engine_summary(e);
    return rc;
}

static void engine_start_http(struct lf_engine *e)
{
    struct lfp_err err = {0};

    if (!e->svc.http_server)
        return;
    if (lf_http_start(e, e->svc.http_listen, &e->http, &err) != LFP_OK) {
        lf_log_error(ENGINE_LOG, "http server: %s", err.msg);
        e->failed = 1;
        atomic_store(&e->stop_requested, 1);
    }
}

/* Periodic work of the main loop (about every 200 ms). */
static void engine_tick(struct lf_engine *e)
{
    if (e->metrics)
        lf_metrics_tick(e->metrics, lf_time_now_ns());
    if (atomic_exchange(&e->reload_requested, 0))
        lf_engine_reload_prepare(e);
}

/* exit_on_eof: every input but the auxiliary ones returned and nothing
 * is owed to a sink. Auxiliary inputs (metric records) get
 * ENGINE_AUX_GRACE_MS to emit a last batch and return by themselves;
 * then they are stopped. */
static int engine_exit_on_eof_done(struct lf_engine *e, int64_t *deadline)
{
    if (!engine_inputs_finished(e) || engine_busy(e))
        return 0;
    if (engine_aux_finished(e))
        return 1;
    if (*deadline == 0)
        *deadline = lf_engine_now_ms() + ENGINE_AUX_GRACE_MS;
    return lf_engine_now_ms() >= *deadline;
}

int lf_engine_run(struct lf_engine *e)
{
    int64_t aux_deadline_ms = 0;
    int rc;

    if (engine_init_all(e) != LFP_OK)
        return 2;
    e->was_started = 1;
    if (engine_start_threads(e) != LFP_OK) {
        lf_log_error(ENGINE_LOG, "cannot start threads: %s", strerror(errno));
        e->failed = 1;
        atomic_store(&e->stop_requested, 1);
    }
    lf_log_info(ENGINE_LOG,
                "started: %d inputs, %d filters, %d outputs, %d "
                "workers",
                e->ninputs, e->nfilters, e->noutputs, e->nworkers);
    engine_start_http(e);
    while (!atomic_load(&e->stop_requested) && !e->is_reloading) {
        if (engine_exit_on_eof_done(e, &aux_deadline_ms))
            break;
        engine_main_wait(e, 200);
        engine_tick(e);
    }
    if (atomic_load(&e->stop_requested) || e->is_reloading)
        lf_log_info(ENGINE_LOG, "%s: draining for up to %lld ms",
                    e->is_reloading ? "reloading" : "stopping",
                    (long long)e->svc.grace_ms);
    engine_stop_inputs(e);
    engine_drain(e, e->svc.grace_ms);
    engine_stop_threads(e);
    rc = engine_finish(e);
    lf_http_stop(e->http);
    e->http = NULL;
    return rc;
}

void lf_engine_request_reload(struct lf_engine *e)
{
    atomic_store(&e->reload_requested, 1);
    engine_wake(e);
}

void lf_engine_stop(struct lf_engine *e)
{
    atomic_fetch_add(&e->stop_requested, 1);
    engine_wake(e);
}

static void engine_free_instance(struct lfp_instance *ins, int initialised,
                                 void (*destroy)(void *))
{
    const struct lf_def_header *def = ins->def;

    if (initialised && destroy)
        destroy(ins->ctx);
    if (def && def->options && ins->conf)
        lf_option_free(def->options, ins->conf);
    lf_free(ins->conf);
    lf_instance_fini(ins);
}

static void engine_free_plugins(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        engine_free_instance(&in->ins, in->initialised,
                             in->def ? in->def->destroy : NULL);
        lf_free(in->tag);
        lf_free(in->filters);
        lf_free(in->outputs);
    }
    for (int i = 0; i < e->nfilters; i++) {
        struct engine_filter *f = &e->filters[i];
        engine_free_instance(&f->ins, f->initialised,
                             f->def ? f->def->destroy : NULL);
        lf_free(f->match);
    }
    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        engine_free_instance(&o->ins, o->initialised,
                             o->def ? o->def->destroy : NULL);
        lf_free(o->match);
        lf_engine_output_fini(o);
        lf_option_free(lf_engine_output_options(), &o->oc);
    }
}

static void engine_free_workers(struct lf_engine *e)
{
    for (int i = 0; i < e->nworkers; i++) {
        struct engine_worker *w = &e->workers[i];
        for (int j = 0; w->parsers && j < e->nparsers; j++)
            lf_parser_worker_free(w->parsers[j]);
        for (int j = 0; w->filters && j < e->nfilters; j++)
            if (e->filters[j].def->worker_free)
                e->filters[j].def->worker_free(e->filters[j].ins.ctx,
                                               w->filters[j]);
        lf_free(w->parsers);
        lf_free(w->filters);
        lf_metrics_shard_free(w->metrics);
        if (w->engine)
            pthread_cond_destroy(&w->cond);
    }
    lf_free(e->workers);
}

void lf_engine_free(struct lf_engine *e)
{
    if (!e)
        return;
    engine_free_workers(e);
    engine_free_plugins(e);
    lf_free(e->inputs);
    lf_free(e->filters);
    lf_free(e->outputs);
    for (int i = 0; i < e->nparsers; i++)
        lf_parser_free(e->parsers[i]);
    lf_free(e->parsers);
    for (size_t i = 0; i < e->pool_n; i++)
        lf_chunk_free(e->pool_all[i]);
    lf_free(e->pool_all);
    lf_free(e->reorder);
    lf_option_free(lf_engine_service_options(), &e->svc);
    lf_engine_free(e->next);
    lf_config_free(e->next_conf);
    lf_free(e->conf_path);
    lf_metrics_free(e->metrics);
    if (e->wake_fd >= 0)
        (void)close(e->wake_fd);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_cond_destroy(&e->pool_cond);
    pthread_mutex_destroy(&e->work_lock);
    pthread_cond_destroy(&e->idle_cond);
    pthread_mutex_destroy(&e->route_lock);
    lf_free(e);
}
