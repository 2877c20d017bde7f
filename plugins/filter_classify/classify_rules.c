/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify_rules.c - the upstream-failure taxonomy (one table) and the rules
 * that map nginx, Envoy and HAProxy evidence onto it. docs/taxonomy.md is
 * the user-facing copy of these tables; change both together.
 *
 * Everything here reads the record's fields in place: substring tests on
 * the message, byte compares on flags and termination states, integer
 * tests on statuses. Nothing is allocated.
 */
#include "classify_rules.h"

#include <string.h>

/* ---- the taxonomy --------------------------------------------------- */

static const char *const classify_names[CLASSIFY__COUNT] = {
    [CLASSIFY_NONE] = NULL,
    [CLASSIFY_CONNECT_REFUSED] = "connect_refused",
    [CLASSIFY_CONNECT_TIMEOUT] = "connect_timeout",
    [CLASSIFY_CONNECT_FAILED] = "connect_failed",
    [CLASSIFY_UPSTREAM_TIMEOUT] = "upstream_timeout",
    [CLASSIFY_CONNECTION_RESET] = "connection_reset",
    [CLASSIFY_UPSTREAM_CLOSED_EARLY] = "upstream_closed_early",
    [CLASSIFY_INVALID_RESPONSE] = "invalid_response",
    [CLASSIFY_TLS_FAILURE] = "tls_failure",
    [CLASSIFY_NO_HEALTHY_UPSTREAM] = "no_healthy_upstream",
    [CLASSIFY_UPSTREAM_OVERFLOW] = "upstream_overflow",
    [CLASSIFY_NO_ROUTE] = "no_route",
    [CLASSIFY_UPSTREAM_ERROR_STATUS] = "upstream_error_status",
    [CLASSIFY_CLIENT_ABORT] = "client_abort",
    [CLASSIFY_BAD_GATEWAY_OTHER] = "bad_gateway_other",
    [CLASSIFY_UNAVAILABLE_OTHER] = "unavailable_other",
};

const char *classify_class_name(int cls)
{
    return cls > CLASSIFY_NONE && cls < CLASSIFY__COUNT ? classify_names[cls]
                                                        : NULL;
}

/* ---- evidence 1: error-log messages (nginx) ------------------------- */

/* A rule matches when the message holds `need` and `also` (if any).
 * Tried in order: the first match wins. */
static const struct {
    int cls;
    const char *need;
    const char *also;
} classify_msg_rules[] = {
    {CLASSIFY_NO_HEALTHY_UPSTREAM, "no live upstreams", NULL},
    /* "epoll_wait() reported that client prematurely closed connection,
     * so upstream connection is closed too (104: ...)": the client left */
    {CLASSIFY_CLIENT_ABORT, "client prematurely closed connection", "upstream"},
    {CLASSIFY_CONNECT_TIMEOUT, "timed out", "while connecting to upstream"},
    {CLASSIFY_UPSTREAM_TIMEOUT, "timed out", "upstream"},
    {CLASSIFY_TLS_FAILURE, "SSL", "upstream"},
    {CLASSIFY_CONNECT_REFUSED, "Connection refused", "upstream"},
    {CLASSIFY_CONNECTION_RESET, "Connection reset by peer", "upstream"},
    {CLASSIFY_UPSTREAM_CLOSED_EARLY, "upstream prematurely closed", NULL},
    {CLASSIFY_UPSTREAM_CLOSED_EARLY, "Broken pipe", "upstream"},
    {CLASSIFY_CONNECT_FAILED, "connect() failed", "upstream"},
    {CLASSIFY_INVALID_RESPONSE, "upstream sent ", NULL},
};

static int classify_has(const struct lfp_field *f, const char *needle)
{
    return memmem(f->v.s, f->n, needle, strlen(needle)) != NULL;
}

static int classify_by_message(const struct lfp_field *msg)
{
    if (!msg || msg->type != LFP_T_STR)
        return CLASSIFY_NONE;
    for (size_t i = 0;
         i < sizeof(classify_msg_rules) / sizeof(classify_msg_rules[0]); i++) {
        if (classify_has(msg, classify_msg_rules[i].need) &&
            (!classify_msg_rules[i].also ||
             classify_has(msg, classify_msg_rules[i].also)))
            return classify_msg_rules[i].cls;
    }
    return CLASSIFY_NONE;
}

/* ---- evidence 2: Envoy response flags ------------------------------ */

/* In precedence order: with "UF,URX" the UF row decides. */
static const struct {
    const char *flag;
    int cls;
} classify_flag_rules[] = {
    {"UH", CLASSIFY_NO_HEALTHY_UPSTREAM},
    {"UO", CLASSIFY_UPSTREAM_OVERFLOW},
    {"NR", CLASSIFY_NO_ROUTE},
    {"NC", CLASSIFY_NO_ROUTE},
    {"UF", CLASSIFY_CONNECT_FAILED},
    {"UT", CLASSIFY_UPSTREAM_TIMEOUT},
    {"UMSDR", CLASSIFY_UPSTREAM_TIMEOUT},
    {"UR", CLASSIFY_CONNECTION_RESET},
    {"UC", CLASSIFY_UPSTREAM_CLOSED_EARLY},
    {"UPE", CLASSIFY_INVALID_RESPONSE},
    {"DC", CLASSIFY_CLIENT_ABORT},
};

/* Flags naming a cause outside the upstream (ext-authz, rate limit, fault
 * injection, ...): a 5xx with one of them is not an upstream failure. */
static const char *const classify_flags_not_upstream[] = {
    "UAEX", "RL", "RLSE", "FI", "DI", "IH", "DPE", "OM", "NFCF",
};

/* Refines UF with the transport failure reason, when there is one. */
static const struct {
    const char *text;
    int cls;
} classify_reason_rules[] = {
    {"TLS", CLASSIFY_TLS_FAILURE},
    {"SSL", CLASSIFY_TLS_FAILURE},
    {"certificate", CLASSIFY_TLS_FAILURE},
    {"refused", CLASSIFY_CONNECT_REFUSED},
    {"error: 111", CLASSIFY_CONNECT_REFUSED},
    {"timeout", CLASSIFY_CONNECT_TIMEOUT},
    {"timed out", CLASSIFY_CONNECT_TIMEOUT},
    {"reset", CLASSIFY_CONNECTION_RESET},
};

/* Whether flags (an array of words, or "UF,URX") holds `flag`. */
static int classify_flags_have(const struct lfp_field *flags, const char *flag)
{
    size_t n = strlen(flag);

    if (flags->type == LFP_T_ARRAY) {
        for (uint32_t i = 0; i < flags->n; i++) {
            const struct lfp_field *e = &flags->v.arr[i];
            if (e->type == LFP_T_STR && e->n == n &&
                memcmp(e->v.s, flag, n) == 0)
                return 1;
        }
        return 0;
    }
    if (flags->type != LFP_T_STR)
        return 0;
    for (size_t i = 0; i + n <= flags->n; i++)
        if (memcmp(flags->v.s + i, flag, n) == 0 &&
            (i == 0 || flags->v.s[i - 1] == ',') &&
            (i + n == flags->n || flags->v.s[i + n] == ','))
            return 1;
    return 0;
}

static int classify_by_reason(const struct lfp_field *reason)
{
    if (!reason || reason->type != LFP_T_STR)
        return CLASSIFY_NONE;
    for (size_t i = 0;
         i < sizeof(classify_reason_rules) / sizeof(classify_reason_rules[0]);
         i++)
        if (classify_has(reason, classify_reason_rules[i].text))
            return classify_reason_rules[i].cls;
    return CLASSIFY_NONE;
}

/* The class the flags give; -1 when a flag names a non-upstream cause. */
static int classify_by_flags(const struct classify_evidence *ev)
{
    const struct lfp_field *flags = ev->f[CLASSIFY_K_FLAGS];
    size_t i;

    if (!flags)
        return CLASSIFY_NONE;
    for (i = 0;
         i < sizeof(classify_flag_rules) / sizeof(classify_flag_rules[0]);
         i++) {
        int cls;
        if (!classify_flags_have(flags, classify_flag_rules[i].flag))
            continue;
        cls = classify_flag_rules[i].cls;
        if (cls == CLASSIFY_CONNECT_FAILED) {
            int refined = classify_by_reason(ev->f[CLASSIFY_K_FAILURE_REASON]);
            if (refined != CLASSIFY_NONE)
                cls = refined;
        }
        return cls;
    }
    for (i = 0; i < sizeof(classify_flags_not_upstream) /
                        sizeof(classify_flags_not_upstream[0]);
         i++)
        if (classify_flags_have(flags, classify_flags_not_upstream[i]))
            return -1;
    return CLASSIFY_NONE;
}

/* ---- evidence 3: HAProxy termination state ------------------------- */

/* The first two characters: who ended the stream, and in which phase.
 * '?' matches any character. */
static const struct {
    char who, phase;
    int cls;
} classify_term_rules[] = {
    {'S', 'C', CLASSIFY_CONNECT_REFUSED},
    {'s', 'C', CLASSIFY_CONNECT_TIMEOUT},
    {'S', 'H', CLASSIFY_UPSTREAM_CLOSED_EARLY},
    {'s', 'H', CLASSIFY_UPSTREAM_TIMEOUT},
    {'S', 'D', CLASSIFY_UPSTREAM_CLOSED_EARLY},
    {'S', 'L', CLASSIFY_UPSTREAM_CLOSED_EARLY},
    {'s', 'D', CLASSIFY_UPSTREAM_TIMEOUT},
    {'s', 'L', CLASSIFY_UPSTREAM_TIMEOUT},
    {'s', 'Q', CLASSIFY_UPSTREAM_OVERFLOW},
    {'S', 'Q', CLASSIFY_UPSTREAM_OVERFLOW},
    {'P', 'H', CLASSIFY_INVALID_RESPONSE},
    {'C', 'Q', CLASSIFY_CLIENT_ABORT},
    {'C', 'C', CLASSIFY_CLIENT_ABORT},
    {'C', 'H', CLASSIFY_CLIENT_ABORT},
    {'C', 'D', CLASSIFY_CLIENT_ABORT},
    {'C', 'L', CLASSIFY_CLIENT_ABORT},
    {'c', 'Q', CLASSIFY_CLIENT_ABORT},
    {'c', 'C', CLASSIFY_CLIENT_ABORT},
    {'c', 'H', CLASSIFY_CLIENT_ABORT},
    {'c', 'D', CLASSIFY_CLIENT_ABORT},
    {'c', 'L', CLASSIFY_CLIENT_ABORT},
};

static int classify_str_is(const struct lfp_field *f, const char *s)
{
    size_t n = strlen(s);

    return f && f->type == LFP_T_STR && f->n == n && memcmp(f->v.s, s, n) == 0;
}

static int classify_by_termination(const struct classify_evidence *ev,
                                   int64_t status)
{
    const struct lfp_field *t = ev->f[CLASSIFY_K_TERMINATION];
    int is_nosrv = classify_str_is(ev->f[CLASSIFY_K_UP_ADDRESS], "<NOSRV>");

    if (!t || t->type != LFP_T_STR || t->n < 2)
        return CLASSIFY_NONE;
    for (size_t i = 0;
         i < sizeof(classify_term_rules) / sizeof(classify_term_rules[0]);
         i++) {
        if (t->v.s[0] != classify_term_rules[i].who ||
            t->v.s[1] != classify_term_rules[i].phase)
            continue;
        /* No server to connect to: the backend had none up. */
        if (is_nosrv && classify_term_rules[i].cls == CLASSIFY_CONNECT_REFUSED)
            return CLASSIFY_NO_HEALTHY_UPSTREAM;
        return classify_term_rules[i].cls;
    }
    /* A normal end with a gateway status: the server sent that status. */
    if (t->v.s[0] == '-' && status >= 502 && status <= 504)
        return CLASSIFY_UPSTREAM_ERROR_STATUS;
    return CLASSIFY_NONE;
}

/* ---- evidence 4: nginx upstream attempts --------------------------- */

/* Element i of a list field (a scalar is a list of one). */
static const struct lfp_field *classify_elem(const struct lfp_field *f,
                                             uint32_t i)
{
    if (!f || f->type == LFP_T_NULL)
        return NULL;
    if (f->type == LFP_T_ARRAY)
        return i < f->n ? &f->v.arr[i] : NULL;
    return i == 0 ? f : NULL;
}

static uint32_t classify_count(const struct lfp_field *f)
{
    if (!f || f->type == LFP_T_NULL)
        return 0;
    return f->type == LFP_T_ARRAY ? f->n : 1;
}

static int classify_is_null(const struct lfp_field *e)
{
    return !e || e->type == LFP_T_NULL;
}

/* nginx writes the upstream{} name instead of an address when it found no
 * live server in the group. */
static int classify_is_group_name(const struct lfp_field *e)
{
    return e && e->type == LFP_T_STR && e->n > 0 &&
           !memchr(e->v.s, ':', e->n) && e->v.s[0] != '/';
}

/* The class of attempt i, or CLASSIFY_NONE when it did not fail. */
static int classify_attempt(const struct classify_evidence *ev, uint32_t i)
{
    const struct lfp_field *s = classify_elem(ev->f[CLASSIFY_K_UP_STATUS], i);
    const struct lfp_field *conn = ev->f[CLASSIFY_K_UP_CONNECT];
    const struct lfp_field *hdr = ev->f[CLASSIFY_K_UP_HEADER];
    const struct lfp_field *addr =
        classify_elem(ev->f[CLASSIFY_K_UP_ADDRESSES], i);

    if (!s || s->type != LFP_T_INT)
        return CLASSIFY_NONE;
    switch (s->v.i) {
    case 502:
        if (classify_is_group_name(addr))
            return CLASSIFY_NO_HEALTHY_UPSTREAM;
        if (conn && classify_is_null(classify_elem(conn, i)))
            return CLASSIFY_CONNECT_REFUSED;
        if (hdr && classify_is_null(classify_elem(hdr, i)))
            return CLASSIFY_UPSTREAM_CLOSED_EARLY;
        return hdr ? CLASSIFY_UPSTREAM_ERROR_STATUS
                   : CLASSIFY_BAD_GATEWAY_OTHER;
    case 504:
        if (conn && classify_is_null(classify_elem(conn, i)))
            return CLASSIFY_CONNECT_TIMEOUT;
        if (hdr && !classify_is_null(classify_elem(hdr, i)))
            return CLASSIFY_UPSTREAM_ERROR_STATUS;
        return CLASSIFY_UPSTREAM_TIMEOUT;
    case 503:
        return CLASSIFY_UPSTREAM_ERROR_STATUS;
    default:
        return CLASSIFY_NONE;
    }
}

static void classify_by_attempts(const struct classify_evidence *ev,
                                 int64_t status, struct classify_result *res)
{
    uint32_t n = classify_count(ev->f[CLASSIFY_K_UP_STATUS]);
    uint32_t failed = 0;
    int cls = CLASSIFY_NONE;

    res->attempts = n;
    for (uint32_t i = 0; i < n; i++) {
        int c = classify_attempt(ev, i);
        if (c != CLASSIFY_NONE) {
            cls = c;
            failed = i + 1;
        }
    }
    if (n && status == 499) { /* the client left during the last attempt */
        cls = CLASSIFY_CLIENT_ABORT;
        failed = n;
    }
    if (cls == CLASSIFY_NONE)
        return;
    res->cls = cls;
    res->is_final = failed == n;
    res->failed_attempt = n > 1 ? failed : 0;
}

/* ---- evidence 5: the status alone ---------------------------------- */

static int classify_by_status(int64_t status)
{
    switch (status) {
    case 499:
        return CLASSIFY_CLIENT_ABORT;
    case 502:
        return CLASSIFY_BAD_GATEWAY_OTHER;
    case 503:
        return CLASSIFY_UNAVAILABLE_OTHER;
    case 504:
        return CLASSIFY_UPSTREAM_TIMEOUT;
    default:
        return CLASSIFY_NONE;
    }
}

/* ---- deciding ------------------------------------------------------- */

void classify_decide(const struct classify_evidence *ev,
                     struct classify_result *res)
{
    const struct lfp_field *st = ev->f[CLASSIFY_K_STATUS];
    int64_t status = st && st->type == LFP_T_INT ? st->v.i : -1;
    int cls;

    memset(res, 0, sizeof(*res));
    res->is_final = 1;
    cls = classify_by_message(ev->f[CLASSIFY_K_MESSAGE]);
    if (cls == CLASSIFY_NONE)
        cls = classify_by_flags(ev);
    if (cls < 0) /* a non-upstream Envoy cause */
        return;
    if (cls == CLASSIFY_NONE)
        cls = classify_by_termination(ev, status);
    if (cls == CLASSIFY_NONE) {
        classify_by_attempts(ev, status, res);
        if (res->cls != CLASSIFY_NONE)
            return;
        res->is_final = 1;
        cls = classify_by_status(status);
    }
    res->cls = cls;
}
