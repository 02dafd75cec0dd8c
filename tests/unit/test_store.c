#include "tests/unit/unit.h"
Suite *suite_under_test(void) { return suite_create("store"); }
