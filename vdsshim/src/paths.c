/* Parent-locator paths: UTF-16 to UTF-8, and resolving against the child. */
#include <stdlib.h>
#include <string.h>

#include "paths.h"

char *utf16_to_utf8(const uint16_t *s, size_t n)
{
    char *out = malloc(n * 3 + 1), *o = out;
    size_t i;

    if (!out) return NULL;
    for (i = 0; i < n; i++)
    {
        uint32_t c = s[i];

        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000)
        {
            c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00);
            i++;
        }
        else if (c >= 0xd800 && c < 0xe000)
            c = 0xfffd;     /* unpaired surrogate */

        if (c < 0x80) *o++ = (char)c;
        else if (c < 0x800)
        {
            *o++ = (char)(0xc0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000)
        {
            *o++ = (char)(0xe0 | c >> 12);
            *o++ = (char)(0x80 | (c >> 6 & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
        else
        {
            *o++ = (char)(0xf0 | c >> 18);
            *o++ = (char)(0x80 | (c >> 12 & 0x3f));
            *o++ = (char)(0x80 | (c >> 6 & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = 0;
    return out;
}

static int is_windows_absolute(const char *p)
{
    return (((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
        || (p[0] == '\\' && p[1] == '\\');
}

char *locator_path_resolve(const char *child_path, const uint16_t *wpath, size_t wlen)
{
    char *p, *out;

    while (wlen && !wpath[wlen - 1]) wlen--;    /* some writers include the NUL */
    if (!wlen || !(p = utf16_to_utf8(wpath, wlen))) return NULL;
    out = path_resolve_utf8(child_path, p);
    free(p);
    return out;
}

char *path_resolve_utf8(const char *child_path, const char *path)
{
    char *p, *out, *q;
    size_t dirlen = 0, i;

    if (!path || !path[0] || !(p = malloc(strlen(path) + 1))) return NULL;
    strcpy(p, path);

#ifdef _WIN32
    for (q = p; *q; q++) if (*q == '/') *q = '\\';
    if (is_windows_absolute(p)) return p;
#else
    if (is_windows_absolute(p))
    {
        /* A drive-letter path names nothing on this host. */
        free(p);
        return NULL;
    }
    for (q = p; *q; q++) if (*q == '\\') *q = '/';
    if (p[0] == '/') return p;
#endif

    /* Relative: to the directory of the child. */
    q = p;
    while ((q[0] == '.' && (q[1] == '/' || q[1] == '\\'))) q += 2;
    if (child_path)
        for (i = 0; child_path[i]; i++)
            if (child_path[i] == '/' || child_path[i] == '\\') dirlen = i + 1;
    if (!(out = malloc(dirlen + strlen(q) + 1)))
    {
        free(p);
        return NULL;
    }
    memcpy(out, child_path, dirlen);
    strcpy(out + dirlen, q);
    free(p);
    return out;
}

uint16_t *utf8_to_utf16(const char *s, size_t *n)
{
    size_t len = strlen(s), i = 0, k = 0;
    uint16_t *out = malloc((len + 1) * sizeof(uint16_t));

    if (!out) return NULL;
    while (i < len)
    {
        const unsigned char *p = (const unsigned char *)s + i;
        uint32_t c;
        unsigned extra;

        if (p[0] < 0x80) { c = p[0]; extra = 0; }
        else if ((p[0] & 0xe0) == 0xc0) { c = p[0] & 0x1f; extra = 1; }
        else if ((p[0] & 0xf0) == 0xe0) { c = p[0] & 0x0f; extra = 2; }
        else if ((p[0] & 0xf8) == 0xf0) { c = p[0] & 0x07; extra = 3; }
        else goto bad;
        if (i + extra >= len + (extra ? 0 : 1)) goto bad;
        for (unsigned j = 1; j <= extra; j++)
        {
            if ((p[j] & 0xc0) != 0x80) goto bad;
            c = c << 6 | (p[j] & 0x3f);
        }
        i += extra + 1;
        if (c >= 0x10000)
        {
            c -= 0x10000;
            out[k++] = (uint16_t)(0xd800 | c >> 10);
            out[k++] = (uint16_t)(0xdc00 | (c & 0x3ff));
        }
        else
            out[k++] = (uint16_t)c;
    }
    out[k] = 0;
    *n = k;
    return out;

bad:
    free(out);
    return NULL;
}

static int rel_is_sep(char c) { return c == '/' || c == '\\'; }

/*
 * The parent's path relative to the child's directory, Windows style as
 * Windows writes it: ".\parent.vhdx" beside the child, "..\base\p.vhdx"
 * elsewhere. NULL when there is none (another drive).
 */
char *path_relative_windows(const char *child_abs, const char *parent_abs)
{
    size_t common = 0, i, ups = 0, len;
    const char *rest;
    char *out, *o;

    /* The longest common prefix ending at a separator, compared per character
     * (Windows paths compare case-insensitively, but a mismatch only costs the
     * relative locator its shortest form). */
    for (i = 0; child_abs[i] && child_abs[i] == parent_abs[i]; i++)
        if (rel_is_sep(child_abs[i])) common = i + 1;
    if (!common) return NULL;
    for (i = common; child_abs[i]; i++)
        if (rel_is_sep(child_abs[i])) ups++;
    rest = parent_abs + common;
    len = (ups ? ups * 3 : 2) + strlen(rest) + 1;
    if (!(out = malloc(len))) return NULL;
    o = out;
    if (!ups) { *o++ = '.'; *o++ = '\\'; }
    for (i = 0; i < ups; i++) { *o++ = '.'; *o++ = '.'; *o++ = '\\'; }
    for (; *rest; rest++) *o++ = *rest == '/' ? '\\' : *rest;
    *o = 0;
    return out;
}
