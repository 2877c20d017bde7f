/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_codec.h - a chunk as the bytes of one disk-buffer file, and back.
 *
 * A file is a 32-byte header and a zstd frame (all integers little-endian):
 *
 *   0  "LFCK"             magic
 *   4  u16 version (1)    6  u16 header size (32)
 *   8  u32 payload bytes (compressed)
 *  12  u32 raw bytes (decompressed)
 *  16  u32 records       20  u32 CRC32C of the compressed payload
 *  24  u32 CRC32C of bytes 0..23      28  u32 zero
 *
 * The decompressed payload keeps everything an output needs to rebuild the
 * records exactly, types included:
 *
 *   u16 tag length, tag
 *   u32 key count, per key: u16 length, bytes    (the chunk's key table)
 *   u32 record count
 *   per record: i64 ts_ns, u32 flags, u32 raw length, raw line,
 *               u32 field count, fields
 *   field:      u16 key index (0xffff: u16 length + key bytes follow),
 *               u8 type, u8 flags, value
 *   value:      STR/JSON u32 n, u32 offset in the record's raw line
 *               (0xffffffff: n bytes follow); INT/BOOL i64; FLOAT f64
 *               bits; NULL nothing; ARRAY u32 n + n fields (depth <= 16)
 *
 * Keys are stored once per chunk and strings that a parser cut out of the
 * raw line are stored as offsets into it: half the bytes to compress.
 * Records dropped by filters are not stored. Input positions are not
 * stored either: a chunk on disk was already acknowledged to its input.
 * Thread: a codec belongs to one thread; encoding and decoding are pure.
 */
#ifndef LF_STORAGE_CODEC_H
#define LF_STORAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "err.h"

#define LF_STORAGE_MAGIC "LFCK"
#define LF_STORAGE_VERSION 1
#define LF_STORAGE_HEADER 32
/* Largest decompressed payload accepted from a file (corruption guard). */
#define LF_STORAGE_MAX_RAW (UINT32_C(1) << 30)

struct lf_storage_codec; /* zstd contexts and scratch buffers */

/* zstd level 1..19 (1 is fastest). Caller frees with
 * lf_storage_codec_free(). */
struct lf_storage_codec *lf_storage_codec_new(int level);
void lf_storage_codec_free(struct lf_storage_codec *codec); /* NULL: no-op */

/* Encodes the live records of chunk as a whole file image. *data is
 * borrowed from the codec until its next call; *nrecords is the number of
 * records stored (0 still makes a valid file). */
int lf_storage_encode(struct lf_storage_codec *codec,
                      const struct lfp_chunk *chunk, const void **data,
                      size_t *len, uint32_t *nrecords,
                      struct lfp_err *err) LF_MUST_CHECK;

/* Checks a file image (header, lengths, both checksums, zstd frame) and
 * rebuilds its records into chunk, which the caller created with
 * lf_chunk_new() and reset: the raw buffer is grown to hold the payload,
 * and records and fields point into it. LFP_ERR_PARSE with the reason when
 * the image is corrupt or truncated. */
int lf_storage_decode(struct lf_storage_codec *codec, const void *data,
                      size_t len, struct lfp_chunk *chunk,
                      struct lfp_err *err) LF_MUST_CHECK;

#endif
