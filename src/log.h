/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - logferry's own log, to stderr, with levels.
 *
 * Each macro skips formatting when its level is off. The component (a
 * plugin instance "[out_file:0]" or a core module "[engine]") prefixes the
 * message. Identical messages from one component within 10 s are folded into
 * "repeated N times" so a failing sink cannot flood the log.
 * Thread: any.
 */
#ifndef LF_LOG_H
#define LF_LOG_H

#include <logferry/plugin.h>

/* Current level (enum lfp_log_level); default info. */
extern int lf_log_level_cur;

void lf_log_set_level(int level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int lf_log_level_parse(const char *s);
void lf_log_write(const char *component, int level, const char *fmt, ...)
    LFP_PRINTF(3, 4);

#define LF_LOG_(comp, lvl, ...)                                                \
    do {                                                                       \
        if ((lvl) <= lf_log_level_cur)                                         \
            lf_log_write((comp), (lvl), __VA_ARGS__);                          \
    } while (0)

#define lf_log_error(comp, ...) LF_LOG_(comp, LFP_LOG_ERROR, __VA_ARGS__)
#define lf_log_warn(comp, ...) LF_LOG_(comp, LFP_LOG_WARN, __VA_ARGS__)
#define lf_log_info(comp, ...) LF_LOG_(comp, LFP_LOG_INFO, __VA_ARGS__)
#define lf_log_debug(comp, ...) LF_LOG_(comp, LFP_LOG_DEBUG, __VA_ARGS__)

#endif
