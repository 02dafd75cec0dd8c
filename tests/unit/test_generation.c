/* The executor's generation state machine, driven by a scripted renderer and validator: a world of N
 * objects, each with a current and an LKG version, some current versions "bad" (HAProxy would refuse them).
 * The fake renderer renders what it is asked (excluded objects at their LKG version, or absent), the fake
 * validator fails any render holding a bad version. Proves: bisection finds one bad object among 100 in
 * about log2(100) trials and two bad ones both, a failure with no LKG, release of a fixed quarantined
 * object, no new generation for a checksum seen before, restarts without spurious generations, and bounded
 * restarts under a stream of changes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "workers/executor/generation.h"

#define NMAX 128
#define MAX_RENDERS 4096

struct world {
    int n;
    int ver[NMAX];      /* current version; 0 = absent (deleted or never created) */
    int lkg_ver[NMAX];  /* version in the LKG; 0 = not in it */
    int bad[NMAX];      /* 1: the current version is refused by the validator */
    int fresh[NMAX];    /* changed since the renderer's previous candidate */
    int standing[NMAX]; /* the renderer's standing exclusion set */
    int template_broken;
    /* what every render held, by checksum, so a published LKG sets lkg_ver */
    char sums[MAX_RENDERS][GEN_CHECKSUM_MAX];
    int held[MAX_RENDERS][NMAX];
    int nrenders;
    int trials;          /* trial renders done */
    int drop_trials;     /* answer no trial (a lost request) */
    void (*after_trial)(struct world *w);
    int publishes, quarantines, releases, errors;
    struct gen_clock now;
};

static char names[NMAX][16];

static void init_names(void)
{
    for (int i = 0; i < NMAX; i++) snprintf(names[i], sizeof(names[i]), "ing-%03d", i);
}

static struct gen_object obj(int i) { return (struct gen_object){"ingresses", "default", names[i]}; }

static int index_of(const struct gen_object *o)
{
    return atoi(o->name + 4);
}

/* Renders with the objects in excl[] excluded; returns the render's index. */
static int render(struct world *w, const int *excl)
{
    int v[NMAX];
    unsigned long long h = 1469598103934665603ull;
    for (int i = 0; i < w->n; i++) {
        v[i] = excl[i] ? w->lkg_ver[i] : w->ver[i];
        h = (h ^ (unsigned long long)(i * 1000 + v[i])) * 1099511628211ull;
    }
    int r = w->nrenders++;
    ck_assert_int_lt(r, MAX_RENDERS);
    snprintf(w->sums[r], GEN_CHECKSUM_MAX, "sha256:%016llx", h);
    memcpy(w->held[r], v, sizeof(v));
    return r;
}

static int render_bad(const struct world *w, int r)
{
    for (int i = 0; i < w->n; i++)
        if (w->held[r][i] && w->held[r][i] == w->ver[i] && w->bad[i]) return i;
    return -1;
}

static int find_render(const struct world *w, const char *sum)
{
    for (int r = w->nrenders - 1; r >= 0; r--)
        if (strcmp(w->sums[r], sum) == 0) return r;
    return -1;
}

struct req {
    uint64_t id;
    int trial;
    int excl[NMAX];
};

static void take_actions(struct world *w, struct gen_sm *sm, struct req *q, int *nq)
{
    size_t n;
    const struct gen_action *a = gen_actions(sm, &n);
    for (size_t i = 0; i < n; i++) {
        switch (a[i].type) {
        case GEN_ACT_RENDER: {
            ck_assert_int_lt(*nq, 64);
            struct req *r = &q[(*nq)++];
            memset(r, 0, sizeof(*r));
            r->id = a[i].render_id;
            r->trial = a[i].trial;
            for (size_t j = 0; j < a[i].nexclude; j++) r->excl[index_of(&a[i].exclude[j])] = 1;
            break;
        }
        case GEN_ACT_PUBLISH: {
            int r = find_render(w, a[i].checksum);
            ck_assert_int_ge(r, 0);
            memcpy(w->lkg_ver, w->held[r], sizeof(w->lkg_ver));
            w->publishes++;
            break;
        }
        case GEN_ACT_QUARANTINE: w->quarantines++; break;
        case GEN_ACT_RELEASE: w->releases++; break;
        case GEN_ACT_ERROR: w->errors++; break;
        }
    }
}

/* The renderer's own candidate: standing exclusions, except objects that changed since its last one. */
static void candidate(struct world *w, struct gen_sm *sm, struct req *q, int *nq, uint64_t id)
{
    struct gen_object changed[NMAX], excluded[NMAX];
    size_t nc = 0, ne = 0;
    for (int i = 0; i < w->n; i++) {
        if (w->fresh[i]) {
            changed[nc++] = obj(i);
            w->standing[i] = 0;
            w->fresh[i] = 0;
        }
        if (w->standing[i]) excluded[ne++] = obj(i);
    }
    if (w->template_broken) {
        ck_assert_int_eq(gen_on_render_failed(sm, &w->now, id, 0, "haproxy.cfg:3:5: undefined", changed, nc), 0);
        take_actions(w, sm, q, nq);
        return;
    }
    int r = render(w, w->standing);
    ck_assert_int_eq(gen_on_rendered(sm, &w->now, id, 0, w->sums[r], changed, nc, excluded, ne), 0);
    take_actions(w, sm, q, nq);
    int bad = render_bad(w, r);
    char msg[64];
    snprintf(msg, sizeof(msg), "[haproxy.cfg:%d] refused %s", 10 + bad, bad >= 0 ? names[bad] : "");
    ck_assert_int_eq(gen_on_validated(sm, &w->now, id, w->sums[r], bad < 0, bad < 0 ? "" : msg), 0);
    take_actions(w, sm, q, nq);
}

static void answer(struct world *w, struct gen_sm *sm, struct req *q, int *nq, struct req *r)
{
    if (!r->trial) {
        memcpy(w->standing, r->excl, sizeof(w->standing));
        candidate(w, sm, q, nq, r->id);
        return;
    }
    w->trials++;
    if (w->drop_trials) return;
    if (w->template_broken) {
        ck_assert_int_eq(gen_on_render_failed(sm, &w->now, r->id, 1, "haproxy.cfg:3:5: undefined", NULL, 0), 0);
        take_actions(w, sm, q, nq);
        return;
    }
    int k = render(w, r->excl);
    ck_assert_int_eq(gen_on_rendered(sm, &w->now, r->id, 1, w->sums[k], NULL, 0, NULL, 0), 0);
    take_actions(w, sm, q, nq);
    int bad = render_bad(w, k);
    char msg[64];
    snprintf(msg, sizeof(msg), "[haproxy.cfg:%d] refused %s", 10 + bad, bad >= 0 ? names[bad] : "");
    ck_assert_int_eq(gen_on_validated(sm, &w->now, r->id, w->sums[k], bad < 0, bad < 0 ? "" : msg), 0);
    take_actions(w, sm, q, nq);
    if (w->after_trial) w->after_trial(w);
}

/* Answers every request until none is left. */
static void run(struct world *w, struct gen_sm *sm, struct req *q, int *nq)
{
    for (int guard = 0; *nq > 0; guard++) {
        ck_assert_int_lt(guard, 100000);
        struct req r = q[0];
        memmove(q, q + 1, (size_t)(*nq - 1) * sizeof(*q));
        (*nq)--;
        answer(w, sm, q, nq, &r);
    }
}

static void feed(struct world *w, struct gen_sm *sm, struct req *q, int *nq)
{
    static uint64_t renderer_ids = 1000000;
    candidate(w, sm, q, nq, renderer_ids++);
    run(w, sm, q, nq);
}

static struct world *world_new(int n, int with_lkg)
{
    init_names();
    struct world *w = calloc(1, sizeof(*w));
    w->n = n;
    for (int i = 0; i < n; i++) {
        w->ver[i] = 1;
        w->lkg_ver[i] = with_lkg ? 1 : 0;
        w->fresh[i] = !with_lkg;
    }
    w->now = (struct gen_clock){1000, 1700000000000};
    return w;
}

/* An LKG holding every object at version 1, as a restarted executor would restore it. */
static void restore_all_v1(struct world *w, struct gen_sm *sm)
{
    int none[NMAX] = {0};
    int r = render(w, none);
    struct gen_lkg lkg = {.generation = 1, .at_wall_ms = w->now.wall_ms};
    snprintf(lkg.checksum, sizeof(lkg.checksum), "%s", w->sums[r]);
    ck_assert_int_eq(gen_restore(sm, &lkg, NULL, 0), 0);
}

static void change(struct world *w, int i, int bad)
{
    w->ver[i]++;
    w->bad[i] = bad;
    w->fresh[i] = 1;
}

static int quarantined(const struct gen_sm *sm, int i)
{
    for (size_t k = 0; k < sm->nquarantined; k++)
        if (strcmp(sm->quarantined[k].obj.name, names[i]) == 0) return 1;
    return 0;
}

static struct req q[64];
static int nq;

START_TEST(test_generation_one_bad_among_100_found_in_about_log2_trials)
{
    struct world *w = world_new(100, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 100; i++) change(w, i, i == 37);
    nq = 0;
    feed(w, &sm, q, &nq);
    printf("# one bad among 100: %d trials\n", w->trials);
    ck_assert_int_le(w->trials, 8); /* ceil(log2(100)) narrowing trials + 1 confirming the rest */
    ck_assert_int_ge(w->trials, 7);
    ck_assert_uint_eq(sm.nquarantined, 1);
    ck_assert(quarantined(&sm, 37));
    ck_assert_ptr_nonnull(strstr(sm.quarantined[0].reason, "refused ing-037"));
    ck_assert_ptr_nonnull(strstr(sm.quarantined[0].reason, "validate: "));
    /* The LKG holds every other change, and ing-037 at its old version. */
    for (int i = 0; i < 100; i++) ck_assert_int_eq(w->lkg_ver[i], i == 37 ? 1 : 2);
    ck_assert_int_eq(w->publishes, 1);
    /* candidate = generation 2 (failed), the bisection's result = 3; the renderer's next candidate with the
     * quarantine as its standing set equals the LKG: no generation 4, last_error cleared. */
    ck_assert_uint_eq(sm.lkg.generation, 3);
    ck_assert_uint_eq(sm.last_generation, 3);
    ck_assert_int_eq(sm.have_error, 0);
    ck_assert_int_eq(sm.phase, GEN_IDLE);
    ck_assert(w->standing[37]);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_two_bad_ones_are_both_found)
{
    struct world *w = world_new(100, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 100; i++) change(w, i, i == 17 || i == 80);
    nq = 0;
    feed(w, &sm, q, &nq);
    printf("# two bad among 100: %d trials\n", w->trials);
    ck_assert_int_le(w->trials, 16);
    ck_assert_uint_eq(sm.nquarantined, 2);
    ck_assert(quarantined(&sm, 17) && quarantined(&sm, 80));
    for (int i = 0; i < 100; i++) ck_assert_int_eq(w->lkg_ver[i], (i == 17 || i == 80) ? 1 : 2);
    ck_assert_int_eq(w->publishes, 1);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_every_change_bad_keeps_the_lkg)
{
    struct world *w = world_new(4, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    char before[GEN_CHECKSUM_MAX];
    memcpy(before, sm.lkg.checksum, sizeof(before));
    change(w, 1, 1);
    change(w, 2, 1);
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert_uint_eq(sm.nquarantined, 2);
    ck_assert_int_eq(w->publishes, 0);
    ck_assert_str_eq(sm.lkg.checksum, before);
    ck_assert_uint_eq(sm.lkg.generation, 1);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_failure_without_lkg_bisects_against_the_empty_set)
{
    struct world *w = world_new(10, 0); /* initial sync: every object is new */
    struct gen_sm sm;
    gen_init(&sm, 1);
    w->bad[4] = 1;
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert_int_eq(sm.have_lkg, 1);
    ck_assert(quarantined(&sm, 4));
    for (int i = 0; i < 10; i++) ck_assert_int_eq(w->lkg_ver[i], i == 4 ? 0 : 1);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_failure_without_lkg_and_no_object_to_blame_is_last_error_only)
{
    struct world *w = world_new(10, 0);
    struct gen_sm sm;
    gen_init(&sm, 1);
    w->template_broken = 1;
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert_int_eq(sm.have_lkg, 0);
    ck_assert_uint_eq(sm.nquarantined, 0);
    ck_assert_int_eq(sm.have_error, 1);
    ck_assert_str_eq(sm.last_error.stage, "render");
    ck_assert_ptr_nonnull(strstr(sm.last_error.message, "fails even without any of the 10 changed objects"));
    ck_assert_int_eq(w->trials, 1); /* just the empty-set baseline */
    ck_assert_int_eq(sm.phase, GEN_IDLE);
    /* The renderer reporting the same failure again (restarted, nothing changed): no new generation. */
    uint64_t g = sm.last_generation;
    ck_assert_int_eq(gen_on_render_failed(&sm, &w->now, 5, 0, "haproxy.cfg:3:5: undefined", NULL, 0), 0);
    ck_assert_uint_eq(sm.last_generation, g);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_failure_with_nothing_changed_is_last_error_only)
{
    struct world *w = world_new(3, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    ck_assert_int_eq(gen_on_rendered(&sm, &w->now, 9, 0, "sha256:other", NULL, 0, NULL, 0), 0);
    ck_assert_uint_eq(sm.last_generation, 2);
    ck_assert_int_eq(gen_on_validated(&sm, &w->now, 9, "sha256:other", 0, "[ALERT] bad global"), 0);
    size_t n;
    const struct gen_action *a = gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(a[0].type, GEN_ACT_ERROR);
    ck_assert_uint_eq(a[0].generation, 2);
    ck_assert_str_eq(a[0].stage, "validate");
    ck_assert_int_eq(sm.phase, GEN_IDLE);
    ck_assert_uint_eq(sm.lkg.generation, 1);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_fixing_a_quarantined_object_releases_it)
{
    struct world *w = world_new(20, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 20; i++) change(w, i, i == 7);
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert(quarantined(&sm, 7));
    uint64_t g = sm.last_generation;
    /* A new version that is still bad: released, retried, quarantined again. */
    change(w, 7, 1);
    feed(w, &sm, q, &nq);
    ck_assert_int_eq(w->releases, 1);
    ck_assert(quarantined(&sm, 7));
    ck_assert_int_eq(w->lkg_ver[7], 1);
    /* Fixed: released and in the LKG. */
    change(w, 7, 0);
    feed(w, &sm, q, &nq);
    ck_assert_int_eq(w->releases, 2);
    ck_assert_uint_eq(sm.nquarantined, 0);
    ck_assert_int_eq(w->lkg_ver[7], w->ver[7]);
    ck_assert_uint_gt(sm.lkg.generation, g);
    ck_assert_int_eq(sm.have_error, 0);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_same_checksum_twice_is_one_generation)
{
    struct world *w = world_new(3, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    struct gen_object c = obj(1);
    ck_assert_int_eq(gen_on_rendered(&sm, &w->now, 1, 0, "sha256:aa", &c, 1, NULL, 0), 0);
    ck_assert_uint_eq(sm.last_generation, 2);
    ck_assert_int_eq(gen_on_rendered(&sm, &w->now, 2, 0, "sha256:aa", NULL, 0, NULL, 0), 0);
    ck_assert_uint_eq(sm.last_generation, 2);
    ck_assert_int_eq(gen_on_validated(&sm, &w->now, 2, "sha256:aa", 1, ""), 0);
    ck_assert_uint_eq(sm.lkg.generation, 2);
    ck_assert_str_eq(sm.lkg.checksum, "sha256:aa");
    /* The late answer to the first render and the LKG's checksum again: nothing new, no error. */
    ck_assert_int_eq(gen_on_validated(&sm, &w->now, 1, "sha256:aa", 1, ""), 0);
    size_t n;
    gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(gen_on_rendered(&sm, &w->now, 3, 0, "sha256:aa", NULL, 0, NULL, 0), 0);
    gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(sm.last_generation, 2);
    ck_assert_uint_eq(sm.published, 1);
    ck_assert_int_eq(sm.have_error, 0);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_restart_from_persisted_lkg_makes_no_spurious_generation)
{
    struct world *w = world_new(30, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 30; i++) change(w, i, i == 12);
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert(quarantined(&sm, 12));
    /* What lkg.c persists. */
    struct gen_lkg saved = sm.lkg;
    struct gen_quarantined qsaved = {obj(12), "validate: refused ing-012", 5};
    uint64_t g = sm.last_generation;
    gen_free(&sm);
    /* A restarted executor and renderer: the renderer forgot its standing set and renders first. */
    struct gen_sm sm2;
    gen_init(&sm2, 77);
    ck_assert_int_eq(gen_restore(&sm2, &saved, &qsaved, 1), 0);
    ck_assert_uint_eq(sm2.nquarantined, 1);
    memset(w->standing, 0, sizeof(w->standing));
    int pubs = w->publishes;
    feed(w, &sm2, q, &nq); /* resync: the executor resends the quarantine, the renderer renders the LKG */
    ck_assert_int_eq(gen_on_start(&sm2, &w->now), 0);
    take_actions(w, &sm2, q, &nq);
    run(w, &sm2, q, &nq);
    ck_assert_uint_eq(sm2.last_generation, g);
    ck_assert_int_eq(w->publishes, pubs);
    ck_assert_int_eq(sm2.have_error, 0);
    ck_assert_int_eq(sm2.phase, GEN_IDLE);
    ck_assert_uint_eq(sm2.trials_total, 0);
    gen_free(&sm2);
    free(w);
}
END_TEST

static int churn_left;
static void churn(struct world *w)
{
    if (churn_left-- > 0) change(w, 99, 0);
}

START_TEST(test_generation_changes_mid_bisection_restart_it_a_bounded_number_of_times)
{
    struct world *w = world_new(100, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 99; i++) change(w, i, i == 50);
    /* After every trial the renderer renders a change of ing-099 (a steady stream). */
    w->after_trial = churn;
    churn_left = 1000;
    nq = 0;
    candidate(w, &sm, q, &nq, 1);
    int candidates = 0;
    while (nq > 0 || w->fresh[99]) {
        ck_assert_int_lt(candidates, 200);
        if (nq == 0) {
            candidate(w, &sm, q, &nq, 100 + (uint64_t)candidates++);
            continue;
        }
        struct req r = q[0];
        memmove(q, q + 1, (size_t)(nq - 1) * sizeof(*q));
        nq--;
        answer(w, &sm, q, &nq, &r);
        if (w->fresh[99] && sm.phase == GEN_BISECTING) candidate(w, &sm, q, &nq, 100 + (uint64_t)candidates++);
        if (w->publishes > 0) churn_left = 0;
    }
    printf("# one bad among 100 under churn: %d trials, %u restarts at most\n", w->trials, GEN_MAX_RESTARTS);
    ck_assert(quarantined(&sm, 50));
    ck_assert_int_ge(w->publishes, 1);
    ck_assert_int_eq(w->lkg_ver[50], 1);
    ck_assert_int_eq(w->lkg_ver[10], 2);
    ck_assert_int_le(w->trials, (GEN_MAX_RESTARTS + 1) * 9 + 9);
    ck_assert_uint_eq(sm.restarts_total, GEN_MAX_RESTARTS); /* then it ran to its end despite the churn */
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_unanswered_trial_is_asked_again)
{
    struct world *w = world_new(10, 1);
    struct gen_sm sm;
    gen_init(&sm, 1);
    restore_all_v1(w, &sm);
    for (int i = 0; i < 10; i++) change(w, i, i == 3);
    w->drop_trials = 1;
    nq = 0;
    feed(w, &sm, q, &nq);
    ck_assert_int_eq(sm.phase, GEN_BISECTING);
    ck_assert_int_eq(w->trials, 1);
    uint64_t lost = sm.b.trial_id;
    w->now.mono_ms += GEN_ANSWER_TIMEOUT_MS - 1;
    ck_assert_int_eq(gen_on_tick(&sm, &w->now), 0);
    size_t n;
    gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 0);
    w->now.mono_ms += 1;
    w->drop_trials = 0;
    ck_assert_int_eq(gen_on_tick(&sm, &w->now), 0);
    ck_assert_uint_ne(sm.b.trial_id, lost);
    take_actions(w, &sm, q, &nq);
    ck_assert_int_eq(nq, 1);
    /* The lost trial's answer turning up late changes nothing. */
    ck_assert_int_eq(gen_on_validated(&sm, &w->now, lost, "sha256:x", 1, ""), 0);
    gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 0);
    run(w, &sm, q, &nq);
    ck_assert(quarantined(&sm, 3));
    ck_assert_int_eq(w->publishes, 1);
    gen_free(&sm);
    free(w);
}
END_TEST

START_TEST(test_generation_trial_render_failure_counts_as_a_failure)
{
    struct gen_sm sm;
    struct gen_clock now = {0, 0};
    gen_init(&sm, 1);
    struct gen_lkg lkg = {1, "sha256:lkg", 0};
    ck_assert_int_eq(gen_restore(&sm, &lkg, NULL, 0), 0);
    struct gen_object ch[2] = {{"ingresses", "a", "x"}, {"ingresses", "a", "y"}};
    ck_assert_int_eq(gen_on_render_failed(&sm, &now, 1, 0, "ingress.j2:4:2: bad annotation", ch, 2), 0);
    ck_assert_int_eq(sm.phase, GEN_BISECTING);
    size_t n;
    const struct gen_action *a = gen_actions(&sm, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(a[0].type, GEN_ACT_ERROR);
    ck_assert_int_eq(a[1].type, GEN_ACT_RENDER);
    ck_assert_int_eq(a[1].trial, 1);
    ck_assert_uint_eq(a[1].nexclude, 1);
    ck_assert_str_eq(a[1].exclude[0].name, "y"); /* x included, y held back */
    uint64_t id = a[1].render_id;
    ck_assert_int_eq(gen_on_render_failed(&sm, &now, id, 1, "ingress.j2:4:2: bad annotation", NULL, 0), 0);
    /* x is to blame; the confirm trial (y only) follows. */
    ck_assert_uint_eq(sm.nquarantined, 1);
    ck_assert_str_eq(sm.quarantined[0].obj.name, "x");
    ck_assert_ptr_nonnull(strstr(sm.quarantined[0].reason, "render: ingress.j2:4:2"));
    gen_free(&sm);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("generation");
    TCase *tc = tcase_create("generation");
    tcase_add_test(tc, test_generation_one_bad_among_100_found_in_about_log2_trials);
    tcase_add_test(tc, test_generation_two_bad_ones_are_both_found);
    tcase_add_test(tc, test_generation_every_change_bad_keeps_the_lkg);
    tcase_add_test(tc, test_generation_failure_without_lkg_bisects_against_the_empty_set);
    tcase_add_test(tc, test_generation_failure_without_lkg_and_no_object_to_blame_is_last_error_only);
    tcase_add_test(tc, test_generation_failure_with_nothing_changed_is_last_error_only);
    tcase_add_test(tc, test_generation_fixing_a_quarantined_object_releases_it);
    tcase_add_test(tc, test_generation_same_checksum_twice_is_one_generation);
    tcase_add_test(tc, test_generation_restart_from_persisted_lkg_makes_no_spurious_generation);
    tcase_add_test(tc, test_generation_changes_mid_bisection_restart_it_a_bounded_number_of_times);
    tcase_add_test(tc, test_generation_unanswered_trial_is_asked_again);
    tcase_add_test(tc, test_generation_trial_render_failure_counts_as_a_failure);
    suite_add_tcase(s, tc);
    return s;
}
