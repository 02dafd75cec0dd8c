/* Fast-lane classification of two configs (see diff.h). */
#include "common/haproxy/diff.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* Tokens on one server line: name, address and options; real lines have a dozen. */
#define TOKENS_MAX 128

struct line {
    const char *s;
    size_t len;
};

static int not_fast(struct diff_plan *p, size_t lineno, const char *why)
{
    p->fast = 0;
    snprintf(p->reason, sizeof(p->reason), "line %zu: %s", lineno, why);
    return 0;
}

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += s[i] == '\n';
    return n + (len && s[len - 1] != '\n');
}

/* Next line starting at *off; returns 0 at the end. */
static int next_line(const char *s, size_t len, size_t *off, struct line *l)
{
    if (*off >= len) return 0;
    const char *nl = memchr(s + *off, '\n', len - *off);
    size_t end = nl ? (size_t)(nl - s) : len;
    l->s = s + *off;
    l->len = end - *off;
    *off = end + 1;
    return 1;
}

/* Splits a line into whitespace-separated tokens (copied into store). */
static int tokens(const struct line *l, char *store, size_t cap, char **tok, size_t *n)
{
    if (l->len >= cap) return -1;
    memcpy(store, l->s, l->len);
    store[l->len] = '\0';
    char *hash = strchr(store, '#'); /* a comment to the end of the line */
    if (hash) *hash = '\0';
    *n = 0;
    for (char *save = NULL, *t = strtok_r(store, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (*n >= TOKENS_MAX) return -1;
        tok[(*n)++] = t;
    }
    return 0;
}

/* Section keywords at the start of a line. 1: a section where set server works (backend, listen). */
static int section_of(char **tok, size_t n, int *is_section, char *name, size_t cap)
{
    static const char *const sections[] = {"global", "defaults", "frontend", "backend", "listen", "userlist",
                                           "peers", "resolvers", "mailers", "program", "http-errors", "ring",
                                           "cache", "fcgi-app"};
    *is_section = 0;
    if (!n) return 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (strcmp(tok[0], sections[i]) != 0) continue;
        *is_section = 1;
        snprintf(name, cap, "%s", n > 1 ? tok[1] : "");
        return !strcmp(tok[0], "backend") || !strcmp(tok[0], "listen");
    }
    return 0;
}

/* addr[:port] as IPv4 or [IPv6]; 0, or -1 for anything the runtime API cannot set (a host name). */
static int parse_addr(const char *t, char *addr, size_t cap, int *port)
{
    *port = 0;
    const char *colon;
    size_t alen;
    if (t[0] == '[') {
        const char *close = strchr(t, ']');
        if (!close) return -1;
        alen = (size_t)(close - t - 1);
        if (alen >= cap) return -1;
        memcpy(addr, t + 1, alen);
        addr[alen] = '\0';
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) return -1;
        unsigned char b6[16];
        if (inet_pton(AF_INET6, addr, b6) != 1) return -1;
    } else {
        colon = strchr(t, ':');
        alen = colon ? (size_t)(colon - t) : strlen(t);
        if (alen >= cap) return -1;
        memcpy(addr, t, alen);
        addr[alen] = '\0';
        unsigned char b4[4];
        if (inet_pton(AF_INET, addr, b4) != 1) return -1;
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535) return -1;
        *port = (int)p;
    }
    return 0;
}

/* The options of a server line without weight/disabled/enabled, which the fast lane may change. */
struct server_line {
    char *name, *addr_tok;
    char *rest[TOKENS_MAX];
    size_t nrest;
    int weight;       /* -1: not given */
    int enabled;
};

static int parse_server(char **tok, size_t n, struct server_line *s)
{
    if (n < 3 || strcmp(tok[0], "server") != 0) return -1;
    s->name = tok[1];
    s->addr_tok = tok[2];
    s->nrest = 0;
    s->weight = -1;
    s->enabled = 1;
    for (size_t i = 3; i < n; i++) {
        if (!strcmp(tok[i], "weight") && i + 1 < n) {
            char *end;
            long w = strtol(tok[++i], &end, 10);
            if (*end || w < 0 || w > 256) return -1;
            s->weight = (int)w;
        } else if (!strcmp(tok[i], "disabled")) {
            s->enabled = 0;
        } else if (!strcmp(tok[i], "enabled")) {
            s->enabled = 1;
        } else {
            s->rest[s->nrest++] = tok[i];
        }
    }
    return 0;
}

static int add_op(struct diff_plan *p, size_t *cap, const struct diff_server_op *op)
{
    if (p->nops >= DIFF_OPS_MAX) return 1;
    if (p->nops == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct diff_server_op *o = realloc(p->ops, c * sizeof(*o));
        if (!o) return -1;
        p->ops = o;
        *cap = c;
    }
    p->ops[p->nops++] = *op;
    return 0;
}

/* Both lines are known to differ. 0: one op added or fast cleared; -1 out of memory. */
static int compare_server(struct diff_plan *p, size_t *cap, size_t lineno, const char *backend, char **ta,
                          size_t na, char **tb, size_t nb)
{
    struct server_line a, b;
    if (parse_server(ta, na, &a) < 0 || parse_server(tb, nb, &b) < 0)
        return not_fast(p, lineno, "a line other than a server line changed");
    if (strcmp(a.name, b.name) != 0) return not_fast(p, lineno, "a server was renamed");
    if (a.nrest != b.nrest) return not_fast(p, lineno, "server options changed");
    for (size_t i = 0; i < a.nrest; i++)
        if (strcmp(a.rest[i], b.rest[i]) != 0) return not_fast(p, lineno, "server options changed");
    if (strlen(backend) >= DIFF_NAME_MAX || strlen(b.name) >= DIFF_NAME_MAX)
        return not_fast(p, lineno, "a name too long for the runtime API");
    struct diff_server_op op;
    memset(&op, 0, sizeof(op));
    snprintf(op.backend, sizeof(op.backend), "%s", backend);
    snprintf(op.server, sizeof(op.server), "%s", b.name);
    if (strcmp(a.addr_tok, b.addr_tok) != 0) {
        int pa;
        char aa[DIFF_ADDR_MAX];
        if (parse_addr(b.addr_tok, op.addr, sizeof(op.addr), &op.port) < 0 ||
            parse_addr(a.addr_tok, aa, sizeof(aa), &pa) < 0)
            return not_fast(p, lineno, "a server address that is not an IP address");
        if ((pa != 0) != (op.port != 0)) return not_fast(p, lineno, "a server port was added or removed");
        op.what |= DIFF_SET_ADDR;
    }
    if (a.weight != b.weight) {
        if (b.weight < 0) return not_fast(p, lineno, "a server weight was removed (the default is not known)");
        op.weight = b.weight;
        op.what |= DIFF_SET_WEIGHT;
    }
    if (a.enabled != b.enabled) {
        op.enabled = b.enabled;
        op.what |= DIFF_SET_STATE;
    }
    if (!op.what) return 0; /* only spacing or a comment changed: nothing at runtime, the file is rewritten */
    int rc = add_op(p, cap, &op);
    if (rc > 0) return not_fast(p, lineno, "more runtime operations than one push takes");
    return rc;
}

int diff_configs(const char *a, size_t alen, const char *b, size_t blen, struct diff_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->fast = 1;
    if (count_lines(a, alen) != count_lines(b, blen)) return not_fast(plan, 0, "lines were added or removed");
    size_t oa = 0, ob = 0, lineno = 0, cap = 0;
    struct line la, lb;
    char backend[DIFF_NAME_MAX * 2] = "";
    int in_runtime_section = 0;
    char *sa = NULL, *sb = NULL;
    size_t scap = 0;
    int rc = 0;
    while (plan->fast && next_line(a, alen, &oa, &la) && next_line(b, blen, &ob, &lb)) {
        lineno++;
        int same = la.len == lb.len && memcmp(la.s, lb.s, la.len) == 0;
        if (same && !(la.len && la.s[0] != ' ' && la.s[0] != '\t')) continue; /* not a section line */
        size_t need = (la.len > lb.len ? la.len : lb.len) + 1;
        if (need > scap) {
            free(sa);
            free(sb);
            sa = malloc(need);
            sb = malloc(need);
            scap = need;
            if (!sa || !sb) {
                rc = -1;
                break;
            }
        }
        char *ta[TOKENS_MAX], *tb[TOKENS_MAX];
        size_t na, nb;
        if (tokens(&la, sa, scap, ta, &na) < 0 || tokens(&lb, sb, scap, tb, &nb) < 0) {
            not_fast(plan, lineno, "a line with too many words");
            break;
        }
        int is_section;
        int rt = section_of(ta, na, &is_section, backend, sizeof(backend));
        if (is_section) {
            in_runtime_section = rt;
            if (!same) not_fast(plan, lineno, "a section line changed");
            continue;
        }
        if (same) continue;
        if (!in_runtime_section) {
            not_fast(plan, lineno, "a line outside backends changed");
            break;
        }
        rc = compare_server(plan, &cap, lineno, backend, ta, na, tb, nb);
        if (rc < 0) break;
    }
    free(sa);
    free(sb);
    if (rc < 0) diff_plan_free(plan);
    return rc;
}

void diff_plan_free(struct diff_plan *plan)
{
    free(plan->ops);
    plan->ops = NULL;
    plan->nops = 0;
}

/* ---- certificate payloads ---- */

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "

/* Key material goes to the `.key` payload: every private key form, and the EC parameters that openssl
 * writes in front of an EC key. */
static int pem_label_is_key(const char *label, size_t len)
{
    static const char ecp[] = "EC PARAMETERS";
    if (len == sizeof(ecp) - 1 && !memcmp(label, ecp, len)) return 1;
    for (size_t i = 0; i + 11 <= len; i++)
        if (!memcmp(label + i, "PRIVATE KEY", 11)) return 1;
    return 0;
}

static int pem_label_is_cert(const char *label, size_t len)
{
    return (len == 11 && !memcmp(label, "CERTIFICATE", 11)) || (len == 19 && !memcmp(label, "TRUSTED CERTIFICATE", 19));
}

int diff_cert_payloads(const char *pem, size_t len, size_t max, struct diff_cert_payloads *out, char *why,
                       size_t whylen)
{
    memset(out, 0, sizeof(*out));
    struct buf all, certs, keys;
    buf_init(&all);
    buf_init(&certs);
    buf_init(&keys);
    int in_block = 0, is_key = 0, ncerts = 0, rc = 0;
    size_t off = 0;
    struct line l;
    while (next_line(pem, len, &off, &l)) {
        while (l.len && (l.s[l.len - 1] == '\r' || l.s[l.len - 1] == ' ' || l.s[l.len - 1] == '\t')) l.len--;
        if (!l.len) continue; /* an empty line would end the payload early */
        size_t bl = strlen(PEM_BEGIN);
        if (!in_block) {
            if (l.len <= bl + 5 || memcmp(l.s, PEM_BEGIN, bl) != 0) continue; /* text between blocks */
            const char *label = l.s + bl;
            size_t lablen = l.len - bl - 5;
            in_block = 1;
            is_key = pem_label_is_key(label, lablen);
            ncerts += pem_label_is_cert(label, lablen);
        }
        struct buf *part = is_key ? &keys : &certs;
        buf_append(&all, l.s, l.len);
        buf_putc(&all, '\n');
        buf_append(part, l.s, l.len);
        buf_putc(part, '\n');
        if (l.len > strlen(PEM_END) && !memcmp(l.s, PEM_END, strlen(PEM_END))) in_block = 0;
    }
    if (all.oom || certs.oom || keys.oom) {
        rc = -1;
    } else if (in_block) {
        rc = 1, snprintf(why, whylen, "a PEM block without its END line");
    } else if (!ncerts) {
        rc = 1, snprintf(why, whylen, "no certificate in the file");
    } else if (all.len <= max) {
        out->pem = buf_steal(&all);
    } else if (!keys.len) {
        rc = 1, snprintf(why, whylen, "%zu bytes of PEM is over the %zu a runtime payload takes, and no key to send apart",
                         all.len, max);
    } else if (certs.len > max || keys.len > max) {
        rc = 1, snprintf(why, whylen, "certificates (%zu bytes) or key (%zu bytes) over the %zu a runtime payload takes",
                         certs.len, keys.len, max);
    } else {
        out->pem = buf_steal(&certs);
        if (!(out->key = buf_steal(&keys))) rc = -1;
    }
    buf_free(&all);
    buf_free(&certs);
    buf_free(&keys);
    if (rc == 0 && !out->pem) rc = -1;
    if (rc != 0) diff_cert_payloads_free(out);
    return rc;
}

void diff_cert_payloads_free(struct diff_cert_payloads *out)
{
    free(out->pem);
    free(out->key);
    out->pem = out->key = NULL;
}
