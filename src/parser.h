/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.h - configured parsers: raw line -> typed record.
 *
 * A [parser] section (or a built-in definition from parsers/defs/) becomes
 * a struct lf_parser, immutable after lf_parser_new() and shared by every
 * worker. Each worker holds its own struct lf_parser_worker (PCRE2 match
 * data, JIT stack, time cache, JSON scratch) so parsing takes no locks and
 * allocates nothing per line: fields go into the chunk's arena and strings
 * point into the chunk's raw buffer where no unescaping is needed.
 *
 * Everything a definition says about a key (its type, its output names
 * after `rename`, whether it is the time, whether another parser reads it)
 * is folded into one rule per key at build time. Engines resolve a key to
 * a struct lf_parser_key once (regex: per group at init; JSON: per key,
 * through a hash of the rules) and hand values to lf_parser_emit_*(), which
 * only switch on the precomputed type: no name is looked up per value.
 *
 * Engines (parsers/<engine>/) implement struct lf_parser_engine; parser.c
 * holds the common part: option table, rules, type conversion, time.
 */
#ifndef LF_PARSER_H
#define LF_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

#include "timeutil.h"

/* The [parser] section, filled from lf_parser_options(). */
struct lf_parser_conf {
    char *name;
    int format;                  /* LF_PARSER_REGEX or LF_PARSER_JSON */
    char *regex;                 /* format regex: PCRE2 pattern, named groups */
    char *time_key;              /* field holding the event time, or NULL */
    struct lfp_list time_format; /* strftime-style, tried in order */
    int time_keep;               /* keep the time field in the record */
    struct lfp_list types;       /* "key:int", "key:int_list", ... */
    struct lfp_list rename;      /* "key:name[/name2[/name3]]" */
    int ecs;                     /* apply rename (on by default) */
    char *base;                  /* built-in definition this one extends */
    struct lfp_list nested;      /* "key:parser": values parsed again */
};

enum lf_parser_format {
    LF_PARSER_REGEX = 0,
    LF_PARSER_JSON = 1,
};

/* Conversion applied to a named field (the types option). */
enum lf_parser_type {
    LF_PT_STRING = 0,
    LF_PT_INT,
    LF_PT_FLOAT,
    LF_PT_BOOL,
    LF_PT_NATIVE,   /* not in types: strings stay strings, JSON values keep
                       their own type */
    LF_PT_OPTIONAL, /* a string; - or empty leaves the field out */
    LF_PT_UINT,     /* an int; negative (HAProxy's -1) becomes null */
    LF_PT_DURATION, /* a decimal in a unit -> int nanoseconds */
    LF_PT_SECONDS,  /* a decimal in a unit -> float seconds */
    LF_PT_INT_LIST, /* nginx "502, 504 : 200" -> last + array (+ count) */
    LF_PT_FLOAT_LIST,
    LF_PT_STR_LIST,
    LF_PT_ADDR,         /* an address, plus its IP when it is an IP literal */
    LF_PT_ADDR_LIST,    /* an X-Forwarded-For list: client, its IP, array */
    LF_PT_FLAGS,        /* "UF,URX" -> ["UF","URX"]; - leaves it out */
    LF_PT_HTTP_VERSION, /* "HTTP/1.1" -> "1.1"; - leaves it out */
    LF_PT_NESTED,       /* parsed again by another (built-in) parser */
};

struct lf_parser;        /* opaque */
struct lf_parser_worker; /* opaque, one per worker thread */
struct lf_parser_rule;   /* opaque: what a definition says about one key */

/* The option table of a [parser] section (zero-terminated). */
const struct lfp_option *lf_parser_options(void);
size_t lf_parser_conf_size(void);

/* Builds a parser from its conf (the parser copies what it keeps). Checks
 * the rules across keys: format regex needs regex (json takes none),
 * time_key and time_format go together, every types item is key:type with
 * a known type, rename gives as many names as the type emits, base and
 * nested name built-in definitions. Errors (bad regex with PCRE2's message
 * and offset, unknown type, bad time format) return LFP_ERR_CONFIG with
 * the reason naming the parser. Caller frees with lf_parser_free.
 * Thread: start-up. */
int lf_parser_new(const struct lf_parser_conf *conf, struct lf_parser **out,
                  struct lfp_err *err);
/* Builds the built-in definition `name` (parsers/defs/, compiled in).
 * LFP_ERR_CONFIG if there is none. Caller frees with lf_parser_free. */
int lf_parser_new_builtin(const char *name, struct lf_parser **out,
                          struct lfp_err *err);
void lf_parser_free(struct lf_parser *p); /* NULL is a no-op */
const char *lf_parser_name(const struct lf_parser *p);

/* Per-worker state. Caller frees with lf_parser_worker_free() before the
 * parser. Thread: the worker that uses it. */
struct lf_parser_worker *lf_parser_worker_new(const struct lf_parser *p);
void lf_parser_worker_free(struct lf_parser_worker *w); /* NULL: no-op */

/* Parses rec->raw into rec->fields (allocated in the chunk's arena) and sets
 * rec->ts_ns from the time field. A line that does not match gets
 * LFP_REC_PARSE_ERROR, keeps its raw text and no fields, gets ts_ns = now,
 * and the call returns LFP_ERR_PARSE; so does a line whose nested value
 * does not parse. A time field that does not parse leaves the field in the
 * record, sets LFP_REC_TIME_ERROR and rec->ts_ns to now; so does a
 * configured time_key missing from the line. Without a time_key, ts_ns is
 * now. Thread: a worker, with its own w. */
int lf_parser_parse(const struct lf_parser *p, struct lf_parser_worker *w,
                    struct lfp_chunk *chunk, struct lfp_record *rec);

/* Counters since the parser was built (relaxed atomics; any thread):
 * lines that did not parse, values of a types key that did not convert
 * (kept as strings), and records whose time did not parse or was missing. */
uint64_t lf_parser_parse_errors(const struct lf_parser *p);
uint64_t lf_parser_conv_errors(const struct lf_parser *p);
uint64_t lf_parser_time_errors(const struct lf_parser *p);

/* --- engine interface (parsers/regex, parsers/json) --- */

/* What the common part does with values of one key, resolved once per key
 * (at init for regex groups, per key for JSON). key is the output name
 * (after rename) and points to storage that outlives the records (the
 * parser, or the chunk's arena). */
struct lf_parser_key {
    const char *key;
    uint16_t key_len;
    uint8_t type;      /* enum lf_parser_type */
    uint8_t is_time;   /* the time_key: parsed into rec->ts_ns */
    uint8_t key_flags; /* LFP_FIELD_KEY_* of key */
    const struct lf_parser_rule *rule; /* further names, unit; or NULL */
};

/* One line being parsed, handed to the engine and back to the emit
 * functions. Engines read chunk and rec; the rest is parser.c's. */
struct lf_parser_line {
    const struct lf_parser *p;
    struct lf_parser_worker *w;
    struct lfp_chunk *chunk;
    struct lfp_record *rec;
    struct lf_timecache *tc;
    int has_time;         /* the time field was seen */
    int is_failed;        /* a nested value did not parse: a parse error */
    uint32_t conv_errors; /* added to the parser's counter at the end */
    uint32_t time_errors;
};

/* Fills k for key[0..key_len): its rule (type, output names) and whether
 * it is the time key. Stores key as given (no copy) when it is not
 * renamed. Cheap when the parser has no rules; one hash probe otherwise. */
void lf_parser_key_init(const struct lf_parser *p, struct lf_parser_key *k,
                        const char *key, size_t key_len);
/* How many fields values of k may add at most (list types add the array
 * and the count besides the value). */
uint32_t lf_parser_key_nfields(const struct lf_parser_key *k);

/* Adds the string value s[0..n) (pointing into rec->raw or the chunk's
 * arena: never copied) under k: converts it per its type ("-" and "" become
 * null for int, float, bool and durations; a value that does not convert
 * stays a string and counts), splits lists, or takes it as the time
 * (removed unless time_keep). */
void lf_parser_emit_str(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n);
/* Adds a JSON number given as its text: an int when it is integral and
 * fits, else a float; float in types turns ints into floats, string keeps
 * the text, other types convert the text as lf_parser_emit_str() does.
 * The time key takes it as %s-style text. */
void lf_parser_emit_num(struct lf_parser_line *line,
                        const struct lf_parser_key *k, const char *s, size_t n);
/* Sets f's type and value to the number in s[0..n): an int when it is
 * integral and fits, else a float. Returns 0, or -1 (f untouched) when s
 * is not a finite decimal number. For JSON array elements. */
int lf_parser_num_value(struct lfp_field *f, const char *s, size_t n);
/* Adds a field for a value of another kind (bool, null, array, JSON) for
 * the caller to fill; the time key taking such a value is a time error. */
struct lfp_field *lf_parser_emit(struct lf_parser_line *line,
                                 const struct lf_parser_key *k);

/* Engine callbacks. lf_parser_new() sets up the rules and the time key
 * before calling init, so init may call lf_parser_key_init(). */
struct lf_parser_engine {
    const char *name;
    int (*init)(struct lf_parser *p, const struct lf_parser_conf *conf,
                void **ectx, struct lfp_err *err);
    void *(*worker_new)(const void *ectx);
    void (*worker_free)(void *ewctx);
    /* Emits the line's fields through lf_parser_emit_*(). Returns LFP_OK or
     * LFP_ERR_PARSE (the caller then drops what was emitted). */
    int (*parse)(const void *ectx, void *ewctx, struct lf_parser_line *line);
    void (*destroy)(void *ectx);
};

extern const struct lf_parser_engine lf_parser_engine_regex;
extern const struct lf_parser_engine lf_parser_engine_json;

#endif
