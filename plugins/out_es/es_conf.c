/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_conf.c - the es output's option table and its cross-key checks.
 *
 * The table is the user documentation (docs/reference/es.md is generated
 * from it); docs/outputs/elasticsearch.md explains how the keys combine.
 */
#include "es_conf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const es_op_names[] = {"index", "create", NULL};
static const char *const es_compress_names[] = {"none", "gzip", NULL};
static const char *const es_compat_names[] = {
    "auto", "es6", "es7", "es8", "opensearch1", "opensearch2", NULL};

#define ES_OPT(field) offsetof(struct es_conf, field)

const struct lfp_option es_options[] = {
    {.name = "hosts",
     .type = LFP_OPT_LIST,
     .def = "http://127.0.0.1:9200",
     .offset = ES_OPT(hosts),
     .desc = "Base URLs of the cluster's HTTP endpoints, e.g. "
             "https://es1:9200 https://es2:9200. Requests go to them in "
             "turn; a node that fails is skipped for the next request."},
    {.name = "index",
     .type = LFP_OPT_STR,
     .def = "logferry-%Y.%m.%d",
     .offset = ES_OPT(index),
     .desc = "Index (or data stream) the documents go to. The date "
             "conversions %Y %m %d %H %j %G %V %U %W %u %w are expanded from "
             "each record's @timestamp in UTC, e.g. proxy-logs-%Y.%m.%d."},
    {.name = "op_type",
     .type = LFP_OPT_ENUM,
     .def = "index",
     .enum_values = es_op_names,
     .offset = ES_OPT(op_type),
     .desc = "Bulk action: index (create or overwrite by id) or create "
             "(required for data streams; a document whose id already "
             "exists counts as delivered)."},
    {.name = "id_key",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(id_key),
     .desc = "Field whose value becomes the document _id. Records without "
             "it get a generated id (see generate_id)."},
    {.name = "generate_id",
     .type = LFP_OPT_BOOL,
     .def = "on",
     .offset = ES_OPT(generate_id),
     .desc = "Give every document an _id derived from its tag, source "
             "offset and raw line (128-bit hash), so a chunk sent again "
             "after a retry or a restart overwrites instead of "
             "duplicating. Off lets the server pick ids: faster, but a "
             "retry may duplicate documents."},
    {.name = "pipeline",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(pipeline),
     .desc = "Ingest pipeline the server runs on every document."},
    {.name = "http_user",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(http_user),
     .desc = "User for HTTP basic authentication; use ${ENV_VAR}."},
    {.name = "http_passwd",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_SECRET,
     .offset = ES_OPT(http_passwd),
     .desc = "Password for HTTP basic authentication; use ${ENV_VAR}."},
    {.name = "api_key",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_SECRET,
     .offset = ES_OPT(api_key),
     .desc = "Elasticsearch API key, the base64 `encoded` value the create "
             "API key call returns, sent as Authorization: ApiKey; use "
             "${ENV_VAR}. Not with http_user."},
    {.name = "compress",
     .type = LFP_OPT_ENUM,
     .def = "none",
     .enum_values = es_compress_names,
     .offset = ES_OPT(compress),
     .desc = "Compress request bodies: none or gzip (about 10x smaller "
             "access logs, for a little CPU)."},
    {.name = "compress_level",
     .type = LFP_OPT_INT,
     .def = "1",
     .min = 1,
     .max = 9,
     .offset = ES_OPT(compress_level),
     .desc = "gzip level from 1 (fastest) to 9 (smallest)."},
    {.name = "compat",
     .type = LFP_OPT_ENUM,
     .def = "auto",
     .enum_values = es_compat_names,
     .offset = ES_OPT(compat),
     .desc = "Server flavour: auto asks the server (GET /) before the "
             "first bulk request; es6 adds _type _doc to every action; es7, "
             "es8, opensearch1 and opensearch2 send typeless actions. "
             "opensearch* refuses api_key (OpenSearch has no API keys)."},
    {.name = "bulk_max_bytes",
     .type = LFP_OPT_SIZE,
     .def = "5M",
     .min = 64 << 10,
     .max = INT64_C(1) << 30,
     .offset = ES_OPT(bulk_max_bytes),
     .desc = "Largest bulk request body before compression, in bytes; a "
             "chunk is split into several requests to stay under it "
             "(http.max_content_length is 100M on the server by default)."},
    {.name = "response_max_bytes",
     .type = LFP_OPT_SIZE,
     .def = "16M",
     .min = 64 << 10,
     .max = INT64_C(1) << 30,
     .offset = ES_OPT(response_max_bytes),
     .desc = "Largest response body read, in bytes; a longer one fails "
             "the request (it is retried)."},
    {.name = "workers",
     .type = LFP_OPT_INT,
     .def = "2",
     .min = 1,
     .max = 64,
     .offset = ES_OPT(workers),
     .desc = "Bulk requests in flight at once: a chunk is split into up "
             "to this many requests sent in parallel over kept-alive "
             "connections."},
    {.name = "timeout",
     .type = LFP_OPT_DURATION,
     .def = "30s",
     .min = 100,
     .max = INT64_C(3600000),
     .offset = ES_OPT(timeout_ms),
     .desc = "Longest time one bulk request may take, connection "
             "included; past it the request is retried."},
    {.name = "connect_timeout",
     .type = LFP_OPT_DURATION,
     .def = "5s",
     .min = 100,
     .max = INT64_C(300000),
     .offset = ES_OPT(connect_timeout_ms),
     .desc = "Longest time to establish a connection to a node."},
    {.name = "item_retries",
     .type = LFP_OPT_INT,
     .def = "5",
     .min = 0,
     .max = 100,
     .offset = ES_OPT(item_retries),
     .desc = "How many times documents the server refused with 429 or 5xx "
             "are sent again, alone, within one flush before the chunk is "
             "handed back to the engine's retry (documents already indexed "
             "or rejected are not sent again)."},
    {.name = "item_retry_base",
     .type = LFP_OPT_DURATION,
     .def = "100ms",
     .min = 1,
     .max = 60000,
     .offset = ES_OPT(item_retry_base_ms),
     .desc = "First delay before refused documents are sent again; it "
             "doubles per attempt, with full jitter."},
    {.name = "rejected_path",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(rejected_path),
     .desc = "File that documents the server rejects for good (400-class "
             "item errors such as mapping conflicts) are appended to, one "
             "JSON object per line with the status, the error and the "
             "document. Without it they are counted and logged, then "
             "dropped."},
    {.name = "tls.verify",
     .type = LFP_OPT_BOOL,
     .def = "on",
     .offset = ES_OPT(tls_verify),
     .desc = "Verify the server's certificate chain on https hosts."},
    {.name = "tls.verify_hostname",
     .type = LFP_OPT_BOOL,
     .def = "on",
     .offset = ES_OPT(tls_verify_hostname),
     .desc = "Check that the certificate names the host."},
    {.name = "tls.ca_file",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(tls_ca_file),
     .desc = "PEM file of the CA certificates to trust instead of the "
             "system's."},
    {.name = "tls.ca_path",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(tls_ca_path),
     .desc = "Directory of hashed CA certificates to trust."},
    {.name = "tls.cert_file",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(tls_cert_file),
     .desc = "PEM client certificate, for clusters that require one."},
    {.name = "tls.key_file",
     .type = LFP_OPT_STR,
     .offset = ES_OPT(tls_key_file),
     .desc = "PEM private key of tls.cert_file."},
    {.name = "tls.key_passwd",
     .type = LFP_OPT_STR,
     .flags = LFP_OPT_SECRET,
     .offset = ES_OPT(tls_key_passwd),
     .desc = "Password of tls.key_file; use ${ENV_VAR}."},
    {0},
};

static int es_conf_fail(struct lfp_err *err, const char *msg, const char *what)
{
    (void)snprintf(err->msg, sizeof(err->msg), "%s%s%s", msg, what ? ": " : "",
                   what ? what : "");
    err->rc = LFP_ERR_CONFIG;
    return LFP_ERR_CONFIG;
}

static int es_conf_check_host(const char *url, struct lfp_err *err)
{
    size_t n = strlen(url);

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return es_conf_fail(err,
                            "hosts: expected http://HOST:PORT or "
                            "https://HOST:PORT, got",
                            url);
    if (n <= (size_t)(url[4] == 's' ? 8 : 7))
        return es_conf_fail(err, "hosts: no host in", url);
    if (strchr(url, '?') || strchr(url, '#'))
        return es_conf_fail(err, "hosts: no query or fragment allowed in", url);
    return LFP_OK;
}

/* The date conversions index may use: they expand to digits only. */
static int es_conf_is_date_conv(char c)
{
    return c != '\0' && strchr("YmdHjGVUWuw%", c) != NULL;
}

/* Index names are lower case, without \ / * ? " < > | , # space, and do
 * not start with - _ +. Checked here so the bulk encoder never escapes. */
static int es_conf_check_index(const char *index, struct lfp_err *err)
{
    if (index[0] == '\0')
        return es_conf_fail(err, "index: empty", NULL);
    if (strchr("-_+", index[0]))
        return es_conf_fail(err, "index: must not start with - _ or +", index);
    if (strlen(index) > 200)
        return es_conf_fail(err, "index: longer than 200 bytes", index);
    for (const char *p = index; *p; p++) {
        if (*p == '%') {
            if (!es_conf_is_date_conv(p[1]))
                return es_conf_fail(err,
                                    "index: only %Y %m %d %H %j %G %V %U "
                                    "%W %u %w %% may be used in",
                                    index);
            p++;
            continue;
        }
        if ((*p >= 'A' && *p <= 'Z') || strchr("\\/*?\"<>|,# ", *p) ||
            (unsigned char)*p < 0x20)
            return es_conf_fail(err,
                                "index: upper case or one of \\ / * ? \" "
                                "< > | , # space in",
                                index);
    }
    return LFP_OK;
}

int es_conf_validate(const void *vconf, struct lfp_err *err)
{
    const struct es_conf *conf = vconf;

    if (conf->hosts.n == 0)
        return es_conf_fail(err, "hosts: at least one URL is required", NULL);
    for (size_t i = 0; i < conf->hosts.n; i++) {
        if (es_conf_check_host(conf->hosts.items[i], err) != LFP_OK)
            return LFP_ERR_CONFIG;
    }
    if (es_conf_check_index(conf->index ? conf->index : "", err) != LFP_OK)
        return LFP_ERR_CONFIG;
    if (conf->api_key && (conf->http_user || conf->http_passwd))
        return es_conf_fail(err,
                            "api_key and http_user/http_passwd are "
                            "two ways to authenticate: set one",
                            NULL);
    if ((conf->http_user == NULL) != (conf->http_passwd == NULL))
        return es_conf_fail(err, "http_user and http_passwd go together", NULL);
    if (conf->api_key &&
        (conf->compat == ES_COMPAT_OS1 || conf->compat == ES_COMPAT_OS2))
        return es_conf_fail(err,
                            "api_key: OpenSearch has no API keys; use "
                            "http_user/http_passwd",
                            NULL);
    if (conf->tls_key_file && !conf->tls_cert_file)
        return es_conf_fail(err, "tls.key_file needs tls.cert_file", NULL);
    if (conf->pipeline && conf->pipeline[0] == '\0')
        return es_conf_fail(err, "pipeline: empty", NULL);
    if (conf->id_key && conf->id_key[0] == '\0')
        return es_conf_fail(err, "id_key: empty", NULL);
    return LFP_OK;
}
