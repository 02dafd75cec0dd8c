/* Benchmark (not a timed test): list N Ingresses through the client, paged, and report wall time, CPU time
 * and peak RSS. Against a server given with --url (the simulator), or else an in-process scripted server
 * serving generated Ingresses of realistic size (with managedFields and the last-applied annotation).
 *
 *   bench_kube_list [--url http://127.0.0.1:PORT] [--count 10000] [--page 500] [--mode list|informer]
 *   bench_kube_list --write-seed FILE [--count 10000]    (a kube-sim --seed file with the same Ingresses)
 *
 * mode list: kube_list collects every item; mode informer: an informer's initial sync (projection + store);
 * mode watch (built-in server only): after the sync, the watch delivers a MODIFIED event for every object and
 * the time to apply them all is reported (watch parsing + projection + store update).
 * Method and numbers: docs/performance.md. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <time.h>

#include "tests/unit/kube_fake_server.h"

#include "common/kube/kube_informer.h"
#include "common/kube/kube_list.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gen_ingress(struct buf *b, int i)
{
    buf_printf(b,
               "{\"metadata\":{\"name\":\"ing-%05d\",\"namespace\":\"ns-%02d\",\"uid\":\"6f1c0b8e-0d7d-4f5e-9a57-%012d\","
               "\"resourceVersion\":\"%d\",\"generation\":1,\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
               "\"labels\":{\"app\":\"app-%d\",\"team\":\"t%d\"},\"annotations\":{\"haproxy.org/timeout-server\":\"30s\","
               "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"networking.k8s.io/v1\\\","
               "\\\"kind\\\":\\\"Ingress\\\",\\\"metadata\\\":{\\\"annotations\\\":{\\\"haproxy.org/timeout-server\\\":"
               "\\\"30s\\\"},\\\"name\\\":\\\"ing-%05d\\\",\\\"namespace\\\":\\\"ns-%02d\\\"},\\\"spec\\\":{\\\"ingressClassName\\\":"
               "\\\"haproxy\\\",\\\"rules\\\":[{\\\"host\\\":\\\"h%d.example.com\\\",\\\"http\\\":{\\\"paths\\\":[{\\\"backend\\\":"
               "{\\\"service\\\":{\\\"name\\\":\\\"svc-%d\\\",\\\"port\\\":{\\\"number\\\":80}}},\\\"path\\\":\\\"/\\\","
               "\\\"pathType\\\":\\\"Prefix\\\"}]}}]}}\\n\"},"
               "\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\",\"apiVersion\":"
               "\"networking.k8s.io/v1\",\"time\":\"2026-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
               "{\"f:metadata\":{\"f:annotations\":{\".\":{},\"f:haproxy.org/timeout-server\":{},"
               "\"f:kubectl.kubernetes.io/last-applied-configuration\":{}}},\"f:spec\":{\"f:ingressClassName\":{},"
               "\"f:rules\":{},\"f:tls\":{}}}}]},"
               "\"spec\":{\"ingressClassName\":\"haproxy\",\"rules\":[{\"host\":\"h%d.example.com\",\"http\":{\"paths\":"
               "[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"svc-%d\",\"port\":"
               "{\"number\":80}}}}]}}],\"tls\":[{\"hosts\":[\"h%d.example.com\"],\"secretName\":\"tls-%d\"}]},"
               "\"status\":{\"loadBalancer\":{}}}",
               i, i % 50, i, 1000 + i, i % 100, i % 7, i, i % 50, i, i, i, i, i, i);
}

static int done;
static double t_end;
static size_t got;
static size_t bytes_served;

static void on_list(void *data, struct kube_response *r, struct kube_list_result *res)
{
    done = 1;
    t_end = now_s();
    if (!res) {
        fprintf(stderr, "list failed: %s %s\n", kube_err_name(r->err), r->message);
        return;
    }
    got = json_object_array_length(res->items);
}

static int watch_mode;
static size_t updates, want_updates;
static double t_sync;

static void on_synced(void *data)
{
    struct kube_informer *inf = *(struct kube_informer **)data;
    t_end = t_sync = now_s();
    got = kube_informer_count(inf);
    if (!watch_mode) done = 1;
}

static void on_update(void *data, struct json_object *old_obj, struct json_object *new_obj)
{
    if (++updates == want_updates) {
        done = 1;
        t_end = now_s();
    }
}

int main(int argc, char **argv)
{
    const char *url = NULL, *mode = "list", *seed_out = NULL;
    int count = 10000, page = 500;
    static const struct option lo[] = {{"url", 1, 0, 'u'}, {"count", 1, 0, 'c'}, {"page", 1, 0, 'p'},
                                       {"mode", 1, 0, 'm'}, {"write-seed", 1, 0, 's'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 'u') url = optarg;
        else if (ch == 'c') count = atoi(optarg);
        else if (ch == 'p') page = atoi(optarg);
        else if (ch == 'm') mode = optarg;
        else if (ch == 's') seed_out = optarg;
        else return 2;
    }
    if (seed_out) {
        FILE *f = fopen(seed_out, "w");
        if (!f) return 1;
        struct buf b;
        buf_init(&b);
        fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[", f);
        for (int i = 0; i < count; i++) {
            buf_reset(&b);
            gen_ingress(&b, i); /* "{...}": add apiVersion and kind after the brace */
            fprintf(f, "%s{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",", i ? "," : "");
            fwrite(b.data + 1, 1, b.len - 1, f);
            fputc('\n', f);
        }
        fputs("]}\n", f);
        buf_free(&b);
        return fclose(f) == 0 ? 0 : 1;
    }
    struct fake_server srv;
    char local[64];
    pid_t server_pid = 0;
    if (!url) {
        /* the built-in server runs in a child process so its canned pages do not count in our RSS */
        int pages = (count + page - 1) / page;
        if (pages > FAKE_MAX_SCRIPT - 1) {
            fprintf(stderr, "at most %d pages with the built-in server: raise --page\n", FAKE_MAX_SCRIPT - 1);
            return 2;
        }
        fake_init(&srv);
        struct buf b;
        buf_init(&b);
        server_pid = fork();
        for (int pg = 0; pg < pages; pg++) {
            buf_reset(&b);
            buf_printf(&b, "{\"kind\":\"IngressList\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":"
                           "{\"resourceVersion\":\"99999\"");
            if (pg + 1 < pages) buf_printf(&b, ",\"continue\":\"page-%d\"", pg + 1);
            buf_puts(&b, "},\"items\":[");
            for (int i = pg * page; i < count && i < (pg + 1) * page; i++) {
                if (i > pg * page) buf_putc(&b, ',');
                gen_ingress(&b, i);
            }
            buf_puts(&b, "]}");
            bytes_served += b.len;
            if (server_pid == 0) fake_reply(&srv, 200, "", b.data);
        }
        buf_free(&b);
        if (server_pid == 0) {
            struct buf w;
            buf_init(&w);
            for (int i = 0; i < count && strcmp(mode, "watch") == 0; i++) {
                struct buf obj;
                buf_init(&obj);
                gen_ingress(&obj, i);
                /* same object, next resourceVersion: "resourceVersion":"<1000+i>" -> "<200000+i>" */
                char from[48], to[48];
                snprintf(from, sizeof(from), "\"resourceVersion\":\"%d\"", 1000 + i);
                snprintf(to, sizeof(to), "\"resourceVersion\":\"%d\"", 200000 + i);
                char *at = strstr(obj.data, from);
                buf_puts(&w, "{\"type\":\"MODIFIED\",\"object\":");
                buf_append(&w, obj.data, (size_t)(at - obj.data));
                buf_puts(&w, to);
                buf_puts(&w, at + strlen(from));
                buf_puts(&w, "}\n");
                buf_free(&obj);
            }
            fake_stream(&srv, buf_cstr(&w), 0, 1); /* the informer's watch */
            buf_free(&w);
            fake_start(&srv);
            for (;;) pause();
        }
        close(srv.fd);
        snprintf(local, sizeof(local), "http://127.0.0.1:%d", srv.port);
        url = local;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct kube_config *cfg;
    struct kube_client *cli;
    struct err e;
    if (kube_config_new_plain(url, NULL, &cfg, &e) < 0 || kube_client_new(&loop, cfg, NULL, &cli, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    struct kube_resource res = {.group = "networking.k8s.io", .version = "v1", .resource = "ingresses"};
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    struct kube_informer *inf = NULL;
    watch_mode = strcmp(mode, "watch") == 0;
    want_updates = (size_t)count;
    if (watch_mode && url != local) {
        fprintf(stderr, "--mode watch needs the built-in server\n");
        return 2;
    }
    if (strcmp(mode, "informer") == 0 || watch_mode) {
        struct kube_informer_opts io = {.res = res, .page_size = page};
        struct kube_informer_cbs cbs = {.on_synced = on_synced, .on_update = on_update};
        kube_informer_start(cli, &io, &cbs, &inf, &inf);
    } else {
        struct kube_list_opts o = {.res = res, .limit = page, .timeout_ms = 60000};
        kube_list_start(cli, &o, on_list, NULL, NULL);
    }
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    struct mallinfo2 mi = mallinfo2();
    printf("mode=%s objects=%zu page=%d wall_s=%.3f cpu_s=%.3f peak_rss_mib=%.1f heap_live_mib=%.1f served_mib=%.1f\n",
           mode, got, page, t_end - t0, cpu, (double)ru1.ru_maxrss / 1024.0, (double)mi.uordblks / (1024.0 * 1024.0),
           (double)bytes_served / (1024.0 * 1024.0));
    /* The machine-readable rows tests/bench/run_all.py puts in the benchmark table (tests/bench/result.py). */
    printf("RESULT {\"name\": \"kube client %s of %zu Ingresses, wall\", \"value\": %.0f, \"unit\": \"ms\", "
           "\"better\": \"lower\"}\n", mode, got, (t_end - t0) * 1e3);
    printf("RESULT {\"name\": \"kube client %s of %zu Ingresses, peak RSS\", \"value\": %.1f, \"unit\": \"MiB\", "
           "\"better\": \"lower\"}\n", mode, got, (double)ru1.ru_maxrss / 1024.0);
    if (watch_mode)
        printf("watch events=%zu apply_s=%.3f events_per_s=%.0f\n", updates, t_end - t_sync,
               (double)updates / (t_end - t_sync));
    if (inf) kube_informer_stop(inf);
    kube_client_close(cli);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    kube_config_free(cfg);
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    return got == (size_t)count ? 0 : 1;
}
