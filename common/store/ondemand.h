/* `store: on-demand` (docs/architecture.md, "On-demand resources"): what the process tree keeps of an
 * on-demand watched resource and how the renderer resolves it.
 *  - A reference: the object cut down to metadata.name, .namespace, .resourceVersion, what its index_by
 *    paths need, and ONDEMAND_HASH_KEY (the content hash of the whole projected object, so that a change the
 *    reference does not show still changes the reference). The reconciler forwards references instead of
 *    objects; the renderer's store holds them like objects (same index, same order).
 *  - The cache: fetched objects by "resource/namespace/name" and resourceVersion, bounded in bytes; an entry
 *    is only ever used for the resourceVersion it was fetched at, so a render reads exactly the versions its
 *    references name. Entries read by the newest render are kept even over the bound (the templates' working
 *    set); the others go least recently used first. A failed fetch is kept as an error entry until a render
 *    reported it.
 * Pure: no loop, no IPC, no API client (the reconciler fetches, docs/ipc.md `fetch` / `fetched`).
 * Not for: the store itself (store.h), fetching, deciding when to render. */
#ifndef HTIC_STORE_ONDEMAND_H
#define HTIC_STORE_ONDEMAND_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/store/packed.h"
#include "common/store/packed_path.h"

/* The root member a reference carries and an object never does (Kubernetes' top-level fields are camelCase
 * words; this one starts with a character no API field has). */
#define ONDEMAND_HASH_KEY "@onDemandHash"
/* Bytes of cached objects beyond what the newest render read: a TLS Secret is 2-8 KiB, so 16 MiB keeps a few
 * thousand warm while bounding what thousands of unrelated reads of earlier renders can hold. */
#define ONDEMAND_CACHE_BYTES ((size_t)16 << 20)
/* References named in one `fetch` message: 512 keys of at most ~330 bytes stay far under IPC_FRAME_MAX. */
#define ONDEMAND_FETCH_BATCH 512

/* The reference of full (the projected object) as compact JSON appended to out: metadata.name, namespace,
 * resourceVersion, the metadata member or top-level member each index path starts with (index paths in
 * packed_path syntax), and ONDEMAND_HASH_KEY: packed_hash(full) in hex. Returns 0 or -1 (out of memory). */
int ondemand_ref_json(const struct packed *full, const struct packed_path *const *paths, size_t n, struct buf *out);
/* 1 when p is a reference (carries ONDEMAND_HASH_KEY). */
int ondemand_is_ref(const struct packed *p);
/* The identity of an object or reference: key "ns/name" (cluster-scoped: "/name") into key (cap bytes) and
 * its resourceVersion (NULL when absent). Returns 0, or -1 when it has no metadata.name. */
int ondemand_ident(const struct packed *p, char *key, size_t cap, const char **rv);

struct ondemand_cache;

struct ondemand_cache *ondemand_cache_new(size_t max_bytes);
void ondemand_cache_free(struct ondemand_cache *c);
/* A render begins: entries it reads from now on are its working set. */
void ondemand_cache_begin(struct ondemand_cache *c);
/* The object cached for key at exactly rv (marked read by this render), or NULL. */
const struct packed *ondemand_cache_get(struct ondemand_cache *c, const char *key, const char *rv);
/* The error of a failed fetch of key at rv, or NULL. */
const char *ondemand_cache_error(const struct ondemand_cache *c, const char *key, const char *rv);
/* Stores a fetched object (takes p, also on failure) or an error for key at rv, replacing what key had.
 * Returns 0 or -1. Trims to the bound afterwards. */
int ondemand_cache_put(struct ondemand_cache *c, const char *key, const char *rv, struct packed *p);
int ondemand_cache_put_error(struct ondemand_cache *c, const char *key, const char *rv, const char *msg);
/* Drops key's entry unless it is at keep_rv (NULL: drop whatever it is): the object changed or went away. */
void ondemand_cache_evict(struct ondemand_cache *c, const char *key, const char *keep_rv);
/* Drops every error entry (they were reported; the next read fetches again). */
void ondemand_cache_clear_errors(struct ondemand_cache *c);
size_t ondemand_cache_count(const struct ondemand_cache *c);
size_t ondemand_cache_bytes(const struct ondemand_cache *c);   /* packed bytes of the cached objects */

#endif
