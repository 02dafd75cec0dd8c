/* Reads: get, list (selectors, limit/continue served from one snapshot, resourceVersion rules) and
 * deletecollection. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "tests/kube-sim/api_internal.h"

/* ---- list ---- */

#define MAX_LIST_LIMIT 100000 /* larger limits are served as this many per page */

struct list_opts {
    struct sim_selector labels, fields;
    uint64_t limit;
    char cont[1024];
    uint64_t rv;       /* snapshot revision */
    char start[2 * SIM_MAX_NAME + 4];
    int has_selector;
};

static void b64url(const char *in, size_t n, struct buf *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        buf_putc(out, t[(v >> 18) & 63]);
        buf_putc(out, t[(v >> 12) & 63]);
        if (i + 1 < n) buf_putc(out, t[(v >> 6) & 63]);
        if (i + 2 < n) buf_putc(out, t[v & 63]);
    }
}

static int unb64url(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *f = strchr(t, *p);
        if (!f) return -1;
        v = (v << 6) | (unsigned)(f - t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen) return -1;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return 0;
}

static void make_continue(uint64_t rv, const char *start, struct buf *out)
{
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "v", json_object_new_string("meta.k8s.io/v1"));
    json_object_object_add(c, "rv", json_object_new_int64((int64_t)rv));
    json_object_object_add(c, "start", json_object_new_string(start));
    const char *s = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN);
    b64url(s, strlen(s), out);
    json_object_put(c);
}

static void send_list_opts_invalid(struct http_request *req, const char *field, const char *cause_reason,
                                   const char *cause)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "ListOptions.meta.k8s.io \"\" is invalid: %s: %s", field, cause);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "group", json_object_new_string("meta.k8s.io"));
    json_object_object_add(d, "kind", json_object_new_string("ListOptions"));
    struct json_object *causes = json_object_new_array(), *c = json_object_new_object();
    json_object_object_add(c, "reason", json_object_new_string(cause_reason));
    json_object_object_add(c, "message", json_object_new_string(cause));
    json_object_object_add(c, "field", json_object_new_string(field));
    json_object_array_add(causes, c);
    json_object_object_add(d, "causes", causes);
    sim_send_status(req, 422, "Invalid", msg, d);
}

/* Parses selectors; -1 when answered. */
int sim_parse_selectors(struct http_request *req, const struct sim_resource *r, struct sim_selector *labels,
                           struct sim_selector *fields)
{
    char ls[4096], fs[4096], err[600];
    memset(labels, 0, sizeof(*labels));
    memset(fields, 0, sizeof(*fields));
    if (sim_qget(req->query, "labelSelector", ls, sizeof(ls)) < 0 || sim_qget(req->query, "fieldSelector", fs, sizeof(fs)) < 0) {
        sim_send_bad_request(req, "invalid selector: too long or badly encoded");
        return -1;
    }
    if (sim_label_selector_parse(ls, labels, err, sizeof(err)) < 0) {
        sim_send_bad_request(req, err); /* "unable to parse requirement: ..." */
        return -1;
    }
    if (sim_field_selector_parse(fs, r, fields, err, sizeof(err)) < 0) {
        sim_selector_free(labels);
        sim_send_bad_request(req, err);
        return -1;
    }
    return 0;
}

void sim_handle_list(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    const struct sim_resource *r = t->r;
    struct list_opts lo;
    memset(&lo, 0, sizeof(lo));
    char rvs[64], match[32], limit[32];
    sim_qget(req->query, "resourceVersion", rvs, sizeof(rvs));
    sim_qget(req->query, "resourceVersionMatch", match, sizeof(match));
    sim_qget(req->query, "limit", limit, sizeof(limit));
    int has_cont = sim_qget(req->query, "continue", lo.cont, sizeof(lo.cont)) == 1 && lo.cont[0];
    if (http_query_get(req->query, "sendInitialEvents", (char[8]){0}, 8) == 1) {
        send_list_opts_invalid(req, "sendInitialEvents", "FieldValueForbidden",
                               "Forbidden: sendInitialEvents is forbidden for list");
        return;
    }
    if (match[0] && !rvs[0]) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
        return;
    }
    if (match[0] && has_cont) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden when continue is provided");
        return;
    }
    if (match[0] && strcmp(match, "Exact") && strcmp(match, "NotOlderThan")) {
        char c[200];
        snprintf(c, sizeof(c), "Unsupported value: \"%s\": supported values: \"Exact\", \"NotOlderThan\"", match);
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueNotSupported", c);
        return;
    }
    uint64_t want = 0;
    if (rvs[0] && sim_parse_rv(rvs, &want) < 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid resource version: %s", rvs);
        sim_send_bad_request(req, msg);
        return;
    }
    if (strcmp(match, "Exact") == 0 && want == 0) {
        send_list_opts_invalid(req, "resourceVersionMatch", "FieldValueForbidden",
                               "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        return;
    }
    if (limit[0]) {
        char *end;
        lo.limit = strtoull(limit, &end, 10);
        if (*end) lo.limit = 0;
        if (lo.limit > MAX_LIST_LIMIT) lo.limit = MAX_LIST_LIMIT;
    }
    lo.rv = sim->store.rv;
    if (has_cont) {
        if (rvs[0] && want != 0) {
            sim_send_bad_request(req, "specifying resource version is not allowed when using continue");
            return;
        }
        char dec[1100];
        struct json_object *c = NULL, *v;
        if (unb64url(lo.cont, dec, sizeof(dec)) < 0 || !(c = json_tokener_parse(dec)) ||
            !json_object_object_get_ex(c, "rv", &v) || !json_object_object_get_ex(c, "start", &v)) {
            json_object_put(c);
            sim_send_bad_request(req, "invalid continue token: continue key is not valid: illegal base64 data");
            return;
        }
        json_object_object_get_ex(c, "rv", &v);
        lo.rv = (uint64_t)json_object_get_int64(v);
        json_object_object_get_ex(c, "start", &v);
        snprintf(lo.start, sizeof(lo.start), "%s", json_object_get_string(v));
        json_object_put(c);
        if (lo.rv < sim->store.hist_floor) {
            struct buf tok;
            buf_init(&tok);
            make_continue(sim->store.rv, lo.start, &tok);
            struct json_object *st = json_object_new_object();
            json_object_object_add(st, "kind", json_object_new_string("Status"));
            json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
            struct json_object *m = json_object_new_object();
            json_object_object_add(m, "continue", json_object_new_string(buf_cstr(&tok)));
            json_object_object_add(st, "metadata", m);
            json_object_object_add(st, "status", json_object_new_string("Failure"));
            json_object_object_add(st, "message", json_object_new_string(
                "The provided continue parameter is too old to display a consistent list result. You can start a new "
                "list without the continue parameter, or use the continue token in this response to retrieve the "
                "remainder of the results. Continuing with the provided token results in an inconsistent list - "
                "objects that were created, modified, or deleted between the time the first chunk was returned and "
                "now may show up in the list."));
            json_object_object_add(st, "reason", json_object_new_string("Expired"));
            json_object_object_add(st, "code", json_object_new_int(410));
            size_t len;
            const char *s = json_object_to_json_string_length(st, JSON_C_TO_STRING_PLAIN, &len);
            sim_send_json(req, 410, s, len);
            json_object_put(st);
            buf_free(&tok);
            return;
        }
    } else if (rvs[0] && want != 0) {
        int exact = strcmp(match, "Exact") == 0 || (!match[0] && lo.limit > 0);
        if (want > sim->store.rv) {
            char msg[200];
            snprintf(msg, sizeof(msg), "Timeout: Too large resource version: %llu, current: %llu",
                     (unsigned long long)want, (unsigned long long)sim->store.rv);
            struct json_object *d = json_object_new_object(), *causes = json_object_new_array(),
                               *c = json_object_new_object();
            json_object_object_add(c, "reason", json_object_new_string("ResourceVersionTooLarge"));
            json_object_object_add(c, "message", json_object_new_string("Too large resource version"));
            json_object_array_add(causes, c);
            json_object_object_add(d, "causes", causes);
            json_object_object_add(d, "retryAfterSeconds", json_object_new_int(1));
            sim_send_status(req, 504, "Timeout", msg, d);
            return;
        }
        if (exact) {
            if (want < sim->store.hist_floor) {
                sim_send_status(req, 410, "Expired", "The resourceVersion for the provided list is too old.", NULL);
                return;
            }
            lo.rv = want;
        }
    }
    if (sim_parse_selectors(req, r, &lo.labels, &lo.fields) < 0) return;
    lo.has_selector = lo.labels.n || lo.fields.n;
    size_t n;
    int gone;
    struct sim_obj **items = sim_store_snapshot(&sim->store, r, t->ns, lo.rv, &n, &gone);
    if (gone) {
        sim_selector_free(&lo.labels);
        sim_selector_free(&lo.fields);
        sim_send_status(req, 410, "Expired", "The resourceVersion for the provided list is too old.", NULL);
        return;
    }
    struct buf b;
    buf_init(&b);
    char av[128];
    sim_resource_api_version(r, av, sizeof(av));
    buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"", r->list_kind,
               av, (unsigned long long)lo.rv);
    struct buf body;
    buf_init(&body);
    buf_puts(&body, "},\"items\":[");
    size_t count = 0, i = 0;
    for (i = 0; i < n; i++) {
        if (lo.start[0] && strcmp(items[i]->key, lo.start) < 0) continue;
        if (!sim_label_selector_match(&lo.labels, items[i]) || !sim_field_selector_match(&lo.fields, items[i])) continue;
        if (lo.limit && count == lo.limit) break;
        if (count) buf_putc(&body, ',');
        buf_append(&body, items[i]->json, items[i]->len);
        count++;
    }
    buf_puts(&body, "]}");
    if (i < n) {
        /* more remain: continue at the next matching key */
        size_t remaining = 0;
        const char *next = NULL;
        for (size_t j = i; j < n; j++) {
            if (!sim_label_selector_match(&lo.labels, items[j]) || !sim_field_selector_match(&lo.fields, items[j]))
                continue;
            if (!next) next = items[j]->key;
            remaining++;
        }
        if (next) {
            buf_puts(&b, ",\"continue\":\"");
            make_continue(lo.rv, next, &b);
            buf_putc(&b, '"');
            if (!lo.has_selector) buf_printf(&b, ",\"remainingItemCount\":%zu", remaining);
        }
    }
    buf_append(&b, body.data, body.len);
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
    buf_free(&body);
    for (size_t k = 0; k < n; k++) sim_obj_unref(items[k]);
    free(items);
    sim_selector_free(&lo.labels);
    sim_selector_free(&lo.fields);
}

void sim_handle_get(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    struct sim_obj *o = sim_store_get(&sim->store, t->r, t->ns, t->name);
    if (!o) sim_send_not_found(req, t->r, t->name);
    else sim_send_obj(req, 200, o);
}

void sim_handle_delete_collection(struct sim *sim, struct http_request *req, const struct sim_target *t)
{
    struct sim_selector labels, fields;
    if (sim_parse_selectors(req, t->r, &labels, &fields) < 0) return;
    size_t from, to;
    sim_store_range(&sim->store, t->r, t->ns, &from, &to);
    struct sim_table *tab = &sim->store.tables[t->r - sim_resources];
    size_t cnt = 0;
    struct sim_obj **victims = malloc((to - from + 1) * sizeof(*victims));
    if (!victims) abort();
    for (size_t i = from; i < to; i++)
        if (sim_label_selector_match(&labels, tab->items[i]) && sim_field_selector_match(&fields, tab->items[i]))
            victims[cnt++] = sim_obj_ref(tab->items[i]);
    struct buf b;
    buf_init(&b);
    char av[128];
    sim_resource_api_version(t->r, av, sizeof(av));
    buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{},\"items\":[", t->r->list_kind, av);
    for (size_t i = 0; i < cnt; i++) {
        if (i) buf_putc(&b, ',');
        buf_append(&b, victims[i]->json, victims[i]->len);
        if (!sim_dry_run(req)) sim_delete_one(sim, req, victims[i], "deletecollection");
        sim_obj_unref(victims[i]);
    }
    free(victims);
    buf_puts(&b, "]}");
    sim_send_json(req, 200, buf_cstr(&b), b.len);
    buf_free(&b);
    sim_selector_free(&labels);
    sim_selector_free(&fields);
}
