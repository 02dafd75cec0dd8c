/* The renderer role: holds the compiled templates and a replica of the stores, renders each generation.
 * Runs on every replica, leader or not. This is its process shell (IPC, heartbeats, shutdown); the
 * pipeline work joins it in the pipeline issue. */
#include "common/worker.h"
#include "supervisor/roles.h"

int renderer_main(int argc, char **argv)
{
    return worker_main(argc, argv, NULL, NULL, NULL, NULL);
}
