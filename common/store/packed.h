/* Packed values: a JSON value (a watched Kubernetes object, the render CLI's context) converted once into
 * ONE immutable allocation, with its object keys interned in a shared, refcounted key table. This is how
 * stores hold objects: json-c is the parser on the informer path, never the store.
 *
 * Not for values that change: a block is never modified after it is built; a change builds a new block.
 *
 * Format (details in docs/performance.md, "Store"):
 *  - a block is a 32-byte header, a word region (uint32, 8-aligned) and a string region (bytes);
 *  - every value is a 32-bit tagged slot: low 3 bits the tag, 29 bits the payload. Null, booleans and ints
 *    in [-2^28, 2^28) are inline; other ints and doubles are 8 bytes in the word region; strings are a varint
 *    length, the bytes and a NUL in the string region (so readers hand out pointers, never copies); arrays
 *    are [count, slot...] and objects [count, key id..., slot..., (index)] in the word region;
 *  - object members stay in document order (the order templates iterate, as in Python and json-c); a lookup
 *    maps the key string to its interned id once (hash table, O(1): a key no object uses is known absent at
 *    once), then compares 32-bit ids: a linear scan up to PACKED_SCAN_MAX members (one or two cache lines,
 *    most Kubernetes objects), else a binary search over an index of member positions sorted by key id
 *    stored after the slots: O(log n), n extra words, nothing to probe or rehash;
 *  - containers are laid out children first (post-order), so the text parser can write each container when
 *    it closes without knowing sizes in advance, and both builders produce identical bytes.
 * Key ids are process-local, so the bytes of a block are only comparable within one key table; the content
 * hash in the header is computed over key text and values, so it is the same in every process. */
#ifndef HTIC_STORE_PACKED_H
#define HTIC_STORE_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/err.h"

/* Bounds on outside input (objects from the API server, the render CLI's context file). */
#define PACKED_DEPTH_MAX 128              /* nesting; the kube client's JSON parser already stops at 128, so every
                                             object an informer delivers packs; bounds the builders' recursion */
#define PACKED_STRING_MAX ((size_t)64 << 20) /* one string: far above Kubernetes' 1.5 MiB object limit, and room
                                             for a large file in the render context; fits the 4-byte varint */
#define PACKED_KEY_MAX 4096               /* one object key: Kubernetes keys (labels, annotations, data) are at
                                             most 317 bytes; longer ones are data used as keys, refused */
#define PACKED_BLOCK_MAX ((size_t)1 << 29) /* one block: what the 29-bit slot payload addresses in the string
                                             region; 30x the 16 MB render context of 10k Ingresses */
#define PACKED_MEMBERS_MAX ((size_t)1 << 24) /* elements of one array or object: 16M slots is 64 MiB of words */
#define PACKED_KEYS_MAX ((uint32_t)1 << 24) /* distinct keys per table: past 16M, keys are data, refuse */
#define PACKED_SCAN_MAX 8                 /* objects up to this many members are scanned, larger ones indexed */

enum packed_type {
    PACKED_NULL, PACKED_BOOL, PACKED_INT, PACKED_DOUBLE, PACKED_STRING, PACKED_ARRAY, PACKED_OBJECT,
};

struct packed_keys;   /* the shared key table */
struct packed;        /* one immutable block */

/* A value inside a block: the block and the value's 32-bit slot. 12 bytes of payload, so a template value
 * (kind, flags, 32-bit len, 64-bit union) can hold it as u.p = block, len = slot, with nothing copied. */
struct packed_val {
    const struct packed *b;
    uint32_t s;
};

/* Projection applied while converting: member paths dropped from every object (a compiled trie). */
struct packed_proj;

/* --- key table --- */
struct packed_keys *packed_keys_new(void);
/* Frees the table; every block built with it must have been freed first. */
void packed_keys_free(struct packed_keys *k);
/* The id of key s (no reference taken), or -1 when no live block uses that key. */
int64_t packed_keys_find(const struct packed_keys *k, const char *s, size_t n);
const char *packed_keys_str(const struct packed_keys *k, uint32_t id, size_t *len);
size_t packed_keys_count(const struct packed_keys *k);    /* live keys */
size_t packed_keys_bytes(const struct packed_keys *k);    /* memory of the table: entries, strings, hashes */
/* Keys created plus keys freed so far: an id (or an absence) packed_keys_find gave stays right while this
 * count is unchanged, so readers can cache lookups (the template engine does, per render). */
uint64_t packed_keys_changes(const struct packed_keys *k);

/* --- projection --- */
/* paths: dotted member names with ['quoted'] names for keys holding dots, e.g.
 * metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']. builtin: also drop
 * metadata.managedFields and that annotation. */
int packed_proj_new(const char *const *paths, size_t n, int builtin, struct packed_proj **out, struct err *e);
void packed_proj_free(struct packed_proj *p);

/* --- builders: both produce identical bytes for the same value --- */
/* From a json-c value (borrowed; the caller frees it). proj may be NULL. */
int packed_from_json(struct packed_keys *k, json_object *j, const struct packed_proj *proj,
                     struct packed **out, struct err *e);
/* From JSON text with the streaming parser: no json-c tree. */
int packed_from_text(struct packed_keys *k, const char *text, size_t len, const struct packed_proj *proj,
                     struct packed **out, struct err *e);
/* From a file descriptor, read in chunks: peak memory is the block being built, not the text. */
int packed_from_fd(struct packed_keys *k, int fd, const struct packed_proj *proj, struct packed **out,
                   struct err *e);
/* A canonical copy of v as a block of its own (also how a subtree becomes an object). */
int packed_copy(struct packed_keys *k, struct packed_val v, struct packed **out, struct err *e);
/* Drops the block's key references (freeing keys nobody else uses) and the block. NULL is a no-op. */
void packed_free(struct packed *p);

/* --- block --- */
struct packed_val packed_root(const struct packed *p);
size_t packed_size(const struct packed *p);           /* bytes of the allocation */
/* 64-bit hash of the content (key text and values, not key ids) without the root's
 * metadata.resourceVersion, which changes on every write even when the projection hides the change. */
uint64_t packed_hash(const struct packed *p);
const void *packed_bytes(const struct packed *p);     /* the block itself, packed_size bytes */
struct packed_keys *packed_keys_of(const struct packed *p);

/* --- readers --- */
enum packed_type packed_type(struct packed_val v);
int packed_bool(struct packed_val v);                 /* 0 unless a true BOOL */
int64_t packed_int(struct packed_val v);              /* INT; DOUBLE truncated; else 0 */
double packed_double(struct packed_val v);            /* DOUBLE or INT; else 0 */
const char *packed_str(struct packed_val v, size_t *len);   /* STRING (NUL-terminated), else NULL */
size_t packed_len(struct packed_val v);               /* elements, members, string bytes; 0 otherwise */
/* ARRAY element i: 1 and *out, or 0 when out of range or not an array. */
int packed_at(struct packed_val v, size_t i, struct packed_val *out);
/* OBJECT member by key: 1 found, 0 not. */
int packed_get(struct packed_val v, const char *key, size_t klen, struct packed_val *out);
int packed_get_id(struct packed_val v, uint32_t key_id, struct packed_val *out);
/* OBJECT member i in document order: its key (NUL-terminated, owned by the key table) and value. */
int packed_member(struct packed_val v, size_t i, const char **key, size_t *klen, struct packed_val *out);
/* Deep equality (ints and doubles compare by value, as in JSON and Python). */
int packed_equal(struct packed_val a, struct packed_val b);
/* Compact JSON (no spaces, '/' not escaped, doubles in their shortest round-trip form). */
int packed_to_json(struct packed_val v, struct buf *out);

#endif
