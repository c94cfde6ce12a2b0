/* TAP checks for the PE test clients (conformance, virtdisk): "ok N - ...",
 * "not ok N - ... (line L)", and the counts for the closing line.
 *
 * todo_vdsshim(cond, ...) is Wine's todo_wine: a check of what Windows does
 * where vdsshim knowingly does otherwise (each mark says why). It fails as
 * expected: "not ok N - ... # TODO", counted in `todo`, not in `failed`. If
 * it passes, the deviation is gone and the mark is stale: that is a failure.
 *
 * Each suite's tests have names; tap_selected(name) says whether the command
 * line picked that test (no names: all of them): `suite.exe DIR NAME`
 * runs one test alone, as each test makes the fixtures it needs. */
#ifndef VDSSHIM_WIN_TAP_H
#define VDSSHIM_WIN_TAP_H

#include <wchar.h>

extern int passed, failed, todo;
void ok_(int cond, int line, const char *fmt, ...) __attribute__((format(gnu_printf, 3, 4)));
void todo_(int cond, int line, const char *fmt, ...) __attribute__((format(gnu_printf, 3, 4)));
#define ok(cond, ...) ok_((cond), __LINE__, __VA_ARGS__)
#define todo_vdsshim(cond, ...) todo_((cond), __LINE__, __VA_ARGS__)

/* Whether the command line's test names (count 0: none given, so every
 * test runs) include name; prints "# test NAME" when it does. */
int tap_selected(const char *name, wchar_t **names, int count);
/* Every one of names[0..count) is in known[0..n): else it prints the list
 * and returns 0 (a usage error). */
int tap_names_known(const char *const *known, int n, wchar_t **names, int count);
/* The closing lines ("1..N", the counts); the exit code: 1 if any failed. */
int tap_finish(void);

#endif
