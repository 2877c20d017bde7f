/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_build.c - turning a configuration into parsers and plugin
 * instances, checking everything before anything starts.
 *
 * Order: [service] and [plugin] first (log level, shared objects), then
 * [parser] sections, then inputs, filters and outputs. Inputs name a parser
 * from a [parser] section or from the built-in definitions
 * (parsers/defs/NAME.conf, compiled in). Each plugin section is checked against
 * the plugin's option table (option.c) and its validate callback.
 */
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "embedded.h"
#include "engine_int.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "option.h"
#include "parser.h"
#include "registry.h"

static const char *const engine_log_levels[] = {"error", "warn", "info",
                                                "debug", NULL};
static const char *const engine_sync_modes[] = {"normal", "full", NULL};

static const struct lfp_option engine_service_options[] = {
    {.name = "log_level",
     .type = LFP_OPT_ENUM,
     .def = "info",
     .enum_values = engine_log_levels,
     .offset = offsetof(struct engine_service, log_level),
     .desc = "Least severe level of logferry's own messages on stderr."},
    {.name = "workers",
     .type = LFP_OPT_INT,
     .def = "0",
     .min = 0,
     .max = 64,
     .offset = offsetof(struct engine_service, workers),
     .desc = "Pipeline worker threads that parse and filter chunks; 0 uses "
             "one per CPU core."},
    {.name = "grace",
     .type = LFP_OPT_DURATION,
     .def = "5s",
     .min = 0,
     .max = 3600000,
     .offset = offsetof(struct engine_service, grace_ms),
     .desc = "On SIGTERM, how long outputs may take to deliver what was "
             "read; what is not delivered by then stays uncommitted and is "
             "read again on the next start."},
    {.name = "chunk_size",
     .type = LFP_OPT_SIZE,
     .def = "256K",
     .min = 4096,
     .max = INT64_C(256) << 20,
     .offset = offsetof(struct engine_service, chunk_size),
     .desc = "Raw bytes an input reads into one chunk; a line longer than "
             "half of it is truncated."},
    {.name = "max_chunks",
     .type = LFP_OPT_INT,
     .def = "12",
     .min = 2,
     .max = 65536,
     .offset = offsetof(struct engine_service, max_chunks),
     .desc = "Chunks in flight in the whole pipeline; with chunk_size it "
             "bounds memory. When all are in use inputs pause."},
    {.name = "retry_base",
     .type = LFP_OPT_DURATION,
     .def = "500ms",
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct engine_service, retry_base_ms),
     .desc = "First delay before an output retries a chunk it could not "
             "deliver; the delay doubles per attempt, with full jitter."},
    {.name = "retry_max_delay",
     .type = LFP_OPT_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .offset = offsetof(struct engine_service, retry_max_delay_ms),
     .desc = "Longest delay between two retries of a chunk."},
    {.name = "http_server",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct engine_service, http_server),
     .desc = "Serve /metrics (Prometheus text format), /api/v1/health and "
             "POST /api/v1/reload on http_listen."},
    {.name = "http_listen",
     .type = LFP_OPT_STR,
     .def = "127.0.0.1:2021",
     .offset = offsetof(struct engine_service, http_listen),
     .desc = "Address and port of the HTTP server, as host:port."},
    {.name = "metrics.",
     .type = LFP_OPT_PREFIX,
     .offset = offsetof(struct engine_service, metrics_opts),
     .desc = "Per-upstream metrics settings, see docs/metrics.md "
             "(e.g. metrics.enabled on)."},
    {.name = "storage.path",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct engine_service, storage_path),
     .desc = "Folder of the disk buffer: each output spills chunks to a "
             "folder of its own in it when it falls behind, and sends them "
             "first on the next start. Unset: memory only. See "
             "docs/reliability.md."},
    {.name = "storage.sync",
     .type = LFP_OPT_ENUM,
     .def = "full",
     .enum_values = engine_sync_modes,
     .offset = offsetof(struct engine_service, storage_sync),
     .desc = "full: each chunk file and its folder are fsync'ed before the "
             "chunk is acknowledged, so it survives a power loss. normal: no "
             "fsync; files are still renamed whole, which survives a crash "
             "of logferry but not of the machine, and spilling is faster."},
    {.name = "plugins_dir",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct engine_service, plugins_dir),
     .desc = "Folder whose *.so files are loaded as external plugins at "
             "start."},
    {0},
};

const struct lfp_option *lf_engine_service_options(void)
{
    return engine_service_options;
}

/* Keys every [output] takes beside its plugin's own (docs/reliability.md).
 * Applied before the plugin's table, which then skips them. */
static const struct lfp_option engine_output_options[] = {
    {.name = "retry_limit",
     .type = LFP_OPT_STR,
     .def = "no_limits",
     .offset = offsetof(struct engine_output_conf, retry_limit),
     .desc = "Retries of a chunk after its first failed attempt before it "
             "goes to the dead-letter file; no_limits retries until the sink "
             "takes it."},
    {.name = "retry_base",
     .type = LFP_OPT_DURATION,
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct engine_output_conf, retry_base_ms),
     .desc = "First retry delay of this output; unset: [service] "
             "retry_base."},
    {.name = "retry_max_delay",
     .type = LFP_OPT_DURATION,
     .min = 1,
     .max = 86400000,
     .offset = offsetof(struct engine_output_conf, retry_max_delay_ms),
     .desc = "Longest retry delay of this output; unset: [service] "
             "retry_max_delay."},
    {.name = "mem_buf_limit",
     .type = LFP_OPT_SIZE,
     .def = "1M",
     .min = 0,
     .max = INT64_C(1) << 40,
     .offset = offsetof(struct engine_output_conf, mem_buf_limit),
     .desc = "With storage.path: bytes of chunks this output may queue in "
             "memory before it spills the oldest to disk."},
    {.name = "storage.total_limit_size",
     .type = LFP_OPT_SIZE,
     .def = "1G",
     .min = 1,
     .max = INT64_C(1) << 50,
     .offset = offsetof(struct engine_output_conf, storage_total_limit),
     .desc = "Bytes of this output's disk buffer; when full, inputs pause "
             "(a tail stops reading) until the sink catches up."},
    {.name = "dlq.path",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct engine_output_conf, dlq_path),
     .desc = "Dead-letter file: records the sink refused for good, or that "
             "failed past retry_limit, as JSON lines with the last error. "
             "Unset: they are dropped, logged and counted."},
    {.name = "breaker.failures",
     .type = LFP_OPT_INT,
     .def = "5",
     .min = 0,
     .max = 1000000,
     .offset = offsetof(struct engine_output_conf, breaker_failures),
     .desc = "Failed attempts in a row that open the circuit breaker; 0 "
             "disables it."},
    {.name = "breaker.cooldown",
     .type = LFP_OPT_DURATION,
     .def = "30s",
     .min = 1,
     .max = 86400000,
     .offset = offsetof(struct engine_output_conf, breaker_cooldown_ms),
     .desc = "How long an open breaker stops sending before it lets one "
             "half-open attempt through."},
    {0},
};

const struct lfp_option *lf_engine_output_options(void)
{
    return engine_output_options;
}

int lf_engine_tag_match(const char *pattern, const char *tag)
{
    const char *star = NULL, *resume = NULL;

    while (*tag) {
        if (*pattern == '*') {
            star = pattern++;
            resume = tag;
        } else if (*pattern == *tag) {
            pattern++;
            tag++;
        } else if (star) {
            pattern = star + 1;
            tag = ++resume;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

static int build_service(struct lf_engine *e, const struct lf_config *conf,
                         struct lfp_err *err)
{
    const struct lf_section *found = NULL;
    static const struct lf_section empty = {.name = "service",
                                            .file = "(defaults)"};

    for (size_t i = 0; i < conf->nsec; i++) {
        const struct lf_section *sec = &conf->secs[i];
        if (strcmp(sec->name, "service") != 0)
            continue;
        if (found)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s:%d: a second [service] section (the first "
                              "is at %s:%d)",
                              sec->file, sec->line, found->file, found->line);
        found = sec;
    }
    if (lf_option_apply(engine_service_options, "[service]",
                        found ? found : &empty, NULL, &e->svc, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (lf_metrics_new(&e->svc.metrics_opts, found ? found->file : empty.file,
                       found ? found->line : 0, &e->metrics, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (e->svc.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        e->svc.workers = n > 0 ? n : 1;
    }
    lf_log_set_level(e->svc.log_level);
    return LFP_OK;
}

static int build_plugins(struct lf_engine *e, const struct lf_config *conf,
                         struct lfp_err *err)
{
    for (size_t i = 0; i < conf->nsec; i++) {
        const struct lf_section *sec = &conf->secs[i];
        const struct lf_kv *kv;
        if (strcmp(sec->name, "plugin") != 0)
            continue;
        kv = lf_section_find(sec, "path");
        if (!kv || sec->nkv != 1)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s:%d: [plugin] takes exactly one key: path "
                              "of a shared object",
                              sec->file, sec->line);
        if (lf_registry_load(kv->val, err) != LFP_OK) {
            lf_err_prefix(err, "%s:%d", kv->file, kv->line);
            return LFP_ERR_CONFIG;
        }
    }
    if (e->svc.plugins_dir)
        return lf_registry_load_dir(e->svc.plugins_dir, err);
    return LFP_OK;
}

static int build_parser(struct lf_engine *e, const struct lf_section *sec,
                        struct lfp_err *err)
{
    void *pconf = lf_calloc(1, lf_parser_conf_size());
    struct lf_parser *p = NULL;
    int rc =
        lf_option_apply(lf_parser_options(), "[parser]", sec, NULL, pconf, err);

    if (rc == LFP_OK) {
        rc = lf_parser_new(pconf, &p, err);
        if (rc != LFP_OK)
            lf_err_prefix(err, "%s:%d", sec->file, sec->line);
    }
    lf_option_free(lf_parser_options(), pconf);
    lf_free(pconf);
    if (rc != LFP_OK)
        return LFP_ERR_CONFIG;
    for (int i = 0; i < e->nparsers; i++) {
        if (strcmp(lf_parser_name(e->parsers[i]), lf_parser_name(p)) == 0) {
            lf_parser_free(p);
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s:%d: parser '%s' is defined twice", sec->file,
                              sec->line, lf_parser_name(e->parsers[i]));
        }
    }
    e->parsers = lf_realloc(e->parsers, sizeof(struct lf_parser *) *
                                            (size_t)(e->nparsers + 1));
    e->parsers[e->nparsers++] = p;
    return LFP_OK;
}

/* Index of parser `name`, compiling a built-in definition on first use;
 * -1 with err set if none has that name. */
static int build_parser_find(struct lf_engine *e, const struct lf_kv *kv,
                             struct lfp_err *err)
{
    struct lf_config *defs = NULL;
    int idx = -1;

    for (int i = 0; i < e->nparsers; i++)
        if (strcmp(lf_parser_name(e->parsers[i]), kv->val) == 0)
            return i;
    if (lf_config_load_string("builtin parsers", lf_embedded_parser_defs, NULL,
                              &defs, err) != LFP_OK)
        return -1;
    for (size_t i = 0; i < defs->nsec; i++) {
        const char *name = lf_section_get(&defs->secs[i], "name");
        if (name && strcmp(name, kv->val) == 0) {
            if (build_parser(e, &defs->secs[i], err) == LFP_OK)
                idx = e->nparsers - 1;
            break;
        }
    }
    lf_config_free(defs);
    if (idx < 0 && err->rc == LFP_OK)
        lf_err_set(err, LFP_ERR_CONFIG,
                   "%s:%d: no parser named '%s' (define it in a [parser] "
                   "section or use a built-in one)",
                   kv->file, kv->line, kv->val);
    return idx;
}

/* A key the core reads (name, tag, match...) set twice in sec: the
 * plugin's table skips these, so the core checks them. */
static int build_core_dups(const struct lf_section *sec,
                           const char *const *core_keys, struct lfp_err *err)
{
    for (size_t i = 0; i < sec->nkv; i++) {
        const struct lf_kv *kv = &sec->kvs[i];
        if (lf_option_is_core_key(core_keys, kv->key) &&
            lf_option_check_duplicate(sec, i, err) != LFP_OK)
            return LFP_ERR_CONFIG;
    }
    return LFP_OK;
}

/* Fills the common part of a plugin instance from its section. */
static int build_instance(struct lfp_instance *ins, int kind,
                          const struct lf_section *sec, int index,
                          const char *const *core_keys, struct lfp_err *err)
{
    static const char *const kinds[] = {"", "input", "filter", "output"};
    const struct lf_kv *name = lf_section_find(sec, "name");
    const struct lf_def_header *def;
    char what[128];

    if (!name)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: [%s] needs 'name' (which plugin)", sec->file,
                          sec->line, sec->name);
    def = lf_registry_find(kind, name->val);
    if (!def)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: unknown %s plugin '%s' (see logferry --help)",
                          name->file, name->line, kinds[kind], name->val);
    lf_instance_init(ins, kind, def, def->name, lf_section_get(sec, "alias"),
                     index);
    if (build_core_dups(sec, core_keys, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    (void)snprintf(what, sizeof(what), "%s %s", kinds[kind], def->name);
    ins->conf = lf_calloc(1, def->conf_size ? def->conf_size : 1);
    if (def->options && lf_option_apply(def->options, what, sec, core_keys,
                                        ins->conf, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (!def->options)
        for (size_t i = 0; i < sec->nkv; i++)
            if (!lf_option_is_core_key(core_keys, sec->kvs[i].key))
                return lf_err_set(
                    err, LFP_ERR_CONFIG, "%s:%d: unknown key '%s' for %s",
                    sec->kvs[i].file, sec->kvs[i].line, sec->kvs[i].key, what);
    return LFP_OK;
}

static int build_validate(const struct lfp_instance *ins,
                          int (*validate)(const void *, struct lfp_err *),
                          const struct lf_section *sec, struct lfp_err *err)
{
    if (!validate || validate(ins->conf, err) == LFP_OK)
        return LFP_OK;
    lf_err_prefix(err, "%s:%d: %s", sec->file, sec->line, ins->label);
    return LFP_ERR_CONFIG;
}

static int build_input(struct lf_engine *e, const struct lf_section *sec,
                       struct lfp_err *err)
{
    static const char *const core_keys[] = {"name", "tag", "parser", "alias",
                                            NULL};
    struct engine_input *in;
    const struct lf_kv *pk;
    const char *tag;

    e->inputs = lf_realloc(e->inputs, sizeof(*in) * (size_t)(e->ninputs + 1));
    in = &e->inputs[e->ninputs];
    memset(in, 0, sizeof(*in));
    in->ins.stop_fd = -1; /* nothing to close if building fails */
    in->parser = -1;
    if (build_instance(&in->ins, LFP_KIND_INPUT, sec, e->ninputs, core_keys,
                       err) != LFP_OK) {
        e->ninputs++; /* so lf_engine_free releases what was set up */
        return LFP_ERR_CONFIG;
    }
    e->ninputs++;
    in->def = in->ins.def;
    in->ins.engine = e;
    tag = lf_section_get(sec, "tag");
    in->tag = lf_strdup(tag ? tag : in->def->name);
    pk = lf_section_find(sec, "parser");
    if (pk) {
        in->parser = build_parser_find(e, pk, err);
        if (in->parser < 0)
            return LFP_ERR_CONFIG;
    }
    return build_validate(&in->ins, in->def->validate, sec, err);
}

static int build_match(const struct lf_section *sec, char **match,
                       struct lfp_err *err)
{
    const char *m = lf_section_get(sec, "match");

    if (!m)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: [%s] needs 'match' (a tag pattern such as "
                          "nginx.* or *)",
                          sec->file, sec->line, sec->name);
    *match = lf_strdup(m);
    return LFP_OK;
}

static int build_filter(struct lf_engine *e, const struct lf_section *sec,
                        struct lfp_err *err)
{
    static const char *const core_keys[] = {"name", "match", "alias", NULL};
    struct engine_filter *f;

    e->filters = lf_realloc(e->filters, sizeof(*f) * (size_t)(e->nfilters + 1));
    f = &e->filters[e->nfilters++];
    memset(f, 0, sizeof(*f));
    f->ins.stop_fd = -1; /* nothing to close if building fails */
    if (build_instance(&f->ins, LFP_KIND_FILTER, sec, e->nfilters - 1,
                       core_keys, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    f->def = f->ins.def;
    f->ins.engine = e;
    if (build_match(sec, &f->match, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    return build_validate(&f->ins, f->def->validate, sec, err);
}

/* Applies the engine's [output] keys to o->oc: a copy of sec holding
 * only those keys goes through the table, so file:line, duplicates and
 * ranges are checked as for any plugin. */
static int build_output_core(struct engine_output *o,
                             const struct lf_section *sec, struct lfp_err *err)
{
    struct lf_section only = *sec;
    const struct lf_kv *kv;
    int rc;

    only.kvs = lf_calloc(sec->nkv + 1, sizeof(*only.kvs));
    only.nkv = 0;
    for (size_t i = 0; i < sec->nkv; i++)
        for (const struct lfp_option *opt = engine_output_options; opt->name;
             opt++)
            if (strcmp(opt->name, sec->kvs[i].key) == 0)
                only.kvs[only.nkv++] = sec->kvs[i];
    rc = lf_option_apply(engine_output_options, "[output]", &only, NULL, &o->oc,
                         err);
    lf_free(only.kvs);
    if (rc != LFP_OK)
        return LFP_ERR_CONFIG;
    o->retry_limit = -1;
    if (strcmp(o->oc.retry_limit, "no_limits") == 0)
        return LFP_OK;
    kv = lf_section_find(sec, "retry_limit");
    if (lf_option_parse_int(o->oc.retry_limit, &o->retry_limit) != LFP_OK ||
        o->retry_limit < 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: invalid value '%s' for 'retry_limit' in "
                          "[output]: expected no_limits or a count >= 0",
                          kv ? kv->file : sec->file, kv ? kv->line : sec->line,
                          o->oc.retry_limit);
    return LFP_OK;
}

static int build_output(struct lf_engine *e, const struct lf_section *sec,
                        struct lfp_err *err)
{
    /* name, match, alias, then every engine_output_options name. */
    static const char *core_keys[16] = {"name", "match", "alias"};
    struct engine_output *o;

    if (!core_keys[3]) {
        int n = 3;
        for (const struct lfp_option *opt = engine_output_options;
             opt->name && n < 15; opt++)
            core_keys[n++] = opt->name;
    }
    e->outputs = lf_realloc(e->outputs, sizeof(*o) * (size_t)(e->noutputs + 1));
    o = &e->outputs[e->noutputs++];
    memset(o, 0, sizeof(*o));
    o->ins.stop_fd = -1; /* nothing to close if building fails */
    if (build_instance(&o->ins, LFP_KIND_OUTPUT, sec, e->noutputs - 1,
                       core_keys, err) != LFP_OK ||
        build_output_core(o, sec, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    o->def = o->ins.def;
    o->ins.engine = e;
    if (build_match(sec, &o->match, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    return build_validate(&o->ins, o->def->validate, sec, err);
}

/* Precomputes, per input, which filters and outputs its tag reaches. */
static void build_routes(struct lf_engine *e)
{
    for (int i = 0; i < e->ninputs; i++) {
        struct engine_input *in = &e->inputs[i];
        in->filters = lf_calloc((size_t)e->nfilters + 1, sizeof(int));
        in->outputs = lf_calloc((size_t)e->noutputs + 1, sizeof(int));
        for (int j = 0; j < e->nfilters; j++)
            if (lf_engine_tag_match(e->filters[j].match, in->tag))
                in->filters[in->nfilters++] = j;
        for (int j = 0; j < e->noutputs; j++)
            if (lf_engine_tag_match(e->outputs[j].match, in->tag))
                in->outputs[in->noutputs++] = j;
        in->is_counted =
            e->metrics && lf_metrics_counts_tag(e->metrics, in->tag);
        if (in->noutputs == 0)
            lf_log_warn(in->ins.label,
                        "tag '%s' matches no output: its records are read "
                        "and discarded",
                        in->tag);
    }
}

static int build_sections(struct lf_engine *e, const struct lf_config *conf,
                          const char *kind, struct lfp_err *err)
{
    for (size_t i = 0; i < conf->nsec; i++) {
        const struct lf_section *sec = &conf->secs[i];
        int rc = LFP_OK;
        if (strcmp(sec->name, kind) != 0)
            continue;
        if (strcmp(kind, "parser") == 0)
            rc = build_parser(e, sec, err);
        else if (strcmp(kind, "input") == 0)
            rc = build_input(e, sec, err);
        else if (strcmp(kind, "filter") == 0)
            rc = build_filter(e, sec, err);
        else if (strcmp(kind, "output") == 0)
            rc = build_output(e, sec, err);
        if (rc != LFP_OK)
            return rc;
    }
    return LFP_OK;
}

/* Adds the input that emits metric records, when metrics want one. */
static void build_metrics_input(struct lf_engine *e)
{
    const struct lfp_input_def *def =
        e->metrics ? lf_metrics_input_def(e->metrics) : NULL;
    struct engine_input *in;

    if (!def)
        return;
    e->inputs = lf_realloc(e->inputs, sizeof(*in) * (size_t)(e->ninputs + 1));
    in = &e->inputs[e->ninputs];
    memset(in, 0, sizeof(*in));
    in->ins.stop_fd = -1; /* nothing to close if building fails */
    lf_instance_init(&in->ins, LFP_KIND_INPUT, def, def->name, NULL,
                     e->ninputs);
    e->ninputs++;
    in->def = def;
    in->ins.engine = e;
    in->ins.conf = lf_calloc(1, def->conf_size ? def->conf_size : 1);
    in->parser = -1;
    in->auxiliary = 1; /* runs until stopped: never "done" */
    in->tag = lf_strdup(lf_metrics_input_tag(e->metrics));
}

int lf_engine_build(struct lf_engine *e, const struct lf_config *conf,
                    struct lfp_err *err)
{
    static const char *const order[] = {"parser", "output", "filter", "input",
                                        NULL};

    if (build_service(e, conf, err) != LFP_OK ||
        build_plugins(e, conf, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    for (int i = 0; order[i]; i++)
        if (build_sections(e, conf, order[i], err) != LFP_OK)
            return LFP_ERR_CONFIG;
    if (e->ninputs == 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: no [input] section: nothing to read",
                          conf->nfiles ? conf->files[0] : "config");
    build_metrics_input(e);
    build_routes(e);
    return LFP_OK;
}
