/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values.h - typing a regex line's values: its named groups resolved once
 * (struct lf_parser_group) and a line's groups turned into fields in one
 * walk (values_groups.c).
 *
 * lf_parser_emit_str() checks every value for the time key and for room
 * in the record, then jumps on the key's type to its handler. An engine
 * that knows both per key at init, and reserves each line's fields up
 * front, can skip that per value: the walk reads the common forms inline
 * and calls a key's handler, taken once, for the rest.
 */
#ifndef LF_VALUES_H
#define LF_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"

typedef void (*lf_parser_emit_fn)(struct lf_parser_line *line,
                                  const struct lf_parser_key *k, const char *s,
                                  size_t n);

/* What to call with k's string values in place of lf_parser_emit_str()
 * once the caller has taken the time (lf_parser_take_time()): the handler
 * of k's type. It appends fields without checking for room: the caller
 * reserves lf_parser_emit_room(k) fields in the record for each value it
 * hands over. k must outlive the calls. Thread: any. */
lf_parser_emit_fn lf_parser_emit_value_fn(const struct lf_parser_key *k);

/* The fields a value of k may take from the room reserved for it:
 * lf_parser_key_nfields(k), and one more for a list type, whose array of
 * one attempt is taken from the end of that room (it lowers the record's
 * fields_cap). Thread: any. */
uint32_t lf_parser_emit_room(const struct lf_parser_key *k);

/* A named group of a regex, resolved once: its key and type handler,
 * and for the common types the fields its value becomes, built ahead
 * (names, key flags, types), so that a line's walk copies them and fills
 * in the value. Fields private to values_groups.c. */
#define LF_PARSER_GROUP_HEADS 3
struct lf_parser_group {
    uint32_t num; /* capture group number: its offsets are ov[2 num + 0/1] */
    uint8_t op;   /* values_groups.c: the inline path, or the handler */
    uint8_t nheads;
    uint8_t is_time_kept; /* the time key, with time_keep on */
    int64_t scale;        /* durations: ns per thousandth of the unit */
    uint64_t time_fmt_id; /* the time key: its first format's id */
    struct lf_parser_key key;
    lf_parser_emit_fn emit; /* key's type handler, without the time */
    struct lfp_field head[LF_PARSER_GROUP_HEADS];
};

/* Fills g for group number num, named name[0..name_len) (storage that
 * outlives the parser's use of g, as for lf_parser_key_init()).
 * Thread: start-up. */
void lf_parser_group_init(const struct lf_parser *p, struct lf_parser_group *g,
                          uint32_t num, const char *name, size_t name_len);

/* Adds the values of groups g[0..end - g) of a line: group k's value is
 * subject[ov[2 num]..ov[2 num + 1]), left out when its start is SIZE_MAX
 * (unset) or past its end. The caller reserved lf_parser_emit_room() of
 * each group's key in the record. The common forms of the common types
 * are read inline, in one walk, the rest by the type's handler; the
 * fields are what lf_parser_emit_str() would add, in group order.
 * Thread: a worker, with its line. */
void lf_parser_emit_groups(struct lf_parser_line *line,
                           const struct lf_parser_group *g,
                           const struct lf_parser_group *end,
                           const char *subject, const size_t *ov);

/* What lf_parser_walk_find() returns: a function that does what
 * lf_parser_emit_groups() does. */
typedef void (*lf_parser_walk_fn)(struct lf_parser_line *line,
                                  const struct lf_parser_group *g,
                                  const struct lf_parser_group *end,
                                  const char *subject, const size_t *ov);

/* The walk for the groups g[0..n) (by number, as lf_parser_group_init()
 * filled them): one unrolled for their sequence of types when there is
 * one (the built-in nginx_upstream's, numbered 1 to 17), else
 * lf_parser_emit_groups(). Thread: start-up. */
lf_parser_walk_fn lf_parser_walk_find(const struct lf_parser_group *g,
                                      size_t n);

#endif
