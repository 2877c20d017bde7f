/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify_conf.c - the classify filter's option table.
 */
#include "classify_conf.h"

#include <stddef.h>

#define CLASSIFY_KEY_OPT(opt, idx, field, what)                                \
    {                                                                          \
        .name = (opt), .type = LFP_OPT_STR, .def = (field),                    \
        .offset =                                                              \
            offsetof(struct classify_conf, keys) + (idx) * sizeof(char *),     \
        .desc = "Field holding " what "."                                      \
    }

const struct lfp_option classify_options[] = {
    {.name = "failure_status",
     .type = LFP_OPT_INT,
     .def = "500",
     .min = 100,
     .max = 1000,
     .offset = offsetof(struct classify_conf, failure_status),
     .desc = "Responses with this HTTP status or above get event.outcome "
             "failure (400 counts client errors too, as Filebeat does); a "
             "request whose final upstream attempt failed is a failure "
             "whatever its status."},
    CLASSIFY_KEY_OPT("status_key", CLASSIFY_K_STATUS,
                     "http.response.status_code",
                     "the HTTP status sent to the client"),
    CLASSIFY_KEY_OPT("upstream_status_key", CLASSIFY_K_UP_STATUS,
                     "upstream.status_codes",
                     "the upstream status of each attempt (an array, or one "
                     "value)"),
    CLASSIFY_KEY_OPT("upstream_connect_time_key", CLASSIFY_K_UP_CONNECT,
                     "upstream.connect_times",
                     "the connect time of each attempt (null: the "
                     "connection was not established)"),
    CLASSIFY_KEY_OPT("upstream_header_time_key", CLASSIFY_K_UP_HEADER,
                     "upstream.header_times",
                     "the time to the response headers of each attempt "
                     "(null: no complete headers)"),
    CLASSIFY_KEY_OPT("upstream_addresses_key", CLASSIFY_K_UP_ADDRESSES,
                     "upstream.addresses",
                     "the upstream address of each attempt (a name without "
                     "a port: nginx found no live upstream in that group)"),
    CLASSIFY_KEY_OPT("upstream_address_key", CLASSIFY_K_UP_ADDRESS,
                     "upstream.address",
                     "the upstream (server) of the last attempt; HAProxy's "
                     "<NOSRV> means none was available"),
    CLASSIFY_KEY_OPT("message_key", CLASSIFY_K_MESSAGE, "message",
                     "an error log message (nginx error log)"),
    CLASSIFY_KEY_OPT("response_flags_key", CLASSIFY_K_FLAGS,
                     "envoy.response_flags",
                     "Envoy's response flags (an array, or a comma-separated "
                     "string)"),
    CLASSIFY_KEY_OPT("transport_failure_key", CLASSIFY_K_FAILURE_REASON,
                     "envoy.upstream_transport_failure_reason",
                     "Envoy's upstream transport failure reason"),
    CLASSIFY_KEY_OPT("termination_state_key", CLASSIFY_K_TERMINATION,
                     "haproxy.termination_state",
                     "HAProxy's termination state (e.g. sH--)"),
    {0},
};
