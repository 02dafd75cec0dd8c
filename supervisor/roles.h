/* The roles of the one binary, generated from supervisor/roles.def: their ids, names, entry points and when
 * each runs. supervisor/main.c dispatches --role through role_find; the supervisor spawns in table order.
 * Each role's main.c includes this header for its own entry point's prototype, nothing else.
 * Not for: how a role is started or restarted (supervisor/child.c), or when the deployer runs (leadership.c). */
#ifndef HTIC_SUPERVISOR_ROLES_H
#define HTIC_SUPERVISOR_ROLES_H

enum role_runs {
    ROLE_RUNS_ALWAYS,         /* on every replica, for as long as the supervisor runs */
    ROLE_RUNS_WITH_ELECTION,  /* only when controller.leader_election.enabled */
    ROLE_RUNS_WHILE_LEADING,  /* started and killed by leadership.c */
};

enum role_id {
#define ROLE(id, name, folder, when) ROLE_##id,
#include "supervisor/roles.def"
#undef ROLE
    ROLE_COUNT
};

/* Entry points: each returns the process exit status. */
#define ROLE(id, name, folder, when) int name##_main(int argc, char **argv);
#include "supervisor/roles.def"
#undef ROLE

struct role_def {
    const char *name;                   /* --role NAME, the process title (htic-NAME), the log's role= */
    int (*main)(int argc, char **argv);
    enum role_runs runs;
};

const struct role_def *role_get(enum role_id r);
const char *role_name(enum role_id r);
/* The role called name, or ROLE_COUNT. */
enum role_id role_find(const char *name);

#endif
