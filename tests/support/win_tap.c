/* TAP checks for the PE test clients (win_tap.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "win_tap.h"

int passed, failed, todo;

static void report(const char *verdict, const char *directive, int line, const char *fmt, va_list ap)
{
    printf("%s %d - ", verdict, passed + failed + todo);
    vprintf(fmt, ap);
    if (line) printf(" (line %d)", line);
    if (directive) printf(" %s", directive);
    printf("\n");
    fflush(stdout);
}

void ok_(int cond, int line, const char *fmt, ...)
{
    va_list ap;

    if (cond) passed++;
    else failed++;
    va_start(ap, fmt);
    report(cond ? "ok" : "not ok", NULL, cond ? 0 : line, fmt, ap);
    va_end(ap);
}

void todo_(int cond, int line, const char *fmt, ...)
{
    va_list ap;

    if (cond) failed++;
    else todo++;
    va_start(ap, fmt);
    report("not ok", cond ? "- passed inside todo_vdsshim: the deviation is gone, remove the mark" : "# TODO known deviation",
           line, fmt, ap);
    va_end(ap);
}

static int name_is(wchar_t *arg, const char *name)
{
    char text[64];

    snprintf(text, sizeof(text), "%ls", arg);
    return !strcmp(text, name);
}

int tap_selected(const char *name, wchar_t **names, int count)
{
    int k;

    for (k = 0; k < count && !name_is(names[k], name); k++) {}
    if (count && k == count) return 0;
    printf("# test %s\n", name);
    fflush(stdout);
    return 1;
}

int tap_names_known(const char *const *known, int n, wchar_t **names, int count)
{
    int i, k;

    for (k = 0; k < count; k++)
    {
        for (i = 0; i < n && !name_is(names[k], known[i]); i++) {}
        if (i < n) continue;
        fprintf(stderr, "unknown test '%ls'; the tests are:", names[k]);
        for (i = 0; i < n; i++) fprintf(stderr, " %s", known[i]);
        fprintf(stderr, "\n");
        return 0;
    }
    return 1;
}

int tap_finish(void)
{
    printf("1..%d\n%d passed, %d failed, %d todo\n", passed + failed + todo, passed, failed, todo);
    fflush(stdout);
    return failed ? 1 : 0;
}
