/* The discovery role: finds the HAProxy targets (pods by label, or a static list) and reports them to the deployer.
 * Runs on every replica, leader or not. This is its process shell (IPC, heartbeats, shutdown); the
 * pipeline work joins it in the pipeline issue. */
#include "common/worker.h"
#include "supervisor/roles.h"

int discovery_main(int argc, char **argv)
{
    return worker_main(argc, argv, NULL, NULL, NULL, NULL);
}
