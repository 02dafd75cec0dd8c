/* Lease objects on the wire: coordination.k8s.io/v1 Lease JSON to a lease_object and back.
 *
 * Reading is lenient where the API is (absent fields read as zero values, any RFC3339 time) and strict about
 * types and bounds (a holder, preferredHolder or strategy of any length the API can store is read, the
 * longer ones in a shortened form: see LEASE_FOREIGN_KEPT_MAX). Writing replaces the whole spec
 * and keeps every other part of the object we last received, as client-go does. Not for: HTTP. */
#ifndef HTIC_ELECTOR_LEASE_JSON_H
#define HTIC_ELECTOR_LEASE_JSON_H

#include <json-c/json.h>

#include "common/err.h"
#include "elector/lease.h"

/* Fills out from a Lease object. Returns 0, or -1 with e naming the field at fault. */
int lease_json_parse(struct json_object *obj, struct lease_object *out, struct err *e);
/* The spec object client-go writes for rec: holderIdentity (even ""), leaseDurationSeconds, acquireTime,
 * renewTime (MicroTime, null when unset), leaseTransitions; never strategy or preferredHolder. New ref. */
struct json_object *lease_json_spec(const struct lease_record *rec);
/* The body of a POST: a fresh Lease named name in namespace ns with rec as its spec. New ref. */
struct json_object *lease_json_for_create(const char *ns, const char *name, const struct lease_record *rec);
/* The body of a PUT: a deep copy of cached (the object last returned by the API) with its spec replaced by
 * rec and metadata.resourceVersion set to rv; managedFields are left out (the server keeps them). New ref,
 * or NULL when cached is not an object with metadata. */
struct json_object *lease_json_for_update(struct json_object *cached, const struct lease_record *rec,
                                          const char *rv);

#endif
