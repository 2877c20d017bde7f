/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_file.c - opening followed files and fingerprinting them.
 *
 * The fingerprint is what tells a reused inode from the file the state
 * file remembers; it grows with the file until it covers 1024 bytes.
 */
#include "tail_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tail_watch.h"

#define TAIL_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define TAIL_FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t tail_file_fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= TAIL_FNV_PRIME;
    }
    return h;
}

/* Hashes the first len bytes of fd; -1 if the file is shorter. */
static int tail_file_hash(int fd, uint32_t len, uint64_t *hash)
{
    unsigned char buf[TAIL_FP_BYTES];
    unsigned char len_le[4];
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    for (int i = 0; i < 4; i++)
        len_le[i] = (unsigned char)(len >> (8 * i));
    *hash = tail_file_fnv(tail_file_fnv(TAIL_FNV_OFFSET, buf, len), len_le,
                          sizeof(len_le));
    return 0;
}

void tail_file_fingerprint(struct tail_file *f, uint64_t size)
{
    uint32_t len = size < TAIL_FP_BYTES ? (uint32_t)size : TAIL_FP_BYTES;

    /* A file that shrank under us hashes as empty until it grows again. */
    if (tail_file_hash(f->fd, len, &f->fp_hash) != 0) {
        len = 0;
        (void)tail_file_hash(f->fd, 0, &f->fp_hash); /* cannot fail */
    }
    f->fp_len = len;
}

int tail_file_matches(const struct tail_file *f, uint32_t fp_len,
                      uint64_t fp_hash)
{
    uint64_t hash;

    if (fp_len > TAIL_FP_BYTES || tail_file_hash(f->fd, fp_len, &hash) != 0)
        return 0;
    return hash == fp_hash;
}

/* fstat on fd, refusing anything but a regular file. */
static int tail_file_stat(int fd, const char *path, struct stat *st,
                          struct lfp_err *err)
{
    if (fstat(fd, st) != 0)
        return tail_err_errno(err, LFP_ERR_IO, "stat %s", path);
    if (!S_ISREG(st->st_mode))
        return tail_err_set(err, LFP_ERR_IO, "%s: not a regular file", path);
    return LFP_OK;
}

int tail_file_open(struct tail_ctx *ctx, const char *path,
                   struct tail_file **out, struct lfp_err *err)
{
    struct tail_file *f;
    struct stat st;
    int fd;

    /* O_NONBLOCK: a FIFO matched by mistake must not hang the thread. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return tail_err_errno(err, LFP_ERR_IO, "open %s", path);
    if (tail_file_stat(fd, path, &st, err) != LFP_OK) {
        (void)close(fd); /* read-only, never used */
        return err->rc;
    }
    f = ctx->host->mem_calloc(1, sizeof(*f));
    f->path = ctx->host->mem_strdup(path);
    f->fd = fd;
    f->wd = -1;
    f->slot = ++ctx->next_slot;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->last_data_ms = tail_now_ms();
    tail_file_fingerprint(f, (uint64_t)st.st_size);
    *out = f;
    return LFP_OK;
}

void tail_file_free(struct tail_ctx *ctx, struct tail_file *f)
{
    if (!f)
        return;
    tail_watch_forget(ctx, f);
    if (f->fd >= 0)
        (void)close(f->fd); /* read-only: close cannot lose data */
    ctx->host->mem_free(f->inflight);
    ctx->host->mem_free(f->carry);
    ctx->host->mem_free(f->path);
    ctx->host->mem_free(f);
}
