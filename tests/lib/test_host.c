/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_host.c - the plugin test host: a chunk pool, recorded lines,
 * controllable acks, counters, captured log lines and a stop fd.
 *
 * The plugin's struct lfp_instance * is the struct lf_test_host * itself,
 * cast: the type is opaque to plugins, so the host may use any object.
 * th->lock guards the pool, the held chunks and everything recorded; it is
 * never held while calling the plugin (its ack may run inside chunk_emit).
 */
#include "test_host.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "chunk.h"
#include "json_out.h"
#include "lf_test.h"
#include "log.h"
#include "mem.h"

struct test_host_log {
    int level;
    char *msg;
};

struct lf_test_host {
    struct lfp_host api;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a chunk returned to the pool, or stop */
    size_t raw_cap;

    struct lfp_chunk **all; /* every chunk, for freeing */
    size_t nall;
    struct lfp_chunk **pool; /* free chunks */
    size_t npool;
    struct lfp_chunk **held; /* emitted, waiting for a manual ack */
    size_t nheld;
    int is_auto_ack;

    struct lf_test_line *lines;
    size_t nlines;
    size_t lines_cap;
    size_t nchunks;
    struct test_host_log *logs;
    size_t nlogs;
    size_t logs_cap;
    atomic_uint_least64_t counters[LFP_CNT__COUNT];

    atomic_int is_stopping;
    int stop_fd;
    const struct lfp_input_def *def;
    void *ctx;
    int is_initialised;
    int is_running;
    pthread_t thread;
    int run_rc;
};

static struct lf_test_host *test_host_of(struct lfp_instance *ins)
{
    return (struct lf_test_host *)(void *)ins;
}

/* ---- the host table ----------------------------------------------- */

static void test_host_log(struct lfp_instance *ins, int level, const char *fmt,
                          ...) LFP_PRINTF(3, 4);

static void test_host_log(struct lfp_instance *ins, int level, const char *fmt,
                          ...)
{
    struct lf_test_host *th = test_host_of(ins);
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level <= lf_log_level_cur)
        lf_log_write("test_host", level, "%s", msg);
    pthread_mutex_lock(&th->lock);
    if (th->nlogs == th->logs_cap) {
        th->logs_cap = th->logs_cap ? th->logs_cap * 2 : 16;
        th->logs = lf_realloc(th->logs, th->logs_cap * sizeof(*th->logs));
    }
    th->logs[th->nlogs].level = level;
    th->logs[th->nlogs].msg = lf_strdup(msg);
    th->nlogs++;
    pthread_mutex_unlock(&th->lock);
}

static int test_host_log_enabled(int level)
{
    (void)level;
    return 1; /* capture everything; printing follows lf_log_level_cur */
}

static void test_host_counter_add(struct lfp_instance *ins, int counter,
                                  uint64_t n)
{
    if (counter >= 0 && counter < LFP_CNT__COUNT)
        atomic_fetch_add(&test_host_of(ins)->counters[counter], n);
}

static struct lfp_chunk *test_host_chunk_get(struct lfp_instance *ins)
{
    struct lf_test_host *th = test_host_of(ins);
    struct lfp_chunk *c = NULL;

    pthread_mutex_lock(&th->lock);
    while (th->npool == 0 && !atomic_load(&th->is_stopping))
        pthread_cond_wait(&th->cond, &th->lock);
    if (th->npool > 0 && !atomic_load(&th->is_stopping))
        c = th->pool[--th->npool];
    pthread_mutex_unlock(&th->lock);
    if (c) {
        lf_chunk_reset(c);
        lf_chunk_set_tag(c, "test", 4);
    }
    return c;
}

static size_t test_host_chunk_raw_cap(struct lfp_instance *ins)
{
    return test_host_of(ins)->raw_cap;
}

static void test_host_chunk_put(struct lfp_instance *ins, struct lfp_chunk *c)
{
    struct lf_test_host *th = test_host_of(ins);

    pthread_mutex_lock(&th->lock);
    th->pool[th->npool++] = c;
    pthread_cond_broadcast(&th->cond);
    pthread_mutex_unlock(&th->lock);
}

/* Acknowledges c to the input, then returns it to the pool. */
static void test_host_ack_chunk(struct lf_test_host *th, struct lfp_chunk *c)
{
    if (th->def && th->def->ack && th->ctx)
        th->def->ack(th->ctx, c);
    test_host_chunk_put((struct lfp_instance *)(void *)th, c);
}

/* Copies c's records into th->lines. Locks: caller holds th->lock. */
static void test_host_record(struct lf_test_host *th, const struct lfp_chunk *c)
{
    for (uint32_t i = 0; i < c->nrecords; i++) {
        const struct lfp_record *rec = &c->records[i];
        struct lf_test_line *line;

        if (th->nlines == th->lines_cap) {
            th->lines_cap = th->lines_cap ? th->lines_cap * 2 : 64;
            th->lines =
                lf_realloc(th->lines, th->lines_cap * sizeof(*th->lines));
        }
        line = &th->lines[th->nlines++];
        line->text = lf_strndup(rec->raw, rec->raw_len);
        line->len = rec->raw_len;
        line->flags = rec->flags;
        line->pos_source = c->pos_source;
        line->pos_begin = c->pos_begin;
        line->pos_end = c->pos_end;
        line->pos_seq = c->pos_seq;
        line->chunk_no = th->nchunks;
    }
    th->nchunks++;
}

static void test_host_chunk_emit(struct lfp_instance *ins, struct lfp_chunk *c)
{
    struct lf_test_host *th = test_host_of(ins);
    int is_auto_ack;

    pthread_mutex_lock(&th->lock);
    test_host_record(th, c);
    is_auto_ack = th->is_auto_ack;
    if (!is_auto_ack)
        th->held[th->nheld++] = c;
    pthread_mutex_unlock(&th->lock);
    if (is_auto_ack)
        test_host_ack_chunk(th, c);
}

static int test_host_stop_fd(struct lfp_instance *ins)
{
    return test_host_of(ins)->stop_fd;
}

static int test_host_is_stopping(struct lfp_instance *ins)
{
    return atomic_load(&test_host_of(ins)->is_stopping);
}

static void test_host_fill_api(struct lfp_host *api)
{
    api->struct_size = sizeof(*api);
    api->log = test_host_log;
    api->log_enabled = test_host_log_enabled;
    api->counter_add = test_host_counter_add;
    api->mem_alloc = lf_malloc;
    api->mem_calloc = lf_calloc;
    api->mem_realloc = lf_realloc;
    api->mem_strdup = lf_strdup;
    api->mem_free = lf_free;
    api->chunk_get = test_host_chunk_get;
    api->chunk_raw_cap = test_host_chunk_raw_cap;
    api->chunk_raw = lf_chunk_raw;
    api->chunk_add_line = lf_chunk_add_line;
    api->chunk_add_records = lf_chunk_add_records;
    api->chunk_emit = test_host_chunk_emit;
    api->chunk_put = test_host_chunk_put;
    api->stop_fd = test_host_stop_fd;
    api->is_stopping = test_host_is_stopping;
    api->chunk_alloc = lf_chunk_alloc;
    api->record_add = lf_record_add;
    api->record_get = lf_record_get;
    api->record_to_json = lf_json_record_cap;
}

/* ---- life of the host and its input -------------------------------- */

struct lf_test_host *lf_test_host_new(size_t raw_cap, int pool_size)
{
    struct lf_test_host *th = lf_calloc(1, sizeof(*th));

    test_host_fill_api(&th->api);
    pthread_mutex_init(&th->lock, NULL);
    pthread_cond_init(&th->cond, NULL);
    th->raw_cap = raw_cap;
    th->nall = (size_t)(pool_size > 0 ? pool_size : 1);
    th->all = lf_calloc(th->nall, sizeof(struct lfp_chunk *));
    th->pool = lf_calloc(th->nall, sizeof(struct lfp_chunk *));
    th->held = lf_calloc(th->nall, sizeof(struct lfp_chunk *));
    for (size_t i = 0; i < th->nall; i++)
        th->all[i] = th->pool[th->npool++] = lf_chunk_new(raw_cap, 4096);
    th->is_auto_ack = 1;
    for (int i = 0; i < LFP_CNT__COUNT; i++)
        atomic_init(&th->counters[i], 0);
    atomic_init(&th->is_stopping, 0);
    th->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (th->stop_fd < 0) {
        perror("eventfd");
        abort();
    }
    return th;
}

const struct lfp_host *lf_test_host_api(struct lf_test_host *th)
{
    return &th->api;
}

struct lfp_instance *lf_test_host_instance(struct lf_test_host *th)
{
    return (struct lfp_instance *)(void *)th;
}

int lf_test_host_input_init(struct lf_test_host *th,
                            const struct lfp_input_def *def, const void *conf,
                            struct lfp_err *err)
{
    int rc = LFP_OK;

    th->def = def;
    if (def->validate)
        rc = def->validate(conf, err);
    if (rc == LFP_OK)
        rc =
            def->init(lf_test_host_instance(th), &th->api, conf, &th->ctx, err);
    th->is_initialised = rc == LFP_OK;
    return rc;
}

int lf_test_host_input_run(struct lf_test_host *th)
{
    th->run_rc = th->def->run(th->ctx);
    return th->run_rc;
}

static void *test_host_thread(void *arg)
{
    struct lf_test_host *th = arg;

    th->run_rc = th->def->run(th->ctx);
    return NULL;
}

void lf_test_host_input_start(struct lf_test_host *th)
{
    if (pthread_create(&th->thread, NULL, test_host_thread, th) != 0) {
        perror("pthread_create");
        abort();
    }
    th->is_running = 1;
}

int lf_test_host_input_stop(struct lf_test_host *th)
{
    uint64_t one = 1;

    pthread_mutex_lock(&th->lock);
    atomic_store(&th->is_stopping, 1);
    pthread_cond_broadcast(&th->cond);
    pthread_mutex_unlock(&th->lock);
    if (write(th->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        perror("write stop fd");
        abort();
    }
    if (th->is_running)
        (void)pthread_join(th->thread, NULL); /* joinable, ours */
    th->is_running = 0;
    return th->run_rc;
}

void lf_test_host_input_destroy(struct lf_test_host *th)
{
    if (!th->is_initialised)
        return;
    th->is_initialised = 0;
    if (th->def->destroy)
        th->def->destroy(th->ctx);
    th->ctx = NULL;
}

void lf_test_host_free(struct lf_test_host *th)
{
    if (!th)
        return;
    if (th->is_running)
        (void)lf_test_host_input_stop(th);
    lf_test_host_input_destroy(th);
    for (size_t i = 0; i < th->nall; i++)
        lf_chunk_free(th->all[i]);
    for (size_t i = 0; i < th->nlines; i++)
        lf_free((char *)th->lines[i].text);
    for (size_t i = 0; i < th->nlogs; i++)
        lf_free(th->logs[i].msg);
    lf_free(th->all);
    lf_free(th->pool);
    lf_free(th->held);
    lf_free(th->lines);
    lf_free(th->logs);
    (void)close(th->stop_fd); /* eventfd: nothing to flush */
    pthread_cond_destroy(&th->cond);
    pthread_mutex_destroy(&th->lock);
    lf_free(th);
}

/* ---- acks and what came out ---------------------------------------- */

void lf_test_host_set_auto_ack(struct lf_test_host *th, int is_on)
{
    pthread_mutex_lock(&th->lock);
    th->is_auto_ack = is_on;
    pthread_mutex_unlock(&th->lock);
}

size_t lf_test_host_held(struct lf_test_host *th)
{
    size_t n;

    pthread_mutex_lock(&th->lock);
    n = th->nheld;
    pthread_mutex_unlock(&th->lock);
    return n;
}

void lf_test_host_ack(struct lf_test_host *th, size_t i)
{
    struct lfp_chunk *c = NULL;

    pthread_mutex_lock(&th->lock);
    if (i < th->nheld) {
        c = th->held[i];
        memmove(&th->held[i], &th->held[i + 1],
                (th->nheld - i - 1) * sizeof(struct lfp_chunk *));
        th->nheld--;
    }
    pthread_mutex_unlock(&th->lock);
    if (c)
        test_host_ack_chunk(th, c);
}

void lf_test_host_ack_all(struct lf_test_host *th)
{
    while (lf_test_host_held(th) > 0)
        lf_test_host_ack(th, 0);
}

size_t lf_test_host_nlines(struct lf_test_host *th)
{
    size_t n;

    pthread_mutex_lock(&th->lock);
    n = th->nlines;
    pthread_mutex_unlock(&th->lock);
    return n;
}

struct lf_test_line lf_test_host_line(struct lf_test_host *th, size_t i)
{
    struct lf_test_line line = {0};

    pthread_mutex_lock(&th->lock);
    if (i < th->nlines)
        line = th->lines[i];
    pthread_mutex_unlock(&th->lock);
    return line;
}

size_t lf_test_host_nchunks(struct lf_test_host *th)
{
    size_t n;

    pthread_mutex_lock(&th->lock);
    n = th->nchunks;
    pthread_mutex_unlock(&th->lock);
    return n;
}

struct test_host_wait {
    struct lf_test_host *th;
    size_t n;
};

static int test_host_has_lines(void *arg)
{
    struct test_host_wait *w = arg;

    return lf_test_host_nlines(w->th) >= w->n;
}

int lf_test_host_wait_lines(struct lf_test_host *th, size_t n, int timeout_ms)
{
    struct test_host_wait w = {th, n};

    return lf_test_wait_until(test_host_has_lines, &w, timeout_ms);
}

uint64_t lf_test_host_counter(struct lf_test_host *th, int counter)
{
    if (counter < 0 || counter >= LFP_CNT__COUNT)
        return 0;
    return atomic_load(&th->counters[counter]);
}

int lf_test_host_log_has(struct lf_test_host *th, int level, const char *needle)
{
    int found = 0;

    pthread_mutex_lock(&th->lock);
    for (size_t i = 0; i < th->nlogs && !found; i++)
        found = th->logs[i].level == level &&
                strstr(th->logs[i].msg, needle) != NULL;
    pthread_mutex_unlock(&th->lock);
    return found;
}

/* ---- plugin conf structs without the config module ------------------ */

static const struct lfp_option *test_conf_find(const struct lfp_option *opts,
                                               const char *key)
{
    for (; opts->name; opts++)
        if (strcmp(opts->name, key) == 0)
            return opts;
    return NULL;
}

/* Parses an integer with an optional unit suffix scaled by units[]. */
static int test_conf_scaled(const char *s, const char *const *suffixes,
                            const int64_t *scales, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno != 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    for (int i = 0; suffixes[i]; i++) {
        if (strcasecmp(end, suffixes[i]) == 0) {
            *out = (int64_t)v * scales[i];
            return 0;
        }
    }
    return -1;
}

static int test_conf_bool(const char *s, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1", NULL};
    static const char *const no[] = {"off", "false", "no", "0", NULL};

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static void test_conf_list_free(struct lfp_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        lf_free(list->items[i]);
    lf_free(list->items);
    list->items = NULL;
    list->n = 0;
}

static void test_conf_list_add(struct lfp_list *list, const char *s, size_t n)
{
    list->items = lf_realloc(list->items, (list->n + 1) * sizeof(char *));
    list->items[list->n++] = lf_strndup(s, n);
}

/* Splits words separated by commas and spaces. */
static void test_conf_list_split(struct lfp_list *list, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, ", \t");

        if (n > 0)
            test_conf_list_add(list, s, n);
        s += n;
        s += strspn(s, ", \t");
    }
}

static int test_conf_enum(const struct lfp_option *opt, const char *value,
                          int *out)
{
    for (int i = 0; opt->enum_values && opt->enum_values[i]; i++) {
        if (strcmp(opt->enum_values[i], value) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int test_conf_number(const struct lfp_option *opt, const char *value,
                            void *field)
{
    static const char *const sizes[] = {"",   "b", "k",  "kb", "m",
                                        "mb", "g", "gb", NULL};
    static const int64_t size_scales[] = {
        1, 1, 1024, 1024, 1 << 20, 1 << 20, INT64_C(1) << 30, INT64_C(1) << 30};
    static const char *const times[] = {"", "ms", "s", "m", "h", NULL};
    static const int64_t time_scales[] = {1, 1, 1000, 60000, 3600000};
    static const char *const plain[] = {"", NULL};
    static const int64_t plain_scales[] = {1};

    if (opt->type == LFP_OPT_SIZE)
        return test_conf_scaled(value, sizes, size_scales, field);
    if (opt->type == LFP_OPT_DURATION)
        return test_conf_scaled(value, times, time_scales, field);
    return test_conf_scaled(value, plain, plain_scales, field);
}

int lf_test_conf_set(const struct lfp_option *opts, void *conf, const char *key,
                     const char *value)
{
    const struct lfp_option *opt = test_conf_find(opts, key);
    void *field;
    char *end;

    if (!opt)
        return -1;
    field = (char *)conf + opt->offset;
    if (opt->flags & LFP_OPT_MULTI) {
        test_conf_list_add(field, value, strlen(value));
        return 0;
    }
    switch (opt->type) {
    case LFP_OPT_STR:
    case LFP_OPT_REGEX:
        lf_free(*(char **)field);
        *(char **)field = lf_strdup(value);
        return 0;
    case LFP_OPT_LIST:
        test_conf_list_free(field);
        test_conf_list_split(field, value);
        return 0;
    case LFP_OPT_BOOL:
        return test_conf_bool(value, field);
    case LFP_OPT_ENUM:
        return test_conf_enum(opt, value, field);
    case LFP_OPT_DOUBLE:
        errno = 0;
        *(double *)field = strtod(value, &end);
        return end == value || *end != '\0' || errno != 0 ? -1 : 0;
    case LFP_OPT_INT:
    case LFP_OPT_SIZE:
    case LFP_OPT_DURATION:
        return test_conf_number(opt, value, field);
    default:
        return -1; /* PREFIX families: set the struct directly */
    }
}

void *lf_test_conf_new(const struct lfp_option *opts, size_t conf_size)
{
    void *conf = lf_calloc(1, conf_size);

    for (const struct lfp_option *opt = opts; opt->name; opt++) {
        if (opt->def && lf_test_conf_set(opts, conf, opt->name, opt->def)) {
            (void)fprintf(stderr, "option %s: bad default %s\n", opt->name,
                          opt->def);
            abort();
        }
    }
    return conf;
}

void lf_test_conf_free(const struct lfp_option *opts, void *conf)
{
    if (!conf)
        return;
    for (const struct lfp_option *opt = opts; opt->name; opt++) {
        void *field = (char *)conf + opt->offset;

        if (opt->flags & LFP_OPT_MULTI || opt->type == LFP_OPT_LIST)
            test_conf_list_free(field);
        else if (opt->type == LFP_OPT_STR || opt->type == LFP_OPT_REGEX)
            lf_free(*(char **)field);
    }
    lf_free(conf);
}
