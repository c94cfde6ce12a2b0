/* Failure detail (diag.h): the message, the file offset and the system's code. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"

int diag_set(struct vdsshim_diag *diag, int status, uint64_t file_offset, const char *fmt, ...)
{
    char msg[sizeof(diag->msg)];
    va_list ap;

    if (!diag) return status;
    /* Formatted aside first: a caller may pass diag->msg itself as an
     * argument ("what failed: %s", the inner reason), and vsnprintf into a
     * buffer it also reads is undefined (it garbled "footer copy at offset 0:
     * ..." in a test's output). */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(diag->msg, msg, sizeof(msg));
    diag->file_offset = file_offset;
    diag->sys_error = 0;
    return status;
}

int diag_io(struct vdsshim_diag *diag, struct vdsshim_io *io, int status, uint64_t file_offset,
            const char *what)
{
    if (!diag) return status;
    diag_set(diag, status, file_offset, "%s at offset %llu: %s", what,
             (unsigned long long)file_offset, io && io->fail_reason ? io->fail_reason : vdsshim_strerror(status));
    diag->sys_error = io ? io->last_error : 0;
    return status;
}

int diag_file_error(struct vdsshim_diag *diag, struct vdsshim_io *tmp, int status, const char *path,
                    const char *what)
{
    if (!diag) return status;
    diag_set(diag, status, 0, "%s %s: %s", what, path, tmp->fail_reason ? tmp->fail_reason : vdsshim_strerror(status));
    diag->sys_error = tmp->last_error;
    return status;
}
