/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify_conf.h - the classify filter's options: which fields hold the
 * evidence (Elastic Common Schema names of the built-in parsers by
 * default) and from which status on a request counts as failed.
 */
#ifndef CLASSIFY_CONF_H
#define CLASSIFY_CONF_H

#include <stdint.h>

#include <logferry/plugin.h>

/* The evidence fields, in the order of classify_conf.keys[]. */
enum classify_key {
    CLASSIFY_K_STATUS = 0,     /* http.response.status_code */
    CLASSIFY_K_UP_STATUS,      /* upstream.status_codes (or a scalar) */
    CLASSIFY_K_UP_CONNECT,     /* upstream.connect_times */
    CLASSIFY_K_UP_HEADER,      /* upstream.header_times */
    CLASSIFY_K_UP_ADDRESSES,   /* upstream.addresses */
    CLASSIFY_K_UP_ADDRESS,     /* upstream.address */
    CLASSIFY_K_MESSAGE,        /* message (nginx error log) */
    CLASSIFY_K_FLAGS,          /* envoy.response_flags */
    CLASSIFY_K_FAILURE_REASON, /* envoy.upstream_transport_failure_reason */
    CLASSIFY_K_TERMINATION,    /* haproxy.termination_state */
    CLASSIFY_K__COUNT
};

struct classify_conf {
    int64_t failure_status;
    char *keys[CLASSIFY_K__COUNT];
};

extern const struct lfp_option classify_options[];

#endif
