/* Writes: create, update (PUT), patch and delete with kube-apiserver's rules (server-set metadata,
 * resourceVersion and UID preconditions, create-on-update for Leases, no-op writes, status subresource,
 * generation), followed by commit, audit and the answer. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

/* ---- request bodies ---- */

static struct json_object *parse_body(struct http_request *req, const struct sim_resource *r, int allow_array)
{
    const char *ct = http_request_header(req, "Content-Type");
    if (ct && (strstr(ct, "protobuf") || strstr(ct, "yaml") || strstr(ct, "cbor"))) {
        sim_send_status(req, 415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json, application/merge-patch+json, application/strategic-merge-patch+json, "
                        "application/json-patch+json",
                        NULL);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *o = json_tokener_parse_ex(tok, buf_cstr(&req->body), (int)req->body.len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success || (!json_object_is_type(o, json_type_object) &&
                                            !(allow_array && json_object_is_type(o, json_type_array)))) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s in version \"%s\" cannot be handled as a %s: %s", r->kind, r->version,
                 r->kind, o ? "expected a JSON object" : json_tokener_error_desc(e));
        json_object_put(o);
        sim_send_bad_request(req, msg);
        return NULL;
    }
    return o;
}

struct json_object *sim_meta_of(struct json_object *o)
{
    struct json_object *m;
    if (json_object_object_get_ex(o, "metadata", &m) && json_object_is_type(m, json_type_object)) return m;
    m = json_object_new_object();
    json_object_object_add(o, "metadata", m);
    return m;
}

const char *sim_mget(struct json_object *meta, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(meta, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* Defaults kind/apiVersion and namespace; checks them against the URL. -1 when answered. */
static int check_identity(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                          const char *ns)
{
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    struct json_object *v;
    if (json_object_object_get_ex(o, "apiVersion", &v) && v && strcmp(json_object_get_string(v), av) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "the API version in the data (%s) does not match the expected API version (%s)",
                 json_object_get_string(v), av);
        sim_send_bad_request(req, msg);
        return -1;
    }
    if (json_object_object_get_ex(o, "kind", &v) && v && strcmp(json_object_get_string(v), r->kind) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s in version \"%s\" cannot be handled as a %s: the kind in the data (%s) does "
                 "not match the expected kind (%s)", r->kind, r->version, r->kind, json_object_get_string(v), r->kind);
        sim_send_bad_request(req, msg);
        return -1;
    }
    json_object_object_add(o, "kind", json_object_new_string(r->kind));
    json_object_object_add(o, "apiVersion", json_object_new_string(av));
    struct json_object *meta = sim_meta_of(o);
    if (r->namespaced) {
        const char *bns = sim_mget(meta, "namespace");
        if (bns && bns[0] && strcmp(bns, ns) != 0) {
            sim_send_bad_request(req, "the namespace of the provided object does not match the namespace sent on the request");
            return -1;
        }
        json_object_object_add(meta, "namespace", json_object_new_string(ns));
    } else {
        json_object_object_del(meta, "namespace");
    }
    return 0;
}

static const char *field_manager(struct http_request *req, char *out, size_t n)
{
    if (sim_qget(req->query, "fieldManager", out, n) == 1 && out[0]) return out;
    const char *ua = http_request_header(req, "User-Agent");
    snprintf(out, n, "%s", ua ? ua : "unknown");
    char *slash = strchr(out, '/');
    if (slash) *slash = '\0';
    return out;
}

/* One managedFields entry per manager and operation, time refreshed on write. */
static void touch_managed_fields(struct http_request *req, struct json_object *meta, const char *op,
                                 const char *av)
{
    char mgr[160], t[40];
    field_manager(req, mgr, sizeof(mgr));
    sim_time_rfc3339(t, sizeof(t));
    struct json_object *mf, *out = json_object_new_array();
    if (json_object_object_get_ex(meta, "managedFields", &mf) && json_object_is_type(mf, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(mf); i++) {
            struct json_object *e = json_object_array_get_idx(mf, i), *m, *o;
            if (json_object_object_get_ex(e, "manager", &m) && json_object_object_get_ex(e, "operation", &o) &&
                strcmp(json_object_get_string(m), mgr) == 0 && strcmp(json_object_get_string(o), op) == 0)
                continue;
            json_object_array_add(out, json_object_get(e));
        }
    }
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "manager", json_object_new_string(mgr));
    json_object_object_add(e, "operation", json_object_new_string(op));
    json_object_object_add(e, "apiVersion", json_object_new_string(av));
    json_object_object_add(e, "time", json_object_new_string(t));
    json_object_object_add(e, "fieldsType", json_object_new_string("FieldsV1"));
    json_object_object_add(e, "fieldsV1", json_object_new_object());
    json_object_array_add(out, e);
    json_object_object_add(meta, "managedFields", out);
}

static int namespace_exists(struct sim *sim, const char *ns)
{
    return sim_store_get(&sim->store, sim_resource_find("", "v1", "namespaces"), "", ns) != NULL;
}

static void create_namespace(struct sim *sim, const char *ns)
{
    struct json_object *o = json_object_new_object();
    struct json_object *meta = sim_meta_of(o);
    json_object_object_add(meta, "name", json_object_new_string(ns));
    char err[256];
    sim_store_insert_new(sim, sim_resource_find("", "v1", "namespaces"), o, err, sizeof(err));
    json_object_put(o);
}

/* Server-side fields of a new object; used by API creates and by seeding. */
static void prepare_create(const struct sim_resource *r, struct json_object *o, int from_api)
{
    struct json_object *meta = sim_meta_of(o);
    char uid[40], t[40];
    sim_uuid(uid);
    sim_time_rfc3339(t, sizeof(t));
    json_object_object_add(meta, "uid", json_object_new_string(uid));
    json_object_object_add(meta, "creationTimestamp", json_object_new_string(t));
    json_object_object_del(meta, "deletionTimestamp");
    json_object_object_del(meta, "selfLink");
    if (r->has_generation) json_object_object_add(meta, "generation", json_object_new_int(1));
    else json_object_object_del(meta, "generation");
    if (strcmp(r->plural, "namespaces") == 0) {
        struct json_object *labels;
        if (!json_object_object_get_ex(meta, "labels", &labels) || !json_object_is_type(labels, json_type_object)) {
            labels = json_object_new_object();
            json_object_object_add(meta, "labels", labels);
        }
        json_object_object_add(labels, "kubernetes.io/metadata.name", json_object_new_string(sim_mget(meta, "name")));
        struct json_object *spec = json_object_new_object(), *fin = json_object_new_array();
        json_object_array_add(fin, json_object_new_string("kubernetes"));
        json_object_object_add(spec, "finalizers", fin);
        json_object_object_add(o, "spec", spec);
        struct json_object *st = json_object_new_object();
        json_object_object_add(st, "phase", json_object_new_string("Active"));
        json_object_object_add(o, "status", st);
    } else if (from_api && (strcmp(r->plural, "ingresses") == 0 || strcmp(r->plural, "services") == 0)) {
        json_object_object_del(o, "status");
    }
}

int sim_store_insert_new(struct sim *sim, const struct sim_resource *r, struct json_object *o, char *err,
                         size_t errlen)
{
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        snprintf(err, errlen, "%s", inv.message);
        return -1;
    }
    struct json_object *meta = sim_meta_of(o);
    const char *ns = r->namespaced ? sim_mget(meta, "namespace") : "";
    if (r->namespaced && (!ns || !ns[0])) {
        ns = "default";
        json_object_object_add(meta, "namespace", json_object_new_string("default"));
    }
    if (!r->namespaced) json_object_object_del(meta, "namespace");
    const char *name = sim_mget(meta, "name");
    if (sim_store_get(&sim->store, r, ns, name)) {
        char q[128];
        sim_resource_qualified(r, q, sizeof(q));
        snprintf(err, errlen, "%s \"%s\" already exists", q, name);
        return -1;
    }
    if (r->namespaced && !namespace_exists(sim, ns)) create_namespace(sim, ns);
    json_object_object_del(meta, "resourceVersion");
    prepare_create(r, o, 0);
    struct sim_obj *ob = sim_obj_new(r, o, sim->store.rv + 1);
    sim_store_commit(&sim->store, SIM_ADDED, ob, NULL);
    return 0;
}


/* ---- writes ---- */


int sim_dry_run(struct http_request *req)
{
    char v[16];
    return sim_qget(req->query, "dryRun", v, sizeof(v)) == 1 && strcmp(v, "All") == 0;
}

static int check_field_validation(struct http_request *req, const char *opts_kind)
{
    char v[32];
    if (sim_qget(req->query, "fieldValidation", v, sizeof(v)) != 1 || !v[0]) return 0;
    if (!strcmp(v, "Ignore") || !strcmp(v, "Warn") || !strcmp(v, "Strict")) return 0;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"%s\": "
             "supported values: \"Ignore\", \"Strict\", \"Warn\"", opts_kind, v);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "group", json_object_new_string("meta.k8s.io"));
    json_object_object_add(d, "kind", json_object_new_string(opts_kind));
    sim_send_status(req, 422, "Invalid", msg, d);
    return -1;
}

/* Stores o (a full object with kind/apiVersion) as a new version of prev (NULL: create) and answers. */
static void commit_and_respond(struct sim *sim, struct http_request *req, const struct sim_resource *r,
                               struct json_object *o, struct sim_obj *prev, const char *verb, int created_code)
{
    if (sim_dry_run(req)) {
        struct sim_obj *tmp = sim_obj_new(r, o, prev ? prev->rv : sim->store.rv);
        sim_send_obj(req, prev ? 200 : created_code, tmp);
        sim_obj_unref(tmp);
        return;
    }
    struct sim_obj *ob = sim_obj_new(r, o, sim->store.rv + 1);
    sim_store_commit(&sim->store, prev ? SIM_MODIFIED : SIM_ADDED, sim_obj_ref(ob), prev);
    sim_audit(sim, req, verb, ob, sim_user);
    sim_send_obj(req, prev ? 200 : created_code, ob);
    sim_obj_unref(ob);
}

static void do_create(struct sim *sim, struct http_request *req, const struct sim_target *t, struct json_object *o,
                      int code, const char *verb)
{
    const struct sim_resource *r = t->r;
    struct json_object *meta = sim_meta_of(o);
    if (sim_mget(meta, "resourceVersion") && sim_mget(meta, "resourceVersion")[0] && strcmp(verb, "create") == 0) {
        sim_send_status(req, 500, "", "resourceVersion should not be set on objects to be created", NULL);
        return;
    }
    json_object_object_del(meta, "resourceVersion");
    const char *name = sim_mget(meta, "name");
    const char *gen = sim_mget(meta, "generateName");
    if ((!name || !name[0]) && gen && gen[0]) {
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char nm[SIM_MAX_NAME + 8];
        unsigned char rnd[5];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) memset(rnd, 7, sizeof(rnd));
        int n = snprintf(nm, sizeof(nm) - 6, "%s", gen);
        for (int i = 0; i < 5; i++) nm[n + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        nm[n + 5] = '\0';
        json_object_object_add(meta, "name", json_object_new_string(nm));
    }
    if (sim_unknown_fields(req, r, o, sim_mget(meta, "name") ? sim_mget(meta, "name") : "") < 0) return;
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        sim_send_invalid(req, r, sim_mget(meta, "name") ? sim_mget(meta, "name") : "", &inv);
        return;
    }
    name = sim_mget(meta, "name");
    if (r->namespaced && !namespace_exists(sim, t->ns)) {
        if (sim->opt.auto_namespaces) {
            create_namespace(sim, t->ns);
        } else {
            char msg[400];
            snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", t->ns);
            struct json_object *d = json_object_new_object();
            json_object_object_add(d, "name", json_object_new_string(t->ns));
            json_object_object_add(d, "kind", json_object_new_string("namespaces"));
            sim_send_status(req, 404, "NotFound", msg, d);
            return;
        }
    }
    if (sim_store_get(&sim->store, r, t->ns, name)) {
        char q[128], msg[600];
        sim_resource_qualified(r, q, sizeof(q));
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists", q, name);
        sim_send_status(req, 409, "AlreadyExists", msg, sim_details_for(r, name));
        return;
    }
    prepare_create(r, o, 1);
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    touch_managed_fields(req, meta, "Update", av);
    commit_and_respond(sim, req, r, o, NULL, verb, code);
}

/* Go decodes a JSON null into a nil field, which is then omitted: drop null members of objects. */
static void strip_nulls(struct json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) strip_nulls(json_object_array_get_idx(o, i));
        return;
    }
    if (!json_object_is_type(o, json_type_object)) return;
    char *nulls[64];
    int n = 0;
    json_object_object_foreach(o, k, v)
    {
        if (!v && n < 64) nulls[n++] = k;
        else strip_nulls(v);
    }
    for (int i = 0; i < n; i++) json_object_object_del(o, nulls[i]);
}

int sim_unknown_fields(struct http_request *req, const struct sim_resource *r, struct json_object *o,
                          const char *name)
{
    strip_nulls(o);
    char mode[32];
    if (sim_qget(req->query, "fieldValidation", mode, sizeof(mode)) != 1) mode[0] = '\0';
    struct sim_invalid inv;
    sim_warning[0] = '\0';
    if (sim_check_unknown_fields(r, o, mode, sim_warning, sizeof(sim_warning), &inv) < 0) {
        sim_send_invalid(req, r, name, &inv);
        return -1;
    }
    return 0;
}

void sim_handle_create(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    if (check_field_validation(req, "CreateOptions") < 0) return;
    struct json_object *o = parse_body(req, t->r, 0);
    if (!o) return;
    if (check_identity(req, t->r, o, t->ns) == 0) do_create(sim, req, t, o, 201, "create");
    json_object_put(o);
}

static int spec_changed(struct json_object *a, struct json_object *b)
{
    struct json_object *sa = NULL, *sb = NULL;
    json_object_object_get_ex(a, "spec", &sa);
    json_object_object_get_ex(b, "spec", &sb);
    if (!sa && !sb) return 0;
    if (!sa || !sb) return 1;
    return !json_object_equal(sa, sb);
}

/* The common part of PUT and PATCH once the new full object is known: preconditions already checked. */
static void update_existing(struct sim *sim, struct http_request *req, const struct sim_target *t, struct json_object *o,
                            struct sim_obj *prev, const char *verb)
{
    const struct sim_resource *r = t->r;
    struct json_object *old = sim_obj_parse(prev);
    struct json_object *meta = sim_meta_of(o), *ometa = sim_meta_of(old), *v;
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    json_object_object_add(old, "kind", json_object_new_string(r->kind));
    json_object_object_add(old, "apiVersion", json_object_new_string(av));
    if (t->sub[0]) {
        /* status subresource: only status changes */
        struct json_object *st = NULL;
        json_object_object_get_ex(o, "status", &st);
        struct json_object *n = NULL;
        json_object_deep_copy(old, &n, NULL);
        if (st) json_object_object_add(n, "status", json_object_get(st));
        else json_object_object_del(n, "status");
        json_object_put(o);
        o = n;
        meta = sim_meta_of(o);
    } else if (r->has_status && strcmp(r->plural, "namespaces") != 0) {
        if (json_object_object_get_ex(old, "status", &v)) json_object_object_add(o, "status", json_object_get(v));
        else json_object_object_del(o, "status");
    } else if (strcmp(r->plural, "namespaces") == 0) {
        if (json_object_object_get_ex(old, "status", &v)) json_object_object_add(o, "status", json_object_get(v));
    }
    /* server-owned metadata comes from the stored object */
    const char *keep[] = {"uid", "creationTimestamp", "generation", "deletionTimestamp", NULL};
    for (int i = 0; keep[i]; i++) {
        if (json_object_object_get_ex(ometa, keep[i], &v)) json_object_object_add(meta, keep[i], json_object_get(v));
        else json_object_object_del(meta, keep[i]);
    }
    struct json_object *mf;
    if (!json_object_object_get_ex(meta, "managedFields", &mf) || !mf ||
        (json_object_is_type(mf, json_type_array) && json_object_array_length(mf) == 0)) {
        if (json_object_object_get_ex(ometa, "managedFields", &v)) json_object_object_add(meta, "managedFields", json_object_get(v));
        else json_object_object_del(meta, "managedFields");
    }
    json_object_object_add(meta, "resourceVersion", json_object_new_string(sim_mget(ometa, "resourceVersion")));
    if (sim_unknown_fields(req, r, o, t->name) < 0) {
        json_object_put(o);
        json_object_put(old);
        return;
    }
    struct sim_invalid inv;
    if (sim_validate_object(r, o, &inv) < 0) {
        sim_send_invalid(req, r, t->name, &inv);
        json_object_put(o);
        json_object_put(old);
        return;
    }
    if (json_object_equal(o, old)) {
        /* no-op write: same resourceVersion, no event */
        sim_send_obj(req, 200, prev);
    } else {
        if (r->has_generation && !t->sub[0] && spec_changed(o, old)) {
            int64_t g = json_object_object_get_ex(ometa, "generation", &v) ? json_object_get_int64(v) : 1;
            json_object_object_add(meta, "generation", json_object_new_int64(g + 1));
        }
        touch_managed_fields(req, meta, "Update", av);
        commit_and_respond(sim, req, r, o, prev, verb, 200);
    }
    json_object_put(o);
    json_object_put(old);
}

void sim_handle_update(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    const struct sim_resource *r = t->r;
    if (check_field_validation(req, "UpdateOptions") < 0) return;
    struct json_object *o = parse_body(req, r, 0);
    if (!o) return;
    if (check_identity(req, r, o, t->ns) < 0) {
        json_object_put(o);
        return;
    }
    struct json_object *meta = sim_meta_of(o);
    const char *bname = sim_mget(meta, "name");
    if (!bname || strcmp(bname, t->name) != 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)",
                 bname ? bname : "", t->name);
        sim_send_bad_request(req, msg);
        json_object_put(o);
        return;
    }
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    const char *uid = sim_mget(meta, "uid");
    const char *rv = sim_mget(meta, "resourceVersion");
    if (!prev) {
        if (t->sub[0] || !r->create_on_update) {
            sim_send_not_found(req, r, t->name);
        } else if (uid && uid[0]) {
            char why[400];
            snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: ", uid);
            sim_send_conflict(req, r, t->name, why);
        } else {
            json_object_object_del(meta, "resourceVersion");
            do_create(sim, req, t, o, 201, "update");
        }
        json_object_put(o);
        return;
    }
    if (!rv || !rv[0]) {
        if (r->require_rv_on_update) {
            char q[128], msg[600];
            sim_resource_qualified(r, q, sizeof(q));
            snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be "
                     "specified for an update", q, t->name);
            struct json_object *d = json_object_new_object();
            json_object_object_add(d, "name", json_object_new_string(t->name));
            json_object_object_add(d, "group", json_object_new_string(r->group));
            json_object_object_add(d, "kind", json_object_new_string(r->kind));
            struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
            json_object_object_add(c, "reason", json_object_new_string("FieldValueInvalid"));
            json_object_object_add(c, "message", json_object_new_string("Invalid value: 0x0: must be specified for an update"));
            json_object_object_add(c, "field", json_object_new_string("metadata.resourceVersion"));
            json_object_array_add(causes, c);
            json_object_object_add(d, "causes", causes);
            sim_send_status(req, 422, "Invalid", msg, d);
            json_object_put(o);
            return;
        }
    } else {
        uint64_t n;
        char cur[32];
        snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
        if (sim_parse_rv(rv, &n) < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "invalid resource version: %.200s", rv);
            sim_send_bad_request(req, msg);
            json_object_put(o);
            return;
        }
        if (n != prev->rv) {
            sim_send_conflict(req, r, t->name,
                          "the object has been modified; please apply your changes to the latest version and try again");
            json_object_put(o);
            return;
        }
    }
    if (uid && uid[0] && strcmp(uid, prev->uid) != 0) {
        char why[400];
        snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
                 prev->uid);
        sim_send_conflict(req, r, t->name, why);
        json_object_put(o);
        return;
    }
    update_existing(sim, req, t, o, prev, "update");
}

void sim_handle_patch(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    const struct sim_resource *r = t->r;
    if (check_field_validation(req, "PatchOptions") < 0) return;
    const char *ct = http_request_header(req, "Content-Type");
    if (!ct) ct = "";
    int kind; /* 1 merge, 2 strategic, 3 json patch */
    if (strncmp(ct, "application/merge-patch+json", 28) == 0) kind = 1;
    else if (strncmp(ct, "application/strategic-merge-patch+json", 38) == 0) kind = 2;
    else if (strncmp(ct, "application/json-patch+json", 27) == 0) kind = 3;
    else {
        sim_send_status(req, 415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json",
                        NULL);
        return;
    }
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    if (!prev) {
        sim_send_not_found(req, r, t->name);
        return;
    }
    struct json_object *struct_tok = NULL;
    {
        struct json_tokener *tok = json_tokener_new_ex(64);
        struct_tok = json_tokener_parse_ex(tok, buf_cstr(&req->body), (int)req->body.len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!struct_tok || e != json_tokener_success) {
            json_object_put(struct_tok);
            sim_send_bad_request(req, "error decoding patch: invalid JSON");
            return;
        }
    }
    struct json_object *old = sim_obj_parse(prev), *o = NULL;
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    json_object_object_add(old, "kind", json_object_new_string(r->kind));
    json_object_object_add(old, "apiVersion", json_object_new_string(av));
    if (kind == 3) {
        char err[300];
        json_object_deep_copy(old, &o, NULL);
        if (sim_json_patch(&o, struct_tok, err, sizeof(err)) < 0) {
            sim_send_status(req, 422, "Invalid", err, NULL);
            json_object_put(o);
            json_object_put(old);
            json_object_put(struct_tok);
            return;
        }
    } else {
        if (!json_object_is_type(struct_tok, json_type_object)) {
            sim_send_bad_request(req, "error decoding patch: a merge patch must be a JSON object");
            json_object_put(old);
            json_object_put(struct_tok);
            return;
        }
        o = sim_merge_patch(old, struct_tok, kind == 2);
    }
    json_object_put(struct_tok);
    /* a resourceVersion in the patch is a precondition */
    struct json_object *meta = sim_meta_of(o);
    const char *rv = sim_mget(meta, "resourceVersion");
    char cur[32];
    snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
    if (rv && strcmp(rv, cur) != 0) {
        sim_send_conflict(req, r, t->name,
                      "the object has been modified; please apply your changes to the latest version and try again");
        json_object_put(o);
        json_object_put(old);
        return;
    }
    const char *nm = sim_mget(meta, "name");
    if (!nm || strcmp(nm, t->name) != 0 || check_identity(req, r, o, t->ns) < 0) {
        if (!nm || strcmp(nm, t->name) != 0) sim_send_bad_request(req, "the name of the object does not match the name on the URL");
        json_object_put(o);
        json_object_put(old);
        return;
    }
    json_object_put(old);
    update_existing(sim, req, t, o, prev, "patch");
}

void sim_delete_one(struct sim *sim, struct http_request *req, struct sim_obj *prev, const char *verb)
{
    struct json_object *o = sim_obj_parse(prev);
    struct sim_obj *gone = sim_obj_new(prev->res, o, sim->store.rv + 1);
    json_object_put(o);
    sim_obj_ref(prev);
    sim_store_commit(&sim->store, SIM_DELETED, sim_obj_ref(gone), prev);
    sim_audit(sim, req, verb, gone, sim_user);
    sim_obj_unref(prev);
    sim_obj_unref(gone);
}

static void delete_namespace_contents(struct sim *sim, struct http_request *req, const char *ns)
{
    for (size_t i = 0; i < sim_nresources; i++) {
        const struct sim_resource *r = &sim_resources[i];
        if (!r->namespaced) continue;
        size_t from, to;
        sim_store_range(&sim->store, r, ns, &from, &to);
        while (to > from) {
            struct sim_obj *o = sim->store.tables[i].items[from];
            sim_delete_one(sim, req, o, "delete");
            sim_store_range(&sim->store, r, ns, &from, &to);
        }
    }
}

void sim_handle_delete(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    const struct sim_resource *r = t->r;
    struct sim_obj *prev = sim_store_get(&sim->store, r, t->ns, t->name);
    if (!prev) {
        sim_send_not_found(req, r, t->name);
        return;
    }
    if (req->body.len) {
        struct json_object *opts = json_tokener_parse(buf_cstr(&req->body)), *pre, *v;
        if (opts && json_object_object_get_ex(opts, "preconditions", &pre)) {
            if (json_object_object_get_ex(pre, "uid", &v) && v && strcmp(json_object_get_string(v), prev->uid)) {
                char why[400];
                snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                         json_object_get_string(v), prev->uid);
                sim_send_conflict(req, r, t->name, why);
                json_object_put(opts);
                return;
            }
            char cur[32];
            snprintf(cur, sizeof(cur), "%llu", (unsigned long long)prev->rv);
            if (json_object_object_get_ex(pre, "resourceVersion", &v) && v && strcmp(json_object_get_string(v), cur)) {
                char why[400];
                snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, "
                         "ResourceVersion in object meta: %s", json_object_get_string(v), cur);
                sim_send_conflict(req, r, t->name, why);
                json_object_put(opts);
                return;
            }
        }
        json_object_put(opts);
    }
    if (sim_dry_run(req)) {
        sim_send_obj(req, 200, prev);
        return;
    }
    sim_obj_ref(prev);
    if (strcmp(r->plural, "namespaces") == 0) delete_namespace_contents(sim, req, t->name);
    sim_delete_one(sim, req, prev, "delete");
    if (r->delete_returns_object) {
        sim_send_obj(req, 200, prev);
    } else {
        struct json_object *d = sim_details_for(r, t->name);
        json_object_object_add(d, "uid", json_object_new_string(prev->uid));
        sim_send_status(req, 200, "", NULL, d);
    }
    sim_obj_unref(prev);
}
