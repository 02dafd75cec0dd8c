/* Label selectors (=, ==, !=, in, notin, exists, !key, >, <) and field selectors (=, ==, != on
 * metadata.name, metadata.namespace and the resource's extra fields), parsed as kube-apiserver does and
 * matched against stored objects. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kube-sim/sim.h"

void sim_selector_free(struct sim_selector *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].key);
        for (size_t j = 0; j < sel->reqs[i].nvalues; j++) free(sel->reqs[i].values[j]);
        free(sel->reqs[i].values);
    }
    sel->n = 0;
}

static char *trimdup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *d = strndup(s, n);
    if (!d) abort();
    return d;
}

static int valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0) return 0;
    const char *slash = strrchr(k, '/');
    const char *name = slash ? slash + 1 : k;
    if (slash && (slash == k || (size_t)(slash - k) > SIM_MAX_NAME)) return 0;
    size_t nl = strlen(name);
    if (nl == 0 || nl > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[nl - 1])) return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_./", *p)) return 0;
    return 1;
}

static int valid_value(const char *v)
{
    size_t n = strlen(v);
    if (n == 0) return 1;
    if (n > SIM_MAX_LABEL_VALUE || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1])) return 0;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) return 0;
    return 1;
}

static struct sim_req *add_req(struct sim_selector *sel, enum sim_sel_op op, char *key)
{
    if (sel->n >= SIM_MAX_SELECTOR_REQS) {
        free(key);
        return NULL;
    }
    struct sim_req *r = &sel->reqs[sel->n++];
    memset(r, 0, sizeof(*r));
    r->op = op;
    r->key = key;
    return r;
}

static void add_value(struct sim_req *r, char *v)
{
    char **nv = realloc(r->values, (r->nvalues + 1) * sizeof(*nv));
    if (!nv) abort();
    r->values = nv;
    r->values[r->nvalues++] = v;
}

static int fail(char *err, size_t errlen, const char *sel, const char *what)
{
    snprintf(err, errlen, "unable to parse requirement: %s: found '%s'", what, sel);
    return -1;
}

static int parse_one(const char *s, size_t n, struct sim_selector *sel, char *err, size_t errlen)
{
    char *req = trimdup(s, n);
    int rc = 0;
    char *p;
    if (req[0] == '\0') {
        rc = fail(err, errlen, req, "empty requirement");
    } else if (req[0] == '!') {
        char *key = trimdup(req + 1, strlen(req + 1));
        if (!valid_key(key)) {
            free(key);
            rc = fail(err, errlen, req, "invalid label key");
        } else if (!add_req(sel, SEL_NOT_EXISTS, key)) {
            rc = fail(err, errlen, req, "too many requirements");
        }
    } else if ((p = strchr(req, '(')) != NULL) {
        /* key in (a,b) / key notin (a,b) */
        char *close = strrchr(req, ')');
        char *head = trimdup(req, (size_t)(p - req));
        char *sp = head + strlen(head);
        while (sp > head && !isspace((unsigned char)sp[-1])) sp--;
        enum sim_sel_op op;
        if (strcmp(sp, "in") == 0) op = SEL_IN;
        else if (strcmp(sp, "notin") == 0) op = SEL_NOTIN;
        else {
            free(head);
            free(req);
            return fail(err, errlen, s, "expected 'in' or 'notin'");
        }
        char *key = trimdup(head, (size_t)(sp - head));
        free(head);
        if (!close || close < p || close[1] != '\0' || !valid_key(key)) {
            free(key);
            free(req);
            return fail(err, errlen, s, "invalid set requirement");
        }
        struct sim_req *r = add_req(sel, op, key);
        if (!r) {
            free(req);
            return fail(err, errlen, s, "too many requirements");
        }
        const char *v = p + 1;
        while (v <= close) {
            const char *e = v;
            while (e < close && *e != ',') e++;
            char *val = trimdup(v, (size_t)(e - v));
            if (!valid_value(val)) {
                free(val);
                free(req);
                return fail(err, errlen, s, "invalid label value");
            }
            add_value(r, val);
            v = e + 1;
        }
    } else {
        const char *ops[] = {"!=", "==", "=", ">", "<"};
        enum sim_sel_op codes[] = {SEL_NE, SEL_EQ, SEL_EQ, SEL_GT, SEL_LT};
        char *at = NULL;
        int which = -1;
        for (int i = 0; i < 5; i++) {
            char *q = strstr(req, ops[i]);
            if (q && (!at || q < at)) {
                at = q;
                which = i;
            }
        }
        if (!at) {
            char *key = trimdup(req, strlen(req));
            if (!valid_key(key)) {
                free(key);
                rc = fail(err, errlen, req, "invalid label key");
            } else if (!add_req(sel, SEL_EXISTS, key)) {
                rc = fail(err, errlen, req, "too many requirements");
            }
        } else {
            /* "!=" and "==" start at the same place as "=": prefer the two-character forms */
            if (which == 2 && at > req && at[-1] == '!') at--, which = 0;
            if (which == 2 && at[1] == '=') which = 1;
            char *key = trimdup(req, (size_t)(at - req));
            char *val = trimdup(at + strlen(ops[which]), strlen(at + strlen(ops[which])));
            int ok = valid_key(key) && valid_value(val);
            if (ok && (codes[which] == SEL_GT || codes[which] == SEL_LT)) {
                char *end;
                strtol(val, &end, 10);
                ok = val[0] && *end == '\0';
            }
            if (!ok) {
                free(key);
                free(val);
                rc = fail(err, errlen, req, "invalid requirement");
            } else {
                struct sim_req *r = add_req(sel, codes[which], key);
                if (!r) {
                    free(val);
                    rc = fail(err, errlen, req, "too many requirements");
                } else {
                    add_value(r, val);
                }
            }
        }
    }
    free(req);
    return rc;
}

int sim_label_selector_parse(const char *s, struct sim_selector *sel, char *err, size_t errlen)
{
    memset(sel, 0, sizeof(*sel));
    if (!s) return 0;
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return 0;
    int depth = 0;
    const char *start = s;
    for (p = s;; p++) {
        if (*p == '(') depth++;
        else if (*p == ')') depth--;
        if (*p == '\0' || (*p == ',' && depth == 0)) {
            if (parse_one(start, (size_t)(p - start), sel, err, errlen) < 0) {
                sim_selector_free(sel);
                return -1;
            }
            if (!*p) break;
            start = p + 1;
        }
    }
    return 0;
}

static const char *label_of(const struct sim_obj *o, const char *key)
{
    for (size_t i = 0; i < o->nlabels; i++)
        if (strcmp(o->labels[i].key, key) == 0) return o->labels[i].value;
    return NULL;
}

static int in_values(const struct sim_req *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0) return 1;
    return 0;
}

static int req_match(const struct sim_req *r, const char *v)
{
    switch (r->op) {
    case SEL_EQ: return v && strcmp(v, r->values[0]) == 0;
    case SEL_NE: return !v || strcmp(v, r->values[0]) != 0;
    case SEL_IN: return v && in_values(r, v);
    case SEL_NOTIN: return !v || !in_values(r, v);
    case SEL_EXISTS: return v != NULL;
    case SEL_NOT_EXISTS: return v == NULL;
    case SEL_GT:
    case SEL_LT: {
        if (!v) return 0;
        char *end;
        long a = strtol(v, &end, 10);
        if (!v[0] || *end) return 0;
        long b = strtol(r->values[0], NULL, 10);
        return r->op == SEL_GT ? a > b : a < b;
    }
    }
    return 0;
}

int sim_label_selector_match(const struct sim_selector *sel, const struct sim_obj *o)
{
    for (size_t i = 0; i < sel->n; i++)
        if (!req_match(&sel->reqs[i], label_of(o, sel->reqs[i].key))) return 0;
    return 1;
}

/* ---- field selectors ---- */

static char *unescape(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) i++;
        d[o++] = s[i];
    }
    d[o] = '\0';
    return d;
}

int sim_field_selector_parse(const char *s, const struct sim_resource *r, struct sim_selector *sel, char *err,
                             size_t errlen)
{
    memset(sel, 0, sizeof(*sel));
    if (!s || !*s) return 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p != ',' && *p != '\0') continue;
        /* one term: field op value */
        const char *t = start, *e = p, *op = NULL;
        int oplen = 0;
        enum sim_sel_op code = SEL_EQ;
        for (const char *q = t; q < e; q++) {
            if (*q == '\\') {
                q++;
                continue;
            }
            if (q[0] == '!' && q + 1 < e && q[1] == '=') { op = q; oplen = 2; code = SEL_NE; break; }
            if (q[0] == '=' && q + 1 < e && q[1] == '=') { op = q; oplen = 2; break; }
            if (q[0] == '=') { op = q; oplen = 1; break; }
        }
        if (!op) {
            snprintf(err, errlen, "invalid selector: '%s'; can't understand '%.*s'", s, (int)(e - t), t);
            sim_selector_free(sel);
            return -1;
        }
        char *field = trimdup(t, (size_t)(op - t));
        char *value = unescape(op + oplen, (size_t)(e - op - oplen));
        int known = strcmp(field, "metadata.name") == 0 || strcmp(field, "metadata.namespace") == 0;
        for (int i = 0; !known && i < SIM_MAX_EXTRA_FIELDS && r->extra_fields[i]; i++)
            known = strcmp(field, r->extra_fields[i]) == 0;
        if (!known) {
            snprintf(err, errlen, "\"%s\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                     field);
            free(field);
            free(value);
            sim_selector_free(sel);
            return -1;
        }
        struct sim_req *rq = add_req(sel, code, field);
        if (!rq) {
            free(value);
            snprintf(err, errlen, "invalid selector: '%s'; too many terms", s);
            sim_selector_free(sel);
            return -1;
        }
        add_value(rq, value);
        if (!*p) break;
        start = p + 1;
    }
    return 0;
}

static const char *field_of(const struct sim_obj *o, const char *field)
{
    if (strcmp(field, "metadata.name") == 0) return o->name;
    if (strcmp(field, "metadata.namespace") == 0) return o->ns;
    for (int i = 0; i < SIM_MAX_EXTRA_FIELDS && o->res->extra_fields[i]; i++)
        if (strcmp(field, o->res->extra_fields[i]) == 0) return o->fields[i] ? o->fields[i] : "";
    return "";
}

int sim_field_selector_match(const struct sim_selector *sel, const struct sim_obj *o)
{
    for (size_t i = 0; i < sel->n; i++) {
        const struct sim_req *r = &sel->reqs[i];
        int eq = strcmp(field_of(o, r->key), r->values[0]) == 0;
        if (r->op == SEL_EQ ? !eq : eq) return 0;
    }
    return 1;
}
