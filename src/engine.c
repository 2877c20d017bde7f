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

static int64_t engine_now_ms(void)
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
    pthread_cond_signal(&e->work_cond);
    pthread_mutex_unlock(&e->work_lock);
}

/* ---- acknowledgement -------------------------------------------------- */

/* One output is done with c; the last one acks it to its input. */
static void engine_chunk_done(struct lf_engine *e, struct lfp_chunk *c)
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

static void engine_output_push(struct engine_output *o, struct lfp_chunk *c)
{
    pthread_mutex_lock(&o->lock);
    /* Never full: at most max_chunks chunks exist. */
    o->queue[(o->qhead + o->qlen) % (size_t)o->ins.engine->svc.max_chunks] =
        c;
    o->qlen++;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void engine_dispatch(struct lf_engine *e, struct lfp_chunk *c)
{
    struct engine_input *in = c->core->owner;

    if (in->noutputs == 0) {
        atomic_store(&c->core->pending, 1);
        engine_chunk_done(e, c);
        return;
    }
    atomic_store(&c->core->pending, in->noutputs);
    for (int i = 0; i < in->noutputs; i++)
        engine_output_push(&e->outputs[in->outputs[i]], c);
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

static void *engine_worker_main(void *arg)
{
    struct engine_worker *w = arg;
    struct lf_engine *e = w->engine;

    for (;;) {
        struct lfp_chunk *c;
        struct engine_input *in;

        pthread_mutex_lock(&e->work_lock);
        while (!e->work_head && !e->work_quit)
            pthread_cond_wait(&e->work_cond, &e->work_lock);
        c = e->work_head;
        if (!c) {
            pthread_mutex_unlock(&e->work_lock);
            break;
        }
        e->work_head = c->core->next;
        if (!e->work_head)
            e->work_tail = NULL;
        pthread_mutex_unlock(&e->work_lock);

        in = c->core->owner;
        engine_parse(e, w, in, c);
        engine_filter(e, w, in, c);
        if (w->metrics)
            lf_metrics_observe(w->metrics, c);
        engine_route(e, c);
    }
    return NULL;
}

/* ---- outputs ---------------------------------------------------------- */

static uint64_t engine_live_records(const struct lfp_chunk *c)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->nrecords; i++)
        n += (c->records[i].flags & LFP_REC_DROPPED) == 0;
    return n;
}

/* Waits up to ms, or until the engine abandons delivery. */
static void engine_output_wait(struct engine_output *o, int64_t ms)
{
    struct lf_engine *e = o->ins.engine;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&o->lock);
    while (!atomic_load(&e->abandon)) {
        if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&o->lock);
}

/* Full jitter: a uniform delay in [0, min(max, base * 2^attempt)]. */
static int64_t engine_backoff_ms(const struct engine_service *svc,
                                 unsigned attempt, unsigned *seed)
{
    int64_t cap = svc->retry_base_ms;

    for (unsigned i = 0; i < attempt && cap < svc->retry_max_delay_ms; i++)
        cap *= 2;
    if (cap > svc->retry_max_delay_ms)
        cap = svc->retry_max_delay_ms;
    return (int64_t)((double)rand_r(seed) / ((double)RAND_MAX + 1.0) *
                     (double)(cap + 1));
}

/* Delivers c to o, retrying transient failures until it succeeds or the
 * engine abandons delivery (shutdown past grace). */
static void engine_deliver(struct engine_output *o, struct lfp_chunk *c,
                           unsigned *seed)
{
    struct lf_engine *e = o->ins.engine;
    unsigned attempt = 0;

    for (;;) {
        struct lfp_err err = {0};
        int rc = o->def->flush(o->ins.ctx, c, &err);
        uint64_t live;

        if (rc == LFP_FLUSH_RETRY) {
            int64_t delay = engine_backoff_ms(&e->svc, attempt++, seed);
            atomic_fetch_add(&o->ins.counters[LFP_CNT_RETRIES], 1);
            lf_log_warn(o->ins.label, "flush failed, retry %u in %lld ms: %s",
                        attempt, (long long)delay, err.msg);
            engine_output_wait(o, delay);
            if (atomic_load(&e->abandon))
                return; /* stays unacked: read again on the next start */
            continue;
        }
        live = engine_live_records(c);
        if (rc == LFP_FLUSH_OK) {
            atomic_fetch_add_explicit(&o->ins.counters[LFP_CNT_RECORDS_OUT],
                                      live, memory_order_relaxed);
        } else {
            atomic_fetch_add(&o->ins.counters[LFP_CNT_DROPPED], live);
            atomic_fetch_add(&o->ins.counters[LFP_CNT_ERRORS], 1);
            lf_log_error(o->ins.label,
                         "permanent failure, %llu records dropped: %s",
                         (unsigned long long)live, err.msg);
        }
        engine_chunk_done(e, c);
        return;
    }
}

static void *engine_output_main(void *arg)
{
    struct engine_output *o = arg;
    size_t n = (size_t)o->ins.engine->svc.max_chunks;
    unsigned seed = (unsigned)(uintptr_t)o ^ (unsigned)time(NULL);

    for (;;) {
        struct lfp_chunk *c;

        pthread_mutex_lock(&o->lock);
        while (o->qlen == 0 && !o->quit)
            pthread_cond_wait(&o->cond, &o->lock);
        if (o->qlen == 0 || atomic_load(&o->ins.engine->abandon)) {
            pthread_mutex_unlock(&o->lock);
            break;
        }
        c = o->queue[o->qhead];
        o->qhead = (o->qhead + 1) % n;
        o->qlen--;
        pthread_mutex_unlock(&o->lock);
        engine_deliver(o, c, &seed);
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
    pthread_cond_init(&e->work_cond, NULL);
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
                                          const struct lfp_host *,
                                          const void *, void **,
                                          struct lfp_err *))
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

static int engine_start_threads(struct lf_engine *e)
{
    e->nworkers = (int)e->svc.workers;
    e->workers = lf_calloc((size_t)e->nworkers, sizeof(*e->workers));
    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        o->queue = lf_calloc((size_t)e->svc.max_chunks, sizeof(void *));
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->cond, NULL);
        if (pthread_create(&o->thread, NULL, engine_output_main, o) != 0)
            return LFP_ERR_IO;
        o->started = 1;
    }
    for (int i = 0; i < e->nworkers; i++) {
        struct engine_worker *w = &e->workers[i];
        engine_worker_setup(e, w);
        if (pthread_create(&w->thread, NULL, engine_worker_main, w) != 0)
            return LFP_ERR_IO;
        w->started = 1;
    }
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        if (pthread_create(&in->thread, NULL, engine_input_main, in) != 0)
            return LFP_ERR_IO;
        in->started = 1;
    }
    return LFP_OK;
}

static int engine_inputs_finished(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++)
        if (!atomic_load(&e->inputs[i].finished))
            return 0;
    return 1;
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
    int64_t deadline = engine_now_ms() + grace_ms;

    while (atomic_load(&e->inflight) > 0 && engine_now_ms() < deadline &&
           atomic_load(&e->stop_requested) < 2)
        engine_main_wait(e, 50);
    if (atomic_load(&e->inflight) > 0) {
        lf_log_warn(ENGINE_LOG,
                    "%ld chunks not delivered within grace; they stay "
                    "uncommitted and are read again on the next start",
                    (long)atomic_load(&e->inflight));
        atomic_store(&e->abandon, 1);
        for (int i = 0; i < e->noutputs; i++) {
            struct engine_output *o = &e->outputs[i];
            if (!o->started)
                continue;
            pthread_mutex_lock(&o->lock);
            pthread_cond_broadcast(&o->cond);
            pthread_mutex_unlock(&o->lock);
        }
    }
}

static void engine_stop_threads(struct lf_engine *e)
{
    pthread_mutex_lock(&e->work_lock);
    e->work_quit = 1;
    pthread_cond_broadcast(&e->work_cond);
    pthread_mutex_unlock(&e->work_lock);
    for (int i = 0; i < e->nworkers; i++)
        if (e->workers[i].started)
            pthread_join(e->workers[i].thread, NULL);
    for (int i = 0; i < e->noutputs; i++) {
        struct engine_output *o = &e->outputs[i];
        if (!o->started)
            continue;
        pthread_mutex_lock(&o->lock);
        o->quit = 1;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
        o->started = 0;
    }
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

static void engine_summary(const struct lf_engine *e)
{
    uint64_t emitted = 0;

    for (int i = 0; i < e->ninputs; i++)
        emitted += atomic_load(&e->inputs[i].emitted);
    lf_log_info(ENGINE_LOG,
                "summary records_in=%llu records_out=%llu parse_errors=%llu "
                "truncated=%llu dropped=%llu filtered=%llu retries=%llu",
                (unsigned long long)emitted,
                (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT,
                                               LFP_CNT_RECORDS_OUT),
                (unsigned long long)engine_sum(e, LFP_KIND_INPUT,
                                               LF_CNT_PARSE_ERRORS),
                (unsigned long long)engine_sum(e, LFP_KIND_INPUT,
                                               LFP_CNT_TRUNCATED),
                (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT,
                                               LFP_CNT_DROPPED),
                (unsigned long long)engine_sum(e, LFP_KIND_INPUT,
                                               LF_CNT_FILTERED),
                (unsigned long long)engine_sum(e, LFP_KIND_OUTPUT,
                                               LFP_CNT_RETRIES));
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
        lf_log_warn(ENGINE_LOG, "reload requested: not supported yet, "
                    "restart logferry to apply a new configuration");
}

int lf_engine_run(struct lf_engine *e)
{
    int rc;

    if (engine_init_all(e) != LFP_OK)
        return 2;
    if (engine_start_threads(e) != LFP_OK) {
        lf_log_error(ENGINE_LOG, "cannot start threads: %s", strerror(errno));
        e->failed = 1;
        atomic_store(&e->stop_requested, 1);
    }
    lf_log_info(ENGINE_LOG, "started: %d inputs, %d filters, %d outputs, %d "
                "workers", e->ninputs, e->nfilters, e->noutputs, e->nworkers);
    engine_start_http(e);
    while (!atomic_load(&e->stop_requested)) {
        if (engine_inputs_finished(e) && atomic_load(&e->inflight) == 0)
            break;
        engine_main_wait(e, 200);
        engine_tick(e);
    }
    if (atomic_load(&e->stop_requested))
        lf_log_info(ENGINE_LOG, "stopping: draining for up to %lld ms",
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
        lf_free(o->queue);
        if (o->queue) {
            pthread_mutex_destroy(&o->lock);
            pthread_cond_destroy(&o->cond);
        }
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
    lf_metrics_free(e->metrics);
    if (e->wake_fd >= 0)
        (void)close(e->wake_fd);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_cond_destroy(&e->pool_cond);
    pthread_mutex_destroy(&e->work_lock);
    pthread_cond_destroy(&e->work_cond);
    pthread_mutex_destroy(&e->route_lock);
    lf_free(e);
}
