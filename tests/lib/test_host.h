/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_host.h - a struct lfp_host for plugin unit tests, without the
 * engine.
 *
 * It owns a small pool of real chunks (src/chunk.h). An input under test
 * gets chunks from it (chunk_get blocks while the pool is empty, like the
 * engine's back-pressure) and emits them; every emitted line is copied
 * into a list the test inspects, then the chunk is acknowledged through
 * the input's ack callback, either at once (auto-ack, the default) or
 * when the test says, in any order. Counters, log lines and the stop flag
 * are kept per host. One host runs one input instance.
 *
 *   struct lf_test_host *th = lf_test_host_new(64 * 1024, 8);
 *   void *conf = lf_test_conf_new(def.options, def.conf_size);
 *   lf_test_conf_set(def.options, conf, "path", "/tmp/x/a.log");
 *   lf_test_host_input_init(th, &def, conf, &err);
 *   lf_test_host_input_start(th);        run() on its own thread
 *   lf_test_host_wait_lines(th, 3, 2000);
 *   lf_test_host_input_stop(th);         stop flag + stop fd, join
 *   lf_test_host_free(th);               destroy, free chunks
 *   lf_test_conf_free(def.options, conf);
 *
 * Thread: the test's thread, except what the input calls through the host.
 */
#ifndef LF_TEST_HOST_H
#define LF_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct lf_test_host; /* opaque */

/* One emitted line and the position of the chunk that carried it. */
struct lf_test_line {
    const char *text; /* a NUL-terminated copy, owned by the host */
    uint32_t len;
    uint32_t flags; /* LFP_REC_* */
    uint64_t pos_source;
    uint64_t pos_begin;
    uint64_t pos_end;
    uint64_t pos_seq;
    size_t chunk_no; /* 0 for the first chunk emitted, and so on */
};

/* A host whose chunks have raw_cap bytes, with pool_size of them. Free
 * with lf_test_host_free(). */
struct lf_test_host *lf_test_host_new(size_t raw_cap, int pool_size);
/* Stops and joins a running input, destroys it if it was initialised,
 * frees every chunk and record. NULL is a no-op. */
void lf_test_host_free(struct lf_test_host *th);

/* The host table and the instance handle given to the plugin. */
const struct lfp_host *lf_test_host_api(struct lf_test_host *th);
struct lfp_instance *lf_test_host_instance(struct lf_test_host *th);

/* Calls def->validate (if any) then def->init with conf, which must stay
 * valid until the host is freed. Returns the plugin's rc; err filled. */
int lf_test_host_input_init(struct lf_test_host *th,
                            const struct lfp_input_def *def, const void *conf,
                            struct lfp_err *err);
/* Runs def->run on the calling thread; returns its enum lfp_input_rc. */
int lf_test_host_input_run(struct lf_test_host *th);
/* Runs def->run on a new thread. */
void lf_test_host_input_start(struct lf_test_host *th);
/* Sets the stop flag, signals the stop fd, joins the thread; returns what
 * run returned. */
int lf_test_host_input_stop(struct lf_test_host *th);
/* Calls def->destroy now (once); chunks still held are abandoned: they
 * will never be acknowledged. */
void lf_test_host_input_destroy(struct lf_test_host *th);

/* With auto-ack off, emitted chunks are held until the test acks them. */
void lf_test_host_set_auto_ack(struct lf_test_host *th, int is_on);
/* Chunks emitted and not yet acknowledged. */
size_t lf_test_host_held(struct lf_test_host *th);
/* Acknowledges the i-th held chunk (0: the oldest still held). */
void lf_test_host_ack(struct lf_test_host *th, size_t i);
/* Acknowledges every held chunk, oldest first. */
void lf_test_host_ack_all(struct lf_test_host *th);

/* Lines emitted so far, and a copy of the i-th (text stays valid until the
 * host is freed). */
size_t lf_test_host_nlines(struct lf_test_host *th);
struct lf_test_line lf_test_host_line(struct lf_test_host *th, size_t i);
/* Chunks emitted so far. */
size_t lf_test_host_nchunks(struct lf_test_host *th);
/* Waits until at least n lines were emitted; 1 if so in time. */
int lf_test_host_wait_lines(struct lf_test_host *th, size_t n, int timeout_ms);
/* The instance's counter (enum lfp_counter). */
uint64_t lf_test_host_counter(struct lf_test_host *th, int counter);
/* Whether a message at exactly `level` containing needle was logged. */
int lf_test_host_log_has(struct lf_test_host *th, int level,
                         const char *needle);

/* Allocates a plugin conf struct of conf_size bytes with every option's
 * default applied, as the core would (strings and lists heap-owned). Free
 * with lf_test_conf_free(). */
void *lf_test_conf_new(const struct lfp_option *opts, size_t conf_size);
/* Sets option key from text the way a user writes it ("64K", "5s", "on",
 * "a.log, b.log"). Returns 0, or -1 for an unknown key or bad value.
 * No range checks: tests may set what the config module would refuse. */
int lf_test_conf_set(const struct lfp_option *opts, void *conf, const char *key,
                     const char *value);
void lf_test_conf_free(const struct lfp_option *opts, void *conf);

#endif
