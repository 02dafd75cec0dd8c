/* libFuzzer target for the validator's report (common/haproxy/haproxy_report.c): turning `haproxy -c`
 * output into a message that quotes config lines. The input is the output, then optionally "\n#cfg\n" and
 * the text of haproxy.cfg (also written as a map and a crt-list, and a certificate that must never be
 * quoted). A scratch layout is made by hand in a private temp dir once; each run rewrites the files.
 * Checked: the bounds on the message and warnings, no line of the certificate quoted, no redacted secret shown.
 * Not for: running haproxy (haproxy_check.c) or the layout's own refusals (scratch.c, unit tests).
 * Run: build-fuzz/tests/fuzz/fuzz_haproxy_report -max_total_time=300 -dict=tests/fuzz/fuzz_haproxy_report.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/haproxy/haproxy_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scratch s;
static char root[64];
static struct scratch_file files[4] = {
    {SCRATCH_CONFIG, "/etc/haproxy/haproxy.cfg"},
    {SCRATCH_MAP, "/etc/haproxy/maps/hosts.map"},
    {SCRATCH_CRT_LIST, "/etc/haproxy/ssl/list.txt"},
    {SCRATCH_CERT, "/etc/haproxy/ssl/key.pem"},
};
static const char cert_marker[] = "PRIVATE-KEY-MATERIAL-MUST-NOT-SHOW";

static void put(const char *prod, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s%s", root, prod);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) abort();
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/fuzz-report-XXXXXX");
    if (!mkdtemp(root)) abort();
    static const char *const dirs[] = {"/etc", "/etc/haproxy", "/etc/haproxy/maps", "/etc/haproxy/ssl"};
    for (size_t i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
        if (mkdir(p, 0700) < 0) abort();
    }
    static char cwd[128];
    snprintf(cwd, sizeof(cwd), "%s/etc/haproxy", root);
    s = (struct scratch){.dir = root, .cwd = cwd, .cfg_name = "haproxy.cfg", .files = files, .nfiles = 4};
    char cert[512];
    int n = snprintf(cert, sizeof(cert), "-----BEGIN\n%s\n%s\n%s\n%s\n", cert_marker, cert_marker, cert_marker, cert_marker);
    put(files[3].prod_path, cert, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 17) return 0;
    if (!s.dir) setup();
    const char *sep = memmem(data, size, "\n#cfg\n", 6);
    size_t olen = sep ? (size_t)(sep - (const char *)data) : size;
    const char *cfg = sep ? sep + 6 : "global\n  daemon\n";
    size_t clen = sep ? size - olen - 6 : strlen(cfg);
    for (size_t i = 0; i < 3; i++) put(files[i].prod_path, cfg, clen);
    struct haproxy_report r;
    if (haproxy_report_build((const char *)data, olen, &s, &r) < 0) abort();
    if (strlen(r.message) > HAPROXY_REPORT_MESSAGE_MAX || strlen(r.warnings) > HAPROXY_REPORT_WARNINGS_MAX) {
        fprintf(stderr, "fuzz_haproxy_report: over the bound: %zu, %zu\n", strlen(r.message), strlen(r.warnings));
        abort();
    }
    /* the marker appears in the message only if the output itself carried it, never from the key file */
    if (strstr(r.message, cert_marker) && !memmem(data, olen, cert_marker, strlen(cert_marker)) &&
        !memmem(cfg, clen, cert_marker, strlen(cert_marker))) {
        fprintf(stderr, "fuzz_haproxy_report: a certificate line was quoted\n");
        abort();
    }
    haproxy_report_free(&r);
    return 0;
}
