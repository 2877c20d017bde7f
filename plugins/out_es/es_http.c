/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_http.c - request slots over curl's multi interface (es_http.h).
 *
 * Each slot keeps its easy handle for the life of the output, and the
 * multi handle keeps the connection cache, so consecutive flushes reuse
 * kept-alive connections instead of opening one per request. Bodies are
 * gzipped here with zlib (curl only decompresses responses).
 */
#include "es_http.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* filter_path keeps bulk responses small: per item only its status and,
 * for failures, the error's type and reason. */
#define ES_BULK_PATH                                                           \
    "/_bulk?filter_path=errors,items.*.status,items.*.error.type,"             \
    "items.*.error.reason"

static pthread_once_t es_curl_once = PTHREAD_ONCE_INIT;
static CURLcode es_curl_init_rc;

static void es_curl_global_init(void)
{
    es_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int es_http_fail(struct lfp_err *err, int rc, const char *what,
                        const char *why)
{
    (void)snprintf(err->msg, sizeof(err->msg), "%s: %s", what, why);
    err->rc = rc;
    return rc;
}

static size_t es_http_on_data(char *data, size_t size, size_t nmemb,
                              void *userp)
{
    struct es_req *req = userp;
    size_t n = size * nmemb;
    const struct lfp_host *host = req->host;

    if ((int64_t)(req->resp.len + n) > req->resp_limit) {
        req->is_resp_too_large = 1;
        return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
    }
    es_buf_append(host, &req->resp, data, n);
    return n;
}

/* Options every handle shares: timeouts, TLS, authentication. */
static int es_http_setup(struct es_http *h, CURL *easy, char *errbuf)
{
    const struct es_conf *c = h->conf;
    CURLcode rc = CURLE_OK;

#define ES_SET(opt, val)                                                       \
    do {                                                                       \
        if (rc == CURLE_OK)                                                    \
            rc = curl_easy_setopt(easy, opt, val);                             \
    } while (0)
    ES_SET(CURLOPT_NOSIGNAL, 1L);
    ES_SET(CURLOPT_ERRORBUFFER, errbuf);
    ES_SET(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    ES_SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    ES_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    ES_SET(CURLOPT_TCP_NODELAY, 1L);
    ES_SET(CURLOPT_HTTPHEADER, h->headers);
    ES_SET(CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
    ES_SET(CURLOPT_SSL_VERIFYHOST, c->tls_verify_hostname ? 2L : 0L);
    if (c->tls_ca_file)
        ES_SET(CURLOPT_CAINFO, c->tls_ca_file);
    if (c->tls_ca_path)
        ES_SET(CURLOPT_CAPATH, c->tls_ca_path);
    if (c->tls_cert_file)
        ES_SET(CURLOPT_SSLCERT, c->tls_cert_file);
    if (c->tls_key_file)
        ES_SET(CURLOPT_SSLKEY, c->tls_key_file);
    if (c->tls_key_passwd)
        ES_SET(CURLOPT_KEYPASSWD, c->tls_key_passwd);
    if (c->http_user) {
        ES_SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        ES_SET(CURLOPT_USERNAME, c->http_user);
        ES_SET(CURLOPT_PASSWORD, c->http_passwd);
    }
#undef ES_SET
    return rc == CURLE_OK ? LFP_OK : LFP_ERR_CONFIG;
}

static int es_http_headers(struct es_http *h, struct lfp_err *err)
{
    const struct es_conf *c = h->conf;
    struct curl_slist *l = NULL, *t;
    char auth[1024];

    l = curl_slist_append(l, "Content-Type: application/x-ndjson");
    /* No "Expect: 100-continue" round trip before every large body. */
    t = l ? curl_slist_append(l, "Expect:") : NULL;
    l = t ? t : l;
    if (t && c->compress == ES_COMPRESS_GZIP) {
        t = curl_slist_append(l, "Content-Encoding: gzip");
        l = t ? t : l;
    }
    if (t && c->api_key) {
        (void)snprintf(auth, sizeof(auth), "Authorization: ApiKey %s",
                       c->api_key);
        t = curl_slist_append(l, auth);
        memset(auth, 0, sizeof(auth));
        l = t ? t : l;
    }
    h->headers = l;
    if (!t)
        return es_http_fail(err, LFP_ERR_NOMEM, "curl", "header list");
    return LFP_OK;
}

static void es_http_bulk_urls(struct es_http *h)
{
    const struct es_conf *c = h->conf;
    char *pipe = NULL;

    if (c->pipeline)
        pipe = curl_easy_escape(NULL, c->pipeline, 0);
    h->bulk_urls = h->host->mem_calloc(c->hosts.n, sizeof(char *));
    for (size_t i = 0; i < c->hosts.n; i++) {
        const char *base = c->hosts.items[i];
        size_t n = strlen(base);
        size_t cap = n + sizeof(ES_BULK_PATH) + 16 + (pipe ? strlen(pipe) : 0);
        char *url = h->host->mem_alloc(cap);

        while (n > 0 && base[n - 1] == '/')
            n--;
        (void)snprintf(url, cap, "%.*s%s%s%s", (int)n, base, ES_BULK_PATH,
                       pipe ? "&pipeline=" : "", pipe ? pipe : "");
        h->bulk_urls[i] = url;
    }
    curl_free(pipe);
}

static int es_http_zinit(struct es_http *h, struct lfp_err *err)
{
    z_stream *zs = h->host->mem_calloc(1, sizeof(*zs));

    h->zs = zs;
    /* windowBits 15 + 16: a gzip wrapper, as Content-Encoding says. */
    if (deflateInit2(zs, (int)h->conf->compress_level, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        h->host->mem_free(zs);
        h->zs = NULL;
        return es_http_fail(err, LFP_ERR_NOMEM, "zlib", "deflateInit2");
    }
    return LFP_OK;
}

int es_http_init(struct es_http *h, const struct lfp_host *host,
                 const struct es_conf *conf, struct lfp_err *err)
{
    memset(h, 0, sizeof(*h));
    h->host = host;
    h->conf = conf;
    (void)pthread_once(&es_curl_once, es_curl_global_init);
    if (es_curl_init_rc != CURLE_OK)
        return es_http_fail(err, LFP_ERR_IO, "curl_global_init",
                            curl_easy_strerror(es_curl_init_rc));
    h->multi = curl_multi_init();
    if (!h->multi)
        return es_http_fail(err, LFP_ERR_NOMEM, "curl", "multi handle");
    (void)curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
                            (long)(conf->workers * 2));
    if (es_http_headers(h, err) != LFP_OK)
        return err->rc;
    if (conf->compress == ES_COMPRESS_GZIP && es_http_zinit(h, err) != LFP_OK)
        return err->rc;
    es_http_bulk_urls(h);
    h->nreqs = (size_t)conf->workers;
    h->reqs = host->mem_calloc(h->nreqs, sizeof(struct es_req));
    for (size_t i = 0; i < h->nreqs; i++) {
        struct es_req *req = &h->reqs[i];
        req->host = host;
        req->resp_limit = conf->response_max_bytes;
        req->easy = curl_easy_init();
        if (!req->easy || es_http_setup(h, req->easy, req->errbuf) != LFP_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION,
                             es_http_on_data) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) != CURLE_OK)
            return es_http_fail(err, LFP_ERR_CONFIG, "curl",
                                "setting up a request handle (TLS options "
                                "supported by this libcurl?)");
    }
    return LFP_OK;
}

void es_http_fini(struct es_http *h)
{
    for (size_t i = 0; h->reqs && i < h->nreqs; i++) {
        struct es_req *req = &h->reqs[i];
        if (req->easy) {
            if (req->is_busy)
                (void)curl_multi_remove_handle(h->multi, req->easy);
            curl_easy_cleanup(req->easy);
        }
        es_buf_free(h->host, &req->plain);
        es_buf_free(h->host, &req->zbody);
        es_buf_free(h->host, &req->resp);
    }
    h->host->mem_free(h->reqs);
    h->reqs = NULL;
    for (size_t i = 0; h->bulk_urls && i < h->conf->hosts.n; i++)
        h->host->mem_free(h->bulk_urls[i]);
    h->host->mem_free(h->bulk_urls);
    h->bulk_urls = NULL;
    if (h->zs) {
        (void)deflateEnd(h->zs);
        h->host->mem_free(h->zs);
        h->zs = NULL;
    }
    if (h->multi)
        (void)curl_multi_cleanup(h->multi);
    h->multi = NULL;
    curl_slist_free_all(h->headers);
    h->headers = NULL;
}

struct es_req *es_http_idle(struct es_http *h)
{
    for (size_t i = 0; i < h->nreqs; i++) {
        struct es_req *req = &h->reqs[i];
        if (!req->is_busy)
            return req;
    }
    return NULL;
}

static int es_http_gzip(struct es_http *h, struct es_req *req, const char *body,
                        size_t len, struct lfp_err *err)
{
    z_stream *zs = h->zs;
    uLong bound = deflateBound(zs, (uLong)len);

    req->zbody.len = 0;
    es_buf_reserve(h->host, &req->zbody, bound);
    (void)deflateReset(zs);
    zs->next_in = (Bytef *)(uintptr_t)body;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)req->zbody.data;
    zs->avail_out = (uInt)req->zbody.cap;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END)
        return es_http_fail(err, LFP_ERR_IO, "gzip", "deflate did not end");
    req->zbody.len = req->zbody.cap - zs->avail_out;
    return LFP_OK;
}

int es_http_submit(struct es_http *h, struct es_req *req, const char *body,
                   size_t len, struct lfp_err *err)
{
    CURLcode rc;
    CURLMcode mrc;
    size_t idx = h->next_host % h->conf->hosts.n;

    if (h->zs) {
        if (es_http_gzip(h, req, body, len, err) != LFP_OK)
            return LFP_ERR_IO;
        body = req->zbody.data;
        len = req->zbody.len;
    }
    h->next_host++;
    req->host_idx = idx;
    req->body_len = len;
    req->resp.len = 0;
    req->is_resp_too_large = 0;
    req->status = 0;
    req->cc = CURLE_OK;
    req->errbuf[0] = '\0';
    rc = curl_easy_setopt(req->easy, CURLOPT_URL, h->bulk_urls[idx]);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, body);
    if (rc != CURLE_OK)
        return es_http_fail(err, LFP_ERR_IO, "curl", curl_easy_strerror(rc));
    mrc = curl_multi_add_handle(h->multi, req->easy);
    if (mrc != CURLM_OK)
        return es_http_fail(err, LFP_ERR_IO, "curl", curl_multi_strerror(mrc));
    req->is_busy = 1;
    h->running++;
    return LFP_OK;
}

/* Takes one finished transfer off the multi handle, if there is one. */
static struct es_req *es_http_reap(struct es_http *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct es_req *req = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                                (char **)&req);
        req->cc = msg->data.result;
        (void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE,
                                &req->status);
        (void)curl_multi_remove_handle(h->multi, req->easy);
        req->is_busy = 0;
        h->running--;
        return req;
    }
    return NULL;
}

struct es_req *es_http_wait(struct es_http *h)
{
    for (;;) {
        struct es_req *req = es_http_reap(h);
        int still;

        if (req)
            return req;
        if (h->running == 0)
            return NULL;
        if (curl_multi_perform(h->multi, &still) != CURLM_OK)
            return NULL;
        req = es_http_reap(h);
        if (req)
            return req;
        /* Wakes on socket activity or curl's own timers (timeouts). */
        (void)curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
    }
}

void es_http_host_failed(struct es_http *h, size_t host_idx)
{
    if (h->conf->hosts.n > 1 && h->next_host % h->conf->hosts.n == host_idx)
        h->next_host++;
}

/* One synchronous GET: the handle, where its answer goes (capped at
 * 1 MiB; GET / is a few hundred bytes) and curl's message. */
struct es_get {
    CURL *easy;
    struct es_buf *buf;
    const struct lfp_host *host;
    long status;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t es_http_on_get(char *data, size_t size, size_t nmemb, void *userp)
{
    struct es_get *get = userp;
    size_t n = size * nmemb;

    if (get->buf->len + n > ((size_t)1 << 20))
        return 0;
    es_buf_append(get->host, get->buf, data, n);
    return n;
}

static int es_http_get_one(struct es_get *get, const char *url,
                           struct lfp_err *err)
{
    CURLcode rc;

    get->buf->len = 0;
    get->errbuf[0] = '\0';
    rc = curl_easy_setopt(get->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(get->easy, CURLOPT_WRITEFUNCTION, es_http_on_get);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(get->easy, CURLOPT_WRITEDATA, get);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(get->easy);
    if (rc != CURLE_OK)
        return es_http_fail(err, LFP_ERR_IO, url,
                            get->errbuf[0] ? get->errbuf
                                           : curl_easy_strerror(rc));
    (void)curl_easy_getinfo(get->easy, CURLINFO_RESPONSE_CODE, &get->status);
    return LFP_OK;
}

int es_http_get(struct es_http *h, const char *path, struct es_buf *resp,
                long *status, struct lfp_err *err)
{
    struct es_get get = {.buf = resp, .host = h->host};
    int rc = LFP_ERR_IO;

    get.easy = curl_easy_init();
    if (!get.easy)
        return es_http_fail(err, LFP_ERR_NOMEM, "curl", "easy handle");
    if (es_http_setup(h, get.easy, get.errbuf) != LFP_OK) {
        curl_easy_cleanup(get.easy);
        return es_http_fail(err, LFP_ERR_CONFIG, "curl", "options");
    }
    for (size_t i = 0; i < h->conf->hosts.n && rc != LFP_OK; i++) {
        const char *base = h->conf->hosts.items[i];
        size_t n = strlen(base);
        char url[1024];

        while (n > 0 && base[n - 1] == '/')
            n--;
        (void)snprintf(url, sizeof(url), "%.*s%s", (int)n, base, path);
        rc = es_http_get_one(&get, url, err);
    }
    *status = get.status;
    curl_easy_cleanup(get.easy);
    return rc;
}
