/* The last-known-good versions of the objects that changed since the LKG, so a trial render can hold
 * objects at their LKG version (or leave them out when they are new) without a second copy of the stores.
 *
 * Every change is numbered (seq). Before a change is applied, the version it replaces is kept (a packed
 * copy; NULL when the object was absent) for that object. Candidates are remembered with the seq they were
 * rendered at and what they excluded; when the executor names a new LKG (by checksum), the kept versions
 * move forward to what that candidate rendered, and objects now at their LKG version are forgotten. An LKG
 * the renderer never rendered (a restart) is matched against the next candidate of that checksum.
 * Not for: rendering or the stores themselves (main.c), choosing the LKG (the executor). */
#ifndef HTIC_RENDERER_HELD_H
#define HTIC_RENDERER_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/packed.h"

/* Candidates waiting for a verdict: the executor validates one at a time and the validator keeps only the
 * newest waiting, so a handful are in flight; older ones can no longer become the LKG. */
#define HELD_CANDIDATES_MAX 32

struct held_obj {
    const char *resource, *namespace_, *name;   /* borrowed */
};

struct held;

struct held *held_new(void);
void held_free(struct held *h);

/* Before applying a change of an object whose current version is cur (NULL: absent): keeps cur when it may
 * be needed (a copy in k). Counts the change. Returns 0 or -1 (out of memory). */
int held_before_change(struct held *h, struct packed_keys *k, const struct held_obj *o, const struct packed *cur);
uint64_t held_seq(const struct held *h);
/* 1 and *out (NULL: absent at the LKG) when the object changed since the LKG; 0 when its current version
 * is its LKG version. *out stays valid until the next held_* call that changes h. */
int held_lkg_version(const struct held *h, const struct held_obj *o, const struct packed **out);
size_t held_count(const struct held *h);

/* A candidate was rendered now (at the current seq), holding back excluded. Returns 0 or -1. */
int held_candidate(struct held *h, const char *checksum, const struct held_obj *excluded, size_t n);
/* The executor's new LKG. Returns 1 when it was one of ours (versions moved forward), 0 when unknown (then
 * the next candidate of that checksum is taken as the LKG). */
int held_on_lkg(struct held *h, const char *checksum);

#endif
