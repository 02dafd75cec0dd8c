/* The validator role: checks each rendered generation with the real haproxy -c in a private scratch directory.
 * Runs on every replica, leader or not. This is its process shell (IPC, heartbeats, shutdown); the
 * pipeline work joins it in the pipeline issue. */
#include "common/worker.h"
#include "supervisor/roles.h"

int validator_main(int argc, char **argv)
{
    return worker_main(argc, argv, NULL, NULL, NULL, NULL);
}
