/* The commentator: turns each event a child reports ({"type":"event","event":NAME,"fields":{...}}) into one
 * log line a person can read, keeping the fields as keys. Unknown events are logged as they come. */
#include <string.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

struct phrase {
    const char *event;
    enum log_level level;
    const char *text;
};

static const struct phrase phrases[] = {
    {"LeaderElectionStarted", LOG_LEVEL_INFO, "leader election started, contending for the lease"},
    {"BecameLeader", LOG_LEVEL_INFO, "🎖️ became leader: this replica now deploys"},
    {"LostLeadership", LOG_LEVEL_WARN, "⚠️ lost leadership: deployer stopped, still watching as follower"},
    {"NewLeaderObserved", LOG_LEVEL_INFO, "new leader observed"},
};

/* Bounded: an event with more fields than this has the rest left out of the line. */
#define COMMENTATOR_MAX_FIELDS 16

void commentator_on_event(const char *role, struct json_object *msg)
{
    const char *event = ipc_msg_str(msg, "event");
    if (!event) return;
    const char *text = event;
    enum log_level level = LOG_LEVEL_INFO;
    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
        if (strcmp(phrases[i].event, event) == 0) {
            text = phrases[i].text;
            level = phrases[i].level;
        }
    }
    const char *pairs[2 * (COMMENTATOR_MAX_FIELDS + 2)];
    int n = 0;
    pairs[2 * n] = "event";
    pairs[2 * n + 1] = event;
    n++;
    pairs[2 * n] = "from";
    pairs[2 * n + 1] = role;
    n++;
    struct json_object *fields;
    if (json_object_object_get_ex(msg, "fields", &fields) && json_object_is_type(fields, json_type_object)) {
        json_object_object_foreach(fields, k, v) {
            if (n >= COMMENTATOR_MAX_FIELDS + 2) break;
            pairs[2 * n] = k;
            pairs[2 * n + 1] = json_object_get_string(v);
            n++;
        }
    }
    log_write_pairs(level, text, pairs, n);
}
