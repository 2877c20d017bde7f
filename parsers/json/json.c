/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c - the json parser engine: one JSON object per line, through yajl's
 * callback parser, flattened into fields.
 *
 *   {"status":200,"upstream":{"addr":"10.0.1.13:8080","time":0.025},
 *    "tags":["a","b"]}
 *   -> status=200  upstream.addr="10.0.1.13:8080"  upstream.time=0.025
 *      tags=["a","b"]
 *
 * Nested objects become dotted keys; an array becomes one LFP_T_ARRAY field
 * of its elements, an object or array inside an array becomes an element
 * of type LFP_T_JSON holding its text as written in the line (valid JSON:
 * yajl checked it). Strings without escapes and top-level keys point into
 * the raw line; unescaped strings and dotted keys are copied into the
 * chunk's arena.
 *
 * Each worker keeps one yajl handle for all its lines (yajl 2.1 has no
 * reset, but with yajl_allow_multiple_values a handle that just finished an
 * object takes the next one). A line that fails leaves the handle midway,
 * so it is rebuilt before the next line. The handle's memory comes from a
 * worker-owned arena whose free is a no-op; a rebuild resets the arena, so
 * neither good nor bad lines allocate from the heap once warmed up.
 * Nesting is capped (JSON_MAX_DEPTH) which also keeps yajl's state stack
 * from growing.
 */
#include <stdint.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "arena.h"
#include "chunk.h"
#include "mem.h"
#include "parser.h"

#define JSON_MAX_DEPTH 64
#define JSON_MAX_KEY UINT16_MAX
#define JSON_MAX_ELEMS 4096 /* longer arrays become one LFP_T_JSON value */
#define JSON_ARENA_BLOCK ((size_t)16 << 10)
/* yajl buffers grown past this are given back by a rebuild. */
#define JSON_ARENA_SLACK ((size_t)256 << 10)

struct json_worker {
    struct lf_arena *arena; /* yajl's memory */
    size_t arena_base;      /* reserved bytes right after a rebuild */
    yajl_handle h;
    yajl_alloc_funcs afuncs;
    int is_dirty; /* rebuild the handle before the next line */

    /* The line being parsed. */
    struct lf_parser_line *line;
    uint32_t depth; /* open objects outside arrays */
    int is_done;    /* the top-level object closed */

    /* Key of the next value: path[0..key_len); prefix[d] is where keys of
     * depth d start. key_raw: the same key in the raw line, or NULL. */
    char *path;
    uint32_t key_len;
    const char *key_raw;
    uint32_t prefix[JSON_MAX_DEPTH + 1];

    /* An array under a key: its elements, or its text once too long. */
    int in_array;
    int is_array_text;
    size_t array_start;
    struct lf_parser_key array_key;
    struct lfp_field *elems;
    uint32_t nelems, elems_cap;

    /* An object or array inside the array: skipped, then kept as text. */
    uint32_t nest;
    size_t nest_start;
};

/* ---- yajl's memory: the worker arena ------------------------------------ */

/* Each block starts with its size so that realloc can copy it. */
static void *json_mem_alloc(void *ctx, size_t n)
{
    struct json_worker *w = ctx;
    size_t *b = lf_arena_alloc(w->arena, sizeof(size_t) + n);

    b[0] = n;
    return b + 1;
}

static void *json_mem_realloc(void *ctx, void *ptr, size_t n)
{
    size_t old;
    void *q;

    if (!ptr)
        return json_mem_alloc(ctx, n);
    old = ((size_t *)ptr)[-1];
    if (n <= old)
        return ptr;
    q = json_mem_alloc(ctx, n);
    memcpy(q, ptr, old);
    return q;
}

static void json_mem_free(void *ctx, void *ptr)
{
    (void)ctx; /* the arena is reset when the handle is rebuilt */
    (void)ptr;
}

/* ---- building fields ---------------------------------------------------- */

static int json_in_raw(const struct json_worker *w, const void *s)
{
    const struct lfp_record *rec = w->line->rec;
    const char *c = s;

    return c >= rec->raw && c <= rec->raw + rec->raw_len;
}

/* A value's bytes where they stay valid: the raw line or the arena. */
static const char *json_keep(struct json_worker *w, const void *s, size_t n)
{
    char *copy;

    if (json_in_raw(w, s))
        return s;
    copy = lf_chunk_alloc(w->line->chunk, n ? n : 1);
    memcpy(copy, s, n);
    return copy;
}

/* The key of the value being read. */
static void json_key(struct json_worker *w, struct lf_parser_key *k)
{
    const char *key = w->key_raw;

    if (!key)
        key = json_keep(w, w->path, w->key_len);
    lf_parser_key_init(w->line->p, k, key, w->key_len);
}

static size_t json_offset(const struct json_worker *w)
{
    return yajl_get_bytes_consumed(w->h);
}

/* The next element of the array being collected, or NULL when the array
 * turned to text. */
static struct lfp_field *json_elem(struct json_worker *w)
{
    struct lfp_field *f;

    if (w->is_array_text)
        return NULL;
    if (w->nelems == JSON_MAX_ELEMS) {
        w->is_array_text = 1;
        return NULL;
    }
    if (w->nelems == w->elems_cap) {
        w->elems_cap = w->elems_cap ? w->elems_cap * 2 : 16;
        w->elems = lf_realloc(w->elems, w->elems_cap * sizeof(*w->elems));
    }
    f = &w->elems[w->nelems++];
    memset(f, 0, sizeof(*f));
    return f;
}

static void json_set_text(struct lfp_field *f, const char *s, size_t n)
{
    f->type = LFP_T_JSON;
    f->n = (uint32_t)n;
    f->v.s = s;
}

static void json_array_end(struct json_worker *w)
{
    struct lfp_field *f = lf_parser_emit(w->line, &w->array_key);
    const struct lfp_record *rec = w->line->rec;

    w->in_array = 0;
    if (w->is_array_text) {
        json_set_text(f, rec->raw + w->array_start,
                      json_offset(w) - w->array_start);
        return;
    }
    f->type = LFP_T_ARRAY;
    f->n = w->nelems;
    if (w->nelems) {
        struct lfp_field *arr =
            lf_chunk_alloc(w->line->chunk, w->nelems * sizeof(*arr));
        memcpy(arr, w->elems, w->nelems * sizeof(*arr));
        f->v.arr = arr;
    }
}

/* ---- yajl callbacks: 1 goes on, 0 stops the line ------------------------ */

enum json_target {
    JSON_TO_FIELD, /* a value under a key of an object */
    JSON_TO_ELEM,  /* an element of the array being collected */
    JSON_SKIP,     /* inside an object or array that is kept as text */
    JSON_BAD,      /* a bare value at the top: not an object */
};

static enum json_target json_target(const struct json_worker *w)
{
    if (w->nest)
        return JSON_SKIP;
    if (w->in_array)
        return JSON_TO_ELEM;
    return w->depth ? JSON_TO_FIELD : JSON_BAD;
}

/* The field or element for a null or bool value, or NULL to skip it. */
static struct lfp_field *json_plain(struct json_worker *w,
                                    enum json_target target)
{
    struct lf_parser_key k;

    if (target == JSON_TO_ELEM)
        return json_elem(w);
    if (target != JSON_TO_FIELD)
        return NULL;
    json_key(w, &k);
    return lf_parser_emit(w->line, &k);
}

static int json_on_null(void *ctx)
{
    struct json_worker *w = ctx;
    enum json_target target = json_target(w);
    struct lfp_field *f;

    if (target == JSON_BAD)
        return 0;
    f = json_plain(w, target);
    if (f)
        f->type = LFP_T_NULL;
    return 1;
}

static int json_on_bool(void *ctx, int b)
{
    struct json_worker *w = ctx;
    enum json_target target = json_target(w);
    struct lfp_field *f;

    if (target == JSON_BAD)
        return 0;
    f = json_plain(w, target);
    if (f) {
        f->type = LFP_T_BOOL;
        f->v.i = b != 0;
    }
    return 1;
}

static int json_on_number(void *ctx, const char *s, size_t n)
{
    struct json_worker *w = ctx;
    enum json_target target = json_target(w);
    struct lf_parser_key k;
    struct lfp_field *f;

    if (target == JSON_BAD)
        return 0;
    if (target == JSON_SKIP)
        return 1;
    s = json_keep(w, s, n);
    if (target == JSON_TO_FIELD) {
        json_key(w, &k);
        lf_parser_emit_num(w->line, &k, s, n);
    } else if ((f = json_elem(w)) != NULL &&
               lf_parser_num_value(f, s, n) != 0) {
        f->type = LFP_T_STR; /* out of double range: keep the digits */
        f->n = (uint32_t)n;
        f->v.s = s;
    }
    return 1;
}

static int json_on_string(void *ctx, const unsigned char *s, size_t n)
{
    struct json_worker *w = ctx;
    enum json_target target = json_target(w);
    struct lf_parser_key k;
    struct lfp_field *f;
    const char *v;

    if (target == JSON_BAD || n > UINT32_MAX)
        return 0;
    if (target == JSON_SKIP || (target == JSON_TO_ELEM && w->is_array_text))
        return 1;
    v = json_keep(w, s, n);
    if (target == JSON_TO_FIELD) {
        json_key(w, &k);
        lf_parser_emit_str(w->line, &k, v, n);
    } else if ((f = json_elem(w)) != NULL) {
        f->type = LFP_T_STR;
        f->flags = LFP_FIELD_ESCAPE;
        f->n = (uint32_t)n;
        f->v.s = v;
    }
    return 1;
}

static int json_on_map_key(void *ctx, const unsigned char *s, size_t n)
{
    struct json_worker *w = ctx;
    uint32_t start;

    if (w->nest)
        return 1;
    start = w->prefix[w->depth];
    if (n > JSON_MAX_KEY - start)
        return 0;
    memcpy(w->path + start, s, n);
    w->key_len = start + (uint32_t)n;
    w->key_raw = w->depth == 1 && json_in_raw(w, s) ? (const char *)s : NULL;
    return 1;
}

/* An object or array opening inside an array (or deeper). */
static int json_nest_open(struct json_worker *w)
{
    if (w->nest == 0) {
        w->nest_start = json_offset(w) - 1;
        (void)json_elem(w); /* a slot, filled when it closes */
    }
    return ++w->nest <= JSON_MAX_DEPTH;
}

static int json_nest_close(struct json_worker *w)
{
    if (--w->nest == 0 && !w->is_array_text) {
        const char *text = w->line->rec->raw + w->nest_start;
        json_set_text(&w->elems[w->nelems - 1], text,
                      json_offset(w) - w->nest_start);
    }
    return 1;
}

static int json_on_start_map(void *ctx)
{
    struct json_worker *w = ctx;

    if (w->nest || w->in_array)
        return json_nest_open(w);
    if (w->depth == 0) {
        if (w->is_done) /* a second value on the line */
            return 0;
        w->depth = 1;
        w->prefix[1] = 0;
        return 1;
    }
    if (w->depth == JSON_MAX_DEPTH || w->key_len + 1 > JSON_MAX_KEY)
        return 0;
    w->path[w->key_len] = '.';
    w->prefix[++w->depth] = w->key_len + 1;
    return 1;
}

/* After the top-level object only white space may follow. */
static int json_rest_is_space(const struct json_worker *w)
{
    const struct lfp_record *rec = w->line->rec;

    for (size_t i = json_offset(w); i < rec->raw_len; i++) {
        char c = rec->raw[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return 0;
    }
    return 1;
}

static int json_on_end_map(void *ctx)
{
    struct json_worker *w = ctx;

    if (w->nest)
        return json_nest_close(w);
    if (--w->depth > 0)
        return 1;
    w->is_done = 1;
    return json_rest_is_space(w);
}

static int json_on_start_array(void *ctx)
{
    struct json_worker *w = ctx;

    if (w->nest || w->in_array)
        return json_nest_open(w);
    if (w->depth == 0) /* the line must be an object */
        return 0;
    json_key(w, &w->array_key);
    w->in_array = 1;
    w->is_array_text = 0;
    w->nelems = 0;
    w->array_start = json_offset(w) - 1;
    return 1;
}

static int json_on_end_array(void *ctx)
{
    struct json_worker *w = ctx;

    if (w->nest)
        return json_nest_close(w);
    json_array_end(w);
    return 1;
}

static const yajl_callbacks json_callbacks = {
    .yajl_null = json_on_null,
    .yajl_boolean = json_on_bool,
    .yajl_number = json_on_number,
    .yajl_string = json_on_string,
    .yajl_start_map = json_on_start_map,
    .yajl_map_key = json_on_map_key,
    .yajl_end_map = json_on_end_map,
    .yajl_start_array = json_on_start_array,
    .yajl_end_array = json_on_end_array,
};

/* ---- the engine --------------------------------------------------------- */

static void json_rebuild(struct json_worker *w)
{
    if (w->h)
        yajl_free(w->h);
    lf_arena_reset(w->arena);
    w->h = yajl_alloc(&json_callbacks, &w->afuncs, w);
    /* Lines are bytes: invalid UTF-8 in a string is kept, as with regex. */
    (void)yajl_config(w->h, yajl_dont_validate_strings, 1);
    (void)yajl_config(w->h, yajl_allow_multiple_values, 1);
    w->arena_base = lf_arena_reserved(w->arena);
    w->is_dirty = 0;
}

static int json_init(struct lf_parser *p, const struct lf_parser_conf *conf,
                     void **ectx, struct lfp_err *err)
{
    (void)conf;
    (void)err;
    *ectx = p; /* nothing of its own: types and time live in the parser */
    return LFP_OK;
}

static void *json_worker_new(const void *ectx)
{
    struct json_worker *w = lf_calloc(1, sizeof(*w));

    (void)ectx; /* the parser: lines bring it along */
    w->arena = lf_arena_new(JSON_ARENA_BLOCK);
    w->afuncs = (yajl_alloc_funcs){.malloc = json_mem_alloc,
                                   .realloc = json_mem_realloc,
                                   .free = json_mem_free,
                                   .ctx = w};
    w->path = lf_malloc(JSON_MAX_KEY + 1);
    json_rebuild(w);
    return w;
}

static void json_worker_free(void *ewctx)
{
    struct json_worker *w = ewctx;

    if (!w)
        return;
    yajl_free(w->h);
    lf_arena_free(w->arena);
    lf_free(w->path);
    lf_free(w->elems);
    lf_free(w);
}

static void json_line_begin(struct json_worker *w, struct lf_parser_line *line)
{
    w->line = line;
    w->depth = 0;
    w->is_done = 0;
    w->key_len = 0;
    w->key_raw = NULL;
    w->in_array = 0;
    w->is_array_text = 0;
    w->nest = 0;
}

static int json_parse(const void *ectx, void *ewctx,
                      struct lf_parser_line *line)
{
    struct json_worker *w = ewctx;
    const struct lfp_record *rec = line->rec;
    yajl_status st;

    (void)ectx;
    if (w->is_dirty)
        json_rebuild(w);
    json_line_begin(w, line);
    st = yajl_parse(w->h, (const unsigned char *)(rec->raw ? rec->raw : ""),
                    rec->raw_len);
    w->line = NULL;
    if (st != yajl_status_ok || !w->is_done) {
        w->is_dirty = 1;
        return LFP_ERR_PARSE;
    }
    if (lf_arena_reserved(w->arena) > w->arena_base + JSON_ARENA_SLACK)
        w->is_dirty = 1;
    return LFP_OK;
}

static void json_destroy(void *ectx)
{
    (void)ectx; /* the parser itself */
}

const struct lf_parser_engine lf_parser_engine_json = {
    .name = "json",
    .init = json_init,
    .worker_new = json_worker_new,
    .worker_free = json_worker_free,
    .parse = json_parse,
    .destroy = json_destroy,
};
