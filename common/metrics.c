/* Metrics registry, Prometheus text writer and JSON report/merge (see metrics.h). Series are kept in
 * insertion order in an array per family, with an open-addressing hash index over their label values so an
 * update or a merged report costs O(1) per series even at the series bound. */
#include "common/metrics.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    char **values;     /* one per label name, owned */
    double value;      /* counter, gauge */
    uint64_t *counts;  /* histogram: cumulative count per bucket bound, owned */
    uint64_t count;    /* histogram: observations (the +Inf bucket) */
    double sum;        /* histogram */
};

struct metric_family {
    char *name;     /* owned */
    char *help;     /* owned */
    enum metric_type type;
    char **labels;  /* owned, nlabels entries */
    size_t nlabels;
    double *buckets;  /* owned, histogram bounds without +Inf */
    size_t nbuckets;
    struct series *series;  /* owned */
    size_t nseries, capseries;
    uint32_t *index;        /* owned: series position + 1 per slot, 0 = empty; NULL until the first series */
    size_t index_cap;       /* a power of two, kept above twice nseries */
};

struct metrics_registry {
    struct metric_family **families;  /* owned */
    size_t n, cap;
};

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* ---- numbers ------------------------------------------------------------------------------------------ */

void metrics_format_double(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
    } else if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, n, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, n, "%.*g", prec, v);
            if (strtod(out, NULL) == v) break;
        }
    }
}

/* ---- names -------------------------------------------------------------------------------------------- */

static int valid_metric_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > METRICS_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

static int valid_label_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > METRICS_NAME_MAX || strncmp(s, "__", 2) == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

/* The exposition format is UTF-8; a report from a child must not be able to break the scrape. */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2)) return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xc0) != 0x80) return 0;
    }
    return 1;
}

/* ---- registry ----------------------------------------------------------------------------------------- */

struct metrics_registry *metrics_registry_new(void) { return calloc(1, sizeof(struct metrics_registry)); }

static void free_series(struct metric_family *f, struct series *s)
{
    for (size_t i = 0; i < f->nlabels; i++) free(s->values[i]);
    free(s->values);
    free(s->counts);
}

static void free_family(struct metric_family *f)
{
    for (size_t i = 0; i < f->nseries; i++) free_series(f, &f->series[i]);
    free(f->series);
    free(f->index);
    for (size_t i = 0; i < f->nlabels; i++) free(f->labels[i]);
    free(f->labels);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_registry_free(struct metrics_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free_family(r->families[i]);
    free(r->families);
    free(r);
}

static struct metric_family *find_family(const struct metrics_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->families[i]->name, name)) return r->families[i];
    return NULL;
}

static uint32_t hash_values(const struct metric_family *f, const char *const *values)
{
    uint32_t h = 2166136261u; /* FNV-1a over the values, each followed by a separator byte */
    for (size_t k = 0; k < f->nlabels; k++) {
        for (const unsigned char *p = (const unsigned char *)values[k]; *p; p++) h = (h ^ *p) * 16777619u;
        h = (h ^ 0xffu) * 16777619u;
    }
    return h;
}

static int same_values(const struct metric_family *f, const struct series *s, const char *const *values)
{
    for (size_t k = 0; k < f->nlabels; k++)
        if (strcmp(s->values[k], values[k])) return 0;
    return 1;
}

static void index_insert(struct metric_family *f, size_t pos)
{
    size_t mask = f->index_cap - 1, i = hash_values(f, (const char *const *)f->series[pos].values) & mask;
    while (f->index[i]) i = (i + 1) & mask;
    f->index[i] = (uint32_t)pos + 1;
}

/* Rebuilds the index for at least `want` series; -1 when out of memory (the old index stays). */
static int index_rebuild(struct metric_family *f, size_t want)
{
    size_t cap = 16;
    while (cap < want * 2 + 2) cap *= 2;
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (!idx) return -1;
    free(f->index);
    f->index = idx;
    f->index_cap = cap;
    for (size_t i = 0; i < f->nseries; i++) index_insert(f, i);
    return 0;
}

static struct series *find_series(struct metric_family *f, const char *const *values)
{
    if (!f->index) return NULL;
    size_t mask = f->index_cap - 1, i = hash_values(f, values) & mask;
    for (; f->index[i]; i = (i + 1) & mask) {
        struct series *s = &f->series[f->index[i] - 1];
        if (same_values(f, s, values)) return s;
    }
    return NULL;
}

static struct series *get_series(struct metric_family *f, const char *const *values)
{
    if (!f) return NULL;
    for (size_t k = 0; k < f->nlabels; k++)
        if (!values || !values[k] || strlen(values[k]) > METRICS_VALUE_MAX || !valid_utf8(values[k])) return NULL;
    struct series *s = find_series(f, values);
    if (s) return s;
    if (f->nseries >= METRICS_MAX_SERIES) return NULL;
    if ((f->nseries + 1) * 2 >= f->index_cap && index_rebuild(f, f->nseries + 1) < 0) return NULL;
    if (f->nseries == f->capseries) {
        size_t cap = f->capseries ? f->capseries * 2 : 4;
        struct series *n = realloc(f->series, cap * sizeof(*n));
        if (!n) return NULL;
        f->series = n;
        f->capseries = cap;
    }
    s = &f->series[f->nseries];
    memset(s, 0, sizeof(*s));
    s->values = calloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
    if (f->type == METRIC_HISTOGRAM) s->counts = calloc(f->nbuckets ? f->nbuckets : 1, sizeof(uint64_t));
    int ok = s->values && (f->type != METRIC_HISTOGRAM || s->counts);
    for (size_t k = 0; ok && k < f->nlabels; k++) ok = (s->values[k] = strdup(values[k])) != NULL;
    if (!ok) {
        free_series(f, s);
        return NULL;
    }
    index_insert(f, f->nseries++);
    return s;
}

static int same_labels(const struct metric_family *f, const char *const *labels, size_t n)
{
    if (f->nlabels != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i])) return 0;
    return 1;
}

static int same_buckets(const struct metric_family *f, const double *b, size_t n)
{
    if (f->nbuckets != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (f->buckets[i] != b[i]) return 0;
    return 1;
}

static struct metric_family *do_register(struct metrics_registry *r, enum metric_type type, const char *name,
                                         const char *help, const char *const *labels, size_t nlabels,
                                         const double *buckets, size_t nbuckets, struct err *e)
{
    if (!r || !name || !valid_metric_name(name)) {
        err_set(e, "invalid metric name \"%s\"", name ? name : "(null)");
        return NULL;
    }
    if (nlabels > METRICS_MAX_LABELS) {
        err_set(e, "%s: more than %d labels", name, METRICS_MAX_LABELS);
        return NULL;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(labels[i]) || (type == METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
            err_set(e, "%s: invalid label name \"%s\"", name, labels[i]);
            return NULL;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(labels[i], labels[j])) {
                err_set(e, "%s: label \"%s\" given twice", name, labels[i]);
                return NULL;
            }
        }
    }
    if (type == METRIC_HISTOGRAM) {
        if (nbuckets > 0 && isinf(buckets[nbuckets - 1]) && buckets[nbuckets - 1] > 0) nbuckets--; /* implied */
        if (nbuckets > METRICS_MAX_BUCKETS) {
            err_set(e, "%s: more than %d buckets", name, METRICS_MAX_BUCKETS);
            return NULL;
        }
        for (size_t i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1])) {
                err_set(e, "%s: bucket bounds must be finite and strictly increasing", name);
                return NULL;
            }
        }
    } else {
        nbuckets = 0;
    }
    if (help && (strlen(help) > METRICS_HELP_MAX || !valid_utf8(help))) {
        err_set(e, "%s: help text is not UTF-8 or longer than %d bytes", name, METRICS_HELP_MAX);
        return NULL;
    }
    struct metric_family *f = find_family(r, name);
    if (f) {
        if (f->type != type || !same_labels(f, labels, nlabels) || !same_buckets(f, buckets, nbuckets)) {
            err_set(e, "%s: already registered with a different type, labels or buckets", name);
            return NULL;
        }
        return f;
    }
    if (r->n >= METRICS_MAX_FAMILIES) {
        err_set(e, "%s: registry full (%d families)", name, METRICS_MAX_FAMILIES);
        return NULL;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct metric_family **n = realloc(r->families, cap * sizeof(*n));
        if (!n) goto oom;
        r->families = n;
        r->cap = cap;
    }
    f = calloc(1, sizeof(*f));
    if (!f) goto oom;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->labels = calloc(nlabels ? nlabels : 1, sizeof(char *));
    f->buckets = calloc(nbuckets ? nbuckets : 1, sizeof(double));
    int ok = f->name && f->help && f->labels && f->buckets;
    for (size_t i = 0; ok && i < nlabels; i++, f->nlabels++) ok = (f->labels[i] = strdup(labels[i])) != NULL;
    if (ok && nbuckets) memcpy(f->buckets, buckets, nbuckets * sizeof(double));
    f->nbuckets = nbuckets;
    if (!ok) {
        free_family(f);
        goto oom;
    }
    r->families[r->n++] = f;
    /* A family without labels has exactly one series: show it (as 0) from the start, like client libraries. */
    if (nlabels == 0) get_series(f, NULL);
    return f;
oom:
    err_set(e, "%s: out of memory", name);
    return NULL;
}

static size_t count_labels(const char *const *labels)
{
    size_t n = 0;
    if (labels)
        while (labels[n] && n <= METRICS_MAX_LABELS) n++;
    return n;
}

struct metric_family *metrics_counter(struct metrics_registry *r, const char *name, const char *help,
                                      const char *const *labels, struct err *e)
{
    return do_register(r, METRIC_COUNTER, name, help, labels, count_labels(labels), NULL, 0, e);
}

struct metric_family *metrics_gauge(struct metrics_registry *r, const char *name, const char *help,
                                    const char *const *labels, struct err *e)
{
    return do_register(r, METRIC_GAUGE, name, help, labels, count_labels(labels), NULL, 0, e);
}

struct metric_family *metrics_histogram(struct metrics_registry *r, const char *name, const char *help,
                                        const char *const *labels, const double *buckets, size_t nbuckets,
                                        struct err *e)
{
    return do_register(r, METRIC_HISTOGRAM, name, help, labels, count_labels(labels), buckets, nbuckets, e);
}

/* ---- updates ------------------------------------------------------------------------------------------ */

int metrics_counter_add(struct metric_family *f, const char *const *values, double v)
{
    if (!f || f->type != METRIC_COUNTER || !(v >= 0)) return -1;
    struct series *s = get_series(f, values);
    if (!s) return -1;
    s->value += v;
    return 0;
}

int metrics_counter_inc(struct metric_family *f, const char *const *values) { return metrics_counter_add(f, values, 1); }

int metrics_gauge_set(struct metric_family *f, const char *const *values, double v)
{
    if (!f || f->type != METRIC_GAUGE) return -1;
    struct series *s = get_series(f, values);
    if (!s) return -1;
    s->value = v;
    return 0;
}

int metrics_gauge_add(struct metric_family *f, const char *const *values, double v)
{
    if (!f || f->type != METRIC_GAUGE) return -1;
    struct series *s = get_series(f, values);
    if (!s) return -1;
    s->value += v;
    return 0;
}

int metrics_histogram_observe(struct metric_family *f, const char *const *values, double v)
{
    if (!f || f->type != METRIC_HISTOGRAM || isnan(v)) return -1;
    struct series *s = get_series(f, values);
    if (!s) return -1;
    for (size_t i = 0; i < f->nbuckets; i++)
        if (v <= f->buckets[i]) s->counts[i]++;
    s->count++;
    s->sum += v;
    return 0;
}

void metrics_forget_role(struct metrics_registry *r, const char *role)
{
    for (size_t i = 0; i < r->n; i++) {
        struct metric_family *f = r->families[i];
        size_t k = 0;
        while (k < f->nlabels && strcmp(f->labels[k], "role")) k++;
        if (k == f->nlabels) continue;
        size_t out = 0;
        for (size_t j = 0; j < f->nseries; j++) {
            if (!strcmp(f->series[j].values[k], role)) free_series(f, &f->series[j]);
            else f->series[out++] = f->series[j];
        }
        if (out != f->nseries) {
            f->nseries = out;
            if (index_rebuild(f, out) < 0) { /* cannot index: drop the rest rather than answer wrongly */
                for (size_t j = 0; j < f->nseries; j++) free_series(f, &f->series[j]);
                f->nseries = 0;
                free(f->index);
                f->index = NULL;
                f->index_cap = 0;
            }
        }
    }
}

/* ---- text exposition ---------------------------------------------------------------------------------- */

static void put_escaped(struct buf *b, const char *s, int quotes)
{
    for (; *s; s++) {
        if (*s == '\\') buf_puts(b, "\\\\");
        else if (*s == '\n') buf_puts(b, "\\n");
        else if (quotes && *s == '"') buf_puts(b, "\\\"");
        else buf_putc(b, *s);
    }
}

static void put_labels(struct buf *b, const struct metric_family *f, const struct series *s, const char *le)
{
    if (f->nlabels == 0 && !le) return;
    buf_putc(b, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], 1);
        buf_putc(b, '"');
    }
    if (le) buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    buf_putc(b, '}');
}

static void put_sample(struct buf *b, const struct metric_family *f, const char *suffix, const struct series *s,
                       const char *le, double v)
{
    char num[64];
    metrics_format_double(v, num, sizeof(num));
    buf_printf(b, "%s%s", f->name, suffix);
    put_labels(b, f, s, le);
    buf_printf(b, " %s\n", num);
}

static int cmp_family(const void *a, const void *b)
{
    const struct metric_family *x = *(const struct metric_family *const *)a, *y = *(const struct metric_family *const *)b;
    return strcmp(x->name, y->name);
}

int metrics_write_text(const struct metrics_registry *r, struct buf *out)
{
    if (r->n == 0) return 0;
    const struct metric_family **sorted = malloc(r->n * sizeof(*sorted));
    if (!sorted) return -1;
    memcpy(sorted, r->families, r->n * sizeof(*sorted));
    qsort(sorted, r->n, sizeof(*sorted), cmp_family);
    for (size_t i = 0; i < r->n; i++) {
        const struct metric_family *f = sorted[i];
        if (f->help[0]) {
            buf_printf(out, "# HELP %s ", f->name);
            put_escaped(out, f->help, 0);
            buf_putc(out, '\n');
        }
        buf_printf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
        for (size_t j = 0; j < f->nseries; j++) {
            const struct series *s = &f->series[j];
            if (f->type != METRIC_HISTOGRAM) {
                put_sample(out, f, "", s, NULL, s->value);
                continue;
            }
            for (size_t k = 0; k < f->nbuckets; k++) {
                char le[64];
                metrics_format_double(f->buckets[k], le, sizeof(le));
                put_sample(out, f, "_bucket", s, le, (double)s->counts[k]);
            }
            put_sample(out, f, "_bucket", s, "+Inf", (double)s->count);
            put_sample(out, f, "_sum", s, NULL, s->sum);
            put_sample(out, f, "_count", s, NULL, (double)s->count);
        }
    }
    free(sorted);
    return out->oom ? -1 : 0;
}

/* ---- JSON report -------------------------------------------------------------------------------------- */

static struct json_object *json_number(double v)
{
    char s[64];
    metrics_format_double(v, s, sizeof(s));
    if (!isfinite(v)) return json_object_new_string(s);
    return json_object_new_double_s(v, s);
}

int metrics_to_json(const struct metrics_registry *r, struct json_object **out)
{
    struct json_object *arr = json_object_new_array();
    if (!arr) return -1;
    for (size_t i = 0; i < r->n; i++) {
        const struct metric_family *f = r->families[i];
        struct json_object *o = json_object_new_object(), *labels = json_object_new_array(),
                           *series = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(f->name));
        json_object_object_add(o, "type", json_object_new_string(type_names[f->type]));
        json_object_object_add(o, "help", json_object_new_string(f->help));
        for (size_t k = 0; k < f->nlabels; k++) json_object_array_add(labels, json_object_new_string(f->labels[k]));
        json_object_object_add(o, "labels", labels);
        if (f->type == METRIC_HISTOGRAM) {
            struct json_object *b = json_object_new_array();
            for (size_t k = 0; k < f->nbuckets; k++) json_object_array_add(b, json_number(f->buckets[k]));
            json_object_object_add(o, "buckets", b);
        }
        for (size_t j = 0; j < f->nseries; j++) {
            const struct series *s = &f->series[j];
            struct json_object *so = json_object_new_object(), *vals = json_object_new_array();
            for (size_t k = 0; k < f->nlabels; k++) json_object_array_add(vals, json_object_new_string(s->values[k]));
            json_object_object_add(so, "labels", vals);
            if (f->type == METRIC_HISTOGRAM) {
                struct json_object *c = json_object_new_array();
                for (size_t k = 0; k < f->nbuckets; k++) json_object_array_add(c, json_object_new_int64((int64_t)s->counts[k]));
                json_object_object_add(so, "counts", c);
                json_object_object_add(so, "count", json_object_new_int64((int64_t)s->count));
                json_object_object_add(so, "sum", json_number(s->sum));
            } else {
                json_object_object_add(so, "value", json_number(s->value));
            }
            json_object_array_add(series, so);
        }
        json_object_object_add(o, "series", series);
        json_object_array_add(arr, o);
    }
    *out = arr;
    return 0;
}

static int get_number(const struct json_object *j, double *out)
{
    if (json_object_is_type(j, json_type_double) || json_object_is_type(j, json_type_int)) {
        *out = json_object_get_double(j);
        return 0;
    }
    if (json_object_is_type(j, json_type_string)) {
        const char *s = json_object_get_string((struct json_object *)j);
        if (!strcmp(s, "NaN")) *out = NAN;
        else if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) *out = INFINITY;
        else if (!strcmp(s, "-Inf")) *out = -INFINITY;
        else return -1;
        return 0;
    }
    return -1;
}

/* Exact non-negative integers only: counts above 2^53 cannot be told apart in a double anyway. */
static int get_count(const struct json_object *j, uint64_t *out)
{
    if (!json_object_is_type(j, json_type_int)) return -1;
    int64_t v = json_object_get_int64(j);
    if (v < 0 || v > (INT64_C(1) << 53)) return -1;
    *out = (uint64_t)v;
    return 0;
}

static const struct json_object *member(const struct json_object *o, const char *key, json_type type)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type)) return NULL;
    return v;
}

/* Strings of a JSON array into out (borrowed pointers); -1 when not all strings or too many. */
static int string_array(const struct json_object *a, const char **out, size_t max, size_t *n, size_t maxlen)
{
    size_t len = json_object_array_length(a);
    if (len > max) return -1;
    for (size_t i = 0; i < len; i++) {
        struct json_object *v = json_object_array_get_idx(a, i);
        if (!json_object_is_type(v, json_type_string) || strlen(json_object_get_string(v)) > maxlen) return -1;
        out[i] = json_object_get_string(v);
    }
    *n = len;
    return 0;
}

static int merge_series(struct metric_family *f, const struct json_object *so, const char *role, struct err *e)
{
    const char *values[METRICS_MAX_LABELS + 1];
    size_t n = 0;
    const struct json_object *vals = member(so, "labels", json_type_array);
    if (!vals || string_array(vals, values, METRICS_MAX_LABELS, &n, METRICS_VALUE_MAX) < 0 || n + 1 != f->nlabels)
        return err_set(e, "%s: a series needs \"labels\": one string per label name", f->name);
    values[n] = role;
    if (f->type != METRIC_HISTOGRAM) {
        double v;
        struct json_object *jv = NULL;
        if (!json_object_object_get_ex(so, "value", &jv) || get_number(jv, &v) < 0)
            return err_set(e, "%s: a series needs a numeric \"value\"", f->name);
        if (f->type == METRIC_COUNTER && !(v >= 0)) return err_set(e, "%s: a counter cannot be negative", f->name);
        struct series *s = get_series(f, values);
        if (!s) return err_set(e, "%s: label values not UTF-8, or too many series (at most %d)", f->name, METRICS_MAX_SERIES);
        s->value = v;
        return 0;
    }
    uint64_t counts[METRICS_MAX_BUCKETS], count;
    double sum;
    const struct json_object *c = member(so, "counts", json_type_array);
    struct json_object *jc = NULL, *js = NULL;
    if (!c || json_object_array_length(c) != f->nbuckets)
        return err_set(e, "%s: \"counts\" needs one count per bucket (%zu)", f->name, f->nbuckets);
    for (size_t k = 0; k < f->nbuckets; k++) {
        if (get_count(json_object_array_get_idx(c, k), &counts[k]) < 0 || (k && counts[k] < counts[k - 1]))
            return err_set(e, "%s: bucket counts must be cumulative non-negative integers", f->name);
    }
    if (!json_object_object_get_ex(so, "count", &jc) || get_count(jc, &count) < 0 ||
        (f->nbuckets && count < counts[f->nbuckets - 1]))
        return err_set(e, "%s: \"count\" must be an integer at least the last bucket's count", f->name);
    if (!json_object_object_get_ex(so, "sum", &js) || get_number(js, &sum) < 0)
        return err_set(e, "%s: a histogram series needs a numeric \"sum\"", f->name);
    struct series *s = get_series(f, values);
    if (!s) return err_set(e, "%s: label values not UTF-8, or too many series (at most %d)", f->name, METRICS_MAX_SERIES);
    memcpy(s->counts, counts, f->nbuckets * sizeof(uint64_t));
    s->count = count;
    s->sum = sum;
    return 0;
}

static int merge_family(struct metrics_registry *r, const struct json_object *fo, const char *role, struct err *e)
{
    if (!json_object_is_type(fo, json_type_object)) return err_set(e, "a metric family must be an object");
    const struct json_object *jn = member(fo, "name", json_type_string), *jt = member(fo, "type", json_type_string),
                             *jh = member(fo, "help", json_type_string), *jl = member(fo, "labels", json_type_array),
                             *js = member(fo, "series", json_type_array);
    if (!jn || !jt) return err_set(e, "a metric family needs \"name\" and \"type\" strings");
    const char *name = json_object_get_string((struct json_object *)jn);
    const char *tname = json_object_get_string((struct json_object *)jt);
    int type = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(tname, type_names[i])) type = i;
    if (type < 0) return err_set(e, "%.128s: unknown type \"%.32s\"", name, tname);
    const char *labels[METRICS_MAX_LABELS + 1];
    size_t n = 0;
    if (jl && string_array(jl, labels, METRICS_MAX_LABELS - 1, &n, METRICS_NAME_MAX) < 0)
        return err_set(e, "%.128s: \"labels\" must be at most %d label names", name, METRICS_MAX_LABELS - 1);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(labels[i], "role")) return err_set(e, "%.128s: the label \"role\" is added by the merge", name);
    labels[n++] = "role";
    double buckets[METRICS_MAX_BUCKETS];
    size_t nb = 0;
    if (type == METRIC_HISTOGRAM) {
        const struct json_object *jb = member(fo, "buckets", json_type_array);
        if (!jb || json_object_array_length(jb) > METRICS_MAX_BUCKETS)
            return err_set(e, "%.128s: a histogram needs \"buckets\" (at most %d)", name, METRICS_MAX_BUCKETS);
        for (nb = 0; nb < json_object_array_length(jb); nb++)
            if (get_number(json_object_array_get_idx(jb, nb), &buckets[nb]) < 0)
                return err_set(e, "%.128s: bucket bounds must be numbers", name);
    }
    struct metric_family *f = do_register(r, (enum metric_type)type, name,
                                          jh ? json_object_get_string((struct json_object *)jh) : "", labels, n,
                                          buckets, nb, e);
    if (!f) return -1;
    if (!js) return 0;
    int rc = 0;
    for (size_t i = 0; i < json_object_array_length(js); i++) {
        struct err tmp;
        memset(&tmp, 0, sizeof(tmp));
        if (merge_series(f, json_object_array_get_idx(js, i), role, &tmp) < 0 && rc == 0) {
            if (e) *e = tmp;
            rc = -1;
        }
    }
    return rc;
}

int metrics_merge_json(struct metrics_registry *r, const struct json_object *metrics, const char *role,
                       struct err *e)
{
    if (!role || !*role || strlen(role) > METRICS_VALUE_MAX) return err_set(e, "invalid role");
    if (!json_object_is_type(metrics, json_type_array)) return err_set(e, "\"metrics\" must be an array");
    int rc = 0;
    for (size_t i = 0; i < json_object_array_length(metrics); i++) {
        struct err tmp;
        memset(&tmp, 0, sizeof(tmp));
        if (merge_family(r, json_object_array_get_idx(metrics, i), role, &tmp) < 0 && rc == 0) {
            if (e) *e = tmp;
            rc = -1;
        }
    }
    return rc;
}
