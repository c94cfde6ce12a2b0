/* TAP checks for the PE test clients (conformance, virtdisk): "ok N - ...",
 * "not ok N - ... (line L)", and the counts for the closing line. */
#ifndef VDSSHIM_WIN_TAP_H
#define VDSSHIM_WIN_TAP_H

extern int passed, failed;
void ok_(int cond, int line, const char *fmt, ...) __attribute__((format(gnu_printf, 3, 4)));
#define ok(cond, ...) ok_((cond), __LINE__, __VA_ARGS__)

#endif
