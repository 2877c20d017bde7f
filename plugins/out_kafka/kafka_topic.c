/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_topic.c - topic templates ("logs-${upstream.address}",
 * "${@tag}") and message keys taken from a record field.
 *
 * A template is compiled once at init into parts: literal text, a field
 * reference, the tag. Expanding a template for a record writes a topic name
 * Kafka accepts: referenced values are cut down to [A-Za-z0-9._-], the
 * result to 249 bytes.
 */
#include <stdio.h>
#include <string.h>

#include "kafka.h"

#define KAFKA_TPL_MISSING "unknown"

/* Walks text calling part(kind, s, n, arg) per piece; returns LFP_OK or
 * LFP_ERR_CONFIG with err filled on a malformed reference. */
static int kafka_tpl_walk(const char *text,
                          void (*part)(int kind, const char *s, size_t n,
                                       void *arg),
                          void *arg, struct lfp_err *err)
{
    const char *s = text;

    while (*s) {
        const char *ref = strstr(s, "${");
        const char *end;

        if (!ref) {
            part(KAFKA_TPL_TEXT, s, strlen(s), arg);
            break;
        }
        if (ref > s)
            part(KAFKA_TPL_TEXT, s, (size_t)(ref - s), arg);
        end = strchr(ref + 2, '}');
        if (!end || end == ref + 2) {
            (void)snprintf(err->msg, sizeof(err->msg),
                           "topic '%s': malformed ${...} reference, expected "
                           "${field} or ${@tag}",
                           text);
            err->rc = LFP_ERR_CONFIG;
            return LFP_ERR_CONFIG;
        }
        if (end - ref == 6 && memcmp(ref + 2, "@tag", 4) == 0)
            part(KAFKA_TPL_TAG, ref + 2, 4, arg);
        else
            part(KAFKA_TPL_FIELD, ref + 2, (size_t)(end - ref - 2), arg);
        s = end + 1;
    }
    return LFP_OK;
}

static void kafka_tpl_ignore(int kind, const char *s, size_t n, void *arg)
{
    (void)kind;
    (void)s;
    (void)n;
    (void)arg;
}

int kafka_tpl_check(const char *text, struct lfp_err *err)
{
    return kafka_tpl_walk(text, kafka_tpl_ignore, NULL, err);
}

struct kafka_tpl_builder {
    struct kafka_tpl *tpl;
    const struct lfp_host *host;
};

static void kafka_tpl_add(int kind, const char *s, size_t n, void *arg)
{
    struct kafka_tpl_builder *b = arg;
    struct kafka_tpl *tpl = b->tpl;
    struct kafka_tpl_part *p;

    tpl->parts = b->host->mem_realloc(tpl->parts,
                                      (tpl->nparts + 1) * sizeof(*tpl->parts));
    p = &tpl->parts[tpl->nparts++];
    p->kind = kind;
    p->len = n;
    p->text = b->host->mem_alloc(n + 1);
    memcpy(p->text, s, n);
    p->text[n] = '\0';
    if (kind != KAFKA_TPL_TEXT)
        tpl->is_static = 0;
}

int kafka_tpl_init(struct kafka_tpl *tpl, const struct lfp_host *host,
                   const char *text, struct lfp_err *err)
{
    struct kafka_tpl_builder b = {tpl, host};

    memset(tpl, 0, sizeof(*tpl));
    tpl->is_static = 1;
    if (kafka_tpl_walk(text, kafka_tpl_add, &b, err) != LFP_OK) {
        kafka_tpl_fini(tpl, host);
        return LFP_ERR_CONFIG;
    }
    return LFP_OK;
}

void kafka_tpl_fini(struct kafka_tpl *tpl, const struct lfp_host *host)
{
    for (size_t i = 0; i < tpl->nparts; i++)
        host->mem_free(tpl->parts[i].text);
    host->mem_free(tpl->parts);
    memset(tpl, 0, sizeof(*tpl));
}

static int kafka_topic_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Appends s[0, n) to out at *len, made topic-safe, within the limit. */
static void kafka_topic_append(char *out, size_t *len, const char *s, size_t n,
                               int is_value)
{
    for (size_t i = 0; i < n && *len < KAFKA_TOPIC_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[(*len)++] = (char)(!is_value || kafka_topic_char_ok(c) ? c : '_');
    }
}

size_t kafka_tpl_expand(const struct kafka_tpl *tpl,
                        const struct lfp_host *host,
                        const struct lfp_chunk *chunk,
                        const struct lfp_record *rec,
                        char out[KAFKA_TOPIC_MAX + 1])
{
    size_t len = 0;

    for (size_t i = 0; i < tpl->nparts; i++) {
        const struct kafka_tpl_part *p = &tpl->parts[i];
        char num[KAFKA_NUM_MAX];
        const char *v;
        size_t n;

        if (p->kind == KAFKA_TPL_TEXT) {
            kafka_topic_append(out, &len, p->text, p->len, 0);
            continue;
        }
        if (p->kind == KAFKA_TPL_TAG) {
            v = chunk->tag;
            n = chunk->tag_len;
        } else {
            v = kafka_key_of(host, rec, p->text, p->len, num, &n);
        }
        if (!v || n == 0) {
            v = KAFKA_TPL_MISSING;
            n = strlen(KAFKA_TPL_MISSING);
        }
        kafka_topic_append(out, &len, v, n, 1);
    }
    out[len] = '\0';
    return len;
}

const char *kafka_key_of(const struct lfp_host *host,
                         const struct lfp_record *rec, const char *key,
                         size_t key_len, char buf[KAFKA_NUM_MAX], size_t *len)
{
    const size_t cap = KAFKA_NUM_MAX;
    const struct lfp_field *f = host->record_get(rec, key, key_len);
    int n = -1;

    *len = 0;
    if (!f)
        return NULL;
    switch (f->type) {
    case LFP_T_STR:
    case LFP_T_JSON:
        *len = f->n;
        return f->v.s;
    case LFP_T_INT:
        n = snprintf(buf, cap, "%lld", (long long)f->v.i);
        break;
    case LFP_T_FLOAT:
        n = snprintf(buf, cap, "%.17g", f->v.d);
        break;
    case LFP_T_BOOL:
        n = snprintf(buf, cap, "%s", f->v.i ? "true" : "false");
        break;
    default: /* null, arrays: no key */
        return NULL;
    }
    if (n < 0 || (size_t)n >= cap)
        return NULL;
    *len = (size_t)n;
    return buf;
}
