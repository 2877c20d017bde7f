/* SPDX-License-Identifier: Apache-2.0 */
/* err.c - error messages for operators. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lf_err_clear(struct lfp_err *err)
{
    err->rc = LFP_OK;
    err->msg[0] = '\0';
}

static int err_vset(struct lfp_err *err, int rc, const char *fmt, va_list ap)
{
    if (!err)
        return rc;
    if (err->msg[0] != '\0' && err->rc != LFP_OK)
        return err->rc;
    err->rc = rc;
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return rc;
}

int lf_err_set(struct lfp_err *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rc = err_vset(err, rc, fmt, ap);
    va_end(ap);
    return rc;
}

int lf_err_errno(struct lfp_err *err, int rc, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    size_t len;

    if (!err || (err->msg[0] != '\0' && err->rc != LFP_OK))
        return err ? err->rc : rc;
    va_start(ap, fmt);
    (void)err_vset(err, rc, fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    if (len < sizeof(err->msg))
        (void)snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
                       strerror(saved));
    return rc;
}

void lf_err_prefix(struct lfp_err *err, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    (void)snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
}
