/* Go-style durations ("500ms", "15s", "1m30s", "2h") to milliseconds and back. */
#ifndef HTIC_DURATION_H
#define HTIC_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses a non-negative duration; units ns, us, ms, s, m, h, several may follow each other; fractions
 * allowed ("1.5s"). A bare "0" is accepted. Returns 0, or -1 with a reason in why (may be NULL). */
int duration_parse_ms(const char *s, int64_t *out_ms, const char **why);
/* Formats like Go's time.Duration.String() at millisecond precision: "1m30s", "500ms", "0s". */
void duration_format_ms(int64_t ms, char *out, size_t n);

#endif
