/* `haproxy-template-ic validate`: loads a config as `run` does (a problem is printed as validate-config
 * prints it, exit 1), runs its validation_tests offline in a private temp dir (removed afterwards) and
 * prints the report as text or JSON. Exit status: 0 every test passed, 1 a failure or an invalid config,
 * 2 a usage error (unknown option, --test naming no test). */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/validate/validate.h"

static int usage(const char *why)
{
    if (why) fprintf(stderr, "haproxy-template-ic validate: %s\n", why);
    fprintf(stderr, "usage: haproxy-template-ic validate --config FILE [--test NAME] [--output text|json]\n"
                    "                                    [--dump-rendered DIR] [--haproxy-binary PATH]\n");
    return 2;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

int validate_cli_main(int argc, char **argv)
{
    struct validate_opts o = {0};
    const char *file = NULL, *output = "text";
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage(a[0] == '-' ? "option without a value" : "unexpected argument");
        if (!strcmp(a, "--config")) file = v;
        else if (!strcmp(a, "--test")) o.only_test = v;
        else if (!strcmp(a, "--output") || !strcmp(a, "-o")) output = v;
        else if (!strcmp(a, "--dump-rendered")) o.dump_dir = v;
        else if (!strcmp(a, "--haproxy-binary")) o.haproxy_binary = v;
        else return usage("unknown option");
    }
    if (!file) return usage("--config FILE is required");
    int json = !strcmp(output, "json");
    if (!json && strcmp(output, "text")) return usage("--output is text or json");

    /* Offline, no Lease is ever taken: a config leaving lease_namespace to the downward API (as in a pod)
     * must still load on a laptop or in CI. */
    setenv("POD_NAMESPACE", "default", 0);
    struct err_list errs;
    err_list_init(&errs);
    struct config *cfg = NULL;
    if (config_load_file(file, &cfg, &errs) < 0) {
        for (size_t i = 0; i < errs.len; i++) {
            char line[ERR_MSG_MAX + 3 * ERR_WHERE_MAX];
            err_format(&errs.items[i], line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
        fprintf(stderr, "%zu problem%s in %s: no test run\n", errs.len, errs.len == 1 ? "" : "s", file);
        err_list_free(&errs);
        return 1;
    }
    err_list_free(&errs);

    const char *tmp = getenv("TMPDIR");
    char work[PATH_MAX];
    snprintf(work, sizeof(work), "%s/htic-validate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        perror("haproxy-template-ic validate: temp dir");
        config_free(cfg);
        return 1;
    }
    o.work_dir = work;
    struct json_object *report = NULL;
    struct err e;
    err_clear(&e);
    int rc = validate_run(cfg, &o, &report, &e);
    nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    config_free(cfg);
    if (rc < 0) {
        fprintf(stderr, "haproxy-template-ic validate: %s\n", e.msg);
        return o.only_test && !strncmp(e.msg, "no validation test", 18) ? 2 : 1;
    }
    struct json_object *v;
    int ok = json_object_object_get_ex(report, "ok", &v) && json_object_get_boolean(v);
    if (json) {
        puts(json_object_to_json_string_ext(report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        struct buf b;
        buf_init(&b);
        validate_report_text(report, &b);
        fputs(buf_cstr(&b), stdout);
        buf_free(&b);
    }
    json_object_put(report);
    return ok ? 0 : 1;
}
