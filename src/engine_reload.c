/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_reload.c - SIGHUP and POST /api/v1/reload: replacing the
 * pipeline with one built from the configuration file read again.
 *
 * The new engine is built and checked (option tables, validate callbacks)
 * while the old one runs; an invalid configuration is refused with its
 * error and nothing changes. A valid one makes the old engine stop like
 * on SIGTERM: inputs stop and persist their committed offsets, outputs
 * deliver what is in flight within grace (or leave it uncommitted, or on
 * disk), and the caller (main.c) runs the new engine, which resumes from
 * those offsets and that disk buffer: at-least-once across the switch.
 */
#include <string.h>

#include "config.h"
#include "embedded.h"
#include "engine_int.h"
#include "log.h"
#include "mem.h"

#define RELOAD_LOG "reload"

void lf_engine_set_config_path(struct lf_engine *e, const char *path)
{
    lf_free(e->conf_path);
    e->conf_path = path ? lf_strdup(path) : NULL;
}

static int reload_load(const struct lf_engine *e, struct lf_config **conf,
                       struct lfp_err *err)
{
    if (e->conf_path)
        return lf_config_load_file(e->conf_path, conf, err);
    return lf_config_load_string("(embedded default)",
                                 lf_embedded_default_config, NULL, conf, err);
}

void lf_engine_reload_prepare(struct lf_engine *e)
{
    struct lf_config *conf = NULL;
    struct lf_engine *next = NULL;
    struct lfp_err err = {0};
    int level = lf_log_level_cur;

    if (e->is_reloading)
        return;
    lf_log_info(RELOAD_LOG, "reading %s",
                e->conf_path ? e->conf_path : "(embedded default)");
    if (reload_load(e, &conf, &err) != LFP_OK ||
        lf_engine_new(conf, &next, &err) != LFP_OK) {
        lf_log_set_level(level); /* building may have changed it */
        lf_log_error(RELOAD_LOG,
                     "new configuration refused, the running "
                     "one stays: %s",
                     err.msg);
        lf_config_free(conf);
        return;
    }
    lf_engine_set_config_path(next, e->conf_path);
    e->next = next;
    e->next_conf = conf;
    e->is_reloading = 1;
    lf_log_info(RELOAD_LOG, "new configuration is valid: switching");
}

struct lf_engine *lf_engine_take_next(struct lf_engine *e,
                                      struct lf_config **conf)
{
    struct lf_engine *next = e->next;

    *conf = e->next_conf;
    e->next = NULL;
    e->next_conf = NULL;
    if (next && atomic_load(&e->stop_requested)) {
        lf_log_info(RELOAD_LOG, "stop requested during the switch: not "
                                "starting the new configuration");
        lf_engine_free(next);
        lf_config_free(*conf);
        *conf = NULL;
        return NULL;
    }
    return next;
}

int lf_engine_was_started(const struct lf_engine *e)
{
    return e->was_started;
}
