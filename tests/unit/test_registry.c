/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_registry.c - the loader's ABI checks: definitions built against an
 * older minor version (a smaller struct) are accepted and their missing
 * members never read; newer or malformed ones are refused with both
 * versions named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

static int old_flush(void *ctx, const struct lfp_chunk *chunk,
                     struct lfp_err *err)
{
    (void)ctx;
    (void)chunk;
    (void)err;
    return LFP_FLUSH_OK;
}

static void junk_stats(void *ctx, lfp_stat_fn emit, void *arg)
{
    (void)ctx;
    (void)emit;
    (void)arg;
    fail_msg("stats of a 1.0 definition must never be called");
}

static struct lfp_output_def out_def(const char *name, uint32_t size)
{
    struct lfp_output_def def = {
        .abi_version = LFP_ABI_VERSION,
        .struct_size = size,
        .name = name,
        .flush = old_flush,
    };
    return def;
}

static void test_abi_1_0_output_is_accepted_without_stats(void **state)
{
    static struct lfp_output_def def;
    static struct lfp_plugin_entry entry;
    struct lfp_err err = {0};
    const struct lfp_output_def *found;

    (void)state;
    def = out_def("old_sink", offsetof(struct lfp_output_def, stats));
    def.stats = junk_stats; /* past struct_size: must be ignored */
    entry = (struct lfp_plugin_entry){LFP_ABI_VERSION,
                                      sizeof(struct lfp_plugin_entry),
                                      LFP_KIND_OUTPUT, &def};
    assert_int_equal(lf_registry_add(&entry, &err), LFP_OK);
    found = lf_registry_find(LFP_KIND_OUTPUT, "old_sink");
    assert_ptr_equal(found, &def);
    /* struct_size does not cover stats: the core must not call it. */
    assert_false(LFP_DEF_HAS(found, struct lfp_output_def, stats));
}

static void test_newer_minor_or_bigger_struct_is_refused(void **state)
{
    static struct lfp_output_def big, newer;
    static struct lfp_plugin_entry e1, e2;
    struct lfp_err err = {0};

    (void)state;
    big = out_def("big_sink", sizeof(struct lfp_output_def) + 8);
    e1 = (struct lfp_plugin_entry){LFP_ABI_VERSION,
                                   sizeof(struct lfp_plugin_entry),
                                   LFP_KIND_OUTPUT, &big};
    assert_int_equal(lf_registry_add(&e1, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "struct size"));

    newer = out_def("new_sink", sizeof(struct lfp_output_def));
    newer.abi_version = LFP_ABI_VERSION + 1;
    e2 = (struct lfp_plugin_entry){LFP_ABI_VERSION + 1,
                                   sizeof(struct lfp_plugin_entry),
                                   LFP_KIND_OUTPUT, &newer};
    memset(&err, 0, sizeof(err));
    assert_int_equal(lf_registry_add(&e2, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "plugin ABI 1.3, this logferry has 1.2"));
    assert_null(lf_registry_find(LFP_KIND_OUTPUT, "new_sink"));
}

static void test_builtin_tail_and_kafka_report_stats(void **state)
{
    const struct lfp_input_def *tail;
    const struct lfp_output_def *kafka;

    (void)state;
    tail = lf_registry_find(LFP_KIND_INPUT, "tail");
    kafka = lf_registry_find(LFP_KIND_OUTPUT, "kafka");
    assert_non_null(tail);
    assert_non_null(kafka);
    assert_true(LFP_DEF_HAS(tail, struct lfp_input_def, stats));
    assert_true(LFP_DEF_HAS(kafka, struct lfp_output_def, stats));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_1_0_output_is_accepted_without_stats),
        cmocka_unit_test(test_newer_minor_or_bigger_struct_is_refused),
        cmocka_unit_test(test_builtin_tail_and_kafka_report_stats),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    lf_registry_fini();
    return rc;
}
