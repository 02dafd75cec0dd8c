/* The executor's generation state machine (see generation.h). Everything here is in memory and
 * deterministic: the same inputs give the same actions. */
#include "workers/executor/generation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_GOOD = 1, ST_CAND, ST_REST, ST_BAD };
#define ST_INCLUDED 0x80 /* marks cand[0..half) while a NARROW trial's exclusion set is built */

static const char *const STAGE_RENDER = "render";
static const char *const STAGE_VALIDATE = "validate";

/* ---- objects and sets ---- */

int gen_object_cmp(const struct gen_object *a, const struct gen_object *b)
{
    int c = strcmp(a->resource, b->resource);
    if (!c) c = strcmp(a->namespace, b->namespace);
    return c ? c : strcmp(a->name, b->name);
}

static int obj_cmp_void(const void *a, const void *b) { return gen_object_cmp(a, b); }

int gen_object_copy(struct gen_object *dst, const struct gen_object *src)
{
    size_t r = strlen(src->resource) + 1, ns = strlen(src->namespace ? src->namespace : "") + 1,
           n = strlen(src->name) + 1;
    char *block = malloc(r + ns + n);
    if (!block) return -1;
    memcpy(block, src->resource, r);
    memcpy(block + r, src->namespace ? src->namespace : "", ns);
    memcpy(block + r + ns, src->name, n);
    dst->resource = block;
    dst->namespace = block + r;
    dst->name = block + r + ns;
    return 0;
}

void gen_object_free(struct gen_object *o)
{
    free((void *)o->resource);
    o->resource = o->namespace = o->name = NULL;
}

static int obj_valid(const struct gen_object *o) { return o && o->resource && o->name; }

static void set_clear(struct gen_objset *s)
{
    for (size_t i = 0; i < s->len; i++) gen_object_free(&s->items[i]);
    s->len = 0;
    s->overflow = 0;
}

static void set_free(struct gen_objset *s)
{
    set_clear(s);
    free(s->items);
    s->items = NULL;
    s->cap = 0;
}

static long set_find(const struct gen_objset *s, const struct gen_object *o)
{
    if (!s->len) return -1;
    const struct gen_object *hit = bsearch(o, s->items, s->len, sizeof(*o), obj_cmp_void);
    return hit ? hit - s->items : -1;
}

static void set_sort_unique(struct gen_objset *s)
{
    if (s->len < 2) return;
    qsort(s->items, s->len, sizeof(*s->items), obj_cmp_void);
    size_t w = 1;
    for (size_t i = 1; i < s->len; i++) {
        if (gen_object_cmp(&s->items[w - 1], &s->items[i]) == 0)
            gen_object_free(&s->items[i]);
        else
            s->items[w++] = s->items[i];
    }
    s->len = w;
}

/* Adds copies of objs (invalid ones skipped). Past GEN_MAX_PENDING the set is marked incomplete. */
static int set_add(struct gen_objset *s, const struct gen_object *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!obj_valid(&objs[i])) continue;
        if (s->len >= GEN_MAX_PENDING) {
            set_sort_unique(s);
            if (s->len >= GEN_MAX_PENDING) {
                s->overflow = 1;
                return 0;
            }
        }
        if (s->len == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            struct gen_object *it = realloc(s->items, cap * sizeof(*it));
            if (!it) return -1;
            s->items = it;
            s->cap = cap;
        }
        if (gen_object_copy(&s->items[s->len], &objs[i]) < 0) return -1;
        s->len++;
    }
    set_sort_unique(s);
    return 0;
}

/* Moves every object of src into dst; src ends empty. */
static int set_merge(struct gen_objset *dst, struct gen_objset *src)
{
    int rc = set_add(dst, src->items, src->len);
    if (src->overflow) dst->overflow = 1;
    set_clear(src);
    return rc;
}

/* The quarantine is kept sorted (gen_object_cmp): a candidate's changed list may name 262 144 objects, each
 * looked up here. Returns the index of o, or -(insertion point) - 1 when it is absent. */
static long quarantine_search(const struct gen_sm *sm, const struct gen_object *o)
{
    size_t lo = 0, hi = sm->nquarantined;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = gen_object_cmp(&sm->quarantined[mid].obj, o);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

static long quarantine_find(const struct gen_sm *sm, const struct gen_object *o)
{
    long i = quarantine_search(sm, o);
    return i >= 0 ? i : -1;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* ---- actions ---- */

static void action_free(struct gen_action *a)
{
    for (size_t i = 0; i < a->nexclude; i++) gen_object_free(&a->exclude[i]);
    free(a->exclude);
    free(a->message);
    if (a->obj.resource) gen_object_free(&a->obj);
}

static void actions_clear(struct gen_sm *sm)
{
    for (size_t i = 0; i < sm->nactions; i++) action_free(&sm->actions[i]);
    sm->nactions = 0;
}

static struct gen_action *action_new(struct gen_sm *sm, enum gen_action_type type)
{
    if (sm->nactions == sm->capactions) {
        size_t cap = sm->capactions ? sm->capactions * 2 : 8;
        struct gen_action *a = realloc(sm->actions, cap * sizeof(*a));
        if (!a) return NULL;
        sm->actions = a;
        sm->capactions = cap;
    }
    struct gen_action *a = &sm->actions[sm->nactions++];
    memset(a, 0, sizeof(*a));
    a->type = type;
    return a;
}

const struct gen_action *gen_actions(const struct gen_sm *sm, size_t *n)
{
    *n = sm->nactions;
    return sm->actions;
}

static int exclude_push(struct gen_action *a, size_t *cap, const struct gen_object *o)
{
    if (a->nexclude == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct gen_object *x = realloc(a->exclude, ncap * sizeof(*x));
        if (!x) return -1;
        a->exclude = x;
        *cap = ncap;
    }
    if (gen_object_copy(&a->exclude[a->nexclude], o) < 0) return -1;
    a->nexclude++;
    return 0;
}

/* Adds the quarantined objects not already listed (the pending ones were added first, sorted). */
static int exclude_quarantined(struct gen_sm *sm, struct gen_action *a, size_t *cap)
{
    for (size_t i = 0; i < sm->nquarantined; i++) {
        if (set_find(&sm->pending, &sm->quarantined[i].obj) >= 0 && sm->phase == GEN_BISECTING) continue;
        if (exclude_push(a, cap, &sm->quarantined[i].obj) < 0) return -1;
    }
    return 0;
}

/* A candidate render with the standing exclusion set (the quarantine). */
static int ask_candidate(struct gen_sm *sm, const struct gen_clock *now)
{
    struct gen_action *a = action_new(sm, GEN_ACT_RENDER);
    if (!a) return -1;
    a->render_id = sm->next_render_id++;
    a->trial = 0;
    size_t cap = 0;
    for (size_t i = 0; i < sm->nquarantined; i++)
        if (exclude_push(a, &cap, &sm->quarantined[i].obj) < 0) return -1;
    sm->cand_since_ms = now->mono_ms;
    return 0;
}

static int emit_error(struct gen_sm *sm, uint64_t generation, const char *stage, const char *message)
{
    sm->have_error = 1;
    sm->last_error.generation = generation;
    sm->last_error.stage = stage;
    copy_str(sm->last_error.message, sizeof(sm->last_error.message), message);
    struct gen_action *a = action_new(sm, GEN_ACT_ERROR);
    if (!a) return -1;
    a->generation = generation;
    a->stage = stage;
    a->message = strdup(sm->last_error.message);
    return a->message ? 0 : -1;
}

static int publish(struct gen_sm *sm, const struct gen_clock *now, uint64_t generation, const char *checksum)
{
    sm->have_lkg = 1;
    sm->lkg.generation = generation;
    copy_str(sm->lkg.checksum, sizeof(sm->lkg.checksum), checksum);
    sm->lkg.at_wall_ms = now->wall_ms;
    sm->published++;
    struct gen_action *a = action_new(sm, GEN_ACT_PUBLISH);
    if (!a) return -1;
    a->generation = generation;
    copy_str(a->checksum, sizeof(a->checksum), checksum);
    a->at_wall_ms = now->wall_ms;
    return 0;
}

static int release(struct gen_sm *sm, size_t qi)
{
    struct gen_action *a = action_new(sm, GEN_ACT_RELEASE);
    if (!a) return -1;
    a->obj = sm->quarantined[qi].obj; /* ownership moves to the action */
    a->message = sm->quarantined[qi].reason;
    memmove(&sm->quarantined[qi], &sm->quarantined[qi + 1],
            (sm->nquarantined - qi - 1) * sizeof(*sm->quarantined));
    sm->nquarantined--;
    sm->releases++;
    return 0;
}

static int quarantine(struct gen_sm *sm, const struct gen_clock *now, const struct gen_object *o, const char *why)
{
    if (sm->nquarantined == sm->capquarantined) {
        size_t cap = sm->capquarantined ? sm->capquarantined * 2 : 8;
        struct gen_quarantined *q = realloc(sm->quarantined, cap * sizeof(*q));
        if (!q) return -1;
        sm->quarantined = q;
        sm->capquarantined = cap;
    }
    struct gen_quarantined fresh;
    if (gen_object_copy(&fresh.obj, o) < 0) return -1;
    fresh.reason = strdup(why);
    if (!fresh.reason) {
        gen_object_free(&fresh.obj);
        return -1;
    }
    fresh.since_wall_ms = now->wall_ms;
    long at = quarantine_search(sm, o);
    if (at >= 0) { /* already held: the newer reason replaces the older */
        gen_object_free(&fresh.obj);
        free(sm->quarantined[at].reason);
        sm->quarantined[at].reason = fresh.reason;
        return 0;
    }
    size_t pos = (size_t)(-at - 1);
    memmove(&sm->quarantined[pos + 1], &sm->quarantined[pos], (sm->nquarantined - pos) * sizeof(fresh));
    sm->quarantined[pos] = fresh;
    sm->nquarantined++;
    sm->quarantines++;
    struct gen_action *a = action_new(sm, GEN_ACT_QUARANTINE);
    if (!a || gen_object_copy(&a->obj, o) < 0) return -1;
    a->message = strdup(why);
    return a->message ? 0 : -1;
}

/* ---- life cycle ---- */

void gen_init(struct gen_sm *sm, uint64_t first_render_id)
{
    memset(sm, 0, sizeof(*sm));
    sm->next_render_id = first_render_id ? first_render_id : 1;
}

static void bisect_free(struct gen_bisect *b)
{
    free(b->state);
    free(b->cand);
    free(b->rest);
    memset(b, 0, sizeof(*b));
}

void gen_free(struct gen_sm *sm)
{
    actions_clear(sm);
    free(sm->actions);
    for (size_t i = 0; i < sm->nquarantined; i++) {
        gen_object_free(&sm->quarantined[i].obj);
        free(sm->quarantined[i].reason);
    }
    free(sm->quarantined);
    set_free(&sm->pending);
    set_free(&sm->pending_next);
    bisect_free(&sm->b);
    memset(sm, 0, sizeof(*sm));
}

int gen_restore(struct gen_sm *sm, const struct gen_lkg *lkg, const struct gen_quarantined *q, size_t nq)
{
    if (lkg) {
        sm->have_lkg = 1;
        sm->lkg = *lkg;
        if (lkg->generation > sm->last_generation) sm->last_generation = lkg->generation;
    }
    struct gen_clock at = {0, 0};
    for (size_t i = 0; i < nq && i < GEN_MAX_QUARANTINED; i++) {
        if (!obj_valid(&q[i].obj) || quarantine_find(sm, &q[i].obj) >= 0) continue;
        at.wall_ms = q[i].since_wall_ms;
        if (quarantine(sm, &at, &q[i].obj, q[i].reason ? q[i].reason : "") < 0) return -1;
    }
    sm->quarantines = 0;
    actions_clear(sm); /* restoring is not news */
    return 0;
}

int gen_on_start(struct gen_sm *sm, const struct gen_clock *now)
{
    actions_clear(sm);
    return ask_candidate(sm, now);
}

/* ---- bisection ---- */

static void end_bisection(struct gen_sm *sm)
{
    bisect_free(&sm->b);
    if (sm->phase == GEN_BISECTING) sm->phase = GEN_IDLE;
}

static int send_trial(struct gen_sm *sm, const struct gen_clock *now, int kind)
{
    struct gen_bisect *b = &sm->b;
    b->kind = kind;
    b->trial_id = sm->next_render_id++;
    b->trial_sent_ms = now->mono_ms;
    b->trial_rendered = 0;
    b->trials++;
    sm->trials_total++;
    struct gen_action *a = action_new(sm, GEN_ACT_RENDER);
    if (!a) return -1;
    a->render_id = b->trial_id;
    a->trial = 1;
    if (kind == GEN_TRIAL_NARROW)
        for (size_t i = 0; i < b->half; i++) b->state[b->cand[i]] |= ST_INCLUDED;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < sm->pending.len && rc == 0; i++) {
        unsigned char st = b->state[i];
        int included = (st & ST_INCLUDED) || st == ST_GOOD || (kind == GEN_TRIAL_CONFIRM && st == ST_REST);
        if (kind == GEN_TRIAL_BASELINE) included = 0;
        if (!included) rc = exclude_push(a, &cap, &sm->pending.items[i]);
    }
    for (size_t i = 0; i < sm->pending.len; i++) b->state[i] &= (unsigned char)~ST_INCLUDED;
    return rc == 0 ? exclude_quarantined(sm, a, &cap) : rc;
}

/* The bisection is over: publish the largest known-good set if it is news, ask for a candidate with the
 * new standing exclusion set (which should then equal the LKG), carry newer changes over. */
static int finish_bisection(struct gen_sm *sm, const struct gen_clock *now)
{
    struct gen_bisect *b = &sm->b;
    int rc = 0;
    if (b->have_good && b->good_count > 0 && !(sm->have_lkg && strcmp(b->good_checksum, sm->lkg.checksum) == 0))
        rc = publish(sm, now, ++sm->last_generation, b->good_checksum);
    end_bisection(sm);
    set_clear(&sm->pending);
    if (rc == 0) rc = set_merge(&sm->pending, &sm->pending_next);
    sm->newer = 0;
    sm->restarts = 0;
    if (rc == 0) rc = ask_candidate(sm, now);
    sm->phase = GEN_VALIDATING;
    sm->cand_checksum[0] = '\0'; /* the failed one is known by failed_checksum */
    sm->cand_failed = 0;
    return rc;
}

static int give_up(struct gen_sm *sm, const struct gen_clock *now, const char *why)
{
    struct gen_bisect *b = &sm->b;
    char msg[GEN_MESSAGE_MAX];
    /* Messages are cut to fit (the validator's log line has the whole text). */
    snprintf(msg, sizeof(msg), "bisection stopped after %u trials (%.32s); last failure: %.*s", b->trials, why,
             (int)sizeof(msg) - 128, b->fail_message);
    int rc = emit_error(sm, sm->cand_generation, b->fail_stage ? b->fail_stage : STAGE_VALIDATE, msg);
    /* What is still unknown stays pending for the next round; the good part is published. */
    struct gen_objset unknown = {0};
    for (size_t i = 0; i < sm->pending.len && rc == 0; i++)
        if (b->state[i] == ST_CAND || b->state[i] == ST_REST) rc = set_add(&unknown, &sm->pending.items[i], 1);
    if (rc == 0) rc = finish_bisection(sm, now);
    if (rc == 0) rc = set_merge(&sm->pending, &unknown);
    set_free(&unknown);
    sm->no_bisect = 1;
    return rc;
}

static int next_step(struct gen_sm *sm, const struct gen_clock *now)
{
    struct gen_bisect *b = &sm->b;
    if (b->ncand == 1) {
        /* GOOD passes and GOOD + this one fails: it breaks the configuration. */
        size_t i = b->cand[0];
        b->state[i] = ST_BAD;
        b->ncand = 0;
        if (sm->nquarantined >= GEN_MAX_QUARANTINED) return give_up(sm, now, "quarantine full");
        char why[GEN_MESSAGE_MAX];
        snprintf(why, sizeof(why), "%.8s: %.*s", b->fail_stage, (int)sizeof(why) - 16, b->fail_message);
        if (quarantine(sm, now, &sm->pending.items[i], why) < 0) return -1;
        if (b->nrest == 0) return finish_bisection(sm, now);
        if (b->trials >= GEN_MAX_TRIALS) return give_up(sm, now, "trial budget spent");
        return send_trial(sm, now, GEN_TRIAL_CONFIRM);
    }
    if (b->trials >= GEN_MAX_TRIALS) return give_up(sm, now, "trial budget spent");
    b->half = b->ncand / 2;
    return send_trial(sm, now, GEN_TRIAL_NARROW);
}

static int start_bisection(struct gen_sm *sm, const struct gen_clock *now, const char *stage, const char *message)
{
    struct gen_bisect *b = &sm->b;
    bisect_free(b);
    /* Quarantined objects are never part of what is bisected: they stay excluded. */
    for (size_t i = 0; i < sm->nquarantined; i++) {
        long at = set_find(&sm->pending, &sm->quarantined[i].obj);
        if (at < 0) continue;
        gen_object_free(&sm->pending.items[at]);
        memmove(&sm->pending.items[at], &sm->pending.items[at + 1],
                (sm->pending.len - (size_t)at - 1) * sizeof(*sm->pending.items));
        sm->pending.len--;
    }
    /* Nothing changed to blame (a template or config problem), or too much to reason about. */
    if (sm->pending.len == 0 || sm->pending.overflow || sm->no_bisect) return 0;
    size_t n = sm->pending.len;
    b->state = calloc(n, 1);
    b->cand = calloc(n, sizeof(*b->cand));
    b->rest = calloc(n, sizeof(*b->rest));
    if (!b->state || !b->cand || !b->rest) return -1;
    for (size_t i = 0; i < n; i++) {
        b->state[i] = ST_CAND;
        b->cand[b->ncand++] = i;
    }
    b->fail_stage = stage;
    copy_str(b->fail_message, sizeof(b->fail_message), message);
    sm->phase = GEN_BISECTING;
    if (sm->have_lkg) {
        b->have_good = 1;
        copy_str(b->good_checksum, sizeof(b->good_checksum), sm->lkg.checksum);
        return next_step(sm, now);
    }
    /* No LKG: the known-good side must be established first (bisect against the empty set). */
    return send_trial(sm, now, GEN_TRIAL_BASELINE);
}

static int trial_result(struct gen_sm *sm, const struct gen_clock *now, int ok, const char *stage,
                        const char *message)
{
    struct gen_bisect *b = &sm->b;
    b->trial_id = 0;
    if (ok) {
        b->have_good = 1;
        copy_str(b->good_checksum, sizeof(b->good_checksum), b->trial_checksum);
    }
    switch (b->kind) {
    case GEN_TRIAL_BASELINE:
        if (!ok) {
            char msg[GEN_MESSAGE_MAX];
            snprintf(msg, sizeof(msg), "fails even without any of the %zu changed objects: %.*s", sm->pending.len,
                     (int)sizeof(msg) - 96, message);
            int rc = emit_error(sm, sm->cand_generation, stage, msg);
            end_bisection(sm);
            sm->phase = GEN_IDLE;
            if (rc == 0 && sm->newer) {
                sm->newer = 0;
                rc = set_merge(&sm->pending, &sm->pending_next);
                if (rc == 0) rc = ask_candidate(sm, now);
                sm->phase = GEN_VALIDATING;
            }
            return rc;
        }
        break;
    case GEN_TRIAL_NARROW:
        if (ok) {
            for (size_t i = 0; i < b->half; i++) b->state[b->cand[i]] = ST_GOOD;
            b->good_count += b->half;
            memmove(b->cand, b->cand + b->half, (b->ncand - b->half) * sizeof(*b->cand));
            b->ncand -= b->half;
        } else {
            for (size_t i = b->half; i < b->ncand; i++) {
                b->state[b->cand[i]] = ST_REST;
                b->rest[b->nrest++] = b->cand[i];
            }
            b->ncand = b->half;
            b->fail_stage = stage;
            copy_str(b->fail_message, sizeof(b->fail_message), message);
        }
        break;
    case GEN_TRIAL_CONFIRM:
        if (ok) {
            for (size_t i = 0; i < b->nrest; i++) b->state[b->rest[i]] = ST_GOOD;
            b->good_count += b->nrest;
            b->nrest = 0;
            return finish_bisection(sm, now);
        }
        for (size_t i = 0; i < b->nrest; i++) {
            b->state[b->rest[i]] = ST_CAND;
            b->cand[i] = b->rest[i];
        }
        b->ncand = b->nrest;
        b->nrest = 0;
        b->fail_stage = stage;
        copy_str(b->fail_message, sizeof(b->fail_message), message);
        break;
    }
    return next_step(sm, now);
}

/* ---- inputs ---- */

/* A candidate (render or validation) failed: record it, then find the objects to blame. */
static int candidate_failed(struct gen_sm *sm, const struct gen_clock *now, const char *stage, const char *message)
{
    sm->failed++;
    sm->cand_failed = 1;
    if (emit_error(sm, sm->cand_generation, stage, message) < 0) return -1;
    sm->phase = GEN_IDLE;
    return start_bisection(sm, now, stage, message);
}

/* A new candidate abandons a running bisection: count it. */
static void abandon_bisection(struct gen_sm *sm)
{
    if (sm->phase != GEN_BISECTING) return;
    end_bisection(sm);
    sm->restarts++;
    sm->restarts_total++;
}

/* What every candidate (rendered or failed) does first: releases quarantined objects that changed and
 * folds the changes into the pending set, restarting or deferring a running bisection. Returns 1 when a
 * running bisection goes on (the candidate is only noted), 0 to go on with the candidate, -1 on error. */
static int take_changes(struct gen_sm *sm, const struct gen_object *changed, size_t nchanged)
{
    int frozen = sm->phase == GEN_BISECTING && sm->restarts >= GEN_MAX_RESTARTS;
    for (size_t i = 0; i < nchanged; i++) {
        if (!obj_valid(&changed[i])) continue;
        long q = quarantine_find(sm, &changed[i]);
        if (q >= 0 && release(sm, (size_t)q) < 0) return -1;
    }
    if (nchanged) sm->no_bisect = 0;
    if (frozen) {
        sm->newer = 1;
        return set_add(&sm->pending_next, changed, nchanged) < 0 ? -1 : 1;
    }
    /* The bisection indexes the pending set: it cannot survive a change of it. */
    if (nchanged) abandon_bisection(sm);
    return set_add(&sm->pending, changed, nchanged);
}

static int all_quarantined_excluded(const struct gen_sm *sm, const struct gen_object *excluded, size_t n)
{
    for (size_t i = 0; i < sm->nquarantined; i++) {
        size_t j = 0;
        while (j < n && !(obj_valid(&excluded[j]) && gen_object_cmp(&excluded[j], &sm->quarantined[i].obj) == 0))
            j++;
        if (j == n) return 0;
    }
    return 1;
}

int gen_on_rendered(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, int trial,
                    const char *checksum, const struct gen_object *changed, size_t nchanged,
                    const struct gen_object *excluded, size_t nexcluded)
{
    actions_clear(sm);
    if (!checksum || !*checksum || strlen(checksum) >= GEN_CHECKSUM_MAX) return -1;
    if (trial) {
        struct gen_bisect *b = &sm->b;
        if (sm->phase != GEN_BISECTING || render_id != b->trial_id || b->trial_rendered) return 0;
        b->trial_rendered = 1;
        copy_str(b->trial_checksum, sizeof(b->trial_checksum), checksum);
        /* Known answers need no validation. */
        if (b->have_good && strcmp(checksum, b->good_checksum) == 0) return trial_result(sm, now, 1, NULL, "");
        if (strcmp(checksum, sm->cand_checksum) == 0 || strcmp(checksum, sm->failed_checksum) == 0)
            return trial_result(sm, now, 0, STAGE_VALIDATE, sm->last_error.message);
        return 0;
    }
    int rc = take_changes(sm, changed, nchanged);
    if (rc != 0) return rc < 0 ? -1 : 0;
    if (sm->have_lkg && strcmp(checksum, sm->lkg.checksum) == 0) {
        /* The current objects render to the LKG: in sync, nothing to do, nothing failing. */
        end_bisection(sm);
        set_clear(&sm->pending);
        sm->phase = GEN_IDLE;
        sm->restarts = 0;
        sm->resyncs = 0;
        sm->have_error = 0;
        sm->cand_checksum[0] = '\0';
        return 0;
    }
    int same = sm->cand_checksum[0] && strcmp(checksum, sm->cand_checksum) == 0;
    if (same && (sm->phase == GEN_BISECTING || !sm->cand_failed)) return 0; /* the same again */
    if ((same && sm->cand_failed) || strcmp(checksum, sm->failed_checksum) == 0) {
        /* Known bad content: no new generation, no new error; bisect again only if a restart threw the
         * bisection away (the pending set is non-empty and nothing is running). */
        if (sm->phase == GEN_BISECTING || !sm->have_error) return 0;
        sm->phase = GEN_IDLE;
        return start_bisection(sm, now, sm->last_error.stage, sm->last_error.message);
    }
    if (sm->phase != GEN_BISECTING && !all_quarantined_excluded(sm, excluded, nexcluded) &&
        sm->resyncs < GEN_MAX_RESYNCS) {
        /* The renderer does not hold the quarantine (it restarted): resend it, skip this candidate. */
        sm->resyncs++;
        sm->phase = GEN_VALIDATING;
        sm->cand_checksum[0] = '\0';
        return ask_candidate(sm, now);
    }
    sm->resyncs = 0;
    sm->failed_render[0] = '\0';
    abandon_bisection(sm);
    sm->phase = GEN_VALIDATING;
    sm->cand_generation = ++sm->last_generation;
    copy_str(sm->cand_checksum, sizeof(sm->cand_checksum), checksum);
    sm->cand_failed = 0;
    sm->cand_since_ms = now->mono_ms;
    return 0;
}

int gen_on_render_failed(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, int trial,
                         const char *message, const struct gen_object *changed, size_t nchanged)
{
    actions_clear(sm);
    if (!message) message = "";
    if (trial) {
        if (sm->phase != GEN_BISECTING || render_id != sm->b.trial_id || sm->b.trial_rendered) return 0;
        sm->b.trial_rendered = 1;
        return trial_result(sm, now, 0, STAGE_RENDER, message);
    }
    int rc = take_changes(sm, changed, nchanged);
    if (rc != 0) return rc < 0 ? -1 : 0;
    /* A renderer repeating the failure it already reported (restarted, nothing changed) is not news. */
    if (nchanged == 0 && sm->have_error && sm->phase != GEN_BISECTING &&
        strncmp(sm->failed_render, message, sizeof(sm->failed_render) - 1) == 0)
        return 0;
    copy_str(sm->failed_render, sizeof(sm->failed_render), message);
    abandon_bisection(sm);
    sm->cand_generation = ++sm->last_generation;
    sm->cand_checksum[0] = '\0';
    sm->cand_failed = 0;
    return candidate_failed(sm, now, STAGE_RENDER, message);
}

int gen_on_validated(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, const char *checksum,
                     int ok, const char *message)
{
    actions_clear(sm);
    if (!checksum) return -1;
    if (!message) message = "";
    struct gen_bisect *b = &sm->b;
    if (sm->phase == GEN_BISECTING && render_id == b->trial_id && b->trial_id != 0) {
        if (b->trial_rendered && strcmp(checksum, b->trial_checksum) != 0) return 0;
        if (!b->trial_rendered) copy_str(b->trial_checksum, sizeof(b->trial_checksum), checksum);
        b->trial_rendered = 1;
        return trial_result(sm, now, ok, STAGE_VALIDATE, message);
    }
    if (sm->phase != GEN_VALIDATING || !sm->cand_checksum[0] || strcmp(checksum, sm->cand_checksum) != 0) return 0;
    if (ok) {
        int rc = publish(sm, now, sm->cand_generation, checksum);
        set_clear(&sm->pending);
        sm->phase = GEN_IDLE;
        sm->restarts = 0;
        sm->have_error = 0;
        return rc;
    }
    copy_str(sm->failed_checksum, sizeof(sm->failed_checksum), checksum);
    return candidate_failed(sm, now, STAGE_VALIDATE, message);
}

int gen_on_inconclusive(struct gen_sm *sm, const struct gen_clock *now, uint64_t render_id, const char *checksum,
                        int superseded, const char *message)
{
    actions_clear(sm);
    if (!checksum) return -1;
    if (!message || !*message) message = superseded ? "superseded" : "validation reached no verdict";
    struct gen_bisect *b = &sm->b;
    /* The tick re-asks once now - since >= GEN_ANSWER_TIMEOUT_MS: move since so that comes after the delay. */
    int64_t retry_at = now->mono_ms - GEN_ANSWER_TIMEOUT_MS + GEN_RETRY_INCONCLUSIVE_MS;
    if (sm->phase == GEN_BISECTING && render_id == b->trial_id && b->trial_id != 0) {
        if (superseded) {
            if (b->trials >= GEN_MAX_TRIALS) return give_up(sm, now, "trials not answered");
            return send_trial(sm, now, b->kind);
        }
        b->trial_sent_ms = retry_at;
        return emit_error(sm, sm->cand_generation, STAGE_VALIDATE, message);
    }
    if (sm->phase != GEN_VALIDATING || !sm->cand_checksum[0] || strcmp(checksum, sm->cand_checksum) != 0) return 0;
    if (superseded) return 0;
    sm->cand_since_ms = retry_at;
    return emit_error(sm, sm->cand_generation, STAGE_VALIDATE, message);
}

int gen_on_tick(struct gen_sm *sm, const struct gen_clock *now)
{
    actions_clear(sm);
    if (sm->phase == GEN_BISECTING && now->mono_ms - sm->b.trial_sent_ms >= GEN_ANSWER_TIMEOUT_MS) {
        if (sm->b.trials >= GEN_MAX_TRIALS) return give_up(sm, now, "trials not answered");
        return send_trial(sm, now, sm->b.kind); /* the same trial under a new id */
    }
    if (sm->phase == GEN_VALIDATING && now->mono_ms - sm->cand_since_ms >= GEN_ANSWER_TIMEOUT_MS)
        return ask_candidate(sm, now); /* renders the same checksum again, which the validator then checks */
    return 0;
}
