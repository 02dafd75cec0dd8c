/* The supervisor: PID 1 in the pod, the main PID under systemd. It starts the workers and the elector,
 * runs the deployer only while this replica leads, restarts crashed children, serves HTTP, and orders the
 * shutdown. This header is shared by the supervisor's own files only. */
#ifndef HTIC_SUPERVISOR_H
#define HTIC_SUPERVISOR_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

#include "common/http/http_server.h"
#include "common/term.h"
#include "supervisor/child.h"
#include "supervisor/reaper.h"
#include "supervisor/roles.h"
#include "supervisor/router.h"

/* What the supervisor needs from the configuration, filled by supervisor_opts_from_config. */
struct supervisor_opts {
    char config_path[PATH_MAX];     /* for messages; the bytes come from config_fd */
    int config_fd;                  /* sealed memfd snapshot of the config, inherited by every child */
    int election_enabled;
    char identity[TERM_IDENTITY_MAX + 1];
    char lease_name[256];
    char http_address[64];
    int http_port;                  /* 0: pick a free port (tests) */
    char run_dir[PATH_MAX];
    int64_t shutdown_timeout_ms;    /* total bound of the ordered shutdown */
    int64_t lease_duration_ms;      /* for /healthz (healthz.h) */
    int64_t retry_period_ms;
};

enum shutdown_stage { RUNNING, STOPPING_DEPLOYER, STOPPING_ELECTOR, STOPPING_WORKERS, STOPPED };

struct leadership {
    int is_leader;                  /* the deployer may run */
    int elector_claims;             /* the elector said became_leader and has not said lost_leadership */
    char term[TERM_MAX];            /* common/term.h: identity#leaseTransitions, as the elector reported it */
    char observed_leader[TERM_HOLDER_MAX + 1]; /* last holder the elector saw (foreign ones shortened) */
    int64_t fence_ms;               /* monotonic; -1: no fence (election disabled) */
    int64_t sleep_ms;               /* CLOCK_BOOTTIME - CLOCK_MONOTONIC when the fence's write was sent */
    int64_t became_ms;              /* monotonic time leadership began */
    int64_t last_renew_ms;          /* monotonic time of the last renewed report */
    double time_as_leader_s;        /* finished terms only; the running one is added when read */
    uint64_t transitions;
    struct json_object *elector_report; /* owned: the elector's last election_report, for /debug/vars */
    int elector_waits;              /* elector wants deployer_stopped once the deployer is reaped */
    uv_timer_t fence_timer;
};

/* "sha256:" + 64 hex digits + NUL, with room to spare. */
#define CONFIG_RUNTIME_CHECKSUM_MAX 80

/* The running config's identity and the reload machinery (config_reload.c). */
struct config_runtime {
    char checksum[CONFIG_RUNTIME_CHECKSUM_MAX];      /* of the running snapshot's bytes */
    char snapshot_path[PATH_MAX];                    /* <run_dir>/config/<hex>.yaml sent to children; "" at first */
    char prev_path[PATH_MAX];                        /* the one before it, kept until the next reload */
    int64_t loaded_at_wall_ms;
    struct json_object *last_refused;                /* owned: {at, trigger, problems: [...]}, NULL if none */
    char refused_checksum[CONFIG_RUNTIME_CHECKSUM_MAX]; /* of the file's bytes last refused */
    char applied[ROLE_COUNT][CONFIG_RUNTIME_CHECKSUM_MAX]; /* what each role started with or last applied */
    int respawn[ROLE_COUNT];                         /* stopped to take a new config: spawn again when reaped */
    uv_timer_t poll;                                 /* looks at the file (stat) */
    uv_timer_t debounce;                             /* loads it once it stopped changing */
    struct stat seen;                                /* the file as last looked at (stat, symlinks followed) */
    int ready;                                       /* handles initialised */
};

struct supervisor_metrics {
    struct metrics_registry *reg;   /* owned */
    struct metric_family *restarts, *up, *uptime, *is_leader, *transitions, *time_as_leader, *info;
    struct metric_family *config_reloads;
    double time_as_leader_reported; /* what the counter holds, so a scrape adds only the difference */
    char info_holder[TERM_HOLDER_MAX + 1]; /* lease_holder label of the info series now at 1 */
};

struct supervisor {
    uv_loop_t *loop;
    struct supervisor_opts opts;
    char exe[PATH_MAX];
    struct child children[ROLE_COUNT];
    struct leadership lead;
    struct config *cfg;             /* owned: the running config (replaced by an accepted reload) */
    struct http_server http;
    struct supervisor_metrics metrics;
    struct router router;           /* which child's message goes where (supervisor.c's route table) */
    struct json_object *deploy_report;  /* owned: the deployer's last deploy_report, /debug/vars "deploy" */
    struct json_object *pipeline;   /* owned: the executor's last pipeline_report body, for /debug/vars */
    struct config_runtime rt;       /* the running config's checksum, reloads, the file watch */

    uv_signal_t sigterm, sigint;
    uv_signal_t sighup;             /* reload the config (config_runtime_reload) */
    uv_signal_t sig_ignored[3];     /* SIGUSR1, SIGUSR2, SIGALRM: logged, never fatal */
    uv_timer_t monitor_timer;       /* hung children, watchdog */
    uv_timer_t stage_timer;         /* bound of the current shutdown stage */
    uv_timer_t bound_timer;         /* total shutdown bound */
    struct reaper reaper;           /* PID 1 only: orphans of the namespace */
    enum shutdown_stage stage;
    int escalated;
    int exit_status;
    int ready_sent;                 /* READY=1 went out (once) */
    int children_up_logged;         /* "all children up" was logged (once; readiness may come later) */
    int pipeline_ready;             /* latched: a pipeline_report had synced and an LKG (readiness.h) */
    int64_t started_ms;
    int64_t watchdog_interval_ms;   /* 0: no systemd watchdog */
    int64_t last_watchdog_ms;
    uint64_t restarts_total;
};

/* options.c */
struct config;
/* Loads the config file; on problems prints them all and returns -1. *cfg is the supervisor's (freed by
 * supervisor_run). */
int supervisor_opts_load(const char *config_path, struct supervisor_opts *o, struct config **cfg);
/* A reload: snapshots and validates the same file again, with every check plus the settings a running
 * supervisor cannot change (controller.http, run_dir, the whole of controller.leader_election: the elector
 * runs on and is never restarted by a reload). cur_cfg is the running config.
 * Returns 0 with next and *cfg filled (the caller owns both), or -1 with every problem in errs. */
struct err_list;
int supervisor_opts_reload(const struct supervisor_opts *cur, const struct config *cur_cfg,
                           struct supervisor_opts *next, struct config **cfg, struct err_list *errs);
int supervisor_run(const struct supervisor_opts *opts, struct config *cfg);
/* The roles that must run for the replica to be ready (the deployer is not one: it follows leadership). */
int supervisor_expects_child(const struct supervisor *s, enum role_id r);

/* leadership.c: the deployer lives and dies with leadership. */
void leadership_init(struct supervisor *s);
/* Disabled mode: starts the deployer for good. Enabled: waits for the elector. */
void leadership_start(struct supervisor *s);
/* The elector's messages (route handlers, see router.h). */
void leadership_on_became_leader(struct supervisor *s, enum role_id from, struct json_object *msg);
void leadership_on_renewed(struct supervisor *s, enum role_id from, struct json_object *msg);
void leadership_on_lost_leadership(struct supervisor *s, enum role_id from, struct json_object *msg);
void leadership_on_new_leader_observed(struct supervisor *s, enum role_id from, struct json_object *msg);
void leadership_on_election_report(struct supervisor *s, enum role_id from, struct json_object *msg);
void leadership_on_elector_hello(struct supervisor *s);
void leadership_on_elector_exit(struct supervisor *s);
void leadership_on_deployer_exit(struct supervisor *s);
void leadership_on_deployer_hello(struct supervisor *s);
double leadership_time_as_leader(const struct supervisor *s);
void leadership_close(struct supervisor *s);

/* config_reload.c: configuration at run time. */
/* Checksums the running snapshot and starts watching the file's directory. 0, or -1 (not starting). */
int config_runtime_start(struct supervisor *s);
/* SIGHUP or a debounced file change: validate, and on success switch to it and tell the running roles. */
void config_runtime_reload(struct supervisor *s, const char *trigger);
/* The route handler of a role's `config_applied`: a role that could not apply it is restarted. */
void config_runtime_on_applied(struct supervisor *s, enum role_id from, struct json_object *msg);
/* A child was reaped: one stopped for a new config is spawned again. */
void config_runtime_on_child_exit(struct supervisor *s, enum role_id r);
/* Adds checksum, loaded_at, last_refused and applied to /debug/vars' "config" object. */
void config_runtime_describe(const struct supervisor *s, struct json_object *cfg);
void config_runtime_close(struct supervisor *s);
void config_runtime_free(struct supervisor *s);

/* http_api.c: /healthz, /readyz, /metrics, /debug/vars. */
int http_api_start(struct supervisor *s);
void http_api_close(struct supervisor *s);

/* metrics.c: the supervisor's registry, its own figures and the children's merged reports. */
int supervisor_metrics_init(struct supervisor *s);
void supervisor_metrics_close(struct supervisor *s);
void supervisor_metrics_child_restarted(struct supervisor *s, const char *role);
void supervisor_metrics_became_leader(struct supervisor *s);
/* result: applied, refused, unchanged */
void supervisor_metrics_config_reload(struct supervisor *s, const char *result);
void supervisor_metrics_on_report(struct supervisor *s, const char *role, struct json_object *msg);
void supervisor_metrics_serve(struct supervisor *s, struct http_request *req);

/* commentator.c: one human-readable log line per event a child reports. */
void commentator_on_event(const char *role, struct json_object *msg);

/* sd_notify.c: the systemd notify protocol, if NOTIFY_SOCKET is set. */
int sd_notify_send(const char *state);
int64_t sd_watchdog_interval_ms(void);

#endif
