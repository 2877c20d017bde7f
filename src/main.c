/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the logferry command line.
 *
 *   logferry                     run the embedded default configuration
 *   logferry -c FILE             run FILE
 *   logferry -c FILE --check     validate FILE, print FILE:LINE: message
 *   logferry --help-plugin NAME  print a plugin's option table
 *
 * Exit codes: 0 done, 1 configuration error, 2 runtime failure.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "embedded.h"
#include "engine.h"
#include "log.h"
#include "option.h"
#include "parser.h"
#include "registry.h"

static struct lf_engine *main_engine;

static void main_on_signal(int sig)
{
    (void)sig;
    if (main_engine)
        lf_engine_stop(main_engine);
}

static void main_usage(FILE *out)
{
    (void)fprintf(out,
                  "usage: logferry [-c FILE] [--check] [--help-plugin NAME]\n"
                  "\n"
                  "  -c, --config FILE     run this configuration (default: "
                  "the embedded one)\n"
                  "      --check           validate the configuration and "
                  "exit\n"
                  "      --dump-default    print the embedded configuration\n"
                  "      --help-plugin NAME  options of a plugin, 'service' "
                  "or 'parser'\n"
                  "  -v, --version         print the version\n"
                  "  -h, --help            this text\n"
                  "\nplugins:\n");
}

static void main_list_one(const struct lfp_plugin_entry *e, void *arg)
{
    static const char *const kinds[] = {"", "input", "filter", "output"};
    const struct lf_def_header *def = e->def;

    (void)fprintf(arg, "  %-8s %-12s %s\n", kinds[e->kind], def->name,
                  def->summary ? def->summary : "");
}

static int main_help_plugin(const char *name)
{
    int kind = 0;
    const struct lf_def_header *def;

    if (strcmp(name, "service") == 0) {
        (void)printf("[service] options:\n");
        lf_option_print(stdout, lf_engine_service_options());
        return 0;
    }
    if (strcmp(name, "parser") == 0) {
        (void)printf("[parser] options:\n");
        lf_option_print(stdout, lf_parser_options());
        return 0;
    }
    def = lf_registry_find_any(name, &kind);
    if (!def) {
        (void)fprintf(stderr, "logferry: no plugin named '%s'\n", name);
        return 1;
    }
    (void)printf("%s - %s\n\noptions:\n", def->name,
                 def->summary ? def->summary : "");
    if (def->options)
        lf_option_print(stdout, def->options);
    return 0;
}

static int main_load(const char *path, struct lf_config **conf,
                     struct lfp_err *err)
{
    if (path)
        return lf_config_load_file(path, conf, err);
    return lf_config_load_string("(embedded default)",
                                 lf_embedded_default_config, NULL, conf, err);
}

static int main_run(const char *path, int check_only)
{
    struct lf_config *conf = NULL;
    struct lfp_err err = {0};
    struct sigaction sa;
    int rc;

    if (main_load(path, &conf, &err) != LFP_OK ||
        lf_engine_new(conf, &main_engine, &err) != LFP_OK) {
        (void)fprintf(stderr, "%s\n", err.msg);
        lf_config_free(conf);
        return 1;
    }
    lf_config_free(conf);
    if (check_only) {
        (void)fprintf(stderr, "%s: configuration ok\n",
                      path ? path : "(embedded default)");
        lf_engine_free(main_engine);
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    rc = lf_engine_run(main_engine);
    lf_engine_free(main_engine);
    main_engine = NULL;
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help-plugin", required_argument, NULL, 'p'},
        {"dump-default", no_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int check_only = 0, opt, rc;

    while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check_only = 1;
            break;
        case 'p':
            return main_help_plugin(optarg);
        case 'd':
            (void)fputs(lf_embedded_default_config, stdout);
            return 0;
        case 'v':
            (void)printf("logferry %s\n", LF_VERSION);
            return 0;
        case 'h':
            main_usage(stdout);
            lf_registry_each(main_list_one, stdout);
            return 0;
        default:
            main_usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        (void)fprintf(stderr, "logferry: unexpected argument '%s'\n",
                      argv[optind]);
        return 1;
    }
    rc = main_run(path, check_only);
    lf_registry_fini();
    return rc;
}
