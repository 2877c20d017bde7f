/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeutil.h - parsing event times and printing @timestamp.
 *
 * Formats are compiled once from a strftime-style string. Supported
 * conversions: %Y %y %m %d %e %H %M %S %b (English month abbreviation,
 * case-insensitive) %B %a %A (day names, skipped) %j %z (+hhmm, +hh:mm, Z)
 * %Z (UTC/GMT/Z) %f (fraction of a second, 1-9 digits, after a '.' or ','
 * literal in the format) %s (epoch seconds, optional fraction) %T (%H:%M:%S)
 * %% and literal bytes. The names "iso8601" and "rfc3339" accept
 * YYYY-MM-DD[T ]hh:mm:ss[.fraction][Z|+hh:mm|+hhmm] in one compiled format.
 *
 * Parsing never calls the C library's locale- or TZ-dependent functions and
 * takes no locks; a per-thread cache (struct lf_timecache) turns a repeat of
 * the same second into a memcmp.
 */
#ifndef LF_TIMEUTIL_H
#define LF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_timefmt; /* opaque, immutable once compiled: share across threads */

/* Compiles fmt; on error returns LFP_ERR_CONFIG with a message naming the
 * bad conversion. Caller frees with lf_timefmt_free(). */
int lf_timefmt_compile(const char *fmt, struct lf_timefmt **out,
                       struct lfp_err *err);
void lf_timefmt_free(struct lf_timefmt *tf);

/* Per-thread cache of the last parsed second. Zero-initialize it. */
struct lf_timecache {
    char key[48];
    uint32_t key_len;
    int64_t sec; /* epoch seconds for key, zone applied */
};

/* Parses s[0..len) with tf; stores ns since the epoch (UTC) in *ts_ns.
 * Returns LFP_OK, or LFP_ERR_PARSE when s does not fit the format or names
 * an impossible date. cache may be NULL. */
int lf_time_parse(const struct lf_timefmt *tf, struct lf_timecache *cache,
                  const char *s, size_t len, int64_t *ts_ns);

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
int64_t lf_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Writes "YYYY-MM-DDThh:mm:ss.mmmZ" (24 bytes, no NUL) for ts_ns, UTC. */
#define LF_TIME_ISO_LEN 24
void lf_time_format_iso(int64_t ts_ns, char out[LF_TIME_ISO_LEN]);

/* Current wall-clock time in ns since the epoch. */
int64_t lf_time_now_ns(void);

#endif
