/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.c - the disk buffer folder of one output (see storage.h).
 *
 * The queue is an array of (id, bytes) used from head on; the live part
 * slides down when the array must grow. Ids only grow, so the order of the
 * files is the order of their names, also after a restart.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "storage_codec.h"

struct storage_entry {
    uint64_t id;
    uint64_t bytes;
};

struct lf_storage {
    char *dir;
    char label[96];
    int dir_fd;
    pthread_mutex_t lock;
    struct storage_entry *q;
    size_t head, n, cap;
    uint64_t next_id;  /* of the next chunk put last; grows */
    uint64_t front_id; /* of the next chunk put first; shrinks */
    uint64_t bytes;
    uint64_t corrupt;
    int is_sync_full;
};

static void storage_path(const struct lf_storage *st, uint64_t id,
                         const char *ext, char *buf, size_t cap)
{
    (void)snprintf(buf, cap, "%s/%016" PRIx64 ".%s", st->dir, id, ext);
}

/* mkdir -p */
static int storage_mkdirs(const char *dir, struct lfp_err *err)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(tmp))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "storage path '%s': bad "
                          "length",
                          dir);
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1;; p++) {
        int end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
            return lf_err_errno(err, LFP_ERR_IO, "mkdir %s", tmp);
        if (end)
            break;
        *p = '/';
    }
    return LFP_OK;
}

static void storage_push(struct lf_storage *st, uint64_t id, uint64_t bytes)
{
    if (st->head + st->n == st->cap) {
        if (st->head > 0) {
            memmove(st->q, st->q + st->head, st->n * sizeof(*st->q));
            st->head = 0;
        }
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 64;
            st->q = lf_realloc(st->q, st->cap * sizeof(*st->q));
        }
    }
    st->q[st->head + st->n].id = id;
    st->q[st->head + st->n].bytes = bytes;
    st->n++;
    st->bytes += bytes;
}

static int storage_cmp(const void *a, const void *b)
{
    const struct storage_entry *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Moves file name (in the folder) to corrupt/. Locks: none needed. */
static void storage_move_aside(struct lf_storage *st, const char *name,
                               const char *why)
{
    char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];

    (void)snprintf(dir, sizeof(dir), "%s/corrupt", st->dir);
    (void)snprintf(from, sizeof(from), "%s/%s", st->dir, name);
    (void)snprintf(to, sizeof(to), "%s/%s", dir, name);
    if ((mkdir(dir, 0750) < 0 && errno != EEXIST) || rename(from, to) < 0) {
        lf_log_error(st->label,
                     "chunk file %s is corrupt (%s) and cannot be "
                     "set aside (%s): deleting it",
                     from, why, strerror(errno));
        (void)unlink(from);
    } else {
        lf_log_error(st->label, "chunk file %s is corrupt (%s): moved to %s",
                     from, why, to);
    }
    pthread_mutex_lock(&st->lock);
    st->corrupt++;
    pthread_mutex_unlock(&st->lock);
}

/* Handles one directory entry found at open. */
static void storage_scan_one(struct lf_storage *st, const char *name)
{
    char path[PATH_MAX], *end;
    size_t len = strlen(name);
    struct stat sb;
    uint64_t id;

    if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
        /* Never renamed, so never acknowledged: its input re-reads it. */
        (void)snprintf(path, sizeof(path), "%s/%s", st->dir, name);
        (void)unlink(path);
        return;
    }
    if (len != 20 || strcmp(name + 16, ".lfc") != 0)
        return;
    errno = 0;
    id = strtoull(name, &end, 16);
    if (errno || end != name + 16)
        return;
    (void)snprintf(path, sizeof(path), "%s/%s", st->dir, name);
    if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
        return;
    if (sb.st_size < LF_STORAGE_HEADER) {
        storage_move_aside(st, name, "truncated: shorter than a header");
        return;
    }
    storage_push(st, id, (uint64_t)sb.st_size);
    if (id >= st->next_id)
        st->next_id = id + 1;
}

static int storage_scan(struct lf_storage *st, struct lfp_err *err)
{
    DIR *d = opendir(st->dir);
    struct dirent *de;

    if (!d)
        return lf_err_errno(err, LFP_ERR_IO, "open %s", st->dir);
    while ((de = readdir(d)) != NULL)
        storage_scan_one(st, de->d_name);
    (void)closedir(d);
    if (st->n > 1)
        qsort(st->q + st->head, st->n, sizeof(*st->q), storage_cmp);
    return LFP_OK;
}

int lf_storage_open(const char *dir, const char *label, struct lf_storage **out,
                    struct lfp_err *err)
{
    struct lf_storage *st;

    if (storage_mkdirs(dir, err) != LFP_OK)
        return LFP_ERR_IO;
    st = lf_calloc(1, sizeof(*st));
    st->dir = lf_strdup(dir);
    (void)snprintf(st->label, sizeof(st->label), "%s", label);
    st->next_id = UINT64_C(1) << 32;
    st->is_sync_full = 1;
    pthread_mutex_init(&st->lock, NULL);
    st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dir_fd < 0 || storage_scan(st, err) != LFP_OK) {
        if (st->dir_fd < 0)
            lf_err_errno(err, LFP_ERR_IO, "open %s", dir);
        lf_storage_free(st);
        return LFP_ERR_IO;
    }
    /* Below every id queued or handed out: front ids never collide with
     * a chunk the spill side is writing. */
    st->front_id = (st->n ? st->q[st->head].id : st->next_id) - 1;
    if (st->n)
        lf_log_info(st->label,
                    "%zu chunks (%" PRIu64 " bytes) buffered on "
                    "disk in %s: delivering them first",
                    st->n, st->bytes, dir);
    *out = st;
    return LFP_OK;
}

void lf_storage_free(struct lf_storage *st)
{
    if (!st)
        return;
    if (st->dir_fd >= 0)
        (void)close(st->dir_fd);
    pthread_mutex_destroy(&st->lock);
    lf_free(st->q);
    lf_free(st->dir);
    lf_free(st);
}

static int storage_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes data as file id: tmp, fsync, rename, fsync the folder. */
static int storage_write(struct lf_storage *st, uint64_t id, const void *data,
                         size_t len, struct lfp_err *err)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    int fd;

    storage_path(st, id, "tmp", tmp, sizeof(tmp));
    storage_path(st, id, "lfc", path, sizeof(path));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return lf_err_errno(err, LFP_ERR_IO, "create %s", tmp);
    if (storage_write_all(fd, data, len) < 0 ||
        (st->is_sync_full && fsync(fd) < 0)) {
        lf_err_errno(err, LFP_ERR_IO, "write %s", tmp);
        (void)close(fd);
        (void)unlink(tmp);
        return LFP_ERR_IO;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        lf_err_errno(err, LFP_ERR_IO, "rename %s", tmp);
        (void)unlink(tmp);
        return LFP_ERR_IO;
    }
    if (st->is_sync_full && fsync(st->dir_fd) < 0)
        return lf_err_errno(err, LFP_ERR_IO, "fsync %s", st->dir);
    return LFP_OK;
}

void lf_storage_set_sync(struct lf_storage *st, int is_full)
{
    st->is_sync_full = is_full;
}

int lf_storage_put(struct lf_storage *st, const void *data, size_t len,
                   struct lfp_err *err)
{
    uint64_t id;

    pthread_mutex_lock(&st->lock);
    id = st->next_id++;
    pthread_mutex_unlock(&st->lock);
    if (storage_write(st, id, data, len, err) != LFP_OK)
        return LFP_ERR_IO;
    pthread_mutex_lock(&st->lock);
    storage_push(st, id, len);
    pthread_mutex_unlock(&st->lock);
    return LFP_OK;
}

int lf_storage_put_front(struct lf_storage *st, const void *data, size_t len,
                         struct lfp_err *err)
{
    uint64_t id;

    pthread_mutex_lock(&st->lock);
    id = st->front_id;
    if (id > 0)
        st->front_id--;
    pthread_mutex_unlock(&st->lock);
    if (id == 0)
        return lf_err_set(err, LFP_ERR_IO,
                          "%s: no id left before the "
                          "oldest chunk",
                          st->dir);
    if (storage_write(st, id, data, len, err) != LFP_OK)
        return LFP_ERR_IO;
    pthread_mutex_lock(&st->lock);
    if (st->head == 0) {
        storage_push(st, id, len); /* makes room, then moves it first */
        memmove(st->q + 1, st->q, (st->n - 1) * sizeof(*st->q));
        st->q[0].id = id;
        st->q[0].bytes = len;
    } else {
        st->head--;
        st->q[st->head].id = id;
        st->q[st->head].bytes = len;
        st->n++;
        st->bytes += len;
    }
    pthread_mutex_unlock(&st->lock);
    return LFP_OK;
}

int lf_storage_head(struct lf_storage *st, uint64_t *id)
{
    int has;

    pthread_mutex_lock(&st->lock);
    has = st->n > 0;
    if (has)
        *id = st->q[st->head].id;
    pthread_mutex_unlock(&st->lock);
    return has;
}

int lf_storage_load(struct lf_storage *st, uint64_t id, char **buf, size_t *cap,
                    size_t *len, struct lfp_err *err)
{
    char path[PATH_MAX];
    struct stat sb;
    size_t got = 0;
    int fd;

    storage_path(st, id, "lfc", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        lf_err_errno(err, LFP_ERR_IO, "open %s", path);
        if (fd >= 0)
            (void)close(fd);
        return LFP_ERR_IO;
    }
    if (*cap < (size_t)sb.st_size + 1) {
        *cap = (size_t)sb.st_size + 1;
        lf_free(*buf);
        *buf = lf_malloc(*cap);
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    (void)close(fd);
    *len = got;
    return LFP_OK;
}

/* Pops the head if it is id; returns 1 if it did. */
static int storage_pop(struct lf_storage *st, uint64_t id)
{
    int popped = 0;

    pthread_mutex_lock(&st->lock);
    if (st->n > 0 && st->q[st->head].id == id) {
        st->bytes -= st->q[st->head].bytes;
        st->head++;
        st->n--;
        if (st->n == 0)
            st->head = 0;
        popped = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return popped;
}

void lf_storage_drop(struct lf_storage *st, uint64_t id)
{
    char path[PATH_MAX];

    storage_path(st, id, "lfc", path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT)
        lf_log_error(st->label,
                     "delete %s: %s (it will be sent again on "
                     "the next start)",
                     path, strerror(errno));
    (void)storage_pop(st, id);
}

void lf_storage_set_aside(struct lf_storage *st, uint64_t id, const char *why)
{
    char name[32];

    (void)snprintf(name, sizeof(name), "%016" PRIx64 ".lfc", id);
    storage_move_aside(st, name, why);
    (void)storage_pop(st, id);
}

size_t lf_storage_count(struct lf_storage *st)
{
    size_t n;

    pthread_mutex_lock(&st->lock);
    n = st->n;
    pthread_mutex_unlock(&st->lock);
    return n;
}

uint64_t lf_storage_bytes(struct lf_storage *st)
{
    uint64_t n;

    pthread_mutex_lock(&st->lock);
    n = st->bytes;
    pthread_mutex_unlock(&st->lock);
    return n;
}

uint64_t lf_storage_corrupt(struct lf_storage *st)
{
    uint64_t n;

    pthread_mutex_lock(&st->lock);
    n = st->corrupt;
    pthread_mutex_unlock(&st->lock);
    return n;
}
