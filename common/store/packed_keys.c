/* The shared key table of packed blocks: every distinct object key (metadata, name, label keys...) stored
 * once per table, with a 32-bit id blocks refer to and a count of the occurrences live blocks hold. A key
 * whose count drops to zero is freed and its id reused, so churn does not grow the table forever.
 * Not for values: only object keys are interned (values are rarely shared and are cheaper inline). */
#include <stdlib.h>

#include "common/store/packed_internal.h"

#define KEYS_HT_MIN 64u   /* first hash table size (power of two) */

struct packed_keys *packed_keys_new(void)
{
    struct packed_keys *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->ht = calloc(KEYS_HT_MIN, sizeof(*k->ht));
    if (!k->ht) {
        free(k);
        return NULL;
    }
    k->htcap = KEYS_HT_MIN;
    return k;
}

void packed_keys_free(struct packed_keys *k)
{
    if (!k) return;
    for (uint32_t i = 0; i < k->nid; i++) free(k->byid[i]);
    free(k->byid);
    free(k->freeids);
    free(k->ht);
    free(k);
}

static int64_t find(const struct packed_keys *k, const char *s, size_t n, uint64_t h, uint32_t *pos)
{
    uint32_t m = k->htcap - 1, p = (uint32_t)h & m;
    for (;; p = (p + 1) & m) {
        uint32_t v = k->ht[p];
        if (!v) {
            if (pos) *pos = p;
            return -1;
        }
        const struct pk_key *key = k->byid[v - 1];
        if (key->hash == h && key->len == n && memcmp(key->s, s, n) == 0) {
            if (pos) *pos = p;
            return v - 1;
        }
    }
}

int64_t packed_keys_find(const struct packed_keys *k, const char *s, size_t n)
{
    if (n > PACKED_KEY_MAX) return -1;
    return find(k, s, n, pk_hash_bytes(s, n, 0), NULL);
}

static int grow_ht(struct packed_keys *k)
{
    uint32_t cap = k->htcap * 2;
    uint32_t *ht = calloc(cap, sizeof(*ht));
    if (!ht) return -1;
    for (uint32_t i = 0; i < k->htcap; i++) {
        uint32_t v = k->ht[i];
        if (!v) continue;
        uint32_t p = (uint32_t)k->byid[v - 1]->hash & (cap - 1);
        while (ht[p]) p = (p + 1) & (cap - 1);
        ht[p] = v;
    }
    free(k->ht);
    k->ht = ht;
    k->htcap = cap;
    return 0;
}

int pk_keys_intern(struct packed_keys *k, const char *s, size_t n, uint32_t *id, int *created, struct err *e)
{
    *created = 0;
    if (n > PACKED_KEY_MAX) return err_set(e, "object key of %zu bytes (at most %d)", n, PACKED_KEY_MAX);
    if (memchr(s, 0, n)) return err_set(e, "object key contains a NUL character");
    uint64_t h = pk_hash_bytes(s, n, 0);
    uint32_t pos;
    int64_t got = find(k, s, n, h, &pos);
    if (got >= 0) {
        *id = (uint32_t)got;
        return 0;
    }
    if (k->live >= PACKED_KEYS_MAX) return err_set(e, "more than %u distinct object keys", PACKED_KEYS_MAX);
    if ((k->live + 1) * 4 > k->htcap * 3) {   /* keep the load under 3/4 */
        if (grow_ht(k) < 0) return err_set(e, "out of memory");
        find(k, s, n, h, &pos);
    }
    struct pk_key *key = malloc(sizeof(*key) + n + 1);
    if (!key) return err_set(e, "out of memory");
    uint32_t nid;
    if (k->nfree) {
        nid = k->freeids[--k->nfree];
    } else {
        if (k->nid == k->idcap) {
            uint32_t cap = k->idcap ? k->idcap * 2 : 64;
            struct pk_key **b = realloc(k->byid, cap * sizeof(*b));
            if (!b) {
                free(key);
                return err_set(e, "out of memory");
            }
            k->byid = b;
            k->idcap = cap;
        }
        nid = k->nid++;
    }
    key->refs = 0;
    key->hash = h;
    key->len = (uint32_t)n;
    memcpy(key->s, s, n);
    key->s[n] = 0;
    k->byid[nid] = key;
    k->ht[pos] = nid + 1;
    k->live++;
    k->key_bytes += sizeof(*key) + n + 1;
    k->changes++;
    *id = nid;
    *created = 1;
    return 0;
}

void pk_keys_release(struct packed_keys *k, uint32_t id)
{
    struct pk_key *key = k->byid[id];
    if (!key || key->refs) return;
    uint32_t m = k->htcap - 1, p;
    find(k, key->s, key->len, key->hash, &p);
    /* backward-shift deletion keeps every probe chain unbroken without tombstones */
    uint32_t hole = p;
    for (uint32_t q = (p + 1) & m; k->ht[q]; q = (q + 1) & m) {
        uint32_t home = (uint32_t)k->byid[k->ht[q] - 1]->hash & m;
        /* the entry at q may fill the hole if its home is not in (hole, q] cyclically */
        int between = hole <= q ? (home > hole && home <= q) : (home > hole || home <= q);
        if (!between) {
            k->ht[hole] = k->ht[q];
            hole = q;
        }
    }
    k->ht[hole] = 0;
    k->key_bytes -= sizeof(*key) + key->len + 1;
    free(key);
    k->byid[id] = NULL;
    k->live--;
    k->changes++;
    if (k->nfree == k->freecap) {
        uint32_t cap = k->freecap ? k->freecap * 2 : 64;
        uint32_t *f = realloc(k->freeids, cap * sizeof(*f));
        if (!f) return;   /* the id is not reused; harmless */
        k->freeids = f;
        k->freecap = cap;
    }
    k->freeids[k->nfree++] = id;
}

const char *packed_keys_str(const struct packed_keys *k, uint32_t id, size_t *len)
{
    const struct pk_key *key = id < k->nid ? k->byid[id] : NULL;
    if (!key) return NULL;
    if (len) *len = key->len;
    return key->s;
}

size_t packed_keys_count(const struct packed_keys *k) { return k->live; }
uint64_t packed_keys_changes(const struct packed_keys *k) { return k->changes; }

size_t packed_keys_bytes(const struct packed_keys *k)
{
    return sizeof(*k) + k->key_bytes + (size_t)k->idcap * sizeof(*k->byid) +
           (size_t)k->freecap * sizeof(*k->freeids) + (size_t)k->htcap * sizeof(*k->ht);
}
