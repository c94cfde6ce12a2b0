/* The string copies the COM classes hand out or give the engine. */
#include <stdlib.h>

#include "provider_private.h"

WCHAR *co_strdupW(const WCHAR *s)
{
    size_t n = (wcslen(s) + 1) * sizeof(WCHAR);
    WCHAR *d = CoTaskMemAlloc(n);

    if (d) memcpy(d, s, n);
    return d;
}

char *utf8_from_wide(const WCHAR *s)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, s, -1, NULL, 0, NULL, NULL);
    char *d = n > 0 ? malloc((size_t)n) : NULL;

    if (d) WideCharToMultiByte(CP_UTF8, 0, s, -1, d, n, NULL, NULL);
    return d;
}
