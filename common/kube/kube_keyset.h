/* The index a keys-only informer keeps instead of objects: for every "namespace/name" the last
 * resourceVersion seen, a 64-bit hash of the projected content, and the list epoch that last confirmed it.
 * It is what a watcher needs to tell a real change from a repeat and to find what a relist no longer
 * contains, at about 50 bytes an object, while the objects themselves live in one place downstream.
 * Not for: the objects (see kube_informer's keep-objects mode), ordering (iteration order is arbitrary). */
#ifndef HTIC_KUBE_KEYSET_H
#define HTIC_KUBE_KEYSET_H

#include <stddef.h>
#include <stdint.h>

struct kube_keyset;

struct kube_keyset_entry {
    uint64_t hash;    /* of the projected content, resourceVersion excluded */
    uint32_t epoch;   /* the list (or streaming list) that last saw the key */
    uint32_t key_len;
    char *rv;         /* points into this entry's own allocation */
    char key[];       /* NUL-terminated, then rv */
};

struct kube_keyset *kube_keyset_new(void);
void kube_keyset_free(struct kube_keyset *ks);

/* NULL when absent. The entry stays valid until the next put or del of that key. */
const struct kube_keyset_entry *kube_keyset_get(const struct kube_keyset *ks, const char *key);
/* Inserts or replaces. Returns 0, or -1 when out of memory (the set is unchanged). */
int kube_keyset_put(struct kube_keyset *ks, const char *key, const char *rv, uint64_t hash, uint32_t epoch);
/* Returns 1 when the key was present, 0 when not. */
int kube_keyset_del(struct kube_keyset *ks, const char *key);
size_t kube_keyset_count(const struct kube_keyset *ks);
/* Bytes held: table plus entries. */
size_t kube_keyset_bytes(const struct kube_keyset *ks);

/* Removes every entry whose epoch differs from `epoch`, calling gone(data, key) for each just before it is
 * freed (what a completed relist no longer contains). gone must not change the set. Returns 0, or -1 when
 * out of memory (nothing removed). */
int kube_keyset_sweep(struct kube_keyset *ks, uint32_t epoch, void (*gone)(void *data, const char *key),
                      void *data);

#endif
