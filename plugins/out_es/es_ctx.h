/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_ctx.h - the es output's instance state, shared by out_es.c (plugin
 * callbacks) and es_round.c (sending a batch and sorting the answers).
 *
 * Thread: everything here belongs to the output's own thread; init writes
 * the configuration-derived parts, flush the rest.
 */
#ifndef LF_OUT_ES_CTX_H
#define LF_OUT_ES_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "es_bulk.h"
#include "es_conf.h"
#include "es_http.h"

/* Per-class document counts, logged when the output stops. */
struct es_stats {
    uint64_t indexed;         /* 2xx items */
    uint64_t duplicates;      /* 409 on op_type create: already there */
    uint64_t item_retries;    /* items sent again after 429/5xx */
    uint64_t rejected;        /* 4xx items: dead-lettered or dropped */
    uint64_t requests;        /* bulk requests answered or failed */
    uint64_t failed_requests; /* transport errors and non-200 answers */
    uint64_t bytes_sent;      /* request bodies as sent */
};

/* What one round of sending found, for the flush's decision. */
struct es_round {
    size_t settled;   /* documents indexed or rejected this round */
    int must_resplit; /* a 413: send again at once in smaller requests */
    int is_fatalish;  /* 401/403/404: give the chunk back, don't insist */
    char reason[200]; /* first failure, for err->msg */
};

struct es_ctx {
    const struct es_conf *conf;
    const struct lfp_host *host;
    struct lfp_instance *ins;
    struct es_http http;
    struct es_encoder enc;
    struct es_batch batch;
    int is_detected; /* compat known (configured, or asked the server) */

    /* Indices into batch.docs of the documents sent this round. */
    size_t *send;
    size_t send_cap;
    size_t piece_limit; /* largest request body; halves on 413 */

    /* Rejected documents waiting to be written, and which they are. */
    int rejected_fd;
    struct es_buf rejbuf;
    size_t *rej_docs;
    size_t nrej, rej_cap;
    char rej_reason[160]; /* first rejection of the flush, for the log */

    unsigned seed;
    struct es_stats st;
};

/* Sends every PENDING document of ctx->batch once, in up to `workers`
 * parallel requests, and sorts the answers into the documents' states.
 * Thread: the output's. */
void es_round_run(struct es_ctx *ctx, struct es_round *rr);
/* Writes the documents rejected this round to rejected_path (or counts
 * and drops them). On a write failure they become PENDING again and
 * LFP_ERR_IO is returned with err filled. */
int es_round_write_rejected(struct es_ctx *ctx, struct lfp_err *err);

#endif
