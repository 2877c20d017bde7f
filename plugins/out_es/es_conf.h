/* SPDX-License-Identifier: Apache-2.0 */
/*
 * es_conf.h - the es output's options: the struct the core fills from the
 * option table, and the table itself.
 */
#ifndef LF_OUT_ES_CONF_H
#define LF_OUT_ES_CONF_H

#include <stdint.h>

#include <logferry/plugin.h>

enum es_op_type { ES_OP_INDEX = 0, ES_OP_CREATE };
enum es_compress { ES_COMPRESS_NONE = 0, ES_COMPRESS_GZIP };
/* What the server is; AUTO asks it (GET /) before the first bulk. */
enum es_compat {
    ES_COMPAT_AUTO = 0,
    ES_COMPAT_ES6,
    ES_COMPAT_ES7,
    ES_COMPAT_ES8,
    ES_COMPAT_OS1,
    ES_COMPAT_OS2,
};

struct es_conf {
    struct lfp_list hosts;
    char *index;
    int op_type; /* enum es_op_type */
    char *id_key;
    int generate_id;
    char *pipeline;
    char *http_user;
    char *http_passwd;
    char *api_key;
    int compress; /* enum es_compress */
    int64_t compress_level;
    int compat; /* enum es_compat */
    int64_t bulk_max_bytes;
    int64_t response_max_bytes;
    int64_t workers;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    int64_t item_retries;
    int64_t item_retry_base_ms;
    char *rejected_path;
    int tls_verify;
    int tls_verify_hostname;
    char *tls_ca_file;
    char *tls_ca_path;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_key_passwd;
};

extern const struct lfp_option es_options[];

/* Cross-key checks (hosts are http(s) URLs, index names are legal, auth
 * is not given twice). Returns LFP_OK or LFP_ERR_CONFIG with err filled. */
int es_conf_validate(const void *conf, struct lfp_err *err);

#endif
