/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeutil.c - compiled time formats, civil-date arithmetic, ISO printing.
 *
 * A format compiles to a short program of ops (one per conversion or
 * literal byte) that lf_time_parse() runs left to right over the string,
 * collecting the parts in a struct time_parts; the parts are then checked
 * (month 1-12, day within its month, ...) and turned into seconds with
 * lf_days_from_civil(), never with mktime/timegm, so neither the locale nor
 * TZ matters.
 *
 * Cache: the ops that read the date and the time of day come first in most
 * formats ("01/Jun/2025:00:00:00" +0000). When those ops have a fixed width
 * (key_width bytes) and the string starts with the bytes cached from the
 * previous call, their value is reused and only the ops after them run.
 * A parse fills the cache only when every cached op read its full width:
 * then the result depends on those bytes alone, so a byte-equal prefix
 * always means the same seconds. Before that, a string byte-equal to the
 * last one parsed with the format gets its result straight away.
 */
#include "timeutil.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "mem.h"

#define TIME_MAX_OPS 64
/* Seconds whose nanoseconds (plus a fraction) still fit in an int64. */
#define TIME_SEC_MIN INT64_C(-9223372036)
#define TIME_SEC_MAX INT64_C(9223372035)

enum time_op_kind {
    TIME_OP_LIT = 1,   /* one literal byte */
    TIME_OP_YEAR,      /* %Y */
    TIME_OP_YEAR2,     /* %y */
    TIME_OP_MON,       /* %m */
    TIME_OP_MON_ABBR,  /* %b */
    TIME_OP_MON_NAME,  /* %B */
    TIME_OP_DAY,       /* %d */
    TIME_OP_DAY_SP,    /* %e */
    TIME_OP_YDAY,      /* %j */
    TIME_OP_HOUR,      /* %H */
    TIME_OP_MIN,       /* %M */
    TIME_OP_SEC,       /* %S */
    TIME_OP_WDAY_ABBR, /* %a */
    TIME_OP_WDAY_NAME, /* %A */
    TIME_OP_DATE_SEP,  /* ISO: 'T', 't' or ' ' */
    TIME_OP_FRAC,      /* ".%f": '.' or ',' then digits */
    TIME_OP_FRAC_OPT,  /* ISO: optional fraction */
    TIME_OP_ZONE,      /* %z */
    TIME_OP_ZONE_OPT,  /* ISO: optional zone */
    TIME_OP_ZONE_NAME, /* %Z */
    TIME_OP_EPOCH,     /* %s */
};

struct time_op {
    uint8_t kind;  /* enum time_op_kind */
    uint8_t min_w; /* digits: fewest accepted */
    uint8_t max_w; /* digits: most read; fixed-width ops: their width */
    char lit;      /* TIME_OP_LIT: the byte; TIME_OP_EPOCH: 1 if the
                      fraction belongs to the op */
};

struct lf_timefmt {
    uint64_t id; /* process-unique, for struct lf_timecache */
    uint32_t nops;
    uint32_t key_ops;   /* ops [0, key_ops) are the cached prefix */
    uint32_t key_width; /* bytes they read at full width; 0: no cache */
    struct time_op ops[TIME_MAX_OPS];
};

/* What a string said; fields it did not hold keep their defaults. */
struct time_parts {
    int64_t epoch;
    int has_epoch;
    int is_neg; /* a negative epoch: its fraction counts backwards */
    int year, mon, day, yday;
    int hour, min, sec;
    int32_t frac_ns;
    int32_t zone_s;
};

static atomic_uint_fast64_t time_next_id;

static const char *const time_months[12] = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december",
};

static const char *const time_wdays[7] = {
    "sunday",   "monday", "tuesday",  "wednesday",
    "thursday", "friday", "saturday",
};

static const char time_digits2[] = "00010203040506070809"
                                   "10111213141516171819"
                                   "20212223242526272829"
                                   "30313233343536373839"
                                   "40414243444546474849"
                                   "50515253545556575859"
                                   "60616263646566676869"
                                   "70717273747576777879"
                                   "80818283848586878889"
                                   "90919293949596979899";

/* ---- civil dates ------------------------------------------------------ */

/* Howard Hinnant's days_from_civil: eras of 400 years, March-based years so
 * that the leap day is the last day of the year. */
int64_t lf_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse: year, month (1-12) and day (1-31) of a day number. */
static void time_civil_from_days(int64_t z, int64_t *y, unsigned *m,
                                 unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int time_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int time_days_in_month(int64_t y, int m)
{
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    return m == 2 && time_is_leap(y) ? 29 : days[m - 1];
}

/* ---- reading pieces of a string ---------------------------------------- */

static int time_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Reads min_w..max_w decimal digits at *pos. Returns 0 or -1. */
static int time_read_digits(const char *s, size_t len, size_t *pos,
                            unsigned min_w, unsigned max_w, int *val)
{
    size_t i = *pos;
    unsigned n = 0;
    int v = 0;

    while (n < max_w && i < len && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        i++;
        n++;
    }
    if (n < min_w)
        return -1;
    *pos = i;
    *val = v;
    return 0;
}

/* Matches one of names[0..n) at *pos, case-insensitively: the whole name,
 * or only its first 3 letters when is_abbr. Returns the index or -1. */
static int time_read_name(const char *s, size_t len, size_t *pos,
                          const char *const *names, int n, int is_abbr)
{
    for (int k = 0; k < n; k++) {
        size_t nlen = is_abbr ? 3 : strlen(names[k]);
        size_t i;

        if (len - *pos < nlen)
            continue;
        for (i = 0; i < nlen; i++)
            if (time_lower((unsigned char)s[*pos + i]) != names[k][i])
                break;
        if (i == nlen) {
            *pos += nlen;
            return k;
        }
    }
    return -1;
}

/* Reads a fraction: 1 or more digits, nanoseconds from the first 9. */
static int time_read_frac(const char *s, size_t len, size_t *pos, int32_t *ns)
{
    size_t i = *pos;
    int32_t v = 0;
    int n = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (n < 9) {
            v = v * 10 + (s[i] - '0');
            n++;
        }
        i++;
    }
    if (i == *pos)
        return -1;
    for (; n < 9; n++)
        v *= 10;
    *pos = i;
    *ns = v;
    return 0;
}

/* '.' or ',' then a fraction. */
static int time_read_sep_frac(const char *s, size_t len, size_t *pos,
                              int32_t *ns)
{
    size_t i = *pos;

    if (i >= len || (s[i] != '.' && s[i] != ','))
        return -1;
    i++;
    if (time_read_frac(s, len, &i, ns) != 0)
        return -1;
    *pos = i;
    return 0;
}

/* Z, +hh, +hhmm or +hh:mm. */
static int time_read_zone(const char *s, size_t len, size_t *pos,
                          int32_t *zone_s)
{
    size_t i = *pos;
    int sign, hh, mm = 0;

    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        *pos = i + 1;
        *zone_s = 0;
        return 0;
    }
    if (i >= len || (s[i] != '+' && s[i] != '-'))
        return -1;
    sign = s[i++] == '-' ? -1 : 1;
    if (time_read_digits(s, len, &i, 2, 2, &hh) != 0 || hh > 23)
        return -1;
    if (i < len && s[i] == ':')
        i++;
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        if (time_read_digits(s, len, &i, 2, 2, &mm) != 0 || mm > 59)
            return -1;
    } else if (s[i - 1] == ':') {
        return -1;
    }
    *zone_s = sign * (hh * 3600 + mm * 60);
    *pos = i;
    return 0;
}

/* UTC, GMT, UT or Z, case-insensitive. */
static int time_read_zone_name(const char *s, size_t len, size_t *pos)
{
    static const char *const names[] = {"utc", "gmt", "ut", "z"};

    return time_read_name(s, len, pos, names, 4, 0) < 0 ? -1 : 0;
}

/* Epoch seconds: optional '-', 1-11 digits, optional fraction. */
static int time_read_epoch(const char *s, size_t len, size_t *pos,
                           int with_frac, struct time_parts *tp)
{
    size_t i = *pos, start;
    int64_t v = 0;
    int is_neg = 0;

    if (i < len && s[i] == '-') {
        is_neg = 1;
        i++;
    }
    start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 11)
        v = v * 10 + (s[i++] - '0');
    if (i == start || (i < len && s[i] >= '0' && s[i] <= '9'))
        return -1;
    if (with_frac && i + 1 < len && (s[i] == '.' || s[i] == ',') &&
        time_read_sep_frac(s, len, &i, &tp->frac_ns) != 0)
        return -1;
    tp->epoch = is_neg ? -v : v;
    tp->has_epoch = 1;
    tp->is_neg = is_neg;
    *pos = i;
    return 0;
}

/* ---- running a compiled format ----------------------------------------- */

/* Ops that store a number read with time_read_digits(). */
static int *time_op_slot(const struct time_op *op, struct time_parts *tp)
{
    switch (op->kind) {
    case TIME_OP_YEAR:
    case TIME_OP_YEAR2:
        return &tp->year;
    case TIME_OP_MON:
        return &tp->mon;
    case TIME_OP_DAY:
        return &tp->day;
    case TIME_OP_YDAY:
        return &tp->yday;
    case TIME_OP_HOUR:
        return &tp->hour;
    case TIME_OP_MIN:
        return &tp->min;
    case TIME_OP_SEC:
        return &tp->sec;
    default:
        return NULL;
    }
}

/* Ops that read names, separators, zones, fractions and the epoch. */
static int time_op_run_other(const struct time_op *op, const char *s,
                             size_t len, size_t *pos, struct time_parts *tp)
{
    int k;

    switch (op->kind) {
    case TIME_OP_MON_ABBR:
    case TIME_OP_MON_NAME:
        k = time_read_name(s, len, pos, time_months, 12,
                           op->kind == TIME_OP_MON_ABBR);
        tp->mon = k + 1;
        return k < 0 ? -1 : 0;
    case TIME_OP_WDAY_ABBR:
    case TIME_OP_WDAY_NAME:
        k = time_read_name(s, len, pos, time_wdays, 7,
                           op->kind == TIME_OP_WDAY_ABBR);
        return k < 0 ? -1 : 0;
    case TIME_OP_DAY_SP:
        if (*pos < len && s[*pos] == ' ') {
            (*pos)++;
            return time_read_digits(s, len, pos, 1, 1, &tp->day);
        }
        return time_read_digits(s, len, pos, 1, 2, &tp->day);
    case TIME_OP_FRAC:
        return time_read_sep_frac(s, len, pos, &tp->frac_ns);
    case TIME_OP_FRAC_OPT:
        if (*pos < len && (s[*pos] == '.' || s[*pos] == ','))
            return time_read_sep_frac(s, len, pos, &tp->frac_ns);
        return 0;
    case TIME_OP_ZONE:
        return time_read_zone(s, len, pos, &tp->zone_s);
    case TIME_OP_ZONE_OPT:
        return *pos < len ? time_read_zone(s, len, pos, &tp->zone_s) : 0;
    case TIME_OP_ZONE_NAME:
        return time_read_zone_name(s, len, pos);
    case TIME_OP_EPOCH:
        return time_read_epoch(s, len, pos, op->lit, tp);
    default:
        return -1;
    }
}

static int time_op_run(const struct time_op *op, const char *s, size_t len,
                       size_t *pos, struct time_parts *tp)
{
    int *slot;

    if (op->kind == TIME_OP_LIT) {
        if (*pos >= len || s[*pos] != op->lit)
            return -1;
        (*pos)++;
        return 0;
    }
    if (op->kind == TIME_OP_DATE_SEP) {
        if (*pos >= len || (s[*pos] != 'T' && s[*pos] != 't' && s[*pos] != ' '))
            return -1;
        (*pos)++;
        return 0;
    }
    slot = time_op_slot(op, tp);
    if (!slot)
        return time_op_run_other(op, s, len, pos, tp);
    if (time_read_digits(s, len, pos, op->min_w, op->max_w, slot) != 0)
        return -1;
    if (op->kind == TIME_OP_YEAR2)
        *slot += *slot < 69 ? 2000 : 1900;
    return 0;
}

/* Checks the parts and turns the date and time of day into seconds since
 * the epoch, as if in UTC. Returns 0, or -1 for an impossible date. */
static int time_parts_civil(const struct time_parts *tp, int64_t *sec)
{
    int64_t days;

    if (tp->has_epoch) {
        *sec = tp->epoch;
        return 0;
    }
    if (tp->hour > 23 || tp->min > 59 || tp->sec > 60)
        return -1;
    if (tp->yday >= 0) {
        if (tp->yday < 1 || tp->yday > 365 + time_is_leap(tp->year))
            return -1;
        days = lf_days_from_civil(tp->year, 1, 1) + tp->yday - 1;
    } else {
        if (tp->mon < 1 || tp->mon > 12 || tp->day < 1 ||
            tp->day > time_days_in_month(tp->year, tp->mon))
            return -1;
        days =
            lf_days_from_civil(tp->year, (unsigned)tp->mon, (unsigned)tp->day);
    }
    *sec = days * 86400 + (int64_t)tp->hour * 3600 + (int64_t)tp->min * 60 +
           tp->sec;
    return 0;
}

static int time_cache_hit(const struct lf_timefmt *tf,
                          const struct lf_timecache *cache, const char *s,
                          size_t len)
{
    return cache && tf->key_width && cache->fmt_id == tf->id &&
           len >= tf->key_width && cache->key_len == tf->key_width &&
           memcmp(cache->key, s, tf->key_width) == 0;
}

static void time_cache_store(const struct lf_timefmt *tf,
                             struct lf_timecache *cache, const char *s,
                             int64_t sec)
{
    memcpy(cache->key, s, tf->key_width);
    cache->key_len = tf->key_width;
    cache->fmt_id = tf->id;
    cache->sec = sec;
}

/* lf_time_parse() past the whole-string cache. Apart, so that a repeat of
 * the last string neither sets up the parts nor saves a register. */
static __attribute__((noinline)) int time_parse_ops(const struct lf_timefmt *tf,
                                                    struct lf_timecache *cache,
                                                    const char *s, size_t len,
                                                    int64_t *ts_ns)
{
    struct time_parts tp = {.mon = 1, .day = 1, .yday = -1};
    size_t pos = 0, key_end = 0;
    uint32_t i = 0;
    int64_t sec = 0;
    int is_cached;

    is_cached = time_cache_hit(tf, cache, s, len);
    if (is_cached) {
        sec = cache->sec;
        pos = tf->key_width;
        i = tf->key_ops;
    }
    for (; i < tf->nops; i++) {
        if (time_op_run(&tf->ops[i], s, len, &pos, &tp) != 0)
            return LFP_ERR_PARSE;
        if (i + 1 == tf->key_ops)
            key_end = pos;
    }
    if (pos != len)
        return LFP_ERR_PARSE;
    if (!is_cached) {
        if (time_parts_civil(&tp, &sec) != 0)
            return LFP_ERR_PARSE;
        if (cache && tf->key_width && key_end == tf->key_width)
            time_cache_store(tf, cache, s, sec);
    }
    sec -= tp.zone_s;
    if (sec < TIME_SEC_MIN || sec > TIME_SEC_MAX)
        return LFP_ERR_PARSE;
    if (tp.is_neg) /* -1.5 is 1.5 s before the epoch */
        *ts_ns = sec * INT64_C(1000000000) - tp.frac_ns;
    else
        *ts_ns = sec * INT64_C(1000000000) + tp.frac_ns;
    if (cache && len <= sizeof(cache->whole)) {
        memcpy(cache->whole, s, len);
        cache->whole_len = (uint32_t)len;
        cache->whole_fmt = tf->id;
        cache->whole_ns = *ts_ns;
    }
    return LFP_OK;
}

int lf_time_parse(const struct lf_timefmt *tf, struct lf_timecache *cache,
                  const char *s, size_t len, int64_t *ts_ns)
{
    if (cache && lf_time_parse_again(cache, tf->id, s, len, ts_ns))
        return LFP_OK;
    return time_parse_ops(tf, cache, s, len, ts_ns);
}

uint64_t lf_timefmt_id(const struct lf_timefmt *tf)
{
    return tf->id;
}

/* ---- compiling a format ------------------------------------------------ */

static int time_push(struct lf_timefmt *tf, uint8_t kind, uint8_t min_w,
                     uint8_t max_w, char lit)
{
    if (tf->nops == TIME_MAX_OPS)
        return -1;
    tf->ops[tf->nops++] = (struct time_op){
        .kind = kind, .min_w = min_w, .max_w = max_w, .lit = lit};
    return 0;
}

/* Numeric conversions: kind and digit counts. */
static int time_push_num(struct lf_timefmt *tf, char conv)
{
    switch (conv) {
    case 'Y':
        return time_push(tf, TIME_OP_YEAR, 4, 4, 0);
    case 'y':
        return time_push(tf, TIME_OP_YEAR2, 2, 2, 0);
    case 'm':
        return time_push(tf, TIME_OP_MON, 1, 2, 0);
    case 'd':
        return time_push(tf, TIME_OP_DAY, 1, 2, 0);
    case 'e':
        return time_push(tf, TIME_OP_DAY_SP, 1, 2, 0);
    case 'j':
        return time_push(tf, TIME_OP_YDAY, 1, 3, 0);
    case 'H':
        return time_push(tf, TIME_OP_HOUR, 1, 2, 0);
    case 'M':
        return time_push(tf, TIME_OP_MIN, 1, 2, 0);
    case 'S':
        return time_push(tf, TIME_OP_SEC, 1, 2, 0);
    default:
        return 1; /* not a numeric conversion */
    }
}

/* %f takes over the '.' or ',' literal just before it. */
static int time_push_frac(struct lf_timefmt *tf, struct lfp_err *err)
{
    struct time_op *prev = tf->nops ? &tf->ops[tf->nops - 1] : NULL;

    if (!prev || prev->kind != TIME_OP_LIT ||
        (prev->lit != '.' && prev->lit != ','))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%%f must follow a '.' or ',' in the format");
    tf->nops--;
    return time_push(tf, TIME_OP_FRAC, 0, 0, 0);
}

/* Conversions that expand to several ops. */
static int time_push_seq(struct lf_timefmt *tf, const char *seq)
{
    for (; *seq; seq++) {
        int rc = *seq == '%' ? time_push_num(tf, *++seq)
                             : time_push(tf, TIME_OP_LIT, 0, 0, *seq);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int time_compile_conv(struct lf_timefmt *tf, char conv,
                             struct lfp_err *err)
{
    int rc = time_push_num(tf, conv);

    if (rc <= 0)
        return rc;
    switch (conv) {
    case 'b':
    case 'h':
        return time_push(tf, TIME_OP_MON_ABBR, 3, 3, 0);
    case 'B':
        return time_push(tf, TIME_OP_MON_NAME, 0, 0, 0);
    case 'a':
        return time_push(tf, TIME_OP_WDAY_ABBR, 3, 3, 0);
    case 'A':
        return time_push(tf, TIME_OP_WDAY_NAME, 0, 0, 0);
    case 'f':
        return time_push_frac(tf, err);
    case 'z':
        return time_push(tf, TIME_OP_ZONE, 0, 0, 0);
    case 'Z':
        return time_push(tf, TIME_OP_ZONE_NAME, 0, 0, 0);
    case 's':
        return time_push(tf, TIME_OP_EPOCH, 0, 0, 1);
    case 'T':
        return time_push_seq(tf, "%H:%M:%S");
    case 'F':
        return time_push_seq(tf, "%Y-%m-%d");
    case '%':
        return time_push(tf, TIME_OP_LIT, 0, 0, '%');
    case '\0':
        return lf_err_set(err, LFP_ERR_CONFIG, "format ends with '%%'");
    default:
        return lf_err_set(err, LFP_ERR_CONFIG, "unknown conversion %%%c", conv);
    }
}

static int time_compile_str(struct lf_timefmt *tf, const char *fmt,
                            struct lfp_err *err)
{
    for (const char *c = fmt; *c; c++) {
        int rc = *c == '%' ? time_compile_conv(tf, c[1], err)
                           : time_push(tf, TIME_OP_LIT, 0, 0, *c);
        if (rc < 0)
            return lf_err_set(err, LFP_ERR_CONFIG,
                              "more than %d conversions and literals",
                              TIME_MAX_OPS);
        if (rc > 0)
            return rc;
        if (*c == '%')
            c++;
    }
    /* "%s.%f": the epoch leaves its fraction to the %f op. */
    for (uint32_t i = 0; i + 1 < tf->nops; i++)
        if (tf->ops[i].kind == TIME_OP_EPOCH &&
            tf->ops[i + 1].kind == TIME_OP_FRAC)
            tf->ops[i].lit = 0;
    return 0;
}

static void time_compile_iso(struct lf_timefmt *tf)
{
    (void)time_push_seq(tf, "%Y-%m-%d"); /* fits: 64 ops */
    tf->ops[2].min_w = tf->ops[4].min_w = 2;
    (void)time_push(tf, TIME_OP_DATE_SEP, 0, 1, 0);
    (void)time_push_seq(tf, "%H:%M:%S");
    for (uint32_t i = 6; i < tf->nops; i += 2)
        tf->ops[i].min_w = 2;
    (void)time_push(tf, TIME_OP_FRAC_OPT, 0, 0, 0);
    (void)time_push(tf, TIME_OP_ZONE_OPT, 0, 0, 0);
}

/* Which date fields the ops set: bits of enum time_op_kind. */
static uint32_t time_kinds(const struct lf_timefmt *tf)
{
    uint32_t kinds = 0;

    for (uint32_t i = 0; i < tf->nops; i++)
        kinds |= UINT32_C(1) << tf->ops[i].kind;
    return kinds;
}

#define TIME_BIT(k) (UINT32_C(1) << (k))

static int time_check_date(const struct lf_timefmt *tf, struct lfp_err *err)
{
    uint32_t k = time_kinds(tf);
    int has_year =
        (k & (TIME_BIT(TIME_OP_YEAR) | TIME_BIT(TIME_OP_YEAR2))) != 0;
    int has_mon = (k & (TIME_BIT(TIME_OP_MON) | TIME_BIT(TIME_OP_MON_ABBR) |
                        TIME_BIT(TIME_OP_MON_NAME))) != 0;
    int has_day = (k & (TIME_BIT(TIME_OP_DAY) | TIME_BIT(TIME_OP_DAY_SP))) != 0;

    if (k & TIME_BIT(TIME_OP_EPOCH))
        return 0;
    if (has_year && ((has_mon && has_day) || (k & TIME_BIT(TIME_OP_YDAY))))
        return 0;
    return lf_err_set(err, LFP_ERR_CONFIG,
                      "no full date: needs %%Y or %%y with a month and a "
                      "day (%%m or %%b, %%d), or %%j, or %%s");
}

/* Finds the cached prefix: the ops up to the last date or time-of-day op,
 * if all of them have a fixed width. */
static void time_compile_key(struct lf_timefmt *tf)
{
    uint32_t last = 0, width = 0;

    for (uint32_t i = 0; i < tf->nops; i++) {
        uint8_t kind = tf->ops[i].kind;
        if (kind == TIME_OP_EPOCH)
            return;
        if (kind >= TIME_OP_YEAR && kind <= TIME_OP_WDAY_NAME)
            last = i + 1;
    }
    for (uint32_t i = 0; i < last; i++) {
        const struct time_op *op = &tf->ops[i];
        if (op->kind == TIME_OP_LIT)
            width++;
        else if (op->max_w && op->kind <= TIME_OP_DATE_SEP)
            width += op->max_w;
        else
            return;
    }
    if (last == 0 || width > sizeof(((struct lf_timecache *)0)->key))
        return;
    tf->key_ops = last;
    tf->key_width = width;
}

static int time_name_is(const char *fmt, const char *name)
{
    size_t i;

    for (i = 0; fmt[i] && name[i]; i++)
        if (time_lower((unsigned char)fmt[i]) != name[i])
            return 0;
    return fmt[i] == '\0' && name[i] == '\0';
}

int lf_timefmt_compile(const char *fmt, struct lf_timefmt **out,
                       struct lfp_err *err)
{
    struct lf_timefmt *tf;
    int rc = 0;

    *out = NULL;
    if (!fmt || !*fmt)
        return lf_err_set(err, LFP_ERR_CONFIG, "empty time format");
    tf = lf_calloc(1, sizeof(*tf));
    if (time_name_is(fmt, "iso8601") || time_name_is(fmt, "rfc3339"))
        time_compile_iso(tf);
    else
        rc = time_compile_str(tf, fmt, err);
    if (rc == 0)
        rc = time_check_date(tf, err);
    if (rc != 0) {
        lf_err_prefix(err, "time format '%s'", fmt);
        lf_free(tf);
        return LFP_ERR_CONFIG;
    }
    time_compile_key(tf);
    tf->id =
        atomic_fetch_add_explicit(&time_next_id, 1, memory_order_relaxed) + 1;
    *out = tf;
    return LFP_OK;
}

void lf_timefmt_free(struct lf_timefmt *tf)
{
    lf_free(tf);
}

/* ---- printing and the clock --------------------------------------------- */

static void time_put2(char *out, unsigned v)
{
    memcpy(out, &time_digits2[(size_t)v * 2], 2);
}

/* "YYYY-MM-DDThh:mm:ss" of a second. */
static void time_format_sec(int64_t sec, char out[19])
{
    int64_t days = sec / 86400, rem = sec % 86400, y;
    unsigned m, d;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    time_civil_from_days(days, &y, &m, &d);
    time_put2(out, (unsigned)(y / 100) % 100);
    time_put2(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    time_put2(out + 5, m);
    out[7] = '-';
    time_put2(out + 8, d);
    out[10] = 'T';
    time_put2(out + 11, (unsigned)(rem / 3600));
    out[13] = ':';
    time_put2(out + 14, (unsigned)(rem / 60 % 60));
    out[16] = ':';
    time_put2(out + 17, (unsigned)(rem % 60));
}

void lf_time_format_iso(int64_t ts_ns, char out[LF_TIME_ISO_LEN])
{
    static _Thread_local int64_t last_sec = INT64_MIN;
    static _Thread_local char last_buf[19];
    int64_t sec = ts_ns / 1000000000, ns = ts_ns % 1000000000, ms;

    if (ns < 0) { /* floor, not truncation, before the epoch */
        ns += 1000000000;
        sec--;
    }
    ms = ns / 1000000;
    if (sec != last_sec) {
        time_format_sec(sec, last_buf);
        last_sec = sec;
    }
    memcpy(out, last_buf, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    time_put2(out + 21, (unsigned)(ms % 100));
    out[23] = 'Z';
}

int64_t lf_time_now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0; /* cannot fail with CLOCK_REALTIME */
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}
