/* TAP checks for the PE test clients (win_tap.h). */
#include <stdarg.h>
#include <stdio.h>

#include "win_tap.h"

int passed, failed;

void ok_(int cond, int line, const char *fmt, ...)
{
    va_list ap;

    if (cond) passed++;
    else failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", passed + failed);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!cond) printf(" (line %d)", line);
    printf("\n");
    fflush(stdout);
}
