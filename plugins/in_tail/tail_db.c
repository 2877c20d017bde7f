/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_db.c - loading and atomically replacing the state file.
 *
 * The tail thread writes it (at most every db_sync_interval, and from
 * destroy); acks only mark it out of date. Offsets are snapshotted under
 * ctx->lock, then written without it so acks never wait on the disk.
 */
#include "tail_db.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tail.h"

/* A state file larger than this is not ours: ignored, not loaded. */
#define TAIL_DB_MAX_BYTES (INT64_C(64) << 20)
#define TAIL_DB_HEADER "# logferry tail state v1\n"

/* Writes the directory part of path ("." or "/" at least) into dir. */
static void tail_db_dirname(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        (void)snprintf(dir, cap, ".");
    else if (slash == path)
        (void)snprintf(dir, cap, "/");
    else
        (void)snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

int tail_db_check(const char *path, struct lfp_err *err)
{
    char dir[PATH_MAX];

    if (strlen(path) + sizeof(".tmp") > sizeof(dir))
        return tail_err_set(err, LFP_ERR_CONFIG, "db %s: path too long", path);
    tail_db_dirname(path, dir, sizeof(dir));
    if (access(dir, W_OK | X_OK) != 0)
        return tail_err_errno(err, LFP_ERR_CONFIG,
                              "db %s: directory %s is not writable", path, dir);
    return LFP_OK;
}

/* Parses one number followed by a space; advances *p past the space. */
static int tail_db_number(char **p, int base, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (!isxdigit((unsigned char)**p) ||
        (base == 10 && !isdigit((unsigned char)**p)))
        return -1;
    errno = 0;
    v = strtoull(*p, &end, base);
    if (errno != 0 || *end != ' ')
        return -1;
    *out = v;
    *p = end + 1;
    return 0;
}

/* Undoes the path escapes in place; -1 on an unknown escape. */
static int tail_db_unescape(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (*s != '\\') {
            *out++ = *s;
            continue;
        }
        s++;
        if (*s == 'n')
            *out++ = '\n';
        else if (*s == '\\')
            *out++ = '\\';
        else
            return -1;
    }
    *out = '\0';
    return 0;
}

/* Parses "dev ino fp_len fp_hash offset path" (line is modified). */
static int tail_db_parse(char *line, struct tail_db_entry *e)
{
    uint64_t fp_len;
    char *p = line;

    if (tail_db_number(&p, 10, &e->dev) != 0 ||
        tail_db_number(&p, 10, &e->ino) != 0 ||
        tail_db_number(&p, 10, &fp_len) != 0 ||
        tail_db_number(&p, 16, &e->fp_hash) != 0 ||
        tail_db_number(&p, 10, &e->offset) != 0)
        return -1;
    if (fp_len > TAIL_FP_BYTES || *p == '\0' || tail_db_unescape(p) != 0)
        return -1;
    e->fp_len = (uint32_t)fp_len;
    e->path = p; /* borrowed until tail_db_add copies it */
    return 0;
}

static void tail_db_add(struct tail_ctx *ctx, const struct tail_db_entry *e)
{
    struct tail_db *db = &ctx->db;

    if (db->n == db->cap) {
        db->cap = db->cap ? db->cap * 2 : 16;
        db->v = ctx->host->mem_realloc(db->v, db->cap * sizeof(*db->v));
    }
    db->v[db->n] = *e;
    db->v[db->n].path = ctx->host->mem_strdup(e->path);
    db->n++;
}

/* Logs that the state file is corrupt at byte `at` of buf. Lines already
 * parsed had their newline replaced by a NUL: both end a line. */
static void tail_db_corrupt(struct tail_ctx *ctx, const char *buf, size_t at)
{
    size_t lineno = 1;

    for (size_t i = 0; i < at; i++)
        lineno += buf[i] == '\n' || buf[i] == '\0';
    TAIL_LOG(ctx, LFP_LOG_WARN,
             "state file %s:%zu: malformed entry, ignoring the state file "
             "and starting fresh",
             ctx->conf->db, lineno);
}

/* Parses every line of buf (NUL-terminated); on the first bad line logs
 * it and drops everything. */
static void tail_db_parse_all(struct tail_ctx *ctx, char *buf)
{
    char *line = buf;

    while (*line) {
        char *nl = strchr(line, '\n');
        struct tail_db_entry e;

        if (nl)
            *nl = '\0';
        if (line[0] != '#' && line[0] != '\0') {
            if (tail_db_parse(line, &e) != 0) {
                tail_db_corrupt(ctx, buf, (size_t)(line - buf));
                tail_db_clear(ctx);
                return;
            }
            tail_db_add(ctx, &e);
        }
        if (!nl)
            break;
        line = nl + 1;
    }
}

/* Reads the whole file into a NUL-terminated heap buffer (caller frees
 * with host->mem_free), or returns NULL after logging why. */
static char *tail_db_read(struct tail_ctx *ctx, int fd)
{
    const char *path = ctx->conf->db;
    struct stat st;
    size_t len = 0;
    char *buf;

    if (fstat(fd, &st) != 0 || st.st_size > TAIL_DB_MAX_BYTES) {
        TAIL_LOG(ctx, LFP_LOG_WARN,
                 "state file %s: unreadable or over 64M, starting fresh", path);
        return NULL;
    }
    buf = ctx->host->mem_alloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len < (size_t)st.st_size) {
        TAIL_LOG(ctx, LFP_LOG_WARN, "read state file %s: %s, starting fresh",
                 path, errno ? strerror(errno) : "short read");
        ctx->host->mem_free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        tail_db_corrupt(ctx, buf, strlen(buf));
        ctx->host->mem_free(buf);
        return NULL;
    }
    return buf;
}

void tail_db_load(struct tail_ctx *ctx)
{
    const char *path = ctx->conf->db;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;

    if (fd < 0) {
        if (errno == ENOENT)
            TAIL_LOG(ctx, LFP_LOG_INFO,
                     "state file %s does not exist yet: first start", path);
        else
            TAIL_LOG(ctx, LFP_LOG_WARN,
                     "open state file %s: %s, starting "
                     "fresh",
                     path, strerror(errno));
        return;
    }
    buf = tail_db_read(ctx, fd);
    (void)close(fd); /* read-only: nothing to lose */
    if (!buf)
        return;
    tail_db_parse_all(ctx, buf);
    ctx->host->mem_free(buf);
    TAIL_LOG(ctx, LFP_LOG_DEBUG, "state file %s: %zu entries", path, ctx->db.n);
}

struct tail_db_entry *tail_db_find(struct tail_db *db, uint64_t dev,
                                   uint64_t ino)
{
    for (size_t i = 0; i < db->n; i++)
        if (db->v[i].dev == dev && db->v[i].ino == ino)
            return &db->v[i];
    return NULL;
}

int tail_db_has_path(const struct tail_db *db, const char *path)
{
    for (size_t i = 0; i < db->n; i++)
        if (strcmp(db->v[i].path, path) == 0)
            return 1;
    return 0;
}

void tail_db_drop(struct tail_ctx *ctx, struct tail_db_entry *entry)
{
    struct tail_db *db = &ctx->db;
    size_t i = (size_t)(entry - db->v);

    ctx->host->mem_free(entry->path);
    memmove(&db->v[i], &db->v[i + 1], (db->n - i - 1) * sizeof(*db->v));
    db->n--;
}

void tail_db_clear(struct tail_ctx *ctx)
{
    for (size_t i = 0; i < ctx->db.n; i++)
        ctx->host->mem_free(ctx->db.v[i].path);
    ctx->host->mem_free(ctx->db.v);
    ctx->db.v = NULL;
    ctx->db.n = ctx->db.cap = 0;
}

/* Copies every file's commit offset for writing; marks the state clean. A
 * file that restarted at 0 with older chunks still in flight saves 0: its
 * old offset would point into the new content. */
static void tail_db_snapshot(struct tail_ctx *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nfiles; i++) {
        struct tail_file *f = ctx->files[i];

        f->saved_off = f->resets_pending ? 0 : f->committed;
    }
    ctx->is_dirty = 0;
    pthread_mutex_unlock(&ctx->lock);
}

static void tail_db_print(struct tail_ctx *ctx, FILE *fp)
{
    (void)fputs(TAIL_DB_HEADER, fp); /* errors surface through ferror() */
    for (size_t i = 0; i < ctx->nfiles; i++) {
        const struct tail_file *f = ctx->files[i];

        (void)fprintf(fp, "%llu %llu %u %016llx %llu ",
                      (unsigned long long)f->dev, (unsigned long long)f->ino,
                      f->fp_len, (unsigned long long)f->fp_hash,
                      (unsigned long long)f->saved_off);
        for (const char *p = f->path; *p; p++) {
            if (*p == '\\')
                (void)fputs("\\\\", fp);
            else if (*p == '\n')
                (void)fputs("\\n", fp);
            else
                (void)fputc(*p, fp);
        }
        (void)fputc('\n', fp);
    }
}

/* Makes the rename durable. */
static int tail_db_sync_dir(const char *path, struct lfp_err *err)
{
    char dir[PATH_MAX];
    int fd;
    int rc = LFP_OK;

    tail_db_dirname(path, dir, sizeof(dir));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tail_err_errno(err, LFP_ERR_IO, "open directory %s", dir);
    if (fsync(fd) != 0)
        rc = tail_err_errno(err, LFP_ERR_IO, "fsync directory %s", dir);
    (void)close(fd); /* read-only descriptor */
    return rc;
}

/* Writes PATH.tmp, fsyncs it and renames it over PATH. */
static int tail_db_write(struct tail_ctx *ctx, struct lfp_err *err)
{
    const char *path = ctx->conf->db;
    char tmp[PATH_MAX];
    FILE *fp;
    int rc = LFP_OK;

    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path); /* length checked */
    fp = fopen(tmp, "we");
    if (!fp)
        return tail_err_errno(err, LFP_ERR_IO, "write state file %s", tmp);
    tail_db_snapshot(ctx);
    tail_db_print(ctx, fp);
    if (ferror(fp) || fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        rc = tail_err_errno(err, LFP_ERR_IO, "write state file %s", tmp);
    if (fclose(fp) != 0 && rc == LFP_OK)
        rc = tail_err_errno(err, LFP_ERR_IO, "close state file %s", tmp);
    if (rc == LFP_OK && rename(tmp, path) != 0)
        rc = tail_err_errno(err, LFP_ERR_IO, "rename %s to %s", tmp, path);
    if (rc != LFP_OK) {
        (void)unlink(tmp); /* best effort: the next sync rewrites it */
        return rc;
    }
    return tail_db_sync_dir(path, err);
}

void tail_db_sync(struct tail_ctx *ctx, int is_forced)
{
    struct lfp_err err = {0};
    int64_t now = tail_now_ms();
    int is_dirty;

    if (!ctx->conf->db)
        return;
    pthread_mutex_lock(&ctx->lock);
    is_dirty = ctx->is_dirty;
    pthread_mutex_unlock(&ctx->lock);
    if (!is_forced &&
        (!is_dirty || now - ctx->last_sync_ms < ctx->conf->db_sync_interval_ms))
        return;
    ctx->last_sync_ms = now;
    if (tail_db_write(ctx, &err) != LFP_OK) {
        TAIL_LOG(ctx, LFP_LOG_WARN, "%s", err.msg);
        pthread_mutex_lock(&ctx->lock);
        ctx->is_dirty = 1;
        pthread_mutex_unlock(&ctx->lock);
    }
}
