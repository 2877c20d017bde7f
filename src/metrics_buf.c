/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_buf.c - growable text buffer and Prometheus escaping. */
#include "metrics_buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void lf_mbuf_init(struct lf_mbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void lf_mbuf_fini(struct lf_mbuf *b)
{
    lf_free(b->data);
    memset(b, 0, sizeof(*b));
}

char *lf_mbuf_take(struct lf_mbuf *b, size_t *len)
{
    char *d = b->data;

    if (len)
        *len = b->len;
    memset(b, 0, sizeof(*b));
    return d;
}

static void mbuf_reserve(struct lf_mbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 4096;

    if (b->len + n + 1 <= b->cap)
        return;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->data = lf_realloc(b->data, cap);
    b->cap = cap;
}

void lf_mbuf_append(struct lf_mbuf *b, const char *s, size_t n)
{
    mbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lf_mbuf_puts(struct lf_mbuf *b, const char *s)
{
    lf_mbuf_append(b, s, strlen(s));
}

void lf_mbuf_printf(struct lf_mbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    mbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lf_mbuf_label_value(struct lf_mbuf *b, const char *s, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        if (s[i] == '\\')
            esc = "\\\\";
        else if (s[i] == '"')
            esc = "\\\"";
        else if (s[i] == '\n')
            esc = "\\n";
        if (!esc)
            continue;
        lf_mbuf_append(b, s + start, i - start);
        lf_mbuf_append(b, esc, 2);
        start = i + 1;
    }
    lf_mbuf_append(b, s + start, n - start);
}

void lf_mbuf_u64(struct lf_mbuf *b, uint64_t v)
{
    lf_mbuf_printf(b, "%llu", (unsigned long long)v);
}

void lf_mbuf_double(struct lf_mbuf *b, double v)
{
    char tmp[40];

    if (isnan(v)) {
        lf_mbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        lf_mbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9e15) {
        lf_mbuf_printf(b, "%.0f", v);
        return;
    }
    (void)snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        (void)snprintf(tmp, sizeof(tmp), "%.17g", v);
    lf_mbuf_puts(b, tmp);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t mbuf_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

char *lf_mbuf_clean_dup(const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out;
    size_t o = 0, i = 0;

    if (n > max)
        n = max;
    out = lf_malloc(n + 1);
    while (i < n) {
        size_t len = mbuf_utf8_len(u + i, n - i);
        if (len == 0 || (len == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
    return out;
}
