/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_out.h - records to JSON text, fast and always valid.
 *
 * Every string is escaped per RFC 8259; bytes that are not valid UTF-8 are
 * written as U+FFFD so the output stays valid JSON whatever the input held.
 * No allocation: the caller gives a buffer of at least
 * lf_json_record_bound() bytes.
 */
#ifndef LF_JSON_OUT_H
#define LF_JSON_OUT_H

#include <stddef.h>

#include <logferry/plugin.h>

/* Largest number of bytes lf_json_record() can write for rec. */
size_t lf_json_record_bound(const struct lfp_record *rec);
/* Writes rec as one JSON object (no newline) to buf; returns the length.
 * buf must hold lf_json_record_bound(rec) bytes. */
size_t lf_json_record(const struct lfp_record *rec, char *buf);
/* Whether s[0..n) goes into a JSON string as it is: ASCII without bytes
 * below 0x20, '"' or '\\' (what LFP_FIELD_KEY_PLAIN promises). */
int lf_json_plain(const char *s, size_t n);
/* Writes s[0..n) as a JSON string with quotes; buf must hold 6*n+2 bytes.
 * Returns the length. */
size_t lf_json_string(const char *s, size_t n, char *buf);
/* The host's record_to_json: writes like lf_json_record(), or returns 0
 * when the record may not fit in cap bytes (lf_json_record_bound() always
 * is enough). */
size_t lf_json_record_cap(const struct lfp_record *rec, char *buf, size_t cap);

#endif
