/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server.c - the [service] HTTP endpoint on libmicrohttpd, with its
 * own polling thread:
 *
 *   GET  /metrics        logferry's own metrics, then the upstream metrics
 *                        (text format 0.0.4); shards are merged per request
 *   GET  /api/v1/health  200 {"status":"ok"} while the process runs
 *   POST /api/v1/reload  asks the engine to reload (202)
 *
 * Anything else is 404, a known path with another method 405. Requests are
 * answered one at a time on the server's thread; rendering /metrics takes
 * the aggregator's lock (never a worker's for longer than a pointer swap).
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine_int.h"
#include "engine_stats.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_buf.h"
#include "timeutil.h"

#define HTTP_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_JSON_TYPE "application/json"

struct lf_http {
    struct lf_engine *e;
    struct MHD_Daemon *d;
};

/* Answers with a static text. */
static enum MHD_Result http_text(struct MHD_Connection *conn, unsigned status,
                                 const char *type, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result http_metrics(struct lf_http *h,
                                    struct MHD_Connection *conn)
{
    struct lf_mbuf b;
    struct MHD_Response *r;
    enum MHD_Result rc;

    lf_mbuf_init(&b);
    lf_engine_stats_render(h->e, &b);
    lf_metrics_render(h->e->metrics, lf_time_now_ns(), &b);
    r = MHD_create_response_from_buffer_with_free_callback(b.len, b.data,
                                                           lf_free);
    if (!r) {
        lf_mbuf_fini(&b);
        return MHD_NO;
    }
    (void)lf_mbuf_take(&b, NULL); /* the response owns it now */
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  HTTP_PROM_TYPE);
    rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result http_route(struct lf_http *h,
                                  struct MHD_Connection *conn, const char *url,
                                  const char *method)
{
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    if (strcmp(url, "/metrics") == 0) {
        if (!is_get)
            return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_JSON_TYPE,
                             "{\"error\":\"use GET\"}\n");
        return http_metrics(h, conn);
    }
    if (strcmp(url, "/api/v1/health") == 0) {
        if (!is_get)
            return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_JSON_TYPE,
                             "{\"error\":\"use GET\"}\n");
        return http_text(conn, MHD_HTTP_OK, HTTP_JSON_TYPE,
                         "{\"status\":\"ok\"}\n");
    }
    if (strcmp(url, "/api/v1/reload") == 0) {
        if (!is_post)
            return http_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_JSON_TYPE,
                             "{\"error\":\"use POST\"}\n");
        lf_engine_request_reload(h->e);
        return http_text(conn, MHD_HTTP_ACCEPTED, HTTP_JSON_TYPE,
                         "{\"status\":\"reload requested\"}\n");
    }
    return http_text(conn, MHD_HTTP_NOT_FOUND, HTTP_JSON_TYPE,
                     "{\"error\":\"not found\"}\n");
}

/* NOLINTNEXTLINE(readability-function-size): libmicrohttpd's signature. */
static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    static int started;

    (void)version;
    (void)upload_data;
    /* First call: headers only. Then any body is consumed (and ignored),
     * and the last call answers. */
    if (*con_cls == NULL) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return http_route(cls, conn, url, method);
}

/* Parses "host:port" or "[v6]:port" into addr. */
static int http_parse_listen(const char *listen, struct sockaddr_storage *ss,
                             struct lfp_err *err)
{
    const char *colon = strrchr(listen, ':');
    char host[128];
    long port;
    char *end;
    size_t n;

    memset(ss, 0, sizeof(*ss));
    if (!colon)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "http_listen '%s': expected host:port", listen);
    port = strtol(colon + 1, &end, 10);
    n = (size_t)(colon - listen);
    if (*end || end == colon + 1 || port < 0 || port > 65535 ||
        n >= sizeof(host))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "http_listen '%s': expected host:port", listen);
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        memcpy(host, listen + 1, n - 2);
        host[n - 2] = '\0';
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1)
            return LFP_OK;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        memcpy(host, listen, n);
        host[n] = '\0';
        if (strcmp(host, "localhost") == 0)
            (void)snprintf(host, sizeof(host), "127.0.0.1");
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (n == 0 || strcmp(host, "*") == 0) {
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
            return LFP_OK;
        }
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
            return LFP_OK;
    }
    return lf_err_set(err, LFP_ERR_CONFIG,
                      "http_listen '%s': '%s' is not an IP address", listen,
                      host);
}

int lf_http_start(struct lf_engine *e, const char *listen, struct lf_http **out,
                  struct lfp_err *err)
{
    struct sockaddr_storage ss;
    struct lf_http *h;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    *out = NULL;
    if (http_parse_listen(listen, &ss, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = lf_calloc(1, sizeof(*h));
    h->e = e;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, http_handle, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!h->d) {
        lf_free(h);
        return lf_err_errno(err, LFP_ERR_IO, "http server: cannot listen on %s",
                            listen);
    }
    *out = h;
    return LFP_OK;
}

void lf_http_stop(struct lf_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    lf_free(h);
}
