/* https for kube-sim: a CA and a server certificate (127.0.0.1, ::1, localhost) generated at start and
 * written as PEM files, or certificate files given on the command line; and the http_filter that runs TLS
 * over memory BIOs so the HTTP server stays TLS-agnostic. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kube-sim/sim.h"

#define TLS_CERT_DAYS 30

struct sim_tls {
    SSL_CTX *ctx;
    struct http_filter filter;
    char *ca_pem; /* owned */
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
};

static void drain(struct tls_conn *c, struct buf *wire)
{
    char tmp[16384];
    int n;
    while ((n = BIO_read(c->wbio, tmp, sizeof(tmp))) > 0) buf_append(wire, tmp, (size_t)n);
}

static void *tls_conn_new(void *data)
{
    struct sim_tls *t = data;
    struct tls_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->ssl = SSL_new(t->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        SSL_free(c->ssl);
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        free(c);
        return NULL;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    return c;
}

static int tls_input(void *state, const char *in, size_t n, struct buf *plain, struct buf *wire)
{
    struct tls_conn *c = state;
    if (BIO_write(c->rbio, in, (int)n) != (int)n) return -1;
    char tmp[16384];
    for (;;) {
        int r = SSL_read(c->ssl, tmp, sizeof(tmp));
        if (r > 0) {
            buf_append(plain, tmp, (size_t)r);
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        drain(c, wire);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
        ERR_clear_error();
        return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
}

static int tls_output(void *state, const char *plain, size_t n, struct buf *wire)
{
    struct tls_conn *c = state;
    while (n) {
        int chunk = n > (1 << 20) ? (1 << 20) : (int)n;
        int r = SSL_write(c->ssl, plain, chunk);
        if (r <= 0) {
            ERR_clear_error();
            return -1;
        }
        plain += r;
        n -= (size_t)r;
        drain(c, wire);
    }
    drain(c, wire);
    return 0;
}

static void tls_conn_free(void *state)
{
    struct tls_conn *c = state;
    SSL_free(c->ssl);
    free(c);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex) return -1;
    X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return 0;
}

enum cert_kind { CERT_SERVER, CERT_CA, CERT_CLIENT };

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, enum cert_kind kind)
{
    X509 *x = X509_new();
    if (!x) return NULL;
    X509_set_version(x, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)TLS_CERT_DAYS * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    if (kind == CERT_CLIENT) /* kube reads the groups from O */
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"system:masters", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    int rc = 0;
    rc |= add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (kind == CERT_CA) {
        rc |= add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        rc |= add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        rc |= add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
        rc |= add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
        rc |= add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        rc |= add_ext(x, iss, NID_ext_key_usage, kind == CERT_CLIENT ? "clientAuth" : "serverAuth");
        if (kind == CERT_SERVER) rc |= add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost");
    }
    if (rc || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static char *cert_pem(X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

int sim_tls_setup(struct sim *sim, char *err, size_t errlen)
{
    struct sim_tls *t = calloc(1, sizeof(*t));
    if (!t) return -1;
    sim->tls = t;
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        snprintf(err, errlen, "cannot create TLS context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (sim->opt.tls_cert) {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, sim->opt.tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(t->ctx, sim->opt.tls_key ? sim->opt.tls_key : sim->opt.tls_cert,
                                        SSL_FILETYPE_PEM) != 1) {
            snprintf(err, errlen, "%s: cannot load TLS certificate or key", sim->opt.tls_cert);
            return -1;
        }
        if (sim->opt.tls_ca) snprintf(sim->ca_file, sizeof(sim->ca_file), "%s", sim->opt.tls_ca);
    } else {
        EVP_PKEY *cakey = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256"), *ckey = EVP_EC_gen("P-256");
        X509 *ca = cakey ? make_cert(cakey, "kube-sim-ca", NULL, NULL, CERT_CA) : NULL;
        X509 *crt = (ca && key) ? make_cert(key, "kube-sim", ca, cakey, CERT_SERVER) : NULL;
        X509 *client = (ca && ckey) ? make_cert(ckey, "cert-user", ca, cakey, CERT_CLIENT) : NULL;
        char path[1100];
        int rc = (crt && client) ? 0 : -1;
        if (rc == 0) {
            snprintf(sim->ca_file, sizeof(sim->ca_file), "%s/ca.crt", sim->opt.tls_dir);
            rc |= write_pem(sim->ca_file, ca, NULL);
            snprintf(path, sizeof(path), "%s/server.crt", sim->opt.tls_dir);
            rc |= write_pem(path, crt, NULL);
            snprintf(path, sizeof(path), "%s/server.key", sim->opt.tls_dir);
            rc |= write_pem(path, NULL, key);
            snprintf(path, sizeof(path), "%s/client.crt", sim->opt.tls_dir);
            rc |= write_pem(path, client, NULL);
            snprintf(path, sizeof(path), "%s/client.key", sim->opt.tls_dir);
            rc |= write_pem(path, NULL, ckey);
            t->ca_pem = cert_pem(ca);
            /* client certificates signed by this CA authenticate as their CN (optional: tokens still work) */
            X509_STORE *store = SSL_CTX_get_cert_store(t->ctx);
            if (X509_STORE_add_cert(store, ca) != 1) rc = -1;
            STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
            if (names) {
                sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
                SSL_CTX_set_client_CA_list(t->ctx, names);
            }
            SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        }
        if (rc == 0 && (SSL_CTX_use_certificate(t->ctx, crt) != 1 || SSL_CTX_use_PrivateKey(t->ctx, key) != 1)) rc = -1;
        X509_free(ca);
        X509_free(crt);
        X509_free(client);
        EVP_PKEY_free(cakey);
        EVP_PKEY_free(key);
        EVP_PKEY_free(ckey);
        if (rc) {
            snprintf(err, errlen, "%s: cannot generate or write the CA and server certificate", sim->opt.tls_dir);
            return -1;
        }
    }
    t->filter.conn_new = tls_conn_new;
    t->filter.input = tls_input;
    t->filter.output = tls_output;
    t->filter.conn_free = tls_conn_free;
    t->filter.data = t;
    return 0;
}

const struct http_filter *sim_tls_filter(struct sim *sim) { return sim->tls ? &((struct sim_tls *)sim->tls)->filter : NULL; }

const char *sim_tls_ca_pem(struct sim *sim) { return sim->tls ? ((struct sim_tls *)sim->tls)->ca_pem : NULL; }

void sim_tls_free(struct sim *sim)
{
    struct sim_tls *t = sim->tls;
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t->ca_pem);
    free(t);
    sim->tls = NULL;
}

int sim_tls_peer_user(void *conn_state, char *out, size_t n)
{
    struct tls_conn *c = conn_state;
    if (!c) return -1;
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (!peer) return -1;
    int rc = -1;
    if (SSL_get_verify_result(c->ssl) == X509_V_OK &&
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, out, (int)n) > 0)
        rc = 0;
    X509_free(peer);
    return rc;
}
