/* `haproxy-template-ic validate-config FILE`: loads a config the way `run` does and prints every problem,
 * one per line as file:line:col: path: message, or "config OK: FILE". Exit status 0 ok, 1 invalid, 2 usage.
 * `validate-config --reference` prints the generated key reference (docs/configuration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"

int config_cli_validate(int argc, char **argv)
{
    /* argv[0] is "validate-config" (the subcommand) */
    if (argc == 2 && strcmp(argv[1], "--reference") == 0) {
        char *md;
        if (config_reference_markdown(&md) < 0) return 1;
        fputs(md, stdout);
        free(md);
        return 0;
    }
    const char *file = NULL;
    if (argc == 2) file = argv[1];
    else if (argc == 3 && strcmp(argv[1], "--config") == 0) file = argv[2];
    if (!file || file[0] == '-') {
        fprintf(stderr, "usage: haproxy-template-ic validate-config FILE\n"
                        "       haproxy-template-ic validate-config --reference\n");
        return 2;
    }
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    int rc = config_load_file(file, &cfg, &errs);
    for (size_t i = 0; i < errs.len; i++) {
        char line[ERR_MSG_MAX + 3 * ERR_WHERE_MAX];
        err_format(&errs.items[i], line, sizeof(line));
        printf("%s\n", line);
    }
    if (rc == 0) printf("config OK: %s\n", file);
    else printf("%zu problem%s in %s\n", errs.len, errs.len == 1 ? "" : "s", file);
    config_free(cfg);
    err_list_free(&errs);
    return rc == 0 ? 0 : 1;
}
