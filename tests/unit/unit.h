/* Every unit-test file defines suite_under_test(); check_main.c runs it in TAP mode. */
#ifndef HTIC_TEST_UNIT_H
#define HTIC_TEST_UNIT_H
#include <check.h>
Suite *suite_under_test(void);
#endif
