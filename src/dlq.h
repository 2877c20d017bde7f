/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dlq.h - an output's dead-letter file: records the sink refused for good
 * (ERROR) or that failed past retry_limit, one JSON object per line:
 *
 *   {"time":"2025-06-01T00:00:03.512Z","output":"out_http:api",
 *    "tag":"nginx.access","error":"HTTP 400: mapping","attempts":1,
 *    "record":{...the record as outputs encode it...}}
 *
 * Each chunk is appended with one write() and fsync'ed before the chunk
 * is acknowledged, so a dead letter is never lost. Operators replay the
 * file with any JSON-lines tool once the cause is fixed.
 * Thread: the output's own thread.
 */
#ifndef LF_DLQ_H
#define LF_DLQ_H

#include <stdint.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_dlq; /* opaque */

/* Opens (creating it and its folder) the file at path. Caller frees with
 * lf_dlq_free(). */
int lf_dlq_open(const char *path, const char *label, struct lf_dlq **out,
                struct lfp_err *err) LF_MUST_CHECK;
/* Appends the live records of chunk with the reason; *nrecords is how
 * many. LFP_ERR_IO when the file cannot be written. */
int lf_dlq_write(struct lf_dlq *dlq, const struct lfp_chunk *chunk,
                 const char *reason, unsigned attempts, uint64_t *nrecords,
                 struct lfp_err *err) LF_MUST_CHECK;
void lf_dlq_free(struct lf_dlq *dlq); /* NULL is a no-op */

#endif
