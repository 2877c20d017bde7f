/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_conf.c - the [service] metrics.* options: one option table (the
 * user docs, see docs/metrics.md) and the checks across keys that turn it
 * into struct metrics_settings.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"
#include "metrics_int.h"
#include "option.h"

struct metrics_conf {
    int enabled;
    struct lfp_list labels;
    struct lfp_list buckets;
    double accuracy;
    int64_t max_buckets;
    struct lfp_list windows;
    struct lfp_list quantiles;
    int64_t max_series;
    int64_t series_ttl_ms;
    int64_t flush_interval_ms;
    char *tag;
    char *match;
};

static const struct lfp_option metrics_options[] = {
    {.name = "enabled",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct metrics_conf, enabled),
     .desc = "Aggregate per-upstream request metrics from the records."},
    {.name = "labels",
     .type = LFP_OPT_LIST,
     .def = "upstream.address:upstream",
     .offset = offsetof(struct metrics_conf, labels),
     .desc = "Record fields whose values label each series, as field or "
             "field:label_name (e.g. upstream.address:upstream, "
             "url.domain:host). A missing field counts as \"-\"."},
    {.name = "buckets",
     .type = LFP_OPT_LIST,
     .def = "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10",
     .offset = offsetof(struct metrics_conf, buckets),
     .desc = "Upper bounds in seconds of the Prometheus histogram buckets, "
             "ascending."},
    {.name = "accuracy",
     .type = LFP_OPT_DOUBLE,
     .def = "0.01",
     .offset = offsetof(struct metrics_conf, accuracy),
     .desc = "Relative accuracy of the quantile sketches: 0.01 answers "
             "every quantile within 1% of the true value."},
    {.name = "sketch_max_buckets",
     .type = LFP_OPT_INT,
     .def = "2048",
     .min = 16,
     .max = 65536,
     .offset = offsetof(struct metrics_conf, max_buckets),
     .desc = "Buckets one sketch may hold; past it the lowest buckets are "
             "folded (2048 at 1% spans 1 ns to years)."},
    {.name = "windows",
     .type = LFP_OPT_LIST,
     .def = "1m,5m",
     .offset = offsetof(struct metrics_conf, windows),
     .desc = "Sliding windows of the quantiles and error ratios, as "
             "durations; the process lifetime is always added."},
    {.name = "quantiles",
     .type = LFP_OPT_LIST,
     .def = "0.5,0.9,0.99,0.999",
     .offset = offsetof(struct metrics_conf, quantiles),
     .desc = "Quantiles reported from the sketches, between 0 and 1."},
    {.name = "max_series",
     .type = LFP_OPT_INT,
     .def = "1000",
     .min = 1,
     .max = 1000000,
     .offset = offsetof(struct metrics_conf, max_series),
     .desc = "Label sets tracked at once; records of further label sets "
             "count in one series labelled __overflow__."},
    {.name = "series_ttl",
     .type = LFP_OPT_DURATION,
     .def = "10m",
     .min = 1000,
     .max = INT64_C(86400000) * 365,
     .offset = offsetof(struct metrics_conf, series_ttl_ms),
     .desc = "A series without records for this long is dropped."},
    {.name = "flush_interval",
     .type = LFP_OPT_DURATION,
     .def = "0",
     .min = 0,
     .max = 86400000,
     .offset = offsetof(struct metrics_conf, flush_interval_ms),
     .desc = "Every interval, emit one metric record per series into the "
             "pipeline (tag below); 0 or off: none."},
    {.name = "tag",
     .type = LFP_OPT_STR,
     .def = "metrics.upstream",
     .offset = offsetof(struct metrics_conf, tag),
     .desc = "Tag of the metric records, for the match of outputs."},
    {.name = "match",
     .type = LFP_OPT_STR,
     .def = "*",
     .offset = offsetof(struct metrics_conf, match),
     .desc = "Tag pattern of the records that are counted ('*' matches "
             "any run of bytes); metric records never are."},
    {0},
};

const struct lfp_option *lf_metrics_options(void)
{
    return metrics_options;
}

static int conf_double(const char *s, double *v)
{
    char *end;

    errno = 0;
    *v = strtod(s, &end);
    return errno || end == s || *end || !isfinite(*v) ? LFP_ERR_PARSE : LFP_OK;
}

static int conf_label_name_ok(const char *s)
{
    static const char *const taken[] = {"code",     "error",  "le",
                                        "quantile", "window", NULL};

    if (!*s || (s[0] >= '0' && s[0] <= '9') || strncmp(s, "__", 2) == 0)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    for (int i = 0; taken[i]; i++)
        if (strcmp(s, taken[i]) == 0)
            return 0;
    return 1;
}

/* "upstream.address" -> "upstream"; other fields: non-name bytes -> _. */
static char *conf_label_default(const char *field)
{
    char *name;

    if (strcmp(field, "upstream.address") == 0)
        return lf_strdup("upstream");
    name = lf_strdup(field);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            *p = '_';
    return name;
}

static int conf_labels(struct metrics_settings *st, const struct lfp_list *l,
                       const char *where, struct lfp_err *err)
{
    if (l->n == 0 || l->n > METRICS_MAX_LABELS)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: metrics.labels needs 1 to %d fields", where,
                          METRICS_MAX_LABELS);
    for (size_t i = 0; i < l->n; i++) {
        const char *colon = strchr(l->items[i], ':');
        size_t flen =
            colon ? (size_t)(colon - l->items[i]) : strlen(l->items[i]);
        if (flen == 0)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.labels: empty field name in '%s'",
                              where, l->items[i]);
        st->label_fields[i] = lf_strndup(l->items[i], flen);
        st->label_names[i] = colon ? lf_strdup(colon + 1)
                                   : conf_label_default(st->label_fields[i]);
        st->nlabels = (int)i + 1;
        if (!conf_label_name_ok(st->label_names[i]))
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.labels: '%s' is not a usable "
                              "label name (letters, digits, _; not code, "
                              "error, le, quantile or window)",
                              where, st->label_names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->label_names[i], st->label_names[j]) == 0)
                return lf_err_set(err, LFP_ERR_CONFIG,
                                  "%s: metrics.labels: label '%s' twice", where,
                                  st->label_names[i]);
    }
    return LFP_OK;
}

static int conf_buckets(struct metrics_settings *st, const struct lfp_list *l,
                        const char *where, struct lfp_err *err)
{
    if (l->n == 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: metrics.buckets needs at least one bound",
                          where);
    st->buckets = lf_calloc(l->n, sizeof(double));
    for (size_t i = 0; i < l->n; i++) {
        double v;
        if (conf_double(l->items[i], &v) != LFP_OK || v <= 0)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.buckets: '%s' is not a positive "
                              "number of seconds",
                              where, l->items[i]);
        if (i > 0 && v <= st->buckets[i - 1])
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.buckets: '%s' is not above the "
                              "bound before it",
                              where, l->items[i]);
        st->buckets[i] = v;
        st->nbuckets = (int)i + 1;
    }
    return LFP_OK;
}

static int conf_windows(struct metrics_settings *st, const struct lfp_list *l,
                        const char *where, struct lfp_err *err)
{
    int64_t smallest;

    if (l->n == 0 || l->n > METRICS_MAX_WINDOWS)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: metrics.windows needs 1 to %d durations", where,
                          METRICS_MAX_WINDOWS);
    for (size_t i = 0; i < l->n; i++) {
        int64_t ms;
        if (lf_option_parse_duration(l->items[i], &ms) != LFP_OK || ms < 1000 ||
            ms > INT64_C(86400000))
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.windows: '%s' is not a duration "
                              "between 1s and 24h",
                              where, l->items[i]);
        if (i > 0 && ms <= st->window_ns[i - 1] / 1000000)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.windows: '%s' is not longer "
                              "than the window before it",
                              where, l->items[i]);
        st->window_ns[i] = ms * 1000000;
        st->window_names[i] = lf_strdup(l->items[i]);
        st->nwindows = (int)i + 1;
    }
    /* Slots of a sixth of the shortest window (10 s for 1m), >= 1 s. */
    smallest = st->window_ns[0] / 6;
    st->slot_ns =
        smallest < INT64_C(1000000000) ? INT64_C(1000000000) : smallest;
    for (int i = 0; i < st->nwindows; i++) {
        int64_t n = (st->window_ns[i] + st->slot_ns - 1) / st->slot_ns;
        if (n > 4096)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.windows: '%s' spans more than "
                              "4096 slots of the shortest window / 6",
                              where, st->window_names[i]);
        st->window_slots[i] = (int)n;
    }
    st->nslots = st->window_slots[st->nwindows - 1];
    return LFP_OK;
}

static int conf_quantiles(struct metrics_settings *st, const struct lfp_list *l,
                          const char *where, struct lfp_err *err)
{
    if (l->n == 0 || l->n > METRICS_MAX_QUANTILES)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: metrics.quantiles needs 1 to %d values", where,
                          METRICS_MAX_QUANTILES);
    for (size_t i = 0; i < l->n; i++) {
        double q;
        if (conf_double(l->items[i], &q) != LFP_OK || q < 0 || q > 1)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: metrics.quantiles: '%s' is not between "
                              "0 and 1",
                              where, l->items[i]);
        st->quantiles[i] = q;
        st->quantile_names[i] = lf_strdup(l->items[i]);
        st->nquantiles = (int)i + 1;
    }
    return LFP_OK;
}

/* The sketch index of each bound, for the deltas that read histogram
 * counts off their sketches (metrics_int.h). */
static void conf_bound_index(struct metrics_settings *st)
{
    st->bound_index = lf_calloc((size_t)st->nbuckets, sizeof(int32_t));
    st->is_hist_derived = 1;
    for (int b = 0; b < st->nbuckets; b++) {
        st->bound_index[b] = lf_sketch_index(&st->sketch, st->buckets[b]);
        if (b > 0 && st->bound_index[b] < st->bound_index[b - 1])
            st->is_hist_derived = 0; /* a log that is not monotonic */
    }
    /* A zero (at most min_value) is in bucket 0 when bound 0 is above. */
    st->is_zero_derived =
        st->is_hist_derived && st->buckets[0] >= st->sketch.min_value;
}

static int conf_settings(struct metrics_settings *st,
                         const struct metrics_conf *c, const char *where,
                         struct lfp_err *err)
{
    if (conf_labels(st, &c->labels, where, err) != LFP_OK ||
        conf_buckets(st, &c->buckets, where, err) != LFP_OK ||
        conf_windows(st, &c->windows, where, err) != LFP_OK ||
        conf_quantiles(st, &c->quantiles, where, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (!(c->accuracy >= 0.0001 && c->accuracy <= 0.2))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: metrics.accuracy %g is not between 0.0001 "
                          "and 0.2",
                          where, c->accuracy);
    if (lf_sketch_params_init(&st->sketch, c->accuracy, (int32_t)c->max_buckets,
                              err) != LFP_OK) {
        lf_err_prefix(err, "%s", where);
        return LFP_ERR_CONFIG;
    }
    conf_bound_index(st);
    st->max_series = (uint32_t)c->max_series;
    st->ttl_ns = c->series_ttl_ms * 1000000;
    st->flush_ns = c->flush_interval_ms * 1000000;
    st->tag = lf_strdup(c->tag);
    st->match = lf_strdup(c->match);
    return LFP_OK;
}

int lf_metrics_settings_init(struct metrics_settings *st,
                             const struct lfp_kvlist *opts, const char *file,
                             int line, int *enabled, struct lfp_err *err)
{
    struct metrics_conf conf;
    static char zero[] = "0";
    struct lfp_kvlist kv = *opts;
    char **vals = lf_calloc(opts->n + 1, sizeof(char *));
    char where[300];
    struct lf_section origin = {0};
    int rc;

    /* flush_interval off means 0: the duration parser knows no "off". */
    for (size_t i = 0; i < opts->n; i++)
        vals[i] = strcmp(opts->keys[i], "flush_interval") == 0 &&
                          strcmp(opts->vals[i], "off") == 0
                      ? zero
                      : opts->vals[i];
    kv.vals = vals;
    origin.file = file;
    origin.line = line;
    memset(&conf, 0, sizeof(conf));
    (void)snprintf(where, sizeof(where), "%s:%d", file, line);
    rc = lf_option_apply_kvlist(metrics_options, "[service] metrics.*", &kv,
                                &origin, &conf, err);
    lf_free(vals);
    *enabled = conf.enabled;
    if (rc == LFP_OK && conf.enabled)
        rc = conf_settings(st, &conf, where, err);
    lf_option_free(metrics_options, &conf);
    return rc == LFP_OK ? LFP_OK : LFP_ERR_CONFIG;
}

void lf_metrics_settings_fini(struct metrics_settings *st)
{
    for (int i = 0; i < METRICS_MAX_LABELS; i++) {
        lf_free(st->label_fields[i]);
        lf_free(st->label_names[i]);
    }
    for (int i = 0; i < METRICS_MAX_WINDOWS; i++)
        lf_free(st->window_names[i]);
    for (int i = 0; i < METRICS_MAX_QUANTILES; i++)
        lf_free(st->quantile_names[i]);
    lf_free(st->buckets);
    lf_free(st->bound_index);
    lf_free(st->tag);
    lf_free(st->match);
    memset(st, 0, sizeof(*st));
}
