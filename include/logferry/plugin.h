/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin.h - the logferry plugin ABI: the only header a plugin includes.
 *
 * Built-in inputs, filters and outputs use exactly this ABI, and so does an
 * external output loaded from a shared object. A shared object exports one
 * symbol, `lfp_plugin_entry`, a `const struct lfp_plugin_entry`. The loader
 * checks `abi_version` (major must match, minor of the plugin <= ours) and
 * `struct_size` before it touches anything else.
 *
 * Data model (see docs/internals/chunks.md):
 *
 *   chunk ──► records[] ──► fields[] ──► values
 *     │         raw line points into the chunk's raw buffer
 *     └─ arena: every field array and parsed string of the chunk, freed in
 *        one step when every output has acknowledged the chunk.
 *
 * Nothing that outlives a chunk may point into it.
 *
 * Structs grow only at the end; any other change bumps the major version.
 * A definition built against an older minor version has a smaller
 * struct_size: the core reads a member only when struct_size covers it
 * (LFP_DEF_HAS).
 */
#ifndef LOGFERRY_PLUGIN_H
#define LOGFERRY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LFP_ABI_MAJOR 1
#define LFP_ABI_MINOR 2
#define LFP_ABI_VERSION ((LFP_ABI_MAJOR << 16) | LFP_ABI_MINOR)

#if defined(__GNUC__)
#define LFP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LFP_PRINTF(f, a)
#endif

/* ---- errors ----------------------------------------------------------- */

/* Result codes shared by the core and plugins. */
enum lfp_rc {
    LFP_OK = 0,
    LFP_ERR_NOMEM,
    LFP_ERR_CONFIG,
    LFP_ERR_IO,
    LFP_ERR_PARSE,
    LFP_ERR_AGAIN,
    LFP_ERR_STOPPED,
};

/* An error with the reason an operator needs. The first message wins. */
struct lfp_err {
    int rc;
    char msg[256];
};

/* ---- values, records, chunks ------------------------------------------ */

enum lfp_type {
    LFP_T_NULL = 0,
    LFP_T_STR,   /* v.s, n bytes, UTF-8 expected (escaped on output) */
    LFP_T_INT,   /* v.i */
    LFP_T_FLOAT, /* v.d */
    LFP_T_BOOL,  /* v.i: 0 or 1 */
    LFP_T_JSON,  /* v.s, n bytes of valid JSON text, written verbatim */
    LFP_T_ARRAY, /* v.arr, n elements (their keys are ignored) */
};

/* One typed value with its key. Keys and strings are not NUL-terminated:
 * use key_len and n. Strings point into the chunk (raw buffer or arena) or
 * into static storage (e.g. parser definitions for keys). */
struct lfp_field {
    const char *key;
    uint16_t key_len;
    uint8_t type;  /* enum lfp_type */
    uint8_t flags; /* LFP_FIELD_* */
    uint32_t n;    /* string length or array element count */
    union {
        const char *s;
        int64_t i;
        double d;
        const struct lfp_field *arr;
    } v;
};

/* Field flag: the string holds bytes that must be JSON-escaped. Cleared by
 * producers that know the string is plain printable ASCII without quotes or
 * backslashes; setting it is always safe. */
#define LFP_FIELD_ESCAPE 0x01
/* Field flags on the key, hints a producer may give; leaving them clear is
 * always safe. KEY_STABLE: the key's bytes stay at that address, unchanged,
 * while the pipeline runs (a parser definition's names, static storage),
 * so a consumer may recognise the key by its address. KEY_PLAIN: the key
 * is ASCII without bytes below 0x20, quotes or backslashes (no JSON
 * escaping). */
#define LFP_FIELD_KEY_STABLE 0x02
#define LFP_FIELD_KEY_PLAIN 0x04
/* Field flag on the key, a layout hint for the JSON writer; clear it when
 * the key changes. KEY_FRAMED (set with KEY_PLAIN): key_len is at most
 * 28, the two bytes before the key are ,\" and the two after it \": (the
 * key as JSON text, with its separator), and the 32 bytes from key - 2 may
 * all be read, so the writer copies them in one move. */
#define LFP_FIELD_KEY_FRAMED 0x08

/* Record flags. */
#define LFP_REC_PARSE_ERROR 0x01 /* no parser matched: raw line kept */
#define LFP_REC_TRUNCATED 0x02   /* line was longer than max_line_size */
#define LFP_REC_TIME_ERROR 0x04  /* time field did not parse: ts is now */
#define LFP_REC_DROPPED 0x08     /* a filter removed it; outputs skip it */
#define LFP_REC_PARTIAL 0x10     /* last line of a file without newline */

/* One log event. */
struct lfp_record {
    int64_t ts_ns;   /* event time, ns since the epoch, UTC */
    const char *raw; /* the line as read, no newline */
    uint32_t raw_len;
    uint32_t flags; /* LFP_REC_* */
    struct lfp_field *fields;
    uint32_t nfields;
    uint32_t fields_cap;
};

/* Sets every member of rec, as for a line just read: raw[0, len) (in its
 * chunk's raw buffer) with flags, no time, no fields. */
static inline void lfp_record_set_line(struct lfp_record *rec, const char *raw,
                                       uint32_t len, uint32_t flags)
{
    rec->ts_ns = 0;
    rec->raw = raw;
    rec->raw_len = len;
    rec->flags = flags;
    rec->fields = NULL;
    rec->nfields = 0;
    rec->fields_cap = 0;
}

struct lfp_chunk_core; /* private to the core */

/* A batch of records from one input, with the source range it covers.
 * Plugins read it; only the core creates and frees it. */
struct lfp_chunk {
    const char *tag;
    uint16_t tag_len;
    struct lfp_record *records;
    uint32_t nrecords;
    /* Source position, set by the input and returned to it on ack. */
    uint64_t pos_source; /* input-defined identity, e.g. a file slot */
    uint64_t pos_begin;  /* byte offset of the first line */
    uint64_t pos_end;    /* byte offset just after the last line */
    uint64_t pos_seq;    /* input-defined sequence number */
    struct lfp_chunk_core *core;
};

/* ---- options ---------------------------------------------------------- */

enum lfp_opt_type {
    LFP_OPT_STR = 1,  /* char *, owned by the core */
    LFP_OPT_INT,      /* int64_t */
    LFP_OPT_BOOL,     /* int: 0 or 1 (on/off, true/false, yes/no) */
    LFP_OPT_DOUBLE,   /* double */
    LFP_OPT_SIZE,     /* int64_t bytes: 512, 64K, 32M, 1G */
    LFP_OPT_DURATION, /* int64_t milliseconds: 250ms, 5s, 2m, 1h */
    LFP_OPT_ENUM,     /* int: index into enum_values */
    LFP_OPT_LIST,     /* struct lfp_list: comma- or space-separated words */
    LFP_OPT_REGEX,    /* char *: a PCRE2 pattern, compiled once to check it */
    LFP_OPT_PREFIX,   /* struct lfp_kvlist: every key starting with name */
};

#define LFP_OPT_REQUIRED 0x01
#define LFP_OPT_MULTI 0x02  /* may repeat: values collected in a lfp_list */
#define LFP_OPT_SECRET 0x04 /* never shown in logs, errors or dumps */

/* A list of owned strings. */
struct lfp_list {
    char **items;
    size_t n;
};

/* Key/value pairs collected by a LFP_OPT_PREFIX option (prefix removed). */
struct lfp_kvlist {
    char **keys;
    char **vals;
    size_t n;
};

/* One row of a plugin's option table; the table ends with a zeroed row. */
struct lfp_option {
    const char *name;
    int type;         /* enum lfp_opt_type */
    int flags;        /* LFP_OPT_* */
    const char *def;  /* default as the user would type it, or NULL */
    int64_t min, max; /* inclusive range for INT/SIZE/DURATION; 0,0: any */
    size_t offset;    /* where the value goes in the plugin's conf struct */
    const char *const *enum_values; /* NULL-terminated, for LFP_OPT_ENUM */
    const char *desc; /* whole sentences with units: the user docs */
};

/* ---- the host: what the core offers a plugin --------------------------- */

struct lfp_instance; /* one configured plugin instance, opaque */

enum lfp_log_level {
    LFP_LOG_ERROR = 0,
    LFP_LOG_WARN,
    LFP_LOG_INFO,
    LFP_LOG_DEBUG,
};

/* Counter names a plugin may bump; each is a metric of the instance. */
enum lfp_counter {
    LFP_CNT_RECORDS_IN = 0, /* lines an input read */
    LFP_CNT_RECORDS_OUT,    /* records an output delivered */
    LFP_CNT_BYTES_IN,       /* bytes an input read */
    LFP_CNT_BYTES_OUT,      /* bytes an output wrote */
    LFP_CNT_TRUNCATED,      /* lines cut at max_line_size */
    LFP_CNT_DROPPED,        /* records dropped, with a logged reason */
    LFP_CNT_RETRIES,        /* flushes that will be retried */
    LFP_CNT_ERRORS,         /* permanent failures */
    LFP_CNT_ROTATIONS,      /* files rotated (tail) */
    LFP_CNT__COUNT
};

/* Everything a plugin may call. Given to init; valid for the life of the
 * process. Unless said otherwise every function is thread-safe. */
struct lfp_host {
    uint32_t struct_size;

    /* Logs one line, prefixed with [kind_name:alias]. */
    void (*log)(struct lfp_instance *ins, int level, const char *fmt, ...)
        LFP_PRINTF(3, 4);
    /* Whether `level` is enabled: skip building expensive messages. */
    int (*log_enabled)(int level);
    /* Adds n to one of the instance's counters (lock-free). */
    void (*counter_add)(struct lfp_instance *ins, int counter, uint64_t n);
    /* Heap memory that never fails (out-of-memory aborts). */
    void *(*mem_alloc)(size_t n);
    void *(*mem_calloc)(size_t count, size_t size);
    void *(*mem_realloc)(void *p, size_t n);
    char *(*mem_strdup)(const char *s);
    void (*mem_free)(void *p); /* NULL is a no-op */

    /* -- inputs -- */
    /* Takes an empty chunk from the pool, its tag set to the instance's.
     * Blocks while the pipeline is full (back-pressure); returns NULL once
     * the instance must stop. */
    struct lfp_chunk *(*chunk_get)(struct lfp_instance *ins);
    /* Raw buffer capacity of the chunks this instance gets, in bytes. */
    size_t (*chunk_raw_cap)(struct lfp_instance *ins);
    /* The chunk's raw buffer and its capacity in bytes. */
    char *(*chunk_raw)(struct lfp_chunk *chunk, size_t *cap);
    /* Adds a record for raw[off, off+len) of the chunk's raw buffer. */
    void (*chunk_add_line)(struct lfp_chunk *chunk, uint32_t off, uint32_t len,
                           uint32_t rec_flags);
    /* Hands a filled chunk to the pipeline; the input's ack callback runs
     * (on some other thread) once every output has it. */
    void (*chunk_emit)(struct lfp_instance *ins, struct lfp_chunk *chunk);
    /* Returns an unused chunk to the pool; no ack follows. */
    void (*chunk_put)(struct lfp_instance *ins, struct lfp_chunk *chunk);
    /* A file descriptor that becomes readable when the instance must stop:
     * put it in your poll() set. */
    int (*stop_fd)(struct lfp_instance *ins);
    /* Whether the instance must stop now. */
    int (*is_stopping)(struct lfp_instance *ins);

    /* -- filters and outputs -- */
    /* Allocates n bytes in the chunk's arena (8-byte aligned), freed with
     * the chunk. Never NULL: aborts on out-of-memory. */
    void *(*chunk_alloc)(struct lfp_chunk *chunk, size_t n);
    /* Appends a field to rec, growing its array in the chunk's arena.
     * Returns the new field for the caller to fill (key and value). */
    struct lfp_field *(*record_add)(struct lfp_chunk *chunk,
                                    struct lfp_record *rec);
    /* Finds a field by key; NULL if absent. */
    const struct lfp_field *(*record_get)(const struct lfp_record *rec,
                                          const char *key, size_t key_len);
    /* Encodes a record as one JSON object (no newline) at the end of buf.
     * Returns bytes written, or 0 when it would not fit in cap. */
    size_t (*record_to_json)(const struct lfp_record *rec, char *buf,
                             size_t cap);

    /* -- since ABI 1.2 -- */
    /* Appends n records to an input's chunk and returns the first of them,
     * for the caller to fill each with lfp_record_set_line() before the
     * chunk goes on (their contents are undefined until then). The pointer
     * is valid until records are added again. One call for a batch of
     * lines instead of a chunk_add_line per line. */
    struct lfp_record *(*chunk_add_records)(struct lfp_chunk *chunk,
                                            uint32_t n);
};

/* ---- plugin definitions ----------------------------------------------- */

/* Reports one gauge from a plugin's stats callback: logferry_<name>, with
 * the label plugin="<instance>" and, when label_name is not NULL, one more
 * label label_name="label_value". help is one sentence for the HELP line.
 * name is snake_case with its unit (e.g. "tail_lag_bytes"). */
typedef void (*lfp_stat_fn)(void *arg, const char *name, const char *help,
                            const char *label_name, const char *label_value,
                            double value);

enum lfp_flush_rc {
    LFP_FLUSH_OK = 0, /* delivered: the chunk is acknowledged */
    LFP_FLUSH_RETRY,  /* transient failure: try the same chunk again later */
    LFP_FLUSH_ERROR,  /* permanent failure: never acceptable to the sink */
};

enum lfp_input_rc {
    LFP_INPUT_STOPPED = 0, /* the core asked to stop */
    LFP_INPUT_DONE,        /* no more data will come (e.g. exit_on_eof) */
    LFP_INPUT_FAILED,      /* a fatal error, already logged */
};

/* Fields every definition starts with. */
#define LFP_DEF_HEADER                                                         \
    uint32_t abi_version;                                                      \
    uint32_t struct_size;                                                      \
    const char *name;                                                          \
    const char *summary;                                                       \
    const struct lfp_option *options;                                          \
    size_t conf_size

struct lfp_input_def {
    LFP_DEF_HEADER;
    /* Cross-key rules, before anything starts. Optional. */
    int (*validate)(const void *conf, struct lfp_err *err);
    /* Creates the instance context. conf is filled and stays valid. */
    int (*init)(struct lfp_instance *ins, const struct lfp_host *host,
                const void *conf, void **ctx, struct lfp_err *err);
    /* The input's thread body; returns enum lfp_input_rc. */
    int (*run)(void *ctx);
    /* Every output has the chunk: the input may commit past it.
     * Thread: any output thread or a worker. */
    void (*ack)(void *ctx, const struct lfp_chunk *chunk);
    /* After run returned and all its chunks were acked or abandoned:
     * persist state and free everything. */
    void (*destroy)(void *ctx);
    /* Since ABI 1.1, optional: reports the instance's gauges through emit.
     * Thread: the HTTP server's, while the input runs: lock what you read. */
    void (*stats)(void *ctx, lfp_stat_fn emit, void *arg);
};

struct lfp_filter_def {
    LFP_DEF_HEADER;
    int (*validate)(const void *conf, struct lfp_err *err);
    int (*init)(struct lfp_instance *ins, const struct lfp_host *host,
                const void *conf, void **ctx, struct lfp_err *err);
    /* Per-worker scratch (match data and the like); optional. */
    void *(*worker_new)(void *ctx);
    void (*worker_free)(void *ctx, void *wctx);
    /* Runs on the chunk's records in place: it may change the records,
     * not the chunk. The core hands a chunk over a run of records at a
     * time (a view of it, with its tag and arena), so a chunk may take
     * several calls. Thread: a worker. */
    void (*filter)(void *ctx, void *wctx, struct lfp_chunk *chunk);
    void (*destroy)(void *ctx);
};

struct lfp_output_def {
    LFP_DEF_HEADER;
    int (*validate)(const void *conf, struct lfp_err *err);
    int (*init)(struct lfp_instance *ins, const struct lfp_host *host,
                const void *conf, void **ctx, struct lfp_err *err);
    /* Delivers a chunk; returns enum lfp_flush_rc. On ERROR or RETRY fill
     * err->msg with the reason. Thread: the output's own. */
    int (*flush)(void *ctx, const struct lfp_chunk *chunk, struct lfp_err *err);
    /* Called when the pipeline drains (shutdown); flush buffers. Optional. */
    int (*drain)(void *ctx, struct lfp_err *err);
    void (*destroy)(void *ctx);
    /* Since ABI 1.1, optional: as for inputs. Thread: the HTTP server's. */
    void (*stats)(void *ctx, lfp_stat_fn emit, void *arg);
};

enum lfp_kind {
    LFP_KIND_INPUT = 1,
    LFP_KIND_FILTER,
    LFP_KIND_OUTPUT,
};

/* What a shared object exports as `lfp_plugin_entry`. */
struct lfp_plugin_entry {
    uint32_t abi_version;
    uint32_t struct_size;
    int kind;        /* enum lfp_kind */
    const void *def; /* struct lfp_{input,filter,output}_def */
};

#define LFP_ENTRY_SYMBOL "lfp_plugin_entry"

/* Whether definition def (of type `type`) has member m set: its struct_size
 * covers m (it was built against a minor version that has m) and m is not
 * NULL. */
#define LFP_DEF_HAS(def, type, m)                                              \
    ((def)->struct_size >= offsetof(type, m) + sizeof((def)->m) && (def)->m)

#ifdef __cplusplus
}
#endif

#endif /* LOGFERRY_PLUGIN_H */
