/* Lease JSON to lease_object and back (see lease_json.h). */
#include "elector/lease_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The string at parent.key: *s NULL when absent or null (read as ""). 0, or -1 when not a string. */
static int string_at(struct json_object *parent, const char *key, const char **s, size_t *len, const char *where,
                     struct err *e)
{
    struct json_object *v;
    *s = NULL;
    *len = 0;
    if (!json_object_object_get_ex(parent, key, &v) || v == NULL) return 0;
    if (!json_object_is_type(v, json_type_string)) return err_set(e, "%s.%s: expected a string", where, key);
    *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 0;
}

static int get_string(struct json_object *parent, const char *key, char *out, size_t n, const char *where, struct err *e)
{
    const char *s;
    size_t len;
    out[0] = '\0';
    if (string_at(parent, key, &s, &len, where, e) < 0) return -1;
    if (!s) return 0;
    if (len >= n) return err_set(e, "%s.%s: longer than %zu characters", where, key, n - 1);
    memcpy(out, s, len + 1);
    return 0;
}

/* FNV-1a, 64 bits: tells shortened foreign strings apart (see LEASE_FOREIGN_KEPT_MAX). */
static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A string another client wrote (holder, preferredHolder, strategy): any length the API can store, kept
 * whole up to LEASE_IDENTITY_MAX bytes and shortened beyond. out needs LEASE_FOREIGN_KEPT_MAX + 1. */
static int get_foreign_string(struct json_object *parent, const char *key, char *out, const char *where,
                              struct err *e)
{
    const char *s;
    size_t len;
    out[0] = '\0';
    if (string_at(parent, key, &s, &len, where, e) < 0) return -1;
    if (!s) return 0;
    if (len > LEASE_FOREIGN_STR_MAX)
        return err_set(e, "%s.%s: longer than the API can store (%zu bytes)", where, key, len);
    if (len <= LEASE_IDENTITY_MAX) {
        memcpy(out, s, len + 1);
        return 0;
    }
    size_t keep = LEASE_IDENTITY_MAX;
    while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80) keep--; /* not inside a UTF-8 sequence */
    memcpy(out, s, keep);
    snprintf(out + keep, LEASE_FOREIGN_KEPT_MAX + 1 - keep, "...[%zu bytes, fnv1a64 %016" PRIx64 "]", len,
             fnv1a64(s, len));
    return 0;
}

_Static_assert(LEASE_FOREIGN_KEPT_MAX - LEASE_IDENTITY_MAX >= sizeof("...[1572864 bytes, fnv1a64 0123456789abcdef]"),
               "the shortened form must fit");

static int get_int32(struct json_object *parent, const char *key, int32_t *out, const char *where,
                     struct err *e)
{
    struct json_object *v;
    *out = 0;
    if (!json_object_object_get_ex(parent, key, &v) || v == NULL) return 0;
    if (!json_object_is_type(v, json_type_int)) return err_set(e, "%s.%s: expected an integer", where, key);
    int64_t x = json_object_get_int64(v);
    if (x < INT32_MIN || x > INT32_MAX) return err_set(e, "%s.%s: out of int32 range", where, key);
    *out = (int32_t)x;
    return 0;
}

static int get_time(struct json_object *parent, const char *key, struct lease_time *out, const char *where,
                    struct err *e)
{
    struct json_object *v;
    memset(out, 0, sizeof(*out));
    if (!json_object_object_get_ex(parent, key, &v) || v == NULL) return 0;
    if (!json_object_is_type(v, json_type_string)) return err_set(e, "%s.%s: expected a time string", where, key);
    if (lease_microtime_parse(json_object_get_string(v), out) < 0)
        return err_set(e, "%s.%s: not an RFC3339 time: %.64s", where, key, json_object_get_string(v));
    return 0;
}

int lease_json_parse(struct json_object *obj, struct lease_object *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object)) return err_set(e, "lease: not a JSON object");
    struct json_object *meta, *spec;
    if (!json_object_object_get_ex(obj, "metadata", &meta) || !json_object_is_type(meta, json_type_object))
        return err_set(e, "lease: no metadata");
    if (get_string(meta, "resourceVersion", out->resource_version, sizeof(out->resource_version), "metadata", e) ||
        get_string(meta, "uid", out->uid, sizeof(out->uid), "metadata", e))
        return -1;
    if (!json_object_object_get_ex(obj, "spec", &spec) || spec == NULL) return 0; /* all zero values */
    if (!json_object_is_type(spec, json_type_object)) return err_set(e, "lease.spec: not an object");
    struct lease_record *r = &out->rec;
    if (get_foreign_string(spec, "holderIdentity", r->holder, "spec", e) ||
        get_int32(spec, "leaseDurationSeconds", &r->duration_s, "spec", e) ||
        get_time(spec, "acquireTime", &r->acquire, "spec", e) || get_time(spec, "renewTime", &r->renew, "spec", e) ||
        get_int32(spec, "leaseTransitions", &r->transitions, "spec", e) ||
        get_foreign_string(spec, "strategy", r->strategy, "spec", e) ||
        get_foreign_string(spec, "preferredHolder", r->preferred_holder, "spec", e))
        return -1;
    return 0;
}

static struct json_object *time_json(const struct lease_time *t)
{
    if (!t->set) return NULL; /* serialises as null */
    char s[LEASE_MICROTIME_LEN];
    lease_microtime_format(t, s, sizeof(s));
    return json_object_new_string(s);
}

struct json_object *lease_json_spec(const struct lease_record *rec)
{
    struct json_object *spec = json_object_new_object();
    json_object_object_add(spec, "holderIdentity", json_object_new_string(rec->holder));
    json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(rec->duration_s));
    json_object_object_add(spec, "acquireTime", time_json(&rec->acquire));
    json_object_object_add(spec, "renewTime", time_json(&rec->renew));
    json_object_object_add(spec, "leaseTransitions", json_object_new_int(rec->transitions));
    return spec;
}

struct json_object *lease_json_for_create(const char *ns, const char *name, const struct lease_record *rec)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
    json_object_object_add(o, "kind", json_object_new_string("Lease"));
    struct json_object *meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(meta, "namespace", json_object_new_string(ns));
    json_object_object_add(o, "metadata", meta);
    json_object_object_add(o, "spec", lease_json_spec(rec));
    return o;
}

struct json_object *lease_json_for_update(struct json_object *cached, const struct lease_record *rec,
                                          const char *rv)
{
    struct json_object *meta, *copy = NULL;
    if (!cached || !json_object_is_type(cached, json_type_object) ||
        !json_object_object_get_ex(cached, "metadata", &meta) || !json_object_is_type(meta, json_type_object))
        return NULL;
    if (json_object_deep_copy(cached, &copy, NULL) != 0) return NULL;
    json_object_object_get_ex(copy, "metadata", &meta);
    json_object_object_del(meta, "managedFields");
    json_object_object_add(meta, "resourceVersion", json_object_new_string(rv ? rv : ""));
    json_object_object_add(copy, "spec", lease_json_spec(rec));
    if (!json_object_object_get_ex(copy, "apiVersion", NULL))
        json_object_object_add(copy, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
    if (!json_object_object_get_ex(copy, "kind", NULL))
        json_object_object_add(copy, "kind", json_object_new_string("Lease"));
    return copy;
}
