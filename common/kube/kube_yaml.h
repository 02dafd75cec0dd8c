/* Minimal YAML-to-JSON reading for kubeconfig files: mappings, sequences and scalars become json-c objects
 * (plain true/false become booleans, every other scalar a string). Anchors and aliases are refused.
 *
 * Not a general YAML library: the controller's own config has its loader in common/config. */
#ifndef HTIC_KUBE_YAML_H
#define HTIC_KUBE_YAML_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/err.h"

/* A kubeconfig is a few KiB; 4 MiB bounds what a wrong path (a log file, a device) makes us read. */
#define KUBE_YAML_FILE_MAX (4u << 20)
/* Nesting deeper than this is not a kubeconfig and would only cost stack. */
#define KUBE_YAML_DEPTH_MAX 64

/* Parses text; an empty document gives an empty object. On error fills e with the line and column. */
int kube_yaml_parse(const char *text, size_t len, const char *file, struct json_object **out, struct err *e);
/* Reads and parses a file (at most KUBE_YAML_FILE_MAX bytes). */
int kube_yaml_load_file(const char *path, struct json_object **out, struct err *e);

#endif
