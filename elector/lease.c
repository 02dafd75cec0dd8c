/* The Lease election algorithm as pure decision logic: client-go's tryAcquireOrRenew (fast path, GET,
 * create on 404, observe by raw comparison, takeover or renewal PUT), release, MicroTime, and the timing
 * arithmetic the elector's loop needs. See lease.h; no I/O and no clock reads in here. */
#include "elector/lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- configuration ---- */

int lease_config_validate(const struct lease_config *cfg, struct err *e)
{
    /* client-go's NewLeaderElector, same order, same words; the rules are shared with the config loader. */
    unsigned broken = lease_rules_broken(cfg->lease_duration_ms, cfg->renew_deadline_ms, cfg->retry_period_ms);
    for (int r = 0; r < LEASE_RULE_DURATION_WHOLE_SECOND; r++)
        if (broken & LEASE_RULE_BIT(r)) return err_set(e, "%s", lease_rules_message((enum lease_timing_rule)r));
    if (!cfg->identity || !cfg->identity[0])
        return err_set(e, "Lock identity is empty");
    if (broken & LEASE_RULE_BIT(LEASE_RULE_DURATION_WHOLE_SECOND))
        return err_set(e, "%s", lease_rules_message(LEASE_RULE_DURATION_WHOLE_SECOND));
    if (strlen(cfg->identity) > LEASE_IDENTITY_MAX)
        return err_set(e, "Lock identity is longer than %d characters", LEASE_IDENTITY_MAX);
    return 0;
}

int lease_config_warnings(const struct lease_config *cfg, char out[][ERR_MSG_MAX], int max)
{
    int n = 0;
    if (n < max && cfg->retry_period_ms + cfg->renew_deadline_ms >= cfg->lease_duration_ms)
        snprintf(out[n++], ERR_MSG_MAX,
                 "retryPeriod + renewDeadline (%" PRId64 "ms) is not below leaseDuration (%" PRId64
                 "ms): a cut-off leader may still act when others take over",
                 cfg->retry_period_ms + cfg->renew_deadline_ms, cfg->lease_duration_ms);
    if (n < max && cfg->lease_duration_ms / 1000 * 1000 < 2 * cfg->retry_period_ms)
        snprintf(out[n++], ERR_MSG_MAX,
                 "leaseDurationSeconds (%" PRId64 ") is below 2 x retryPeriod (%" PRId64
                 "ms): followers may see the lease expire between renewals",
                 cfg->lease_duration_ms / 1000, cfg->retry_period_ms);
    if (n < max && cfg->retry_period_ms < 1000 && cfg->lease_duration_ms - cfg->renew_deadline_ms <= 1000)
        snprintf(out[n++], ERR_MSG_MAX,
                 "retryPeriod is under 1s and leaseDuration - renewDeadline is not above 1s: renewals within "
                 "one wall-clock second look identical to followers, who may then take over up to 1s sooner "
                 "after the last renewal than leaseDuration");
    if (n < max && cfg->lease_duration_ms < 3000)
        snprintf(out[n++], ERR_MSG_MAX,
                 "leaseDuration (%" PRId64 "ms) is under 3s: followers compare renewTime at whole seconds, so "
                 "renewals within one second look like no change to them",
                 cfg->lease_duration_ms);
    return n;
}

/* ---- MicroTime ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-date algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void lease_microtime_format(const struct lease_time *t, char *out, size_t n)
{
    int64_t days = t->sec / 86400, rem = t->sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, n, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)t->usec);
}

static int digits(const char **p, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += count;
    *out = v;
    return 0;
}

int lease_microtime_parse(const char *s, struct lease_time *out)
{
    const char *p = s;
    int y, mo, d, h, mi, se, usec = 0;
    if (!s) return -1;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't') return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > mdays[mo - 1]) return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9') nd++;
        if (nd == 0 || nd > 9) return -1;
        for (int i = 0; i < 6; i++) usec = usec * 10 + (i < nd ? p[i] - '0' : 0);
        p += nd;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) return -1;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p) return -1;
    if (se == 60) se = 59; /* a leap second reads as the second before it */
    out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    out->usec = usec;
    out->set = 1;
    return 0;
}

/* ---- records ---- */

/* Compared to the microsecond the Lease carries (MicroTime), not to the second as client-go's record
 * comparison does: two renewals within one wall second (an elector restarted by its supervisor renews at
 * once) would look like one, and a follower would count the expiry from the first, up to a second early;
 * the chaos soak (seed 1204) saw a takeover 3.47 s after the real last renewal with a 4 s lease. Comparing
 * finer can only restart our expiry clock more often, which delays a takeover, never hastens it. */
static int same_time(const struct lease_time *a, const struct lease_time *b)
{
    if (a->set != b->set) return 0;
    return !a->set || (a->sec == b->sec && a->usec == b->usec);
}

int lease_record_same_raw(const struct lease_record *a, const struct lease_record *b)
{
    return strcmp(a->holder, b->holder) == 0 && a->duration_s == b->duration_s &&
           same_time(&a->acquire, &b->acquire) && same_time(&a->renew, &b->renew) &&
           a->transitions == b->transitions && strcmp(a->strategy, b->strategy) == 0 &&
           strcmp(a->preferred_holder, b->preferred_holder) == 0;
}

const char *lease_status_str(enum lease_status st)
{
    switch (st) {
    case LEASE_ST_OK: return "ok";
    case LEASE_ST_NOT_FOUND: return "not_found";
    case LEASE_ST_CONFLICT: return "conflict";
    case LEASE_ST_INVALID: return "invalid";
    case LEASE_ST_UNAUTHORIZED: return "unauthorized";
    case LEASE_ST_FORBIDDEN: return "forbidden";
    case LEASE_ST_ERROR: return "error";
    case LEASE_ST_TIMEOUT: return "timeout";
    }
    return "unknown";
}

const char *lease_reason_str(enum lease_reason r)
{
    switch (r) {
    case LEASE_WHY_NONE: return "none";
    case LEASE_WHY_RENEWED_FAST: return "renewed";
    case LEASE_WHY_RENEWED_SLOW: return "renewed_slow_path";
    case LEASE_WHY_CREATED: return "created";
    case LEASE_WHY_TOOK_OVER: return "took_over";
    case LEASE_WHY_HELD_BY_OTHER: return "held_by_other";
    case LEASE_WHY_GET_FAILED: return "get_failed";
    case LEASE_WHY_CREATE_FAILED: return "create_failed";
    case LEASE_WHY_UPDATE_FAILED: return "update_failed";
    case LEASE_WHY_UNREADABLE: return "unreadable";
    case LEASE_WHY_DUPLICATE_IDENTITY: return "duplicate_identity";
    }
    return "unknown";
}

const char *lease_reason_verb(enum lease_reason r)
{
    switch (r) {
    case LEASE_WHY_GET_FAILED: return "get";
    case LEASE_WHY_CREATE_FAILED: return "create";
    case LEASE_WHY_UPDATE_FAILED: return "update";
    default: return "";
    }
}

/* ---- state ---- */

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void lease_state_init(struct lease_state *s, const struct lease_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->observed_mono_ms = -1;
}

static void remember_write(struct lease_state *s, const struct lease_record *r)
{
    struct lease_record_mark *m = &s->writes[s->writes_next];
    m->acquire = r->acquire;
    m->renew = r->renew;
    m->duration_s = r->duration_s;
    m->transitions = r->transitions;
    s->writes_next = (s->writes_next + 1) % LEASE_WRITES_REMEMBERED;
    if (s->nwrites < LEASE_WRITES_REMEMBERED) s->nwrites++;
}

/* The newest remembered write was never applied (refused, or never sent). */
static void forget_newest_write(struct lease_state *s)
{
    if (s->nwrites == 0) return;
    s->writes_next = (s->writes_next + LEASE_WRITES_REMEMBERED - 1) % LEASE_WRITES_REMEMBERED;
    s->nwrites--;
}

/* The newest remembered write was applied: every older one is superseded. */
static void confirm_newest_write(struct lease_state *s)
{
    if (s->nwrites == 0) return;
    int newest = (s->writes_next + LEASE_WRITES_REMEMBERED - 1) % LEASE_WRITES_REMEMBERED;
    s->writes[0] = s->writes[newest];
    s->nwrites = 1;
    s->writes_next = 1 % LEASE_WRITES_REMEMBERED;
    s->ok_writes++;
}

/* How a write ended: applied, certainly not applied, or unknown (it may yet be applied). */
static void settle_write(struct lease_state *s, enum lease_status st)
{
    if (st == LEASE_ST_OK) confirm_newest_write(s);
    else if (st != LEASE_ST_TIMEOUT && st != LEASE_ST_ERROR) forget_newest_write(s);
}

int lease_record_is_ours(const struct lease_state *s, const struct lease_record *r)
{
    for (int i = 0; i < s->nwrites; i++) {
        const struct lease_record_mark *m = &s->writes[i];
        if (same_time(&m->renew, &r->renew) && same_time(&m->acquire, &r->acquire) &&
            m->duration_s == r->duration_s && m->transitions == r->transitions)
            return 1;
    }
    return 0;
}

int lease_is_leader(const struct lease_state *s)
{
    return s->cfg.identity && s->cfg.identity[0] && strcmp(s->observed.holder, s->cfg.identity) == 0;
}

int64_t lease_expiry_mono(const struct lease_state *s)
{
    if (s->observed_mono_ms < 0) return -1;
    return s->observed_mono_ms + (int64_t)s->observed.duration_s * 1000;
}

int lease_is_valid(const struct lease_state *s, int64_t now_mono_ms)
{
    return s->observed_mono_ms >= 0 && lease_expiry_mono(s) > now_mono_ms;
}

void lease_set_observed(struct lease_state *s, const struct lease_record *r, int64_t now_mono_ms)
{
    if (&s->observed != r) s->observed = *r;
    s->observed_mono_ms = now_mono_ms;
}

static void cache_object(struct lease_state *s, const struct lease_object *o)
{
    if (!o) return;
    copy_str(s->cached_rv, sizeof(s->cached_rv), o->resource_version);
    copy_str(s->cached_uid, sizeof(s->cached_uid), o->uid);
    s->have_cached = 1;
}

/* The observation step of a GET: a raw change restarts our expiry clock. */
static int observe_fetched(struct lease_state *s, const struct lease_record *r, int64_t now_mono_ms)
{
    if (s->have_raw && lease_record_same_raw(&s->observed_raw, r)) return 0;
    lease_set_observed(s, r, now_mono_ms);
    s->observed_raw = *r;
    s->have_raw = 1;
    return 1;
}

int lease_observe(struct lease_state *s, const struct lease_object *o, int64_t now_mono_ms)
{
    return observe_fetched(s, &o->rec, now_mono_ms);
}

enum lease_leader_change lease_take_new_leader(struct lease_state *s, char *out, size_t n)
{
    if (s->reported_any && strcmp(s->reported_leader, s->observed.holder) == 0) return LEASE_LEADER_SAME;
    /* client-go starts with reportedLeader "" so an empty holder is not reported first; same here. */
    if (!s->reported_any && s->observed.holder[0] == '\0') return LEASE_LEADER_SAME;
    copy_str(s->reported_leader, sizeof(s->reported_leader), s->observed.holder);
    s->reported_any = 1;
    /* client-go hands "" to OnNewLeader; a release is not a leader, and reporting it as one made followers
     * show an empty lease holder until the next holder was seen. */
    if (s->observed.holder[0] == '\0') return LEASE_LEADER_NONE;
    copy_str(out, n, s->observed.holder);
    return LEASE_LEADER_NEW;
}

/* ---- one attempt ---- */

static enum lease_action finish(struct lease_attempt *a, enum lease_result res, enum lease_reason why,
                                enum lease_status st)
{
    a->pending = LEASE_ACT_NONE;
    a->result = res;
    a->reason = why;
    a->last_status = st;
    return LEASE_ACT_NONE;
}

enum lease_action lease_attempt_begin(struct lease_state *s, struct lease_attempt *a, int64_t now_mono_ms,
                                      const struct lease_time *wall)
{
    memset(a, 0, sizeof(*a));
    copy_str(a->desired.holder, sizeof(a->desired.holder), s->cfg.identity);
    a->desired.duration_s = (int32_t)(s->cfg.lease_duration_ms / 1000);
    a->desired.acquire = *wall;
    a->desired.renew = *wall;
    a->desired.acquire.set = a->desired.renew.set = 1;
    a->desired.transitions = 0;
    a->result = LEASE_RES_PENDING;
    a->start_mono_ms = now_mono_ms;

    /* 1. Fast path: we lead and the lease is valid by our observation: PUT through the cached object. Only
     * over a record of our own writing: one naming us that another replica wrote goes through the GET. */
    if (lease_is_leader(s) && lease_is_valid(s, now_mono_ms) && s->have_cached &&
        lease_record_is_ours(s, &s->observed)) {
        a->desired.acquire = s->observed.acquire;
        a->desired.transitions = s->observed.transitions;
        copy_str(a->rv, sizeof(a->rv), s->cached_rv);
        copy_str(a->uid, sizeof(a->uid), s->cached_uid);
        a->fast_path = a->fast_path_ran = 1;
        remember_write(s, &a->desired);
        return a->pending = LEASE_ACT_UPDATE;
    }
    /* 2. GET. */
    return a->pending = LEASE_ACT_GET;
}

enum lease_action lease_attempt_on_update(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                          const struct lease_object *written, int64_t now_mono_ms)
{
    if (a->pending != LEASE_ACT_UPDATE) return finish(a, LEASE_RES_FAILED, LEASE_WHY_UPDATE_FAILED, st);
    int fast = a->fast_path;
    a->fast_path = 0;
    settle_write(s, st);
    if (st == LEASE_ST_OK) {
        cache_object(s, written);
        lease_set_observed(s, &a->desired, now_mono_ms);
        return finish(a, LEASE_RES_ACQUIRED,
                      fast ? LEASE_WHY_RENEWED_FAST : a->takeover ? LEASE_WHY_TOOK_OVER : LEASE_WHY_RENEWED_SLOW,
                      st);
    }
    /* A failed fast path falls through to GET within the same attempt; desired keeps the old acquireTime
     * and transitions (client-go does the same). A failed slow-path PUT ends the attempt: never retry a
     * PUT with the same, stale resourceVersion. */
    if (fast) return a->pending = LEASE_ACT_GET;
    return finish(a, LEASE_RES_FAILED, LEASE_WHY_UPDATE_FAILED, st);
}

enum lease_action lease_attempt_on_get(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                       const struct lease_object *fetched, int64_t now_mono_ms)
{
    if (a->pending != LEASE_ACT_GET) return finish(a, LEASE_RES_FAILED, LEASE_WHY_GET_FAILED, st);
    if (st == LEASE_ST_NOT_FOUND) {
        remember_write(s, &a->desired);
        return a->pending = LEASE_ACT_CREATE;
    }
    if (st != LEASE_ST_OK) return finish(a, LEASE_RES_FAILED, LEASE_WHY_GET_FAILED, st);
    if (!fetched) return finish(a, LEASE_RES_FAILED, LEASE_WHY_UNREADABLE, st);

    cache_object(s, fetched);
    /* 3. Observe: only a change of the raw record restarts the expiry clock. */
    observe_fetched(s, &fetched->rec, now_mono_ms);
    /* A record naming us that this process did not write, after it wrote one: another replica runs under
     * our identity (client-go cannot tell, and both would lead). Step aside and from then on treat such a
     * record as another holder's. Without a write of ours yet it is our own earlier life (a restart) and is
     * resumed as client-go does, unless a duplicate was seen before. */
    int self_named = lease_is_leader(s), foreign_self = 0;
    if (self_named && !lease_record_is_ours(s, &fetched->rec)) {
        if (s->ok_writes > 0 && !s->distrust_own_identity) {
            s->distrust_own_identity = 1;
            return finish(a, LEASE_RES_FAILED, LEASE_WHY_DUPLICATE_IDENTITY, st);
        }
        foreign_self = s->distrust_own_identity;
    }
    int ours = self_named && !foreign_self;
    if (fetched->rec.holder[0] && lease_is_valid(s, a->start_mono_ms) && !ours)
        return finish(a, LEASE_RES_FAILED, LEASE_WHY_HELD_BY_OTHER, st);

    /* 4. Prepare. */
    if (ours) {
        a->desired.acquire = fetched->rec.acquire;
        a->desired.transitions = fetched->rec.transitions;
        a->takeover = 0;
        s->slow_path_renewals++;
    } else {
        a->desired.transitions = fetched->rec.transitions + 1;
        a->takeover = 1;
    }
    /* 5. PUT with the resourceVersion of the GET. */
    copy_str(a->rv, sizeof(a->rv), fetched->resource_version);
    copy_str(a->uid, sizeof(a->uid), fetched->uid);
    remember_write(s, &a->desired);
    return a->pending = LEASE_ACT_UPDATE;
}

enum lease_action lease_attempt_on_create(struct lease_state *s, struct lease_attempt *a, enum lease_status st,
                                          const struct lease_object *created, int64_t now_mono_ms)
{
    if (a->pending == LEASE_ACT_CREATE) settle_write(s, st);
    if (a->pending != LEASE_ACT_CREATE || st != LEASE_ST_OK)
        return finish(a, LEASE_RES_FAILED, LEASE_WHY_CREATE_FAILED, st);
    cache_object(s, created);
    lease_set_observed(s, &a->desired, now_mono_ms);
    return finish(a, LEASE_RES_ACQUIRED, LEASE_WHY_CREATED, st);
}

void lease_attempt_abort(struct lease_state *s, struct lease_attempt *a, enum lease_status st)
{
    if (a->pending == LEASE_ACT_CREATE || a->pending == LEASE_ACT_UPDATE) forget_newest_write(s); /* unsent */
    enum lease_reason why = a->pending == LEASE_ACT_GET      ? LEASE_WHY_GET_FAILED
                            : a->pending == LEASE_ACT_CREATE ? LEASE_WHY_CREATE_FAILED
                                                             : LEASE_WHY_UPDATE_FAILED;
    finish(a, LEASE_RES_FAILED, why, st);
}

/* ---- release ---- */

int lease_release_record(const struct lease_state *s, const struct lease_object *fetched,
                         const struct lease_time *wall, struct lease_record *out)
{
    /* the observed record must be of our writing too: never blank a Lease another replica under our
     * identity holds (see LEASE_WHY_DUPLICATE_IDENTITY) */
    if (!lease_is_leader(s) || !lease_record_is_ours(s, &s->observed) || !fetched ||
        strcmp(fetched->rec.holder, s->cfg.identity) != 0)
        return 0;
    memset(out, 0, sizeof(*out));
    out->holder[0] = '\0';
    out->duration_s = 1;
    out->acquire = *wall;
    out->renew = *wall;
    out->acquire.set = out->renew.set = 1;
    out->transitions = fetched->rec.transitions;
    return 1;
}

void lease_release_done(struct lease_state *s, const struct lease_record *released, int64_t now_mono_ms)
{
    lease_set_observed(s, released, now_mono_ms);
}

/* ---- timing ---- */

int64_t lease_fence_ms(int64_t renew_sent_mono_ms, int64_t renew_deadline_ms)
{
    return renew_sent_mono_ms + renew_deadline_ms;
}

int64_t lease_request_timeout_ms(const struct lease_config *cfg, int64_t now_mono_ms, int64_t budget_end_mono_ms)
{
    int64_t t = cfg->renew_deadline_ms / 2;
    if (t < LEASE_REQUEST_TIMEOUT_MIN_MS) t = LEASE_REQUEST_TIMEOUT_MIN_MS;
    if (budget_end_mono_ms >= 0) {
        int64_t left = budget_end_mono_ms - now_mono_ms;
        if (left <= 0) return 0;
        if (left < t) t = left;
    }
    return t;
}

int64_t lease_jitter_ms(int64_t retry_period_ms, double r)
{
    if (r < 0) r = 0;
    if (r >= 1) r = 0.999999;
    return retry_period_ms + (int64_t)((double)retry_period_ms * r * LEASE_JITTER_FACTOR);
}

int64_t lease_suspended_ms(int64_t mono_then, int64_t boot_then, int64_t mono_now, int64_t boot_now)
{
    int64_t gap = (boot_now - boot_then) - (mono_now - mono_then);
    return gap > 0 ? gap : 0;
}

int64_t lease_suspend_margin_ms(const struct lease_config *cfg)
{
    int64_t m = (cfg->lease_duration_ms - cfg->renew_deadline_ms) / 2;
    return m < 1000 ? m : 1000;
}
