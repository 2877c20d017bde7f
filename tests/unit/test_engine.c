/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - the pipeline's promises, with test plugins:
 *   - every chunk is acked to its input exactly once, and only after every
 *     matching output reported OK (retries included);
 *   - outputs see chunks in emit order even with several workers;
 *   - tags route chunks only to matching outputs;
 *   - back-pressure: no more than max_chunks chunks exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "engine_int.h"
#include "registry.h"

#define GEN_CHUNKS 400
#define GEN_LINES 50

/* ---- a generating input ---- */

struct gen_conf {
    int64_t chunks;
};

static const struct lfp_option gen_options[] = {
    {.name = "chunks", .type = LFP_OPT_INT, .def = "400",
     .offset = offsetof(struct gen_conf, chunks), .desc = "Chunks to emit."},
    {0},
};

struct gen_ctx {
    struct lfp_instance *ins;
    const struct lfp_host *host;
    int64_t chunks;
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
            int n = snprintf(raw + len, cap - len, "%lld:%d",
                             (long long)i, l);
            g->host->chunk_add_line(c, (uint32_t)len, (uint32_t)n, 0);
            len += (size_t)n + 1;
        }
        c->pos_seq = (uint64_t)i;
        g->host->chunk_emit(g->ins, c);
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
    {.name = "id", .type = LFP_OPT_INT, .def = "0",
     .offset = offsetof(struct sink_conf, id), .desc = "Sink number."},
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
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_INPUT,
    &gen_def};
static const struct lfp_plugin_entry sink_entry = {
    LFP_ABI_VERSION, sizeof(struct lfp_plugin_entry), LFP_KIND_OUTPUT,
    &sink_def};

static int setup(void **state)
{
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_registry_add(&gen_entry, &err), LFP_OK);
    assert_int_equal(lf_registry_add(&sink_entry, &err), LFP_OK);
    return 0;
}

static void test_every_chunk_acked_once_after_all_outputs_in_order(
    void **state)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_chunk_acked_once_after_all_outputs_in_order),
        cmocka_unit_test(test_tag_match_wildcards),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
