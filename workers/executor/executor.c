/* The executor's message handlers (see executor.h). Message fields are documented in docs/ipc.md,
 * "Pipeline messages". */
#include "workers/executor/executor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pipeline/heap_trim.h"
#include "common/pipeline/spill.h"
#include "workers/executor/lkg.h"

/* A watched resource's name, a namespace, an object name: Kubernetes bounds them at 253 bytes. */
#define OBJ_FIELD_MAX LKG_FIELD_MAX
/* render_failed's template name and message, as kept. */
#define RENDER_ERROR_MAX GEN_MESSAGE_MAX

static const char *str(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                          : NULL;
}

static int flag(struct json_object *o, const char *k, int dflt)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return dflt;
    return json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

/* render_id is a string on the wire (docs/ipc.md, at most RENDER_ID_MAX bytes). Ours are decimal numbers;
 * an id we did not make (a renderer's candidate) reads as 0, since candidates are matched by checksum. */
#define RENDER_ID_MAX 256
static int render_id(struct json_object *o, uint64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, "render_id", &v) || !json_object_is_type(v, json_type_string)) return -1;
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0 || n > RENDER_ID_MAX) return -1;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || id > (UINT64_MAX - 9) / 10) {
            id = 0;
            break;
        }
        id = id * 10 + (uint64_t)(s[i] - '0');
    }
    *out = id;
    return 0;
}

/* Decodes [{resource, namespace, name}] into borrowed objects (they point into msg). Absent: none. */
static int objects_of(struct json_object *msg, const char *key, struct gen_object **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct json_object *arr;
    if (!json_object_object_get_ex(msg, key, &arr)) return 0;
    if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > GEN_MAX_PENDING) return -1;
    size_t len = json_object_array_length(arr);
    if (!len) return 0;
    struct gen_object *objs = calloc(len, sizeof(*objs));
    if (!objs) return -1;
    for (size_t i = 0; i < len; i++) {
        struct json_object *o = json_object_array_get_idx(arr, i);
        const char *r = str(o, "resource"), *ns = str(o, "namespace"), *name = str(o, "name");
        if (!ns) ns = "";
        if (!r || !name || !*r || !*name || strlen(r) > OBJ_FIELD_MAX || strlen(ns) > OBJ_FIELD_MAX ||
            strlen(name) > OBJ_FIELD_MAX) {
            free(objs);
            return -1;
        }
        objs[i] = (struct gen_object){r, ns, name};
    }
    *out = objs;
    *n = len;
    return 0;
}

static struct json_object *object_json(const struct gen_object *o)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "resource", json_object_new_string(o->resource));
    json_object_object_add(j, "namespace", json_object_new_string(o->namespace));
    json_object_object_add(j, "name", json_object_new_string(o->name));
    return j;
}

static const char *const result_label[] = {"result", NULL};
/* The target is 1 s at 1k Ingresses and 2 s at 10k (issue 9); a bisection takes many renders and checks. */
static const double event_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300};

/* A candidate's event time (0: none) waits for an LKG that includes it. */
static void event_candidate(struct executor *x, const char *checksum, int64_t event_ms)
{
    if (event_ms <= 0) return;
    if (x->nevents == EXECUTOR_EVENTS_MAX) { /* merge the oldest two: the newer one includes the older */
        if (x->events[0].event_ms < x->events[1].event_ms) x->events[1].event_ms = x->events[0].event_ms;
        memmove(&x->events[0], &x->events[1], (x->nevents - 1) * sizeof(x->events[0]));
        x->nevents--;
    }
    snprintf(x->events[x->nevents].checksum, sizeof(x->events[0].checksum), "%s", checksum);
    x->events[x->nevents++].event_ms = event_ms;
}

/* The LKG checksum was published: it includes the candidate that rendered it and every candidate before
 * (the renderer renders the whole current state each time). An LKG no waiting candidate rendered (a
 * bisection's trial) is taken to include them all. */
static void event_published(struct executor *x, const char *checksum, int64_t now_ms)
{
    size_t upto = x->nevents;
    for (size_t i = x->nevents; i-- > 0;)
        if (strcmp(x->events[i].checksum, checksum) == 0) {
            upto = i + 1;
            break;
        }
    for (size_t i = 0; i < upto; i++) {
        int64_t d = now_ms - x->events[i].event_ms;
        metrics_histogram_observe(x->m_event_to_lkg, NULL, (double)(d > 0 ? d : 0) / 1000.0);
    }
    memmove(&x->events[0], &x->events[upto], (x->nevents - upto) * sizeof(x->events[0]));
    x->nevents -= upto;
}

int executor_init(struct executor *x, const char *run_dir, executor_send_fn send, void *send_data,
                  uint64_t first_render_id)
{
    memset(x, 0, sizeof(*x));
    gen_init(&x->sm, first_render_id);
    x->run_dir = strdup(run_dir);
    x->send = send;
    x->send_data = send_data;
    x->reg = metrics_registry_new();
    if (!x->run_dir || !x->reg) return -1;
    x->m_generations = metrics_counter(x->reg, "haproxy_ic_pipeline_generations_total",
                                       "Candidate generations by result: published as the LKG, or failed.",
                                       result_label, NULL);
    x->m_quarantined = metrics_gauge(x->reg, "haproxy_ic_pipeline_quarantined_objects",
                                     "Objects held back because they break the configuration.", NULL, NULL);
    x->m_trials = metrics_counter(x->reg, "haproxy_ic_pipeline_bisection_trials_total",
                                  "Trial renders asked for to find the objects that break a generation.", NULL, NULL);
    x->m_lkg_generation = metrics_gauge(x->reg, "haproxy_ic_pipeline_lkg_generation",
                                        "Generation number of the last-known-good configuration (0: none).", NULL,
                                        NULL);
    static const char *const checksum_label[] = {"checksum", NULL};
    /* what the "replicas disagree" alert compares across replicas (deploy/prometheus) */
    x->m_lkg_info = metrics_gauge(x->reg, "haproxy_ic_pipeline_lkg_info",
                                  "1 for the checksum of the current last-known-good (earlier ones at 0).",
                                  checksum_label, NULL);
    x->m_persist_failures = metrics_counter(x->reg, "haproxy_ic_pipeline_lkg_persist_failures_total",
                                            "Writes of lkg.json that failed.", NULL, NULL);
    x->m_event_to_lkg = metrics_histogram(
        x->reg, "haproxy_ic_pipeline_event_to_lkg_seconds",
        "From the reconciler receiving a watch event to the publication of an LKG that includes it.", NULL,
        event_buckets, sizeof(event_buckets) / sizeof(event_buckets[0]), NULL);
    if (!x->m_generations || !x->m_quarantined || !x->m_trials || !x->m_lkg_generation || !x->m_persist_failures ||
        !x->m_lkg_info || !x->m_event_to_lkg)
        return -1;
    metrics_counter_add(x->m_generations, (const char *const[]){"published"}, 0);
    metrics_counter_add(x->m_generations, (const char *const[]){"failed"}, 0);
    return 0;
}

void executor_free(struct executor *x)
{
    gen_free(&x->sm);
    free(x->run_dir);
    json_object_put(x->objects);
    metrics_registry_free(x->reg);
    memset(x, 0, sizeof(*x));
}

struct json_object *executor_pipeline_json(const struct executor *x)
{
    const struct gen_sm *sm = &x->sm;
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "synced", json_object_new_boolean(x->synced));
    json_object_object_add(p, "generation", json_object_new_int64((int64_t)sm->last_generation));
    if (sm->have_lkg) {
        char at[40];
        lkg_format_time(sm->lkg.at_wall_ms, at, sizeof(at));
        struct json_object *l = json_object_new_object();
        json_object_object_add(l, "generation", json_object_new_int64((int64_t)sm->lkg.generation));
        json_object_object_add(l, "checksum", json_object_new_string(sm->lkg.checksum));
        json_object_object_add(l, "at", json_object_new_string(at));
        json_object_object_add(p, "lkg", l);
    } else {
        json_object_object_add(p, "lkg", NULL);
    }
    if (sm->have_error) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "generation", json_object_new_int64((int64_t)sm->last_error.generation));
        json_object_object_add(e, "stage", json_object_new_string(sm->last_error.stage));
        json_object_object_add(e, "message", json_object_new_string(sm->last_error.message));
        json_object_object_add(p, "last_error", e);
    } else {
        json_object_object_add(p, "last_error", NULL);
    }
    struct json_object *q = json_object_new_array();
    for (size_t i = 0; i < sm->nquarantined; i++) {
        struct json_object *o = object_json(&sm->quarantined[i].obj);
        json_object_object_add(o, "reason", json_object_new_string(sm->quarantined[i].reason));
        json_object_array_add(q, o);
    }
    json_object_object_add(p, "quarantined", q);
    struct json_object *objects = NULL;
    if (x->objects) json_object_deep_copy(x->objects, &objects, NULL);
    json_object_object_add(p, "objects", objects ? objects : json_object_new_object());
    return p;
}

void executor_gc_keep(const struct executor *x, const char *keep[EXECUTOR_GC_KEEP], size_t *n)
{
    const struct gen_sm *sm = &x->sm;
    *n = 0;
    if (sm->have_lkg) keep[(*n)++] = sm->lkg.checksum;
    if (x->prev_lkg[0]) keep[(*n)++] = x->prev_lkg;
    if (sm->cand_checksum[0]) keep[(*n)++] = sm->cand_checksum;
    if (sm->phase == GEN_BISECTING && sm->b.trial_rendered) keep[(*n)++] = sm->b.trial_checksum;
}

static void update_metrics(struct executor *x)
{
    const struct gen_sm *sm = &x->sm;
    metrics_counter_add(x->m_generations, (const char *const[]){"published"}, (double)(sm->published - x->seen_published));
    metrics_counter_add(x->m_generations, (const char *const[]){"failed"}, (double)(sm->failed - x->seen_failed));
    metrics_counter_add(x->m_trials, NULL, (double)(sm->trials_total - x->seen_trials));
    x->seen_published = sm->published;
    x->seen_failed = sm->failed;
    x->seen_trials = sm->trials_total;
    metrics_gauge_set(x->m_quarantined, NULL, (double)sm->nquarantined);
    metrics_gauge_set(x->m_lkg_generation, NULL, sm->have_lkg ? (double)sm->lkg.generation : 0);
    if (sm->have_lkg && strcmp(x->info_checksum, sm->lkg.checksum) != 0) {
        if (x->info_checksum[0]) metrics_gauge_set(x->m_lkg_info, (const char *const[]){x->info_checksum}, 0);
        snprintf(x->info_checksum, sizeof(x->info_checksum), "%s", sm->lkg.checksum);
        metrics_gauge_set(x->m_lkg_info, (const char *const[]){x->info_checksum}, 1);
    }
}

/* The report and the metrics, both lossy: the next one supersedes a skipped one. */
static void report(struct executor *x)
{
    update_metrics(x);
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "type", json_object_new_string("pipeline_report"));
    json_object_object_add(r, "pipeline", executor_pipeline_json(x));
    x->send(x->send_data, r, 1);
    json_object_put(r);
    struct json_object *families = NULL;
    if (metrics_to_json(x->reg, &families) == 0) {
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "type", json_object_new_string("metrics"));
        json_object_object_add(m, "metrics", families);
        x->send(x->send_data, m, 1);
        json_object_put(m);
    }
}

static void send_lkg(struct executor *x)
{
    const struct gen_lkg *l = &x->sm.lkg;
    char dir[4096], at[40];
    if (rundir_gen_path(x->run_dir, l->checksum, dir, sizeof(dir)) < 0) dir[0] = '\0';
    lkg_format_time(l->at_wall_ms, at, sizeof(at));
    struct json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("lkg"));
    json_object_object_add(m, "generation", json_object_new_int64((int64_t)l->generation));
    json_object_object_add(m, "checksum", json_object_new_string(l->checksum));
    json_object_object_add(m, "dir", json_object_new_string(dir));
    json_object_object_add(m, "at", json_object_new_string(at));
    x->send(x->send_data, m, 0);
    json_object_put(m);
}

static void persist(struct executor *x)
{
    if (!x->sm.have_lkg) return; /* a quarantine without any LKG is found again after a restart */
    struct err e;
    /* The generation first, then the pointer to it: lkg.json must never name files a crash of the machine
     * could lose (rundir_write leaves durability to this call, rundir.h). A failure is logged; the pointer is
     * saved all the same, and a restart that finds its generation damaged refuses it (rundir_open). */
    if (strcmp(x->durable, x->sm.lkg.checksum) != 0) {
        if (rundir_sync(x->run_dir, x->sm.lkg.checksum, &e) == 0)
            snprintf(x->durable, sizeof(x->durable), "%s", x->sm.lkg.checksum);
        else
            log_error("cannot make the LKG's generation durable", "error", e.msg);
    }
    if (lkg_save(x->run_dir, &x->sm.lkg, x->sm.quarantined, x->sm.nquarantined, &e) < 0) {
        x->persist_failures++;
        metrics_counter_inc(x->m_persist_failures, NULL);
        log_error("cannot persist the LKG", "error", e.msg);
    }
}

static void send_render_request(struct executor *x, const struct gen_action *a)
{
    struct json_object *m = json_object_new_object(), *ex = json_object_new_array();
    json_object_object_add(m, "type", json_object_new_string("render_request"));
    char id[24];
    snprintf(id, sizeof(id), "%" PRIu64, a->render_id);
    json_object_object_add(m, "render_id", json_object_new_string(id));
    json_object_object_add(m, "trial", json_object_new_boolean(a->trial));
    for (size_t i = 0; i < a->nexclude; i++) json_object_array_add(ex, object_json(&a->exclude[i]));
    json_object_object_add(m, "exclude", ex);
    /* a trial early in a bisection of a first candidate excludes half the cluster: too long for a frame */
    struct err e;
    err_clear(&e);
    if (spill_field(m, "exclude", x->run_dir, 0, &e) < 0)
        log_error("cannot spill the exclusion list, sending it inline", "error", e.msg);
    x->send(x->send_data, m, 0);
    json_object_put(m);
}

static void carry_out(struct executor *x, const char *prev_lkg, int64_t now_ms)
{
    size_t n;
    const struct gen_action *a = gen_actions(&x->sm, &n);
    int dirty = 0, published = 0;
    char gen[24];
    for (size_t i = 0; i < n; i++) {
        snprintf(gen, sizeof(gen), "%" PRIu64, a[i].generation);
        switch (a[i].type) {
        case GEN_ACT_RENDER: send_render_request(x, &a[i]); break;
        case GEN_ACT_PUBLISH:
            log_info("new last-known-good", "generation", gen, "checksum", a[i].checksum);
            dirty = published = 1;
            break;
        case GEN_ACT_ERROR:
            log_warn("generation failed", "generation", gen, "stage", a[i].stage, "message", a[i].message);
            break;
        case GEN_ACT_QUARANTINE:
            log_warn("object quarantined", "resource", a[i].obj.resource, "namespace", a[i].obj.namespace, "name",
                     a[i].obj.name, "reason", a[i].message);
            dirty = 1;
            break;
        case GEN_ACT_RELEASE:
            log_info("quarantined object changed, retrying it", "resource", a[i].obj.resource, "namespace",
                     a[i].obj.namespace, "name", a[i].obj.name);
            dirty = 1;
            break;
        }
    }
    if (dirty) persist(x);
    if (published) {
        /* Persisted first: a deployer never pushes an LKG that a restart would forget. */
        if (prev_lkg[0] && strcmp(prev_lkg, x->sm.lkg.checksum) != 0)
            snprintf(x->prev_lkg, sizeof(x->prev_lkg), "%s", prev_lkg);
        send_lkg(x);
        event_published(x, x->sm.lkg.checksum, now_ms);   /* persisted and announced: published */
        x->gc_wanted = 1;
    }
    report(x);
}

int executor_start(struct executor *x, const struct gen_clock *now)
{
    struct lkg_state s;
    struct err why;
    if (lkg_load(x->run_dir, &s, &why) == 1) {
        char gen[24];
        snprintf(gen, sizeof(gen), "%" PRIu64, s.lkg.generation);
        log_info("last-known-good restored", "generation", gen, "checksum", s.lkg.checksum);
        int rc = gen_restore(&x->sm, &s.lkg, s.quarantined, s.nquarantined);
        lkg_state_free(&s);
        if (rc < 0) return -1;
        send_lkg(x);
    } else if (why.msg[0]) {
        log_warn("starting without a last-known-good", "reason", why.msg);
    }
    if (gen_on_start(&x->sm, now) < 0) return -1;
    carry_out(x, "", now->mono_ms);
    return 0;
}

static int malformed(const char *type, const char *why)
{
    log_warn("malformed pipeline message ignored", "type", type, "problem", why);
    return -1;
}

static void take_renderer_state(struct executor *x, struct json_object *msg)
{
    struct json_object *v;
    if (json_object_object_get_ex(msg, "synced", &v) && json_object_is_type(v, json_type_boolean))
        x->synced = json_object_get_boolean(v);
    if (json_object_object_get_ex(msg, "objects", &v) && json_object_is_type(v, json_type_object) &&
        json_object_object_length(v) <= EXECUTOR_MAX_OBJECT_KINDS) {
        json_object_put(x->objects);
        x->objects = json_object_get(v);
    }
}

int executor_on_message(struct executor *x, struct json_object *msg, const char *type, const struct gen_clock *now)
{
    char prev[GEN_CHECKSUM_MAX];
    snprintf(prev, sizeof(prev), "%s", x->sm.have_lkg ? x->sm.lkg.checksum : "");
    uint64_t id;
    int rc;
    if (strcmp(type, "rendered") == 0 || strcmp(type, "render_failed") == 0) {
        struct err e;
        err_clear(&e);
        int spilled = spill_restore(msg, "changed", x->run_dir, 0, &e);
        if (spilled < 0) {
            log_warn("changed list not read back", "type", type, "error", e.msg);
            return malformed(type, "changed_file");
        }
        /* a spilled list is tens of thousands of objects parsed (30 MB at 10k Ingresses), freed with msg by
         * our caller: the next tick gives that memory back */
        if (spilled > 0) x->trim_due = 1;
    }
    if (strcmp(type, "rendered") == 0) {
        const char *checksum = str(msg, "checksum");
        struct gen_object *changed = NULL, *excluded = NULL;
        size_t nc = 0, ne = 0;
        if (render_id(msg, &id) < 0) return malformed(type, "render_id");
        if (!checksum || rundir_checksum_check(checksum) < 0) return malformed(type, "checksum");
        if (objects_of(msg, "changed", &changed, &nc) < 0) return malformed(type, "changed");
        if (objects_of(msg, "excluded", &excluded, &ne) < 0) {
            free(changed);
            return malformed(type, "excluded");
        }
        int trial = flag(msg, "trial", 0);
        if (!trial) take_renderer_state(x, msg);
        if (!trial) event_candidate(x, checksum, ipc_msg_int(msg, "event_ms", 0));
        rc = gen_on_rendered(&x->sm, now, id, trial, checksum, changed, nc, excluded, ne);
        /* the LKG already is this rendering: its events are in it now */
        if (!trial && x->sm.have_lkg && strcmp(x->sm.lkg.checksum, checksum) == 0) event_published(x, checksum, now->mono_ms);
        free(changed);
        free(excluded);
    } else if (strcmp(type, "render_failed") == 0) {
        struct gen_object *changed = NULL;
        size_t nc = 0;
        if (render_id(msg, &id) < 0) return malformed(type, "render_id");
        if (objects_of(msg, "changed", &changed, &nc) < 0) return malformed(type, "changed");
        /* template:line:column: message, leaving out what is unknown */
        const char *tmpl = str(msg, "template"), *text = str(msg, "message");
        int64_t line = ipc_msg_int(msg, "line", 0), col = ipc_msg_int(msg, "column", 0);
        char where[160] = "", full[RENDER_ERROR_MAX];
        if (tmpl && line > 0 && col > 0)
            snprintf(where, sizeof(where), "%.96s:%lld:%lld: ", tmpl, (long long)line, (long long)col);
        else if (tmpl && line > 0)
            snprintf(where, sizeof(where), "%.96s:%lld: ", tmpl, (long long)line);
        else if (tmpl)
            snprintf(where, sizeof(where), "%.96s: ", tmpl);
        snprintf(full, sizeof(full), "%s%.*s", where, (int)(sizeof(full) - sizeof(where)), text ? text : "render failed");
        int trial = flag(msg, "trial", 0);
        if (!trial) take_renderer_state(x, msg);
        if (!trial) event_candidate(x, "", ipc_msg_int(msg, "event_ms", 0));
        rc = gen_on_render_failed(&x->sm, now, id, trial, full, changed, nc);
        free(changed);
    } else if (strcmp(type, "validated") == 0) {
        const char *checksum = str(msg, "checksum"), *outcome = str(msg, "outcome");
        if (render_id(msg, &id) < 0) return malformed(type, "render_id");
        if (!checksum || rundir_checksum_check(checksum) < 0) return malformed(type, "checksum");
        if (!outcome) return malformed(type, "outcome");
        const char *text = str(msg, "message");
        if (!text) text = "";
        /* Only a verdict counts: a timeout, an error running haproxy or a superseded request says nothing
         * about the objects, and bisecting on it would quarantine innocent ones. */
        if (strcmp(outcome, "valid") == 0 || strcmp(outcome, "invalid") == 0)
            rc = gen_on_validated(&x->sm, now, id, checksum, strcmp(outcome, "valid") == 0, text);
        else
            rc = gen_on_inconclusive(&x->sm, now, id, checksum, strcmp(outcome, "superseded") == 0, text);
    } else {
        return 0;
    }
    if (rc < 0) log_error("executor state machine failed (out of memory?)", "type", type);
    carry_out(x, prev, now->mono_ms);
    return rc;
}

void executor_on_tick(struct executor *x, const struct gen_clock *now)
{
    if (x->trim_due) {
        x->trim_due = 0;
        heap_trim("after a spilled changed list");
    }
    if (gen_on_tick(&x->sm, now) < 0) log_error("executor tick failed (out of memory?)");
    size_t n;
    gen_actions(&x->sm, &n);
    if (n) carry_out(x, x->sm.have_lkg ? x->sm.lkg.checksum : "", now->mono_ms);
}
