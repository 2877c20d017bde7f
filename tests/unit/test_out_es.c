/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_out_es.c - the es output against a small fake HTTP server on
 * 127.0.0.1: what it sends (NDJSON pairs, ids, index names, gzip, auth)
 * and what it does with each kind of answer (per-item 429/5xx retried
 * alone, 4xx items to rejected_path, whole-request failures as RETRY, 413
 * split, a retried chunk resending only what is unsettled).
 *
 * The real server is in tests/integration/test_es.py; this file is the
 * fast, exhaustive part. The fake keeps every request it got and answers
 * from a per-test function.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>

#include "chunk.h"
#include "instance.h"
#include "lf_test.h"
#include "mem.h"
#include "test_host.h"

extern const struct lfp_output_def out_es_def;

/* ---- the fake server -------------------------------------------------- */

#define FAKE_MAX_REQ 64
#define FAKE_MAX_CONN 16

struct fake_req {
    char method[8];
    char path[512];
    char headers[2048];
    char *body; /* decompressed when gzip; NUL-terminated */
    size_t body_len;
    size_t wire_len; /* body bytes as received */
};

struct fake;
/* Writes the answer for req (the n-th, from 0): status and body. */
typedef void (*fake_answer_fn)(struct fake *f, const struct fake_req *req,
                               int n, int *status, char *body, size_t cap);

struct fake {
    int lfd;
    int port;
    int stop_pipe[2];
    pthread_t thread;
    pthread_mutex_t lock;
    fake_answer_fn answer;
    void *arg;
    struct fake_req reqs[FAKE_MAX_REQ];
    int nreqs;
};

struct fake_conn {
    int fd;
    char *buf;
    size_t len, cap;
};

static char *fake_gunzip(const char *in, size_t n, size_t *out_len)
{
    z_stream zs;
    size_t cap = n * 8 + 1024;
    char *out = lf_malloc(cap);

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    for (;;) {
        int rc;
        zs.next_out = (Bytef *)out + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out - 1);
        rc = inflate(&zs, Z_FINISH);
        if (rc == Z_STREAM_END)
            break;
        assert_true(rc == Z_BUF_ERROR || rc == Z_OK);
        cap *= 2;
        out = lf_realloc(out, cap);
    }
    *out_len = zs.total_out;
    out[*out_len] = '\0';
    (void)inflateEnd(&zs);
    return out;
}

/* A complete request at the start of c->buf: its total length, or 0. */
static size_t fake_parse(struct fake_conn *c, struct fake_req *r)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    size_t head, clen = 0;
    const char *cl;

    if (!end)
        return 0;
    head = (size_t)(end - c->buf) + 4;
    memset(r, 0, sizeof(*r));
    (void)snprintf(r->headers, sizeof(r->headers), "%.*s", (int)head, c->buf);
    cl = strcasestr(r->headers, "Content-Length:");
    if (cl)
        clen = strtoul(cl + 15, NULL, 10);
    if (c->len < head + clen)
        return 0;
    (void)sscanf(r->headers, "%7s %511s", r->method, r->path);
    r->wire_len = clen;
    if (strcasestr(r->headers, "Content-Encoding: gzip")) {
        r->body = fake_gunzip(c->buf + head, clen, &r->body_len);
    } else {
        r->body = lf_malloc(clen + 1);
        memcpy(r->body, c->buf + head, clen);
        r->body[clen] = '\0';
        r->body_len = clen;
    }
    return head + clen;
}

static void fake_reply(struct fake *f, struct fake_conn *c, struct fake_req *r)
{
    static char body[1 << 20];
    char head[256];
    int status = 200, n;

    pthread_mutex_lock(&f->lock);
    n = f->nreqs;
    if (f->nreqs < FAKE_MAX_REQ)
        f->reqs[f->nreqs++] = *r;
    else
        lf_free(r->body);
    pthread_mutex_unlock(&f->lock);
    body[0] = '\0';
    f->answer(f, r, n, &status, body, sizeof(body));
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 status, strlen(body));
    if (write(c->fd, head, (size_t)n) < 0 ||
        write(c->fd, body, strlen(body)) < 0)
        return; /* the client went away */
}

/* Reads what is there; answers every complete request. 0: closed. */
static int fake_serve(struct fake *f, struct fake_conn *c)
{
    ssize_t n;
    size_t used;
    struct fake_req r;

    if (c->cap - c->len < 65536) {
        c->cap = c->cap * 2 + 65536;
        c->buf = lf_realloc(c->buf, c->cap);
    }
    n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n <= 0)
        return 0;
    c->len += (size_t)n;
    while ((used = fake_parse(c, &r)) > 0) {
        fake_reply(f, c, &r);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
    return 1;
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    struct fake_conn conns[FAKE_MAX_CONN];
    struct pollfd pfd[FAKE_MAX_CONN + 2];
    int nconn = 0;

    memset(conns, 0, sizeof(conns));
    for (;;) {
        pfd[0] = (struct pollfd){.fd = f->stop_pipe[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        for (int i = 0; i < nconn; i++)
            pfd[i + 2] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)nconn + 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents)
            break;
        if ((pfd[1].revents & POLLIN) && nconn < FAKE_MAX_CONN) {
            int fd = accept(f->lfd, NULL, NULL);
            if (fd >= 0)
                conns[nconn++] = (struct fake_conn){.fd = fd};
        }
        for (int i = nconn - 1; i >= 0; i--) {
            if (!pfd[i + 2].revents || fake_serve(f, &conns[i]))
                continue;
            (void)close(conns[i].fd);
            lf_free(conns[i].buf);
            conns[i] = conns[--nconn];
        }
    }
    for (int i = 0; i < nconn; i++) {
        (void)close(conns[i].fd);
        lf_free(conns[i].buf);
    }
    return NULL;
}

static struct fake *fake_start(fake_answer_fn answer, void *arg)
{
    struct fake *f = lf_calloc(1, sizeof(*f));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    f->answer = answer;
    f->arg = arg;
    pthread_mutex_init(&f->lock, NULL);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(pipe(f->stop_pipe), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

static void fake_stop(struct fake *f)
{
    assert_true(write(f->stop_pipe[1], "x", 1) == 1);
    pthread_join(f->thread, NULL);
    (void)close(f->lfd);
    (void)close(f->stop_pipe[0]);
    (void)close(f->stop_pipe[1]);
    for (int i = 0; i < f->nreqs; i++)
        lf_free(f->reqs[i].body);
    pthread_mutex_destroy(&f->lock);
    lf_free(f);
}

/* Number of bulk documents (line pairs) in a request body. */
static int bulk_docs(const struct fake_req *r)
{
    int lines = 0;

    for (size_t i = 0; i < r->body_len; i++)
        lines += r->body[i] == '\n';
    return lines / 2;
}

/* The i-th line of a body, copied into out. */
static void body_line(const struct fake_req *r, int i, char *out, size_t cap)
{
    const char *p = r->body;

    for (; i > 0 && p; i--) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    (void)snprintf(out, cap, "%.*s", (int)(strchr(p, '\n') - p), p);
}

/* An items answer: statuses[i] for the i-th document of the request. */
static void bulk_items(char *body, size_t cap, int ndocs, const int *statuses)
{
    size_t n = (size_t)snprintf(body, cap, "{\"errors\":true,\"items\":[");

    for (int i = 0; i < ndocs; i++) {
        int s = statuses[i];
        n += (size_t)snprintf(body + n, cap - n, "%s{\"index\":{\"status\":%d",
                              i ? "," : "", s);
        if (s >= 300)
            n += (size_t)snprintf(
                body + n, cap - n,
                ",\"error\":{\"type\":\"%s\",\"reason\":\"doc %d: "
                "\\\"quoted\\\" reason\"}",
                s == 429 ? "es_rejected_execution_exception"
                         : "mapper_parsing_exception",
                i);
        n += (size_t)snprintf(body + n, cap - n, "}}");
    }
    (void)snprintf(body + n, cap - n, "]}");
}

static void answer_ok(struct fake *f, const struct fake_req *req, int n,
                      int *status, char *body, size_t cap)
{
    (void)f;
    (void)req;
    (void)n;
    *status = 200;
    (void)snprintf(body, cap, "{\"errors\":false}");
}

/* ---- the output under test --------------------------------------------- */

struct es_test {
    struct lfp_instance ins;
    void *conf;
    void *ctx;
    struct fake *fake;
    struct lfp_chunk *chunk;
    char dir[256];
    char rejected[300];
};

static void es_test_conf(struct es_test *t, const char *key, const char *v)
{
    assert_int_equal(lf_test_conf_set(out_es_def.options, t->conf, key, v), 0);
}

static void es_test_new(struct es_test *t, fake_answer_fn answer, void *arg)
{
    char url[64];
    char *dir;

    memset(t, 0, sizeof(*t));
    t->fake = answer ? fake_start(answer, arg) : NULL;
    dir = lf_test_tmpdir("out_es"); /* heap copy: ours to free */
    (void)snprintf(t->dir, sizeof(t->dir), "%s", dir);
    lf_free(dir);
    (void)snprintf(t->rejected, sizeof(t->rejected), "%s/rejected.jsonl",
                   t->dir);
    t->conf = lf_test_conf_new(out_es_def.options, out_es_def.conf_size);
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d",
                   t->fake ? t->fake->port : 1);
    es_test_conf(t, "hosts", url);
    es_test_conf(t, "index", "t-%Y.%m.%d");
    es_test_conf(t, "compat", "opensearch2");
    es_test_conf(t, "rejected_path", t->rejected);
    es_test_conf(t, "item_retry_base", "1ms");
    lf_instance_init(&t->ins, LFP_KIND_OUTPUT, &out_es_def, "es", NULL, 0);
}

static int es_test_init(struct es_test *t, struct lfp_err *err)
{
    int rc = out_es_def.validate(t->conf, err);

    if (rc != LFP_OK)
        return rc;
    return out_es_def.init(&t->ins, &lf_host, t->conf, &t->ctx, err);
}

static void es_test_start(struct es_test *t)
{
    struct lfp_err err = {0};

    if (es_test_init(t, &err) != LFP_OK)
        fail_msg("init: %s", err.msg);
}

static void es_test_free(struct es_test *t)
{
    if (t->ctx)
        out_es_def.destroy(t->ctx);
    if (t->fake)
        fake_stop(t->fake);
    lf_chunk_free(t->chunk);
    lf_test_conf_free(out_es_def.options, t->conf);
    lf_instance_fini(&t->ins);
    lf_test_rmtree(t->dir);
}

/* A chunk of n records "line i" with fields seq=i and status=200,
 * stamped 2025-06-01T00:00:0i UTC. */
static struct lfp_chunk *es_test_chunk(int n)
{
    struct lfp_chunk *c = lf_chunk_new(1 << 16, 4096);
    size_t cap, off = 0;
    char *raw = lf_chunk_raw(c, &cap);

    lf_chunk_set_tag(c, "nginx.access", 12);
    c->pos_begin = 1000;
    c->pos_seq = 7;
    for (int i = 0; i < n; i++) {
        int len = snprintf(raw + off, cap - off, "line %d", i);
        struct lfp_record *rec;
        lf_chunk_add_line(c, (uint32_t)off, (uint32_t)len, 0);
        rec = &c->records[c->nrecords - 1];
        rec->ts_ns = (INT64_C(1748736000) + i) * 1000000000;
        lf_field_set_int(lf_record_add(c, rec), "seq", i);
        lf_field_set_int(lf_record_add(c, rec), "status", 200);
        off += (size_t)len + 1;
        raw[off - 1] = '\n';
    }
    return c;
}

static int es_test_flush(struct es_test *t, struct lfp_err *err)
{
    memset(err, 0, sizeof(*err));
    return out_es_def.flush(t->ctx, t->chunk, err);
}

static yajl_val parse_json(const char *text)
{
    char errbuf[256];
    yajl_val v = yajl_tree_parse(text, errbuf, sizeof(errbuf));

    if (!v)
        fail_msg("not JSON (%s): %s", errbuf, text);
    return v;
}

static const char *json_str(yajl_val v, const char *a, const char *b)
{
    const char *path[] = {a, b, NULL};
    yajl_val s = yajl_tree_get(v, path, yajl_t_string);

    return s ? YAJL_GET_STRING(s) : NULL;
}

static long long json_int(yajl_val v, const char *a, const char *b)
{
    const char *path[] = {a, b, NULL};
    yajl_val s = yajl_tree_get(v, path, yajl_t_number);

    assert_non_null(s);
    return YAJL_GET_INTEGER(s);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = lf_calloc(1, 1 << 20);
    size_t n;

    if (!fp)
        return buf;
    n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    (void)fclose(fp);
    return buf;
}

/* ---- what it sends ------------------------------------------------------ */

static void test_bulk_body_pairs_action_and_source_per_record(void **state)
{
    struct es_test t;
    struct lfp_err err;
    char line[1024];
    yajl_val action, src;

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_start(&t);
    t.chunk = es_test_chunk(3);
    t.chunk->records[1].flags |= LFP_REC_DROPPED;
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_int_equal(t.fake->nreqs, 1);
    assert_string_equal(t.fake->reqs[0].method, "POST");
    assert_non_null(strstr(t.fake->reqs[0].path, "/_bulk?filter_path="));
    assert_non_null(strcasestr(t.fake->reqs[0].headers,
                               "Content-Type: application/x-ndjson"));
    assert_int_equal(bulk_docs(&t.fake->reqs[0]), 2); /* dropped skipped */
    body_line(&t.fake->reqs[0], 0, line, sizeof(line));
    action = parse_json(line);
    assert_string_equal(json_str(action, "index", "_index"), "t-2025.06.01");
    assert_int_equal(strlen(json_str(action, "index", "_id")), 22);
    assert_null(json_str(action, "index", "_type"));
    body_line(&t.fake->reqs[0], 3, line, sizeof(line));
    src = parse_json(line);
    assert_int_equal(json_int(src, "seq", NULL), 2);
    assert_string_equal(json_str(src, "@timestamp", NULL),
                        "2025-06-01T00:00:02.000Z");
    yajl_tree_free(action);
    yajl_tree_free(src);
    es_test_free(&t);
}

/* The ids of every document of request r, in order. */
static void request_ids(const struct fake_req *r, char ids[][32], int n)
{
    char line[1024];

    for (int i = 0; i < n; i++) {
        yajl_val a;
        body_line(r, 2 * i, line, sizeof(line));
        a = parse_json(line);
        (void)snprintf(ids[i], 32, "%s", json_str(a, "index", "_id"));
        yajl_tree_free(a);
    }
}

static void test_generated_ids_are_stable_and_distinct(void **state)
{
    struct es_test t;
    struct lfp_err err;
    char a[4][32], b[4][32];

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_start(&t);
    t.chunk = es_test_chunk(4);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    /* The same lines again (a restart reading them again): same ids. */
    lf_chunk_free(t.chunk);
    t.chunk = es_test_chunk(4);
    t.chunk->pos_seq = 99;
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    request_ids(&t.fake->reqs[0], a, 4);
    request_ids(&t.fake->reqs[1], b, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(a[i], b[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(a[i], a[j]);
    }
    /* Another offset in the source is another line: another id. */
    lf_chunk_free(t.chunk);
    t.chunk = es_test_chunk(4);
    t.chunk->pos_begin = 5000;
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    request_ids(&t.fake->reqs[2], b, 4);
    assert_string_not_equal(a[0], b[0]);
    es_test_free(&t);
}

static void test_id_key_names_the_document_id(void **state)
{
    struct es_test t;
    struct lfp_err err;
    char ids[2][32];

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_conf(&t, "id_key", "seq");
    es_test_conf(&t, "op_type", "create");
    es_test_start(&t);
    t.chunk = es_test_chunk(2);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    /* op_type create: the action key is "create". */
    assert_non_null(strstr(t.fake->reqs[0].body, "{\"create\":{"));
    for (int i = 0; i < 2; i++) {
        char line[512];
        yajl_val a;
        body_line(&t.fake->reqs[0], 2 * i, line, sizeof(line));
        a = parse_json(line);
        (void)snprintf(ids[i], 32, "%s", json_str(a, "create", "_id"));
        yajl_tree_free(a);
    }
    assert_string_equal(ids[0], "0");
    assert_string_equal(ids[1], "1");
    es_test_free(&t);
}

static void test_gzip_body_and_basic_auth(void **state)
{
    struct es_test t;
    struct lfp_err err;

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_conf(&t, "compress", "gzip");
    es_test_conf(&t, "http_user", "shipper");
    es_test_conf(&t, "http_passwd", "s3cret");
    es_test_start(&t);
    t.chunk = es_test_chunk(200);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_non_null(
        strcasestr(t.fake->reqs[0].headers, "Content-Encoding: gzip"));
    /* base64("shipper:s3cret") */
    assert_non_null(strstr(t.fake->reqs[0].headers,
                           "Authorization: Basic c2hpcHBlcjpzM2NyZXQ="));
    assert_int_equal(bulk_docs(&t.fake->reqs[0]), 200);
    assert_true(t.fake->reqs[0].wire_len * 3 < t.fake->reqs[0].body_len);
    es_test_free(&t);
}

static void test_api_key_goes_in_authorization_header(void **state)
{
    struct es_test t;
    struct lfp_err err;

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_conf(&t, "compat", "es8");
    es_test_conf(&t, "api_key", "aWQ6a2V5");
    es_test_start(&t);
    t.chunk = es_test_chunk(1);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_non_null(
        strstr(t.fake->reqs[0].headers, "Authorization: ApiKey aWQ6a2V5"));
    es_test_free(&t);
}

static void answer_version(struct fake *f, const struct fake_req *req, int n,
                           int *status, char *body, size_t cap)
{
    (void)n;
    *status = 200;
    if (strcmp(req->method, "GET") == 0)
        (void)snprintf(body, cap, "%s", (const char *)f->arg);
    else
        (void)snprintf(body, cap, "{\"errors\":false}");
}

static void test_compat_auto_adds_type_for_elasticsearch_6_only(void **state)
{
    static const char *const answers[] = {
        "{\"version\":{\"number\":\"6.8.23\"}}",
        "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.6\"}}",
        "{\"version\":{\"number\":\"8.15.0\"}}",
    };

    (void)state;
    for (int i = 0; i < 3; i++) {
        struct es_test t;
        struct lfp_err err;
        es_test_new(&t, answer_version, (void *)answers[i]);
        es_test_conf(&t, "compat", "auto");
        es_test_start(&t);
        t.chunk = es_test_chunk(1);
        assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
        assert_int_equal(t.fake->nreqs, 2);
        assert_string_equal(t.fake->reqs[0].method, "GET");
        assert_true((strstr(t.fake->reqs[1].body, "\"_type\":\"_doc\"") !=
                     NULL) == (i == 0));
        es_test_free(&t);
    }
}

/* ---- what it does with the answers ----------------------------------------
 */

/* Answers from a script: per request, the status of each of its docs. */
struct script {
    int statuses[8][8];
    int whole[8]; /* non-zero: the whole request gets this HTTP status */
};

static void answer_script(struct fake *f, const struct fake_req *req, int n,
                          int *status, char *body, size_t cap)
{
    const struct script *s = f->arg;

    if (n >= 8 || s->whole[n]) {
        *status = n >= 8 ? 500 : s->whole[n];
        (void)snprintf(body, cap,
                       "{\"error\":{\"type\":\"scripted\",\"reason\":\"r\"}}");
        return;
    }
    *status = 200;
    bulk_items(body, cap, bulk_docs(req), s->statuses[n]);
}

static void test_item_429_is_sent_again_alone(void **state)
{
    struct script s = {.statuses = {{201, 429, 201}, {201}}};
    struct es_test t;
    struct lfp_err err;
    char line[512];
    yajl_val src;

    (void)state;
    es_test_new(&t, answer_script, &s);
    es_test_start(&t);
    t.chunk = es_test_chunk(3);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_int_equal(t.fake->nreqs, 2);
    assert_int_equal(bulk_docs(&t.fake->reqs[1]), 1);
    body_line(&t.fake->reqs[1], 1, line, sizeof(line));
    src = parse_json(line);
    assert_int_equal(json_int(src, "seq", NULL), 1);
    yajl_tree_free(src);
    assert_int_equal(lf_instance_counter(&t.ins, LFP_CNT_RETRIES), 1);
    assert_int_equal(lf_instance_counter(&t.ins, LFP_CNT_ERRORS), 0);
    es_test_free(&t);
}

static void test_item_400_goes_to_rejected_file_with_reason(void **state)
{
    struct script s = {.statuses = {{201, 400, 201, 201}}};
    struct es_test t;
    struct lfp_err err;
    char *text;
    yajl_val v;

    (void)state;
    es_test_new(&t, answer_script, &s);
    es_test_start(&t);
    t.chunk = es_test_chunk(4);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_int_equal(t.fake->nreqs, 1); /* 400 is not retried */
    text = read_all(t.rejected);
    assert_non_null(strchr(text, '\n'));
    assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* one line */
    v = parse_json(text);
    assert_int_equal(json_int(v, "status", NULL), 400);
    assert_string_equal(json_str(v, "error", "type"),
                        "mapper_parsing_exception");
    assert_string_equal(json_str(v, "error", "reason"),
                        "doc 1: \"quoted\" reason");
    assert_int_equal(json_int(v, "document", "seq"), 1);
    {
        const char *path[] = {"action", "index", "_index", NULL};
        yajl_val idx = yajl_tree_get(v, path, yajl_t_string);
        assert_non_null(idx);
        assert_string_equal(YAJL_GET_STRING(idx), "t-2025.06.01");
    }
    yajl_tree_free(v);
    lf_free(text);
    assert_int_equal(lf_instance_counter(&t.ins, LFP_CNT_ERRORS), 1);
    assert_int_equal(lf_instance_counter(&t.ins, LFP_CNT_DROPPED), 0);
    es_test_free(&t);
}

static void test_whole_503_is_retry_and_nothing_is_rejected(void **state)
{
    struct script s = {.whole = {503}, .statuses = {{0}, {201, 201}}};
    struct es_test t;
    struct lfp_err err;

    (void)state;
    es_test_new(&t, answer_script, &s);
    es_test_start(&t);
    t.chunk = es_test_chunk(2);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_RETRY);
    assert_non_null(strstr(err.msg, "HTTP 503"));
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_int_equal(bulk_docs(&t.fake->reqs[1]), 2);
    assert_int_equal(lf_instance_counter(&t.ins, LFP_CNT_ERRORS), 0);
    es_test_free(&t);
}

static void test_retried_chunk_resends_only_unsettled_docs(void **state)
{
    /* Round 1: doc 0 indexed, doc 1 refused (429), doc 2 rejected (400);
     * no in-flush retries, so the chunk goes back to the engine. The
     * retry sends doc 1 alone and does not dead-letter doc 2 again. */
    struct script s = {.statuses = {{201, 429, 400}, {201}}};
    struct es_test t;
    struct lfp_err err;
    char *text;

    (void)state;
    es_test_new(&t, answer_script, &s);
    es_test_conf(&t, "item_retries", "0");
    es_test_start(&t);
    t.chunk = es_test_chunk(3);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_RETRY);
    assert_non_null(strstr(err.msg, "1 of 3 documents"));
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_int_equal(t.fake->nreqs, 2);
    assert_int_equal(bulk_docs(&t.fake->reqs[1]), 1);
    text = read_all(t.rejected);
    assert_non_null(strchr(text, '\n'));
    assert_null(strchr(strchr(text, '\n') + 1, '\n'));
    lf_free(text);
    es_test_free(&t);
}

static void test_whole_request_400_rejects_its_documents(void **state)
{
    struct script s = {.whole = {400}};
    struct es_test t;
    struct lfp_err err;
    char *text;
    int lines = 0;

    (void)state;
    es_test_new(&t, answer_script, &s);
    es_test_start(&t);
    t.chunk = es_test_chunk(3);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    text = read_all(t.rejected);
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    assert_non_null(strstr(text, "\"type\":\"scripted\""));
    lf_free(text);
    es_test_free(&t);
}

static void answer_small_only(struct fake *f, const struct fake_req *req, int n,
                              int *status, char *body, size_t cap)
{
    (void)f;
    (void)n;
    if (req->body_len > 40000) {
        *status = 413;
        return;
    }
    answer_ok(f, req, n, status, body, cap);
}

static void test_413_splits_into_smaller_requests(void **state)
{
    struct es_test t;
    struct lfp_err err;
    int docs = 0;

    (void)state;
    es_test_new(&t, answer_small_only, NULL);
    es_test_start(&t);
    t.chunk = es_test_chunk(1500); /* about 150K of NDJSON */
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    for (int i = 0; i < t.fake->nreqs; i++) {
        if (t.fake->reqs[i].body_len <= 40000)
            docs += bulk_docs(&t.fake->reqs[i]);
    }
    assert_int_equal(docs, 1500);
    es_test_free(&t);
}

static void test_parallel_requests_carry_every_document_once(void **state)
{
    struct es_test t;
    struct lfp_err err;
    char seen[3000] = {0};

    (void)state;
    es_test_new(&t, answer_ok, NULL);
    es_test_conf(&t, "workers", "4");
    es_test_start(&t);
    t.chunk = es_test_chunk(3000); /* > 4 x 256K floor: several requests */
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_OK);
    assert_true(t.fake->nreqs >= 1);
    for (int i = 0; i < t.fake->nreqs; i++) {
        const struct fake_req *r = &t.fake->reqs[i];
        for (int d = 0; d < bulk_docs(r); d++) {
            char line[512];
            yajl_val v;
            body_line(r, 2 * d + 1, line, sizeof(line));
            v = parse_json(line);
            seen[json_int(v, "seq", NULL)]++;
            yajl_tree_free(v);
        }
    }
    for (int i = 0; i < 3000; i++)
        assert_int_equal(seen[i], 1);
    es_test_free(&t);
}

static void test_connection_refused_is_retry(void **state)
{
    struct es_test t;
    struct lfp_err err;

    (void)state;
    es_test_new(&t, NULL, NULL); /* hosts: port 1, nothing listens */
    es_test_start(&t);
    t.chunk = es_test_chunk(2);
    assert_int_equal(es_test_flush(&t, &err), LFP_FLUSH_RETRY);
    assert_non_null(strstr(err.msg, "2 of 2 documents not indexed"));
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    es_test_free(&t);
}

static void test_validate_refuses_bad_settings(void **state)
{
    static const char *const bad[][2] = {
        {"index", "Logs-%Y"},       {"index", "logs-%Q"},
        {"index", "_logs"},         {"hosts", "ftp://x:9200"},
        {"http_user", "only-user"}, {"compat", "opensearch2"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_test t;
        struct lfp_err err = {0};
        es_test_new(&t, NULL, NULL);
        es_test_conf(&t, bad[i][0], bad[i][1]);
        if (strcmp(bad[i][0], "compat") == 0)
            es_test_conf(&t, "api_key", "k");
        assert_int_equal(out_es_def.validate(t.conf, &err), LFP_ERR_CONFIG);
        assert_true(err.msg[0] != '\0');
        es_test_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_body_pairs_action_and_source_per_record),
        cmocka_unit_test(test_generated_ids_are_stable_and_distinct),
        cmocka_unit_test(test_id_key_names_the_document_id),
        cmocka_unit_test(test_gzip_body_and_basic_auth),
        cmocka_unit_test(test_api_key_goes_in_authorization_header),
        cmocka_unit_test(test_compat_auto_adds_type_for_elasticsearch_6_only),
        cmocka_unit_test(test_item_429_is_sent_again_alone),
        cmocka_unit_test(test_item_400_goes_to_rejected_file_with_reason),
        cmocka_unit_test(test_whole_503_is_retry_and_nothing_is_rejected),
        cmocka_unit_test(test_retried_chunk_resends_only_unsettled_docs),
        cmocka_unit_test(test_whole_request_400_rejects_its_documents),
        cmocka_unit_test(test_413_splits_into_smaller_requests),
        cmocka_unit_test(test_parallel_requests_carry_every_document_once),
        cmocka_unit_test(test_connection_refused_is_retry),
        cmocka_unit_test(test_validate_refuses_bad_settings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
