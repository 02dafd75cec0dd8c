/* libFuzzer target for the indexed store (common/store/store.c): the input is a program of upserts (generated
 * objects, or raw JSON text from the input), deletes, Fetch and GetSingle calls against a store whose index_by
 * is chosen by the first byte. A model (namespace/name -> content hash) checks every event's change, the count
 * and store_get after each step; at the end List() order must be sorted by index keys, namespace, name, every
 * Fetch range must hold exactly the matching objects, and freeing everything must empty the key table.
 * Not for: the builders (fuzz_packed) or paths (fuzz_paths).
 * Run: build-fuzz/tests/fuzz/fuzz_store -max_total_time=300 CORPUS (no dictionary: the input is opcodes) */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/packed_path.h"
#include "common/store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODEL_MAX 256

static const char *const index_sets[][3] = {
    {"metadata.namespace", "metadata.name", NULL},
    {"metadata.labels.app", NULL, NULL},
    {"metadata.labels.app", "spec.port", NULL},
    {"metadata.namespace", "spec.ports[0]", "metadata.labels['a.b']"},
};
static const char *const nss[] = {"", "a", "b", "default"};
static const char *const names[] = {"x", "y", "z", "w", "a-very-long-name", "x1", "x2", "0"};
static const char *const vals[] = {"", "v", "w", "true", "80"};

struct model {
    char ns[STORE_NAMESPACE_MAX + 1], name[STORE_NAME_MAX + 1];
    uint64_t hash;
};
static struct model model[MODEL_MAX];
static size_t nmodel;

static struct model *find(const char *ns, const char *name)
{
    for (size_t i = 0; i < nmodel; i++)
        if (!strcmp(model[i].ns, ns) && !strcmp(model[i].name, name)) return &model[i];
    return NULL;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_store: %s\n", what);
    abort();
}

/* What the store does with an accepted upsert, applied to the model. */
static void expect_upsert(const struct store_event *ev)
{
    struct model *m = find(ev->namespace_, ev->name);
    enum store_change want = !m ? STORE_ADDED : m->hash == ev->hash ? STORE_UNCHANGED : STORE_UPDATED;
    if (ev->change != want) fail("upsert reported the wrong change");
    if (!m) {
        if (nmodel == MODEL_MAX) fail("model full");
        m = &model[nmodel++];
        snprintf(m->ns, sizeof(m->ns), "%s", ev->namespace_);
        snprintf(m->name, sizeof(m->name), "%s", ev->name);
    }
    m->hash = ev->hash;
}

/* The index key text of an object as the store spells it: strings as is, integers and booleans as text,
 * a missing metadata.namespace as "". Returns 0 when the object has no such key. */
static int key_text(const struct packed_path *p, const struct packed *o, char *out, size_t n)
{
    struct packed_val v;
    if (!packed_path_eval(p, packed_root(o), &v)) {
        out[0] = 0;
        return !strcmp(p->src, "metadata.namespace");
    }
    size_t l;
    switch (packed_type(v)) {
    case PACKED_STRING: {
        const char *s = packed_str(v, &l);
        if (memchr(s, 0, l)) return 0;
        snprintf(out, n, "%s", s);
        return 1;
    }
    case PACKED_INT: snprintf(out, n, "%" PRId64, packed_int(v)); return 1;
    case PACKED_BOOL: snprintf(out, n, "%s", packed_bool(v) ? "true" : "false"); return 1;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192) return 0;
    struct packed_keys *k = packed_keys_new();
    const char *const *idx = index_sets[data[0] % 4];
    size_t nidx = 0;
    while (nidx < 3 && idx[nidx]) nidx++;
    struct store *s = NULL;
    struct err e;
    if (store_new(k, "fuzz", idx, nidx, NULL, &s, &e) < 0) fail(e.msg);
    struct packed_path *paths[3];
    for (size_t i = 0; i < nidx; i++)
        if (packed_path_compile(k, idx[i], &paths[i], &e) < 0) fail(e.msg);
    nmodel = 0;
    unsigned rv = 0;
    for (size_t i = 1; i < size;) {
        uint8_t op = data[i++];
        uint8_t a = i < size ? data[i++] : 0, b = i < size ? data[i++] : 0;
        const char *ns = nss[a & 3], *name = names[(a >> 2) & 7];
        struct store_event ev;
        switch (op % 5) {
        case 0: { /* a generated object; b picks which index fields it has */
            char text[512];
            char labels[128] = "";
            int w = 0;
            if (b & 1) w += snprintf(labels + w, sizeof(labels) - (size_t)w, "\"app\":\"%s\"", vals[(b >> 3) % 5]);
            if (b & 2) w += snprintf(labels + w, sizeof(labels) - (size_t)w, "%s\"a.b\":%s", w ? "," : "", b & 64 ? "true" : "7");
            snprintf(text, sizeof(text),
                     "{\"metadata\":{%s%s%s\"name\":\"%s\",\"resourceVersion\":\"%u\",\"labels\":{%s}},"
                     "\"spec\":{%s\"ports\":[%d]}}",
                     *ns ? "\"namespace\":\"" : "", ns, *ns ? "\"," : "", name, ++rv, labels,
                     b & 4 ? "\"port\":443," : "", b >> 5);
            size_t before = store_count(s);
            if (store_upsert_text(s, text, strlen(text), &ev, &e) == 0) expect_upsert(&ev);
            else if (store_count(s) != before) fail("a refused upsert changed the count");
            break;
        }
        case 1: { /* delete */
            struct model *m = find(ns, name);
            if (store_delete(s, ns, name, &ev, &e) < 0) fail(e.msg);
            if (ev.change != (m ? STORE_DELETED : STORE_UNCHANGED)) fail("delete reported the wrong change");
            if (m) *m = model[--nmodel];
            break;
        }
        case 2: { /* raw JSON text from the input: a bytes */
            size_t n = a < size - i ? a : size - i;
            const char *t = (const char *)data + i;
            i += n;
            struct packed *probe = NULL;
            if (packed_from_text(k, t, n, NULL, &probe, &e) == 0) {
                /* names with NUL cannot be deleted by C string: Kubernetes names have none, skip them */
                struct packed_val r = packed_root(probe), v, m;
                size_t l;
                int nul = 0;
                if (packed_get(r, "metadata", 8, &m)) {
                    const char *x;
                    if (packed_get(m, "name", 4, &v) && (x = packed_str(v, &l)) && memchr(x, 0, l)) nul = 1;
                    if (packed_get(m, "namespace", 9, &v) && (x = packed_str(v, &l)) && memchr(x, 0, l)) nul = 1;
                }
                packed_free(probe);
                if (nul) break;
            }
            size_t before = store_count(s);
            if (store_upsert_text(s, t, n, &ev, &e) == 0) expect_upsert(&ev);
            else if (store_count(s) != before) fail("a refused upsert changed the count");
            break;
        }
        case 3: case 4: { /* Fetch / GetSingle with keys from the value sets */
            const char *keys[3] = {vals[a % 5], b & 1 ? ns : vals[b % 5], vals[(b >> 3) % 5]};
            size_t nk = 1 + b % nidx;
            if (op % 5 == 3) {
                size_t first, count;
                if (store_fetch(s, keys, nk, &first, &count, &e) < 0) fail(e.msg);
                if (first + count > store_count(s)) fail("fetch range outside the list");
            } else {
                const struct packed *o;
                store_get_single(s, keys, nk, &o, &e);
            }
            break;
        }
        }
        if (store_count(s) != nmodel) fail("count differs from the model");
    }
    for (size_t i = 0; i < nmodel; i++) {
        const struct packed *o = store_get(s, model[i].ns, model[i].name);
        if (!o || packed_hash(o) != model[i].hash) fail("store_get differs from the model");
    }
    /* List() order, and every object found by Fetch of its own full key */
    char prev[3][256], cur[3][256], pid[2][300] = {{0}}, cid[2][300];
    for (size_t i = 0; i < store_count(s); i++) {
        const struct packed *o = store_at(s, i);
        for (size_t j = 0; j < nidx; j++)
            if (!key_text(paths[j], o, cur[j], sizeof(cur[j]))) fail("stored object lacks an index key");
        struct packed_val r = packed_root(o), m, v;
        const char *x = NULL;
        size_t l;
        snprintf(cid[0], sizeof(cid[0]), "%s",
                 packed_get(r, "metadata", 8, &m) && packed_get(m, "namespace", 9, &v) && (x = packed_str(v, &l)) ? x : "");
        snprintf(cid[1], sizeof(cid[1]), "%s", packed_get(m, "name", 4, &v) ? packed_str(v, &l) : "");
        if (i > 0) {
            int c = 0;
            for (size_t j = 0; j < nidx && !c; j++) c = strcmp(prev[j], cur[j]);
            if (!c) c = strcmp(pid[0], cid[0]);
            if (!c) c = strcmp(pid[1], cid[1]);
            if (c >= 0) fail("List() out of order");
        }
        const char *keys[3] = {cur[0], cur[1], cur[2]};
        size_t first, count;
        if (store_fetch(s, keys, nidx, &first, &count, &e) < 0) fail(e.msg);
        if (i < first || i >= first + count) fail("Fetch of an object's own keys misses it");
        memcpy(prev, cur, sizeof(prev));
        memcpy(pid, cid, sizeof(pid));
    }
    for (size_t j = 0; j < nidx; j++) packed_path_free(paths[j]);
    store_free(s);
    if (packed_keys_count(k) != 0) fail("keys left in the table");
    packed_keys_free(k);
    return 0;
}
