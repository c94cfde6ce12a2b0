/* What the platform backends (io_posix*.c, io_win32.c) share with each other. Not installed. */
#ifndef VDSSHIM_IO_PLATFORM_H
#define VDSSHIM_IO_PLATFORM_H

#include <stdint.h>

#include "vdsshim.h"
#include "vdsshim_io.h"

/* The Win32 backend's lock byte, far past any real data: Windows byte-range
 * locks are mandatory, so locking real data would block other readers. The
 * POSIX backend tests it too, to see a vdsshim running under Wine. */
#define WIN32_LOCK_OFFSET (1ull << 62)

/* Why the last open of this thread failed beyond its status: a reason for
 * the message (NULL: the status says it) and the system's code (io_open_status.c). */
extern _Thread_local const char *io_open_reason;
extern _Thread_local uint32_t io_open_error;

#ifndef _WIN32
/* qemu's lock bytes (io_posix_qemu_lock.c): VDSSHIM_E_IN_USE with *holder set,
 * VDSSHIM_E_IO with *err set, or VDSSHIM_OK. */
int posix_qemu_lock(int fd, int write, const char **holder, uint32_t *err);
/* Range operations (io_posix_ranges.c): 0 done, 1 refused by this file
 * system (nothing done), -1 failed (errno). *refused remembers refusals. */
#define POSIX_NO_CLONE 1u
#define POSIX_NO_COPY  2u
int posix_copy_range(int fd, uint64_t src, uint64_t dst, uint64_t len, unsigned *refused, int *how);
int posix_punch(int fd, uint64_t off, uint64_t len);
int posix_next_data(int fd, uint64_t off, uint64_t *data, uint64_t *hole);
int posix_allocated(int fd, uint64_t *bytes);
#endif

#endif /* VDSSHIM_IO_PLATFORM_H */
