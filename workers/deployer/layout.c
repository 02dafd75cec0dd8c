/* A generation's files at their production paths (see layout.h). */
#include "workers/deployer/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* Temp files are <dir>/.<name>.htic-tmp, so a crash leaves one recognisable file that the next write of
 * the same name replaces. */
#define TMP_SUFFIX ".htic-tmp"

int layout_prod_path(const struct layout_paths *p, int kind, const char *name, char *out, size_t n)
{
    if (kind == RUNDIR_KIND_CONFIG) return snprintf(out, n, "%s", p->config_file) >= (int)n ? -1 : 0;
    if (rundir_name_check(name, NULL) < 0) return -1;
    const char *dir = kind == RUNDIR_KIND_MAP    ? p->maps_dir
                      : kind == RUNDIR_KIND_CERT ? p->ssl_certs_dir
                      : kind == RUNDIR_KIND_FILE || kind == RUNDIR_KIND_CRT_LIST ? p->general_dir
                                                                                 : NULL;
    if (!dir || dir[0] != '/') return -1;
    return snprintf(out, n, "%s/%s", dir, name) >= (int)n ? -1 : 0;
}

int layout_header(const char *term, int64_t generation, const char *checksum, char *out, size_t n)
{
    /* a term is printable without spaces (common/term.h); anything else would break the parse */
    for (const char *c = term; *c; c++)
        if (*c <= ' ' || *c == 0x7f) return -1;
    int w = snprintf(out, n, LAYOUT_HEADER_PREFIX "term=%s generation=%" PRId64 " checksum=%s\n", term, generation,
                     checksum);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int layout_parse_header(const char *line, size_t len, char checksum[RUNDIR_CHECKSUM_BUF], int64_t *generation)
{
    size_t pl = strlen(LAYOUT_HEADER_PREFIX);
    const char *nl = memchr(line, '\n', len);
    if (nl) len = (size_t)(nl - line);
    if (len < pl || len >= LAYOUT_HEADER_MAX || memcmp(line, LAYOUT_HEADER_PREFIX, pl) != 0) return -1;
    char copy[LAYOUT_HEADER_MAX];
    memcpy(copy, line, len);
    copy[len] = '\0';
    const char *ck = strstr(copy, " checksum=");
    if (!ck) return -1;
    ck += strlen(" checksum=");
    char tmp[RUNDIR_CHECKSUM_BUF];
    size_t cl = strcspn(ck, " ");
    if (cl >= sizeof(tmp)) return -1;
    memcpy(tmp, ck, cl);
    tmp[cl] = '\0';
    if (rundir_checksum_check(tmp) < 0) return -1;
    memcpy(checksum, tmp, cl + 1);
    if (generation) {
        const char *g = strstr(copy, " generation=");
        *generation = g ? strtoll(g + strlen(" generation="), NULL, 10) : 0;
    }
    return 0;
}

static int sha256_hex(const void *data, size_t len, char out[RUNDIR_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) return -1;
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int layout_read_gen_file(const struct rundir_gen *g, const struct rundir_entry *f, char **out, size_t *len,
                         struct err *e)
{
    char path[PATH_MAX];
    const char *sub = rundir_kind_dir(f->kind);
    if (snprintf(path, sizeof(path), "%s/%s%s%s", g->dir, sub, sub[0] ? "/" : "", f->name) >= (int)sizeof(path))
        return err_set(e, "path too long");
    if (rundir_read_file_at(AT_FDCWD, path, LAYOUT_FILE_MAX, out, len, e) != 0) return -1;
    char hex[RUNDIR_HEX_LEN + 1];
    if (sha256_hex(*out, *len, hex) < 0 || strcmp(hex, f->sha256) != 0) {
        free(*out);
        *out = NULL;
        return err_set(e, "%s changed since the generation was verified", path);
    }
    return 0;
}

static int write_all(int fd, const char *d, size_t n)
{
    while (n) {
        ssize_t w = write(fd, d, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = '\0';
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int layout_write_file(struct deploy_gate *gate, int64_t deadline_ms, const char *path, const char *head,
                      const void *data, size_t len, struct err *e)
{
    char dir[PATH_MAX], tmp[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || !slash[1]) return err_set(e, "%s: not an absolute file path", path);
    *slash = '\0';
    if (snprintf(tmp, sizeof(tmp), "%s/.%s" TMP_SUFFIX, dir, slash + 1) >= (int)sizeof(tmp))
        return err_set(e, "%s: path too long", path);
    if (deploy_gate_check(gate, deadline_ms, NULL) < 0) return err_set(e, "fence: refused before writing %s", path);
    char failed[PATH_MAX];
    int rc = fs_mkdir_p(dir[0] ? dir : "/", failed, sizeof(failed));
    if (rc < 0) return err_set(e, "cannot create %s: %s", failed, strerror(-rc));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return err_set(e, "cannot create %s: %s", tmp, strerror(errno));
    int bad = (head && write_all(fd, head, strlen(head)) < 0) || write_all(fd, data, len) < 0 || fsync(fd) < 0;
    int saved = errno;
    if (close(fd) < 0) bad = 1;
    if (bad) {
        unlink(tmp);
        return err_set(e, "cannot write %s: %s", tmp, strerror(saved));
    }
    /* the rename is what HAProxy (and anyone) sees: checked again right before it */
    if (deploy_gate_check(gate, deadline_ms, NULL) < 0) {
        unlink(tmp);
        return err_set(e, "fence: refused before renaming %s", path);
    }
    if (rename(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        return err_set(e, "cannot rename onto %s: %s", path, strerror(saved));
    }
    if (fsync_dir_of(path) < 0) return err_set(e, "cannot fsync the directory of %s: %s", path, strerror(errno));
    return 0;
}

/* The production copy of a file as it is now; 1 if missing. The config's header is split off. */
static int read_prod(const char *path, int is_config, char **out, size_t *len, size_t *body_off, struct err *e)
{
    *body_off = 0;
    int rc = rundir_read_file_at(AT_FDCWD, path, LAYOUT_FILE_MAX, out, len, e);
    if (rc != 0) return rc;
    if (is_config && *len >= strlen(LAYOUT_HEADER_PREFIX) &&
        memcmp(*out, LAYOUT_HEADER_PREFIX, strlen(LAYOUT_HEADER_PREFIX)) == 0) {
        const char *nl = memchr(*out, '\n', *len);
        *body_off = nl ? (size_t)(nl - *out) + 1 : *len;
    }
    return 0;
}

/* 1 if the production copy has exactly this content (after the header for the config). */
static int same_content(const char *path, int is_config, const char *data, size_t len)
{
    char *cur = NULL;
    size_t clen = 0, off = 0;
    if (read_prod(path, is_config, &cur, &clen, &off, NULL) != 0) return 0;
    int same = clen - off == len && memcmp(cur + off, data, len) == 0;
    free(cur);
    return same;
}

int layout_apply(struct deploy_gate *gate, int64_t deadline_ms, const struct layout_paths *p,
                 const struct rundir_gen *g, const char *header, struct layout_stats *st, struct err *e)
{
    const struct rundir_entry *config = NULL;
    /* referenced files first, the config that names them last */
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->nfiles; i++) {
            const struct rundir_entry *f = &g->files[i];
            int is_config = f->kind == RUNDIR_KIND_CONFIG;
            if (is_config != (int)pass) continue;
            if (is_config) config = f;
            char path[PATH_MAX];
            if (layout_prod_path(p, f->kind, f->name, path, sizeof(path)) < 0)
                return err_set(e, "%s %s: no production path for it", rundir_kind_name(f->kind), f->name);
            char *data = NULL;
            size_t len = 0;
            if (layout_read_gen_file(g, f, &data, &len, e) < 0) return -1;
            int rc = 0;
            if (!is_config && same_content(path, 0, data, len)) {
                st->unchanged++;
            } else if (is_config && header && same_content(path, 1, data, len)) {
                /* the body is right; rewrite only if the header is not this generation's */
                char ck[RUNDIR_CHECKSUM_BUF], line[LAYOUT_HEADER_MAX];
                if (layout_read_checksum(p, ck, line) == 0 && strcmp(line, header) == 0) st->unchanged++;
                else if ((rc = layout_write_file(gate, deadline_ms, path, header, data, len, e)) == 0) st->written++;
            } else if ((rc = layout_write_file(gate, deadline_ms, path, is_config ? header : NULL, data, len, e)) ==
                       0) {
                st->written++;
            }
            free(data);
            if (rc < 0) return -1;
        }
    }
    return config ? 0 : err_set(e, "the generation has no haproxy.cfg");
}

static int has_file(const struct rundir_gen *g, int kind, const char *name, const struct layout_paths *p,
                    const char *prod)
{
    if (!g) return 0;
    for (size_t i = 0; i < g->nfiles; i++) {
        if (g->files[i].kind == kind && strcmp(g->files[i].name, name) == 0) return 1;
        /* another kind landing on the same production path (maps_dir == general_dir) keeps it too */
        char path[PATH_MAX];
        if (layout_prod_path(p, g->files[i].kind, g->files[i].name, path, sizeof(path)) == 0 && !strcmp(path, prod))
            return 1;
    }
    return 0;
}

int layout_remove_obsolete(struct deploy_gate *gate, int64_t deadline_ms, const struct layout_paths *p,
                           const struct rundir_gen *prev, const struct rundir_gen *g, struct layout_stats *st,
                           struct err *e)
{
    if (!prev) return 0;
    for (size_t i = 0; i < prev->nfiles; i++) {
        const struct rundir_entry *f = &prev->files[i];
        char path[PATH_MAX];
        if (f->kind == RUNDIR_KIND_CONFIG || layout_prod_path(p, f->kind, f->name, path, sizeof(path)) < 0 ||
            has_file(g, f->kind, f->name, p, path))
            continue;
        if (deploy_gate_check(gate, deadline_ms, NULL) < 0) return err_set(e, "fence: refused before removing %s", path);
        if (unlink(path) < 0 && errno != ENOENT) return err_set(e, "cannot remove %s: %s", path, strerror(errno));
        st->removed++;
    }
    return 0;
}

int layout_read_checksum(const struct layout_paths *p, char checksum[RUNDIR_CHECKSUM_BUF],
                         char header_line[LAYOUT_HEADER_MAX])
{
    checksum[0] = '\0';
    if (header_line) header_line[0] = '\0';
    int fd = open(p->config_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    char buf[LAYOUT_HEADER_MAX];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) return -1;
    const char *nl = memchr(buf, '\n', (size_t)n);
    if (!nl || layout_parse_header(buf, (size_t)(nl - buf + 1), checksum, NULL) < 0) {
        checksum[0] = '\0';
        return 0;
    }
    if (header_line) {
        memcpy(header_line, buf, (size_t)(nl - buf + 1));
        header_line[nl - buf + 1] = '\0';
    }
    return 0;
}

/* Lines of text, as (start, length) pairs without their newline. */
struct lines {
    const char **at;
    size_t *len;
    size_t n;
};

static int split_lines(const char *s, size_t len, struct lines *l)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += s[i] == '\n';
    l->at = malloc(cap * sizeof(*l->at));
    l->len = malloc(cap * sizeof(*l->len));
    l->n = 0;
    if (!l->at || !l->len) return -1;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '\n') {
            if (i == len && start == len) break; /* no empty last line after a final newline */
            l->at[l->n] = s + start;
            l->len[l->n++] = i - start;
            start = i + 1;
        }
    }
    return 0;
}

static void free_lines(struct lines *l)
{
    free(l->at);
    free(l->len);
}

static int line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->at[i], b->at[j], a->len[i]) == 0;
}

/* How many context lines a hunk shows around the change, as diff -u does. */
#define DIFF_CONTEXT 3

void layout_unified_diff(const char *name, const char *a, size_t alen, const char *b, size_t blen, size_t max_lines,
                         struct buf *out)
{
    struct lines la, lb;
    if (split_lines(a, alen, &la) < 0 || split_lines(b, blen, &lb) < 0) {
        free_lines(&la);
        buf_puts(out, "(out of memory)\n");
        return;
    }
    size_t pre = 0, suf = 0;
    while (pre < la.n && pre < lb.n && line_eq(&la, pre, &lb, pre)) pre++;
    while (suf < la.n - pre && suf < lb.n - pre && line_eq(&la, la.n - 1 - suf, &lb, lb.n - 1 - suf)) suf++;
    if (pre == la.n && pre == lb.n) goto done;
    size_t c0 = pre > DIFF_CONTEXT ? pre - DIFF_CONTEXT : 0;
    size_t a_end = la.n - suf, b_end = lb.n - suf;
    size_t ca = suf > DIFF_CONTEXT ? DIFF_CONTEXT : suf;
    buf_printf(out, "--- %s (expected)\n+++ %s (found)\n@@ -%zu,%zu +%zu,%zu @@\n", name, name, c0 + 1,
               a_end + ca - c0, c0 + 1, b_end + ca - c0);
    size_t shown = 0;
    for (size_t i = c0; i < pre && shown < max_lines; i++, shown++) buf_printf(out, " %.*s\n", (int)la.len[i], la.at[i]);
    for (size_t i = pre; i < a_end && shown < max_lines; i++, shown++) buf_printf(out, "-%.*s\n", (int)la.len[i], la.at[i]);
    for (size_t i = pre; i < b_end && shown < max_lines; i++, shown++) buf_printf(out, "+%.*s\n", (int)lb.len[i], lb.at[i]);
    for (size_t i = a_end; i < a_end + ca && shown < max_lines; i++, shown++)
        buf_printf(out, " %.*s\n", (int)la.len[i], la.at[i]);
    size_t total = (pre - c0) + (a_end - pre) + (b_end - pre) + ca;
    if (total > shown) buf_printf(out, "... (%zu more lines)\n", total - shown);
done:
    free_lines(&la);
    free_lines(&lb);
}

int layout_verify(const struct layout_paths *p, const struct rundir_gen *g, struct buf *diff, struct err *e)
{
    int same = 1;
    for (size_t i = 0; i < g->nfiles; i++) {
        const struct rundir_entry *f = &g->files[i];
        int is_config = f->kind == RUNDIR_KIND_CONFIG;
        char path[PATH_MAX];
        if (layout_prod_path(p, f->kind, f->name, path, sizeof(path)) < 0) return err_set(e, "no production path");
        char *want = NULL, *cur = NULL;
        size_t wlen = 0, clen = 0, off = 0;
        if (layout_read_gen_file(g, f, &want, &wlen, e) < 0) return -1;
        int rc = read_prod(path, is_config, &cur, &clen, &off, NULL);
        if (rc < 0) {
            free(want);
            return err_set(e, "cannot read %s", path);
        }
        if (rc == 1 || clen - off != wlen || memcmp(cur + off, want, wlen) != 0) {
            same = 0;
            if (diff) {
                if (rc == 1) buf_printf(diff, "%s: missing\n", path);
                else layout_unified_diff(path, want, wlen, cur + off, clen - off, LAYOUT_DIFF_LINES_MAX, diff);
            }
        }
        free(want);
        free(cur);
    }
    return same;
}
