/* The elector role: holds or contends for the Lease and reports leadership to the supervisor.
 * Placeholder process shell until the elector lands (issue 4): it never claims leadership. */
#include "common/worker.h"

int elector_main(int argc, char **argv)
{
    return worker_main(argc, argv, NULL, NULL, NULL, NULL);
}
