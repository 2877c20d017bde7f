/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server.h - the [service] HTTP endpoint (libmicrohttpd): /metrics in
 * the Prometheus text format, /api/v1/health, POST /api/v1/reload.
 * It runs its own thread; it reads the engine's counters and merges metric
 * shards on each request, never blocking the pipeline.
 */
#ifndef LF_HTTP_SERVER_H
#define LF_HTTP_SERVER_H

#include <logferry/plugin.h>

#include "err.h"

struct lf_engine;
struct lf_http; /* opaque */

/* Listens on `listen` ("host:port"). Caller stops with lf_http_stop(). */
int lf_http_start(struct lf_engine *e, const char *listen, struct lf_http **out,
                  struct lfp_err *err) LF_MUST_CHECK;
void lf_http_stop(struct lf_http *h); /* NULL is a no-op */

#endif
