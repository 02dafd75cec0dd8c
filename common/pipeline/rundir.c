/* The content-addressed run directory (see rundir.h): writer, verifying reader, garbage collection.
 * Paths inside a generation are only ever built from names that passed rundir_name_check, and every file
 * is opened relative to its directory's descriptor with O_NOFOLLOW, so a planted symlink is refused rather
 * than followed. */
#include "common/pipeline/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

/* A generation is two levels deep; anything deeper under gen/ is not ours, but GC still removes it up to
 * this depth instead of recursing without bound. */
#define RM_DEPTH_MAX 16
/* Files are hashed and copied through a buffer of this size. */
#define IO_CHUNK 65536
/* The JSON of a manifest is two levels deep; json-c's default depth bound is fine, ours is tighter. */
#define MANIFEST_JSON_DEPTH 8
#define TMP_PREFIX ".tmp-"

static const char *const kind_names[RUNDIR_KIND_COUNT] = {"config", "map", "file", "cert", "crt-list"};
static const char *const kind_dirs[RUNDIR_KIND_COUNT] = {"", "maps", "files", "certs", "crt-lists"};

const char *rundir_kind_name(int kind) { return kind >= 0 && kind < RUNDIR_KIND_COUNT ? kind_names[kind] : NULL; }

const char *rundir_kind_dir(int kind) { return kind >= 0 && kind < RUNDIR_KIND_COUNT ? kind_dirs[kind] : NULL; }

int rundir_kind_parse(const char *name)
{
    for (int k = 0; name && k < RUNDIR_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

int rundir_name_check(const char *name, struct err *e)
{
    if (!name || !*name) return err_set(e, "empty file name");
    size_t len = strlen(name);
    if (len > RUNDIR_NAME_MAX) return err_set(e, "file name longer than %d bytes", RUNDIR_NAME_MAX);
    if (strcmp(name, ".") == 0) return err_set(e, "file name \".\" is not allowed");
    if (strstr(name, "..")) return err_set(e, "file name %s contains \"..\"", name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/') return err_set(e, "file name %s contains '/'", name);
        if (c < 0x20 || c == 0x7f) return err_set(e, "file name contains control character 0x%02x", c);
    }
    return 0;
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < RUNDIR_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[RUNDIR_HEX_LEN] == '\0';
}

int rundir_checksum_check(const char *s)
{
    return s && strncmp(s, "sha256:", 7) == 0 && is_hex64(s + 7) ? 0 : -1;
}

int rundir_gen_path(const char *run_dir, const char *checksum, char *out, size_t n)
{
    if (rundir_checksum_check(checksum) < 0) return -1;
    int w = snprintf(out, n, "%s/gen/%s", run_dir, checksum + 7);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static void to_hex(const unsigned char *md, char out[RUNDIR_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[RUNDIR_HEX_LEN] = '\0';
}

static int sha256_hex(const void *data, size_t len, char out[RUNDIR_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) return -1;
    to_hex(md, out);
    return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct rundir_entry *a = pa, *b = pb;
    int c = strcmp(kind_names[a->kind], kind_names[b->kind]);
    return c ? c : strcmp(a->name, b->name);
}

/* Sorts entries canonically, refuses duplicates and a missing or extra config, and computes the checksum. */
static int canonical_checksum(struct rundir_entry *ents, size_t n, char out[RUNDIR_CHECKSUM_BUF], struct err *e)
{
    qsort(ents, n, sizeof(*ents), entry_cmp);
    size_t configs = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].kind == RUNDIR_KIND_CONFIG) configs++;
        if (i > 0 && entry_cmp(&ents[i - 1], &ents[i]) == 0)
            return err_set(e, "%s %s appears twice", kind_names[ents[i].kind], ents[i].name);
    }
    if (configs != 1) return err_set(e, "a generation needs exactly one config file, got %zu", configs);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return err_set(e, "sha256: cannot initialise");
    }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        const char *k = kind_names[ents[i].kind];
        ok = EVP_DigestUpdate(ctx, k, strlen(k) + 1) == 1 &&            /* kind \0 */
             EVP_DigestUpdate(ctx, ents[i].name, strlen(ents[i].name) + 1) == 1 &&  /* name \0 */
             EVP_DigestUpdate(ctx, ents[i].sha256, RUNDIR_HEX_LEN) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return err_set(e, "sha256: digest failed");
    memcpy(out, "sha256:", 7);
    to_hex(md, out + 7);
    return 0;
}

static int check_entry_name(int kind, const char *name, struct err *e)
{
    if (!rundir_kind_name(kind)) return err_set(e, "unknown file kind %d", kind);
    struct err why;
    if (rundir_name_check(name, &why) < 0) return err_set(e, "%s: %s", kind_names[kind], why.msg);
    if (kind == RUNDIR_KIND_CONFIG && strcmp(name, RUNDIR_CONFIG_NAME) != 0)
        return err_set(e, "the config file must be named %s, not %s", RUNDIR_CONFIG_NAME, name);
    return 0;
}

/* Entries of the writer's files (names borrowed, not owned: free only the array). */
static struct rundir_entry *entries_of(const struct rundir_file *files, size_t n, char out[RUNDIR_CHECKSUM_BUF],
                                       struct err *e)
{
    if (n > RUNDIR_MAX_FILES) {
        err_set(e, "%zu files, more than %d", n, RUNDIR_MAX_FILES);
        return NULL;
    }
    struct rundir_entry *ents = calloc(n ? n : 1, sizeof(*ents));
    if (!ents) {
        err_set(e, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (check_entry_name(files[i].kind, files[i].name, e) < 0 ||
            (files[i].len && !files[i].data) || sha256_hex(files[i].data ? files[i].data : "", files[i].len,
                                                           ents[i].sha256) < 0) {
            if (!e || !e->msg[0]) err_set(e, "cannot hash %s", files[i].name ? files[i].name : "(null)");
            free(ents);
            return NULL;
        }
        ents[i].kind = files[i].kind;
        ents[i].name = (char *)files[i].name;
        ents[i].size = files[i].len;
    }
    if (canonical_checksum(ents, n, out, e) < 0) {
        free(ents);
        return NULL;
    }
    return ents;
}

int rundir_checksum(const struct rundir_file *files, size_t n, char out[RUNDIR_CHECKSUM_BUF], struct err *e)
{
    if (e) err_clear(e);
    struct rundir_entry *ents = entries_of(files, n, out, e);
    free(ents);
    return ents ? 0 : -1;
}

/* Removes name (a file or a directory tree) under dirfd, never following symlinks. */
static int rm_tree_at(int parent, const char *name, int depth)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    if (depth >= RM_DEPTH_MAX) return -ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    /* Deleting while reading a directory may skip entries, so read it again until a pass removes nothing. */
    for (int again = 1; again && rc == 0;) {
        again = 0;
        rewinddir(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL && rc == 0) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            rc = rm_tree_at(dirfd(d), de->d_name, depth + 1);
            again = 1;
        }
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) rc = -errno;
    return rc;
}

static int rm_tree(const char *path)
{
    return rm_tree_at(AT_FDCWD, path, 0);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Creates name under dirfd with data, fsynced. */
/* No fsync here: a generation is made durable once, by rundir_sync, when it becomes the LKG (rundir.h). */
static int write_file_at(int dirfd, const char *name, const void *data, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = write_all(fd, data, len);
    if (close(fd) < 0 && rc == 0) rc = -errno;
    return rc;
}

/* The base generation's files, for reuse by hard link: its manifest parsed (not its files hashed) and a
 * descriptor per kind directory. Everything owned; base_close releases it. */
struct base {
    struct rundir_gen *g;
    int sub[RUNDIR_KIND_COUNT];
};

static int parse_manifest(const char *text, size_t len, const char *checksum, struct rundir_gen *g, struct err *e);

static void base_close(struct base *b)
{
    for (int k = 0; k < RUNDIR_KIND_COUNT; k++)
        if (b->sub[k] >= 0) close(b->sub[k]);
    rundir_gen_free(b->g);
}

/* Opens the base generation (any failure: no base, everything is written). Its files are trusted as far as
 * the manifest and each file's size go: content is not re-hashed, which is what a full rundir_open would
 * cost. A base whose file was altered in place after the manifest was written passes the damage on; the
 * readers that act on a generation (validator, deployer, lkg_load) verify it with rundir_open. */
static void base_open(const char *run_dir, const char *checksum, struct base *b)
{
    b->g = NULL;
    for (int k = 0; k < RUNDIR_KIND_COUNT; k++) b->sub[k] = -1;
    char path[PATH_MAX];
    if (!checksum || rundir_gen_path(run_dir, checksum, path, sizeof(path)) < 0) return;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return;
    char *text = NULL;
    size_t len = 0;
    struct rundir_gen *g = calloc(1, sizeof(*g));
    if (g && rundir_read_file_at(dfd, RUNDIR_MANIFEST_NAME, RUNDIR_MANIFEST_MAX, &text, &len, NULL) == 0 &&
        parse_manifest(text, len, checksum, g, NULL) == 0) {
        b->g = g;
        g = NULL;
        for (int k = 0; k < RUNDIR_KIND_COUNT; k++)
            b->sub[k] = k == RUNDIR_KIND_CONFIG ? dup(dfd)
                                                : openat(dfd, kind_dirs[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    rundir_gen_free(g);
    free(text);
    close(dfd);
}

/* Links (kind, name) from the base into dirfd when the base has it with this content; 0 when linked. */
static int link_from_base(const struct base *b, const struct rundir_entry *want, int dirfd)
{
    if (!b->g || b->sub[want->kind] < 0) return -1;
    const struct rundir_entry *have = bsearch(want, b->g->files, b->g->nfiles, sizeof(*want), entry_cmp);
    if (!have || have->size != want->size || strcmp(have->sha256, want->sha256) != 0) return -1;
    struct stat st;
    if (fstatat(b->sub[want->kind], want->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != want->size)
        return -1;
    return linkat(b->sub[want->kind], want->name, dirfd, want->name, 0);
}

static struct json_object *manifest_json(const char *checksum, const struct rundir_entry *ents, size_t n)
{
    struct json_object *m = json_object_new_object(), *arr = json_object_new_array();
    json_object_object_add(m, "checksum", json_object_new_string(checksum));
    for (size_t i = 0; i < n; i++) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "kind", json_object_new_string(kind_names[ents[i].kind]));
        json_object_object_add(f, "name", json_object_new_string(ents[i].name));
        json_object_object_add(f, "sha256", json_object_new_string(ents[i].sha256));
        json_object_object_add(f, "size", json_object_new_int64((int64_t)ents[i].size));
        json_object_array_add(arr, f);
    }
    json_object_object_add(m, "files", arr);
    return m;
}

/* Writes every file and the manifest into the (new, empty) directory tmp; a file whose content the base
 * generation already holds is hard-linked from it instead (generations are never modified in place, so
 * sharing an inode between two is safe, and creating none is most of the saving at 10k Ingresses). */
static int fill_tmp(const char *tmp, const struct rundir_file *files, size_t n, const struct rundir_entry *ents,
                    const char *checksum, const struct base *base, struct err *e)
{
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return err_set(e, "open %s: %s", tmp, strerror(errno));
    int sub[RUNDIR_KIND_COUNT];
    for (int k = 0; k < RUNDIR_KIND_COUNT; k++) sub[k] = k == RUNDIR_KIND_CONFIG ? dfd : -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int k = files[i].kind;
        if (sub[k] < 0) {
            if (mkdirat(dfd, kind_dirs[k], 0755) < 0 ||
                (sub[k] = openat(dfd, kind_dirs[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                rc = err_set(e, "mkdir %s/%s: %s", tmp, kind_dirs[k], strerror(errno));
                break;
            }
        }
        struct rundir_entry key = {.kind = k, .name = (char *)files[i].name};
        const struct rundir_entry *ent = bsearch(&key, ents, n, sizeof(*ents), entry_cmp);
        if (ent && link_from_base(base, ent, sub[k]) == 0) continue;
        int w = write_file_at(sub[k], files[i].name, files[i].data ? files[i].data : "", files[i].len);
        if (w < 0) rc = err_set(e, "write %s %s: %s", kind_names[k], files[i].name, strerror(-w));
    }
    if (rc == 0) {
        struct json_object *m = manifest_json(checksum, ents, n);
        size_t len;
        const char *s = json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN, &len);
        int w = write_file_at(dfd, RUNDIR_MANIFEST_NAME, s, len);
        json_object_put(m);
        if (w < 0) rc = err_set(e, "write manifest: %s", strerror(-w));
    }
    for (int k = 0; k < RUNDIR_KIND_COUNT; k++)
        if (k != RUNDIR_KIND_CONFIG && sub[k] >= 0) close(sub[k]);
    close(dfd);
    return rc;
}

static unsigned long next_tmp_serial(void)
{
    static unsigned long serial;
    return __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);
}

static int tmp_path(const char *gen_dir, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/" TMP_PREFIX "%ld-%lu", gen_dir, (long)getpid(), next_tmp_serial());
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int rundir_write(const char *run_dir, const struct rundir_file *files, size_t n,
                 char checksum_out[RUNDIR_CHECKSUM_BUF], struct err *e)
{
    return rundir_write_from(run_dir, NULL, files, n, checksum_out, e);
}

int rundir_write_from(const char *run_dir, const char *base_checksum, const struct rundir_file *files, size_t n,
                      char checksum_out[RUNDIR_CHECKSUM_BUF], struct err *e)
{
    if (e) err_clear(e);
    struct rundir_entry *ents = entries_of(files, n, checksum_out, e);
    if (!ents) return -1;
    char gen_dir[PATH_MAX], final[PATH_MAX], tmp[PATH_MAX];
    int rc = -1;
    if ((size_t)snprintf(gen_dir, sizeof(gen_dir), "%s/gen", run_dir) >= sizeof(gen_dir) ||
        rundir_gen_path(run_dir, checksum_out, final, sizeof(final)) < 0 ||
        tmp_path(gen_dir, tmp, sizeof(tmp)) < 0) {
        err_set(e, "run_dir path too long: %s", run_dir);
        goto out;
    }
    char failed[PATH_MAX];
    int m = fs_mkdir_p(gen_dir, failed, sizeof(failed));
    if (m < 0) {
        err_set(e, "mkdir %s: %s", failed, strerror(-m));
        goto out;
    }
    struct stat st;
    if (lstat(final, &st) == 0) {
        struct rundir_gen *g = NULL;
        struct err why;
        if (rundir_open(run_dir, checksum_out, &g, &why) == 0) {
            rundir_gen_free(g);
            rc = 1;
            goto out;
        }
        /* Broken (tampered, or damaged by a crash of the file system): move it aside, write it anew. */
        char aside[PATH_MAX];
        if (tmp_path(gen_dir, aside, sizeof(aside)) < 0 || rename(final, aside) < 0) {
            err_set(e, "cannot replace the broken generation %s (%s)", final, why.msg);
            goto out;
        }
        rm_tree(aside);
    }
    if (mkdir(tmp, 0755) < 0) {
        err_set(e, "mkdir %s: %s", tmp, strerror(errno));
        goto out;
    }
    struct base base;
    base_open(run_dir, base_checksum && strcmp(base_checksum, checksum_out) != 0 ? base_checksum : NULL, &base);
    int filled = fill_tmp(tmp, files, n, ents, checksum_out, &base, e);
    base_close(&base);
    if (filled < 0) {
        rm_tree(tmp);
        goto out;
    }
    if (rename(tmp, final) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            err_set(e, "rename %s to %s: %s", tmp, final, strerror(errno));
            rm_tree(tmp);
            goto out;
        }
        /* Another writer renamed the same checksum into place first: same bytes, done. */
        rm_tree(tmp);
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    free(ents);
    return rc;
}

int rundir_sync(const char *run_dir, const char *checksum, struct err *e)
{
    char path[PATH_MAX];
    if (rundir_gen_path(run_dir, checksum, path, sizeof(path)) < 0) return err_set(e, "malformed checksum or long run_dir");
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return err_set(e, "%s: %s", path, strerror(errno));
    /* One syncfs instead of an fsync per file and directory: the files' data, their inodes, the directory
     * entries and the rename are all on this file system, and one journal commit carries them together. */
    int rc = syncfs(fd) < 0 ? err_set(e, "syncfs %s: %s", path, strerror(errno)) : 0;
    close(fd);
    return rc;
}

/* ---- reader ---- */

void rundir_gen_free(struct rundir_gen *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->nfiles; i++) free(g->files[i].name);
    free(g->files);
    free(g->dir);
    free(g);
}

int rundir_read_file_at(int dirfd, const char *name, size_t max, char **out, size_t *len, struct err *e)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int missing = errno == ENOENT;
        err_set(e, "%s: %s", name, strerror(errno));
        return missing ? 1 : -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return err_set(e, "%s: not a regular file of at most %zu bytes", name, max);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        return err_set(e, "%s: short read", name);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

static const char *json_str(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                          : NULL;
}

/* Parses manifest.json into g->files (owned names) and checks it names checksum and hashes to it. */
static int parse_manifest(const char *text, size_t len, const char *checksum, struct rundir_gen *g, struct err *e)
{
    struct json_tokener *tok = json_tokener_new_ex(MANIFEST_JSON_DEPTH);
    if (!tok) return err_set(e, "out of memory");
    struct json_object *m = json_tokener_parse_ex(tok, text, (int)len);
    int complete = m && json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int)len;
    json_tokener_free(tok);
    int rc = -1;
    struct json_object *arr;
    const char *sum = m ? json_str(m, "checksum") : NULL;
    if (!complete || !json_object_is_type(m, json_type_object)) {
        err_set(e, "manifest.json is not one JSON object");
    } else if (!sum || strcmp(sum, checksum) != 0) {
        err_set(e, "manifest.json names checksum %s, not %s", sum ? sum : "(none)", checksum);
    } else if (!json_object_object_get_ex(m, "files", &arr) || !json_object_is_type(arr, json_type_array) ||
               json_object_array_length(arr) > RUNDIR_MAX_FILES) {
        err_set(e, "manifest.json: files is not an array of at most %d entries", RUNDIR_MAX_FILES);
    } else {
        size_t n = json_object_array_length(arr);
        g->files = calloc(n ? n : 1, sizeof(*g->files));
        rc = g->files ? 0 : err_set(e, "out of memory");
        for (size_t i = 0; i < n && rc == 0; i++) {
            struct json_object *f = json_object_array_get_idx(arr, i), *sz;
            const char *kind = json_str(f, "kind"), *name = json_str(f, "name"), *hex = json_str(f, "sha256");
            int k = rundir_kind_parse(kind);
            if (k < 0 || !name || !hex || !is_hex64(hex) || !json_object_object_get_ex(f, "size", &sz) ||
                !json_object_is_type(sz, json_type_int) || json_object_get_int64(sz) < 0) {
                rc = err_set(e, "manifest.json: file %zu is not {kind, name, sha256, size}", i);
            } else if (check_entry_name(k, name, e) == 0) {
                g->files[i].kind = k;
                g->files[i].name = strdup(name);
                memcpy(g->files[i].sha256, hex, RUNDIR_HEX_LEN + 1);
                g->files[i].size = (uint64_t)json_object_get_int64(sz);
                g->nfiles = i + 1;
                if (!g->files[i].name) rc = err_set(e, "out of memory");
            } else {
                rc = -1;
            }
        }
        char again[RUNDIR_CHECKSUM_BUF];
        if (rc == 0 && canonical_checksum(g->files, g->nfiles, again, e) < 0)
            rc = -1;
        else if (rc == 0 && strcmp(again, checksum) != 0)
            rc = err_set(e, "manifest.json lists files whose checksum is %s, not %s", again, checksum);
    }
    json_object_put(m);
    return rc;
}

/* Hashes the regular file name under dirfd and compares size and digest. */
static int verify_file_at(int dirfd, const struct rundir_entry *f, struct err *e)
{
    int fd = openat(dirfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return err_set(e, "%s %s: %s", kind_names[f->kind], f->name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size) {
        close(fd);
        return err_set(e, "%s %s: not a regular file of %llu bytes", kind_names[f->kind], f->name,
                       (unsigned long long)f->size);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    char *buf = malloc(IO_CHUNK);
    uint64_t total = 0;
    while (ok && buf) {
        ssize_t r = read(fd, buf, IO_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) ok = 0;
        if (r <= 0) break;
        total += (uint64_t)r;
        ok = EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ok = ok && buf && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    free(buf);
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (!ok) return err_set(e, "%s %s: cannot read", kind_names[f->kind], f->name);
    char hex[RUNDIR_HEX_LEN + 1];
    to_hex(md, hex);
    if (total != f->size || strcmp(hex, f->sha256) != 0)
        return err_set(e, "%s %s: content does not match the manifest (sha256 %s)", kind_names[f->kind], f->name,
                       hex);
    return 0;
}

/* Counts the entries of dirfd (without . and ..); with names set, every top-level entry must be in it. */
static long count_entries(int dirfd, const char *const *allowed, size_t nallowed, struct err *e)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return err_set(e, "cannot list directory");
    }
    rewinddir(d);
    long count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        count++;
        if (!allowed) continue;
        size_t i = 0;
        while (i < nallowed && strcmp(allowed[i], de->d_name) != 0) i++;
        if (i == nallowed) {
            err_set(e, "unexpected entry %s in the generation", de->d_name);
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return count;
}

static int verify_dir(int dfd, const struct rundir_gen *g, struct err *e)
{
    static const char *const top[] = {RUNDIR_CONFIG_NAME, RUNDIR_MANIFEST_NAME, "maps", "files", "certs",
                                      "crt-lists"};
    size_t per_kind[RUNDIR_KIND_COUNT] = {0};
    for (size_t i = 0; i < g->nfiles; i++) per_kind[g->files[i].kind]++;
    long n = count_entries(dfd, top, sizeof(top) / sizeof(top[0]), e);
    if (n < 0) return -1;
    long expect = 2; /* haproxy.cfg, manifest.json */
    for (int k = 1; k < RUNDIR_KIND_COUNT; k++) expect += per_kind[k] ? 1 : 0;
    if (n != expect) return err_set(e, "the generation holds %ld entries, its manifest %ld", n, expect);
    int sub[RUNDIR_KIND_COUNT];
    for (int k = 0; k < RUNDIR_KIND_COUNT; k++) {
        sub[k] = k == RUNDIR_KIND_CONFIG ? dfd : -1;
        if (k == RUNDIR_KIND_CONFIG || !per_kind[k]) continue;
        sub[k] = openat(dfd, kind_dirs[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        long c = sub[k] < 0 ? -1 : count_entries(sub[k], NULL, 0, e);
        if (c != (long)per_kind[k]) {
            err_set(e, "%s/ holds %ld entries, the manifest %zu", kind_dirs[k], c, per_kind[k]);
            for (int j = 1; j <= k; j++)
                if (sub[j] >= 0) close(sub[j]);
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < g->nfiles && rc == 0; i++) rc = verify_file_at(sub[g->files[i].kind], &g->files[i], e);
    for (int k = 1; k < RUNDIR_KIND_COUNT; k++)
        if (sub[k] >= 0) close(sub[k]);
    return rc;
}

int rundir_open(const char *run_dir, const char *checksum, struct rundir_gen **out, struct err *e)
{
    if (e) err_clear(e);
    *out = NULL;
    char path[PATH_MAX];
    if (rundir_checksum_check(checksum) < 0) return err_set(e, "malformed checksum");
    if (rundir_gen_path(run_dir, checksum, path, sizeof(path)) < 0) return err_set(e, "run_dir path too long");
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return err_set(e, "%s: %s", path, strerror(errno));
    struct rundir_gen *g = calloc(1, sizeof(*g));
    char *text = NULL;
    size_t len = 0;
    int rc = g ? 0 : err_set(e, "out of memory");
    if (rc == 0) {
        memcpy(g->checksum, checksum, strlen(checksum) + 1);
        g->dir = strdup(path);
        rc = g->dir ? 0 : err_set(e, "out of memory");
    }
    if (rc == 0 && rundir_read_file_at(dfd, RUNDIR_MANIFEST_NAME, RUNDIR_MANIFEST_MAX, &text, &len, e) != 0) rc = -1;
    if (rc == 0) rc = parse_manifest(text, len, checksum, g, e);
    if (rc == 0) rc = verify_dir(dfd, g, e);
    free(text);
    close(dfd);
    if (rc < 0) {
        rundir_gen_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* ---- garbage collection ---- */

/* The pid of a .tmp-<pid>-<n> name, or 0. */
static pid_t tmp_writer(const char *name)
{
    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) return 0;
    char *end;
    long pid = strtol(name + strlen(TMP_PREFIX), &end, 10);
    return pid > 0 && *end == '-' ? (pid_t)pid : 0;
}

int rundir_gc(const char *run_dir, const char *const *keep, size_t n, int64_t min_age_s,
              struct rundir_gc_stats *stats, struct err *e)
{
    struct rundir_gc_stats s = {0};
    if (e) err_clear(e);
    char gen_dir[PATH_MAX];
    if ((size_t)snprintf(gen_dir, sizeof(gen_dir), "%s/gen", run_dir) >= sizeof(gen_dir))
        return err_set(e, "run_dir path too long");
    DIR *d = opendir(gen_dir);
    if (!d) {
        if (stats) *stats = s;
        return errno == ENOENT ? 0 : err_set(e, "%s: %s", gen_dir, strerror(errno));
    }
    /* Names first, removal after: removing while reading a directory may skip entries. */
    char **names = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_hex64(de->d_name) && !tmp_writer(de->d_name)) continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*names));
            if (!nn) {
                rc = err_set(e, "out of memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[len] = strdup(de->d_name))) {
            rc = err_set(e, "out of memory");
            break;
        }
        len++;
    }
    int gfd = dirfd(d);
    time_t now = time(NULL);
    for (size_t i = 0; i < len && rc == 0; i++) {
        pid_t writer = tmp_writer(names[i]);
        if (writer) {
            /* Our own temp dirs may be in use by another thread; a live writer's are in use. */
            if (writer == getpid() || kill(writer, 0) == 0 || errno != ESRCH) continue;
            if (rm_tree_at(gfd, names[i], 0) == 0)
                s.tmp_removed++;
            else
                s.failed++;
            continue;
        }
        int kept = 0;
        for (size_t k = 0; k < n && !kept; k++)
            kept = keep[k] && rundir_checksum_check(keep[k]) == 0 && strcmp(keep[k] + 7, names[i]) == 0;
        struct stat st;
        if (!kept && min_age_s > 0 && fstatat(gfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (int64_t)(now - st.st_mtime) < min_age_s)
            kept = 1;
        if (kept)
            s.kept++;
        else if (rm_tree_at(gfd, names[i], 0) == 0)
            s.removed++;
        else
            s.failed++;
    }
    for (size_t i = 0; i < len; i++) free(names[i]);
    free(names);
    closedir(d);
    if (stats) *stats = s;
    return rc;
}
