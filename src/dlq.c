/* SPDX-License-Identifier: Apache-2.0 */
/* dlq.c - the dead-letter file of an output (see dlq.h). */
#include "dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_out.h"
#include "mem.h"
#include "timeutil.h"

struct lf_dlq {
    char *path;
    char *label;
    int fd;
    char *buf;
    size_t cap, len;
};

static int dlq_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n >= sizeof(tmp))
        return ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    return 0;
}

int lf_dlq_open(const char *path, const char *label, struct lf_dlq **out,
                struct lfp_err *err)
{
    struct lf_dlq *dlq;
    int e = dlq_mkdirs(path);
    int fd;

    if (e != 0) {
        errno = e;
        return lf_err_errno(err, LFP_ERR_IO, "dlq.path %s: mkdir", path);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return lf_err_errno(err, LFP_ERR_IO, "dlq.path %s: open", path);
    dlq = lf_calloc(1, sizeof(*dlq));
    dlq->path = lf_strdup(path);
    dlq->label = lf_strdup(label);
    dlq->fd = fd;
    *out = dlq;
    return LFP_OK;
}

void lf_dlq_free(struct lf_dlq *dlq)
{
    if (!dlq)
        return;
    if (dlq->fd >= 0)
        (void)close(dlq->fd);
    lf_free(dlq->buf);
    lf_free(dlq->path);
    lf_free(dlq->label);
    lf_free(dlq);
}

static void dlq_reserve(struct lf_dlq *dlq, size_t need)
{
    if (dlq->cap - dlq->len >= need)
        return;
    while (dlq->cap - dlq->len < need)
        dlq->cap = dlq->cap ? dlq->cap * 2 : (size_t)64 * 1024;
    dlq->buf = lf_realloc(dlq->buf, dlq->cap);
}

static void dlq_lit(struct lf_dlq *dlq, const char *s)
{
    size_t n = strlen(s);

    dlq_reserve(dlq, n);
    memcpy(dlq->buf + dlq->len, s, n);
    dlq->len += n;
}

static void dlq_str(struct lf_dlq *dlq, const char *s, size_t n)
{
    dlq_reserve(dlq, 6 * n + 2);
    dlq->len += lf_json_string(s, n, dlq->buf + dlq->len);
}

/* The part of each line before the record: time, output, tag, error. */
static void dlq_prefix(struct lf_dlq *dlq, const struct lfp_chunk *chunk,
                       const char *stamp, const char *reason, unsigned attempts)
{
    char num[32];

    dlq_lit(dlq, "{\"time\":\"");
    dlq_lit(dlq, stamp);
    dlq_lit(dlq, "\",\"output\":");
    dlq_str(dlq, dlq->label, strlen(dlq->label));
    dlq_lit(dlq, ",\"tag\":");
    dlq_str(dlq, chunk->tag, chunk->tag_len);
    dlq_lit(dlq, ",\"error\":");
    dlq_str(dlq, reason, strlen(reason));
    (void)snprintf(num, sizeof(num), ",\"attempts\":%u,\"record\":", attempts);
    dlq_lit(dlq, num);
}

int lf_dlq_write(struct lf_dlq *dlq, const struct lfp_chunk *chunk,
                 const char *reason, unsigned attempts, uint64_t *nrecords,
                 struct lfp_err *err)
{
    char stamp[LF_TIME_ISO_LEN + 1];
    const char *p;
    size_t left;
    uint64_t n = 0;

    lf_time_format_iso(lf_time_now_ns(), stamp);
    stamp[LF_TIME_ISO_LEN] = '\0';
    dlq->len = 0;
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        dlq_prefix(dlq, chunk, stamp, reason, attempts);
        dlq_reserve(dlq, lf_json_record_bound(rec) + 2);
        dlq->len += lf_json_record(rec, dlq->buf + dlq->len);
        dlq_lit(dlq, "}\n");
        n++;
    }
    for (p = dlq->buf, left = dlq->len; left > 0;) {
        ssize_t w = write(dlq->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lf_err_errno(err, LFP_ERR_IO, "write %s", dlq->path);
        p += w;
        left -= (size_t)w;
    }
    if (dlq->len > 0 && fsync(dlq->fd) < 0)
        return lf_err_errno(err, LFP_ERR_IO, "fsync %s", dlq->path);
    *nrecords = n;
    return LFP_OK;
}
