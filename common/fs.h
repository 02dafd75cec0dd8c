/* Small file-system helpers shared by the roles. */
#ifndef HTIC_FS_H
#define HTIC_FS_H

#include <stddef.h>

/* Creates dir and every missing parent (mode 0755), like `mkdir -p`. Returns 0, or -errno with the path
 * that could not be created copied into failed (may be NULL). */
int fs_mkdir_p(const char *dir, char *failed, size_t failed_len);

#endif
