/* The indexed store of one watched resource: packed objects (common/store/packed.h) fed from informer
 * callbacks, indexed by the config's index_by paths, read by templates through List(), Fetch(keys...) and
 * GetSingle(keys...), and reporting every change as an event with a content hash.
 *
 * Objects are identified by namespace/name. The order of List() and of Fetch() results is the index keys,
 * then namespace, then name (bytewise): the same set of objects gives the same order and the same bytes
 * whatever order the events came in. An update whose content (after projection, apart from
 * metadata.resourceVersion) is identical is reported as STORE_UNCHANGED; the stored block still becomes the
 * new one, so what is stored never depends on the history of events.
 * Not for: fetching on demand, batching, the template engine's view (a renderer wraps store_at/store_fetch). */
#ifndef HTIC_STORE_STORE_H
#define HTIC_STORE_STORE_H

#include "common/store/packed.h"

#define STORE_NAMESPACE_MAX 63   /* a namespace is a DNS label */
#define STORE_NAME_MAX 253       /* object names are DNS subdomains at most */
#define STORE_RV_MAX 64          /* resourceVersions are etcd revisions (at most 20 digits); room for others */
#define STORE_INDEX_MAX 8        /* index_by paths per resource: real configs use two or three */

enum store_change { STORE_UNCHANGED, STORE_ADDED, STORE_UPDATED, STORE_DELETED };

/* What one upsert or delete did; the strings are copies. */
struct store_event {
    enum store_change change;
    char namespace_[STORE_NAMESPACE_MAX + 1];   /* "" for cluster-scoped objects */
    char name[STORE_NAME_MAX + 1];
    char resource_version[STORE_RV_MAX + 1];     /* of the new object, or of the deleted one */
    uint64_t hash;                               /* packed_hash of the object (0 after a delete) */
};

struct store;

/* name: the watched resource's name, for messages. index_by: 1..STORE_INDEX_MAX paths (packed_path.h
 * syntax); a missing metadata.namespace counts as "" (cluster-scoped objects), any other missing key refuses
 * the object. proj (borrowed, may be NULL) is applied to objects converted by store_upsert_json/_text. */
int store_new(struct packed_keys *k, const char *name, const char *const *index_by, size_t n,
              const struct packed_proj *proj, struct store **out, struct err *e);
void store_free(struct store *s);

/* Adds or replaces an object. On failure (no name, an index key missing) the store is unchanged: a previous
 * version of the object stays. store_upsert takes ownership of p, also on failure. */
int store_upsert(struct store *s, struct packed *p, struct store_event *ev, struct err *e);
int store_upsert_json(struct store *s, json_object *obj, struct store_event *ev, struct err *e);
int store_upsert_text(struct store *s, const char *text, size_t len, struct store_event *ev, struct err *e);
/* Removes namespace/name (ns NULL or "" for cluster-scoped); an object not stored is STORE_UNCHANGED. */
int store_delete(struct store *s, const char *ns, const char *name, struct store_event *ev, struct err *e);
int store_delete_json(struct store *s, json_object *obj, struct store_event *ev, struct err *e);

size_t store_count(const struct store *s);
/* Memory the store holds: blocks, index entries and tables (the shared key table is counted apart). */
size_t store_bytes(const struct store *s);
/* Object i of List() order, i < store_count; valid until the next upsert or delete. */
const struct packed *store_at(struct store *s, size_t i);
/* Objects whose first n index keys equal keys[0..n): positions [*first, *first + *count) of List() order.
 * Fails when n is 0 or more than the index has. */
int store_fetch(struct store *s, const char *const *keys, size_t n, size_t *first, size_t *count, struct err *e);
/* The one object matching, *out NULL when none; fails when more than one matches. */
int store_get_single(struct store *s, const char *const *keys, size_t n, const struct packed **out, struct err *e);
/* By identity, or NULL. */
const struct packed *store_get(const struct store *s, const char *ns, const char *name);

#endif
