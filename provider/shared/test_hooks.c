/* Test hooks of the job workers (test_hooks.h). */
#include <string.h>

#include "test_hooks.h"
#include "debug.h"

void test_hold_job(HANDLE stop)
{
    HANDLE hold, handles[2];
    char value[4];

    if (!GetEnvironmentVariableA("VDSSHIM_TEST_HOOKS", value, sizeof(value)) || strcmp(value, "1")) return;
    if (!(hold = OpenEventW(SYNCHRONIZE, FALSE, L"vdsshim-test-hold-jobs"))) return;
    TRACE("job held by the test hook.\n");
    handles[0] = hold;
    handles[1] = stop;
    WaitForMultipleObjects(stop ? 2 : 1, handles, FALSE, INFINITE);
    CloseHandle(hold);
}
