/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_output.c - an output's threads: delivery with retries, circuit
 * breaker and dead letters, and the disk buffer.
 *
 *   router --push--> queue (memory, FIFO) --pop--> sender --flush--> sink
 *                      |                             ^
 *                      +--> spiller --> storage -----+  (disk first)
 *
 * The sender delivers chunks from disk first, then from memory, so a
 * restart replays what was buffered before new data, and order holds:
 * the spiller only ever takes the queue's head, so every chunk on disk is
 * older than every chunk in memory. While it spills, the sender does not
 * take from memory (the head in flight to disk is older).
 *
 * A memory chunk whose flush fails is moved to the front of the disk
 * queue (it is older than every chunk there) and acked, so a failing sink
 * holds back neither the reading nor the committed offsets of the inputs;
 * the sender retries it from disk.
 *
 * The spiller (only with storage.path) writes the head of the queue to
 * disk when the output is behind: its queue holds more than mem_buf_limit
 * bytes, the sender is waiting (backoff or breaker open), there is already
 * a backlog on disk, or delivery was abandoned at shutdown. A chunk on disk
 * is acknowledged to its input at once, so a slow sink never holds the
 * tail back while storage.total_limit_size lasts; past it the spiller
 * waits, the pool runs dry and inputs pause.
 *
 * Locks: o->lock guards the queue and the is_* flags; storage has its own
 * lock, taken inside o->lock, never the other way round. Both threads wait
 * on o->cond, so every change broadcasts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chunk.h"
#include "dlq.h"
#include "engine_int.h"
#include "log.h"
#include "mem.h"
#include "storage.h"
#include "storage_codec.h"

#define OUTPUT_SPILL_ERROR_WAIT_MS 1000

enum output_result {
    OUTPUT_DELIVERED, /* the sink has it, or the dead-letter file */
    OUTPUT_MOVED,     /* a memory chunk that failed is now first on disk */
    OUTPUT_ABANDONED, /* shutdown past grace: left where it was */
};

static uint64_t output_live_records(const struct lfp_chunk *c)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < c->nrecords; i++)
        n += (c->records[i].flags & LFP_REC_DROPPED) == 0;
    return n;
}

static size_t output_chunk_bytes(const struct lfp_chunk *c)
{
    size_t n = 0;

    for (uint32_t i = 0; i < c->nrecords; i++)
        n += (size_t)c->records[i].raw_len + 1;
    return n;
}

static void output_broadcast(struct engine_output *o)
{
    pthread_mutex_lock(&o->lock);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

/* Waits up to ms or until the engine abandons delivery. Locks: takes
 * o->lock. */
static void output_wait(struct engine_output *o, int64_t ms)
{
    struct lf_engine *e = o->ins.engine;
    struct timespec ts;

    if (ms <= 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&o->lock);
    while (!atomic_load(&e->abandon))
        if (pthread_cond_timedwait(&o->cond, &o->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&o->lock);
}

static void output_set_blocked(struct engine_output *o, int blocked)
{
    pthread_mutex_lock(&o->lock);
    if (o->is_blocked != blocked) {
        o->is_blocked = blocked;
        pthread_cond_broadcast(&o->cond);
    }
    pthread_mutex_unlock(&o->lock);
}

/* ---- breaker and dead letters ----------------------------------------- */

static void output_breaker_changed(struct engine_output *o, int before)
{
    int now = atomic_load(&o->breaker.state);

    if (now == before)
        return;
    if (now == LF_BREAKER_OPEN) {
        atomic_fetch_add(&o->stats.breaker_opens, 1);
        lf_log_warn(o->ins.label,
                    "circuit breaker %s -> open after %lld failures in a "
                    "row: no sends for %lld ms",
                    lf_breaker_state_name(before),
                    (long long)o->breaker.failures,
                    (long long)o->breaker.cooldown_ms);
    } else {
        lf_log_info(o->ins.label, "circuit breaker %s -> %s",
                    lf_breaker_state_name(before), lf_breaker_state_name(now));
    }
}

static void output_breaker_record(struct engine_output *o, int ok)
{
    int before = atomic_load(&o->breaker.state);

    (void)lf_breaker_record(&o->breaker, ok, lf_engine_now_ms());
    output_breaker_changed(o, before);
}

/* Puts c in the dead-letter file (or drops and counts it without one). */
static void output_dead_letter(struct engine_output *o,
                               const struct lfp_chunk *c, const char *why,
                               unsigned attempts)
{
    uint64_t live = output_live_records(c), n = 0;
    struct lfp_err err = {0};

    atomic_fetch_add(&o->ins.counters[LFP_CNT_ERRORS], 1);
    if (o->dlq && lf_dlq_write(o->dlq, c, why, attempts, &n, &err) == LFP_OK) {
        atomic_fetch_add(&o->stats.dead_letters, n);
        lf_log_error(o->ins.label, "%llu records dead-lettered to %s: %s",
                     (unsigned long long)n, o->oc.dlq_path, why);
        return;
    }
    atomic_fetch_add(&o->ins.counters[LFP_CNT_DROPPED], live);
    atomic_fetch_add(&o->stats.dlq_dropped, live);
    if (o->dlq)
        lf_log_error(o->ins.label,
                     "%llu records dropped: %s (and the "
                     "dead-letter file failed: %s)",
                     (unsigned long long)live, why, err.msg);
    else
        lf_log_error(o->ins.label, "%llu records dropped (no dlq.path): %s",
                     (unsigned long long)live, why);
}

/* ---- delivery --------------------------------------------------------- */

/* Waits while the breaker is open; returns 0 if delivery was abandoned. */
static int output_breaker_wait(struct engine_output *o)
{
    struct lf_engine *e = o->ins.engine;

    for (;;) {
        int before = atomic_load(&o->breaker.state);
        int64_t ms = lf_breaker_wait_ms(&o->breaker, lf_engine_now_ms());
        output_breaker_changed(o, before);
        if (ms == 0)
            return !atomic_load(&e->abandon);
        output_set_blocked(o, 1);
        output_wait(o, ms);
        if (atomic_load(&e->abandon))
            return 0;
    }
}

/* A RETRY answer: dead-letters past the limit (returns 1), or waits the
 * backoff (returns 0); a memory chunk with storage is moved to disk (the
 * caller does it) before the wait instead. */
static int output_retry(struct engine_output *o, const struct lfp_chunk *c,
                        unsigned *attempt, const char *msg, int is_memory)
{
    int64_t base = o->oc.retry_base_ms ? o->oc.retry_base_ms
                                       : o->ins.engine->svc.retry_base_ms;
    int64_t max = o->oc.retry_max_delay_ms
                      ? o->oc.retry_max_delay_ms
                      : o->ins.engine->svc.retry_max_delay_ms;
    int64_t delay;
    char why[320];

    atomic_fetch_add(&o->ins.counters[LFP_CNT_RETRIES], 1);
    output_breaker_record(o, 0);
    if (o->retry_limit >= 0 && *attempt >= (unsigned)o->retry_limit) {
        (void)snprintf(why, sizeof(why), "retry_limit %lld reached: %s",
                       (long long)o->retry_limit, msg);
        output_dead_letter(o, c, why, *attempt + 1);
        return 1;
    }
    delay = lf_breaker_backoff_ms(base, max, *attempt, &o->seed);
    (*attempt)++;
    lf_log_warn(o->ins.label, "flush failed, retry %u in %lld ms: %s", *attempt,
                (long long)delay, msg);
    o->retry_at_ms = lf_engine_now_ms() + delay;
    if (is_memory && o->storage)
        return 0; /* moved to disk first, the wait comes next */
    output_set_blocked(o, 1);
    output_wait(o, delay);
    return 0;
}

/* Moves a memory chunk that failed to the front of the disk queue;
 * returns 1 if it is there (the caller acks it). */
static int output_move_to_disk(struct engine_output *o,
                               const struct lfp_chunk *c)
{
    struct lfp_err err = {0};
    const void *data;
    size_t len;
    uint32_t nrec;

    if (lf_storage_encode(o->codec_send, c, &data, &len, &nrec, &err) !=
            LFP_OK ||
        lf_storage_put_front(o->storage, data, len, &err) != LFP_OK) {
        lf_log_error(o->ins.label, "disk buffer: %s (kept in memory)", err.msg);
        return 0;
    }
    atomic_fetch_add(&o->stats.spilled_chunks, 1);
    atomic_store(&o->stats.storage_bytes, lf_storage_bytes(o->storage));
    atomic_store(&o->stats.storage_chunks, lf_storage_count(o->storage));
    return 1;
}

/* Delivers c: retries transient failures with backoff, respects the
 * breaker, dead-letters permanent failures and those past retry_limit.
 * is_memory: c is a pool chunk (with storage, a failure moves it to
 * disk). *attempt: retries so far, carried over when a chunk moves. */
static int output_deliver(struct engine_output *o, const struct lfp_chunk *c,
                          int is_memory, unsigned *attempt)
{
    struct lf_engine *e = o->ins.engine;
    int result = OUTPUT_ABANDONED;

    for (;;) {
        struct lfp_err err = {0};
        int rc;

        if (!output_breaker_wait(o))
            break;
        rc = o->def->flush(o->ins.ctx, c, &err);
        if (rc == LFP_FLUSH_OK) {
            output_breaker_record(o, 1);
            atomic_fetch_add_explicit(&o->ins.counters[LFP_CNT_RECORDS_OUT],
                                      output_live_records(c),
                                      memory_order_relaxed);
            result = OUTPUT_DELIVERED;
            break;
        }
        if (rc != LFP_FLUSH_RETRY) {
            /* The sink answered: it is up, the data is bad. */
            output_breaker_record(o, 1);
            output_dead_letter(o, c, err.msg[0] ? err.msg : "refused",
                               *attempt + 1);
            result = OUTPUT_DELIVERED;
            break;
        }
        if (output_retry(o, c, attempt, err.msg, is_memory)) {
            result = OUTPUT_DELIVERED;
            break;
        }
        if (is_memory && o->storage) {
            if (output_move_to_disk(o, c)) {
                result = OUTPUT_MOVED;
                break;
            }
            output_set_blocked(o, 1);
            output_wait(o, o->retry_at_ms - lf_engine_now_ms());
        }
        if (atomic_load(&e->abandon))
            break;
    }
    output_set_blocked(o, 0);
    return result;
}

/* Sends the oldest chunk on disk; returns 0 if delivery was abandoned. */
static int output_send_disk(struct engine_output *o, uint64_t id)
{
    struct lfp_err err = {0};
    size_t len = 0;
    int rc;

    lf_chunk_reset(o->replay);
    rc =
        lf_storage_load(o->storage, id, &o->load_buf, &o->load_cap, &len, &err);
    if (rc == LFP_OK)
        rc =
            lf_storage_decode(o->codec_send, o->load_buf, len, o->replay, &err);
    if (rc != LFP_OK) {
        lf_storage_set_aside(o->storage, id, err.msg);
        atomic_store(&o->stats.corrupt_chunks, lf_storage_corrupt(o->storage));
    } else {
        unsigned attempt = o->carry_attempt;
        int64_t wait = o->retry_at_ms - lf_engine_now_ms();
        o->carry_attempt = 0;
        if (wait > 0) { /* the backoff of a chunk moved from memory */
            output_set_blocked(o, 1);
            output_wait(o, wait);
        }
        if (output_deliver(o, o->replay, 0, &attempt) == OUTPUT_ABANDONED)
            return 0;
        atomic_fetch_add(&o->stats.replayed_chunks, 1);
        lf_storage_drop(o->storage, id);
    }
    atomic_store(&o->stats.storage_bytes, lf_storage_bytes(o->storage));
    atomic_store(&o->stats.storage_chunks, lf_storage_count(o->storage));
    output_broadcast(o); /* room on disk for the spiller */
    return 1;
}

/* Takes the queue's head. Locks: caller holds o->lock. */
static struct lfp_chunk *output_pop(struct engine_output *o)
{
    size_t n = (size_t)o->ins.engine->svc.max_chunks;
    struct lfp_chunk *c = o->queue[o->qhead];

    o->qbytes -= o->qbytes_of[o->qhead];
    o->qhead = (o->qhead + 1) % n;
    o->qlen--;
    return c;
}

/* What the sender does next: 1 with *c (memory) or *id (disk), 0 to
 * end. Locks: caller holds o->lock. */
static int output_next(struct engine_output *o, struct lfp_chunk **c,
                       uint64_t *id)
{
    struct lf_engine *e = o->ins.engine;

    for (;;) {
        if (atomic_load(&e->abandon))
            return 0;
        if (o->storage && lf_storage_head(o->storage, id))
            return 1;
        if (o->qlen > 0 && !o->is_spilling) {
            *c = output_pop(o);
            return 1;
        }
        if (o->quit && o->qlen == 0 && !o->is_spilling)
            return 0;
        pthread_cond_wait(&o->cond, &o->lock);
    }
}

static void *output_send_main(void *arg)
{
    struct engine_output *o = arg;
    struct lf_engine *e = o->ins.engine;

    for (;;) {
        struct lfp_chunk *c = NULL;
        uint64_t id = 0;
        unsigned attempt;
        int more, res;

        pthread_mutex_lock(&o->lock);
        more = output_next(o, &c, &id);
        pthread_mutex_unlock(&o->lock);
        if (!more)
            break;
        if (!c) {
            if (!output_send_disk(o, id))
                break;
            continue;
        }
        attempt = 0;
        res = output_deliver(o, c, 1, &attempt);
        if (res == OUTPUT_ABANDONED)
            break; /* stays unacked: read again on the next start */
        if (res == OUTPUT_MOVED)
            o->carry_attempt = attempt;
        lf_engine_chunk_done(e, c);
    }
    return NULL;
}

/* ---- spilling to disk ------------------------------------------------- */

/* Whether the spiller should write the queue's head now. Locks: caller
 * holds o->lock. */
static int output_should_spill(struct engine_output *o)
{
    struct lf_engine *e = o->ins.engine;

    if (o->qlen == 0 || o->is_spilling)
        return 0;
    return o->is_blocked || atomic_load(&e->abandon) ||
           o->qbytes > (size_t)o->oc.mem_buf_limit ||
           lf_storage_count(o->storage) > 0;
}

/* Whether the head fits under storage.total_limit_size; logs the edges.
 * Locks: caller holds o->lock. */
static int output_has_room(struct engine_output *o, int *was_full)
{
    uint64_t used = lf_storage_bytes(o->storage);
    int room =
        used + o->qbytes_of[o->qhead] <= (uint64_t)o->oc.storage_total_limit;

    if (!room && !*was_full) {
        atomic_fetch_add(&o->stats.storage_full, 1);
        lf_log_warn(o->ins.label,
                    "disk buffer full (%llu bytes of %lld): "
                    "inputs pause until the sink catches up",
                    (unsigned long long)used,
                    (long long)o->oc.storage_total_limit);
    } else if (room && *was_full) {
        lf_log_info(o->ins.label, "disk buffer has room again");
    }
    *was_full = !room;
    return room;
}

/* Writes c to disk. Returns LFP_OK once it is durably there. */
static int output_spill_one(struct engine_output *o, struct lfp_chunk *c,
                            struct lfp_err *err)
{
    const void *data;
    size_t len;
    uint32_t nrec;

    if (lf_storage_encode(o->codec_spill, c, &data, &len, &nrec, err) != LFP_OK)
        return LFP_ERR_IO;
    if (nrec == 0)
        return LFP_OK; /* every record was filtered out */
    if (lf_storage_put(o->storage, data, len, err) != LFP_OK)
        return LFP_ERR_IO;
    atomic_fetch_add(&o->stats.spilled_chunks, 1);
    atomic_store(&o->stats.storage_bytes, lf_storage_bytes(o->storage));
    atomic_store(&o->stats.storage_chunks, lf_storage_count(o->storage));
    return LFP_OK;
}

/* Puts c back at the head after a failed spill. Locks: caller holds
 * o->lock. */
static void output_unpop(struct engine_output *o, struct lfp_chunk *c,
                         size_t bytes)
{
    size_t n = (size_t)o->ins.engine->svc.max_chunks;

    o->qhead = (o->qhead + n - 1) % n;
    o->queue[o->qhead] = c;
    o->qbytes_of[o->qhead] = bytes;
    o->qbytes += bytes;
    o->qlen++;
}

/* Spills the head; called and returns with o->lock held. */
static void output_spill_head(struct engine_output *o)
{
    size_t bytes = o->qbytes_of[o->qhead];
    struct lfp_chunk *c = output_pop(o);
    struct lfp_err err = {0};
    int rc;

    o->is_spilling = 1;
    pthread_mutex_unlock(&o->lock);
    rc = output_spill_one(o, c, &err);
    if (rc == LFP_OK)
        lf_engine_chunk_done(o->ins.engine, c);
    else
        lf_log_error(o->ins.label, "disk buffer: %s (kept in memory)", err.msg);
    pthread_mutex_lock(&o->lock);
    o->is_spilling = 0;
    if (rc != LFP_OK)
        output_unpop(o, c, bytes);
    pthread_cond_broadcast(&o->cond);
    if (rc != LFP_OK) {
        pthread_mutex_unlock(&o->lock);
        output_wait(o, OUTPUT_SPILL_ERROR_WAIT_MS);
        pthread_mutex_lock(&o->lock);
    }
}

static void *output_spill_main(void *arg)
{
    struct engine_output *o = arg;
    int was_full = 0;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        if (output_should_spill(o) && output_has_room(o, &was_full)) {
            output_spill_head(o);
            continue;
        }
        if (o->quit)
            break;
        pthread_cond_wait(&o->cond, &o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

/* ---- set-up and tear-down --------------------------------------------- */

/* "<storage.path>/<label>", ':' and '/' made '.'. */
static void output_storage_dir(const struct engine_output *o, char *buf,
                               size_t cap)
{
    size_t n =
        (size_t)snprintf(buf, cap, "%s/", o->ins.engine->svc.storage_path);
    for (const char *p = o->ins.label; *p && n + 1 < cap; p++)
        buf[n++] = (char)((*p == ':' || *p == '/') ? '.' : *p);
    buf[n < cap ? n : cap - 1] = '\0';
}

int lf_engine_output_setup(struct lf_engine *e, struct engine_output *o,
                           struct lfp_err *err)
{
    size_t n = (size_t)e->svc.max_chunks;
    char dir[4096];

    o->queue = lf_calloc(n, sizeof(void *));
    o->qbytes_of = lf_calloc(n, sizeof(size_t));
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->seed = (unsigned)(uintptr_t)o ^ (unsigned)time(NULL);
    lf_breaker_init(&o->breaker, o->oc.breaker_failures,
                    o->oc.breaker_cooldown_ms);
    if (o->oc.dlq_path &&
        lf_dlq_open(o->oc.dlq_path, o->ins.label, &o->dlq, err) != LFP_OK)
        return LFP_ERR_IO;
    if (!e->svc.storage_path)
        return LFP_OK;
    output_storage_dir(o, dir, sizeof(dir));
    if (lf_storage_open(dir, o->ins.label, &o->storage, err) != LFP_OK)
        return LFP_ERR_IO;
    lf_storage_set_sync(o->storage, e->svc.storage_sync);
    o->codec_send = lf_storage_codec_new(1);
    o->codec_spill = lf_storage_codec_new(1);
    o->replay =
        lf_chunk_new((size_t)e->svc.chunk_size, (size_t)e->svc.chunk_size);
    atomic_store(&o->stats.storage_bytes, lf_storage_bytes(o->storage));
    atomic_store(&o->stats.storage_chunks, lf_storage_count(o->storage));
    /* Files too short for a header were set aside by the open. */
    atomic_store(&o->stats.corrupt_chunks, lf_storage_corrupt(o->storage));
    return LFP_OK;
}

int lf_engine_output_start(struct engine_output *o)
{
    if (pthread_create(&o->thread, NULL, output_send_main, o) != 0)
        return LFP_ERR_IO;
    o->started = 1;
    lf_engine_name_thread(o->thread, "", o->ins.label);
    if (!o->storage)
        return LFP_OK;
    if (pthread_create(&o->spill_thread, NULL, output_spill_main, o) != 0)
        return LFP_ERR_IO;
    o->spill_started = 1;
    lf_engine_name_thread(o->spill_thread, "sp:", o->ins.label);
    return LFP_OK;
}

void lf_engine_output_push(struct engine_output *o, struct lfp_chunk *c)
{
    size_t n = (size_t)o->ins.engine->svc.max_chunks;
    size_t bytes = o->storage ? output_chunk_bytes(c) : 0;
    size_t slot;

    pthread_mutex_lock(&o->lock);
    /* Never full: at most max_chunks chunks exist. */
    slot = (o->qhead + o->qlen) % n;
    o->queue[slot] = c;
    o->qbytes_of[slot] = bytes;
    o->qbytes += bytes;
    o->qlen++;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

int lf_engine_output_has_backlog(struct engine_output *o)
{
    return o->storage && lf_storage_count(o->storage) > 0;
}

void lf_engine_output_wake(struct engine_output *o)
{
    if (o->queue)
        output_broadcast(o);
}

void lf_engine_output_join(struct engine_output *o)
{
    if (o->queue) {
        pthread_mutex_lock(&o->lock);
        o->quit = 1;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
    }
    if (o->started)
        pthread_join(o->thread, NULL);
    if (o->spill_started)
        pthread_join(o->spill_thread, NULL);
    o->started = o->spill_started = 0;
}

void lf_engine_output_fini(struct engine_output *o)
{
    if (o->queue) {
        pthread_mutex_destroy(&o->lock);
        pthread_cond_destroy(&o->cond);
    }
    lf_free(o->queue);
    lf_free(o->qbytes_of);
    o->queue = NULL;
    lf_storage_free(o->storage);
    lf_dlq_free(o->dlq);
    lf_storage_codec_free(o->codec_send);
    lf_storage_codec_free(o->codec_spill);
    lf_chunk_free(o->replay);
    lf_free(o->load_buf);
}
