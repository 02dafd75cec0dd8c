/* A leadership term: the holder identity and the Lease's leaseTransitions when it was acquired, written
 * "identity#transitions". The elector forms it; the supervisor and the deployer carry it and compare it as
 * an opaque string (a different string is a different term), so its size and format are defined here once
 * and no copy may cut it. Not for: parsing a term back into its parts (nobody needs them). */
#ifndef HTIC_COMMON_TERM_H
#define HTIC_COMMON_TERM_H

#include <stddef.h>
#include <stdint.h>

/* Our own identity's bound (POD_NAME, or hostname_uuid). Pod names are DNS subdomains of at most 253
 * characters and hostname_uuid is under 110; 512 leaves room for an operator's own naming while a term
 * stays small enough for one log line and one journal line. Identities written by other clients are not
 * bound by this (elector/lease.h reads any holder the API can store). */
#define TERM_IDENTITY_MAX 512
/* A holder as the elector reports it to the supervisor: our own identity, or another client's, which the
 * elector shortens beyond TERM_IDENTITY_MAX to a prefix plus length and hash (elector/lease.h). */
#define TERM_HOLDER_MAX (TERM_IDENTITY_MAX + 48)
/* leaseTransitions is an int32: "-2147483648" is the longest it prints. */
#define TERM_TRANSITIONS_LEN 11
/* The buffer every holder of a term uses: identity, '#', transitions, NUL. */
#define TERM_MAX (TERM_IDENTITY_MAX + 1 + TERM_TRANSITIONS_LEN + 1)

/* Writes "identity#transitions" into out. 0, or -1 (out = "") when identity is longer than
 * TERM_IDENTITY_MAX: a term is never formed from a cut identity. */
int term_format(char out[TERM_MAX], const char *identity, int32_t transitions);
/* Copies a term received from another process. 0, or -1 (out untouched) when it does not fit TERM_MAX:
 * a cut term could compare equal to another one. */
int term_copy(char out[TERM_MAX], const char *term);

#endif
