/* Logging through OutputDebugStringA (WINEDEBUG=+debugstr shows it); the level
 * comes from VDSSHIM_DEBUG (0 off, 1 errors, 2 warnings, 3 traces; default 1). */
#ifndef VDSSHIM_DEBUG_H
#define VDSSHIM_DEBUG_H

void debug_init(void);
void debug_printf(int level, const char *func, const char *fmt, ...) __attribute__((format(gnu_printf, 3, 4)));
const char *debugstr_guid(const GUID *g);
const char *debugstr_w(const WCHAR *s);

#define ERR(...)   debug_printf(1, __func__, __VA_ARGS__)
#define WARN(...)  debug_printf(2, __func__, __VA_ARGS__)
#define TRACE(...) debug_printf(3, __func__, __VA_ARGS__)

#endif
