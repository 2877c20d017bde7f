/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_encode.h - turning a chunk into newline-delimited text, shared by
 * the file and stdout outputs.
 */
#ifndef LF_OUT_FILE_ENCODE_H
#define LF_OUT_FILE_ENCODE_H

#include <stddef.h>

#include <logferry/plugin.h>

enum file_format {
    FILE_FORMAT_JSON_LINES = 0,
    FILE_FORMAT_RAW, /* the line as read */
};

extern const char *const file_format_names[];

/* A growable buffer reused across chunks by one output thread. */
struct file_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Bytes encoded before they are written. */
#define FILE_SPILL ((size_t)256 << 10)

/* Writes the chunk's live records to fd, one per line, through buf (its
 * content is replaced). Sets *bytes to the bytes written. Returns 0, or
 * an errno value when a write failed (part of the chunk may be written). */
int file_write_chunk(const struct lfp_host *host, struct file_buf *buf, int fd,
                     const struct lfp_chunk *chunk, int format, size_t *bytes);
/* Writes all of data to fd (retrying short writes and EINTR). Returns 0, or
 * an errno value. */
int file_write_all(int fd, const char *data, size_t len);
void file_buf_free(const struct lfp_host *host, struct file_buf *buf);

#endif
