/* The reconciler role: watches the declared resources, keeps indexed stores and debounces changes into deltas.
 * Runs on every replica, leader or not. This is its process shell (IPC, heartbeats, shutdown); the
 * pipeline work joins it in the pipeline issue. */
#include "common/worker.h"
#include "supervisor/roles.h"

int reconciler_main(int argc, char **argv)
{
    return worker_main(argc, argv, NULL, NULL, NULL, NULL);
}
