/* The test hook both DLLs' job workers share (test_hooks.c). */
#ifndef VDSSHIM_TEST_HOOKS_H
#define VDSSHIM_TEST_HOOKS_H

#include <windows.h>

/* With VDSSHIM_TEST_HOOKS=1, while the named event "vdsshim-test-hold-jobs"
 * exists and is not set, a job starting now waits, running, until it is set
 * (or until stop, if not NULL, is set): tests see running jobs without timing. */
void test_hold_job(HANDLE stop);

#endif
