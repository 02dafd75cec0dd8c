/* The last-known-good on disk (see lkg.h). */
#include "workers/executor/lkg.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/pipeline/rundir.h"

/* lkg.json is two levels deep (object, quarantined array of objects). */
#define LKG_JSON_DEPTH 8
#define LKG_FORMAT_VERSION 1

void lkg_format_time(int64_t wall_ms, char *out, size_t n)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int)(wall_ms % 1000));
}

static struct json_object *lkg_json(const struct gen_lkg *lkg, const struct gen_quarantined *q, size_t nq)
{
    char at[40];
    lkg_format_time(lkg->at_wall_ms, at, sizeof(at));
    struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
    json_object_object_add(o, "version", json_object_new_int(LKG_FORMAT_VERSION));
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)lkg->generation));
    json_object_object_add(o, "checksum", json_object_new_string(lkg->checksum));
    json_object_object_add(o, "at", json_object_new_string(at));
    json_object_object_add(o, "at_ms", json_object_new_int64(lkg->at_wall_ms));
    for (size_t i = 0; i < nq; i++) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "resource", json_object_new_string(q[i].obj.resource));
        json_object_object_add(e, "namespace", json_object_new_string(q[i].obj.namespace));
        json_object_object_add(e, "name", json_object_new_string(q[i].obj.name));
        json_object_object_add(e, "reason", json_object_new_string(q[i].reason ? q[i].reason : ""));
        json_object_object_add(e, "since_ms", json_object_new_int64(q[i].since_wall_ms));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "quarantined", arr);
    return o;
}

int lkg_save(const char *run_dir, const struct gen_lkg *lkg, const struct gen_quarantined *q, size_t nq,
             struct err *e)
{
    char path[PATH_MAX], tmp[PATH_MAX], failed[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", run_dir, LKG_FILE_NAME) >= sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%ld", run_dir, LKG_FILE_NAME, (long)getpid()) >= sizeof(tmp))
        return err_set(e, "run_dir path too long");
    int m = fs_mkdir_p(run_dir, failed, sizeof(failed));
    if (m < 0) return err_set(e, "mkdir %s: %s", failed, strerror(-m));
    struct json_object *o = lkg_json(lkg, q, nq);
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = err_set(e, "open %s: %s", tmp, strerror(errno));
    } else {
        size_t off = 0;
        while (off < len && rc == 0) {
            ssize_t w = write(fd, s + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) rc = err_set(e, "write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
            else off += (size_t)w;
        }
        if (rc == 0 && fsync(fd) < 0) rc = err_set(e, "fsync %s: %s", tmp, strerror(errno));
        if (close(fd) < 0 && rc == 0) rc = err_set(e, "close %s: %s", tmp, strerror(errno));
        if (rc == 0 && rename(tmp, path) < 0) rc = err_set(e, "rename %s: %s", path, strerror(errno));
        if (rc < 0) unlink(tmp);
    }
    json_object_put(o);
    if (rc == 0) {
        int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) rc = err_set(e, "fsync %s: %s", run_dir, strerror(errno));
        if (dfd >= 0) close(dfd);
    }
    return rc;
}

void lkg_state_free(struct lkg_state *s)
{
    for (size_t i = 0; i < s->nquarantined; i++) {
        gen_object_free(&s->quarantined[i].obj);
        free(s->quarantined[i].reason);
    }
    free(s->quarantined);
    memset(s, 0, sizeof(*s));
}

static const char *str_field(struct json_object *o, const char *k, size_t max)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return (size_t)json_object_get_string_len(v) <= max ? json_object_get_string(v) : NULL;
}

static int int_field(struct json_object *o, const char *k, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int)) return -1;
    *out = json_object_get_int64(v);
    return 0;
}

static int parse(const char *text, size_t len, struct lkg_state *out, struct err *e)
{
    struct json_tokener *tok = json_tokener_new_ex(LKG_JSON_DEPTH);
    if (!tok) return err_set(e, "out of memory");
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    int complete = o && json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int)len;
    json_tokener_free(tok);
    int64_t version = 0, generation = 0, at_ms = 0;
    const char *checksum = o ? str_field(o, "checksum", GEN_CHECKSUM_MAX - 1) : NULL;
    struct json_object *arr = NULL;
    int rc = 0;
    if (!complete || !json_object_is_type(o, json_type_object))
        rc = err_set(e, "not one JSON object");
    else if (int_field(o, "version", &version) < 0 || version != LKG_FORMAT_VERSION)
        rc = err_set(e, "unknown format version");
    else if (int_field(o, "generation", &generation) < 0 || generation < 1)
        rc = err_set(e, "generation is not a positive integer");
    else if (!checksum || rundir_checksum_check(checksum) < 0)
        rc = err_set(e, "checksum is not sha256:<64 hex>");
    else if (int_field(o, "at_ms", &at_ms) < 0)
        rc = err_set(e, "at_ms is not an integer");
    else if (!json_object_object_get_ex(o, "quarantined", &arr) || !json_object_is_type(arr, json_type_array) ||
             json_object_array_length(arr) > GEN_MAX_QUARANTINED)
        rc = err_set(e, "quarantined is not an array of at most %d entries", GEN_MAX_QUARANTINED);
    if (rc == 0) {
        out->lkg.generation = (uint64_t)generation;
        snprintf(out->lkg.checksum, sizeof(out->lkg.checksum), "%s", checksum);
        out->lkg.at_wall_ms = at_ms;
        size_t n = json_object_array_length(arr);
        out->quarantined = calloc(n ? n : 1, sizeof(*out->quarantined));
        if (!out->quarantined) rc = err_set(e, "out of memory");
        for (size_t i = 0; i < n && rc == 0; i++) {
            struct json_object *q = json_object_array_get_idx(arr, i);
            struct gen_object obj = {str_field(q, "resource", LKG_FIELD_MAX), str_field(q, "namespace", LKG_FIELD_MAX),
                                     str_field(q, "name", LKG_FIELD_MAX)};
            const char *reason = str_field(q, "reason", GEN_MESSAGE_MAX);
            int64_t since = 0;
            if (!obj.resource || !obj.namespace || !obj.name || !*obj.resource || !*obj.name || !reason ||
                int_field(q, "since_ms", &since) < 0) {
                rc = err_set(e, "quarantined entry %zu is not {resource, namespace, name, reason, since_ms}", i);
                break;
            }
            struct gen_quarantined *dst = &out->quarantined[i];
            if (gen_object_copy(&dst->obj, &obj) < 0 || !(dst->reason = strdup(reason))) {
                if (dst->obj.resource) gen_object_free(&dst->obj);
                rc = err_set(e, "out of memory");
                break;
            }
            dst->since_wall_ms = since;
            out->nquarantined = i + 1;
        }
    }
    json_object_put(o);
    return rc;
}

int lkg_load(const char *run_dir, struct lkg_state *out, struct err *why)
{
    memset(out, 0, sizeof(*out));
    if (why) err_clear(why);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", run_dir, LKG_FILE_NAME) >= sizeof(path)) {
        err_set(why, "run_dir path too long");
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    int r = rundir_read_file_at(AT_FDCWD, path, LKG_FILE_MAX, &text, &len, why);
    if (r != 0) {
        if (r == 1 && why) err_clear(why); /* no file: no LKG yet, nothing to complain about */
        return 0;
    }
    struct err e;
    err_clear(&e);
    int rc = parse(text, len, out, &e);
    free(text);
    if (rc < 0) {
        lkg_state_free(out);
        err_set(why, "%s: %s", path, e.msg);
        return 0;
    }
    struct rundir_gen *g = NULL;
    if (rundir_open(run_dir, out->lkg.checksum, &g, &e) < 0) {
        err_set(why, "the LKG's generation %llu (%s) cannot be used: %s", (unsigned long long)out->lkg.generation,
                out->lkg.checksum, e.msg);
        lkg_state_free(out);
        return 0;
    }
    rundir_gen_free(g);
    return 1;
}
