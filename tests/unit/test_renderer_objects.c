/* workers/renderer/objects.c and held.c: deltas frames applied to the stores, the listing sweep at synced,
 * what changed since the last candidate, and trial views holding objects at their LKG version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/renderer/objects.h"
#include <json-c/linkhash.h>

#include "tests/unit/unit.h"

static const char *yaml =
    "controller: {leader_election: {enabled: false, lease_namespace: default}}\n"
    "haproxy:\n  endpoints:\n    - {name: local, master_socket: /run/haproxy-master.sock}\n"
    "watched_resources:\n"
    "  ingresses: {api_version: networking.k8s.io/v1, resources: ingresses, index_by: [metadata.namespace, metadata.name]}\n"
    "haproxy_config:\n  template: x\n";

static struct config *cfg;
static struct objects o;

static void setup(void)
{
    struct err_list errs;
    err_list_init(&errs);
    ck_assert_int_eq(config_load_string(yaml, "t.yaml", &cfg, &errs), 0);
    err_list_free(&errs);
    struct err e;
    ck_assert_int_eq(objects_init(&o, cfg, &e), 0);
}

static void teardown(void)
{
    objects_free(&o);
    config_free(cfg);
}

#define OBJ(name, host) "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"" name "\"},\"spec\":{\"host\":\"" host "\"}}"
#define UP(name, host) "{\"op\":\"upsert\",\"key\":\"shop/" name "\",\"rv\":\"1\",\"object\":" OBJ(name, host) "}"
#define DEL(name) "{\"op\":\"delete\",\"key\":\"shop/" name "\",\"rv\":\"2\"}"

static int apply(const char *items, int synced)
{
    char body[4096];
    snprintf(body, sizeof(body), "{\"type\":\"deltas\",\"resource\":\"ingresses\",\"seq\":1,\"synced\":%s,\"items\":[%s]}",
             synced ? "true" : "false", items);
    struct err e;
    err_clear(&e);
    int n = objects_apply_deltas(&o, body, strlen(body), &e);
    ck_assert_msg(n >= 0, "%s", e.msg);
    return n;
}

static const char *host_of(struct store *s, const char *name)
{
    const struct packed *p = store_get(s, "shop", name);
    struct packed_val v = packed_root(p), spec, h;
    if (!p || !packed_get(v, "spec", 4, &spec) || !packed_get(spec, "host", 4, &h)) return NULL;
    return packed_str(h, NULL);
}

START_TEST(test_objects_deltas_and_listing_sweep)
{
    struct store *s = o.stores[0].store;
    struct err e;
    ck_assert(!objects_all_synced(&o));
    ck_assert_int_eq(apply(UP("a", "a1") "," UP("b", "b1") "," UP("c", "c1"), 0), 3);
    ck_assert_int_eq(objects_synced(&o, "ingresses", &e), 0);
    ck_assert(objects_all_synced(&o));
    ck_assert_int_eq((int)store_count(s), 3);
    ck_assert_int_eq(apply(UP("a", "a1"), 1), 0);          /* same content: no change */
    ck_assert_int_eq(apply(UP("a", "a2") "," DEL("b"), 1), 2);
    ck_assert_str_eq(host_of(s, "a"), "a2");
    ck_assert_ptr_null(store_get(s, "shop", "b"));
    /* a resync listing that no longer names c: c is dropped at synced */
    objects_begin_listing(&o);
    ck_assert_int_eq(apply(UP("a", "a2") "," UP("d", "d1"), 0), 1);
    ck_assert_int_eq(objects_synced(&o, "ingresses", &e), 1);
    ck_assert_ptr_null(store_get(s, "shop", "c"));
    ck_assert_int_eq((int)store_count(s), 2);
    /* a frame for an unknown resource or that is not JSON is refused whole */
    const char *bad = "{\"type\":\"deltas\",\"resource\":\"nope\",\"items\":[]}";
    ck_assert_int_eq(objects_apply_deltas(&o, bad, strlen(bad), &e), -1);
    ck_assert_int_eq(objects_apply_deltas(&o, "{\"type\":", 8, &e), -1);
}
END_TEST

START_TEST(test_objects_trial_view_holds_lkg_versions)
{
    struct err e;
    apply(UP("a", "a1") "," UP("b", "b1"), 0);
    objects_synced(&o, "ingresses", &e);
    /* the candidate with a1, b1 becomes the LKG */
    ck_assert_int_eq(held_candidate(o.held, "sha256:one", NULL, 0), 0);
    ck_assert_int_eq(held_on_lkg(o.held, "sha256:one"), 1);
    ck_assert_int_eq((int)held_count(o.held), 0);
    /* then a changes, c is new, b is deleted */
    apply(UP("a", "a2") "," UP("c", "c1") "," DEL("b"), 1);
    struct held_obj ex[] = {{"ingresses", "shop", "a"}, {"ingresses", "shop", "c"}, {"ingresses", "shop", "b"}};
    struct render_store *view;
    ck_assert_int_eq(objects_view(&o, ex, 3, &view, &e), 0);
    ck_assert_str_eq(host_of(view[0].store, "a"), "a1");     /* held at its LKG version */
    ck_assert_ptr_null(store_get(view[0].store, "shop", "c")); /* new since the LKG: absent */
    ck_assert_str_eq(host_of(view[0].store, "b"), "b1");     /* deleted since: back */
    ck_assert_str_eq(host_of(o.stores[0].store, "a"), "a2"); /* the live store is untouched */
    objects_view_free(&o, view);
    /* nothing excluded: the live store itself */
    ck_assert_int_eq(objects_view(&o, NULL, 0, &view, &e), 0);
    ck_assert_ptr_eq(view[0].store, o.stores[0].store);
    objects_view_free(&o, view);

    /* a candidate rendered with a2 (c held back), then a changes again before that candidate becomes the
     * LKG: the LKG version of a is a2, of c still absent */
    ck_assert_int_eq(held_candidate(o.held, "sha256:two", &ex[1], 1), 0);
    apply(UP("a", "a3"), 1);
    ck_assert_int_eq(held_on_lkg(o.held, "sha256:two"), 1);
    const struct packed *lkg;
    ck_assert_int_eq(held_lkg_version(o.held, &ex[0], &lkg), 1);
    struct packed_val spec, h;
    packed_get(packed_root(lkg), "spec", 4, &spec);
    packed_get(spec, "host", 4, &h);
    ck_assert_str_eq(packed_str(h, NULL), "a2");
    ck_assert_int_eq(held_lkg_version(o.held, &ex[1], &lkg), 1);
    ck_assert_ptr_null(lkg);
    ck_assert_int_eq(held_lkg_version(o.held, &ex[2], &lkg), 0);   /* b's deletion is in the LKG */
    /* an LKG never rendered here (a restart) is matched against the next candidate of that checksum */
    ck_assert_int_eq(held_on_lkg(o.held, "sha256:three"), 0);
    ck_assert_int_eq(held_candidate(o.held, "sha256:three", NULL, 0), 0);
    ck_assert_int_eq((int)held_count(o.held), 0);
}
END_TEST

START_TEST(test_objects_changed_lists_and_exclusion_release)
{
    struct err e;
    apply(UP("b", "b1") "," UP("a", "a1"), 0);
    objects_synced(&o, "ingresses", &e);
    json_object *c = objects_changed_json(&o);
    ck_assert_str_eq(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
                     "[{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"a\"},"
                     "{\"resource\":\"ingresses\",\"namespace\":\"shop\",\"name\":\"b\"}]");
    json_object_put(c);
    objects_clear_changed(&o);
    struct held_obj ex[] = {{"ingresses", "shop", "a"}, {"ingresses", "shop", "b"}};
    ck_assert_int_eq(objects_set_excluded(&o, ex, 2), 0);
    apply(UP("a", "a2"), 1);   /* a quarantined object that changes is retried */
    ck_assert_int_eq(lh_table_length(o.excluded), 1);
    ck_assert(lh_table_lookup_ex(o.excluded, "ingresses/shop/b", NULL));
}
END_TEST


/* ---- store: on-demand ---- */

static const char *yaml_od =
    "controller: {leader_election: {enabled: false, lease_namespace: default}}\n"
    "haproxy:\n  endpoints:\n    - {name: local, master_socket: /run/haproxy-master.sock}\n"
    "watched_resources:\n"
    "  secrets: {api_version: v1, resources: secrets, store: on-demand, index_by: [metadata.namespace, metadata.name]}\n"
    "haproxy_config:\n  template: x\n";

static void setup_od(void)
{
    struct err_list errs;
    err_list_init(&errs);
    ck_assert_int_eq(config_load_string(yaml_od, "t.yaml", &cfg, &errs), 0);
    err_list_free(&errs);
    struct err e;
    ck_assert_int_eq(objects_init(&o, cfg, &e), 0);
}

#define REF(rv, hash) "{\"op\":\"upsert\",\"key\":\"shop/tls\",\"rv\":\"" rv "\",\"object\":{\"metadata\":{\"name\":\"tls\"," \
    "\"namespace\":\"shop\",\"resourceVersion\":\"" rv "\"},\"@onDemandHash\":\"" hash "\"}}"

static void apply_od(const char *items, int synced)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"type\":\"deltas\",\"resource\":\"secrets\",\"seq\":1,\"synced\":%s,\"items\":[%s]}",
             synced ? "true" : "false", items);
    struct err e;
    ck_assert_int_ge(objects_apply_deltas(&o, body, strlen(body), &e), 0);
}

static int fetched(const char *rv, const char *want, const char *data, const char *error)
{
    char body[2048];
    if (error)
        snprintf(body, sizeof(body), "{\"type\":\"fetched\",\"resource\":\"secrets\",\"key\":\"shop/tls\",\"want_rv\":\"%s\","
                 "\"rv\":\"\",\"error\":\"%s\"}", want, error);
    else
        snprintf(body, sizeof(body), "{\"type\":\"fetched\",\"resource\":\"secrets\",\"key\":\"shop/tls\",\"want_rv\":\"%s\","
                 "\"rv\":\"%s\",\"object\":{\"metadata\":{\"name\":\"tls\",\"namespace\":\"shop\",\"resourceVersion\":\"%s\"},"
                 "\"data\":{\"tls.crt\":\"%s\"}}}", want, rv, rv, data);
    struct err e;
    int n = objects_apply_fetched(&o, body, strlen(body), &e);
    ck_assert_msg(n >= 0, "%s", e.msg);
    return n;
}

/* One "render": reads the secret through the resolver; returns its data or NULL, and after_render's verdict. */
static const char *read_secret(int *verdict, char *fetch_json, size_t cap, struct err *e)
{
    objects_render_begin(&o);
    const struct packed *ref = store_get(o.stores[0].store, "shop", "tls"), *full = NULL;
    const char *data = NULL;
    if (ref && objects_resolve(&o, "secrets", ref, 0, &full) == 1) {
        struct packed_val d, c;
        if (packed_get(packed_root(full), "data", 4, &d) && packed_get(d, "tls.crt", 7, &c)) data = packed_str(c, NULL);
    }
    struct json_object *f = NULL;
    err_clear(e);
    *verdict = objects_after_render(&o, &f, e);
    snprintf(fetch_json, cap, "%s", json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(f);
    return data;
}

START_TEST(test_objects_on_demand_fetches_what_a_render_reads_once_per_version)
{
    struct err e;
    char f[1024];
    int v;
    apply_od(REF("7", "aaaa"), 0);
    objects_synced(&o, "secrets", &e);
    ck_assert_ptr_null(read_secret(&v, f, sizeof(f), &e));
    ck_assert_int_eq(v, 1);   /* waits */
    ck_assert_str_eq(f, "[{\"type\":\"fetch\",\"resource\":\"secrets\",\"items\":[{\"key\":\"shop/tls\",\"rv\":\"7\"}]}]");
    ck_assert_ptr_null(read_secret(&v, f, sizeof(f), &e));
    ck_assert_str_eq(f, "[]");   /* asked already: not asked twice */
    ck_assert_int_eq(fetched("7", "7", "AAAA", NULL), 1);
    ck_assert_str_eq(read_secret(&v, f, sizeof(f), &e), "AAAA");
    ck_assert_int_eq(v, 0);
    ck_assert_str_eq(read_secret(&v, f, sizeof(f), &e), "AAAA");   /* cached: no fetch per render */
    ck_assert_str_eq(f, "[]");
    /* a change: the old version is evicted, the new one fetched */
    apply_od(REF("8", "bbbb"), 1);
    ck_assert_ptr_null(read_secret(&v, f, sizeof(f), &e));
    ck_assert_int_eq(v, 1);
    ck_assert_ptr_nonnull(strstr(f, "\"rv\":\"8\""));
    /* the API already serves a newer version: kept, but the render waits for the reference naming it */
    ck_assert_int_eq(fetched("9", "8", "CCCC", NULL), 0);
    ck_assert_ptr_null(read_secret(&v, f, sizeof(f), &e));
    ck_assert_str_eq(f, "[]");
    apply_od(REF("9", "cccc"), 1);
    ck_assert_str_eq(read_secret(&v, f, sizeof(f), &e), "CCCC");
    /* deleted: the cache forgets it */
    apply_od("{\"op\":\"delete\",\"key\":\"shop/tls\",\"rv\":\"10\"}", 1);
    ck_assert_int_eq((int)ondemand_cache_count(o.cache), 0);
}
END_TEST

START_TEST(test_objects_on_demand_fetch_failure_fails_the_render_naming_the_object)
{
    struct err e;
    char f[1024];
    int v;
    apply_od(REF("7", "aaaa"), 0);
    objects_synced(&o, "secrets", &e);
    read_secret(&v, f, sizeof(f), &e);
    ck_assert_int_eq(fetched("", "7", NULL, "secrets shop/tls: fetch failed: InternalError (HTTP 500)"), 1);
    ck_assert_ptr_null(read_secret(&v, f, sizeof(f), &e));
    ck_assert_int_eq(v, -1);
    ck_assert_str_eq(e.msg, "secrets shop/tls: fetch failed: InternalError (HTTP 500)");
    /* reported once: the next render asks again */
    read_secret(&v, f, sizeof(f), &e);
    ck_assert_int_eq(v, 1);
    ck_assert_ptr_nonnull(strstr(f, "shop/tls"));
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("renderer_objects");
    TCase *tc = tcase_create("renderer_objects");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_objects_deltas_and_listing_sweep);
    tcase_add_test(tc, test_objects_trial_view_holds_lkg_versions);
    tcase_add_test(tc, test_objects_changed_lists_and_exclusion_release);
    suite_add_tcase(s, tc);
    TCase *od = tcase_create("on_demand");
    tcase_add_checked_fixture(od, setup_od, teardown);
    tcase_add_test(od, test_objects_on_demand_fetches_what_a_render_reads_once_per_version);
    tcase_add_test(od, test_objects_on_demand_fetch_failure_fails_the_render_naming_the_object);
    suite_add_tcase(s, od);
    return s;
}
