/* The one binary's entry point: dispatches subcommands (run, validate-config, render, version) and, for
 * children the supervisor starts, the --role NAME entry of each process. */
#include <stdio.h>
#include <string.h>

#include "common/template/template_cli.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: haproxy-template-ic run --config FILE\n"
            "       haproxy-template-ic validate-config FILE\n"
            "       haproxy-template-ic render --template FILE --context FILE.json [--no-trim-blocks]\n"
            "                                  [--no-lstrip-blocks] [--strict]\n"
            "       haproxy-template-ic version\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("haproxy-template-ic %s\n", HTIC_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "render") == 0) return template_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    return usage(stderr);
}
