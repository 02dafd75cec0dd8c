/* Validation kube-apiserver applies before storing: names (DNS-1123), and the Lease rules of the spec
 * (MicroTime with exactly six fractional digits, normalised to UTC; integer fields; durations > 0).
 * Decode-type errors are 400 BadRequest, rule violations 422 Invalid, as in kube. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/kube-sim/sim.h"

int sim_validate_name(const char *name, int label_only)
{
    size_t n = strlen(name);
    if (n == 0 || n > (label_only ? 63 : SIM_MAX_NAME)) return 0;
    if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1])) return 0;
    for (const char *p = name; *p; p++) {
        if (isupper((unsigned char)*p)) return 0;
        if (!isalnum((unsigned char)*p) && *p != '-' && (label_only || *p != '.')) return 0;
    }
    return 1;
}

static void invalid(struct sim_invalid *inv, const struct sim_resource *r, const char *name, const char *field,
                    const char *cause)
{
    char kind[128];
    if (r->group[0]) snprintf(kind, sizeof(kind), "%s.%s", r->kind, r->group);
    else snprintf(kind, sizeof(kind), "%s", r->kind);
    inv->code = 422;
    snprintf(inv->reason, sizeof(inv->reason), "Invalid");
    snprintf(inv->field, sizeof(inv->field), "%s", field);
    snprintf(inv->cause_reason, sizeof(inv->cause_reason), "FieldValueInvalid");
    snprintf(inv->cause_msg, sizeof(inv->cause_msg), "%s", cause);
    snprintf(inv->message, sizeof(inv->message), "%s \"%s\" is invalid: %s: %s", kind, name, field, cause);
}

static void bad_decode(struct sim_invalid *inv, const struct sim_resource *r, const char *what)
{
    inv->code = 400;
    snprintf(inv->reason, sizeof(inv->reason), "BadRequest");
    snprintf(inv->message, sizeof(inv->message), "%s in version \"%s\" cannot be handled as a %s: %s", r->kind,
             r->version, r->kind, what);
    inv->field[0] = '\0';
}

/* Checks the strict MicroTime layout 2006-01-02T15:04:05.000000Z07:00 and rewrites the value in UTC "Z". */
static int micro_time(struct json_object *spec, const char *key, char *why, size_t whylen)
{
    struct json_object *v;
    if (!json_object_object_get_ex(spec, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(why, whylen, "json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type string",
                 json_type_to_name(json_object_get_type(v)), key);
        return -1;
    }
    const char *s = json_object_get_string(v);
    struct tm tm = {0};
    int us = 0, consumed = 0;
    const char *layout = "2006-01-02T15:04:05.000000Z07:00";
    size_t n = strlen(s);
    int ok = n >= 27 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6 && consumed == 20;
    long off = 0;
    if (ok) {
        for (int i = 0; i < 6; i++) ok = ok && isdigit((unsigned char)s[20 + i]);
        if (ok) us = atoi((char[]){s[20], s[21], s[22], s[23], s[24], s[25], 0});
        const char *z = s + 26;
        if (ok && strcmp(z, "Z") == 0) off = 0;
        else if (ok && (z[0] == '+' || z[0] == '-') && strlen(z) == 6 && isdigit((unsigned char)z[1]) &&
                 isdigit((unsigned char)z[2]) && z[3] == ':' && isdigit((unsigned char)z[4]) &&
                 isdigit((unsigned char)z[5]))
            off = (z[0] == '-' ? -1 : 1) * ((z[1] - '0') * 36000L + (z[2] - '0') * 3600L + (z[4] - '0') * 600L +
                                             (z[5] - '0') * 60L);
        else ok = 0;
    }
    if (!ok) {
        snprintf(why, whylen, "parsing time \"%s\" as \"%s\": cannot parse \"%s\" as \"%s\"", s, layout,
                 n > 19 ? s + 19 : s, n > 19 ? ".000000Z07:00" : layout);
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - off;
    struct tm u;
    gmtime_r(&t, &u);
    char out[96];
    snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", u.tm_year + 1900, u.tm_mon + 1, u.tm_mday,
             u.tm_hour, u.tm_min, u.tm_sec, us);
    json_object_object_add(spec, key, json_object_new_string(out));
    return 0;
}

static int int32_field(struct json_object *spec, const char *key, int64_t *out, char *why, size_t whylen)
{
    struct json_object *v;
    if (!json_object_object_get_ex(spec, key, &v) || !v) return 1; /* absent */
    if (!json_object_is_type(v, json_type_int)) {
        snprintf(why, whylen, "json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type int32",
                 json_type_to_name(json_object_get_type(v)), key);
        return -1;
    }
    int64_t x = json_object_get_int64(v);
    if (x > INT32_MAX || x < INT32_MIN) {
        snprintf(why, whylen, "json: cannot unmarshal number %lld into Go struct field LeaseSpec.spec.%s of type int32",
                 (long long)x, key);
        return -1;
    }
    *out = x;
    return 0;
}

static int validate_lease(const struct sim_resource *r, const char *name, struct json_object *o,
                          struct sim_invalid *inv)
{
    struct json_object *spec;
    if (!json_object_object_get_ex(o, "spec", &spec) || !spec) return 0;
    if (!json_object_is_type(spec, json_type_object)) {
        bad_decode(inv, r, "json: cannot unmarshal into Go struct field Lease.spec of type v1.LeaseSpec");
        return -1;
    }
    char why[512];
    struct json_object *h;
    if (json_object_object_get_ex(spec, "holderIdentity", &h) && h && !json_object_is_type(h, json_type_string)) {
        bad_decode(inv, r, "json: cannot unmarshal into Go struct field LeaseSpec.spec.holderIdentity of type string");
        return -1;
    }
    if (micro_time(spec, "acquireTime", why, sizeof(why)) < 0 || micro_time(spec, "renewTime", why, sizeof(why)) < 0) {
        bad_decode(inv, r, why);
        return -1;
    }
    int64_t d = 0, t = 0;
    int rc = int32_field(spec, "leaseDurationSeconds", &d, why, sizeof(why));
    if (rc < 0) {
        bad_decode(inv, r, why);
        return -1;
    }
    if (rc == 0 && d <= 0) {
        char c[128];
        snprintf(c, sizeof(c), "Invalid value: %lld: must be greater than 0", (long long)d);
        invalid(inv, r, name, "spec.leaseDurationSeconds", c);
        return -1;
    }
    rc = int32_field(spec, "leaseTransitions", &t, why, sizeof(why));
    if (rc < 0) {
        bad_decode(inv, r, why);
        return -1;
    }
    if (rc == 0 && t < 0) {
        char c[128];
        snprintf(c, sizeof(c), "Invalid value: %lld: must be greater than or equal to 0", (long long)t);
        invalid(inv, r, name, "spec.leaseTransitions", c);
        return -1;
    }
    struct json_object *ph, *st;
    int has_strategy = json_object_object_get_ex(spec, "strategy", &st) && st;
    if (json_object_object_get_ex(spec, "preferredHolder", &ph) && ph && json_object_get_string(ph)[0] &&
        !has_strategy) {
        invalid(inv, r, name, "spec.preferredHolder", "Forbidden: may only be specified if `strategy` is defined");
        snprintf(inv->cause_reason, sizeof(inv->cause_reason), "FieldValueForbidden");
        return -1;
    }
    return 0;
}

static int validate_string_map(const struct sim_resource *r, struct json_object *o, const char *key,
                               struct sim_invalid *inv)
{
    struct json_object *m;
    if (!json_object_object_get_ex(o, key, &m) || !m) return 0;
    if (!json_object_is_type(m, json_type_object)) {
        char why[256];
        snprintf(why, sizeof(why), "json: cannot unmarshal %s into Go struct field %s.%s of type map[string]string",
                 json_type_to_name(json_object_get_type(m)), r->kind, key);
        bad_decode(inv, r, why);
        return -1;
    }
    json_object_object_foreach(m, k, v)
    {
        (void)k;
        if (v && !json_object_is_type(v, json_type_string)) {
            char why[256];
            snprintf(why, sizeof(why), "json: cannot unmarshal %s into Go struct field %s.%s of type string",
                     json_type_to_name(json_object_get_type(v)), r->kind, key);
            bad_decode(inv, r, why);
            return -1;
        }
    }
    return 0;
}

int sim_validate_object(const struct sim_resource *r, struct json_object *o, struct sim_invalid *inv)
{
    memset(inv, 0, sizeof(*inv));
    struct json_object *meta, *nm;
    const char *name = "";
    if (json_object_object_get_ex(o, "metadata", &meta) && json_object_object_get_ex(meta, "name", &nm))
        name = json_object_get_string(nm);
    if (!name[0]) {
        invalid(inv, r, "", "metadata.name", "Required value: name or generateName is required");
        snprintf(inv->cause_reason, sizeof(inv->cause_reason), "FieldValueRequired");
        return -1;
    }
    if (!sim_validate_name(name, strcmp(r->plural, "namespaces") == 0)) {
        char c[512];
        snprintf(c, sizeof(c),
                 "Invalid value: \"%.200s\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character",
                 name);
        invalid(inv, r, name, "metadata.name", c);
        return -1;
    }
    if (meta) {
        struct json_object *lab;
        if (json_object_object_get_ex(meta, "labels", &lab) && lab) {
            if (validate_string_map(r, meta, "labels", inv) < 0) return -1;
        }
        if (validate_string_map(r, meta, "annotations", inv) < 0) return -1;
    }
    if (strcmp(r->plural, "leases") == 0) return validate_lease(r, name, o, inv);
    if (strcmp(r->plural, "configmaps") == 0 || strcmp(r->plural, "secrets") == 0) {
        if (validate_string_map(r, o, "data", inv) < 0) return -1;
    }
    return 0;
}

/* Known fields, where the simulator knows the schema (Leases). Others are not checked (a documented gap). */
static const char *const lease_top[] = {"apiVersion", "kind", "metadata", "spec", NULL};
static const char *const lease_spec[] = {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime",
                                         "leaseTransitions", "strategy", "preferredHolder", NULL};

static int known(const char *const *list, const char *k)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0) return 1;
    return 0;
}

static int check_keys(const struct sim_resource *r, struct json_object *o, const char *prefix,
                      const char *const *list, int strict, char *warning, size_t wn, struct sim_invalid *inv)
{
    char unknown_keys[32][128];
    int nunk = 0;
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        if (!known(list, k) && nunk < 32) snprintf(unknown_keys[nunk++], sizeof(unknown_keys[0]), "%s", k);
    }
    for (int i = 0; i < nunk; i++) {
        char what[300];
        snprintf(what, sizeof(what), "unknown field \"%.40s%.127s\"", prefix, unknown_keys[i]);
        if (strict) {
            char why[400];
            snprintf(why, sizeof(why), "strict decoding error: %s", what);
            bad_decode(inv, r, why);
            return -1;
        }
        if (warning && !warning[0]) snprintf(warning, wn, "%s", what);
        json_object_object_del(o, unknown_keys[i]);
    }
    return 0;
}

int sim_check_unknown_fields(const struct sim_resource *r, struct json_object *o, const char *mode, char *warning,
                             size_t wn, struct sim_invalid *inv)
{
    memset(inv, 0, sizeof(*inv));
    if (strcmp(r->plural, "leases") != 0) return 0;
    int strict = strcmp(mode, "Strict") == 0;
    char *w = strcmp(mode, "Ignore") == 0 ? NULL : warning;
    if (check_keys(r, o, "", lease_top, strict, w, wn, inv) < 0) return -1;
    struct json_object *spec;
    if (json_object_object_get_ex(o, "spec", &spec) && json_object_is_type(spec, json_type_object))
        return check_keys(r, spec, "spec.", lease_spec, strict, w, wn, inv);
    return 0;
}
