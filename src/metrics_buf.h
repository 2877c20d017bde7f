/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_buf.h - a growable text buffer for the /metrics page and metric
 * records, with the escaping the Prometheus text format 0.0.4 needs.
 *
 * Thread: one owner at a time.
 */
#ifndef LF_METRICS_BUF_H
#define LF_METRICS_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_mbuf {
    char *data; /* owned, NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
};

void lf_mbuf_init(struct lf_mbuf *b);
void lf_mbuf_fini(struct lf_mbuf *b); /* frees data */
/* Hands data to the caller (frees with lf_free) and empties b. */
char *lf_mbuf_take(struct lf_mbuf *b, size_t *len);
void lf_mbuf_append(struct lf_mbuf *b, const char *s, size_t n);
void lf_mbuf_puts(struct lf_mbuf *b, const char *s);
void lf_mbuf_printf(struct lf_mbuf *b, const char *fmt, ...) LFP_PRINTF(2, 3);
/* Appends a label value with \, " and newline escaped. */
void lf_mbuf_label_value(struct lf_mbuf *b, const char *s, size_t n);
/* Appends a sample value: integers exactly, +Inf/-Inf/NaN spelled as
 * Prometheus wants, other doubles with 17 significant digits at most. */
void lf_mbuf_double(struct lf_mbuf *b, double v);
void lf_mbuf_u64(struct lf_mbuf *b, uint64_t v);

/* Copies s[0, n) to an owned NUL-terminated string, at most max bytes, with
 * every byte that is not part of valid UTF-8 (and every control byte)
 * replaced by '?': label values must be valid UTF-8. */
char *lf_mbuf_clean_dup(const char *s, size_t n, size_t max);

#endif
