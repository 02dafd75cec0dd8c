/* The one binary's entry point: dispatches subcommands (run, validate-config, validate, render, version) and, for
 * children the supervisor starts, the --role NAME entry of each process. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#include "common/config/config.h"

#include "common/template/template_cli.h"
#include "common/validate/validate.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: haproxy-template-ic run --config FILE\n"
            "       haproxy-template-ic validate-config FILE\n"
            "       haproxy-template-ic validate --config FILE [--test NAME] [--output text|json]\n"
            "                                    [--dump-rendered DIR] [--haproxy-binary PATH]\n"
            "       haproxy-template-ic render --template FILE --context FILE.json [--no-trim-blocks]\n"
            "                                  [--no-lstrip-blocks] [--strict]\n"
            "       haproxy-template-ic version\n");
    return 2;
}

static int role_dispatch(int argc, char **argv)
{
    if (argc < 3) return usage(stderr);
    enum role_id r = role_find(argv[2]);
    if (r != ROLE_COUNT) return role_get(r)->main(argc, argv);
    fprintf(stderr, "haproxy-template-ic: unknown role %s\n", argv[2]);
    return 2;
}

static int cmd_run(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else return usage(stderr);
    }
    if (!config) return usage(stderr);
    log_init("supervisor", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    struct supervisor_opts opts;
    struct config *cfg;
    if (supervisor_opts_load(config, &opts, &cfg) < 0) return 1;
    return supervisor_run(&opts, cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (strcmp(argv[1], "--role") == 0) return role_dispatch(argc, argv);
    if (strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("haproxy-template-ic %s\n", HTIC_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "render") == 0) return template_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "validate-config") == 0) return config_cli_validate(argc - 1, argv + 1);
    if (strcmp(argv[1], "validate") == 0) return validate_cli_main(argc - 1, argv + 1);
    return usage(stderr);
}
