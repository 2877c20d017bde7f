/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_http.h - bulk requests over libcurl's multi interface: a fixed set of
 * request slots (one easy handle each, `workers` of them) whose
 * connections the multi handle keeps alive between flushes.
 *
 *   slot = es_http_idle(h);                a free slot, or NULL
 *   es_http_submit(h, slot, body, len);    gzip if configured, start
 *   while ((slot = es_http_wait(h)))       next finished request
 *       ... slot->cc, slot->status, slot->resp ...
 *
 * A body passed to submit must stay valid until the slot finishes (it is
 * not copied unless it is compressed). Thread: the output's own.
 */
#ifndef LF_OUT_ES_HTTP_H
#define LF_OUT_ES_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "es_bulk.h"
#include "es_conf.h"

struct es_req {
    const struct lfp_host *host;
    CURL *easy;
    int is_busy;
    size_t host_idx;       /* index into conf->hosts */
    struct es_buf plain;   /* the body, when its documents are not
                              contiguous in the batch */
    struct es_buf zbody;   /* compressed body, when gzip is on */
    size_t body_len;       /* bytes sent (after compression) */
    struct es_buf resp;    /* response body */
    int is_resp_too_large; /* resp stopped at response_max_bytes */
    int64_t resp_limit;
    /* Result once finished. */
    CURLcode cc;
    long status;
    char errbuf[CURL_ERROR_SIZE];
    /* The caller's: which documents this request carries. */
    size_t first;
    size_t count;
};

struct es_http {
    const struct lfp_host *host;
    const struct es_conf *conf;
    CURLM *multi;
    struct curl_slist *headers;
    char **bulk_urls; /* per host: base URL + /_bulk?filter_path=... */
    struct es_req *reqs;
    size_t nreqs;
    size_t next_host;
    size_t running;
    void *zs; /* z_stream, when gzip is on */
};

/* Sets up the slots and the multi handle. Returns LFP_OK or an error with
 * err filled. Free with es_http_fini (also after a failed init). */
int es_http_init(struct es_http *h, const struct lfp_host *host,
                 const struct es_conf *conf, struct lfp_err *err);
void es_http_fini(struct es_http *h);

/* A slot that is not running, or NULL if all are busy. */
struct es_req *es_http_idle(struct es_http *h);
/* Starts a bulk request with body[0, len) on the next host in turn.
 * Returns LFP_OK, or LFP_ERR_IO if curl refused it (the slot stays
 * idle, err says why). */
int es_http_submit(struct es_http *h, struct es_req *req, const char *body,
                   size_t len, struct lfp_err *err);
/* Waits until some running request finishes and returns its slot (now
 * idle, result filled), or NULL when none is running. */
struct es_req *es_http_wait(struct es_http *h);
/* The node that just failed is skipped: the next request goes to the
 * following host. */
void es_http_host_failed(struct es_http *h, size_t host_idx);

/* GET base + path on the first host that answers, synchronously, into
 * resp. Returns LFP_OK with *status set, or LFP_ERR_IO with err. */
int es_http_get(struct es_http *h, const char *path, struct es_buf *resp,
                long *status, struct lfp_err *err);

#endif
