/* SPDX-License-Identifier: Apache-2.0 */
/*
 * option.c - option tables: validation, defaults, help text.
 */
#include "option.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config.h"
#include "mem.h"

static const char *const option_type_names[] = {
    "?",        "string", "int",  "bool",  "double", "size",
    "duration", "enum",   "list", "regex", "prefix"};

int lf_option_parse_int(const char *s, int64_t *v)
{
    char *end;
    long long x;

    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return LFP_ERR_PARSE;
    *v = x;
    return LFP_OK;
}

/* A number with an optional unit from units[]: returns LFP_OK and the
 * number times the unit's multiplier. */
static int option_parse_unit(const char *s, const char *const *units,
                             const int64_t *mult, int64_t *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(s, &end);
    if (errno != 0 || end == s || x < 0)
        return LFP_ERR_PARSE;
    for (int i = 0; units[i]; i++) {
        if (strcasecmp(end, units[i]) == 0) {
            double r = x * (double)mult[i];
            if (r > 9.2e18)
                return LFP_ERR_PARSE;
            *out = (int64_t)r;
            return LFP_OK;
        }
    }
    return LFP_ERR_PARSE;
}

int lf_option_parse_size(const char *s, int64_t *bytes)
{
    static const char *const units[] = {"",   "b",   "k", "kb", "kib", "m",
                                        "mb", "mib", "g", "gb", "gib", NULL};
    static const int64_t mult[] = {1,       1,       1024,    1024,
                                   1024,    1 << 20, 1 << 20, 1 << 20,
                                   1 << 30, 1 << 30, 1 << 30};
    return option_parse_unit(s, units, mult, bytes);
}

int lf_option_parse_duration(const char *s, int64_t *ms)
{
    static const char *const units[] = {"ms", "s", "", "m", "h", NULL};
    static const int64_t mult[] = {1, 1000, 1000, 60000, 3600000};
    return option_parse_unit(s, units, mult, ms);
}

int lf_option_parse_bool(const char *s, int *b)
{
    static const char *const yes[] = {"on", "true", "yes", "1", NULL};
    static const char *const no[] = {"off", "false", "no", "0", NULL};

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = 1;
            return LFP_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = 0;
            return LFP_OK;
        }
    }
    return LFP_ERR_PARSE;
}

static void option_list_split(struct lfp_list *list, const char *s)
{
    const char *p = s;

    while (*p) {
        size_t n;
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        n = strcspn(p, ", \t");
        if (n == 0)
            break;
        list->items = lf_realloc(list->items, sizeof(char *) * (list->n + 1));
        list->items[list->n++] = lf_strndup(p, n);
        p += n;
    }
}

static void option_list_push(struct lfp_list *list, const char *s)
{
    list->items = lf_realloc(list->items, sizeof(char *) * (list->n + 1));
    list->items[list->n++] = lf_strdup(s);
}

static int option_check_regex(const char *pat, char *msg, size_t cap)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0,
                                   &code, &off, NULL);
    PCRE2_UCHAR buf[160];

    if (re) {
        pcre2_code_free(re);
        return LFP_OK;
    }
    (void)pcre2_get_error_message(code, buf, sizeof(buf));
    (void)snprintf(msg, cap, "%s at offset %zu", (const char *)buf,
                   (size_t)off);
    return LFP_ERR_PARSE;
}

static int option_range(const struct lfp_option *o, int64_t v)
{
    if (o->min == 0 && o->max == 0)
        return 1;
    return v >= o->min && v <= o->max;
}

static int option_enum(const struct lfp_option *o, const char *val, int *idx)
{
    for (int i = 0; o->enum_values && o->enum_values[i]; i++) {
        if (strcasecmp(val, o->enum_values[i]) == 0) {
            *idx = i;
            return LFP_OK;
        }
    }
    return LFP_ERR_PARSE;
}

/* Writes the expected-value hint for o into buf. */
static void option_expect(const struct lfp_option *o, char *buf, size_t cap)
{
    size_t len = 0;

    switch (o->type) {
    case LFP_OPT_BOOL:
        (void)snprintf(buf, cap, "on or off");
        return;
    case LFP_OPT_SIZE:
        (void)snprintf(buf, cap, "a size like 512K, 64M or 1G");
        return;
    case LFP_OPT_DURATION:
        (void)snprintf(buf, cap, "a duration like 250ms, 5s, 2m or 1h");
        return;
    case LFP_OPT_ENUM:
        buf[0] = '\0';
        for (int i = 0; o->enum_values && o->enum_values[i]; i++)
            len +=
                (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s",
                                 i ? ", " : "one of ", o->enum_values[i]);
        return;
    default:
        (void)snprintf(buf, cap, "%s", option_type_names[o->type]);
    }
}

static int option_set(const struct lfp_option *o, const char *key,
                      const char *val, void *conf, char *why, size_t cap)
{
    char *dst = (char *)conf + o->offset;
    int64_t v = 0;
    int rc = LFP_OK;

    switch (o->type) {
    case LFP_OPT_STR:
        if (o->flags & LFP_OPT_MULTI) {
            option_list_push((struct lfp_list *)dst, val);
            return LFP_OK;
        }
        lf_free(*(char **)dst);
        *(char **)dst = lf_strdup(val);
        return LFP_OK;
    case LFP_OPT_REGEX:
        if (option_check_regex(val, why, cap) != LFP_OK)
            return LFP_ERR_PARSE;
        if (o->flags & LFP_OPT_MULTI) {
            option_list_push((struct lfp_list *)dst, val);
            return LFP_OK;
        }
        lf_free(*(char **)dst);
        *(char **)dst = lf_strdup(val);
        return LFP_OK;
    case LFP_OPT_LIST:
        option_list_split((struct lfp_list *)dst, val);
        return LFP_OK;
    case LFP_OPT_BOOL:
        return lf_option_parse_bool(val, (int *)dst);
    case LFP_OPT_DOUBLE: {
        char *end;
        double d;
        errno = 0;
        d = strtod(val, &end);
        if (errno || end == val || *end)
            return LFP_ERR_PARSE;
        memcpy(dst, &d, sizeof(d));
        return LFP_OK;
    }
    case LFP_OPT_ENUM:
        return option_enum(o, val, (int *)dst);
    case LFP_OPT_PREFIX: {
        struct lfp_kvlist *kv = (struct lfp_kvlist *)dst;
        kv->keys = lf_realloc(kv->keys, sizeof(char *) * (kv->n + 1));
        kv->vals = lf_realloc(kv->vals, sizeof(char *) * (kv->n + 1));
        kv->keys[kv->n] = lf_strdup(key + strlen(o->name));
        kv->vals[kv->n++] = lf_strdup(val);
        return LFP_OK;
    }
    case LFP_OPT_INT:
        rc = lf_option_parse_int(val, &v);
        break;
    case LFP_OPT_SIZE:
        rc = lf_option_parse_size(val, &v);
        break;
    case LFP_OPT_DURATION:
        rc = lf_option_parse_duration(val, &v);
        break;
    default:
        return LFP_ERR_PARSE;
    }
    if (rc != LFP_OK)
        return rc;
    if (!option_range(o, v)) {
        (void)snprintf(why, cap, "out of range [%lld, %lld]", (long long)o->min,
                       (long long)o->max);
        return LFP_ERR_PARSE;
    }
    *(int64_t *)dst = v;
    return LFP_OK;
}

static const struct lfp_option *option_find(const struct lfp_option *table,
                                            const char *key)
{
    for (const struct lfp_option *o = table; o->name; o++) {
        if (o->type == LFP_OPT_PREFIX) {
            if (strncmp(key, o->name, strlen(o->name)) == 0 &&
                key[strlen(o->name)] != '\0')
                return o;
        } else if (strcmp(key, o->name) == 0) {
            return o;
        }
    }
    return NULL;
}

int lf_option_is_core_key(const char *const *core_keys, const char *key)
{
    for (int i = 0; core_keys && core_keys[i]; i++)
        if (strcmp(core_keys[i], key) == 0)
            return 1;
    return 0;
}

static int option_unknown(const struct lfp_option *table, const char *what,
                          const struct lf_kv *kv, struct lfp_err *err)
{
    char keys[160];
    size_t len = 0;

    keys[0] = '\0';
    for (const struct lfp_option *o = table; o->name && len < sizeof(keys); o++)
        len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s",
                                len ? ", " : "", o->name);
    return lf_err_set(err, LFP_ERR_CONFIG,
                      "%s:%d: unknown key '%s' for %s (known: %s)", kv->file,
                      kv->line, kv->key, what, keys);
}

int lf_option_check_duplicate(const struct lf_section *sec, size_t i,
                              struct lfp_err *err)
{
    const struct lf_kv *kv = &sec->kvs[i];

    for (size_t j = 0; j < i; j++)
        if (strcmp(sec->kvs[j].key, kv->key) == 0)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s:%d: duplicate key '%s' (first set at line "
                              "%d)",
                              kv->file, kv->line, kv->key, sec->kvs[j].line);
    return LFP_OK;
}

static int option_apply_kv(const struct lfp_option *table, const char *what,
                           const struct lf_section *sec, size_t i, void *conf,
                           struct lfp_err *err)
{
    const struct lf_kv *kv = &sec->kvs[i];
    const struct lfp_option *o = option_find(table, kv->key);
    char why[200] = "";
    char expect[200];

    if (!o)
        return option_unknown(table, what, kv, err);
    if (!(o->flags & LFP_OPT_MULTI) && o->type != LFP_OPT_PREFIX &&
        lf_option_check_duplicate(sec, i, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (option_set(o, kv->key, kv->val, conf, why, sizeof(why)) == LFP_OK)
        return LFP_OK;
    option_expect(o, expect, sizeof(expect));
    return lf_err_set(
        err, LFP_ERR_CONFIG,
        "%s:%d: invalid value '%s' for '%s' in %s: expected %s%s%s", kv->file,
        kv->line, (o->flags & LFP_OPT_SECRET) ? "(secret)" : kv->val, kv->key,
        what, expect, why[0] ? "; " : "", why);
}

static int option_defaults(const struct lfp_option *table, const char *what,
                           const struct lf_section *sec, void *conf,
                           struct lfp_err *err)
{
    for (const struct lfp_option *o = table; o->name; o++) {
        char why[200];
        if (o->type == LFP_OPT_PREFIX || lf_section_find(sec, o->name))
            continue;
        if (o->flags & LFP_OPT_REQUIRED)
            return lf_err_set(err, LFP_ERR_CONFIG, "%s:%d: %s needs '%s' (%s)",
                              sec->file, sec->line, what, o->name, o->desc);
        if (o->def &&
            option_set(o, o->name, o->def, conf, why, sizeof(why)) != LFP_OK)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "%s: bad built-in default '%s' for '%s'", what,
                              o->def, o->name);
    }
    return LFP_OK;
}

int lf_option_apply(const struct lfp_option *table, const char *what,
                    const struct lf_section *sec, const char *const *core_keys,
                    void *conf, struct lfp_err *err)
{
    for (size_t i = 0; i < sec->nkv; i++) {
        int rc;
        if (lf_option_is_core_key(core_keys, sec->kvs[i].key))
            continue;
        rc = option_apply_kv(table, what, sec, i, conf, err);
        if (rc != LFP_OK)
            return rc;
    }
    return option_defaults(table, what, sec, conf, err);
}

int lf_option_apply_kvlist(const struct lfp_option *table, const char *what,
                           const struct lfp_kvlist *kv,
                           const struct lf_section *origin, void *conf,
                           struct lfp_err *err)
{
    const char *file = origin->file;
    int line = origin->line;
    struct lf_section sec = {.name = "kvlist", .file = file, .line = line};
    int rc;

    sec.kvs = lf_calloc(kv->n + 1, sizeof(*sec.kvs));
    sec.nkv = kv->n;
    for (size_t i = 0; i < kv->n; i++) {
        sec.kvs[i].key = kv->keys[i];
        sec.kvs[i].val = kv->vals[i];
        sec.kvs[i].file = file;
        sec.kvs[i].line = line;
    }
    rc = lf_option_apply(table, what, &sec, NULL, conf, err);
    lf_free(sec.kvs); /* keys and values stay the kvlist's */
    return rc;
}

static void option_free_list(struct lfp_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        lf_free(list->items[i]);
    lf_free(list->items);
    list->items = NULL;
    list->n = 0;
}

void lf_option_free(const struct lfp_option *table, void *conf)
{
    for (const struct lfp_option *o = table; o->name; o++) {
        char *dst = (char *)conf + o->offset;
        if (o->type == LFP_OPT_LIST || (o->flags & LFP_OPT_MULTI)) {
            option_free_list((struct lfp_list *)dst);
        } else if (o->type == LFP_OPT_STR || o->type == LFP_OPT_REGEX) {
            lf_free(*(char **)dst);
            *(char **)dst = NULL;
        } else if (o->type == LFP_OPT_PREFIX) {
            struct lfp_kvlist *kv = (struct lfp_kvlist *)dst;
            for (size_t i = 0; i < kv->n; i++) {
                lf_free(kv->keys[i]);
                lf_free(kv->vals[i]);
            }
            lf_free(kv->keys);
            lf_free(kv->vals);
            memset(kv, 0, sizeof(*kv));
        }
    }
}

static const char *option_type_label(const struct lfp_option *o)
{
    return option_type_names[o->type > 0 && o->type <= LFP_OPT_PREFIX ? o->type
                                                                      : 0];
}

void lf_option_print(FILE *out, const struct lfp_option *table)
{
    for (const struct lfp_option *o = table; o->name; o++) {
        char expect[200];
        option_expect(o, expect, sizeof(expect));
        (void)fprintf(out, "  %-22s %-9s %-10s %s\n", o->name,
                      option_type_label(o),
                      (o->flags & LFP_OPT_REQUIRED) ? "(required)"
                      : o->def                      ? o->def
                                                    : "-",
                      o->desc ? o->desc : "");
        if (o->type == LFP_OPT_ENUM)
            (void)fprintf(out, "  %-22s %-9s %-10s Values: %s.\n", "", "", "",
                          expect + 7);
    }
}

void lf_option_print_markdown(FILE *out, const struct lfp_option *table)
{
    (void)fprintf(out, "| key | type | default | description |\n"
                       "| --- | --- | --- | --- |\n");
    for (const struct lfp_option *o = table; o->name; o++) {
        char expect[200];
        option_expect(o, expect, sizeof(expect));
        (void)fprintf(
            out, "| `%s%s` | %s | %s | %s%s%s |\n", o->name,
            o->type == LFP_OPT_PREFIX ? "*" : "", option_type_label(o),
            (o->flags & LFP_OPT_REQUIRED) ? "required"
            : o->def                      ? o->def
                                          : "",
            o->desc ? o->desc : "", o->type == LFP_OPT_ENUM ? " Values: " : "",
            o->type == LFP_OPT_ENUM ? expect + 7 : "");
    }
}
