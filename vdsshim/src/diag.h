/* Failure detail: what went wrong, where, and the system's code (diag.c). Not installed. */
#ifndef VDSSHIM_DIAG_H
#define VDSSHIM_DIAG_H

#include <stdint.h>

#include "vdsshim.h"
#include "vdsshim_io.h"

#if defined(__MINGW32__)
#define ENGINE_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define ENGINE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ENGINE_PRINTF(f, a)
#endif

/* Fill diag (if given) and return status. */
int diag_set(struct vdsshim_diag *diag, int status, uint64_t file_offset, const char *fmt, ...)
    ENGINE_PRINTF(4, 5);
/* An I/O failure of io at file_offset while doing what. */
int diag_io(struct vdsshim_diag *diag, struct vdsshim_io *io, int status, uint64_t file_offset,
            const char *what);

/* A failure of a call on a file by name (delete, rename): "what PATH: reason",
 * and the system error that tmp's backend recorded. */
int diag_file_error(struct vdsshim_diag *diag, struct vdsshim_io *tmp, int status, const char *path,
                    const char *what);

#endif /* VDSSHIM_DIAG_H */
