/* Packed values: both builders give identical bytes (fixed objects, random JSON, duplicate keys, surrogates,
 * tiny read chunks), packed -> JSON -> packed is the identity, readers, the projection, key interning and
 * freeing under churn, and the bounds on depth, key size and numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/store/packed_internal.h"
#include "common/store/packed_path.h"
#include "tests/unit/unit.h"

static const char *INGRESS =
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"ing-1\","
    "\"namespace\":\"ns-1\",\"uid\":\"6f1c0b8e-0d7d-4f5e-9a57-000000000001\",\"resourceVersion\":\"1001\","
    "\"generation\":1,\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":\"app-1\",\"team\":\"t1\"},"
    "\"annotations\":{\"haproxy.org/timeout-server\":\"30s\",\"kubectl.kubernetes.io/last-applied-configuration\":"
    "\"{\\\"big\\\":1}\\n\"},\"managedFields\":[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{}}}]},"
    "\"spec\":{\"ingressClassName\":\"haproxy\",\"rules\":[{\"host\":\"h1.example.com\",\"http\":{\"paths\":"
    "[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"svc-1\",\"port\":{\"number\":80}}}}]}}],"
    "\"tls\":[{\"hosts\":[\"h1.example.com\"],\"secretName\":\"tls-1\"}]},\"status\":{\"loadBalancer\":{}},"
    "\"x\":{\"big\":12345678901,\"neg\":-268435457,\"small\":-268435456,\"pi\":3.25,\"e\":1e300,\"t\":true,"
    "\"f\":false,\"n\":null,\"esc\":\"a\\\"b\\\\c\\n\\u0001\\u00e9\\ud83d\\ude00/\",\"nul\":\"a\\u0000b\"}}";

static struct packed *from_text(struct packed_keys *k, const char *t, const struct packed_proj *proj)
{
    struct err e = {0};
    struct packed *p = NULL;
    int rc = packed_from_text(k, t, strlen(t), proj, &p, &e);
    ck_assert_msg(rc == 0, "from_text: %s (%s)", e.msg, t);
    return p;
}

static struct packed *from_jsonc(struct packed_keys *k, const char *t, const struct packed_proj *proj)
{
    enum json_tokener_error je;
    json_object *j = json_tokener_parse_verbose(t, &je);
    ck_assert_msg(je == json_tokener_success, "json-c refused %s", t);
    struct err e = {0};
    struct packed *p = NULL;
    int rc = packed_from_json(k, j, proj, &p, &e);
    json_object_put(j);
    ck_assert_msg(rc == 0, "from_json: %s", e.msg);
    return p;
}

static void assert_same_bytes(const struct packed *a, const struct packed *b, const char *what)
{
    ck_assert_msg(packed_size(a) == packed_size(b), "%s: sizes %zu and %zu", what, packed_size(a), packed_size(b));
    ck_assert_msg(memcmp(packed_bytes(a), packed_bytes(b), packed_size(a)) == 0, "%s: bytes differ", what);
}

static char *to_json(const struct packed *p)
{
    struct buf b;
    buf_init(&b);
    ck_assert_int_eq(packed_to_json(packed_root(p), &b), 0);
    return buf_steal(&b);
}

START_TEST(test_packed_builders_give_identical_bytes_and_json_round_trips)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *a = from_text(k, INGRESS, NULL), *b = from_jsonc(k, INGRESS, NULL);
    assert_same_bytes(a, b, "text vs json-c");
    char *js = to_json(a);
    struct packed *c = from_text(k, js, NULL);
    assert_same_bytes(a, c, "packed -> JSON -> packed");
    /* the JSON out is what json-c reads as the same document */
    json_object *j1 = json_tokener_parse(INGRESS), *j2 = json_tokener_parse(js);
    ck_assert(json_object_equal(j1, j2));
    json_object_put(j1);
    json_object_put(j2);
    ck_assert_uint_eq(packed_hash(a), packed_hash(c));
    free(js);
    packed_free(a);
    packed_free(b);
    packed_free(c);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_packed_readers_find_members_and_elements)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = from_text(k, INGRESS, NULL);
    struct packed_val r = packed_root(p), v, m;
    ck_assert_int_eq(packed_type(r), PACKED_OBJECT);
    ck_assert_uint_eq(packed_len(r), 6);
    ck_assert(packed_get(r, "metadata", 8, &m));
    ck_assert(packed_get(m, "name", 4, &v));
    size_t n;
    ck_assert_str_eq(packed_str(v, &n), "ing-1");
    ck_assert_uint_eq(n, 5);
    ck_assert(!packed_get(m, "nope", 4, &v));
    ck_assert(!packed_get(v, "name", 4, &v));   /* not an object */
    const char *key;
    ck_assert(packed_member(r, 1, &key, &n, &v));
    ck_assert_str_eq(key, "kind");   /* document order */
    struct packed_path *path;
    struct err e = {0};
    ck_assert_int_eq(packed_path_compile(k, "spec.rules[0].http.paths[0].backend.service['port'].number", &path, &e), 0);
    ck_assert(packed_path_eval(path, r, &v));
    ck_assert_int_eq(packed_type(v), PACKED_INT);
    ck_assert_int_eq(packed_int(v), 80);
    packed_path_free(path);
    ck_assert(packed_get(r, "x", 1, &m));
    ck_assert(packed_get(m, "big", 3, &v));
    ck_assert_int_eq(packed_int(v), 12345678901LL);
    ck_assert(packed_get(m, "neg", 3, &v));
    ck_assert_int_eq(packed_int(v), -268435457LL);
    ck_assert(packed_get(m, "small", 5, &v));
    ck_assert_int_eq(packed_int(v), -268435456LL);
    ck_assert_int_eq(PK_TAG(v.s), PK_SMALLINT);
    ck_assert(packed_get(m, "pi", 2, &v));
    ck_assert(packed_double(v) == 3.25);
    ck_assert(packed_get(m, "t", 1, &v) && packed_type(v) == PACKED_BOOL && packed_bool(v));
    ck_assert(packed_get(m, "n", 1, &v) && packed_type(v) == PACKED_NULL);
    ck_assert(packed_get(m, "nul", 3, &v));
    ck_assert(memcmp(packed_str(v, &n), "a\0b", 4) == 0 && n == 3);
    ck_assert(packed_get(m, "esc", 3, &v));
    ck_assert_str_eq(packed_str(v, NULL), "a\"b\\c\n\001\xc3\xa9\xf0\x9f\x98\x80/");
    ck_assert(packed_at(packed_root(p), 0, &v) == 0);
    packed_free(p);

    /* a large object uses the sorted index: every member is found, absent keys are not */
    struct buf t;
    buf_init(&t);
    buf_putc(&t, '{');
    for (int i = 0; i < 300; i++) buf_printf(&t, "%s\"k%d\":%d", i ? "," : "", (i * 7919) % 1000, i);
    buf_puts(&t, ",\"k0\":\"last\"}");   /* a duplicate: first position, last value */
    p = from_text(k, buf_cstr(&t), NULL);
    struct packed *pj = from_jsonc(k, buf_cstr(&t), NULL);
    assert_same_bytes(p, pj, "large object with a duplicate");
    r = packed_root(p);
    ck_assert_uint_eq(packed_len(r), 300);
    for (int i = 0; i < 300; i++) {
        char kn[16];
        int kl = snprintf(kn, sizeof(kn), "k%d", (i * 7919) % 1000);
        ck_assert_msg(packed_get(r, kn, (size_t)kl, &v), "%s", kn);
        if (strcmp(kn, "k0") == 0) ck_assert_str_eq(packed_str(v, NULL), "last");
        else ck_assert_int_eq(packed_int(v), i);
        ck_assert(packed_member(r, (size_t)i, &key, NULL, NULL));
        ck_assert_str_eq(key, kn);
    }
    ck_assert(!packed_get(r, "k1000", 5, &v));
    buf_free(&t);
    packed_free(p);
    packed_free(pj);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_packed_duplicates_and_surrogates_match_json_c)
{
    static const char *cases[] = {
        "{\"a\":1,\"b\":[1,2,{\"c\":\"x\"}],\"a\":{\"x\":[3.5,\"long string here\"]}}",
        "{\"a\":\"first\",\"a\":\"second\",\"a\":\"third\"}",
        "[\"\\ud83d\\ude00\",\"\\ud83dx\",\"\\ude00\",\"\\ud83d\"]",
        "{\"a\":{\"a\":{\"a\":1},\"a\":2}}",
    };
    struct packed_keys *k = packed_keys_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct packed *a = from_text(k, cases[i], NULL), *b = from_jsonc(k, cases[i], NULL);
        assert_same_bytes(a, b, cases[i]);
        packed_free(a);
        packed_free(b);
    }
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

/* --- random JSON --- */

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void rand_string(struct buf *b)
{
    static const char *pieces[] = {"a", "name", "\\\"", "\\\\", "\\n", "\\u0000", "\\u00e9", "\\ud83d\\ude00",
                                   "/", "\\/", "\xc3\xa9", "metadata", " ", "\\t", "\\u20ac", "x.y/z"};
    buf_putc(b, '"');
    for (uint32_t i = 0, n = rnd(6); i < n; i++) buf_puts(b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
    if (rnd(8) == 0)
        for (int i = 0; i < 200; i++) buf_putc(b, (char)('a' + rnd(26)));
    buf_putc(b, '"');
}

static void rand_key(struct buf *b)
{
    static const char *keys[] = {"metadata", "name", "namespace", "labels", "app", "spec", "k1", "k2", "k3",
                                 "kubernetes.io/service-name", "\\u00e9t\\u00e9", "a\\\"q", "", "port"};
    if (rnd(4) == 0) {
        buf_printf(b, "\"r%u\"", rnd(1000));
        return;
    }
    buf_printf(b, "\"%s\"", keys[rnd(sizeof(keys) / sizeof(keys[0]))]);
}

static void rand_value(struct buf *b, int depth)
{
    uint32_t r = rnd(depth > 5 ? 7 : 10);
    switch (r) {
    case 0: buf_puts(b, "null"); break;
    case 1: buf_puts(b, rnd(2) ? "true" : "false"); break;
    case 2: buf_printf(b, "%d", (int)rnd(2000) - 1000); break;
    case 3: {
        static const char *nums[] = {"9223372036854775807", "-9223372036854775808", "268435455", "-268435456",
                                     "268435456", "0", "-0", "1.5", "-0.0", "1e10", "2.5E-3", "0.1", "1e300",
                                     "123456789.123456789", "4.9e-324", "1.0"};
        buf_puts(b, nums[rnd(sizeof(nums) / sizeof(nums[0]))]);
        break;
    }
    case 4: case 5: case 6: rand_string(b); break;
    case 7: {
        buf_putc(b, '[');
        for (uint32_t i = 0, n = rnd(5); i < n; i++) {
            if (i) buf_puts(b, rnd(3) ? "," : " ,\n ");
            rand_value(b, depth + 1);
        }
        buf_putc(b, ']');
        break;
    }
    default: {
        buf_puts(b, rnd(2) ? "{" : "{ ");
        for (uint32_t i = 0, n = rnd(rnd(5) ? 6 : 20); i < n; i++) {
            if (i) buf_putc(b, ',');
            rand_key(b);
            buf_puts(b, rnd(2) ? ":" : " : ");
            rand_value(b, depth + 1);
        }
        buf_putc(b, '}');
    }
    }
}

START_TEST(test_packed_random_json_round_trips)
{
    struct packed_keys *k = packed_keys_new();
    struct buf t;
    buf_init(&t);
    for (int iter = 0; iter < 3000; iter++) {
        rng = 0x9e3779b97f4a7c15ULL + (uint64_t)iter * 7919;
        buf_reset(&t);
        rand_value(&t, 0);
        struct packed *a = from_text(k, buf_cstr(&t), NULL), *b = from_jsonc(k, buf_cstr(&t), NULL);
        assert_same_bytes(a, b, buf_cstr(&t));
        char *js = to_json(a);
        struct packed *c = from_text(k, js, NULL);
        assert_same_bytes(a, c, js);
        ck_assert(packed_equal(packed_root(a), packed_root(c)));
        ck_assert_uint_eq(packed_hash(a), packed_hash(c));
        struct packed *d;
        struct err e = {0};
        ck_assert_int_eq(packed_copy(k, packed_root(a), &d, &e), 0);
        assert_same_bytes(a, d, "copy");
        free(js);
        packed_free(a);
        packed_free(b);
        packed_free(c);
        packed_free(d);
    }
    buf_free(&t);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_packed_fd_reading_in_tiny_chunks_gives_the_same_bytes)
{
    struct packed_keys *k = packed_keys_new();
    struct buf t;
    buf_init(&t);
    buf_putc(&t, '[');
    for (int iter = 0; iter < 200; iter++) {
        rng = 1234567 + (uint64_t)iter;
        if (iter) buf_putc(&t, ',');
        rand_value(&t, 1);
    }
    buf_puts(&t, "]\n");
    char path[] = "/tmp/test_packed_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, t.data, t.len), (ssize_t)t.len);
    struct packed *a = from_text(k, buf_cstr(&t), NULL);
    size_t chunks[] = {1, 2, 3, 7, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        lseek(fd, 0, SEEK_SET);
        struct packed *b = NULL;
        struct err e = {0};
        ck_assert_msg(pk_from_fd_chunked(k, fd, chunks[i], NULL, &b, &e) == 0, "chunk %zu: %s", chunks[i], e.msg);
        assert_same_bytes(a, b, "chunked");
        packed_free(b);
    }
    /* an error past the first chunk names its byte offset in the whole input */
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_eq(write(fd, "[1,2,  3,x]", 11), 11);
    lseek(fd, 0, SEEK_SET);
    struct packed *b = NULL;
    struct err e = {0};
    ck_assert_int_eq(pk_from_fd_chunked(k, fd, 3, NULL, &b, &e), -1);
    ck_assert_msg(strstr(e.msg, "at byte 9") != NULL, "%s", e.msg);
    close(fd);
    packed_free(a);
    buf_free(&t);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

/* Found by fuzz_packed: a lone high surrogate followed by another escape whose backslash ends a chunk; the
 * parser stepped back over the backslash into the previous chunk (a read before the buffer). */
START_TEST(test_packed_fd_lone_surrogate_then_escape_across_chunks)
{
    static const char text[] = "[\"\\ud83d\\nx\",\"a\\ud800\\\\\\ud83d\\u0041\"]";
    struct packed_keys *k = packed_keys_new();
    struct packed *a = from_text(k, text, NULL);
    char path[] = "/tmp/test_packed_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    for (size_t chunk = 1; chunk <= sizeof(text); chunk++) {
        lseek(fd, 0, SEEK_SET);
        struct packed *b = NULL;
        struct err e = {0};
        ck_assert_msg(pk_from_fd_chunked(k, fd, chunk, NULL, &b, &e) == 0, "chunk %zu: %s", chunk, e.msg);
        assert_same_bytes(a, b, "lone surrogate, chunked");
        packed_free(b);
    }
    close(fd);
    packed_free(a);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

/* Found by fuzz_paths: the config validates index_by with common/jsonpath, which reads {.metadata.name} and
 * kubernetes\.io/name as Kubernetes does; the store's paths read them as other keys and found nothing. */
START_TEST(test_packed_path_reads_the_kubernetes_spellings_jsonpath_accepts)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *b = from_text(k, "{\"metadata\":{\"name\":\"n\",\"labels\":{\"kubernetes.io/name\":\"a\"}}}", NULL);
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"{.metadata.name}", "n"},
        {"{$.metadata.name}", "n"},
        {"metadata.labels.kubernetes\\.io/name", "a"},
        {"{.metadata.labels.kubernetes\\.io/name}", "a"},
        {"metadata.labels['kubernetes.io/name']", "a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct packed_path *path;
        struct err e = {0};
        ck_assert_msg(packed_path_compile(k, cases[i].path, &path, &e) == 0, "%s: %s", cases[i].path, e.msg);
        struct packed_val v;
        size_t len;
        ck_assert_msg(packed_path_eval(path, packed_root(b), &v), "%s found nothing", cases[i].path);
        ck_assert_str_eq(packed_str(v, &len), cases[i].want);
        packed_path_free(path);
    }
    static const char *const bad[] = {"{.metadata.name", "{}", "{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct packed_path *path = NULL;
        struct err e = {0};
        ck_assert_msg(packed_path_compile(k, bad[i], &path, &e) == -1, "accepted %s", bad[i]);
    }
    packed_free(b);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_packed_projection_drops_fields_in_both_builders)
{
    struct packed_keys *k = packed_keys_new();
    const char *paths[] = {"status", "metadata.annotations['haproxy.org/timeout-server']", "x.esc"};
    struct packed_proj *proj;
    struct err e = {0};
    ck_assert_int_eq(packed_proj_new(paths, 3, 1, &proj, &e), 0);
    struct packed *a = from_text(k, INGRESS, proj), *b = from_jsonc(k, INGRESS, proj);
    assert_same_bytes(a, b, "projected");
    char *js = to_json(a);
    ck_assert_ptr_null(strstr(js, "managedFields"));
    ck_assert_ptr_null(strstr(js, "last-applied"));
    ck_assert_ptr_null(strstr(js, "timeout-server"));
    ck_assert_ptr_null(strstr(js, "status"));
    ck_assert_ptr_null(strstr(js, "esc"));
    ck_assert_ptr_nonnull(strstr(js, "\"annotations\":{}"));
    ck_assert_ptr_nonnull(strstr(js, "\"labels\":{\"app\":\"app-1\""));
    ck_assert_ptr_nonnull(strstr(js, "\"nul\""));
    /* the dropped subtrees' keys were never interned */
    ck_assert_int_eq(packed_keys_find(k, "managedFields", 13), -1);
    ck_assert_int_eq(packed_keys_find(k, "fieldsV1", 8), -1);
    free(js);
    packed_free(a);
    packed_free(b);
    packed_proj_free(proj);
    const char *bad[] = {"spec.rules[0]"};
    ck_assert_int_eq(packed_proj_new(bad, 1, 0, &proj, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "array indexes"));
    const char *bad2[] = {"metadata..name"};
    ck_assert_int_eq(packed_proj_new(bad2, 1, 0, &proj, &e), -1);
    packed_keys_free(k);
}
END_TEST

/* Replaces each of the 100 objects once per round with one carrying a label key never seen before. */
static void churn(struct packed_keys *k, struct packed **objs, int from, int to)
{
    char t[128];
    for (int round = from; round < to; round++)
        for (int i = 0; i < 100; i++) {
            packed_free(objs[i]);
            snprintf(t, sizeof(t), "{\"metadata\":{\"name\":\"n%d\",\"labels\":{\"u%d-%d\":\"v\"}}}", i, round, i);
            objs[i] = from_text(k, t, NULL);
        }
}

START_TEST(test_packed_keys_are_shared_and_freed_when_unused)
{
    struct packed_keys *k = packed_keys_new();
    char t[128];
    struct packed *objs[100];
    for (int i = 0; i < 100; i++) {
        snprintf(t, sizeof(t), "{\"metadata\":{\"name\":\"n%d\",\"labels\":{\"unique-%d\":\"v\"}}}", i, i);
        objs[i] = from_text(k, t, NULL);
    }
    ck_assert_uint_eq(packed_keys_count(k), 3 + 100);   /* metadata, name, labels shared; label keys unique */
    int64_t id = packed_keys_find(k, "name", 4);
    ck_assert_int_ge(id, 0);
    ck_assert_uint_eq(pk_keyent(k, (uint32_t)id)->refs, 100);
    /* churn: replacing objects with new unique keys keeps the table at the live set */
    churn(k, objs, 0, 20);
    ck_assert_uint_eq(packed_keys_count(k), 3 + 100);
    size_t bytes = packed_keys_bytes(k);
    churn(k, objs, 20, 40);
    ck_assert_uint_le(packed_keys_bytes(k), bytes + 64);
    ck_assert_int_eq(packed_keys_find(k, "unique-5", 8), -1);
    for (int i = 0; i < 100; i++) packed_free(objs[i]);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    /* a failed build frees the keys it had created */
    struct packed *p;
    struct err e = {0};
    ck_assert_int_eq(packed_from_text(k, "{\"fresh\":1,\"other\":[}", 21, NULL, &p, &e), -1);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    packed_keys_free(k);
}
END_TEST

START_TEST(test_packed_refuses_what_is_out_of_bounds)
{
    struct packed_keys *k = packed_keys_new();
    struct packed *p = NULL;
    struct err e = {0};
    struct buf t;
    buf_init(&t);
    for (int i = 0; i < PACKED_DEPTH_MAX + 1; i++) buf_putc(&t, '[');
    for (int i = 0; i < PACKED_DEPTH_MAX + 1; i++) buf_putc(&t, ']');
    ck_assert_int_eq(packed_from_text(k, t.data, t.len, NULL, &p, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "nested deeper"));
    t.len = 0;
    for (int i = 0; i < PACKED_DEPTH_MAX; i++) buf_putc(&t, '[');
    for (int i = 0; i < PACKED_DEPTH_MAX; i++) buf_putc(&t, ']');
    ck_assert_int_eq(packed_from_text(k, t.data, t.len, NULL, &p, &e), 0);
    packed_free(p);
    buf_reset(&t);
    buf_puts(&t, "{\"");
    for (int i = 0; i <= PACKED_KEY_MAX; i++) buf_putc(&t, 'k');
    buf_puts(&t, "\":1}");
    ck_assert_int_eq(packed_from_text(k, t.data, t.len, NULL, &p, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "key"));
    json_object *j = json_tokener_parse(t.data);
    ck_assert_int_eq(packed_from_json(k, j, NULL, &p, &e), -1);
    json_object_put(j);
    static const char *bad[] = {"99999999999999999999", "1e400", "-1e400", "{\"a\\u0000b\":1}", "[1,]", "01",
                                "1.", "-", "\"\\x\"", "\"a\nb\"", "[1 2]", "{\"a\" 1}", "tru", "[1]x", "",
                                "{\"a\":1", "\"unterminated", "NaN"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e.msg[0] = 0;
        ck_assert_msg(packed_from_text(k, bad[i], strlen(bad[i]), NULL, &p, &e) == -1, "accepted %s", bad[i]);
        ck_assert_msg(e.msg[0], "no message for %s", bad[i]);
    }
    j = json_tokener_parse("18446744073709551615");
    ck_assert_int_eq(packed_from_json(k, j, NULL, &p, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "int64"));
    json_object_put(j);
    ck_assert_uint_eq(packed_keys_count(k), 0);
    buf_free(&t);
    packed_keys_free(k);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("store_packed");
    TCase *tc = tcase_create("packed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_packed_builders_give_identical_bytes_and_json_round_trips);
    tcase_add_test(tc, test_packed_readers_find_members_and_elements);
    tcase_add_test(tc, test_packed_duplicates_and_surrogates_match_json_c);
    tcase_add_test(tc, test_packed_random_json_round_trips);
    tcase_add_test(tc, test_packed_fd_reading_in_tiny_chunks_gives_the_same_bytes);
    tcase_add_test(tc, test_packed_fd_lone_surrogate_then_escape_across_chunks);
    tcase_add_test(tc, test_packed_path_reads_the_kubernetes_spellings_jsonpath_accepts);
    tcase_add_test(tc, test_packed_projection_drops_fields_in_both_builders);
    tcase_add_test(tc, test_packed_keys_are_shared_and_freed_when_unused);
    tcase_add_test(tc, test_packed_refuses_what_is_out_of_bounds);
    suite_add_tcase(s, tc);
    return s;
}
