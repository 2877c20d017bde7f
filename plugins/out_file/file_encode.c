/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_encode.c - chunk -> JSON lines (or raw lines), written in pieces of
 * about FILE_SPILL bytes: few write() calls, and a buffer whose size does
 * not follow the chunk's (a chunk's JSON is three times its raw size).
 */
#include "file_encode.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

const char *const file_format_names[] = {"json_lines", "raw", NULL};

static void file_buf_reserve(const struct lfp_host *host, struct file_buf *buf,
                             size_t need)
{
    if (buf->cap - buf->len >= need)
        return;
    while (buf->cap - buf->len < need)
        buf->cap = buf->cap ? buf->cap * 2 : 2 * FILE_SPILL;
    buf->data = host->mem_realloc(buf->data, buf->cap);
}

/* record_to_json answers 0 when the room left is below the record's bound:
 * grow and try again (the bound is finite, so this ends). */
static void file_encode_json(const struct lfp_host *host, struct file_buf *buf,
                             const struct lfp_record *rec)
{
    for (;;) {
        size_t room = buf->cap - buf->len;
        size_t n =
            room > 1 ? host->record_to_json(rec, buf->data + buf->len, room - 1)
                     : 0;
        if (n > 0) {
            buf->len += n;
            buf->data[buf->len++] = '\n';
            return;
        }
        file_buf_reserve(host, buf, room * 2 + 4096);
    }
}

/* Writes what buf holds to fd and empties it, adding to *bytes. */
static int file_buf_drain(struct file_buf *buf, int fd, size_t *bytes)
{
    int e = buf->len ? file_write_all(fd, buf->data, buf->len) : 0;

    if (e == 0) {
        *bytes += buf->len;
        buf->len = 0;
    }
    return e;
}

int file_write_chunk(const struct lfp_host *host, struct file_buf *buf, int fd,
                     const struct lfp_chunk *chunk, int format, size_t *bytes)
{
    *bytes = 0;
    buf->len = 0;
    for (uint32_t i = 0; i < chunk->nrecords; i++) {
        const struct lfp_record *rec = &chunk->records[i];
        if (rec->flags & LFP_REC_DROPPED)
            continue;
        if (format == FILE_FORMAT_RAW) {
            file_buf_reserve(host, buf, (size_t)rec->raw_len + 1);
            memcpy(buf->data + buf->len, rec->raw, rec->raw_len);
            buf->len += rec->raw_len;
            buf->data[buf->len++] = '\n';
        } else {
            file_encode_json(host, buf, rec);
        }
        if (buf->len >= FILE_SPILL) {
            int e = file_buf_drain(buf, fd, bytes);
            if (e != 0)
                return e;
        }
    }
    return file_buf_drain(buf, fd, bytes);
}

int file_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void file_buf_free(const struct lfp_host *host, struct file_buf *buf)
{
    host->mem_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
