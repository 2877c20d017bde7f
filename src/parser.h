/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.h - configured parsers: raw line -> typed record.
 *
 * A [parser] section (or a built-in definition) becomes a struct lf_parser,
 * immutable after lf_parser_new() and shared by every worker. Each worker
 * holds its own struct lf_parser_worker (PCRE2 match data, JIT stack, time
 * cache, JSON scratch) so parsing takes no locks and allocates nothing per
 * line: fields go into the chunk's arena and strings point into the chunk's
 * raw buffer where no unescaping is needed.
 *
 * Engines (parsers/<engine>/) implement struct lf_parser_engine; parser.c
 * holds the common part: option table, type conversion, time extraction.
 */
#ifndef LF_PARSER_H
#define LF_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_timefmt;

/* The [parser] section, filled from lf_parser_options(). */
struct lf_parser_conf {
    char *name;
    int format;             /* LF_PARSER_REGEX or LF_PARSER_JSON */
    char *regex;            /* format regex: PCRE2 pattern, named groups */
    char *time_key;         /* field holding the event time, or NULL */
    char *time_format;      /* strftime-style, see timeutil.h */
    int time_keep;          /* keep the time field in the record */
    struct lfp_list types;  /* "key:int", "key:float", "key:bool", ... */
};

enum lf_parser_format {
    LF_PARSER_REGEX = 0,
    LF_PARSER_JSON = 1,
};

/* Conversion applied to a named field. */
enum lf_parser_type {
    LF_PT_STRING = 0,
    LF_PT_INT,
    LF_PT_FLOAT,
    LF_PT_BOOL,
};

struct lf_parser;        /* opaque */
struct lf_parser_worker; /* opaque, one per worker thread */

/* The option table of a [parser] section (zero-terminated). */
const struct lfp_option *lf_parser_options(void);
size_t lf_parser_conf_size(void);

/* Builds a parser from its conf (the parser copies what it keeps). Errors
 * (bad regex with PCRE2's message and offset, unknown type, bad time format)
 * return LFP_ERR_CONFIG with the reason. Caller frees with lf_parser_free. */
int lf_parser_new(const struct lf_parser_conf *conf, struct lf_parser **out,
                  struct lfp_err *err);
void lf_parser_free(struct lf_parser *p);
const char *lf_parser_name(const struct lf_parser *p);

/* Per-worker state. Caller frees with lf_parser_worker_free(). */
struct lf_parser_worker *lf_parser_worker_new(const struct lf_parser *p);
void lf_parser_worker_free(struct lf_parser_worker *w);

/* Parses rec->raw into rec->fields (allocated in the chunk's arena) and sets
 * rec->ts_ns from the time field. A line that does not match gets
 * LFP_REC_PARSE_ERROR, keeps its raw text and no fields, and the call
 * returns LFP_ERR_PARSE. A time field that does not parse leaves the field
 * in the record, sets LFP_REC_TIME_ERROR and rec->ts_ns to now.
 * Thread: a worker, with its own w. */
int lf_parser_parse(const struct lf_parser *p, struct lf_parser_worker *w,
                    struct lfp_chunk *chunk, struct lfp_record *rec);

/* --- engine interface (parsers/regex, parsers/json) --- */

/* Engine callbacks. emit_field() in parser.c applies types and the time key;
 * engines call it for each extracted (key, value) pair. */
struct lf_parser_engine {
    const char *name;
    int (*init)(struct lf_parser *p, const struct lf_parser_conf *conf,
                void **ectx, struct lfp_err *err);
    void *(*worker_new)(const void *ectx);
    void (*worker_free)(void *ewctx);
    /* Returns LFP_OK or LFP_ERR_PARSE. */
    int (*parse)(const struct lf_parser *p, const void *ectx, void *ewctx,
                 struct lfp_chunk *chunk, struct lfp_record *rec);
    void (*destroy)(void *ectx);
};

extern const struct lf_parser_engine lf_parser_engine_regex;
extern const struct lf_parser_engine lf_parser_engine_json;

#endif
