/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.h - filling a struct lfp_err where the reason is known.
 *
 * The first message wins: setting an error that already holds one keeps the
 * old message (the root cause); callers add context with lf_err_prefix().
 */
#ifndef LF_ERR_H
#define LF_ERR_H

#include <logferry/plugin.h>

#if defined(__GNUC__)
#define LF_MUST_CHECK __attribute__((warn_unused_result))
#else
#define LF_MUST_CHECK
#endif

/* Sets rc and a formatted message; returns rc. */
int lf_err_set(struct lfp_err *err, int rc, const char *fmt, ...)
    LFP_PRINTF(3, 4);
/* Like lf_err_set, appending ": strerror(errno)". */
int lf_err_errno(struct lfp_err *err, int rc, const char *fmt, ...)
    LFP_PRINTF(3, 4);
/* Prepends "context: " to the message already there. */
void lf_err_prefix(struct lfp_err *err, const char *fmt, ...) LFP_PRINTF(2, 3);
/* Empties err. */
void lf_err_clear(struct lfp_err *err);

#endif
