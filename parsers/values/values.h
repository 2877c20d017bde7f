/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values.h - a key's emit function, for an engine that resolves its keys
 * once and calls the function per value (the regex engine).
 *
 * lf_parser_emit_str() checks every value for the time key and for room
 * in the record, then jumps on the key's type to its handler. An engine
 * that knows both per key at init, and reserves each line's fields up
 * front, can skip that per value: it takes the function once and calls
 * it directly.
 */
#ifndef LF_VALUES_H
#define LF_VALUES_H

#include <stddef.h>

#include "parser.h"

typedef void (*lf_parser_emit_fn)(struct lf_parser_line *line,
                                  const struct lf_parser_key *k, const char *s,
                                  size_t n);

/* What to call with k's string values in place of lf_parser_emit_str():
 * the handler of k's type, or for the time key one that takes the time
 * first. The handler appends fields without checking for room: the caller
 * reserves lf_parser_emit_room(k) fields in the record for each value it
 * hands over. k must outlive the calls. Thread: any. */
lf_parser_emit_fn lf_parser_emit_str_fn(const struct lf_parser_key *k);

/* The fields a value of k may take from the room reserved for it:
 * lf_parser_key_nfields(k), and one more for a list type, whose array of
 * one attempt is taken from the end of that room (it lowers the record's
 * fields_cap). Thread: any. */
uint32_t lf_parser_emit_room(const struct lf_parser_key *k);

#endif
