/* The verdict that needs no haproxy -c: a generation whose files are those of a generation already found
 * valid, byte for byte, except haproxy.cfg, whose only differences are servers on their slots changing
 * address, port, weight or ready/maint state (common/haproxy/diff.h's fast-lane rule). Those are exactly the
 * values HAProxy's runtime API changes on a running worker without any check, and diff.c accepts only IP
 * literals, ports 1-65535 and weights 0-256, so haproxy -c could not refuse what it accepted before; it
 * would only spend 0.1 s at 1k Ingresses and 1 s at 10k on every endpoint change, the largest part of the
 * fast lane's event-to-traffic latency. Not for: deciding which request runs (queue.c) or running checks. */
#ifndef HTIC_VALIDATOR_SLOTS_H
#define HTIC_VALIDATOR_SLOTS_H

#include <stddef.h>

/* Compares generation checksum with base_checksum under <run_dir>/gen/ (both verified on disk). Returns 1
 * when checksum is base plus slot changes only, 0 when it is not (why says the first difference), -1 when
 * either cannot be read (why says which; the caller runs haproxy -c as usual). */
int slots_only_change(const char *run_dir, const char *base_checksum, const char *checksum, char *why, size_t n);

#endif
