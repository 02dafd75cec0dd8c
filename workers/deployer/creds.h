/* The Data Plane API credentials the deployer's targets share: a user name with a password file (read at
 * each use, as before), or a Kubernetes Secret (haproxy.dataplane.credentials_secret) that only the deployer
 * reads, with its own API client: GET at start, then again when a target is answered 401 (the password was
 * rotated) or when the last read failed (a Secret created late), at most once per CREDS_REREAD_MIN_MS. The
 * password lives in this process's memory only: never logged, never in an error text, zeroed when replaced.
 * Not for: sending requests (target_dpapi.c), the API client itself (common/kube/). */
#ifndef HTIC_DEPLOYER_CREDS_H
#define HTIC_DEPLOYER_CREDS_H

#include <stddef.h>
#include <uv.h>

#include "common/err.h"

/* A user name: dataplaneapi user names are short; 256 leaves room for any reasonable one. */
#define CREDS_USER_MAX 256
/* The password file or Secret key holds one password, not a document. */
#define CREDS_PASSWORD_MAX 1024
/* A Secret is a few hundred bytes; the API caps objects at 1 MiB. */
#define CREDS_SECRET_BODY_MAX (1u << 20)
/* Least time between two reads of the Secret: a wrong password answered 401 by every pod must not become a
 * Secret GET per request; a rotation is still followed within a second. */
#define CREDS_REREAD_MIN_MS 1000
/* The Secret GET's deadline: the API answers a GET in milliseconds; 10 s covers a slow control plane. */
#define CREDS_READ_TIMEOUT_MS 10000

struct creds;
struct config;
/* The read that a caller waited for ended (whatever its result): compare creds_version to see a change. */
typedef void (*creds_cb)(void *data);

/* From username + password_file. NULL when out of memory. */
struct creds *creds_new_file(const char *username, const char *password_file);
/* From cfg's haproxy.dataplane.credentials_secret, with its own client built from controller.kubernetes;
 * the first read starts now. -1 with e filled when the client cannot be made. */
int creds_new_secret(uv_loop_t *loop, const struct config *cfg, struct creds **out, struct err *e);
/* 1 once the first read ended (always for a file): pushes wait for it rather than fail at start. */
int creds_ready(const struct creds *c);
/* Calls cb once when the first read ends; never if it has already ended (creds_ready). */
void creds_on_ready(struct creds *c, creds_cb cb, void *data);
/* The current user name and password. 0, or -1 with e saying why, naming the Secret or the file (and, for
 * a Secret whose last read failed, a new read is started for the next attempt). */
int creds_get(struct creds *c, char *user, size_t un, char *pw, size_t pn, struct err *e);
/* Changes whenever the user name or password read changed. */
unsigned long creds_version(const struct creds *c);
/* After a 401: reads the Secret again (CREDS_REREAD_MIN_MS after the last read at the earliest, one read
 * for every caller waiting) and calls cb when that read ends. 0 when cb will be called; -1 when there is
 * nothing to wait for (a password file, read at each use anyway). */
int creds_reread(struct creds *c, creds_cb cb, void *data);
/* Forgets every waiting cb with this data (a target being freed). */
void creds_cancel(struct creds *c, void *data);
/* "Secret ns/name" or "password_file /path", for messages. */
const char *creds_source(const struct creds *c);
void creds_free(struct creds *c);

/* Pure, for tests: takes the two keys of a Secret object (base64 in .data) into user and pw. 0, or -1 with
 * e saying which key is missing or malformed (never a value). */
struct json_object;
int creds_from_secret(struct json_object *secret, const char *user_key, const char *password_key, char *user,
                      size_t un, char *pw, size_t pn, struct err *e);

#endif
