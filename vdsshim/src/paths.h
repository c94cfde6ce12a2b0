/* Paths: UTF-8/UTF-16, parent locators, relative Windows forms (paths.c) and the platform's absolute paths (io_posix.c, io_win32.c). Not installed. */
#ifndef VDSSHIM_PATHS_H
#define VDSSHIM_PATHS_H

#include <stddef.h>
#include <stdint.h>

/* UTF-8 to UTF-16 code units (host order); *n gets the count. NULL on bad UTF-8. */
uint16_t *utf8_to_utf16(const char *s, size_t *n);

/* UTF-16 (host order code units) to UTF-8; invalid units become U+FFFD. */
char *utf16_to_utf8(const uint16_t *s, size_t n);

/* Turn a UTF-16 locator path into a UTF-8 path usable on this platform,
 * resolved against the child's directory if relative. NULL if unusable. */
char *locator_path_resolve(const char *child_path, const uint16_t *wpath, size_t wlen);

/* The same for a UTF-8 path. NULL if unusable here (a drive-letter path off Windows). */
char *path_resolve_utf8(const char *child_path, const char *path);

/* The parent's path relative to the child's directory, as Windows writes
 * it in locators (".\\parent.vhdx", "..\\base\\p.vhdx"); NULL if none (paths.c). */
char *path_relative_windows(const char *child_abs, const char *parent_abs);

/* The absolute form of a UTF-8 path, which need not exist yet (its directory
 * must); platform code (io_posix.c, io_win32.c). NULL if it cannot be made. */
char *platform_path_absolute(const char *path);
/* Whether two paths name the same existing file (links and symlinks seen through). */
int platform_same_file(const char *a, const char *b);
#ifndef _WIN32
char *platform_path_absolute_join(const char *dir, const char *name);
#endif

#endif /* VDSSHIM_PATHS_H */
