/* The validator's scratch layout (see scratch.h). */
#include "common/haproxy/scratch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* Where the service-account token and any mounted credentials live; /var/run is /run on every distro we
 * run on, so the shorter form covers both spellings. */
#define SCRATCH_SECRETS_PATH "/run/secrets"

/* Scratch dirs are named <parent>/check-XXXXXX, so a sweep knows what it may remove. */
#define SCRATCH_PREFIX "check-"

/* Generation subdirs, their kind and whether their text names other files (and so is rewritten). */
static const struct {
    const char *subdir;
    enum scratch_kind kind;
    int rewrite;
} subdirs[] = {
    {"maps", SCRATCH_MAP, 0},
    {"certs", SCRATCH_CERT, 0},
    {"files", SCRATCH_FILE, 0},
    {"crt-lists", SCRATCH_CRT_LIST, 1},
};

static int set_where(struct err *e, const char *file, int line)
{
    if (e) {
        snprintf(e->file, sizeof(e->file), "%s", file);
        e->line = line;
    }
    return -1;
}

/* A production directory as the rewrite needs it: absolute, no "." or ".." parts, no trailing slash, not "/"
 * (rewriting "/" would move every absolute path into the scratch dir), and not the credentials' home. */
static int normalize_dir(const char *what, const char *in, char *out, size_t n, struct err *e)
{
    if (!in || in[0] != '/') return err_set(e, "%s must be an absolute path", what);
    if (snprintf(out, n, "%s", in) >= (int)n) return err_set(e, "%s is too long", what);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = '\0';
    if (len <= 1) return err_set(e, "%s must not be /", what);
    if (strstr(out, "/./") || strstr(out, "/../") || !strcmp(out + len - 2, "/.") || !strcmp(out + len - 3, "/.."))
        return err_set(e, "%s must not contain . or .. components", what);
    if (strstr(out, SCRATCH_SECRETS_PATH)) return err_set(e, "%s must not be under %s", what, SCRATCH_SECRETS_PATH);
    return 0;
}

/* The 1-based line of the first mention of the credentials' path, or 0. */
static int secrets_line(const char *text, size_t len)
{
    const char *hit = memmem(text, len, SCRATCH_SECRETS_PATH, strlen(SCRATCH_SECRETS_PATH));
    if (!hit) return 0;
    int line = 1;
    for (const char *p = text; p < hit; p++)
        if (*p == '\n') line++;
    return line;
}

static int is_path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '~' || c == '+' || c == '@' || c == '%' || c == '$' || c == '/';
}

int scratch_rewrite(const char *text, size_t len, const char *const *prefixes, size_t nprefixes, const char *root,
                    struct buf *out)
{
    size_t plain = 0; /* start of the run of bytes not yet copied */
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '/' || (i > 0 && is_path_char(text[i - 1]))) continue;
        size_t best = 0;
        for (size_t k = 0; k < nprefixes; k++) {
            size_t pl = strlen(prefixes[k]);
            if (pl <= best || pl > len - i || memcmp(text + i, prefixes[k], pl) != 0) continue;
            /* a boundary after it too: /etc/haproxy/maps must not match /etc/haproxy/maps2 */
            if (i + pl < len && text[i + pl] != '/' && is_path_char(text[i + pl])) continue;
            best = pl;
        }
        if (!best) continue;
        buf_append(out, text + plain, i - plain);
        buf_puts(out, root);
        buf_append(out, text + i, best);
        plain = i + best;
        i = plain - 1;
    }
    buf_append(out, text + plain, len - plain);
    return out->oom ? -1 : 0;
}

int scratch_unroot(const char *text, size_t len, const char *root, struct buf *out)
{
    size_t rl = strlen(root);
    size_t plain = 0;
    for (size_t i = 0; rl && i + rl < len;) {
        if (memcmp(text + i, root, rl) == 0 && text[i + rl] == '/') {
            buf_append(out, text + plain, i - plain);
            i += rl;
            plain = i;
        } else {
            i++;
        }
    }
    buf_append(out, text + plain, len - plain);
    return out->oom ? -1 : 0;
}

const struct scratch_file *scratch_find(const struct scratch *s, const char *prod_path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (!strcmp(s->files[i].prod_path, prod_path)) return &s->files[i];
    return NULL;
}

static int on_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* keep going: remove what can be removed */
}

void scratch_remove(struct scratch *s)
{
    if (s->dir) nftw(s->dir, on_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(s->dir);
    free(s->cwd);
    free(s->cfg_name);
    for (size_t i = 0; i < s->nfiles; i++) free(s->files[i].prod_path);
    free(s->files);
    memset(s, 0, sizeof(*s));
}

void scratch_sweep(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[PATH_MAX];
        if (strncmp(de->d_name, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)) ||
            snprintf(path, sizeof(path), "%s/%s", parent, de->d_name) >= (int)sizeof(path))
            continue;
        nftw(path, on_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

struct layout {
    struct scratch *s;
    const char *prefixes[4];  /* rewritten production paths: the three dirs and config_file itself */
    size_t files_cap;
    unsigned long long total;
    struct err *e;
};

static int add_file(struct layout *l, enum scratch_kind kind, const char *prod_path)
{
    struct scratch *s = l->s;
    if (s->nfiles >= SCRATCH_FILES_MAX) return err_set(l->e, "more than %d files in one generation", SCRATCH_FILES_MAX);
    if (s->nfiles == l->files_cap) {
        size_t cap = l->files_cap ? l->files_cap * 2 : 16;
        struct scratch_file *f = realloc(s->files, cap * sizeof(*f));
        if (!f) return err_set(l->e, "out of memory");
        s->files = f;
        l->files_cap = cap;
    }
    char *p = strdup(prod_path);
    if (!p) return err_set(l->e, "out of memory");
    s->files[s->nfiles++] = (struct scratch_file){.kind = kind, .prod_path = p};
    return 0;
}

/* Reads all of fd (at most max bytes) into out. */
static int read_all(int fd, size_t max, struct buf *out, const char *name, struct err *e)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return set_where(e, name, 0), err_set(e, "cannot read: %s", strerror(errno));
        if (n == 0) return 0;
        if (out->len + (size_t)n > max) return set_where(e, name, 0), err_set(e, "larger than %zu bytes", max);
        if (buf_append(out, chunk, (size_t)n) < 0) return err_set(e, "out of memory");
    }
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copies the regular file name (in the generation dir dirfd) to <scratch><prod_path>, rewriting it if asked. */
static int copy_one(struct layout *l, int dirfd, const char *name, const char *prod_path, int rewrite)
{
    struct err *e = l->e;
    /* O_NOFOLLOW + S_ISREG: a symlink planted in a generation could point haproxy at any file we can read */
    int in = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (in < 0) {
        set_where(e, prod_path, 0);
        return errno == ELOOP ? err_set(e, "is a symlink in the generation; refused")
                              : err_set(e, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return set_where(e, prod_path, 0), err_set(e, "is not a regular file; refused");
    }
    l->total += (unsigned long long)st.st_size;
    if (l->total > SCRATCH_TOTAL_MAX) {
        close(in);
        return err_set(e, "the generation holds more than %llu bytes", SCRATCH_TOTAL_MAX);
    }
    char dst[PATH_MAX];
    if (snprintf(dst, sizeof(dst), "%s%s", l->s->dir, prod_path) >= (int)sizeof(dst)) {
        close(in);
        return set_where(e, prod_path, 0), err_set(e, "path too long in the scratch dir");
    }
    /* O_EXCL: two generation files landing on one production path (maps_dir == general_dir) are refused */
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int err = errno;
        close(in);
        set_where(e, prod_path, 0);
        return err == EEXIST ? err_set(e, "two files of the generation land on this production path")
                             : err_set(e, "cannot create in the scratch dir: %s", strerror(err));
    }
    int rc = 0;
    if (rewrite) {
        struct buf text, rewritten;
        buf_init(&text);
        buf_init(&rewritten);
        rc = read_all(in, SCRATCH_TEXT_MAX, &text, prod_path, e);
        int line = rc ? 0 : secrets_line(buf_cstr(&text), text.len);
        if (line) {
            set_where(e, prod_path, line);
            rc = err_set(e, "names %s: haproxy -c is never pointed at the controller's credentials",
                         SCRATCH_SECRETS_PATH);
        }
        if (!rc && scratch_rewrite(buf_cstr(&text), text.len, l->prefixes, 4, l->s->dir, &rewritten) < 0)
            rc = err_set(e, "out of memory");
        if (!rc && write_all(out, buf_cstr(&rewritten), rewritten.len) < 0)
            rc = set_where(e, prod_path, 0), err_set(e, "cannot write the scratch copy: %s", strerror(errno));
        buf_free(&text);
        buf_free(&rewritten);
    } else {
        char chunk[65536];
        for (;;) {
            ssize_t n = read(in, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (n < 0) rc = set_where(e, prod_path, 0), err_set(e, "cannot read: %s", strerror(errno));
                break;
            }
            if (write_all(out, chunk, (size_t)n) < 0) {
                rc = set_where(e, prod_path, 0), err_set(e, "cannot write the scratch copy: %s", strerror(errno));
                break;
            }
        }
    }
    close(in);
    if (close(out) < 0 && !rc) rc = set_where(e, prod_path, 0), err_set(e, "cannot write the scratch copy");
    return rc;
}

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= SCRATCH_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int copy_subdir(struct layout *l, int gendirfd, const char *subdir, const char *prod_dir,
                       enum scratch_kind kind, int rewrite)
{
    int fd = openat(gendirfd, subdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0; /* a generation without maps has no maps/ */
    if (fd < 0) return err_set(l->e, "cannot open %s/ of the generation: %s", subdir, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return err_set(l->e, "cannot read %s/ of the generation", subdir);
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char prod[PATH_MAX];
        if (!valid_name(de->d_name) ||
            snprintf(prod, sizeof(prod), "%s/%s", prod_dir, de->d_name) >= (int)sizeof(prod)) {
            rc = err_set(l->e, "%s/ holds a name that is not a plain file name", subdir);
            break;
        }
        rc = add_file(l, kind, prod);
        if (!rc) rc = copy_one(l, dirfd(d), de->d_name, prod, rewrite);
    }
    closedir(d);
    return rc;
}

static int mkdir_under(const char *root, const char *dir, struct err *e)
{
    char path[PATH_MAX], failed[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s%s", root, dir) >= (int)sizeof(path)) return err_set(e, "path too long");
    int rc = fs_mkdir_p(path, failed, sizeof(failed));
    if (rc < 0) return err_set(e, "cannot create %s: %s", failed, strerror(-rc));
    return 0;
}

int scratch_layout(const char *parent, const char *gen_dir, const struct scratch_paths *prod, struct scratch *s,
                   struct err *e)
{
    memset(s, 0, sizeof(*s));
    char cfg[PATH_MAX], maps[PATH_MAX], certs[PATH_MAX], general[PATH_MAX];
    if (normalize_dir("haproxy.config_file", prod->config_file, cfg, sizeof(cfg), e) < 0 ||
        normalize_dir("haproxy.maps_dir", prod->maps_dir, maps, sizeof(maps), e) < 0 ||
        normalize_dir("haproxy.ssl_certs_dir", prod->ssl_certs_dir, certs, sizeof(certs), e) < 0 ||
        normalize_dir("haproxy.general_dir", prod->general_dir, general, sizeof(general), e) < 0)
        return -1;
    const char *dir_of[] = {maps, certs, general, general}; /* crt-lists live with the general files */
    char *slash = strrchr(cfg, '/');

    char failed[PATH_MAX];
    int rc = fs_mkdir_p(parent, failed, sizeof(failed));
    if (rc < 0) return err_set(e, "cannot create %s: %s", failed, strerror(-rc));
    char tmpl[PATH_MAX];
    if (snprintf(tmpl, sizeof(tmpl), "%s/" SCRATCH_PREFIX "XXXXXX", parent) >= (int)sizeof(tmpl))
        return err_set(e, "scratch parent path too long");
    if (!mkdtemp(tmpl)) return err_set(e, "cannot create a scratch dir under %s: %s", parent, strerror(errno));
    s->dir = strdup(tmpl);
    *slash = '\0';
    size_t cwdlen = strlen(tmpl) + strlen(cfg) + 2;
    s->cwd = malloc(cwdlen);
    if (s->cwd) snprintf(s->cwd, cwdlen, "%s%s", tmpl, cfg[0] ? cfg : "/");
    s->cfg_name = strdup(slash + 1);
    *slash = '/';
    if (!s->dir || !s->cwd || !s->cfg_name) {
        rc = err_set(e, "out of memory");
        goto fail;
    }

    struct layout l = {.s = s, .prefixes = {maps, certs, general, cfg}, .e = e};
    *slash = '\0';
    rc = mkdir_under(s->dir, cfg[0] ? cfg : "/", e);
    *slash = '/';
    for (size_t i = 0; !rc && i < 3; i++) rc = mkdir_under(s->dir, dir_of[i], e);
    if (rc) goto fail;

    int gfd = open(gen_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (gfd < 0) {
        rc = err_set(e, "cannot open the generation %s: %s", gen_dir, strerror(errno));
        goto fail;
    }
    rc = add_file(&l, SCRATCH_CONFIG, cfg);
    if (!rc) rc = copy_one(&l, gfd, "haproxy.cfg", cfg, 1);
    for (size_t i = 0; !rc && i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
        rc = copy_subdir(&l, gfd, subdirs[i].subdir, dir_of[i], subdirs[i].kind, subdirs[i].rewrite);
    close(gfd);
    if (!rc) return 0;
fail:
    scratch_remove(s);
    return -1;
}
