/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host.c - the lfp_host table: what the core offers every plugin.
 *
 * Most entries forward to a core module; chunk_get/chunk_emit/chunk_put
 * belong to the engine (engine.c), which owns the chunk pool.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "chunk.h"
#include "engine.h"
#include "instance.h"
#include "json_out.h"
#include "log.h"
#include "mem.h"

void lf_instance_init(struct lfp_instance *ins, int kind, const void *def,
                      const char *name, const char *alias, int index)
{
    static const char *const prefix[] = {"", "in", "filter", "out"};

    memset(ins, 0, sizeof(*ins));
    ins->kind = kind;
    ins->def = def;
    if (alias)
        (void)snprintf(ins->label, sizeof(ins->label), "%s_%s:%s", prefix[kind],
                       name, alias);
    else
        (void)snprintf(ins->label, sizeof(ins->label), "%s_%s:%d", prefix[kind],
                       name, index);
    ins->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    atomic_init(&ins->stopping, 0);
    for (int i = 0; i < LF_CNT__COUNT; i++)
        atomic_init(&ins->counters[i], 0);
}

void lf_instance_stop(struct lfp_instance *ins)
{
    uint64_t one = 1;

    atomic_store(&ins->stopping, 1);
    if (ins->stop_fd >= 0 && write(ins->stop_fd, &one, sizeof(one)) < 0) {
        /* The counter is already non-zero: the fd stays readable. */
    }
}

void lf_instance_fini(struct lfp_instance *ins)
{
    if (ins->stop_fd >= 0)
        (void)close(ins->stop_fd);
    ins->stop_fd = -1;
}

uint64_t lf_instance_counter(const struct lfp_instance *ins, int counter)
{
    return atomic_load_explicit(&ins->counters[counter], memory_order_relaxed);
}

static void host_log(struct lfp_instance *ins, int level, const char *fmt, ...)
    LFP_PRINTF(3, 4);

static void host_log(struct lfp_instance *ins, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (level > lf_log_level_cur)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lf_log_write(ins ? ins->label : "plugin", level, "%s", msg);
}

static int host_log_enabled(int level)
{
    return level <= lf_log_level_cur;
}

static void host_counter_add(struct lfp_instance *ins, int counter, uint64_t n)
{
    if (counter < 0 || counter >= LF_CNT__COUNT)
        return;
    atomic_fetch_add_explicit(&ins->counters[counter], n, memory_order_relaxed);
}

static int host_stop_fd(struct lfp_instance *ins)
{
    return ins->stop_fd;
}

static int host_is_stopping(struct lfp_instance *ins)
{
    return atomic_load(&ins->stopping);
}

const struct lfp_host lf_host = {
    .struct_size = sizeof(struct lfp_host),
    .log = host_log,
    .log_enabled = host_log_enabled,
    .counter_add = host_counter_add,
    .mem_alloc = lf_malloc,
    .mem_calloc = lf_calloc,
    .mem_realloc = lf_realloc,
    .mem_strdup = lf_strdup,
    .mem_free = lf_free,
    .chunk_get = lf_engine_chunk_get,
    .chunk_raw_cap = lf_engine_chunk_raw_cap,
    .chunk_raw = lf_chunk_raw,
    .chunk_add_line = lf_chunk_add_line,
    .chunk_emit = lf_engine_chunk_emit,
    .chunk_put = lf_engine_chunk_put,
    .stop_fd = host_stop_fd,
    .is_stopping = host_is_stopping,
    .chunk_alloc = lf_chunk_alloc,
    .record_add = lf_record_add,
    .record_get = lf_record_get,
    .record_to_json = lf_json_record_cap,
    .chunk_add_records = lf_chunk_add_records,
};
