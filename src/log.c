/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - stderr logging with repeat folding.
 *
 * One mutex guards the "last message" used for folding repeats; logging is
 * never on the per-line path (per-line events are counters).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

#define LOG_FOLD_SECONDS 10

int lf_log_level_cur = LFP_LOG_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_last[512];
static unsigned long log_repeats;
static time_t log_last_time;

void lf_log_set_level(int level)
{
    lf_log_level_cur = level;
}

int lf_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, log_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return LFP_LOG_WARN;
    return -1;
}

void lf_log_write(const char *component, int level, const char *fmt, ...)
{
    char msg[512];
    char stamp[96];
    time_t now = time(NULL);
    va_list ap;
    int n;

    if (level < 0 || level > LFP_LOG_DEBUG)
        level = LFP_LOG_ERROR;
    n = snprintf(msg, sizeof(msg), "[%s] %s: ", component ? component : "",
                 log_names[level]);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    (void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    if (strcmp(msg, log_last) == 0 && now - log_last_time < LOG_FOLD_SECONDS) {
        log_repeats++;
        pthread_mutex_unlock(&log_lock);
        return;
    }
    lf_time_format_iso(lf_time_now_ns(), stamp);
    stamp[LF_TIME_ISO_LEN] = '\0';
    if (log_repeats > 0)
        (void)fprintf(stderr, "%s %s (repeated %lu times)\n", stamp, log_last,
                      log_repeats);
    (void)fprintf(stderr, "%s %s\n", stamp, msg);
    memcpy(log_last, msg, sizeof(log_last));
    log_repeats = 0;
    log_last_time = now;
    pthread_mutex_unlock(&log_lock);
}
