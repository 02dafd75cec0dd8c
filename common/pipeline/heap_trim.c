/* heap_trim (see heap_trim.h): glibc's malloc_trim, timed in the debug log. */
#include "common/pipeline/heap_trim.h"

#include <malloc.h>

#include "common/clock.h"
#include "common/log.h"

void heap_trim(const char *moment)
{
    int64_t t0 = clock_mono_ms();
    int released = malloc_trim(0);
    log_debug("heap trimmed", "moment", moment, "released", released ? "yes" : "no", "ms",
              LOG_INT(clock_mono_ms() - t0));
}
