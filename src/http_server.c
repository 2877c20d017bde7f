/* SPDX-License-Identifier: Apache-2.0 */
/* http_server.c - the HTTP endpoint (not built yet: refuses to start). */
#include "http_server.h"

int lf_http_start(struct lf_engine *e, const char *listen,
                  struct lf_http **out, struct lfp_err *err)
{
    (void)e;
    *out = NULL;
    return lf_err_set(err, LFP_ERR_CONFIG,
                      "http_server: not available in this build (%s)",
                      listen);
}

void lf_http_stop(struct lf_http *h)
{
    (void)h;
}
