/* Offline validation tests (`haproxy-template-ic validate`): each of a config's validation_tests has its
 * fixtures (plus those of the `_global` test, the test's own replacing any of the same namespace/name) loaded
 * into stores with the configured index_by and projection, rendered by common/render exactly as the renderer
 * role renders, and every assertion checked; haproxy_valid runs the validator's haproxy -c
 * (common/haproxy). The result is one JSON report (docs/configuration.md "Validation tests" names its
 * fields), which the CLI prints as text or as it is.
 * Not for: a cluster (no informer, no IPC), deploying, loading the config (common/config). */
#ifndef HTIC_VALIDATE_H
#define HTIC_VALIDATE_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/config/config.h"
#include "common/err.h"

/* Lines of the target quoted on each side of the line an assertion concerns: enough to see the section a
 * line sits in without flooding a CI log. */
#define VALIDATE_CONTEXT_LINES 2
/* A quoted line is cut here: generated ACL lines can be kilobytes long. */
#define VALIDATE_LINE_MAX 200
/* Output lines of one equals diff (and of one deterministic diff): the first differences tell what broke. */
#define VALIDATE_DIFF_LINES_MAX 60
/* Cells of the line-matching table of a diff (lines removed x lines added, after the common head and tail):
 * 4 M cells are 16 MB; beyond that every changed line is shown removed then added. */
#define VALIDATE_DIFF_CELLS_MAX (4u << 20)
/* Matches listed by match_count / not_contains: the count is always exact, the listing stops here. */
#define VALIDATE_MATCHES_SHOWN 5
/* A value shown in a message (a jsonpath result, a pattern) is cut here. */
#define VALIDATE_VALUE_MAX 400
/* The name reserved for the test whose fixtures every test gets. */
#define VALIDATE_GLOBAL_TEST "_global"

struct validate_opts {
    const char *only_test;       /* run this test only; NULL: every test */
    const char *dump_dir;        /* write each test's rendered files under <dump_dir>/<test>/; NULL: no */
    const char *haproxy_binary;  /* NULL: the config's haproxy.binary */
    const char *work_dir;        /* private dir for generations and haproxy -c scratch dirs (must exist) */
};

/* Runs the tests of cfg. Returns 0 with *report set (owned by the caller): {"ok", "tests": [...],
 * "summary": {...}}; -1 with e filled when nothing could be run (only_test names no test, out of memory,
 * work_dir unusable). */
int validate_run(const struct config *cfg, const struct validate_opts *o, struct json_object **report, struct err *e);

/* The report as people read it: one line per passing test, each failure with its lines, a summary line. */
void validate_report_text(struct json_object *report, struct buf *out);

/* --- pieces of the assertions, pure, unit-tested --- */

/* Appends lines [from, to] (1-based, clamped to the text) of text as "  NNN | line\n", the line `mark`
 * prefixed by '>' instead of a space. */
void validate_excerpt(const char *text, size_t len, int from, int to, int mark, struct buf *out);
/* 1-based line number of byte offset off in text. */
int validate_line_of(const char *text, size_t off);
/* A unified diff of a (named a_name) against b, one hunk from the first to the last differing line with
 * VALIDATE_CONTEXT_LINES + 1 lines of context, at most VALIDATE_DIFF_LINES_MAX lines. Appends nothing when
 * they are equal. Returns 0, or -1 when out of memory. */
int validate_diff(const char *a, size_t alen, const char *a_name, const char *b, size_t blen, const char *b_name,
                  struct buf *out);

/* `haproxy-template-ic validate --config FILE [--test NAME] [--output text|json] [--dump-rendered DIR]
 * [--haproxy-binary PATH]`; argv[0] is "validate". Exit status 0 all passed, 1 a failure or an invalid
 * config, 2 usage. */
int validate_cli_main(int argc, char **argv);

#endif
