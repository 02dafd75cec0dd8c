/* The deployer's push scheduler (see scheduler.h). */
#include "workers/deployer/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_RELOAD INT64_MIN

void sched_init(struct sched *s, int64_t interval_ms, int64_t timeout_ms, int max_parallel)
{
    memset(s, 0, sizeof(*s));
    s->interval_ms = interval_ms > 0 ? interval_ms : 0;
    s->timeout_ms = timeout_ms;
    s->max_parallel = max_parallel > 0 ? max_parallel : 0;
}

void sched_free(struct sched *s)
{
    free(s->t);
    memset(s, 0, sizeof(*s));
}

static struct sched_target *find(struct sched *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->t[i].removed && strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

/* A busy target that was removed is still in the array (removed = 1) until its action ends. */
static struct sched_target *find_any(struct sched *s, const char *name)
{
    struct sched_target *t = find(s, name);
    if (t) return t;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

const struct sched_target *sched_find(const struct sched *s, const char *target)
{
    return find((struct sched *)s, target);
}

static void drop(struct sched *s, size_t i)
{
    memmove(&s->t[i], &s->t[i + 1], (s->n - i - 1) * sizeof(s->t[0]));
    s->n--;
    if (s->cursor > i) s->cursor--;
    if (s->cursor >= s->n) s->cursor = 0;
}

void sched_set_lkg(struct sched *s, int64_t generation, const char *checksum)
{
    if (s->want[0] && generation < s->want_generation) return;
    if (strcmp(s->want, checksum) != 0)
        for (size_t i = 0; i < s->n; i++) { /* a new generation may fix what failed: try it at once */
            s->t[i].failures = 0;
            s->t[i].retry_at_ms = 0;
        }
    snprintf(s->want, sizeof(s->want), "%s", checksum);
    s->want_generation = generation;
}

int sched_set_targets(struct sched *s, const char *const *names, size_t n)
{
    if (n > SCHED_TARGETS_MAX) return -1;
    for (size_t k = 0; k < n; k++)
        if (strlen(names[k]) >= SCHED_NAME_MAX) return -1;
    if (s->cap < s->n + n) {
        size_t cap = s->n + n + 8;
        struct sched_target *t = realloc(s->t, cap * sizeof(*t));
        if (!t) return -1;
        s->t = t;
        s->cap = cap;
    }
    /* forget the ones that left */
    for (size_t i = s->n; i-- > 0;) {
        int keep = 0;
        for (size_t k = 0; k < n && !keep; k++) keep = !s->t[i].removed && strcmp(s->t[i].name, names[k]) == 0;
        if (keep) continue;
        if (s->t[i].state == SCHED_ST_COMPARING || s->t[i].state == SCHED_ST_PUSHING) s->t[i].removed = 1;
        else drop(s, i);
    }
    for (size_t k = 0; k < n; k++) {
        if (find(s, names[k])) continue;
        struct sched_target *t = &s->t[s->n++];
        memset(t, 0, sizeof(*t));
        snprintf(t->name, sizeof(t->name), "%s", names[k]);
        t->last_reload_ms = NO_RELOAD;
    }
    return 0;
}

static size_t pushing(const struct sched *s)
{
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++) c += s->t[i].state == SCHED_ST_PUSHING;
    return c;
}

/* When the interval lets this target reload again. */
static int64_t reload_ok_at(const struct sched *s, const struct sched_target *t)
{
    return t->last_reload_ms == NO_RELOAD ? INT64_MIN : t->last_reload_ms + s->interval_ms;
}

int sched_next(struct sched *s, int64_t now_ms, sched_fast_fn fast, void *ctx, struct sched_action *out)
{
    memset(out, 0, sizeof(*out));
    if (!s->n) return 0;
    int full = s->max_parallel && pushing(s) >= (size_t)s->max_parallel;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (s->cursor + k) % s->n;
        struct sched_target *t = &s->t[i];
        if (t->removed || t->retry_at_ms > now_ms) continue;
        if (t->state == SCHED_ST_UNKNOWN) {
            t->state = SCHED_ST_COMPARING;
            t->recheck = 0;
            out->kind = SCHED_COMPARE;
            out->target = t->name;
            s->cursor = (i + 1) % s->n;
            return 1;
        }
        if (t->state != SCHED_ST_IDLE || !s->want[0] || strcmp(t->running, s->want) == 0 || full) continue;
        if (now_ms < reload_ok_at(s, t) && !(fast && t->running[0] && fast(ctx, t->name, t->running, s->want)))
            continue;
        t->state = SCHED_ST_PUSHING;
        snprintf(t->inflight, sizeof(t->inflight), "%s", s->want);
        t->inflight_generation = s->want_generation;
        out->kind = SCHED_PUSH;
        out->target = t->name;
        out->checksum = t->inflight;
        out->from = t->running;
        out->generation = s->want_generation;
        out->deadline_ms = now_ms + s->timeout_ms;
        out->reason = t->failures ? SCHED_REASON_RETRY
                      : t->drifted ? SCHED_REASON_DRIFT
                      : !t->was_in_sync && t->last_reload_ms == NO_RELOAD ? SCHED_REASON_INITIAL
                                                                          : SCHED_REASON_CHANGE;
        s->cursor = (i + 1) % s->n;
        return 1;
    }
    return 0;
}

int64_t sched_wake_ms(const struct sched *s, int64_t now_ms)
{
    int64_t best = -1;
    int full = s->max_parallel && pushing(s) >= (size_t)s->max_parallel; /* a push's end wakes us then */
    for (size_t i = 0; i < s->n; i++) {
        const struct sched_target *t = &s->t[i];
        if (t->removed) continue;
        int64_t at;
        if (t->state == SCHED_ST_UNKNOWN) at = t->retry_at_ms;
        else if (t->state == SCHED_ST_IDLE && !full && s->want[0] && strcmp(t->running, s->want) != 0) {
            int64_t r = reload_ok_at(s, t);
            at = t->retry_at_ms > r ? t->retry_at_ms : r;
        } else {
            continue;
        }
        if (at <= now_ms) at = now_ms;
        if (best < 0 || at < best) best = at;
    }
    return best;
}

static void backoff(struct sched_target *t, int64_t now_ms)
{
    int64_t d = SCHED_BACKOFF_BASE_MS;
    for (int i = 1; i < t->failures && d < SCHED_BACKOFF_MAX_MS; i++) d *= 2;
    if (d > SCHED_BACKOFF_MAX_MS) d = SCHED_BACKOFF_MAX_MS;
    t->retry_at_ms = now_ms + d;
}

/* After an action: forget a removed target, or go back to compare if one was asked for meanwhile. */
static void settle(struct sched *s, struct sched_target *t, enum sched_state next)
{
    if (t->removed) {
        drop(s, (size_t)(t - s->t));
        return;
    }
    t->state = t->recheck ? SCHED_ST_UNKNOWN : next;
    t->recheck = 0;
}

void sched_compared(struct sched *s, const char *target, const char *checksum, int64_t now_ms)
{
    struct sched_target *t = find_any(s, target);
    if (!t || t->state != SCHED_ST_COMPARING) return;
    if (!checksum) {
        t->failures++;
        backoff(t, now_ms);
        settle(s, t, SCHED_ST_UNKNOWN);
        return;
    }
    t->failures = 0;
    t->retry_at_ms = 0;
    if (s->want[0] && strcmp(checksum, s->want) == 0) t->was_in_sync = 1;
    else if (t->was_in_sync && s->want[0] && strcmp(t->running, s->want) == 0) t->drifted = 1;
    snprintf(t->running, sizeof(t->running), "%s", checksum);
    settle(s, t, SCHED_ST_IDLE);
}

void sched_pushed(struct sched *s, const char *target, int ok, int reloaded, int64_t start_ms, const char *running,
                  int64_t now_ms)
{
    struct sched_target *t = find_any(s, target);
    if (!t || t->state != SCHED_ST_PUSHING) return;
    if (reloaded) t->last_reload_ms = start_ms;
    if (running) snprintf(t->running, sizeof(t->running), "%s", running);
    else if (ok) snprintf(t->running, sizeof(t->running), "%s", t->inflight);
    if (ok) {
        t->failures = 0;
        t->retry_at_ms = 0;
        t->drifted = 0;
        if (strcmp(t->running, s->want) == 0) t->was_in_sync = 1;
    } else {
        t->failures++;
        backoff(t, now_ms);
    }
    t->inflight[0] = '\0';
    settle(s, t, SCHED_ST_IDLE);
}

void sched_recheck_all(struct sched *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sched_target *t = &s->t[i];
        if (t->state == SCHED_ST_IDLE) t->state = SCHED_ST_UNKNOWN;
        else if (t->state != SCHED_ST_UNKNOWN) t->recheck = 1;
    }
}

size_t sched_in_sync(const struct sched *s)
{
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++)
        c += !s->t[i].removed && s->want[0] && s->t[i].state != SCHED_ST_UNKNOWN && strcmp(s->t[i].running, s->want) == 0;
    return c;
}
