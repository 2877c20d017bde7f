/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser_int.h - the parser's private structures, shared by src/parser.c
 * (options, building, rules, the parse entry) and parsers/values/values.c
 * (turning values into typed fields). Engines use parser.h only.
 *
 * A rule is everything a definition says about one source key:
 *
 *   types   upstream_status:int_list
 *   rename  upstream_status:upstream.status_code/upstream.status_codes
 *   nested  json:envoy_json
 *   time_key
 *      -> rule { key "upstream_status", type INT_LIST,
 *                names { "upstream.status_code", "upstream.status_codes" } }
 *
 * Rules are found through an open-addressing hash of their keys, built
 * once; a key whose length no rule has is rejected by one bit test.
 */
#ifndef LF_PARSER_INT_H
#define LF_PARSER_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "parser.h"

#define LF_PARSER_NAMES 3 /* a value, its array or IP, a count or array */

struct lf_parser_rule {
    char *key;
    uint16_t key_len;
    uint8_t type;    /* enum lf_parser_type; LF_PT_NATIVE: renamed only */
    uint8_t is_time; /* the time_key */
    uint8_t unit;    /* durations and seconds: 0 s, 3 ms, 6 us, 9 ns */
    uint8_t has_type;
    int16_t sub; /* LF_PT_NESTED: index in the parser's subs */
    /* Output names; names[0] NULL means the key itself. An unused slot is
     * NULL. Owned. */
    char *names[LF_PARSER_NAMES];
    uint16_t name_lens[LF_PARSER_NAMES];
    /* LFP_FIELD_KEY_* of key and names: they live as long as the parser. */
    uint8_t key_flags;
    uint8_t name_flags[LF_PARSER_NAMES];
    char *rename; /* the rename target as written, until names are set */
};

/* Counters: the one part of a parser that workers write, kept apart so the
 * parser itself stays const for them. */
struct lf_parser_stats {
    atomic_uint_fast64_t parse_errors;
    atomic_uint_fast64_t conv_errors;
    atomic_uint_fast64_t time_errors;
};

struct lf_parser {
    char *name;
    int format; /* enum lf_parser_format */
    const struct lf_parser_engine *engine;
    void *ectx;
    char *time_key;
    uint16_t time_key_len;
    int time_keep;
    int ecs;
    struct lf_timefmt **tfs; /* time formats, tried in order */
    size_t ntfs;
    struct lf_parser_rule *rules;
    size_t nrules, rules_cap;
    uint32_t *hash; /* rule index + 1; 0: empty slot */
    size_t hash_mask;
    uint64_t key_len_mask;   /* bit min(len, 63) of every rule key */
    struct lf_parser **subs; /* parsers of nested values, owned */
    size_t nsubs;
    struct lf_parser_stats *stats;
};

struct lf_parser_worker {
    const struct lf_parser *p;
    void *ewctx;
    struct lf_timecache tc;
    struct lf_parser_worker **subs; /* one per p->subs */
};

/* values.c: the name of a type as written in types, and its unit; -1 when
 * unknown. */
int lf_parser_type_from_name(const char *name, uint8_t *unit);
/* How many output names the type uses (1 to LF_PARSER_NAMES). */
int lf_parser_type_names(int type);
/* Parses s[0..n) with the parser's time formats into the record's time.
 * Returns 1 when the field is done with (parsed, time_keep off), 0 when it
 * must still be added. */
int lf_parser_take_time(struct lf_parser_line *line, const char *s, size_t n);

#endif
