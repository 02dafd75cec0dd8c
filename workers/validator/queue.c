/* The validator's latest-wins queue (see queue.h). */
#include "workers/validator/queue.h"

#include <stdlib.h>
#include <string.h>

#include "common/haproxy/haproxy_check.h"

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

struct validator_request *validator_request_new(const char *render_id, const char *checksum, const char *dir,
                                                int trial)
{
    struct validator_request *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->render_id = dup_or_empty(render_id);
    r->checksum = dup_or_empty(checksum);
    r->dir = dup_or_empty(dir);
    r->trial = trial;
    if (!r->render_id || !r->checksum || !r->dir) {
        validator_request_free(r);
        return NULL;
    }
    return r;
}

void validator_request_free(struct validator_request *r)
{
    if (!r) return;
    free(r->render_id);
    free(r->checksum);
    free(r->dir);
    free(r);
}

static void verdict_free(struct validator_verdict *v)
{
    free(v->message);
    free(v->warnings);
    memset(v, 0, sizeof(*v));
}

static void entry_free(struct validator_queue_entry *e)
{
    free(e->checksum);
    verdict_free(&e->v);
    memset(e, 0, sizeof(*e));
}

void validator_queue_init(struct validator_queue *q) { memset(q, 0, sizeof(*q)); }

void validator_queue_free(struct validator_queue *q)
{
    validator_request_free(q->running);
    validator_request_free(q->waiting);
    for (size_t i = 0; i < VALIDATOR_QUEUE_CACHE_MAX; i++) entry_free(&q->cache[i]);
    memset(q, 0, sizeof(*q));
}

void validator_queue_forget_verdicts(struct validator_queue *q)
{
    for (size_t i = 0; i < VALIDATOR_QUEUE_CACHE_MAX; i++) entry_free(&q->cache[i]);
    q->next_slot = 0;
}

void validator_queue_actions_free(struct validator_queue_actions *a)
{
    validator_request_free(a->finished);
    validator_request_free(a->from_cache);
    validator_request_free(a->superseded);
    memset(a, 0, sizeof(*a));
}

static const struct validator_verdict *lookup(struct validator_queue *q, const char *checksum, int64_t now_ms)
{
    for (size_t i = 0; i < VALIDATOR_QUEUE_CACHE_MAX; i++) {
        struct validator_queue_entry *e = &q->cache[i];
        if (!e->checksum || strcmp(e->checksum, checksum)) continue;
        if (now_ms - e->at_ms > VALIDATOR_QUEUE_CACHE_TTL_MS) {
            entry_free(e);
            return NULL;
        }
        return &e->v;
    }
    return NULL;
}

static void remember(struct validator_queue *q, const char *checksum, const struct validator_verdict *v,
                     int64_t now_ms)
{
    if (v->outcome != HAPROXY_CHECK_VALID && v->outcome != HAPROXY_CHECK_INVALID) return;
    struct validator_queue_entry *e = NULL;
    for (size_t i = 0; i < VALIDATOR_QUEUE_CACHE_MAX && !e; i++)
        if (q->cache[i].checksum && !strcmp(q->cache[i].checksum, checksum)) e = &q->cache[i];
    if (!e) {
        e = &q->cache[q->next_slot];
        q->next_slot = (q->next_slot + 1) % VALIDATOR_QUEUE_CACHE_MAX;
    }
    entry_free(e);
    e->checksum = strdup(checksum);
    e->v = (struct validator_verdict){.ok = v->ok, .outcome = v->outcome, .duration_ms = v->duration_ms,
                                      .message = dup_or_empty(v->message), .warnings = dup_or_empty(v->warnings)};
    e->at_ms = now_ms;
    if (!e->checksum || !e->v.message || !e->v.warnings) entry_free(e); /* out of memory: just not cached */
}

void validator_queue_submit(struct validator_queue *q, struct validator_request *r, int64_t now_ms,
                            struct validator_queue_actions *out)
{
    memset(out, 0, sizeof(*out));
    if (q->waiting) {
        out->superseded = q->waiting;
        q->waiting = NULL;
        q->superseded++;
    }
    const struct validator_verdict *hit = lookup(q, r->checksum, now_ms);
    if (hit) {
        out->from_cache = r;
        out->cached = hit;
        q->cache_hits++;
    } else if (!q->running) {
        q->running = r;
        out->run = r;
        q->runs++;
    } else {
        q->waiting = r;
    }
    if (out->superseded) out->superseded_by = r->render_id;
}

void validator_queue_done(struct validator_queue *q, const struct validator_verdict *v, int64_t now_ms,
                          struct validator_queue_actions *out)
{
    memset(out, 0, sizeof(*out));
    if (!q->running) return;
    remember(q, q->running->checksum, v, now_ms);
    out->finished = q->running;
    q->running = NULL;
    struct validator_request *next = q->waiting;
    q->waiting = NULL;
    if (!next) return;
    const struct validator_verdict *hit = lookup(q, next->checksum, now_ms);
    if (hit) {
        out->from_cache = next;
        out->cached = hit;
        q->cache_hits++;
    } else {
        q->running = next;
        out->run = next;
        q->runs++;
    }
}
