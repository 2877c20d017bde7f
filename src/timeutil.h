/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeutil.h - parsing event times and printing @timestamp.
 *
 * Formats are compiled once from a strftime-style string. Conversions:
 *   %Y year, 4 digits          %y year, 2 digits (69-99: 19xx, 00-68: 20xx)
 *   %m month, 1-2 digits       %d day, 1-2 digits  %e day, space-padded
 *   %b month abbreviation (Jan, case-insensitive)  %B full month name
 *   %a %A day name, abbreviated or full, checked and otherwise ignored
 *   %j day of the year, 1-3 digits
 *   %H %M %S hour, minute, second, 1-2 digits (second 60 is accepted)
 *   %f fraction of a second: 1 or more digits (nanoseconds kept), written
 *      after a '.' or ',' literal, which then matches either separator
 *   %z zone: Z, +hh, +hhmm or +hh:mm    %Z zone name: UTC, GMT, UT or Z
 *   %s epoch seconds, optional '-', optional fraction after '.' or ','
 *   %T is %H:%M:%S, %F is %Y-%m-%d, %% a literal '%'; other bytes match
 *   themselves.
 * The names "iso8601" and "rfc3339" accept
 * YYYY-MM-DD[Tt ]hh:mm:ss[.fraction][Z|+hh:mm|+hhmm|+hh] in one compiled
 * format.
 *
 * Parsing never calls the C library's locale- or TZ-dependent functions and
 * takes no locks; a per-thread cache (struct lf_timecache) turns a repeat of
 * the same second into a memcmp.
 */
#ifndef LF_TIMEUTIL_H
#define LF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <logferry/plugin.h>

struct lf_timefmt; /* opaque, immutable once compiled: share across threads */

/* Compiles fmt; on error returns LFP_ERR_CONFIG with a message naming the
 * bad conversion. A format must name a date: a year (%Y or %y) with a month
 * and a day (or %j), or %s. Fields it leaves out (hour, minute, ...) are 0.
 * Caller frees with lf_timefmt_free(). */
int lf_timefmt_compile(const char *fmt, struct lf_timefmt **out,
                       struct lfp_err *err);
void lf_timefmt_free(struct lf_timefmt *tf);

/* Per-thread cache of the last parsed second. Zero-initialize it.
 *
 * The key is the leading part of a time string that holds the date and the
 * time of day (e.g. "01/Jun/2025:00:00:00" of an nginx time, or
 * "2025-06-01T12:34:56" of an ISO 8601 one). A string whose first key_len
 * bytes equal the key reuses sec and only parses what follows (fraction,
 * zone). Only formats whose date-and-time part has a fixed width are cached;
 * fmt_id tells formats apart, so one cache may serve several formats. */
struct lf_timecache {
    char key[48];
    uint32_t key_len;
    uint64_t fmt_id; /* the format that filled key; 0: empty */
    int64_t sec;     /* seconds of the date and time in key, before the zone
                        offset is applied */
    /* The last whole string parsed and its result: log lines come many
     * to a second, with the same time text. */
    char whole[48];
    uint32_t whole_len;
    uint64_t whole_fmt; /* 0: empty */
    int64_t whole_ns;
};

/* Parses s[0..len) with tf; stores ns since the epoch (UTC) in *ts_ns.
 * The whole of s must match. Returns LFP_OK, or LFP_ERR_PARSE when s does
 * not fit the format, names an impossible date (month 13, Feb 30, hour 24)
 * or a time outside what int64 ns can hold (years 1678-2261 are safe).
 * A string without a zone is taken as UTC. cache may be NULL.
 * Thread: any; cache belongs to the calling thread. */
int lf_time_parse(const struct lf_timefmt *tf, struct lf_timecache *cache,
                  const char *s, size_t len, int64_t *ts_ns);

/* tf's process-unique id, as struct lf_timecache records it (never 0). */
uint64_t lf_timefmt_id(const struct lf_timefmt *tf);

/* A word of p, for comparing time strings. */
static inline uint64_t lf_time_word(const char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* lf_time_parse()'s first step, inline for a caller that has tf's id
 * (lf_timefmt_id()): when s[0..len) is byte for byte the last string
 * parsed into cache with that format, stores its result and returns 1;
 * else returns 0, and lf_time_parse() must run. Compared a word at a
 * time, the last word ending at len: a time string is 20 to 35 bytes,
 * and memcmp's call costs more than the compare. */
static inline int lf_time_parse_again(const struct lf_timecache *cache,
                                      uint64_t fmt_id, const char *s,
                                      size_t len, int64_t *ts_ns)
{
    uint64_t diff = 0;
    size_t i;

    /* Shorter strings (none of a date and a time) are parsed again. */
    if (cache->whole_fmt != fmt_id || cache->whole_len != len ||
        len < sizeof(uint64_t))
        return 0;
    if (len > 24 && len <= 32) { /* most time strings: four words */
        diff = (lf_time_word(cache->whole) ^ lf_time_word(s)) |
               (lf_time_word(cache->whole + 8) ^ lf_time_word(s + 8)) |
               (lf_time_word(cache->whole + 16) ^ lf_time_word(s + 16));
    } else {
        for (i = 0; i + sizeof(uint64_t) < len; i += sizeof(uint64_t))
            diff |= lf_time_word(cache->whole + i) ^ lf_time_word(s + i);
    }
    i = len - sizeof(uint64_t);
    diff |= lf_time_word(cache->whole + i) ^ lf_time_word(s + i);
    if (diff)
        return 0;
    *ts_ns = cache->whole_ns;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
int64_t lf_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Writes "YYYY-MM-DDThh:mm:ss.mmmZ" (24 bytes, no NUL) for ts_ns, UTC.
 * Thread: any (keeps a per-thread copy of the last second printed). */
#define LF_TIME_ISO_LEN 24
void lf_time_format_iso(int64_t ts_ns, char out[LF_TIME_ISO_LEN]);

/* Current wall-clock time in ns since the epoch. */
int64_t lf_time_now_ns(void);

#endif
