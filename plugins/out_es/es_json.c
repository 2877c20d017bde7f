/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_json.c - locating values in the server's JSON answers (es_json.h).
 *
 * Skipping a container counts brackets outside strings instead of
 * recursing: the server's JSON is well formed, and for anything else the
 * only promise is to stop at end and answer NULL somewhere.
 */
#include "es_json.h"

#include <string.h>

const char *es_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* p is just past the opening quote: returns just past the closing one. */
static const char *es_json_string_end(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '\\') {
            p += 2;
            continue;
        }
        if (*p == '"')
            return p + 1;
        p++;
    }
    return NULL;
}

static const char *es_json_container_end(const char *p, const char *end)
{
    size_t depth = 0;

    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = es_json_string_end(p + 1, end);
            if (!p)
                return NULL;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return NULL;
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return NULL;
}

static int es_json_is_scalar_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' ||
           c == '+' || c == '.' || c == 'E';
}

const char *es_json_skip(const char *p, const char *end)
{
    const char *start;

    p = es_json_ws(p, end);
    if (p >= end)
        return NULL;
    if (*p == '"')
        return es_json_string_end(p + 1, end);
    if (*p == '{' || *p == '[')
        return es_json_container_end(p, end);
    start = p;
    while (p < end && es_json_is_scalar_byte(*p))
        p++;
    return p > start ? p : NULL;
}

/* p at a key (blanks allowed): sets the key's bytes, returns the start of
 * its value (past the colon), or NULL. */
static const char *es_json_member(const char *p, const char *end,
                                  const char **key, size_t *key_len)
{
    const char *kend;

    p = es_json_ws(p, end);
    if (p >= end || *p != '"')
        return NULL;
    kend = es_json_string_end(p + 1, end);
    if (!kend)
        return NULL;
    *key = p + 1;
    *key_len = (size_t)(kend - p - 2);
    p = es_json_ws(kend, end);
    if (p >= end || *p != ':')
        return NULL;
    p = es_json_ws(p + 1, end);
    return p < end ? p : NULL;
}

const char *es_json_first(const char *p, const char *end, const char **key,
                          size_t *key_len)
{
    p = es_json_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    return es_json_member(p + 1, end, key, key_len);
}

const char *es_json_get(const char *p, const char *end, const char *key)
{
    size_t want = strlen(key);

    p = es_json_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p++;
    for (;;) {
        const char *k;
        size_t klen;
        const char *v = es_json_member(p, end, &k, &klen);

        if (!v)
            return NULL;
        if (klen == want && memcmp(k, key, want) == 0)
            return v;
        p = es_json_ws(es_json_skip(v, end), end);
        if (!p || p >= end || *p != ',')
            return NULL;
        p++;
    }
}

const char *es_json_elem_first(const char *p, const char *end)
{
    p = es_json_ws(p, end);
    if (p >= end || *p != '[')
        return NULL;
    p = es_json_ws(p + 1, end);
    if (p >= end || *p == ']')
        return NULL;
    return p;
}

const char *es_json_elem_next(const char *elem, const char *end)
{
    const char *p = es_json_skip(elem, end);

    if (!p)
        return NULL;
    p = es_json_ws(p, end);
    if (p >= end || *p != ',')
        return NULL;
    p = es_json_ws(p + 1, end);
    return p < end ? p : NULL;
}

int es_json_int(const char *p, const char *end, int64_t *out)
{
    int64_t v = 0;
    int is_neg = 0;
    const char *start;

    p = es_json_ws(p, end);
    if (p < end && *p == '-') {
        is_neg = 1;
        p++;
    }
    start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 18)
        v = v * 10 + (*p++ - '0');
    if (p == start)
        return -1;
    *out = is_neg ? -v : v;
    return 0;
}

int es_json_is_true(const char *p, const char *end)
{
    p = es_json_ws(p, end);
    return end - p >= 4 && memcmp(p, "true", 4) == 0;
}

int es_json_str(const char *p, const char *end, const char **s, size_t *n)
{
    const char *q;

    p = es_json_ws(p, end);
    if (p >= end || *p != '"')
        return -1;
    q = es_json_string_end(p + 1, end);
    if (!q)
        return -1;
    *s = p + 1;
    *n = (size_t)(q - p - 2);
    return 0;
}
