/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c - the configuration reader and option tables: good files,
 * and bad files that must fail with file:line and a useful message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "engine.h"
#include "lf_test.h"
#include "mem.h"
#include "option.h"

/* Loads text as "t.conf"; returns rc and leaves the message in err. */
static int load(const char *text, struct lf_config **conf, struct lfp_err *err)
{
    lf_err_clear(err);
    return lf_config_load_string("t.conf", text, NULL, conf, err);
}

/* Builds an engine from text: the full check that --check runs. */
static int check(const char *text, struct lfp_err *err)
{
    struct lf_config *conf = NULL;
    struct lf_engine *e = NULL;
    int rc = load(text, &conf, err);

    if (rc == LFP_OK)
        rc = lf_engine_new(conf, &e, err);
    lf_engine_free(e);
    lf_config_free(conf);
    return rc;
}

static void test_sections_keys_and_comments(void **state)
{
    struct lf_config *conf = NULL;
    struct lfp_err err;
    const char *text = "# comment\n[SERVICE]\n  Log_Level  debug  # trailing\n"
                       "\n[input]\n name tail\n path /a/b\\#c\n";

    (void)state;
    assert_int_equal(load(text, &conf, &err), LFP_OK);
    assert_int_equal(conf->nsec, 2);
    assert_string_equal(conf->secs[0].name, "service");
    assert_string_equal(lf_section_get(&conf->secs[0], "log_level"), "debug");
    assert_int_equal(conf->secs[0].kvs[0].line, 3);
    assert_string_equal(lf_section_get(&conf->secs[1], "path"), "/a/b#c");
    lf_config_free(conf);
}

static void test_env_expansion_and_unset_is_error(void **state)
{
    struct lf_config *conf = NULL;
    struct lfp_err err;

    (void)state;
    setenv("LF_TEST_DIR", "/var/log", 1);
    assert_int_equal(load("[input]\n path ${LF_TEST_DIR}/x.log\n", &conf, &err),
                     LFP_OK);
    assert_string_equal(lf_section_get(&conf->secs[0], "path"),
                        "/var/log/x.log");
    lf_config_free(conf);
    assert_int_equal(
        load("[output]\n topic logs-$${upstream.name}\n", &conf, &err), LFP_OK);
    assert_string_equal(lf_section_get(&conf->secs[0], "topic"),
                        "logs-${upstream.name}");
    lf_config_free(conf);
    unsetenv("LF_TEST_UNSET_VAR");
    assert_int_equal(
        load("[input]\n\n path ${LF_TEST_UNSET_VAR}\n", &conf, &err),
        LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "t.conf:3:"));
    assert_non_null(strstr(err.msg, "LF_TEST_UNSET_VAR is not set"));
}

static void test_include_relative_to_including_file(void **state)
{
    char *dir = lf_test_tmpdir("lfconf");
    char main_path[512], inc_path[512];
    struct lf_config *conf = NULL;
    struct lfp_err err = {0};
    const char *inc = "[output]\n name stdout\n match *\n";
    const char *top = "[service]\n log_level warn\n@include inc.conf\n";

    (void)state;
    (void)snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
    (void)snprintf(inc_path, sizeof(inc_path), "%s/inc.conf", dir);
    lf_test_write_file(inc_path, inc, strlen(inc), 0);
    lf_test_write_file(main_path, top, strlen(top), 0);
    assert_int_equal(lf_config_load_file(main_path, &conf, &err), LFP_OK);
    assert_int_equal(conf->nsec, 2);
    assert_string_equal(conf->secs[1].name, "output");
    assert_string_equal(conf->secs[1].file, inc_path);
    lf_config_free(conf);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_missing_include_names_line(void **state)
{
    struct lf_config *conf = NULL;
    struct lfp_err err;

    (void)state;
    assert_int_equal(
        load("[service]\n@include /nonexistent/x.conf\n", &conf, &err),
        LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "t.conf:2:"));
    assert_non_null(strstr(err.msg, "no such file"));
}

static void test_syntax_errors_name_file_and_line(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"name tail\n", "t.conf:1: key outside of a section"},
        {"[service]\n[bogus]\n", "t.conf:2: unknown section [bogus]"},
        {"[input]\n path\n", "t.conf:2: key 'path' has no value"},
        {"[input\n", "t.conf:1: expected [section]"},
        {"[input]\n@foo bar\n", "t.conf:2: unknown directive"},
    };
    struct lf_config *conf = NULL;
    struct lfp_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(load(cases[i].text, &conf, &err), LFP_ERR_CONFIG);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg,
                     cases[i].expect);
    }
}

static void test_value_parsers(void **state)
{
    int64_t v;
    int b;

    (void)state;
    assert_int_equal(lf_option_parse_size("64K", &v), LFP_OK);
    assert_int_equal(v, 65536);
    assert_int_equal(lf_option_parse_size("1.5M", &v), LFP_OK);
    assert_int_equal(v, 1572864);
    assert_int_equal(lf_option_parse_size("12", &v), LFP_OK);
    assert_int_equal(v, 12);
    assert_int_not_equal(lf_option_parse_size("12X", &v), LFP_OK);
    assert_int_not_equal(lf_option_parse_size("-1", &v), LFP_OK);
    assert_int_equal(lf_option_parse_duration("250ms", &v), LFP_OK);
    assert_int_equal(v, 250);
    assert_int_equal(lf_option_parse_duration("5s", &v), LFP_OK);
    assert_int_equal(v, 5000);
    assert_int_equal(lf_option_parse_duration("2m", &v), LFP_OK);
    assert_int_equal(v, 120000);
    assert_int_equal(lf_option_parse_duration("3", &v), LFP_OK);
    assert_int_equal(v, 3000);
    assert_int_not_equal(lf_option_parse_duration("soon", &v), LFP_OK);
    assert_int_equal(lf_option_parse_bool("On", &b), LFP_OK);
    assert_int_equal(b, 1);
    assert_int_equal(lf_option_parse_bool("false", &b), LFP_OK);
    assert_int_equal(b, 0);
    assert_int_not_equal(lf_option_parse_bool("maybe", &b), LFP_OK);
}

struct opt_conf {
    char *s;
    int64_t size;
    int en;
    struct lfp_list list;
    struct lfp_kvlist pass;
};

static const char *const opt_enum[] = {"alpha", "beta", NULL};
static const struct lfp_option opt_table[] = {
    {.name = "s",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct opt_conf, s),
     .desc = "A string."},
    {.name = "size",
     .type = LFP_OPT_SIZE,
     .def = "1M",
     .min = 1024,
     .max = 1 << 30,
     .offset = offsetof(struct opt_conf, size),
     .desc = "A size."},
    {.name = "en",
     .type = LFP_OPT_ENUM,
     .def = "beta",
     .enum_values = opt_enum,
     .offset = offsetof(struct opt_conf, en),
     .desc = "An enum."},
    {.name = "list",
     .type = LFP_OPT_LIST,
     .offset = offsetof(struct opt_conf, list),
     .desc = "A list."},
    {.name = "pass.",
     .type = LFP_OPT_PREFIX,
     .offset = offsetof(struct opt_conf, pass),
     .desc = "Passthrough."},
    {0},
};

static int apply(const char *text, struct opt_conf *oc, struct lfp_err *err)
{
    struct lf_config *conf = NULL;
    int rc = load(text, &conf, err);

    memset(oc, 0, sizeof(*oc));
    if (rc == LFP_OK)
        rc = lf_option_apply(opt_table, "test", &conf->secs[0], NULL, oc, err);
    lf_config_free(conf);
    return rc;
}

static void test_option_table_fills_defaults_and_types(void **state)
{
    struct opt_conf oc;
    struct lfp_err err;

    (void)state;
    assert_int_equal(
        apply("[output]\n s x\n list a, b c\n pass.k v\n", &oc, &err), LFP_OK);
    assert_string_equal(oc.s, "x");
    assert_int_equal(oc.size, 1 << 20);
    assert_int_equal(oc.en, 1);
    assert_int_equal(oc.list.n, 3);
    assert_string_equal(oc.list.items[2], "c");
    assert_int_equal(oc.pass.n, 1);
    assert_string_equal(oc.pass.keys[0], "k");
    assert_string_equal(oc.pass.vals[0], "v");
    lf_option_free(opt_table, &oc);
}

static void test_option_table_rejects_bad_values(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[output]\n s x\n size 12Q\n", "t.conf:3: invalid value '12Q'"},
        {"[output]\n s x\n size 1\n", "out of range"},
        {"[output]\n s x\n en gamma\n", "expected one of alpha, beta"},
        {"[output]\n s x\n nope 1\n", "t.conf:3: unknown key 'nope'"},
        {"[output]\n s x\n s y\n", "t.conf:3: duplicate key 's'"},
        {"[output]\n size 2M\n", "t.conf:1: test needs 's'"},
    };
    struct opt_conf oc;
    struct lfp_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(apply(cases[i].text, &oc, &err), LFP_ERR_CONFIG);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg,
                     cases[i].expect);
        lf_option_free(opt_table, &oc);
    }
}

static void test_engine_check_good_config(void **state)
{
    struct lfp_err err;

    (void)state;
    assert_int_equal(check("[service]\n workers 1\n[input]\n name tail\n"
                           " path /tmp/x.log\n parser nginx_upstream\n"
                           "[output]\n name stdout\n match *\n",
                           &err),
                     LFP_OK);
}

static void test_engine_check_reports_plugin_errors(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[input]\n name nosuch\n", "t.conf:2: unknown input plugin 'nosuch'"},
        {"[input]\n name tail\n", "t.conf:1: input tail needs 'path'"},
        {"[input]\n name tail\n path /x\n bogus 1\n",
         "t.conf:4: unknown key 'bogus' for input tail"},
        {"[input]\n name tail\n path /x\n parser nope\n",
         "t.conf:4: no parser named 'nope'"},
        {"[input]\n name tail\n path /x\n[output]\n name file\n path /tmp/o\n",
         "t.conf:4: [output] needs 'match'"},
        {"[service]\n workers many\n[input]\n name tail\n path /x\n",
         "t.conf:2: invalid value 'many' for 'workers'"},
        {"[parser]\n name p\n regex (unclosed\n[input]\n name tail\n path /x\n",
         "t.conf:3:"},
        {"[service]\n[service]\n", "t.conf:2: a second [service]"},
        {"[output]\n name stdout\n match *\n", "no [input] section"},
    };
    struct lfp_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(check(cases[i].text, &err), LFP_ERR_CONFIG);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg,
                     cases[i].expect);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_keys_and_comments),
        cmocka_unit_test(test_env_expansion_and_unset_is_error),
        cmocka_unit_test(test_include_relative_to_including_file),
        cmocka_unit_test(test_missing_include_names_line),
        cmocka_unit_test(test_syntax_errors_name_file_and_line),
        cmocka_unit_test(test_value_parsers),
        cmocka_unit_test(test_option_table_fills_defaults_and_types),
        cmocka_unit_test(test_option_table_rejects_bad_values),
        cmocka_unit_test(test_engine_check_good_config),
        cmocka_unit_test(test_engine_check_reports_plugin_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
