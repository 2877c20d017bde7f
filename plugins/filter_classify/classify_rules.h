/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify_rules.h - the upstream-failure taxonomy and the rules that map
 * each format's evidence onto it (docs/taxonomy.md explains both).
 *
 * Evidence is read in this order, the first kind present decides:
 *   1. an error-log message (nginx error log),
 *   2. Envoy response flags (with the transport failure reason),
 *   3. the HAProxy termination state (with the server name),
 *   4. the upstream attempts (nginx status/connect/header time/address
 *      lists: the last attempt that failed),
 *   5. the HTTP status alone (502, 503, 504, 499).
 */
#ifndef CLASSIFY_RULES_H
#define CLASSIFY_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "classify_conf.h"

enum classify_class {
    CLASSIFY_NONE = 0,
    CLASSIFY_CONNECT_REFUSED,
    CLASSIFY_CONNECT_TIMEOUT,
    CLASSIFY_CONNECT_FAILED,
    CLASSIFY_UPSTREAM_TIMEOUT,
    CLASSIFY_CONNECTION_RESET,
    CLASSIFY_UPSTREAM_CLOSED_EARLY,
    CLASSIFY_INVALID_RESPONSE,
    CLASSIFY_TLS_FAILURE,
    CLASSIFY_NO_HEALTHY_UPSTREAM,
    CLASSIFY_UPSTREAM_OVERFLOW,
    CLASSIFY_NO_ROUTE,
    CLASSIFY_UPSTREAM_ERROR_STATUS,
    CLASSIFY_CLIENT_ABORT,
    CLASSIFY_BAD_GATEWAY_OTHER,
    CLASSIFY_UNAVAILABLE_OTHER,
    CLASSIFY__COUNT
};

/* The class's name as written in upstream.error (static storage). */
const char *classify_class_name(int cls);

/* The fields of one record that carry evidence; NULL when absent. */
struct classify_evidence {
    const struct lfp_field *f[CLASSIFY_K__COUNT];
};

/* What the rules concluded about one record. */
struct classify_result {
    int cls;                 /* enum classify_class */
    int is_final;            /* the failure decided the response */
    uint32_t attempts;       /* upstream attempts seen (0: unknown) */
    uint32_t failed_attempt; /* 1-based, when attempts > 1; else 0 */
};

/* Applies the rules to ev. Pure: reads ev only. */
void classify_decide(const struct classify_evidence *ev,
                     struct classify_result *res);

/* Whether ev shows no failure at a glance: no message, flags or
 * termination state, a status below 499 (or none), and at most one
 * upstream attempt, whose status is not 502, 503 or 504. Most records;
 * classify_decide() gives them cls CLASSIFY_NONE, is_final 1 and
 * failed_attempt 0. Inline: it runs for every record. */
static inline int classify_is_quiet(const struct classify_evidence *ev)
{
    const struct lfp_field *st = ev->f[CLASSIFY_K_STATUS];
    const struct lfp_field *up = ev->f[CLASSIFY_K_UP_STATUS];

    if (ev->f[CLASSIFY_K_MESSAGE] || ev->f[CLASSIFY_K_FLAGS] ||
        ev->f[CLASSIFY_K_TERMINATION])
        return 0;
    if (st && st->type == LFP_T_INT && st->v.i >= 499)
        return 0;
    if (up && up->type == LFP_T_ARRAY) {
        if (up->n > 1)
            return 0;
        up = up->n ? &up->v.arr[0] : NULL;
    }
    return !up || up->type != LFP_T_INT || up->v.i < 502 || up->v.i > 504;
}

#endif
