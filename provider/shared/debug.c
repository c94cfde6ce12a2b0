/* Debug output (see debug.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <windows.h>

#include "debug.h"

static int debug_level = 1;

void debug_init(void)
{
    char value[16];

    if (GetEnvironmentVariableA("VDSSHIM_DEBUG", value, sizeof(value)) && value[0] >= '0' && value[0] <= '9')
        debug_level = atoi(value);
}

void debug_printf(int level, const char *func, const char *fmt, ...)
{
    char line[512];
    int n;
    va_list ap;

    if (level > debug_level) return;
    n = snprintf(line, sizeof(line), "vdsshim:%s: ", func);
    if (n < 0 || n >= (int)sizeof(line)) return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    OutputDebugStringA(line);
}

/* Rotating static buffers, as Wine's debugstr helpers: fine for a log line. */
static char *debug_buffer(void)
{
    static char buffers[4][128];
    static LONG next;

    return buffers[InterlockedIncrement(&next) & 3];
}

const char *debugstr_guid(const GUID *g)
{
    char *b = debug_buffer();

    if (!g) return "(null)";
    snprintf(b, 128, "{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", (unsigned long)g->Data1, g->Data2,
             g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6],
             g->Data4[7]);
    return b;
}

const char *debugstr_w(const WCHAR *s)
{
    char *b = debug_buffer();

    if (!s) return "(null)";
    b[0] = '"';
    WideCharToMultiByte(CP_UTF8, 0, s, -1, b + 1, 120, NULL, NULL);
    b[120] = 0;
    strcat(b, "\"");
    return b;
}
