/* Open-addressing hash table of keys-only informer entries (see kube_keyset.h). Linear probing with
 * backward-shift deletion, so there are no tombstones to clean up after churn; one allocation per entry
 * holds the key and the resourceVersion together. */
#include "common/kube/kube_keyset.h"

#include <stdlib.h>
#include <string.h>

#define KEYSET_MIN_SLOTS 64

struct kube_keyset {
    struct kube_keyset_entry **slots;
    size_t nslots;   /* power of two */
    size_t count;
    size_t entry_bytes;
};

static uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static size_t entry_size(const struct kube_keyset_entry *e)
{
    return sizeof(*e) + e->key_len + 1 + strlen(e->rv) + 1;
}

struct kube_keyset *kube_keyset_new(void)
{
    struct kube_keyset *ks = calloc(1, sizeof(*ks));
    if (!ks) return NULL;
    ks->slots = calloc(KEYSET_MIN_SLOTS, sizeof(*ks->slots));
    if (!ks->slots) {
        free(ks);
        return NULL;
    }
    ks->nslots = KEYSET_MIN_SLOTS;
    return ks;
}

void kube_keyset_free(struct kube_keyset *ks)
{
    if (!ks) return;
    for (size_t i = 0; i < ks->nslots; i++) free(ks->slots[i]);
    free(ks->slots);
    free(ks);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const struct kube_keyset *ks, const char *key, size_t n)
{
    size_t mask = ks->nslots - 1, i = (size_t)key_hash(key, n) & mask;
    for (;;) {
        const struct kube_keyset_entry *e = ks->slots[i];
        if (!e || (e->key_len == n && memcmp(e->key, key, n) == 0)) return i;
        i = (i + 1) & mask;
    }
}

const struct kube_keyset_entry *kube_keyset_get(const struct kube_keyset *ks, const char *key)
{
    return ks->slots[find_slot(ks, key, strlen(key))];
}

static int grow(struct kube_keyset *ks)
{
    size_t n = ks->nslots * 2;
    struct kube_keyset_entry **old = ks->slots, **slots = calloc(n, sizeof(*slots));
    if (!slots) return -1;
    size_t oldn = ks->nslots;
    ks->slots = slots;
    ks->nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i]) ks->slots[find_slot(ks, old[i]->key, old[i]->key_len)] = old[i];
    free(old);
    return 0;
}

int kube_keyset_put(struct kube_keyset *ks, const char *key, const char *rv, uint64_t hash, uint32_t epoch)
{
    if (!rv) rv = "";
    size_t n = strlen(key), rn = strlen(rv);
    if (n > UINT32_MAX) return -1;
    /* keep the load under 3/4 so probes stay short */
    if ((ks->count + 1) * 4 > ks->nslots * 3 && grow(ks) < 0) return -1;
    size_t i = find_slot(ks, key, n);
    struct kube_keyset_entry *old = ks->slots[i];
    struct kube_keyset_entry *e;
    if (old && strlen(old->rv) == rn) {
        e = old; /* same size: update in place */
    } else {
        e = malloc(sizeof(*e) + n + 1 + rn + 1);
        if (!e) return -1;
        e->key_len = (uint32_t)n;
        memcpy(e->key, key, n + 1);
        e->rv = e->key + n + 1;
        if (old) {
            ks->entry_bytes -= entry_size(old);
            free(old);
        } else {
            ks->count++;
        }
        ks->entry_bytes += sizeof(*e) + n + 1 + rn + 1;
        ks->slots[i] = e;
    }
    memcpy(e->rv, rv, rn + 1);
    e->hash = hash;
    e->epoch = epoch;
    return 0;
}

/* Removes the entry at slot i and shifts the following run back so lookups never stop at a hole. */
static void remove_at(struct kube_keyset *ks, size_t i)
{
    size_t mask = ks->nslots - 1;
    ks->entry_bytes -= entry_size(ks->slots[i]);
    free(ks->slots[i]);
    ks->slots[i] = NULL;
    ks->count--;
    for (size_t j = (i + 1) & mask; ks->slots[j]; j = (j + 1) & mask) {
        struct kube_keyset_entry *e = ks->slots[j];
        size_t home = (size_t)key_hash(e->key, e->key_len) & mask;
        /* e may move to i only if its home is not cyclically within (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        ks->slots[i] = e;
        ks->slots[j] = NULL;
        i = j;
    }
}

int kube_keyset_del(struct kube_keyset *ks, const char *key)
{
    size_t i = find_slot(ks, key, strlen(key));
    if (!ks->slots[i]) return 0;
    remove_at(ks, i);
    return 1;
}

size_t kube_keyset_count(const struct kube_keyset *ks) { return ks->count; }

size_t kube_keyset_bytes(const struct kube_keyset *ks)
{
    return sizeof(*ks) + ks->nslots * sizeof(*ks->slots) + ks->entry_bytes;
}

int kube_keyset_sweep(struct kube_keyset *ks, uint32_t epoch, void (*gone)(void *data, const char *key),
                      void *data)
{
    /* Rebuilt into a fresh table rather than removed in place: backward shifts during a scan could move an
     * unvisited entry behind the cursor. A sweep ends a relist, so its O(n) allocation is rare. */
    struct kube_keyset_entry **old = ks->slots, **slots = calloc(ks->nslots, sizeof(*slots));
    if (!slots) return -1;
    ks->slots = slots;
    for (size_t i = 0; i < ks->nslots; i++) {
        struct kube_keyset_entry *e = old[i];
        if (!e) continue;
        if (e->epoch == epoch) {
            ks->slots[find_slot(ks, e->key, e->key_len)] = e;
            continue;
        }
        if (gone) gone(data, e->key);
        ks->entry_bytes -= entry_size(e);
        ks->count--;
        free(e);
    }
    free(old);
    return 0;
}
