/* Shared main for Check unit-test binaries: each test file defines suite_under_test(); output is TAP so
 * meson counts every check. CK_FORK is honoured (set CK_FORK=no under valgrind). */
#include "tests/unit/unit.h"
#include <stdlib.h>


int main(void)
{
    SRunner *sr = srunner_create(suite_under_test());
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
