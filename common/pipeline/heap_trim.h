/* Giving freed heap back to the kernel after the pipeline's big transient structures: the reconciler's
 * json-c trees of list pages (about 12 MB for a page of 500 EndpointSlices), the renderer's render buffers
 * and view (tens of MB at 10k Ingresses), the executor's parsed 31k-object changed list of a first
 * candidate. glibc keeps what is freed in the middle of its heap (only the top is given back on free), so a
 * role that peaked once stays at its peak: at 10k Ingresses that was 70 MiB of the reconciler's 104.
 * malloc_trim(0) returns every free page (madvise), whatever its place.
 * Not for: the hot path (a trim walks the free lists: call it once per render or listing, not per object),
 * bounding memory (that is each structure's own limit). */
#ifndef HTIC_PIPELINE_HEAP_TRIM_H
#define HTIC_PIPELINE_HEAP_TRIM_H

/* Returns free heap pages to the kernel; moment names the caller's occasion in the debug log. */
void heap_trim(const char *moment);

#endif
