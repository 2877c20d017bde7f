/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - the pipeline's promises, with test plugins:
 *   - every chunk is acked to its input exactly once, and only after every
 *     matching output reported OK (retries included);
 *   - outputs see chunks in emit order even with several workers;
 *   - tags route chunks only to matching outputs;
 *   - back-pressure: no more than max_chunks chunks exist;
 *   - retry_limit and ERROR send chunks to the dead-letter file, and they
 *     are acked (nothing is held or lost);
 *   - with storage.path, a blocked output spills to disk, acks its input,
 *     and the next run replays the disk buffer first, in order;
 *   - an auxiliary input does not keep exit_on_eof from finishing;
 *   - filters see every record of a chunk once, though the workers hand
 *     them over in runs of records, and outputs get the chunk whole;
 *   - a light stream is taken by one worker, a backlog wakes the others;
 *   - the engine's [output] keys are checked with file:line.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "engine_int.h"
#include "lf_test.h"
#include "mem.h"
#include "registry.h"

#define GEN_CHUNKS 400
#define GEN_LINES 50

/* ---- a generating input ---- */

struct gen_conf {
    int64_t chunks;
    int64_t gap_ms;
};

static const struct lfp_option gen_options[] = {
    {.name = "chunks",
     .type = LFP_OPT_INT,
     .def = "400",
     .offset = offsetof(struct gen_conf, chunks),
     .desc = "Chunks to emit."},
    {.name = "gap_ms",
     .type = LFP_OPT_INT,
     .def = "0",
     .offset = offsetof(struct gen_conf, gap_ms),
     .desc = "Pause after each chunk, in milliseconds."},
    {0},
};

struct gen_ctx {
    struct lfp_instance *ins;
    const struct lfp_host *host;
    int64_t chunks;
    int64_t gap_ms;
};

static atomic_int gen_acks[GEN_CHUNKS];
static atomic_int gen_ack_before_outputs;
static atomic_int sink_flushed[2][GEN_CHUNKS];
static atomic_int sink_order_errors;
static atomic_int other_calls;

static int gen_init(struct lfp_instance *ins, const struct lfp_host *host,
                    const void *conf, void **ctx, struct lfp_err *err)
{
    static struct gen_ctx g;

    (void)err;
    g.ins = ins;
    g.host = host;
    g.chunks = ((const struct gen_conf *)conf)->chunks;
    g.gap_ms = ((const struct gen_conf *)conf)->gap_ms;
    *ctx = &g;
    return LFP_OK;
}

static int gen_run(void *vctx)
{
    struct gen_ctx *g = vctx;

    for (int64_t i = 0; i < g->chunks; i++) {
        struct lfp_chunk *c = g->host->chunk_get(g->ins);
        size_t cap, len = 0;
        char *raw;
        if (!c)
            return LFP_INPUT_STOPPED;
        raw = g->host->chunk_raw(c, &cap);
        for (int l = 0; l < GEN_LINES; l++) {
            int n = snprintf(raw + len, cap - len, "%lld:%d", (long long)i, l);
            g->host->chunk_add_line(c, (uint32_t)len, (uint32_t)n, 0);
            len += (size_t)n + 1;
        }
        c->pos_seq = (uint64_t)i;
        g->host->chunk_emit(g->ins, c);
        if (g->gap_ms > 0)
            (void)poll(NULL, 0, (int)g->gap_ms);
    }
    return LFP_INPUT_DONE;
}

static void gen_ack(void *vctx, const struct lfp_chunk *c)
{
    (void)vctx;
    atomic_fetch_add(&gen_acks[c->pos_seq], 1);
    if (!atomic_load(&sink_flushed[0][c->pos_seq]) ||
        !atomic_load(&sink_flushed[1][c->pos_seq]))
        atomic_fetch_add(&gen_ack_before_outputs, 1);
}

static const struct lfp_input_def gen_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_input_def),
    .name = "gen",
    .options = gen_options,
    .conf_size = sizeof(struct gen_conf),
    .init = gen_init,
    .run = gen_run,
    .ack = gen_ack,
};

/* ---- sinks: two outputs, the first fails every 7th chunk once ---- */

struct sink_conf {
    int64_t id;
};

static const struct lfp_option sink_options[] = {
    {.name = "id",
     .type = LFP_OPT_INT,
     .def = "0",
     .offset = offsetof(struct sink_conf, id),
     .desc = "Sink number."},
    {0},
};

struct sink_ctx {
    int id;
    int64_t next;
};

static int sink_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *conf, void **ctx, struct lfp_err *err)
{
    static struct sink_ctx sinks[3];
    int id = (int)((const struct sink_conf *)conf)->id;

    (void)ins;
    (void)host;
    (void)err;
    sinks[id].id = id;
    sinks[id].next = 0;
    *ctx = &sinks[id];
    return LFP_OK;
}

static int sink_flush(void *vctx, const struct lfp_chunk *c,
                      struct lfp_err *err)
{
    struct sink_ctx *s = vctx;
    static atomic_int failed[GEN_CHUNKS];

    if (s->id == 2) {
        atomic_fetch_add(&other_calls, 1);
        return LFP_FLUSH_OK;
    }
    if (s->id == 0 && c->pos_seq % 7 == 3 &&
        atomic_fetch_add(&failed[c->pos_seq], 1) == 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "transient");
        return LFP_FLUSH_RETRY;
    }
    if ((int64_t)c->pos_seq != s->next || c->nrecords != GEN_LINES)
        atomic_fetch_add(&sink_order_errors, 1);
    s->next = (int64_t)c->pos_seq + 1;
    atomic_store(&sink_flushed[s->id][c->pos_seq], 1);
    return LFP_FLUSH_OK;
}

static const struct lfp_output_def sink_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "sink",
    .options = sink_options,
    .conf_size = sizeof(struct sink_conf),
    .init = sink_init,
    .flush = sink_flush,
};

static const struct lfp_plugin_entry gen_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_INPUT, &gen_def};
static const struct lfp_plugin_entry sink_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_OUTPUT,
    &sink_def};

/* ---- a sink with a fixed answer, counting what it got ---- */

struct fixed_conf {
    int mode; /* 0 ok, 1 retry, 2 error */
};

static const char *const fixed_modes[] = {"ok", "retry", "error", NULL};

static const struct lfp_option fixed_options[] = {
    {.name = "mode",
     .type = LFP_OPT_ENUM,
     .def = "ok",
     .enum_values = fixed_modes,
     .offset = offsetof(struct fixed_conf, mode),
     .desc = "Answer."},
    {0},
};

static atomic_int fixed_records; /* records accepted */
static atomic_int fixed_calls;   /* flush calls */
static atomic_int fixed_order_errors;
static long fixed_next; /* next chunk number expected */

static int fixed_init(struct lfp_instance *ins, const struct lfp_host *host,
                      const void *conf, void **ctx, struct lfp_err *err)
{
    (void)ins;
    (void)host;
    (void)err;
    *ctx = (void *)conf;
    return LFP_OK;
}

static int fixed_flush(void *vctx, const struct lfp_chunk *c,
                       struct lfp_err *err)
{
    const struct fixed_conf *conf = vctx;

    atomic_fetch_add(&fixed_calls, 1);
    if (conf->mode != 0) {
        (void)snprintf(err->msg, sizeof(err->msg), "fixed %s",
                       fixed_modes[conf->mode]);
        return conf->mode == 1 ? LFP_FLUSH_RETRY : LFP_FLUSH_ERROR;
    }
    /* Raw lines are "chunk:line": chunks must come in order, whole. */
    if (c->nrecords != GEN_LINES ||
        strtol(c->records[0].raw, NULL, 10) != fixed_next)
        atomic_fetch_add(&fixed_order_errors, 1);
    fixed_next++;
    atomic_fetch_add(&fixed_records, (int)c->nrecords);
    return LFP_FLUSH_OK;
}

static const struct lfp_output_def fixed_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "fixed",
    .options = fixed_options,
    .conf_size = sizeof(struct fixed_conf),
    .init = fixed_init,
    .flush = fixed_flush,
};

/* ---- an input that runs until stopped ---- */

static int forever_init(struct lfp_instance *ins, const struct lfp_host *host,
                        const void *conf, void **ctx, struct lfp_err *err)
{
    (void)conf;
    (void)err;
    (void)host;
    *ctx = ins;
    return LFP_OK;
}

static int forever_run(void *vctx)
{
    struct lfp_instance *ins = vctx;

    struct pollfd pfd = {.fd = lf_host.stop_fd(ins), .events = POLLIN};

    while (!lf_host.is_stopping(ins))
        (void)poll(&pfd, 1, 100);
    return LFP_INPUT_STOPPED;
}

static const struct lfp_input_def forever_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_input_def),
    .name = "forever",
    .init = forever_init,
    .run = forever_run,
};

/* ---- a filter marking what it sees, a sink checking the marks ---- */

static atomic_int mark_calls;
static atomic_int marked_ok; /* records output with exactly one mark */

static int mark_init(struct lfp_instance *ins, const struct lfp_host *host,
                     const void *conf, void **ctx, struct lfp_err *err)
{
    (void)ins;
    (void)host;
    (void)conf;
    (void)err;
    *ctx = NULL;
    return LFP_OK;
}

static void mark_filter(void *vctx, void *wctx, struct lfp_chunk *chunk)
{
    (void)vctx;
    (void)wctx;
    atomic_fetch_add(&mark_calls, 1);
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        struct lfp_field *f = lf_host.record_add(chunk, &chunk->records[i]);
        f->key = "mark";
        f->key_len = 4;
        f->type = LFP_T_INT;
        f->v.i = 1;
    }
}

static const struct lfp_filter_def mark_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_filter_def),
    .name = "mark",
    .init = mark_init,
    .filter = mark_filter,
};

/* ---- a filter counting the workers that call it ---- */

#define WHO_MAX 8

static atomic_int who_calls[WHO_MAX];
static atomic_int who_next;
static atomic_int who_sleep_ms; /* per call: a slow filter makes a backlog */

static void *who_worker_new(void *ctx)
{
    static int ids[WHO_MAX];
    int i = atomic_fetch_add(&who_next, 1);

    (void)ctx;
    assert_true(i < WHO_MAX);
    ids[i] = i;
    return &ids[i];
}

static void who_filter(void *vctx, void *wctx, struct lfp_chunk *chunk)
{
    (void)vctx;
    (void)chunk;
    atomic_fetch_add(&who_calls[*(int *)wctx], 1);
    if (atomic_load(&who_sleep_ms) > 0)
        (void)poll(NULL, 0, atomic_load(&who_sleep_ms));
}

static const struct lfp_filter_def who_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_filter_def),
    .name = "who",
    .init = mark_init,
    .filter = who_filter,
    .worker_new = who_worker_new,
};

/* Workers whose filter was called, after one run with who. */
static int who_workers(void)
{
    int n = 0;

    for (int i = 0; i < WHO_MAX; i++)
        n += atomic_load(&who_calls[i]) > 0;
    return n;
}

static void who_reset(int sleep_ms)
{
    for (int i = 0; i < WHO_MAX; i++)
        atomic_store(&who_calls[i], 0);
    atomic_store(&who_next, 0);
    atomic_store(&who_sleep_ms, sleep_ms);
}

static int marked_flush(void *vctx, const struct lfp_chunk *c,
                        struct lfp_err *err)
{
    (void)vctx;
    (void)err;
    for (uint32_t i = 0; i < c->nrecords; i++) {
        const struct lfp_record *rec = &c->records[i];
        int marks = 0;
        for (uint32_t j = 0; j < rec->nfields; j++)
            marks += rec->fields[j].key_len == 4 &&
                     memcmp(rec->fields[j].key, "mark", 4) == 0;
        if (marks == 1 && c->nrecords == GEN_LINES)
            atomic_fetch_add(&marked_ok, 1);
    }
    return LFP_FLUSH_OK;
}

static const struct lfp_output_def marked_def = {
    .abi_version = LFP_ABI_VERSION,
    .struct_size = sizeof(struct lfp_output_def),
    .name = "marked",
    .init = mark_init,
    .flush = marked_flush,
};

static const struct lfp_plugin_entry mark_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_FILTER,
    &mark_def};
static const struct lfp_plugin_entry who_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_FILTER,
    &who_def};
static const struct lfp_plugin_entry marked_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_OUTPUT,
    &marked_def};

static const struct lfp_plugin_entry fixed_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_OUTPUT,
    &fixed_def};
static const struct lfp_plugin_entry forever_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_INPUT,
    &forever_def};

static int setup(void **state)
{
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_registry_add(&gen_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&sink_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&fixed_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&forever_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&mark_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&marked_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&who_entry, &err), LFP_OK);
    return 0;
}

static void fixed_reset(void)
{
    atomic_store(&fixed_records, 0);
    atomic_store(&fixed_calls, 0);
    atomic_store(&fixed_order_errors, 0);
    fixed_next = 0;
    for (int i = 0; i < GEN_CHUNKS; i++)
        atomic_store(&gen_acks[i], 0);
}

static struct lf_engine *engine_from(const char *text)
{
    struct lf_config *conf = NULL;
    struct lf_engine *e = NULL;
    struct lfp_err err = {0};

    if (lf_config_load_string("t.conf", text, NULL, &conf, &err) != LFP_OK ||
        lf_engine_new(conf, &e, &err) != LFP_OK)
        fail_msg("%s", err.msg);
    lf_config_free(conf);
    return e;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;

    if (!f)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    (void)fclose(f);
    return n;
}

static void test_every_chunk_acked_once_after_all_outputs_in_order(void **state)
{
    const char *text = "[service]\n workers 2\n max_chunks 8\n"
                       " chunk_size 4K\n retry_base 1ms\n"
                       "[input]\n name gen\n tag app.gen\n"
                       "[output]\n name sink\n match app.*\n id 0\n"
                       "[output]\n name sink\n match *\n id 1\n"
                       "[output]\n name sink\n match other.*\n id 2\n";
    struct lf_config *conf = NULL;
    struct lf_engine *e = NULL;
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_config_load_string("t.conf", text, NULL, &conf, &err),
                     LFP_OK);
    if (lf_engine_new(conf, &e, &err) != LFP_OK)
        fail_msg("%s", err.msg);
    lf_config_free(conf);
    assert_int_equal(lf_engine_run(e), 0);
    lf_engine_free(e);

    for (int i = 0; i < GEN_CHUNKS; i++)
        if (atomic_load(&gen_acks[i]) != 1)
            fail_msg("chunk %d acked %d times", i, atomic_load(&gen_acks[i]));
    assert_int_equal(atomic_load(&gen_ack_before_outputs), 0);
    assert_int_equal(atomic_load(&sink_order_errors), 0);
    assert_int_equal(atomic_load(&other_calls), 0);
}

static void test_tag_match_wildcards(void **state)
{
    (void)state;
    assert_true(lf_engine_tag_match("*", "a.b"));
    assert_true(lf_engine_tag_match("nginx.*", "nginx.access"));
    assert_true(lf_engine_tag_match("*.access", "nginx.access"));
    assert_true(lf_engine_tag_match("n*x.*s", "nginx.access"));
    assert_false(lf_engine_tag_match("nginx.*", "envoy.access"));
    assert_false(lf_engine_tag_match("nginx", "nginx.access"));
}

static void dlq_case(const char *mode, const char *extra, int want_calls)
{
    char *dir = lf_test_tmpdir("lfengine");
    char text[1024], dlq[600];
    struct lf_engine *e;

    fixed_reset();
    (void)snprintf(dlq, sizeof(dlq), "%s/dead.jsonl", dir);
    (void)snprintf(text, sizeof(text),
                   "[service]\n workers 2\n max_chunks 8\n chunk_size 4K\n"
                   "[input]\n name gen\n tag app.gen\n chunks 20\n"
                   "[output]\n name fixed\n match *\n mode %s\n"
                   " retry_base 1ms\n retry_max_delay 2ms\n"
                   " breaker.failures 0\n dlq.path %s\n%s",
                   mode, dlq, extra);
    e = engine_from(text);
    assert_int_equal(lf_engine_run(e), 0);
    assert_true(atomic_load(&e->outputs[0].stats.dead_letters) ==
                (uint64_t)20 * GEN_LINES);
    lf_engine_free(e);
    for (int i = 0; i < 20; i++)
        assert_int_equal(atomic_load(&gen_acks[i]), 1);
    assert_int_equal(count_lines(dlq), 20 * GEN_LINES);
    assert_int_equal(atomic_load(&fixed_calls), want_calls);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_retry_limit_sends_chunks_to_the_dead_letter_file(void **state)
{
    (void)state;
    /* retry_limit 2: three attempts per chunk, then the dead-letter file. */
    dlq_case("retry", " retry_limit 2\n", 20 * 3);
}

static void test_error_goes_to_the_dead_letter_file_at_once(void **state)
{
    (void)state;
    dlq_case("error", "", 20);
}

struct run_arg {
    struct lf_engine *e;
    int rc;
};

static void *run_thread(void *arg)
{
    struct run_arg *r = arg;

    r->rc = lf_engine_run(r->e);
    return NULL;
}

/* Every chunk is on disk, the one that failed first included. */
static int spilled_all_cond(void *arg)
{
    struct lf_engine *e = arg;

    return atomic_load(&e->outputs[0].stats.spilled_chunks) == GEN_CHUNKS;
}

static void test_blocked_output_spills_to_disk_and_replays_first(void **state)
{
    char *dir = lf_test_tmpdir("lfengine");
    char text[1024];
    struct run_arg r = {0};
    pthread_t t;

    (void)state;
    fixed_reset();
    /* Run 1: the sink refuses everything; all chunks go to disk and are
     * acked, though the pool holds only 4 (the first to fail moves to the
     * front of the disk queue). */
    (void)snprintf(text, sizeof(text),
                   "[service]\n workers 2\n max_chunks 4\n chunk_size 4K\n"
                   " grace 50ms\n storage.path %s\n"
                   "[input]\n name gen\n tag app.gen\n chunks %d\n"
                   "[output]\n name fixed\n match *\n mode retry\n"
                   " alias sink\n retry_base 20ms\n breaker.failures 0\n",
                   dir, GEN_CHUNKS);
    r.e = engine_from(text);
    assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
    if (!lf_test_wait_until(spilled_all_cond, r.e, 10000))
        fail_msg("only %d chunks spilled while the sink was down",
                 (int)atomic_load(&r.e->outputs[0].stats.spilled_chunks));
    lf_engine_stop(r.e);
    pthread_join(t, NULL);
    /* All acked: the input may commit everything. */
    for (int i = 0; i < GEN_CHUNKS; i++)
        assert_int_equal(atomic_load(&gen_acks[i]), 1);
    assert_int_equal(atomic_load(&fixed_records), 0);
    lf_engine_free(r.e);

    /* Run 2: the sink works; no new data; the disk buffer is replayed in
     * order and the run ends once it is empty. */
    fixed_reset();
    (void)snprintf(text, sizeof(text),
                   "[service]\n workers 2\n max_chunks 4\n chunk_size 4K\n"
                   " storage.path %s\n"
                   "[input]\n name gen\n tag app.gen\n chunks 0\n"
                   "[output]\n name fixed\n match *\n alias sink\n",
                   dir);
    r.e = engine_from(text);
    assert_int_equal(lf_engine_run(r.e), 0);
    assert_int_equal(atomic_load(&r.e->outputs[0].stats.replayed_chunks),
                     GEN_CHUNKS);
    lf_engine_free(r.e);
    /* Everything came back from disk, in order, once. */
    assert_int_equal(atomic_load(&fixed_records), GEN_CHUNKS * GEN_LINES);
    assert_int_equal(atomic_load(&fixed_order_errors), 0);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_auxiliary_input_does_not_block_exit_on_eof(void **state)
{
    struct lf_engine *e;

    (void)state;
    fixed_reset();
    e = engine_from("[service]\n workers 1\n max_chunks 4\n chunk_size 4K\n"
                    "[input]\n name gen\n tag app.gen\n chunks 10\n"
                    "[input]\n name forever\n tag aux\n"
                    "[output]\n name fixed\n match app.*\n");
    e->inputs[1].auxiliary = 1;
    assert_int_equal(lf_engine_run(e), 0);
    assert_int_equal(atomic_load(&fixed_records), 10 * GEN_LINES);
    assert_int_equal(atomic_load(&e->inputs[1].finished), 1);
    lf_engine_free(e);
}

static void test_filters_see_each_record_once_in_runs(void **state)
{
    struct lf_engine *e;

    (void)state;
    e = engine_from("[service]\n workers 2\n max_chunks 4\n chunk_size 4K\n"
                    "[input]\n name gen\n tag app.gen\n chunks 20\n"
                    "[filter]\n name mark\n match *\n"
                    "[output]\n name marked\n match *\n");
    assert_int_equal(lf_engine_run(e), 0);
    lf_engine_free(e);
    assert_int_equal(atomic_load(&marked_ok), 20 * GEN_LINES);
    /* GEN_LINES records are more than one run. */
    assert_true(atomic_load(&mark_calls) > 20);
}

/* A chunk every 10 ms, each taken in far less: the worker that fell asleep
 * last is woken each time, and the other sleeps. A filter that takes 20
 * ms a chunk makes a backlog, which wakes the second worker. */
static void test_light_stream_takes_one_worker_backlog_wakes_more(void **state)
{
#define WHO_CONF(gap)                                                          \
    "[service]\n workers 2\n max_chunks 8\n chunk_size 4K\n"                   \
    "[input]\n name gen\n tag app.gen\n chunks 30\n gap_ms " gap "\n"          \
    "[filter]\n name who\n match *\n"                                          \
    "[output]\n name marked\n match *\n"
    struct lf_engine *e;

    (void)state;
    who_reset(0);
    e = engine_from(WHO_CONF("10"));
    assert_int_equal(lf_engine_run(e), 0);
    lf_engine_free(e);
    assert_int_equal(who_workers(), 1);

    who_reset(20);
    e = engine_from(WHO_CONF("0"));
    assert_int_equal(lf_engine_run(e), 0);
    lf_engine_free(e);
    assert_int_equal(who_workers(), 2);
    atomic_store(&who_sleep_ms, 0);
#undef WHO_CONF
}

static void expect_config_error(const char *text, const char *want)
{
    struct lf_config *conf = NULL;
    struct lf_engine *e = NULL;
    struct lfp_err err = {0};

    assert_int_equal(lf_config_load_string("t.conf", text, NULL, &conf, &err),
                     LFP_OK);
    assert_int_not_equal(lf_engine_new(conf, &e, &err), LFP_OK);
    lf_config_free(conf);
    if (!strstr(err.msg, want))
        fail_msg("error '%s' does not contain '%s'", err.msg, want);
}

static void
test_output_reliability_keys_are_checked_with_file_line(void **state)
{
    (void)state;
    expect_config_error("[input]\n name gen\n"
                        "[output]\n name fixed\n match *\n"
                        " retry_limit often\n",
                        "t.conf:6: invalid value 'often' for 'retry_limit'");
    expect_config_error("[input]\n name gen\n"
                        "[output]\n name fixed\n match *\n"
                        " breaker.cooldown soon\n",
                        "t.conf:6: invalid value 'soon' for "
                        "'breaker.cooldown'");
    expect_config_error("[input]\n name gen\n"
                        "[output]\n name fixed\n match *\n"
                        " mem_buf_limit 1M\n mem_buf_limit 2M\n",
                        "t.conf:7: duplicate key 'mem_buf_limit'");
    /* The plugin's own unknown-key error still names the line. */
    expect_config_error("[input]\n name gen\n"
                        "[output]\n name fixed\n match *\n"
                        " retry_limit 3\n colour blue\n",
                        "t.conf:7: unknown key 'colour'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_every_chunk_acked_once_after_all_outputs_in_order),
        cmocka_unit_test(test_tag_match_wildcards),
        cmocka_unit_test(test_retry_limit_sends_chunks_to_the_dead_letter_file),
        cmocka_unit_test(test_error_goes_to_the_dead_letter_file_at_once),
        cmocka_unit_test(test_blocked_output_spills_to_disk_and_replays_first),
        cmocka_unit_test(test_auxiliary_input_does_not_block_exit_on_eof),
        cmocka_unit_test(test_filters_see_each_record_once_in_runs),
        cmocka_unit_test(test_light_stream_takes_one_worker_backlog_wakes_more),
        cmocka_unit_test(
            test_output_reliability_keys_are_checked_with_file_line),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
