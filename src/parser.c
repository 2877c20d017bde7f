/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.c - the [parser] section: options, built-in definitions, `base`,
 * the per-key rules, workers and the parse entry point.
 *
 * An engine (parsers/regex, parsers/json) finds (key, value) pairs in a line
 * and hands each to lf_parser_emit_*() (parsers/values/values.c), which
 * apply the key's rule. Rules are built here, once: types, rename, nested
 * and time_key all land in one rule per key, with the output names
 * resolved (`ecs off` keeps the source names), so the per-line path never
 * compares key strings for regex groups and does one hash probe per JSON
 * key.
 *
 * `base NAME` starts from a built-in definition and layers the section on
 * top (its types, rename and nested items replace the base's items for the
 * same key). `nested KEY:NAME` parses the value of KEY again with the
 * built-in NAME, e.g. a JSON object after a container runtime's prefix.
 *
 * The parser is immutable after lf_parser_new() and shared by all workers;
 * its counters are relaxed atomics, added to once per line at most.
 */
#include "parser.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/parser_int.h"
#include "chunk.h"
#include "config.h"
#include "embedded.h"
#include "err.h"
#include "json_out.h"
#include "mem.h"
#include "option.h"

/* base chains and nested parsers nest at most this deep. */
#define PARSER_MAX_DEPTH 4

/* ---- options ---------------------------------------------------------- */

static const char *const parser_formats[] = {"regex", "json", NULL};

static const struct lfp_option parser_options[] = {
    {.name = "name",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct lf_parser_conf, name),
     .desc = "Name of the parser; inputs refer to it with their parser "
             "option."},
    {.name = "base",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct lf_parser_conf, base),
     .desc = "A built-in definition (e.g. nginx_upstream) this section "
             "starts from: its format, regex, time and rules apply unless "
             "this section sets them; types, rename and nested items here "
             "replace the base's items for the same key. Use it with ecs "
             "off to get a built-in parser with its source field names."},
    {.name = "format",
     .type = LFP_OPT_ENUM,
     .def = "regex",
     .enum_values = parser_formats,
     .offset = offsetof(struct lf_parser_conf, format),
     .desc = "Engine: regex (a PCRE2 pattern with named groups) or json "
             "(one JSON object per line, nested keys joined with dots)."},
    {.name = "regex",
     .type = LFP_OPT_REGEX,
     .offset = offsetof(struct lf_parser_conf, regex),
     .desc = "PCRE2 pattern for format regex. Each named group that matched "
             "becomes a field named after the group, in group order; "
             "groups that did not take part in the match are left out. "
             "Required with format regex."},
    {.name = "time_key",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct lf_parser_conf, time_key),
     .desc = "Field holding the event time (its source name), parsed with "
             "time_format into the record's timestamp. Without it, records "
             "are stamped with the time they were parsed."},
    {.name = "time_format",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct lf_parser_conf, time_format),
     .desc = "How time_key is written: strftime-style conversions such as "
             "%d/%b/%Y:%H:%M:%S %z, or iso8601 / rfc3339, or %s for epoch "
             "seconds. Repeat the key for alternatives, tried in order. A "
             "time without a zone is taken as UTC. Required with time_key."},
    {.name = "time_keep",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct lf_parser_conf, time_keep),
     .desc = "Keep the time_key field in the record after its time was "
             "parsed (a field whose time did not parse is always kept)."},
    {.name = "types",
     .type = LFP_OPT_LIST,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct lf_parser_conf, types),
     .desc = "Conversions as key:type words (the key may repeat on several "
             "lines). Types: int, float, bool, string; optional (a string "
             "left out when - or empty); uint (an int, negative becomes "
             "null); duration_s, duration_ms, duration_us, duration_ns (a "
             "decimal in that unit, as int nanoseconds); seconds_ms, "
             "seconds_us, seconds_ns (as float seconds); int_list, "
             "float_list, str_list (nginx multi-value fields such as "
             "\"502, 504 : 200\": the last value, the array and the count "
             "of values, - for none); addr (an address, and again as IP "
             "when it is an IP literal); addr_list (an X-Forwarded-For "
             "list: the first public address, else the first, its IP, and "
             "the array); flags (comma-separated words as an array, - for "
             "none); http_version (HTTP/1.1 as 1.1). For typed values - or "
             "an empty value becomes null; a value that does not convert "
             "stays a string and is counted."},
    {.name = "rename",
     .type = LFP_OPT_LIST,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct lf_parser_conf, rename),
     .desc = "Output names as key:name words, e.g. status:http.response."
             "status_code (the key may repeat on several lines). Types that "
             "emit several fields take names separated by /: int_list, "
             "float_list, str_list take value/array/count (upstream_addr:"
             "upstream.address/upstream.addresses/upstream.attempts), addr "
             "takes address/ip, addr_list takes address/ip/array. Without "
             "the further names the array is name_list and no count or IP "
             "is added."},
    {.name = "ecs",
     .type = LFP_OPT_BOOL,
     .def = "on",
     .offset = offsetof(struct lf_parser_conf, ecs),
     .desc = "Apply rename (the built-in definitions map to Elastic Common "
             "Schema names). Off keeps the source names: a list type then "
             "emits key (the last value) and key_list (the array)."},
    {.name = "nested",
     .type = LFP_OPT_LIST,
     .flags = LFP_OPT_MULTI,
     .offset = offsetof(struct lf_parser_conf, nested),
     .desc = "key:parser words: the value of key is parsed again with the "
             "built-in parser of that name and its fields take the key's "
             "place, e.g. a JSON object after a container log prefix. A "
             "value that does not parse makes the line a parse error."},
    {0},
};

const struct lfp_option *lf_parser_options(void)
{
    return parser_options;
}

size_t lf_parser_conf_size(void)
{
    return sizeof(struct lf_parser_conf);
}

/* ---- built-in definitions and base ---------------------------------- */

/* Fills conf (zeroed by the caller) from the built-in section `name`.
 * Caller frees with lf_option_free(parser_options, conf). */
static int parser_builtin_conf(const char *name, struct lf_parser_conf *conf,
                               struct lfp_err *err)
{
    struct lf_config *defs = NULL;
    int rc = LFP_ERR_CONFIG;

    if (lf_config_load_string("builtin parsers", lf_embedded_parser_defs, NULL,
                              &defs, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    for (size_t i = 0; i < defs->nsec; i++) {
        const char *n = lf_section_get(&defs->secs[i], "name");
        if (strcmp(defs->secs[i].name, "parser") == 0 && n &&
            strcmp(n, name) == 0) {
            rc = lf_option_apply(parser_options, "[parser]", &defs->secs[i],
                                 NULL, conf, err);
            break;
        }
    }
    lf_config_free(defs);
    if (rc != LFP_OK && err->rc == LFP_OK)
        lf_err_set(err, LFP_ERR_CONFIG, "no built-in parser named '%s'", name);
    return rc;
}

/* The key of a "key:..." item: its length up to the last ':' (keys may
 * hold ':', e.g. Envoy's ":authority"); 0 if there is none. */
static size_t parser_item_key_len(const char *item)
{
    const char *colon = strrchr(item, ':');

    return colon ? (size_t)(colon - item) : 0;
}

static int parser_items_have_key(const struct lfp_list *l, const char *key,
                                 size_t key_len)
{
    for (size_t i = 0; i < l->n; i++)
        if (parser_item_key_len(l->items[i]) == key_len &&
            memcmp(l->items[i], key, key_len) == 0)
            return 1;
    return 0;
}

/* dst = base's items whose key over does not list, then over's; copies. */
static void parser_items_merge(struct lfp_list *dst,
                               const struct lfp_list *base,
                               const struct lfp_list *over)
{
    dst->items = lf_calloc(base->n + over->n + 1, sizeof(char *));
    dst->n = 0;
    for (size_t i = 0; i < base->n; i++) {
        size_t k = parser_item_key_len(base->items[i]);
        if (!parser_items_have_key(over, base->items[i], k))
            dst->items[dst->n++] = lf_strdup(base->items[i]);
    }
    for (size_t i = 0; i < over->n; i++)
        dst->items[dst->n++] = lf_strdup(over->items[i]);
}

static void parser_list_copy(struct lfp_list *dst, const struct lfp_list *src)
{
    static const struct lfp_list empty = {0};

    parser_items_merge(dst, &empty, src);
}

static char *parser_strdup_or_null(const char *s)
{
    return s ? lf_strdup(s) : NULL;
}

/* out (zeroed) = conf layered over base; every string owned by out. */
static void parser_conf_merge(struct lf_parser_conf *out,
                              const struct lf_parser_conf *base,
                              const struct lf_parser_conf *conf)
{
    const struct lf_parser_conf *re = conf->regex ? conf : base;
    const struct lf_parser_conf *tk = conf->time_key ? conf : base;
    const struct lf_parser_conf *tf = conf->time_format.n ? conf : base;

    out->name = lf_strdup(conf->name);
    out->format = re->format;
    out->regex = parser_strdup_or_null(re->regex);
    out->time_key = parser_strdup_or_null(tk->time_key);
    parser_list_copy(&out->time_format, &tf->time_format);
    out->time_keep = conf->time_keep || base->time_keep;
    parser_items_merge(&out->types, &base->types, &conf->types);
    parser_items_merge(&out->rename, &base->rename, &conf->rename);
    parser_items_merge(&out->nested, &base->nested, &conf->nested);
    out->ecs = conf->ecs && base->ecs;
    out->base = NULL;
}

/* out (zeroed) = conf with its base chain folded in. Caller frees with
 * lf_option_free(parser_options, out). */
static int parser_conf_resolve(const struct lf_parser_conf *conf,
                               struct lf_parser_conf *out, int depth,
                               struct lfp_err *err)
{
    struct lf_parser_conf base = {0}, flat = {0};
    int rc;

    if (depth >= PARSER_MAX_DEPTH)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "base: definitions nest deeper than %d (a loop?)",
                          PARSER_MAX_DEPTH);
    rc = parser_builtin_conf(conf->base, &base, err);
    if (rc == LFP_OK && base.base)
        rc = parser_conf_resolve(&base, &flat, depth + 1, err);
    else if (rc == LFP_OK)
        parser_conf_merge(&flat, &base, &base);
    if (rc == LFP_OK)
        parser_conf_merge(out, &flat, conf);
    lf_option_free(parser_options, &base);
    lf_option_free(parser_options, &flat);
    if (rc != LFP_OK)
        lf_err_prefix(err, "base %s", conf->base);
    return rc;
}

/* ---- checking the conf ---------------------------------------------- */

static int parser_check_conf(const struct lf_parser_conf *conf,
                             struct lfp_err *err)
{
    if (!conf->name || !*conf->name)
        return lf_err_set(err, LFP_ERR_CONFIG, "parser: name is required");
    if (conf->format != LF_PARSER_REGEX && conf->format != LF_PARSER_JSON)
        return lf_err_set(err, LFP_ERR_CONFIG, "unknown format %d",
                          conf->format);
    if (conf->format == LF_PARSER_REGEX && (!conf->regex || !*conf->regex))
        return lf_err_set(err, LFP_ERR_CONFIG, "format regex needs a regex");
    if (conf->format == LF_PARSER_JSON && conf->regex)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "regex is only used with format regex");
    if (conf->time_key && !conf->time_format.n)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "time_key %s needs a time_format", conf->time_key);
    if (conf->time_format.n && !conf->time_key)
        return lf_err_set(err, LFP_ERR_CONFIG, "time_format needs a time_key");
    if (conf->time_key && strlen(conf->time_key) > UINT16_MAX)
        return lf_err_set(err, LFP_ERR_CONFIG, "time_key is too long");
    return LFP_OK;
}

/* ---- rules ------------------------------------------------------------ */

/* Names the parser owns are stored framed: ,\" before the name, \": after
 * it and zeros up to PARSER_KEY_FRAME bytes from the frame's start, so the
 * JSON writer copies ,"name": in one fixed-size move (LFP_FIELD_KEY_FRAMED).
 * A name is therefore not a C string: use its length. Free with
 * parser_key_free(). */
#define PARSER_KEY_FRAME 32

/* Room for a name of n bytes, framed before it; the caller copies the
 * name in, then closes the frame with parser_key_close(). */
static char *parser_key_alloc(size_t n)
{
    char *frame =
        lf_calloc(1, n + 5 > PARSER_KEY_FRAME ? n + 5 : PARSER_KEY_FRAME);

    frame[0] = ',';
    frame[1] = '"';
    return frame + 2;
}

static void parser_key_close(char *key, size_t n)
{
    key[n] = '"';
    key[n + 1] = ':';
}

static char *parser_key_dup(const char *s, size_t n)
{
    char *key = parser_key_alloc(n);

    memcpy(key, s, n);
    parser_key_close(key, n);
    return key;
}

static void parser_key_free(char *key)
{
    if (key)
        lf_free(key - 2);
}

static void parser_mask_add(struct lf_parser *p, size_t key_len)
{
    p->key_len_mask |= UINT64_C(1) << (key_len < 63 ? key_len : 63);
}

static struct lf_parser_rule *parser_rule_scan(struct lf_parser *p,
                                               const char *key, size_t n)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].key_len == n && memcmp(p->rules[i].key, key, n) == 0)
            return &p->rules[i];
    return NULL;
}

/* The rule for key[0..n), added if missing. */
static struct lf_parser_rule *parser_rule_get(struct lf_parser *p,
                                              const char *key, size_t n)
{
    struct lf_parser_rule *r = parser_rule_scan(p, key, n);

    if (r)
        return r;
    if (p->nrules == p->rules_cap) {
        p->rules_cap = p->rules_cap ? p->rules_cap * 2 : 16;
        p->rules = lf_realloc(p->rules, p->rules_cap * sizeof(*p->rules));
    }
    r = &p->rules[p->nrules++];
    memset(r, 0, sizeof(*r));
    r->key = parser_key_dup(key, n);
    r->key_len = (uint16_t)n;
    r->type = LF_PT_NATIVE;
    r->sub = -1;
    parser_mask_add(p, n);
    return r;
}

/* Splits "key:rest" at its last ':'. */
static int parser_item_split(const char *what, const char *item,
                             size_t *key_len, const char **rest,
                             struct lfp_err *err)
{
    *rest = "";
    *key_len = parser_item_key_len(item);
    if (*key_len == 0 || !item[*key_len + 1])
        return lf_err_set(err, LFP_ERR_CONFIG, "%s: '%s' is not key:%s", what,
                          item, strcmp(what, "types") == 0 ? "type" : "value");
    if (*key_len > UINT16_MAX)
        return lf_err_set(err, LFP_ERR_CONFIG, "%s: key too long", what);
    *rest = item + *key_len + 1;
    return LFP_OK;
}

static int parser_add_type(struct lf_parser *p, const char *item,
                           struct lfp_err *err)
{
    struct lf_parser_rule *r;
    const char *tname;
    size_t key_len;
    uint8_t unit = 0;
    int type;

    if (parser_item_split("types", item, &key_len, &tname, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    type = lf_parser_type_from_name(tname, &unit);
    if (type < 0)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "types: unknown type '%s' in '%s' (see "
                          "logferry --help-plugin parser)",
                          tname, item);
    r = parser_rule_get(p, item, key_len);
    if (r->has_type)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "types: key '%.*s' is listed twice", (int)key_len,
                          item);
    r->has_type = 1;
    r->type = (uint8_t)type;
    r->unit = unit;
    return LFP_OK;
}

static int parser_add_rename(struct lf_parser *p, const char *item,
                             struct lfp_err *err)
{
    struct lf_parser_rule *r;
    const char *target;
    size_t key_len;

    if (parser_item_split("rename", item, &key_len, &target, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    r = parser_rule_get(p, item, key_len);
    if (r->rename)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "rename: key '%.*s' is listed twice", (int)key_len,
                          item);
    r->rename = lf_strdup(target);
    return LFP_OK;
}

static int parser_build_builtin(const char *name, int depth, int ecs_off,
                                struct lf_parser **out, struct lfp_err *err);

static int parser_add_nested(struct lf_parser *p, const char *item, int depth,
                             struct lfp_err *err)
{
    struct lf_parser_rule *r;
    struct lf_parser *sub = NULL;
    const char *name;
    size_t key_len;

    if (parser_item_split("nested", item, &key_len, &name, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (parser_build_builtin(name, depth + 1, !p->ecs, &sub, err) != LFP_OK) {
        lf_err_prefix(err, "nested %s", item);
        return LFP_ERR_CONFIG;
    }
    p->subs = lf_realloc(p->subs, (p->nsubs + 1) * sizeof(struct lf_parser *));
    p->subs[p->nsubs] = sub;
    r = parser_rule_get(p, item, key_len);
    r->type = LF_PT_NESTED;
    r->has_type = 1;
    r->sub = (int16_t)p->nsubs++;
    return LFP_OK;
}

static void parser_name_set(struct lf_parser_rule *r, int i, const char *s,
                            size_t n)
{
    r->names[i] = parser_key_dup(s, n);
    r->name_lens[i] = (uint16_t)n;
}

/* name + suffix as an owned name. */
static void parser_name_suffix(struct lf_parser_rule *r, int i,
                               const char *name, size_t n, const char *suffix)
{
    size_t sn = strlen(suffix);
    char *s = parser_key_alloc(n + sn);

    memcpy(s, name, n);
    memcpy(s + n, suffix, sn + 1);
    parser_key_close(s, n + sn);
    r->names[i] = s;
    r->name_lens[i] = (uint16_t)(n + sn);
}

/* The LFP_FIELD_KEY_* flags of a name the parser owns (parser_key_alloc()). */
static uint8_t parser_key_flags(const char *s, size_t n)
{
    if (!lf_json_plain(s, n))
        return LFP_FIELD_KEY_STABLE;
    if (n + 4 <= PARSER_KEY_FRAME)
        return LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN |
               LFP_FIELD_KEY_FRAMED;
    return LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN;
}

/* Sets names[] from the rename target (when ecs is on), then the default
 * names of further outputs, and their flags. */
static int parser_rule_names(const struct lf_parser *p,
                             struct lf_parser_rule *r, struct lfp_err *err)
{
    int max = lf_parser_type_names(r->type), n = 0;
    const char *s = p->ecs ? r->rename : NULL;
    const char *primary = r->key;
    size_t primary_len = r->key_len;

    while (s && *s && n < LF_PARSER_NAMES) {
        size_t len = strcspn(s, "/");
        if (len == 0 || len > UINT16_MAX)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "rename: empty or long name in '%s'", r->rename);
        parser_name_set(r, n++, s, len);
        s += len + (s[len] == '/');
    }
    if (s && *s)
        n = LF_PARSER_NAMES + 1;
    if (n > max)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "rename: '%.*s:%s' gives %d names, the type of "
                          "'%.*s' emits %d",
                          (int)r->key_len, r->key, r->rename, n,
                          (int)r->key_len, r->key, max);
    if (r->names[0]) {
        primary = r->names[0];
        primary_len = r->name_lens[0];
    }
    if ((r->type == LF_PT_INT_LIST || r->type == LF_PT_FLOAT_LIST ||
         r->type == LF_PT_STR_LIST) &&
        !r->names[1])
        parser_name_suffix(r, 1, primary, primary_len, "_list");
    if (r->type == LF_PT_ADDR_LIST && !r->names[2])
        parser_name_suffix(r, 2, primary, primary_len, "_list");
    r->key_flags = parser_key_flags(r->key, r->key_len);
    for (int i = 0; i < LF_PARSER_NAMES; i++)
        if (r->names[i])
            r->name_flags[i] = parser_key_flags(r->names[i], r->name_lens[i]);
    return LFP_OK;
}

static uint32_t parser_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void parser_hash_build(struct lf_parser *p)
{
    size_t size = 8;

    while (size < p->nrules * 2)
        size *= 2;
    p->hash = lf_calloc(size, sizeof(*p->hash));
    p->hash_mask = size - 1;
    for (size_t i = 0; i < p->nrules; i++) {
        size_t h =
            parser_hash(p->rules[i].key, p->rules[i].key_len) & p->hash_mask;
        while (p->hash[h])
            h = (h + 1) & p->hash_mask;
        p->hash[h] = (uint32_t)i + 1;
    }
}

static int parser_add_items(struct lf_parser *p,
                            const struct lf_parser_conf *conf, int depth,
                            struct lfp_err *err)
{
    int rc = LFP_OK;

    for (size_t i = 0; rc == LFP_OK && i < conf->types.n; i++)
        rc = parser_add_type(p, conf->types.items[i], err);
    for (size_t i = 0; rc == LFP_OK && i < conf->rename.n; i++)
        rc = parser_add_rename(p, conf->rename.items[i], err);
    for (size_t i = 0; rc == LFP_OK && i < conf->nested.n; i++)
        rc = parser_add_nested(p, conf->nested.items[i], depth, err);
    return rc;
}

static int parser_setup_time(struct lf_parser *p,
                             const struct lf_parser_conf *conf,
                             struct lfp_err *err)
{
    struct lf_parser_rule *r;

    p->tfs = lf_calloc(conf->time_format.n, sizeof(struct lf_timefmt *));
    for (size_t i = 0; i < conf->time_format.n; i++) {
        if (lf_timefmt_compile(conf->time_format.items[i], &p->tfs[i], err) !=
            LFP_OK) {
            lf_err_prefix(err, "time_format");
            return LFP_ERR_CONFIG;
        }
        p->ntfs++;
    }
    p->time_key = lf_strdup(conf->time_key);
    p->time_key_len = (uint16_t)strlen(p->time_key);
    p->time_keep = conf->time_keep != 0;
    r = parser_rule_get(p, p->time_key, p->time_key_len);
    r->is_time = 1;
    return LFP_OK;
}

static int parser_setup(struct lf_parser *p, const struct lf_parser_conf *conf,
                        int depth, struct lfp_err *err)
{
    int rc = parser_add_items(p, conf, depth, err);

    if (rc == LFP_OK && conf->time_key)
        rc = parser_setup_time(p, conf, err);
    for (size_t i = 0; rc == LFP_OK && i < p->nrules; i++)
        rc = parser_rule_names(p, &p->rules[i], err);
    if (rc == LFP_OK)
        parser_hash_build(p);
    return rc;
}

/* ---- building a parser ------------------------------------------------ */

static struct lf_parser *parser_alloc(const struct lf_parser_conf *conf)
{
    struct lf_parser *p = lf_calloc(1, sizeof(*p));

    p->name = lf_strdup(conf->name);
    p->format = conf->format;
    p->ecs = conf->ecs != 0;
    p->stats = lf_calloc(1, sizeof(*p->stats));
    atomic_init(&p->stats->parse_errors, 0);
    atomic_init(&p->stats->conv_errors, 0);
    atomic_init(&p->stats->time_errors, 0);
    return p;
}

/* Builds from a conf without base. */
static int parser_build(const struct lf_parser_conf *conf, int depth,
                        struct lf_parser **out, struct lfp_err *err)
{
    struct lf_parser *p;
    int rc = parser_check_conf(conf, err);

    *out = NULL;
    if (rc != LFP_OK) {
        if (conf->name)
            lf_err_prefix(err, "parser %s", conf->name);
        return rc;
    }
    p = parser_alloc(conf);
    rc = parser_setup(p, conf, depth, err);
    if (rc == LFP_OK) {
        p->engine = conf->format == LF_PARSER_JSON ? &lf_parser_engine_json
                                                   : &lf_parser_engine_regex;
        rc = p->engine->init(p, conf, &p->ectx, err);
        if (rc != LFP_OK)
            p->engine = NULL; /* nothing for destroy */
    }
    if (rc != LFP_OK) {
        lf_err_prefix(err, "parser %s", conf->name);
        lf_parser_free(p);
        return rc;
    }
    *out = p;
    return LFP_OK;
}

static int parser_new_depth(const struct lf_parser_conf *conf, int depth,
                            struct lf_parser **out, struct lfp_err *err)
{
    struct lf_parser_conf flat = {0};
    int rc;

    *out = NULL;
    if (!conf->base)
        return parser_build(conf, depth, out, err);
    if (!conf->name)
        return parser_build(conf, depth, out, err); /* names the problem */
    rc = parser_conf_resolve(conf, &flat, depth, err);
    if (rc == LFP_OK)
        rc = parser_build(&flat, depth, out, err);
    else
        lf_err_prefix(err, "parser %s", conf->name);
    lf_option_free(parser_options, &flat);
    return rc;
}

static int parser_build_builtin(const char *name, int depth, int ecs_off,
                                struct lf_parser **out, struct lfp_err *err)
{
    struct lf_parser_conf conf = {0};
    int rc;

    *out = NULL;
    if (depth >= PARSER_MAX_DEPTH)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "parsers nest deeper than %d (a loop?)",
                          PARSER_MAX_DEPTH);
    rc = parser_builtin_conf(name, &conf, err);
    if (rc == LFP_OK) {
        if (ecs_off)
            conf.ecs = 0;
        rc = parser_new_depth(&conf, depth, out, err);
    }
    lf_option_free(parser_options, &conf);
    return rc;
}

int lf_parser_new(const struct lf_parser_conf *conf, struct lf_parser **out,
                  struct lfp_err *err)
{
    return parser_new_depth(conf, 0, out, err);
}

int lf_parser_new_builtin(const char *name, struct lf_parser **out,
                          struct lfp_err *err)
{
    return parser_build_builtin(name, 0, 0, out, err);
}

void lf_parser_free(struct lf_parser *p)
{
    if (!p)
        return;
    if (p->engine)
        p->engine->destroy(p->ectx);
    for (size_t i = 0; i < p->nrules; i++) {
        struct lf_parser_rule *r = &p->rules[i];
        for (int j = 0; j < LF_PARSER_NAMES; j++)
            parser_key_free(r->names[j]);
        lf_free(r->rename);
        parser_key_free(r->key);
    }
    lf_free(p->rules);
    lf_free(p->hash);
    for (size_t i = 0; i < p->nsubs; i++)
        lf_parser_free(p->subs[i]);
    lf_free(p->subs);
    for (size_t i = 0; i < p->ntfs; i++)
        lf_timefmt_free(p->tfs[i]);
    lf_free(p->tfs);
    lf_free(p->time_key);
    lf_free(p->stats);
    lf_free(p->name);
    lf_free(p);
}

const char *lf_parser_name(const struct lf_parser *p)
{
    return p->name;
}

struct lf_parser_worker *lf_parser_worker_new(const struct lf_parser *p)
{
    struct lf_parser_worker *w = lf_calloc(1, sizeof(*w));

    w->p = p;
    w->ewctx = p->engine->worker_new(p->ectx);
    if (p->nsubs) {
        w->subs = lf_calloc(p->nsubs, sizeof(struct lf_parser_worker *));
        for (size_t i = 0; i < p->nsubs; i++)
            w->subs[i] = lf_parser_worker_new(p->subs[i]);
    }
    return w;
}

void lf_parser_worker_free(struct lf_parser_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; w->subs && i < w->p->nsubs; i++)
        lf_parser_worker_free(w->subs[i]);
    lf_free(w->subs);
    w->p->engine->worker_free(w->ewctx);
    lf_free(w);
}

uint64_t lf_parser_parse_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->parse_errors, memory_order_relaxed);
}

uint64_t lf_parser_conv_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->conv_errors, memory_order_relaxed);
}

uint64_t lf_parser_time_errors(const struct lf_parser *p)
{
    return atomic_load_explicit(&p->stats->time_errors, memory_order_relaxed);
}

/* ---- keys --------------------------------------------------------------- */

static const struct lf_parser_rule *parser_rule_find(const struct lf_parser *p,
                                                     const char *key, size_t n)
{
    size_t h = parser_hash(key, n) & p->hash_mask;

    for (uint32_t idx; (idx = p->hash[h]) != 0; h = (h + 1) & p->hash_mask) {
        const struct lf_parser_rule *r = &p->rules[idx - 1];
        if (r->key_len == n && memcmp(r->key, key, n) == 0)
            return r;
    }
    return NULL;
}

void lf_parser_key_init(const struct lf_parser *p, struct lf_parser_key *k,
                        const char *key, size_t key_len)
{
    const struct lf_parser_rule *r;

    k->key = key;
    k->key_len = (uint16_t)key_len;
    k->type = LF_PT_NATIVE;
    k->is_time = 0;
    k->key_flags = 0;
    k->rule = NULL;
    if (!(p->key_len_mask & (UINT64_C(1) << (key_len < 63 ? key_len : 63))))
        return;
    r = parser_rule_find(p, key, key_len);
    if (!r)
        return;
    k->rule = r;
    k->type = r->type;
    k->is_time = r->is_time;
    /* The parser's copy of the name: it outlives any line. */
    k->key = r->names[0] ? r->names[0] : r->key;
    k->key_len = r->names[0] ? r->name_lens[0] : r->key_len;
    k->key_flags = r->names[0] ? r->name_flags[0] : r->key_flags;
}

uint32_t lf_parser_key_nfields(const struct lf_parser_key *k)
{
    return k->type == LF_PT_NESTED ? 0
                                   : (uint32_t)lf_parser_type_names(k->type);
}

/* ---- parsing a line ----------------------------------------------------- */

static void parser_count(const struct lf_parser *p,
                         const struct lf_parser_line *line)
{
    if (line->conv_errors)
        atomic_fetch_add_explicit(&p->stats->conv_errors, line->conv_errors,
                                  memory_order_relaxed);
    if (line->time_errors)
        atomic_fetch_add_explicit(&p->stats->time_errors, line->time_errors,
                                  memory_order_relaxed);
}

int lf_parser_parse(const struct lf_parser *p, struct lf_parser_worker *w,
                    struct lfp_chunk *chunk, struct lfp_record *rec)
{
    struct lf_parser_line line = {
        .p = p, .w = w, .chunk = chunk, .rec = rec, .tc = &w->tc};
    uint32_t flags =
        rec->flags & ~(uint32_t)(LFP_REC_PARSE_ERROR | LFP_REC_TIME_ERROR);

    rec->flags = flags;
    rec->nfields = 0;
    if (p->engine->parse(p->ectx, w->ewctx, &line) != LFP_OK ||
        line.is_failed) {
        rec->nfields = 0;
        rec->flags = flags | LFP_REC_PARSE_ERROR;
        rec->ts_ns = lf_time_now_ns();
        atomic_fetch_add_explicit(&p->stats->parse_errors, 1,
                                  memory_order_relaxed);
        return LFP_ERR_PARSE;
    }
    if (!line.has_time) {
        rec->ts_ns = lf_time_now_ns();
        if (p->time_key) {
            rec->flags |= LFP_REC_TIME_ERROR;
            line.time_errors++;
        }
    }
    parser_count(p, &line);
    return LFP_OK;
}
