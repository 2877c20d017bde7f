/* SPDX-License-Identifier: Apache-2.0 */
/* chunk.c - chunk buffers, records and fields. */
#include "chunk.h"

#include <string.h>

#include "arena.h"
#include "mem.h"

struct chunk_impl {
    struct lfp_chunk pub;
    struct lfp_chunk_core core;
};

struct lfp_chunk *lf_chunk_new(size_t raw_cap, size_t arena_block)
{
    struct chunk_impl *c = lf_calloc(1, sizeof(*c));

    c->pub.core = &c->core;
    c->core.raw = lf_malloc(raw_cap);
    c->core.raw_cap = raw_cap;
    c->core.arena = lf_arena_new(arena_block);
    c->core.rec_cap = 1024;
    c->pub.records = lf_malloc(sizeof(struct lfp_record) * c->core.rec_cap);
    c->pub.tag = c->core.tag_buf;
    atomic_init(&c->core.pending, 0);
    return &c->pub;
}

void lf_chunk_reset(struct lfp_chunk *chunk)
{
    struct lfp_chunk_core *core = chunk->core;

    lf_arena_reset(core->arena);
    chunk->nrecords = 0;
    chunk->pos_source = chunk->pos_begin = chunk->pos_end = 0;
    chunk->pos_seq = 0;
    core->owner = NULL;
    core->seq = 0;
    core->next = NULL;
    atomic_store(&core->pending, 0);
}

void lf_chunk_free(struct lfp_chunk *chunk)
{
    if (!chunk)
        return;
    lf_arena_free(chunk->core->arena);
    lf_free(chunk->core->raw);
    lf_free(chunk->records);
    lf_free((struct chunk_impl *)chunk);
}

void lf_chunk_set_tag(struct lfp_chunk *chunk, const char *tag, size_t len)
{
    if (len >= sizeof(chunk->core->tag_buf))
        len = sizeof(chunk->core->tag_buf) - 1;
    memcpy(chunk->core->tag_buf, tag, len);
    chunk->core->tag_buf[len] = '\0';
    chunk->tag_len = (uint16_t)len;
}

char *lf_chunk_raw(struct lfp_chunk *chunk, size_t *cap)
{
    *cap = chunk->core->raw_cap;
    return chunk->core->raw;
}

/* Makes room for n more records, doubling the vector until they fit. */
static void chunk_grow(struct lfp_chunk *chunk, uint32_t n)
{
    struct lfp_chunk_core *core = chunk->core;

    while (core->rec_cap - chunk->nrecords < n)
        core->rec_cap *= 2;
    chunk->records =
        lf_realloc(chunk->records, sizeof(*chunk->records) * core->rec_cap);
}

void lf_chunk_add_line(struct lfp_chunk *chunk, uint32_t off, uint32_t len,
                       uint32_t rec_flags)
{
    lfp_record_set_line(lf_chunk_add_records(chunk, 1), chunk->core->raw + off,
                        len, rec_flags);
}

struct lfp_record *lf_chunk_add_records(struct lfp_chunk *chunk, uint32_t n)
{
    struct lfp_record *rec;

    if (chunk->core->rec_cap - chunk->nrecords < n)
        chunk_grow(chunk, n);
    rec = &chunk->records[chunk->nrecords];
    chunk->nrecords += n;
    return rec;
}

void *lf_chunk_alloc(struct lfp_chunk *chunk, size_t n)
{
    return lf_arena_alloc(chunk->core->arena, n);
}

void lf_record_reserve(struct lfp_chunk *chunk, struct lfp_record *rec,
                       uint32_t n)
{
    struct lfp_field *f;
    uint32_t cap;

    if (rec->fields_cap - rec->nfields >= n)
        return;
    cap = rec->nfields + n;
    if (cap < 8)
        cap = 8;
    f = lf_arena_alloc(chunk->core->arena, sizeof(*f) * cap);
    if (rec->nfields)
        memcpy(f, rec->fields, sizeof(*f) * rec->nfields);
    rec->fields = f;
    rec->fields_cap = cap;
}

struct lfp_field *lf_record_add(struct lfp_chunk *chunk, struct lfp_record *rec)
{
    struct lfp_field *f;

    if (rec->nfields == rec->fields_cap)
        lf_record_reserve(chunk, rec, rec->fields_cap ? rec->fields_cap : 8);
    f = &rec->fields[rec->nfields++];
    memset(f, 0, sizeof(*f));
    return f;
}

const struct lfp_field *lf_record_get(const struct lfp_record *rec,
                                      const char *key, size_t key_len)
{
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const struct lfp_field *f = &rec->fields[i];
        if (f->key_len == key_len && memcmp(f->key, key, key_len) == 0)
            return f;
    }
    return NULL;
}

static void field_key(struct lfp_field *f, const char *key)
{
    f->key = key;
    f->key_len = (uint16_t)strlen(key);
}

void lf_field_set_str(struct lfp_field *f, const char *key, const char *s,
                      size_t n)
{
    field_key(f, key);
    f->type = LFP_T_STR;
    f->flags = LFP_FIELD_ESCAPE;
    f->n = (uint32_t)n;
    f->v.s = s;
}

void lf_field_set_int(struct lfp_field *f, const char *key, int64_t i)
{
    field_key(f, key);
    f->type = LFP_T_INT;
    f->v.i = i;
}

void lf_field_set_float(struct lfp_field *f, const char *key, double d)
{
    field_key(f, key);
    f->type = LFP_T_FLOAT;
    f->v.d = d;
}
