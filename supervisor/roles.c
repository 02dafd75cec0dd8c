/* The role table (see roles.h), built from roles.def. */
#include "supervisor/roles.h"

#include <string.h>

static const struct role_def roles[ROLE_COUNT] = {
#define ROLE(id, n, folder, when) [ROLE_##id] = {.name = #n, .main = n##_main, .runs = when},
#include "supervisor/roles.def"
#undef ROLE
};

const struct role_def *role_get(enum role_id r) { return &roles[r]; }

const char *role_name(enum role_id r) { return roles[r].name; }

enum role_id role_find(const char *name)
{
    for (int r = 0; r < ROLE_COUNT; r++)
        if (strcmp(roles[r].name, name) == 0) return (enum role_id)r;
    return ROLE_COUNT;
}
