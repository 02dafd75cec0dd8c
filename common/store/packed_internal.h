/* Internals of the packed format shared by the key table, the builders and the readers: the block header,
 * the slot encoding, the builder that both the json-c path and the text parser drive. Not a public API
 * (tests include it to reach the chunked reader). */
#ifndef HTIC_STORE_PACKED_INTERNAL_H
#define HTIC_STORE_PACKED_INTERNAL_H

#include <string.h>

#include "common/store/packed.h"

/* The block: this header, then the word region (node offsets are word indexes from the block start, so the
 * header is words 0..7), then the string region at str_off. */
struct packed {
    struct packed_keys *keys;   /* the table holding the block's key references (borrowed) */
    uint64_t hash;              /* content hash, see packed_hash */
    uint32_t size;              /* bytes of the allocation */
    uint32_t str_off;           /* byte offset of the string region */
    uint32_t root;              /* root slot */
    uint32_t nwords;            /* words before the string region, header included */
};
#define PK_HDR_WORDS (sizeof(struct packed) / 4)

/* Slot tags (low 3 bits); the payload is the upper 29 bits. */
enum {
    PK_SMALLINT = 0,  /* signed 29-bit int */
    PK_CONST = 1,     /* 0 null, 1 false, 2 true */
    PK_STR = 2,       /* byte offset in the string region: varint length, bytes, NUL */
    PK_ARR = 3,       /* word index: [n, slot x n] */
    PK_OBJ = 4,       /* word index: [n, key id x n, slot x n, (n > PACKED_SCAN_MAX: position x n by key id)] */
    PK_BIGINT = 5,    /* word index: int64, 2 words */
    PK_DBL = 6,       /* word index: double, 2 words */
};
#define PK_TAG(s) ((s) & 7u)
#define PK_PAY(s) ((s) >> 3)
#define PK_MK(tag, pay) (((uint32_t)(pay) << 3) | (uint32_t)(tag))
#define PK_PAY_MAX ((uint32_t)1 << 29)
#define PK_SMALL_MIN (-((int64_t)1 << 28))
#define PK_SMALL_MAX (((int64_t)1 << 28) - 1)
#define PK_NULL PK_MK(PK_CONST, 0)
#define PK_FALSE PK_MK(PK_CONST, 1)
#define PK_TRUE PK_MK(PK_CONST, 2)
#define PK_NOKEY UINT32_MAX

static inline const uint32_t *pk_words(const struct packed *p) { return (const uint32_t *)(const void *)p; }

/* The string at byte offset off of the string region. */
static inline const char *pk_strat(const struct packed *p, uint32_t off, size_t *len)
{
    const unsigned char *q = (const unsigned char *)p + p->str_off + off;
    size_t n = 0;
    int sh = 0;
    for (;;) {
        unsigned char c = *q++;
        n |= (size_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) break;
        sh += 7;
    }
    if (len) *len = n;
    return (const char *)q;
}

/* 64-bit hash of bytes (multiply-xorshift over 8-byte words, murmur3's finaliser); not cryptographic. */
static inline uint64_t pk_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
static inline uint64_t pk_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *s = data;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ pk_mix(w)) * 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ pk_mix(w ^ 0x5555)) * 0x9e3779b97f4a7c15ULL;
    return pk_mix(h);
}

/* Key table internals used by builders and readers. */
struct pk_key {
    uint64_t refs;   /* occurrences in live blocks (64 bits: cannot overflow) */
    uint64_t hash;   /* pk_hash_bytes of the text, also folded into content hashes */
    uint32_t len;
    char s[];        /* NUL-terminated */
};
struct packed_keys {
    struct pk_key **byid;   /* owned: id -> key, NULL for a free id */
    uint32_t nid, idcap;
    uint32_t *freeids;      /* owned: ids to reuse */
    uint32_t nfree, freecap;
    uint32_t *ht;           /* owned: open addressing, id + 1, 0 empty, linear probing */
    uint32_t htcap, live;
    size_t key_bytes;       /* sum of the key allocations */
    uint64_t changes;       /* keys created plus keys freed (packed_keys_changes) */
};
/* Finds or creates (with zero references) key s; *created says which. -1 with e on a bound or OOM. */
int pk_keys_intern(struct packed_keys *k, const char *s, size_t n, uint32_t *id, int *created, struct err *e);
/* Frees a key whose references dropped to zero. */
void pk_keys_release(struct packed_keys *k, uint32_t id);
static inline struct pk_key *pk_keyent(const struct packed_keys *k, uint32_t id) { return k->byid[id]; }

/* The builder both input paths drive: containers are emitted when they close (post-order). */
struct pk_builder {
    struct packed_keys *k;
    uint32_t *w;            /* owned: word region being built; becomes the block */
    size_t wn, wcap;
    char *s;                /* owned: string region */
    size_t sn, scap;
    uint32_t *pk, *pv;      /* owned: pending (key id, slot) of open containers */
    size_t pn, pcap;
    uint32_t *newkeys;      /* owned: keys this build created, still without references */
    size_t nkn, nkcap;
    uint64_t *sortbuf;      /* owned: scratch for object indexes */
    size_t sortcap;
    int dup;                /* a duplicate key was collapsed: the regions hold garbage, copy at the end */
    struct err *e;
};
void pk_builder_init(struct pk_builder *b, struct packed_keys *k, struct err *e);
void pk_builder_free(struct pk_builder *b);          /* also drops keys created by a failed build */
int pk_use_key(struct pk_builder *b, const char *s, size_t n, uint32_t *id);
int pk_string(struct pk_builder *b, const char *s, size_t n, uint32_t *slot);
int pk_int(struct pk_builder *b, int64_t i, uint32_t *slot);
int pk_double(struct pk_builder *b, double d, uint32_t *slot);
int pk_push(struct pk_builder *b, uint32_t key, uint32_t slot);
int pk_close_array(struct pk_builder *b, size_t mark, uint32_t *slot);
int pk_close_object(struct pk_builder *b, size_t mark, uint32_t *slot);   /* collapses duplicate keys */
/* Turns the regions into the block (taking key references); the builder is spent either way. */
int pk_finish(struct pk_builder *b, uint32_t root, struct packed **out);

/* Projection trie (packed_proj_* in packed_build.c). */
struct packed_proj {
    char *name;                  /* owned; NULL at the root */
    size_t len;
    int drop;                    /* this member is dropped */
    struct packed_proj *kids;    /* owned array */
    size_t nkids;
};
const struct packed_proj *pk_proj_child(const struct packed_proj *p, const char *name, size_t len);

/* Chunked reading with a chosen chunk size (tests use tiny chunks to split every token). */
int pk_from_fd_chunked(struct packed_keys *k, int fd, size_t chunk, const struct packed_proj *proj,
                       struct packed **out, struct err *e);
/* Walks the block adding delta (+1/-1) to the references of every member key. */
void pk_refs(const struct packed *p, int delta);
uint64_t pk_content_hash(const struct packed *p);

#endif
