/* Leadership terms (see term.h). */
#include "common/term.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int term_format(char out[TERM_MAX], const char *identity, int32_t transitions)
{
    if (!identity || strlen(identity) > TERM_IDENTITY_MAX) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf(out, TERM_MAX, "%s#%" PRId32, identity, transitions);
    return n > 0 && n < TERM_MAX ? 0 : -1;
}

int term_copy(char out[TERM_MAX], const char *term)
{
    if (!term) return -1;
    size_t n = strlen(term);
    if (n >= TERM_MAX) return -1;
    memcpy(out, term, n + 1);
    return 0;
}
