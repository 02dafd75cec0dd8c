/* The generic config walker: turns a libyaml document into the structs described by the schema tables
 * (config_schema.h), applying defaults, reporting every problem with file, YAML path, line and column, and
 * calling each struct's finish hook for environment defaults and cross-field rules. Also frees what it built.
 * It knows no section by name; the tables do. Free-form parts (fixtures, extra context) go to json-c here. */
#include "common/config/config_parse.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/duration.h"

_Static_assert(sizeof(enum log_level) == sizeof(int), "enum fields are stored as int");

/* Most keys any one struct may have; the tables are ours, so exceeding it is a programming error. */
#define CFG_MAX_FIELDS 32

/* A sequence or mapping stored as {T *items; size_t len}. Accessed through memcpy so no aliasing rule is
 * bent by treating every T * as void *. */
static void vec_get(const void *p, void **items, size_t *len)
{
    memcpy(items, p, sizeof(*items));
    memcpy(len, (const char *)p + sizeof(void *), sizeof(*len));
}

static void vec_set(void *p, void *items, size_t len)
{
    memcpy(p, &items, sizeof(items));
    memcpy((char *)p + sizeof(void *), &len, sizeof(len));
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* ---- paths and marks ---------------------------------------------------------------------------------- */

/* Paths longer than ERR_WHERE_MAX are cut; an error's position still points at the right line. */
__attribute__((format(printf, 3, 4)))
static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static int is_simple_key(const char *k)
{
    if (!*k) return 0;
    for (const char *p = k; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Text from the input as shown in a message: quotes, backslashes and control characters escaped (a key
 * with a newline must not split the error line), cut after SHOWN_MAX bytes. */
#define SHOWN_MAX 200
static const char *shown_len(const char *s, size_t len, char *out, size_t n)
{
    size_t k = 0, i = 0;
    for (; i < len && i < SHOWN_MAX && k + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') k += (size_t)snprintf(out + k, n - k, "\\n");
        else if (c == '\t') k += (size_t)snprintf(out + k, n - k, "\\t");
        else if (c == '"' || c == '\\') k += (size_t)snprintf(out + k, n - k, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    if (i < len && k + 4 < n) k += (size_t)snprintf(out + k, n - k, "...");
    out[k] = '\0';
    return out;
}

static const char *shown(const char *s, char *out, size_t n) { return shown_len(s, strlen(s), out, n); }

void cfg_path_key(char *out, size_t n, const char *parent, const char *key)
{
    char q[4 * SHOWN_MAX + 8];
    if (!is_simple_key(key)) key = shown(key, q, sizeof(q));
    if (!parent || !*parent) path_fmt(out, n, is_simple_key(key) ? "%s" : "[\"%s\"]", key);
    else if (is_simple_key(key)) path_fmt(out, n, "%s.%s", parent, key);
    else path_fmt(out, n, "%s[\"%s\"]", parent, key);
}

static void path_index(char *out, size_t n, const char *parent, size_t i)
{
    path_fmt(out, n, "%s[%zu]", parent, i);
}

static struct cfg_mark *mark_find(struct cfg_parse *pc, const char *path)
{
    for (size_t i = pc->nmarks; i-- > 0;)
        if (strcmp(pc->marks[i].path, path) == 0) return &pc->marks[i];
    return NULL;
}

__attribute__((format(printf, 4, 5)))
static void perr(struct cfg_parse *pc, const char *path, const yaml_node_t *node, const char *fmt, ...);

static void mark_add(struct cfg_parse *pc, const char *path, const yaml_node_t *node)
{
    if (pc->nmarks == pc->capmarks) {
        size_t cap = pc->capmarks ? pc->capmarks * 2 : 64;
        struct cfg_mark *m = realloc(pc->marks, cap * sizeof(*m));
        if (!m) {
            perr(pc, path, node, "out of memory");
            return;
        }
        pc->marks = m;
        pc->capmarks = cap;
    }
    struct cfg_mark *m = &pc->marks[pc->nmarks];
    m->path = strdup(path);
    if (!m->path) {
        perr(pc, path, node, "out of memory");
        return;
    }
    m->line = node ? (int)node->start_mark.line + 1 : 0;
    m->column = node ? (int)node->start_mark.column + 1 : 0;
    m->failed = 0;
    pc->nmarks++;
}

/* Whether a bound on the whole document was passed, after which walking on only repeats the error. */
static int budget_spent(const struct cfg_parse *pc)
{
    return pc->json_nodes > CONFIG_MAX_JSON_NODES || pc->bytes > CONFIG_MAX_EXPANDED_BYTES;
}

static void perr_at(struct cfg_parse *pc, const char *path, int line, int col, const char *fmt, va_list ap)
{
    struct cfg_mark *m = mark_find(pc, path);
    if (m) m->failed = 1;
    if (++pc->nerrors > CONFIG_MAX_ERRORS) {
        if (pc->nerrors == CONFIG_MAX_ERRORS + 1)
            err_list_add(pc->errs, pc->file, "", 0, 0, "more than %d problems; the rest are not listed",
                         CONFIG_MAX_ERRORS);
        return;
    }
    if (budget_spent(pc) && pc->budget_reported) return; /* what follows is a consequence */
    pc->budget_reported = budget_spent(pc);
    char msg[ERR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    err_list_add(pc->errs, pc->file, path, line, col, "%s", msg);
}

/* An error about the node at path (node may be NULL when the key is absent). */
__attribute__((format(printf, 4, 5)))
static void perr(struct cfg_parse *pc, const char *path, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    perr_at(pc, path, node ? (int)node->start_mark.line + 1 : 0, node ? (int)node->start_mark.column + 1 : 0,
            fmt, ap);
    va_end(ap);
}

/* Counts len bytes of string copied from the document (aliases copy theirs again each time they are used).
 * Returns 0, or -1 once the total passes CONFIG_MAX_EXPANDED_BYTES (reported the first time). */
static int take_bytes(struct cfg_parse *pc, const char *path, const yaml_node_t *n, size_t len)
{
    if (pc->bytes <= CONFIG_MAX_EXPANDED_BYTES && len <= CONFIG_MAX_EXPANDED_BYTES - pc->bytes) {
        pc->bytes += len;
        return 0;
    }
    if (pc->bytes <= CONFIG_MAX_EXPANDED_BYTES)
        perr(pc, path, n, "more than %d bytes of strings once aliases are expanded", CONFIG_MAX_EXPANDED_BYTES);
    pc->bytes = (size_t)CONFIG_MAX_EXPANDED_BYTES + 1;
    return -1;
}

/* Keys are C strings from here on: one holding NUL would be cut at it ("a\0b" read as "a"). */
static int key_ok(struct cfg_parse *pc, const char *path, const yaml_node_t *k)
{
    if (strlen(scalar(k)) != k->data.scalar.length) {
        perr(pc, path, k, "keys must not contain NUL characters");
        return 0;
    }
    return 1;
}

/* A key that is copied (free-form keys, entry names, labels) also counts against the byte bound. */
static int key_copied_ok(struct cfg_parse *pc, const char *path, const yaml_node_t *k)
{
    return key_ok(pc, path, k) && take_bytes(pc, path, k, k->data.scalar.length) == 0;
}

void cfg_error(struct cfg_check *ck, const char *key, const char *fmt, ...)
{
    char path[ERR_WHERE_MAX];
    if (!key) snprintf(path, sizeof(path), "%s", ck->path);
    else if (strpbrk(key, ".[")) path_fmt(path, sizeof(path), "%s%s%s", ck->path, *ck->path ? "." : "", key);
    else cfg_path_key(path, sizeof(path), ck->path, key);
    /* The value's own position if it was given, else the nearest enclosing one that was. */
    char probe[ERR_WHERE_MAX];
    path_fmt(probe, sizeof(probe), "%s", path);
    struct cfg_mark *m = NULL;
    for (;;) {
        m = mark_find(ck->pc, probe);
        if (m || !probe[0]) break;
        char *dot = strrchr(probe, '.'), *br = strrchr(probe, '[');
        char *cut = dot > br ? dot : br;
        if (!cut) probe[0] = '\0';
        else *cut = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    perr_at(ck->pc, path, m ? m->line : 0, m ? m->column : 0, fmt, ap);
    va_end(ap);
}

int cfg_failed(struct cfg_check *ck, const char *key)
{
    char path[ERR_WHERE_MAX];
    if (strpbrk(key, ".[")) path_fmt(path, sizeof(path), "%s%s%s", ck->path, *ck->path ? "." : "", key);
    else cfg_path_key(path, sizeof(path), ck->path, key);
    struct cfg_mark *m = mark_find(ck->pc, path);
    return m && m->failed;
}

int cfg_given(struct cfg_check *ck, const char *key)
{
    char path[ERR_WHERE_MAX];
    cfg_path_key(path, sizeof(path), ck->path, key);
    return mark_find(ck->pc, path) != NULL;
}

/* ---- scalars ------------------------------------------------------------------------------------------ */

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_SCALAR_NODE:
        return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a scalar" : "a quoted string";
    default: return "nothing";
    }
}

/* The path of a key node, whole even when the key holds NUL (shown escaped). */
static void key_path(char *out, size_t n, const char *parent, const yaml_node_t *k)
{
    if (strlen(scalar(k)) == k->data.scalar.length) {
        cfg_path_key(out, n, parent, scalar(k));
        return;
    }
    char q[4 * SHOWN_MAX + 8];
    shown_len(scalar(k), k->data.scalar.length, q, sizeof(q));
    path_fmt(out, n, "%s[\"%s\"]", parent ? parent : "", q);
}

static int is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_null(const yaml_node_t *n)
{
    if (!is_plain(n)) return 0;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int parse_bool_text(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) *out = false;
    else return -1;
    return 0;
}

static int parse_int_text(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int bounded(const struct cfg_field *f) { return f->min != 0 || f->max != 0; }

static const char *type_name(const struct cfg_field *f)
{
    switch (f->type) {
    case CFG_BOOL: return "true or false";
    case CFG_INT: return "an integer";
    case CFG_STRING: return "a string";
    case CFG_DURATION: return "a duration such as 500ms, 15s or 1m30s";
    case CFG_ENUM: return "one of the listed names";
    case CFG_STRINGS: return "a sequence of strings";
    case CFG_SELECTOR: return "a label selector (\"k=v,k2=v2\" or a mapping of labels)";
    case CFG_SECTION: return "a mapping";
    case CFG_MAP: return "a mapping of names to entries";
    case CFG_LIST: return "a sequence";
    case CFG_JSON: return "any YAML value";
    case CFG_REFUSED: return "nothing";
    }
    return "?";
}

static void enum_names(const struct cfg_field *f, char *out, size_t n)
{
    size_t k = 0;
    out[0] = '\0';
    for (const struct cfg_enum *e = f->enums; e->name && k < n; e++)
        k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "", e->name);
}

/* Sets a scalar field from text. quoted: the YAML scalar was quoted (so it is a string, not a bool/int).
 * Returns 0, or -1 with a message in why (a buffer of ERR_MSG_MAX). */
static int set_scalar(const struct cfg_field *f, void *p, const char *s, int quoted, char *why)
{
    char q[4 * SHOWN_MAX + 8];
    const char *sh = shown(s, q, sizeof(q));
    switch (f->type) {
    case CFG_BOOL: {
        bool v;
        if (quoted || parse_bool_text(s, &v) < 0) {
            if (!quoted && (!strcasecmp(s, "yes") || !strcasecmp(s, "no") || !strcasecmp(s, "on") ||
                            !strcasecmp(s, "off")))
                snprintf(why, ERR_MSG_MAX, "expected true or false, got \"%s\" (yes/no/on/off are not booleans here)", sh);
            else
                snprintf(why, ERR_MSG_MAX, "expected true or false, got %s\"%s\"", quoted ? "the string " : "", sh);
            return -1;
        }
        *(bool *)p = v;
        return 0;
    }
    case CFG_INT: {
        long long v;
        if (quoted || parse_int_text(s, &v) < 0) {
            snprintf(why, ERR_MSG_MAX, "expected an integer, got %s\"%s\"", quoted ? "the string " : "", sh);
            return -1;
        }
        if ((bounded(f) && (v < f->min || v > f->max)) || v < INT32_MIN || v > INT32_MAX) {
            snprintf(why, ERR_MSG_MAX, "%lld is out of range (%lld to %lld)", v,
                     bounded(f) ? (long long)f->min : (long long)INT32_MIN,
                     bounded(f) ? (long long)f->max : (long long)INT32_MAX);
            return -1;
        }
        *(int *)p = (int)v;
        return 0;
    }
    case CFG_DURATION: {
        int64_t ms;
        const char *reason = NULL;
        if (duration_parse_ms(s, &ms, &reason) < 0) {
            snprintf(why, ERR_MSG_MAX, "invalid duration \"%s\": %s", sh, reason);
            return -1;
        }
        if (bounded(f) && (ms < f->min || ms > f->max)) {
            char lo[32], hi[32];
            duration_format_ms(f->min, lo, sizeof(lo));
            duration_format_ms(f->max, hi, sizeof(hi));
            snprintf(why, ERR_MSG_MAX, "%s is out of range (%s to %s)", sh, lo, hi);
            return -1;
        }
        *(int64_t *)p = ms;
        return 0;
    }
    case CFG_ENUM:
        for (const struct cfg_enum *e = f->enums; e->name; e++) {
            if (!strcmp(e->name, s)) {
                *(int *)p = e->value;
                return 0;
            }
        }
        {
            char names[256];
            enum_names(f, names, sizeof(names));
            snprintf(why, ERR_MSG_MAX, "\"%s\" is not one of: %s", sh, names);
        }
        return -1;
    case CFG_STRING:
    case CFG_SELECTOR: {
        if ((f->flags & CFG_F_NONEMPTY) && !*s) {
            snprintf(why, ERR_MSG_MAX, "must not be empty");
            return -1;
        }
        const char *reason = NULL;
        if (f->check && *s && f->check(s, &reason) < 0) {
            snprintf(why, ERR_MSG_MAX, "\"%s\" %s", sh, reason);
            return -1;
        }
        char *d = strdup(s);
        if (!d) {
            snprintf(why, ERR_MSG_MAX, "out of memory");
            return -1;
        }
        free(*(char **)p);
        *(char **)p = d;
        return 0;
    }
    default:
        snprintf(why, ERR_MSG_MAX, "expected %s", type_name(f));
        return -1;
    }
}

/* ---- free-form YAML to json-c ------------------------------------------------------------------------- */

static int looks_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) return 1;
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) return 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0';
}

static struct json_object *scalar_to_json(const yaml_node_t *n)
{
    const char *s = scalar(n);
    size_t len = n->data.scalar.length;
    if (!is_plain(n)) return json_object_new_string_len(s, (int)len);
    if (is_null(n)) return NULL;
    bool b;
    if (parse_bool_text(s, &b) == 0) return json_object_new_boolean(b);
    long long v;
    if (parse_int_text(s, &v) == 0) return json_object_new_int64(v);
    if (looks_float(s)) {
        const char *p = s + (*s == '+' || *s == '-');
        double d = (*p == '.' && (p[1] == 'i' || p[1] == 'I')) ? (*s == '-' ? -INFINITY : INFINITY)
                   : (*p == '.' && (p[1] == 'n' || p[1] == 'N')) ? NAN
                                                                  : strtod(s, NULL);
        return json_object_new_double(d);
    }
    return json_object_new_string_len(s, (int)len);
}

/* Returns 0 and the value (NULL is JSON null) or -1 after reporting. */
static int yaml_to_json(struct cfg_parse *pc, yaml_node_t *n, const char *path, int depth, struct json_object **out)
{
    *out = NULL;
    if (depth > CONFIG_MAX_DEPTH) {
        perr(pc, path, n, "nested deeper than %d levels (or an alias refers to itself)", CONFIG_MAX_DEPTH);
        return -1;
    }
    if (++pc->json_nodes > CONFIG_MAX_JSON_NODES) {
        if (pc->json_nodes == CONFIG_MAX_JSON_NODES + 1)
            perr(pc, path, n, "more than %d values once aliases are expanded", CONFIG_MAX_JSON_NODES);
        return -1;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        if (strlen(scalar(n)) != n->data.scalar.length) {
            perr(pc, path, n, "strings must not contain NUL characters");
            return -1;
        }
        if (take_bytes(pc, path, n, n->data.scalar.length) < 0) return -1;
        *out = scalar_to_json(n);
        if (!*out && !is_null(n)) {
            perr(pc, path, n, "out of memory");
            return -1;
        }
        return 0;
    case YAML_SEQUENCE_NODE: {
        struct json_object *a = json_object_new_array();
        size_t i = 0;
        int rc = 0;
        if (!a) {
            perr(pc, path, n, "out of memory");
            return -1;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
            char sub[ERR_WHERE_MAX];
            path_index(sub, sizeof(sub), path, i);
            struct json_object *v;
            if (yaml_to_json(pc, yaml_document_get_node(pc->doc, *it), sub, depth + 1, &v) < 0) {
                rc = -1;
                if (budget_spent(pc)) break;
                continue;
            }
            if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                perr(pc, sub, n, "out of memory");
                rc = -1;
                break;
            }
        }
        if (rc < 0) json_object_put(a);
        else *out = a;
        return rc;
    }
    case YAML_MAPPING_NODE: {
        struct json_object *o = json_object_new_object();
        int rc = 0;
        if (!o) {
            perr(pc, path, n, "out of memory");
            return -1;
        }
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(pc->doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(pc->doc, pr->value);
            if (k->type != YAML_SCALAR_NODE) {
                perr(pc, path, k, "mapping keys must be strings, got %s", node_kind(k));
                rc = -1;
                continue;
            }
            if (is_plain(k) && !strcmp(scalar(k), "<<")) continue; /* merged below */
            char sub[ERR_WHERE_MAX];
            key_path(sub, sizeof(sub), path, k);
            if (!key_copied_ok(pc, sub, k)) {
                rc = -1;
                if (budget_spent(pc)) break;
                continue;
            }
            if (json_object_object_get_ex(o, scalar(k), NULL)) {
                perr(pc, sub, k, "duplicate key");
                rc = -1;
                continue;
            }
            struct json_object *jv;
            if (yaml_to_json(pc, v, sub, depth + 1, &jv) < 0) {
                rc = -1;
                if (budget_spent(pc)) break;
                continue;
            }
            if (json_object_object_add(o, scalar(k), jv) < 0) {
                json_object_put(jv);
                perr(pc, sub, k, "out of memory");
                rc = -1;
                break;
            }
        }
        /* YAML merge keys: the merged mappings' keys fill what is not given explicitly, first one wins. */
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; rc == 0 && pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(pc->doc, pr->key);
            if (!(is_plain(k) && !strcmp(scalar(k), "<<"))) continue;
            struct json_object *m;
            if (yaml_to_json(pc, yaml_document_get_node(pc->doc, pr->value), path, depth + 1, &m) < 0) {
                rc = -1;
                break;
            }
            size_t nsrc = json_object_is_type(m, json_type_array) ? json_object_array_length(m) : 1;
            for (size_t j = 0; rc == 0 && j < nsrc; j++) {
                struct json_object *src = json_object_is_type(m, json_type_array) ? json_object_array_get_idx(m, j) : m;
                if (!json_object_is_type(src, json_type_object)) {
                    perr(pc, path, k, "<< must merge a mapping or a sequence of mappings");
                    rc = -1;
                    break;
                }
                json_object_object_foreach(src, mk, mv) {
                    if (json_object_object_get_ex(o, mk, NULL)) continue;
                    if (json_object_object_add(o, mk, json_object_get(mv)) < 0) {
                        json_object_put(mv);
                        perr(pc, path, k, "out of memory");
                        rc = -1;
                        break;
                    }
                }
            }
            json_object_put(m);
        }
        if (rc < 0) json_object_put(o);
        else *out = o;
        return rc;
    }
    default:
        return 0;
    }
}

/* ---- structs ------------------------------------------------------------------------------------------ */

static void parse_struct(struct cfg_parse *pc, const struct cfg_schema *s, void *obj, yaml_node_t *node,
                         const char *path, int depth);

static size_t field_count(const struct cfg_schema *s)
{
    size_t n = 0;
    while (s->fields[n].key) n++;
    return n;
}

static void apply_default(struct cfg_parse *pc, const struct cfg_field *f, void *p, const char *path, int depth)
{
    if (f->type == CFG_SECTION) {
        parse_struct(pc, f->sub, p, NULL, path, depth + 1);
        return;
    }
    if (!f->def) return;
    char why[ERR_MSG_MAX];
    if (set_scalar(f, p, f->def, 0, why) < 0) /* a bad default in our own table */
        perr(pc, path, NULL, "internal error: default \"%s\" refused: %s", f->def, why);
}

static int seq_len(const yaml_node_t *n) { return (int)(n->data.sequence.items.top - n->data.sequence.items.start); }
static int map_len(const yaml_node_t *n) { return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start); }

static void parse_strings(struct cfg_parse *pc, const struct cfg_field *f, void *p, yaml_node_t *n, const char *path)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        perr(pc, path, n, "expected %s, got %s", type_name(f), node_kind(n));
        return;
    }
    size_t len = (size_t)seq_len(n), k = 0;
    if ((f->flags & CFG_F_NONEMPTY) && len == 0) {
        perr(pc, path, n, "must have at least one entry");
        return;
    }
    char **items = calloc(len ? len : 1, sizeof(*items));
    if (!items) {
        perr(pc, path, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *it = yaml_document_get_node(pc->doc, n->data.sequence.items.start[i]);
        char sub[ERR_WHERE_MAX];
        path_index(sub, sizeof(sub), path, i);
        if (it->type != YAML_SCALAR_NODE || is_null(it)) {
            perr(pc, sub, it, "expected a string, got %s", is_null(it) ? "null" : node_kind(it));
            continue;
        }
        if (strlen(scalar(it)) != it->data.scalar.length) {
            perr(pc, sub, it, "strings must not contain NUL characters");
            continue;
        }
        if (take_bytes(pc, sub, it, it->data.scalar.length) < 0) break;
        const char *reason = NULL;
        if (f->check && f->check(scalar(it), &reason) < 0) {
            char q[4 * SHOWN_MAX + 8];
            perr(pc, sub, it, "\"%s\" %s", shown(scalar(it), q, sizeof(q)), reason);
            continue;
        }
        items[k] = strdup(scalar(it));
        if (!items[k]) {
            perr(pc, sub, it, "out of memory"); /* never a shorter list that looks complete */
            break;
        }
        k++;
    }
    struct config_strlist *l = p;
    l->items = items;
    l->len = k;
}

/* A selector given as a mapping of labels becomes "k=v,k2=v2". */
static void parse_selector(struct cfg_parse *pc, const struct cfg_field *f, void *p, yaml_node_t *n, const char *path)
{
    if (n->type == YAML_SCALAR_NODE) {
        char why[ERR_MSG_MAX];
        if (set_scalar(f, p, scalar(n), 0, why) < 0) perr(pc, path, n, "%s", why);
        return;
    }
    if (n->type != YAML_MAPPING_NODE) {
        perr(pc, path, n, "expected %s, got %s", type_name(f), node_kind(n));
        return;
    }
    if ((f->flags & CFG_F_NONEMPTY) && map_len(n) == 0) {
        perr(pc, path, n, "must have at least one label");
        return;
    }
    struct buf b;
    buf_init(&b);
    int bad = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(pc->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(pc->doc, pr->value);
        if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
            perr(pc, path, k->type != YAML_SCALAR_NODE ? k : v, "labels must map strings to strings");
            bad = 1;
            continue;
        }
        if (!key_copied_ok(pc, path, k) || strlen(scalar(v)) != v->data.scalar.length ||
            take_bytes(pc, path, v, v->data.scalar.length) < 0) {
            if (!budget_spent(pc) && strlen(scalar(v)) != v->data.scalar.length)
                perr(pc, path, v, "strings must not contain NUL characters");
            bad = 1;
            if (budget_spent(pc)) break;
            continue;
        }
        buf_printf(&b, "%s%s=%s", b.len ? "," : "", scalar(k), is_null(v) ? "" : scalar(v));
    }
    if (!bad && b.oom) {
        perr(pc, path, n, "out of memory");
    } else if (!bad) {
        char why[ERR_MSG_MAX];
        if (set_scalar(f, p, buf_cstr(&b), 0, why) < 0) perr(pc, path, n, "%s", why);
    }
    buf_free(&b);
}

static void parse_map(struct cfg_parse *pc, const struct cfg_field *f, void *p, yaml_node_t *n, const char *path,
                      int depth)
{
    if (n->type != YAML_MAPPING_NODE) {
        perr(pc, path, n, "expected %s, got %s", type_name(f), node_kind(n));
        return;
    }
    size_t len = (size_t)map_len(n), k = 0;
    if ((f->flags & CFG_F_NONEMPTY) && len == 0) {
        perr(pc, path, n, "must have at least one entry");
        return;
    }
    char *items = calloc(len ? len : 1, f->sub->size);
    if (!items) {
        perr(pc, path, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *kn = yaml_document_get_node(pc->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(pc->doc, pr->value);
        if (kn->type != YAML_SCALAR_NODE) {
            perr(pc, path, kn, "entry names must be strings, got %s", node_kind(kn));
            continue;
        }
        const char *name = scalar(kn);
        char sub[ERR_WHERE_MAX];
        key_path(sub, sizeof(sub), path, kn);
        if (!key_copied_ok(pc, sub, kn)) {
            if (budget_spent(pc)) break;
            continue;
        }
        const char *reason = NULL;
        if (f->sub->check_name && f->sub->check_name(name, &reason) < 0) {
            char q[4 * SHOWN_MAX + 8];
            perr(pc, sub, kn, "invalid name \"%s\": %s", shown(name, q, sizeof(q)), reason);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < k; j++) {
            char *other;
            memcpy(&other, items + j * f->sub->size, sizeof(other));
            if (!strcmp(other, name)) dup = 1;
        }
        if (dup) {
            perr(pc, sub, kn, "duplicate key");
            continue;
        }
        char *elem = items + k * f->sub->size;
        char *copy = strdup(name);
        if (!copy) {
            perr(pc, sub, kn, "out of memory"); /* never a shorter map that looks complete */
            break;
        }
        memcpy(elem, &copy, sizeof(copy));
        mark_add(pc, sub, vn);
        parse_struct(pc, f->sub, elem, is_null(vn) ? NULL : vn, sub, depth + 1);
        k++;
    }
    vec_set(p, items, k);
}

static void parse_list(struct cfg_parse *pc, const struct cfg_field *f, void *p, yaml_node_t *n, const char *path,
                       int depth)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        perr(pc, path, n, "expected %s, got %s", type_name(f), node_kind(n));
        return;
    }
    size_t len = (size_t)seq_len(n);
    if ((f->flags & CFG_F_NONEMPTY) && len == 0) {
        perr(pc, path, n, "must have at least one entry");
        return;
    }
    char *items = calloc(len ? len : 1, f->sub->size);
    if (!items) {
        perr(pc, path, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *it = yaml_document_get_node(pc->doc, n->data.sequence.items.start[i]);
        char sub[ERR_WHERE_MAX];
        path_index(sub, sizeof(sub), path, i);
        mark_add(pc, sub, it);
        parse_struct(pc, f->sub, items + i * f->sub->size, is_null(it) ? NULL : it, sub, depth + 1);
    }
    vec_set(p, items, len);
}

static void parse_value(struct cfg_parse *pc, const struct cfg_field *f, void *p, yaml_node_t *n, const char *path,
                        int depth)
{
    switch (f->type) {
    case CFG_BOOL:
    case CFG_INT:
    case CFG_STRING:
    case CFG_DURATION:
    case CFG_ENUM: {
        if (n->type != YAML_SCALAR_NODE) {
            perr(pc, path, n, "expected %s, got %s", type_name(f), node_kind(n));
            return;
        }
        if (strlen(scalar(n)) != n->data.scalar.length) {
            perr(pc, path, n, "strings must not contain NUL characters");
            return;
        }
        if (take_bytes(pc, path, n, n->data.scalar.length) < 0) return;
        char why[ERR_MSG_MAX];
        if (set_scalar(f, p, scalar(n), !is_plain(n), why) < 0) perr(pc, path, n, "%s", why);
        return;
    }
    case CFG_STRINGS: parse_strings(pc, f, p, n, path); return;
    case CFG_SELECTOR: parse_selector(pc, f, p, n, path); return;
    case CFG_SECTION: parse_struct(pc, f->sub, p, n, path, depth + 1); return;
    case CFG_MAP: parse_map(pc, f, p, n, path, depth); return;
    case CFG_LIST: parse_list(pc, f, p, n, path, depth); return;
    case CFG_JSON: {
        struct json_object *j = NULL;
        if (yaml_to_json(pc, n, path, depth, &j) == 0) *(struct json_object **)p = j;
        return;
    }
    case CFG_REFUSED: perr(pc, path, n, "%s", f->doc); return;
    }
}

/* Levenshtein distance bounded to small strings, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    int prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c) c = prev[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            cur[j] = c;
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

static void report_unknown(struct cfg_parse *pc, const struct cfg_schema *s, const char *key, const char *path,
                           yaml_node_t *kn)
{
    const char *best = NULL;
    int bestd = 3;
    char known[400];
    size_t k = 0;
    known[0] = '\0';
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        int d = edit_distance(key, f->key);
        if (d < bestd) bestd = d, best = f->key;
        if (f->type != CFG_REFUSED && k < sizeof(known))
            k += (size_t)snprintf(known + k, sizeof(known) - k, "%s%s", k ? ", " : "", f->key);
    }
    if (best) perr(pc, path, kn, "unknown key (did you mean \"%s\"?)", best);
    else perr(pc, path, kn, "unknown key (known keys: %s)", known);
}

static int is_merge_key(const yaml_node_t *k) { return is_plain(k) && !strcmp(scalar(k), "<<"); }

/* YAML merge keys (`<<: *defaults` or `<<: [*a, *b]`): keys of the merged mappings fill the fields not given
 * explicitly; among several merged mappings the first one wins, as the merge-key spec says. */
static void merge_keys(struct cfg_parse *pc, const struct cfg_schema *s, yaml_node_t **given, yaml_node_t *src,
                       const char *path, yaml_node_t *at, int level)
{
    if (level > 1 || (src->type != YAML_MAPPING_NODE && src->type != YAML_SEQUENCE_NODE)) {
        perr(pc, path, at, "<< must merge a mapping or a sequence of mappings");
        return;
    }
    if (src->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = src->data.sequence.items.start; it < src->data.sequence.items.top; it++)
            merge_keys(pc, s, given, yaml_document_get_node(pc->doc, *it), path, at, level + 1);
        return;
    }
    size_t nf = field_count(s);
    for (yaml_node_pair_t *pr = src->data.mapping.pairs.start; pr < src->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(pc->doc, pr->key);
        if (kn->type != YAML_SCALAR_NODE || is_merge_key(kn)) {
            perr(pc, path, kn, "merged mappings must have plain string keys (no nested <<)");
            continue;
        }
        size_t i = 0;
        while (i < nf && strcmp(s->fields[i].key, scalar(kn)) != 0) i++;
        char sub[ERR_WHERE_MAX];
        key_path(sub, sizeof(sub), path, kn);
        if (!key_ok(pc, sub, kn)) continue;
        if (i == nf) report_unknown(pc, s, scalar(kn), sub, kn);
        else if (!given[i]) given[i] = yaml_document_get_node(pc->doc, pr->value);
    }
}

static void parse_struct(struct cfg_parse *pc, const struct cfg_schema *s, void *obj, yaml_node_t *node,
                         const char *path, int depth)
{
    yaml_node_t *given[CFG_MAX_FIELDS] = {0};
    size_t nf = field_count(s);
    if (nf > CFG_MAX_FIELDS) abort(); /* our own tables are wrong */
    if (depth > CONFIG_MAX_DEPTH) {
        perr(pc, path, node, "nested deeper than %d levels", CONFIG_MAX_DEPTH);
        return;
    }
    if (node && node->type != YAML_MAPPING_NODE) {
        perr(pc, path, node, "expected a mapping, got %s", node_kind(node));
        node = NULL;
    }
    if (node) {
        for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(pc->doc, pr->key);
            yaml_node_t *vn = yaml_document_get_node(pc->doc, pr->value);
            if (kn->type != YAML_SCALAR_NODE) {
                perr(pc, path, kn, "mapping keys must be strings, got %s", node_kind(kn));
                continue;
            }
            if (is_merge_key(kn)) continue; /* after the explicit keys, which win */
            const char *key = scalar(kn);
            char sub[ERR_WHERE_MAX];
            key_path(sub, sizeof(sub), path, kn);
            if (!key_ok(pc, sub, kn)) continue;
            size_t i = 0;
            while (i < nf && strcmp(s->fields[i].key, key) != 0) i++;
            if (i == nf) {
                report_unknown(pc, s, key, sub, kn);
                continue;
            }
            if (given[i]) {
                perr(pc, sub, kn, "duplicate key (first given on line %d)", (int)given[i]->start_mark.line + 1);
                continue;
            }
            given[i] = vn;
        }
        for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(pc->doc, pr->key);
            if (is_merge_key(kn))
                merge_keys(pc, s, given, yaml_document_get_node(pc->doc, pr->value), path, kn, 0);
        }
    }
    for (size_t i = 0; i < nf; i++) {
        const struct cfg_field *f = &s->fields[i];
        void *p = (char *)obj + f->offset;
        char sub[ERR_WHERE_MAX];
        cfg_path_key(sub, sizeof(sub), path, f->key);
        if (given[i] && !is_null(given[i])) {
            /* The default first, so a value that fails leaves a sane one for the cross-field rules. */
            if (f->type != CFG_SECTION) apply_default(pc, f, p, sub, depth);
            mark_add(pc, sub, given[i]);
            parse_value(pc, f, p, given[i], sub, depth);
        } else if (f->type == CFG_REFUSED && given[i]) {
            perr(pc, sub, given[i], "%s", f->doc);
        } else if (f->flags & CFG_F_REQUIRED) {
            mark_add(pc, sub, given[i] ? given[i] : node); /* so rules using this key know it failed */
            if (given[i]) perr(pc, sub, given[i], "required key has no value");
            else perr(pc, sub, node, "required key is missing");
        } else {
            apply_default(pc, f, p, sub, depth);
        }
    }
    if (s->finish) {
        struct cfg_check ck = {.pc = pc, .path = path};
        s->finish(obj, pc->root, &ck);
    }
}

void cfg_parse_root(struct cfg_parse *pc, void *root, yaml_node_t *node)
{
    mark_add(pc, "", node);
    parse_struct(pc, &cfg_root_schema, root, node, "", 0);
}

void cfg_parse_done(struct cfg_parse *pc)
{
    for (size_t i = 0; i < pc->nmarks; i++) free(pc->marks[i].path);
    free(pc->marks);
    pc->marks = NULL;
    pc->nmarks = pc->capmarks = 0;
}

/* ---- freeing ------------------------------------------------------------------------------------------ */

static void free_struct(const struct cfg_schema *s, void *obj);

static void free_value(const struct cfg_field *f, void *p)
{
    switch (f->type) {
    case CFG_STRING:
    case CFG_SELECTOR:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case CFG_STRINGS: {
        struct config_strlist *l = p;
        for (size_t i = 0; i < l->len; i++) free(l->items[i]);
        free(l->items);
        l->items = NULL;
        l->len = 0;
        break;
    }
    case CFG_SECTION: free_struct(f->sub, p); break;
    case CFG_MAP:
    case CFG_LIST: {
        void *items;
        size_t len;
        vec_get(p, &items, &len);
        for (size_t i = 0; i < len; i++) {
            char *elem = (char *)items + i * f->sub->size;
            if (f->type == CFG_MAP) {
                char *name;
                memcpy(&name, elem, sizeof(name));
                free(name);
            }
            free_struct(f->sub, elem);
        }
        free(items);
        vec_set(p, NULL, 0);
        break;
    }
    case CFG_JSON:
        json_object_put(*(struct json_object **)p);
        *(struct json_object **)p = NULL;
        break;
    default: break;
    }
}

static void free_struct(const struct cfg_schema *s, void *obj)
{
    for (const struct cfg_field *f = s->fields; f->key; f++) free_value(f, (char *)obj + f->offset);
}

void cfg_free_root(void *root) { free_struct(&cfg_root_schema, root); }

/* ---- describing (effective config as JSON) ------------------------------------------------------------ */

static struct json_object *describe_struct(const struct cfg_schema *s, const void *obj, int redact);

/* redact: secrets as "<redacted>" (what /debug/vars shows); 0 only to compare two configs, never shown. */
static struct json_object *describe_value(const struct cfg_field *f, const void *p, int redact)
{
    switch (f->type) {
    case CFG_BOOL: return json_object_new_boolean(*(const bool *)p);
    case CFG_INT: return json_object_new_int(*(const int *)p);
    case CFG_DURATION: {
        char s[32];
        duration_format_ms(*(const int64_t *)p, s, sizeof(s));
        return json_object_new_string(s);
    }
    case CFG_ENUM:
        for (const struct cfg_enum *e = f->enums; e->name; e++)
            if (e->value == *(const int *)p) return json_object_new_string(e->name);
        return NULL;
    case CFG_STRING:
    case CFG_SELECTOR: {
        const char *s = *(char *const *)p;
        if (!s) return NULL;
        if (redact && (f->flags & CFG_F_SECRET)) return json_object_new_string("<redacted>");
        return json_object_new_string(s);
    }
    case CFG_STRINGS: {
        const struct config_strlist *l = p;
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < l->len; i++) json_object_array_add(a, json_object_new_string(l->items[i]));
        return a;
    }
    case CFG_SECTION: return describe_struct(f->sub, p, redact);
    case CFG_MAP:
    case CFG_LIST: {
        void *items;
        size_t len;
        vec_get(p, &items, &len);
        struct json_object *c = f->type == CFG_MAP ? json_object_new_object() : json_object_new_array();
        for (size_t i = 0; i < len; i++) {
            const char *elem = (const char *)items + i * f->sub->size;
            struct json_object *v = describe_struct(f->sub, elem, redact);
            if (f->type == CFG_LIST) {
                json_object_array_add(c, v);
            } else {
                char *name;
                memcpy(&name, elem, sizeof(name));
                json_object_object_add(c, name, v);
            }
        }
        return c;
    }
    case CFG_JSON: {
        struct json_object *src = *(struct json_object *const *)p, *dst = NULL;
        if (!src) return NULL;
        if (redact && (f->flags & CFG_F_SECRET)) return json_object_new_string("<redacted>");
        if (json_object_deep_copy(src, &dst, NULL) < 0) return NULL;
        return dst;
    }
    case CFG_REFUSED: return NULL;
    }
    return NULL;
}

static struct json_object *describe_struct(const struct cfg_schema *s, const void *obj, int redact)
{
    struct json_object *o = json_object_new_object();
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        if (f->type == CFG_REFUSED) continue;
        json_object_object_add(o, f->key, describe_value(f, (const char *)obj + f->offset, redact));
    }
    return o;
}

struct json_object *cfg_describe_root(const void *root) { return describe_struct(&cfg_root_schema, root, 1); }

int cfg_describe_path(const void *root, const char *path, struct json_object **out)
{
    const struct cfg_schema *sch = &cfg_root_schema;
    const char *obj = root;
    *out = NULL;
    for (;;) {
        size_t klen = strcspn(path, ".");
        const struct cfg_field *f = sch->fields;
        while (f->key && (strlen(f->key) != klen || strncmp(f->key, path, klen) != 0)) f++;
        if (!f->key || f->type == CFG_REFUSED) return -1;
        if (!path[klen]) {
            *out = describe_value(f, obj + f->offset, 0);
            return 0;
        }
        if (f->type != CFG_SECTION) return -1; /* only sections have named parts */
        obj += f->offset;
        sch = f->sub;
        path += klen + 1;
    }
}

/* ---- reference documentation -------------------------------------------------------------------------- */

static void md_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') buf_puts(b, "\\|");
        else if (*s == '\n') buf_putc(b, ' ');
        else buf_putc(b, *s);
    }
}

static void md_type(struct buf *b, const struct cfg_field *f)
{
    char names[256];
    switch (f->type) {
    case CFG_BOOL: buf_puts(b, "bool"); break;
    case CFG_INT:
        if (bounded(f)) buf_printf(b, "int (%lld to %lld)", (long long)f->min, (long long)f->max);
        else buf_puts(b, "int");
        break;
    case CFG_STRING: buf_puts(b, "string"); break;
    case CFG_DURATION:
        if (bounded(f)) {
            char lo[32], hi[32];
            duration_format_ms(f->min, lo, sizeof(lo));
            duration_format_ms(f->max, hi, sizeof(hi));
            buf_printf(b, "duration (%s to %s)", lo, hi);
        } else {
            buf_puts(b, "duration");
        }
        break;
    case CFG_ENUM:
        enum_names(f, names, sizeof(names));
        buf_printf(b, "one of: %s", names);
        break;
    case CFG_STRINGS: buf_puts(b, "list of strings"); break;
    case CFG_SELECTOR: buf_puts(b, "label selector"); break;
    case CFG_SECTION: buf_puts(b, "section"); break;
    case CFG_MAP: buf_puts(b, "map of name to entry"); break;
    case CFG_LIST: buf_puts(b, "list of entries"); break;
    case CFG_JSON: buf_puts(b, "any YAML"); break;
    case CFG_REFUSED: buf_puts(b, "refused"); break;
    }
}

static void md_struct(struct buf *b, const struct cfg_schema *s, const char *prefix)
{
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        char path[ERR_WHERE_MAX];
        path_fmt(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", f->key);
        buf_printf(b, "| `%s` | ", path);
        md_type(b, f);
        buf_puts(b, " | ");
        if (f->flags & CFG_F_REQUIRED) buf_puts(b, "**required**");
        else if (f->def_doc) md_escape(b, f->def_doc);
        else if (f->def) buf_printf(b, *f->def ? "`%s`" : "`\"\"`", f->def);
        else if (f->type == CFG_MAP || f->type == CFG_LIST || f->type == CFG_STRINGS) buf_puts(b, "empty");
        else if (f->type == CFG_SECTION) buf_puts(b, "");
        else buf_puts(b, "unset");
        buf_puts(b, " | ");
        md_escape(b, f->doc ? f->doc : "");
        buf_puts(b, " |\n");
        if (f->type == CFG_SECTION) {
            md_struct(b, f->sub, path);
        } else if (f->type == CFG_MAP) {
            char sub[ERR_WHERE_MAX];
            path_fmt(sub, sizeof(sub), "%s.<name>", path);
            md_struct(b, f->sub, sub);
        } else if (f->type == CFG_LIST) {
            char sub[ERR_WHERE_MAX];
            path_fmt(sub, sizeof(sub), "%s[]", path);
            md_struct(b, f->sub, sub);
        }
    }
}

void cfg_reference_root(struct buf *b)
{
    buf_puts(b, "| key | type | default | meaning |\n|---|---|---|---|\n");
    md_struct(b, &cfg_root_schema, "");
}
