/* kube-sim entry point: options, store and seed, the API listener (http or https with bearer tokens) and
 * the control listener, the port announcement (stdout line and --port-file), an optional kubeconfig for
 * clients, and a clean shutdown on SIGTERM/SIGINT. Usage: kube-sim --help. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "tests/kube-sim/sim.h"

struct sim *g_sim;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kube-sim [options]\n"
            "  --host ADDR              listen address (127.0.0.1)\n"
            "  --port N                 API port, 0 picks a free one (0)\n"
            "  --control-port N         control (fault injection) port, plain http (0)\n"
            "  --port-file FILE         write {\"port\":..,\"control_port\":..,\"url\":..} here once listening\n"
            "  --kubeconfig FILE        write a kubeconfig for this server here\n"
            "  --seed FILE              YAML or JSON objects to load at start\n"
            "  --audit-log FILE         append one JSON line per write (time, client, object, resourceVersion)\n"
            "  --tls-dir DIR            serve https with a CA and server certificate generated into DIR\n"
            "  --tls-cert FILE --tls-key FILE [--tls-ca FILE]   serve https with these instead\n"
            "  --token TOKEN[:USER]     accept this bearer token (repeatable); enables authentication\n"
            "  --token-file FILE        lines TOKEN,USER[,readonly]; enables authentication\n"
            "  --history N              events kept for watch resume and exact lists (%d)\n"
            "  --auto-create-namespaces create a missing namespace on first write into it\n"
            "  --bookmark-interval MS   watch bookmark period (%d)\n"
            "  --log-level LEVEL        debug, info, warn, error (info)\n",
            SIM_DEFAULT_HISTORY, SIM_DEFAULT_BOOKMARK_MS);
}

static int add_token(struct sim *sim, const char *spec, int readonly)
{
    if (sim->ntokens >= SIM_MAX_TOKENS) return -1;
    struct sim_token *t = &sim->tokens[sim->ntokens];
    const char *sep = strpbrk(spec, ":,");
    if (sep) {
        snprintf(t->token, sizeof(t->token), "%.*s", (int)(sep - spec), spec);
        snprintf(t->user, sizeof(t->user), "%s", sep + 1);
    } else {
        snprintf(t->token, sizeof(t->token), "%s", spec);
        snprintf(t->user, sizeof(t->user), "test-user");
    }
    char *comma = strchr(t->user, ',');
    if (comma) {
        readonly = strcmp(comma + 1, "readonly") == 0;
        *comma = '\0';
    }
    t->readonly = readonly;
    if (!t->token[0]) return -1;
    sim->ntokens++;
    return 0;
}

static int load_token_file(struct sim *sim, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kube-sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[600];
    int n = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        n++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        if (add_token(sim, line, 0) < 0) {
            fprintf(stderr, "kube-sim: %s:%d: bad token line or more than %d tokens\n", path, n, SIM_MAX_TOKENS);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int write_file(const char *path, const char *text)
{
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fputs(text, f);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path); /* readers never see a half-written file */
}

static int write_kubeconfig(struct sim *sim, const char *url)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: %s\n", url);
    if (sim->ca_file[0]) buf_printf(&b, "    certificate-authority: %s\n", sim->ca_file);
    buf_puts(&b, "contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n"
                 "    namespace: default\ncurrent-context: kube-sim\nusers:\n- name: kube-sim\n  user:");
    if (sim->ntokens) buf_printf(&b, "\n    token: %s\n", sim->tokens[0].token);
    else buf_puts(&b, " {}\n");
    int rc = write_file(sim->opt.kubeconfig_out, buf_cstr(&b));
    buf_free(&b);
    return rc;
}

static void on_closed_server(struct http_server *srv) { (void)srv; }

static void shutdown_sim(struct sim *sim)
{
    if (sim->stopping) return;
    sim->stopping = 1;
    log_info("kube-sim stopping");
    sim_watch_close_all(sim);
    sim_pending_close_all(sim);
    http_server_close(&sim->api, on_closed_server);
    http_server_close(&sim->control, on_closed_server);
    uv_close((uv_handle_t *)&sim->sigterm, NULL);
    uv_close((uv_handle_t *)&sim->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    shutdown_sim(s->data);
}

static void default_namespaces(struct sim *sim)
{
    const char *names[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};
    const struct sim_resource *nsr = sim_resource_find("", "v1", "namespaces");
    for (int i = 0; names[i]; i++) {
        struct json_object *o = json_object_new_object(), *meta = json_object_new_object();
        json_object_object_add(meta, "name", json_object_new_string(names[i]));
        json_object_object_add(o, "metadata", meta);
        char err[256];
        sim_store_insert_new(sim, nsr, o, err, sizeof(err));
        json_object_put(o);
    }
}

int main(int argc, char **argv)
{
    static struct sim sim;
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"control-port", required_argument, 0, 'c'},
        {"port-file", required_argument, 0, 'f'},
        {"kubeconfig", required_argument, 0, 'k'},
        {"seed", required_argument, 0, 's'},
        {"audit-log", required_argument, 0, 'a'},
        {"tls-dir", required_argument, 0, 'd'},
        {"tls-cert", required_argument, 0, 'C'},
        {"tls-key", required_argument, 0, 'K'},
        {"tls-ca", required_argument, 0, 'A'},
        {"token", required_argument, 0, 't'},
        {"token-file", required_argument, 0, 'T'},
        {"history", required_argument, 0, 'n'},
        {"auto-create-namespaces", no_argument, 0, 'N'},
        {"bookmark-interval", required_argument, 0, 'b'},
        {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    log_init("kube-sim", LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
    sim.opt.host = "127.0.0.1";
    sim.opt.history = SIM_DEFAULT_HISTORY;
    sim.opt.bookmark_ms = SIM_DEFAULT_BOOKMARK_MS;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H': sim.opt.host = optarg; break;
        case 'p': sim.opt.port = atoi(optarg); break;
        case 'c': sim.opt.control_port = atoi(optarg); break;
        case 'f': sim.opt.port_file = optarg; break;
        case 'k': sim.opt.kubeconfig_out = optarg; break;
        case 's': sim.opt.seed_file = optarg; break;
        case 'a': sim.opt.audit_file = optarg; break;
        case 'd': sim.opt.tls_dir = optarg; sim.opt.tls = 1; break;
        case 'C': sim.opt.tls_cert = optarg; sim.opt.tls = 1; break;
        case 'K': sim.opt.tls_key = optarg; break;
        case 'A': sim.opt.tls_ca = optarg; break;
        case 't':
            if (add_token(&sim, optarg, 0) < 0) {
                fprintf(stderr, "kube-sim: --token %s: empty token or too many tokens\n", optarg);
                return 2;
            }
            sim.opt.auth = 1;
            break;
        case 'T':
            if (load_token_file(&sim, optarg) < 0) return 2;
            sim.opt.auth = 1;
            break;
        case 'n': sim.opt.history = (size_t)strtoull(optarg, NULL, 10); break;
        case 'N': sim.opt.auto_namespaces = 1; break;
        case 'b': sim.opt.bookmark_ms = strtoull(optarg, NULL, 10); break;
        case 'l': {
            enum log_level lv;
            if (log_level_parse(optarg, &lv) < 0) {
                fprintf(stderr, "kube-sim: --log-level %s: expected debug, info, warn or error\n", optarg);
                return 2;
            }
            log_set_level(lv);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kube-sim: unexpected argument %s\n", argv[optind]);
        return 2;
    }
    if (sim.opt.bookmark_ms == 0) sim.opt.bookmark_ms = SIM_DEFAULT_BOOKMARK_MS;
    sim.bookmark_ms = sim.opt.bookmark_ms;
    sim.loop = uv_default_loop();
    g_sim = &sim;
    if (sim_store_init(&sim.store, sim.opt.history) < 0) return 1;
    default_namespaces(&sim);
    char err[1200];
    if (sim.opt.seed_file && sim_seed_load(&sim, sim.opt.seed_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "kube-sim: seed: %s\n", err);
        return 2;
    }
    if (sim.opt.audit_file) {
        sim.audit = fopen(sim.opt.audit_file, "a");
        if (!sim.audit) {
            fprintf(stderr, "kube-sim: --audit-log %s: %s\n", sim.opt.audit_file, strerror(errno));
            return 2;
        }
    }
    if (sim.opt.tls && !sim.opt.tls_cert && !sim.opt.tls_dir) sim.opt.tls_dir = ".";
    if (sim.opt.tls && sim_tls_setup(&sim, err, sizeof(err)) < 0) {
        fprintf(stderr, "kube-sim: tls: %s\n", err);
        return 2;
    }
    http_server_init(&sim.api, sim.loop, sim_api_on_request, &sim);
    if (sim.opt.tls) http_server_set_filter(&sim.api, sim_tls_filter(&sim));
    http_server_init(&sim.control, sim.loop, sim_control_on_request, &sim);
    int rc = http_server_listen(&sim.api, sim.opt.host, sim.opt.port);
    if (rc == 0) rc = http_server_listen(&sim.control, sim.opt.host, sim.opt.control_port);
    if (rc < 0) {
        fprintf(stderr, "kube-sim: listen on %s: %s\n", sim.opt.host, uv_strerror(rc));
        return 1;
    }
    uv_signal_init(sim.loop, &sim.sigterm);
    uv_signal_init(sim.loop, &sim.sigint);
    sim.sigterm.data = sim.sigint.data = &sim;
    uv_signal_start(&sim.sigterm, on_signal, SIGTERM);
    uv_signal_start(&sim.sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);

    char url[300], host[128];
    snprintf(host, sizeof(host), strchr(sim.opt.host, ':') ? "[%s]" : "%s", sim.opt.host);
    snprintf(url, sizeof(url), "%s://%s:%d", sim.opt.tls ? "https" : "http", host, sim.api.port);
    char announce[4200], client_cert[1100] = "", client_key[1100] = "";
    if (sim.opt.tls && !sim.opt.tls_cert) {
        snprintf(client_cert, sizeof(client_cert), "%s/client.crt", sim.opt.tls_dir);
        snprintf(client_key, sizeof(client_key), "%s/client.key", sim.opt.tls_dir);
    }
    snprintf(announce, sizeof(announce),
             "{\"port\":%d,\"control_port\":%d,\"url\":\"%s\",\"control_url\":\"http://%s:%d\",\"ca_file\":\"%s\","
             "\"client_cert\":\"%s\",\"client_key\":\"%s\"}\n",
             sim.api.port, sim.control.port, url, host, sim.control.port, sim.ca_file, client_cert, client_key);
    if (sim.opt.kubeconfig_out && write_kubeconfig(&sim, url) < 0) {
        fprintf(stderr, "kube-sim: --kubeconfig %s: %s\n", sim.opt.kubeconfig_out, strerror(errno));
        return 2;
    }
    if (sim.opt.port_file && write_file(sim.opt.port_file, announce) < 0) {
        fprintf(stderr, "kube-sim: --port-file %s: %s\n", sim.opt.port_file, strerror(errno));
        return 2;
    }
    fputs(announce, stdout);
    fflush(stdout);
    char objs[32];
    snprintf(objs, sizeof(objs), "%zu", sim.store.nobjects);
    log_info("kube-sim listening", "url", url, "objects", objs);

    uv_run(sim.loop, UV_RUN_DEFAULT);

    if (sim.audit) fclose(sim.audit);
    sim_store_free(&sim.store);
    sim_tls_free(&sim);
    uv_loop_close(sim.loop);
    return 0;
}
