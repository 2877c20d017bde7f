/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instance.h - one configured plugin instance as the core sees it.
 *
 * struct lfp_instance is opaque to plugins; they pass it back to the host.
 * Counters are relaxed atomics bumped once per chunk (or by the plugin), so
 * no lock is taken on the per-line path.
 */
#ifndef LF_INSTANCE_H
#define LF_INSTANCE_H

#include <stdatomic.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_engine;

/* Counters the core keeps beside the plugin's own (enum lfp_counter). */
enum lf_core_counter {
    LF_CNT_PARSE_ERRORS = LFP_CNT__COUNT,
    LF_CNT_FILTERED, /* records removed by filters */
    LF_CNT_CHUNKS,   /* chunks handled */
    LF_CNT__COUNT
};

struct lfp_instance {
    int kind;        /* enum lfp_kind */
    const void *def; /* struct lfp_{input,filter,output}_def */
    char label[96];  /* "in_tail:0" or "in_tail:alias", for logs */
    void *conf;      /* filled from the option table */
    void *ctx;       /* the plugin's context from init */
    struct lf_engine *engine;
    int stop_fd; /* eventfd, readable once stopping */
    atomic_int stopping;
    atomic_uint_fast64_t counters[LF_CNT__COUNT];
};

/* The host table given to every plugin. */
extern const struct lfp_host lf_host;

/* Initialises the common part; label is "<kind>_<name>:<alias or index>". */
void lf_instance_init(struct lfp_instance *ins, int kind, const void *def,
                      const char *name, const char *alias, int index);
/* Marks it stopping and wakes whoever polls its stop_fd. */
void lf_instance_stop(struct lfp_instance *ins);
void lf_instance_fini(struct lfp_instance *ins);
uint64_t lf_instance_counter(const struct lfp_instance *ins, int counter);

#endif
