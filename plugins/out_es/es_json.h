/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_json.h - just enough JSON reading for the server's answers (bulk
 * responses, GET /), without copying: every function takes a position in
 * a buffer [p, end) and returns positions in it.
 *
 * Values are located, not converted: a string is returned with its quotes
 * and escapes as the server wrote them, which is what the rejected-items
 * file wants (valid JSON, copied verbatim). Malformed input makes a
 * function return NULL, never read past end. Nesting is not recursive, so
 * depth costs nothing.
 */
#ifndef LF_OUT_ES_JSON_H
#define LF_OUT_ES_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Skips blanks; returns the first other byte's position (end if none). */
const char *es_json_ws(const char *p, const char *end);
/* Returns the position just past the value starting at p (after blanks),
 * or NULL if it is malformed or runs past end. */
const char *es_json_skip(const char *p, const char *end);
/* p is at an object (blanks allowed). Returns the start of the value of
 * member key (compared byte for byte with the key as written), or NULL
 * when it is absent or the object is malformed. */
const char *es_json_get(const char *p, const char *end, const char *key);
/* p is at an object: the value of its first member, and that member's key
 * (without quotes) in key/key_len. NULL if empty or malformed. */
const char *es_json_first(const char *p, const char *end, const char **key,
                          size_t *key_len);
/* p is at an array: its first element, or NULL if empty or malformed. */
const char *es_json_elem_first(const char *p, const char *end);
/* elem is an element: the next one in the same array, or NULL after the
 * last one (or on malformed input). */
const char *es_json_elem_next(const char *elem, const char *end);
/* Reads an integer at p. Returns 0 and *out, or -1. */
int es_json_int(const char *p, const char *end, int64_t *out);
/* Whether the value at p is the literal true. */
int es_json_is_true(const char *p, const char *end);
/* A string value at p: its bytes between the quotes (escapes kept) in
 * s/n. Returns 0, or -1 if p is not a string. */
int es_json_str(const char *p, const char *end, const char **s, size_t *n);

#endif
