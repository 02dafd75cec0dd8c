/* See held.h. Objects are keyed "resource/namespace/name" (none of the three can hold a '/'). Each entry
 * keeps its versions since the LKG: [0] the LKG version, then every later version that was replaced, with
 * the seq from which it was current; the current version itself is in the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>

#include "workers/renderer/held.h"

struct version {
    uint64_t from;        /* seq from which this version was current (0 for the LKG version) */
    struct packed *p;     /* owned; NULL: the object was absent */
};

struct entry {
    char *key;            /* owned */
    struct version *v;    /* owned */
    size_t nv, capv;
    uint64_t cur_from;    /* seq from which the store's current version is current */
};

struct candidate {
    char checksum[80];
    uint64_t seq;
    char **excluded;      /* owned keys */
    size_t nexcluded;
};

struct held {
    struct lh_table *t;   /* key -> struct entry (owned through free_entry) */
    uint64_t seq;
    struct candidate c[HELD_CANDIDATES_MAX];
    size_t nc;            /* oldest first */
    char pending_lkg[80]; /* an LKG checksum we had not rendered, "" if none */
};

static void free_versions(struct version *v, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) packed_free(v[i].p);
}

static void free_entry(struct lh_entry *le)
{
    struct entry *e = (struct entry *)lh_entry_v(le);
    free_versions(e->v, 0, e->nv);
    free(e->v);
    free(e->key);
    free(e);
}

static void candidate_clear(struct candidate *c)
{
    for (size_t i = 0; i < c->nexcluded; i++) free(c->excluded[i]);
    free(c->excluded);
    memset(c, 0, sizeof(*c));
}

struct held *held_new(void)
{
    struct held *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->t = lh_kchar_table_new(1024, free_entry);
    if (!h->t) {
        free(h);
        return NULL;
    }
    return h;
}

void held_free(struct held *h)
{
    if (!h) return;
    lh_table_free(h->t);
    for (size_t i = 0; i < h->nc; i++) candidate_clear(&h->c[i]);
    free(h);
}

static char *key_of(const struct held_obj *o)
{
    size_t n = strlen(o->resource) + strlen(o->namespace_) + strlen(o->name) + 3;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s/%s/%s", o->resource, o->namespace_, o->name);
    return k;
}

static struct entry *find(const struct held *h, const char *key)
{
    void *v = NULL;
    return lh_table_lookup_ex(h->t, key, &v) ? v : NULL;
}

static int push_version(struct entry *e, uint64_t from, struct packed *p)
{
    if (e->nv == e->capv) {
        size_t cap = e->capv ? e->capv * 2 : 2;
        struct version *v = realloc(e->v, cap * sizeof(*v));
        if (!v) return -1;
        e->v = v;
        e->capv = cap;
    }
    e->v[e->nv++] = (struct version){from, p};
    return 0;
}

int held_before_change(struct held *h, struct packed_keys *k, const struct held_obj *o, const struct packed *cur)
{
    char *key = key_of(o);
    if (!key) return -1;
    struct packed *copy = NULL;
    struct err e;
    if (cur && packed_copy(k, packed_root(cur), &copy, &e) < 0) {
        free(key);
        return -1;
    }
    uint64_t seq = ++h->seq;
    struct entry *en = find(h, key);
    if (en) {
        free(key);
        /* the replaced version was current from en->cur_from; a candidate rendered since may need it */
        int needed = 0;
        for (size_t i = 0; i < h->nc; i++) needed |= h->c[i].seq >= en->cur_from;
        if (!needed) {
            packed_free(copy);
        } else if (push_version(en, en->cur_from, copy) < 0) {
            packed_free(copy);
            return -1;
        }
        en->cur_from = seq;
        return 0;
    }
    en = calloc(1, sizeof(*en));
    if (!en || push_version(en, 0, copy) < 0) {
        free(en);
        packed_free(copy);
        free(key);
        return -1;
    }
    en->key = key;
    en->cur_from = seq;
    if (lh_table_insert(h->t, en->key, en) < 0) {
        free_versions(en->v, 0, en->nv);
        free(en->v);
        free(en);
        free(key);
        return -1;
    }
    return 0;
}

uint64_t held_seq(const struct held *h) { return h->seq; }
size_t held_count(const struct held *h) { return (size_t)lh_table_length(h->t); }

int held_lkg_version(const struct held *h, const struct held_obj *o, const struct packed **out)
{
    char *key = key_of(o);
    struct entry *en = key ? find(h, key) : NULL;
    free(key);
    if (!en) return 0;
    *out = en->v[0].p;
    return 1;
}

static int excluded_in(const struct candidate *c, const char *key)
{
    for (size_t i = 0; i < c->nexcluded; i++)
        if (!strcmp(c->excluded[i], key)) return 1;
    return 0;
}

/* The LKG is now what candidate c rendered: every entry moves its LKG version to its version at c->seq
 * (unless c held it back), forgets versions no pending candidate can need, and goes when current. */
static void rebase(struct held *h, size_t ci)
{
    const struct candidate *c = &h->c[ci];
    struct lh_entry *le, *tmp;
    lh_foreach_safe(h->t, le, tmp) {
        struct entry *en = (struct entry *)lh_entry_v(le);
        /* held back by that candidate: still at the old LKG version (later versions stay for candidates
         * rendered after it) */
        if (excluded_in(c, en->key)) continue;
        if (en->cur_from <= c->seq) {   /* rendered in its current version: at its LKG version now */
            lh_table_delete_entry(h->t, le);
            continue;
        }
        /* the version current at c->seq is the last one that started at or before it */
        size_t at = 0;
        for (size_t i = 0; i < en->nv; i++)
            if (en->v[i].from <= c->seq) at = i;
        free_versions(en->v, 0, at);
        memmove(en->v, en->v + at, (en->nv - at) * sizeof(en->v[0]));
        en->nv -= at;
        en->v[0].from = 0;
    }
    /* candidates up to this one can no longer become the LKG */
    for (size_t i = 0; i <= ci; i++) candidate_clear(&h->c[i]);
    memmove(h->c, h->c + ci + 1, (h->nc - ci - 1) * sizeof(h->c[0]));
    h->nc -= ci + 1;
    memset(&h->c[h->nc], 0, (ci + 1) * sizeof(h->c[0]));
}

int held_candidate(struct held *h, const char *checksum, const struct held_obj *excluded, size_t n)
{
    if (h->nc == HELD_CANDIDATES_MAX) {
        candidate_clear(&h->c[0]);
        memmove(h->c, h->c + 1, (h->nc - 1) * sizeof(h->c[0]));
        h->nc--;
        memset(&h->c[h->nc], 0, sizeof(h->c[0]));
    }
    struct candidate *c = &h->c[h->nc];
    snprintf(c->checksum, sizeof(c->checksum), "%s", checksum);
    c->seq = h->seq;
    c->excluded = calloc(n ? n : 1, sizeof(char *));
    if (!c->excluded) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(c->excluded[i] = key_of(&excluded[i]))) {
            candidate_clear(c);
            return -1;
        }
        c->nexcluded++;
    }
    h->nc++;
    if (h->pending_lkg[0] && !strcmp(h->pending_lkg, checksum)) {
        h->pending_lkg[0] = 0;
        rebase(h, h->nc - 1);
    }
    return 0;
}

int held_on_lkg(struct held *h, const char *checksum)
{
    for (size_t i = h->nc; i-- > 0;) {
        if (strcmp(h->c[i].checksum, checksum)) continue;
        h->pending_lkg[0] = 0;
        rebase(h, i);
        return 1;
    }
    snprintf(h->pending_lkg, sizeof(h->pending_lkg), "%s", checksum);
    return 0;
}
