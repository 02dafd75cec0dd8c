/* The per-resource change batcher (see batch.h): a chained hash table of keys, and an array of the keys with
 * a change waiting, sorted by key when taken. */
#include "workers/reconciler/batch.h"

#include <stdlib.h>
#include <string.h>

struct batch_entry {
    struct batch_entry *next;  /* bucket chain */
    char *key;                 /* owned */
    char *rv;                  /* owned: latest resourceVersion seen */
    uint64_t hash;             /* content hash of the latest version (live only) */
    uint64_t sent_hash;        /* content hash of what the renderer holds (present only); 0: unknown */
    int live;                  /* exists according to the latest event */
    int present;               /* the renderer holds a version of it */
    int in_pending;            /* listed in batch.pending */
    enum batch_op op;          /* the waiting change */
    char *json;                /* owned: the waiting upsert's object */
    size_t json_len;
};

#define BATCH_BUCKETS_MIN 64

void batch_init(struct batch *b) { memset(b, 0, sizeof(*b)); }

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void entry_free(struct batch_entry *e)
{
    free(e->key);
    free(e->rv);
    free(e->json);
    free(e);
}

void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->nbuckets; i++) {
        for (struct batch_entry *e = b->buckets[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    }
    free(b->buckets);
    free(b->pending);
    memset(b, 0, sizeof(*b));
}

void batch_reset(struct batch *b)
{
    batch_free(b);
    batch_init(b);
}

static struct batch_entry *find(const struct batch *b, const char *key)
{
    if (!b->nbuckets) return NULL;
    for (struct batch_entry *e = b->buckets[key_hash(key) % b->nbuckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

static int grow(struct batch *b)
{
    size_t n = b->nbuckets ? b->nbuckets * 2 : BATCH_BUCKETS_MIN;
    struct batch_entry **nb = calloc(n, sizeof(*nb));
    if (!nb) return -1;
    for (size_t i = 0; i < b->nbuckets; i++) {
        for (struct batch_entry *e = b->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t j = key_hash(e->key) % n;
            e->next = nb[j];
            nb[j] = e;
        }
    }
    free(b->buckets);
    b->buckets = nb;
    b->nbuckets = n;
    return 0;
}

static struct batch_entry *insert(struct batch *b, const char *key)
{
    if (b->nentries >= b->nbuckets && grow(b) < 0) return NULL;
    struct batch_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    size_t j = key_hash(key) % b->nbuckets;
    e->next = b->buckets[j];
    b->buckets[j] = e;
    b->nentries++;
    return e;
}

static void unlink_entry(struct batch *b, struct batch_entry *e)
{
    struct batch_entry **p = &b->buckets[key_hash(e->key) % b->nbuckets];
    while (*p != e) p = &(*p)->next;
    *p = e->next;
    b->nentries--;
    entry_free(e);
}

static int set_rv(struct batch_entry *e, const char *rv)
{
    char *c = strdup(rv ? rv : "");
    if (!c) return -1;
    free(e->rv);
    e->rv = c;
    return 0;
}

/* Records that a change to e is waiting (op may be BATCH_NONE: a cancellation). */
static int set_op(struct batch *b, struct batch_entry *e, enum batch_op op, int64_t now_ms)
{
    if (!e->in_pending) {
        if (b->npending == b->cap_pending) {
            size_t cap = b->cap_pending ? b->cap_pending * 2 : 16;
            struct batch_entry **np = realloc(b->pending, cap * sizeof(*np));
            if (!np) return -1;
            b->pending = np;
            b->cap_pending = cap;
        }
        b->pending[b->npending++] = e;
        e->in_pending = 1;
    }
    int waiting = b->queued > 0; /* before this change: replacing the only waiting change keeps its start */
    if (e->op != BATCH_NONE) b->queued--;
    e->op = op;
    if (op != BATCH_UPSERT) {
        free(e->json);
        e->json = NULL;
        e->json_len = 0;
    }
    if (op != BATCH_NONE) {
        b->queued++;
        if (!waiting) {
            b->first_pending_ms = now_ms;
            b->leading = !b->changed_once || now_ms - b->last_change_ms >= BATCH_QUIET_MS;
        }
    }
    b->last_change_ms = now_ms;
    b->changed_once = 1;
    return 0;
}

int batch_upsert(struct batch *b, const char *key, const char *rv, uint64_t hash, const char *json, size_t len,
                 int64_t now_ms)
{
    struct batch_entry *e = find(b, key);
    if (!e && !(e = insert(b, key))) return -1;
    if (set_rv(e, rv) < 0) return -1;
    if (e->live && e->hash == hash) return 0;
    if (!e->live) b->live++;
    e->live = 1;
    e->hash = hash;
    if (e->present && e->sent_hash == hash) { /* back to what the renderer holds */
        if (!e->in_pending) return 0;
        return set_op(b, e, BATCH_NONE, now_ms) < 0 ? -1 : 1;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, json, len);
    copy[len] = '\0';
    if (set_op(b, e, BATCH_UPSERT, now_ms) < 0) {
        free(copy);
        return -1;
    }
    free(e->json); /* the waiting upsert this one replaces */
    e->json = copy;
    e->json_len = len;
    return 1;
}

int batch_delete(struct batch *b, const char *key, const char *rv, int64_t now_ms)
{
    struct batch_entry *e = find(b, key);
    if (!e || !e->live) return 0;
    if (set_rv(e, rv) < 0) return -1;
    e->live = 0;
    b->live--;
    if (e->present) return set_op(b, e, BATCH_DELETE, now_ms) < 0 ? -1 : 1;
    /* never sent: the add and the delete cancel out */
    if (e->in_pending) return set_op(b, e, BATCH_NONE, now_ms) < 0 ? -1 : 1;
    unlink_entry(b, e);
    return 1;
}

int64_t batch_due_ms(const struct batch *b)
{
    if (!b->queued) return -1;
    if (b->leading) return b->first_pending_ms;
    int64_t quiet = b->last_change_ms + BATCH_QUIET_MS, cap = b->first_pending_ms + BATCH_MAX_LATENCY_MS;
    return quiet < cap ? quiet : cap;
}

size_t batch_queued(const struct batch *b) { return b->queued; }
int64_t batch_oldest_ms(const struct batch *b) { return b->queued ? b->first_pending_ms : -1; }
size_t batch_live(const struct batch *b) { return b->live; }

static int by_key(const void *a, const void *b)
{
    return strcmp((*(struct batch_entry *const *)a)->key, (*(struct batch_entry *const *)b)->key);
}

size_t batch_take(struct batch *b, batch_emit_cb emit, void *data)
{
    qsort(b->pending, b->npending, sizeof(b->pending[0]), by_key);
    size_t n = 0;
    for (size_t i = 0; i < b->npending; i++) {
        struct batch_entry *e = b->pending[i];
        e->in_pending = 0;
        enum batch_op op = e->op;
        e->op = BATCH_NONE;
        if (op != BATCH_NONE) {
            struct batch_item it = {.op = op, .key = e->key, .rv = e->rv, .json = e->json, .json_len = e->json_len};
            e->json = NULL;
            e->json_len = 0;
            n++;
            if (emit(data, &it) == 0) {
                e->present = op == BATCH_UPSERT;
                e->sent_hash = e->hash;
            } else if (op == BATCH_UPSERT) {
                e->hash = 0; /* refused: whatever comes next differs from "unknown" and is sent */
            }
        }
        if (!e->live && !e->present) unlink_entry(b, e);
    }
    b->npending = 0;
    b->queued = 0;
    b->leading = 0;
    return n;
}
