/*
 * vdsshim I/O layer: every byte the engine reads or writes goes through here,
 * so tests can count operations, fail any one of them, or cut the power.
 */
#ifndef VDSSHIM_IO_H
#define VDSSHIM_IO_H

#include <stddef.h>
#include <stdint.h>

#include "vdsshim.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdsshim_io;

struct vdsshim_io_ops
{
    /* Exactly len bytes at off; reading past the end is VDSSHIM_E_IO. */
    int (*read_at)(struct vdsshim_io *io, void *buf, size_t len, uint64_t off);
    /* Exactly len bytes at off; writing past the end extends the file. */
    int (*write_at)(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off);
    /* Make every completed write durable. */
    int (*flush)(struct vdsshim_io *io);
    int (*get_size)(struct vdsshim_io *io, uint64_t *size);
    int (*set_size)(struct vdsshim_io *io, uint64_t size);
    /* Advisory whole-file lock, never waits: VDSSHIM_E_IN_USE if held elsewhere.
     * Exclusive for changing the image, shared for reading it; on Linux also
     * qemu's lock bytes, so a VM using the image and vdsshim exclude each other. */
    int (*lock)(struct vdsshim_io *io, int exclusive);
    void (*close)(struct vdsshim_io *io);

    /* Optional operations (NULL: the backend has none; the engine then
     * reads and writes). They were added after 0.1: a backend built against
     * 0.1's header must be rebuilt, this table is not size-versioned before 1.0. */

    /* Copy len bytes of the file from src to dst (ranges apart) without a
     * user-space copy: *how says VDSSHIM_COPY_CLONED (extents now shared, no
     * data written) or VDSSHIM_COPY_COPIED (the kernel copied them).
     * VDSSHIM_E_UNSUPPORTED: nothing was done, read and write instead. Like
     * a write, the result is durable only after flush. */
    int (*copy_range)(struct vdsshim_io *io, uint64_t src, uint64_t dst, uint64_t len, int *how);
    /* Make [off, off + len) read as zeros and give its space back to the host
     * (a hole); the size does not change. Durable after flush, like a write.
     * VDSSHIM_E_UNSUPPORTED: nothing was done. */
    int (*punch)(struct vdsshim_io *io, uint64_t off, uint64_t len);
    /* Where the host file has data: *data is the first byte of data at or
     * after off (the file size if none), *hole the first hole after *data. */
    int (*next_data)(struct vdsshim_io *io, uint64_t off, uint64_t *data, uint64_t *hole);
    /* The bytes the host file system has allocated to the file. */
    int (*allocated)(struct vdsshim_io *io, uint64_t *bytes);
    /* A hint: [off, off + len) will be read soon; start reading it now. */
    int (*prefetch)(struct vdsshim_io *io, uint64_t off, uint64_t len);
};

#define VDSSHIM_COPY_COPIED 1
#define VDSSHIM_COPY_CLONED 2

struct vdsshim_io
{
    const struct vdsshim_io_ops *ops;
    uint32_t last_error;    /* errno / Win32 error of the last failure, for diagnostics */
    const char *lock_holder; /* after lock() gave VDSSHIM_E_IN_USE: who holds it ("qemu", ...) */
    const char *fail_reason; /* after a failure the status says too little about: "read-only file system" */
    uint64_t flushes;       /* successful vdsshim_io_flush calls (counted there, not by backends) */
};

/* The platform's file backend (io_posix.c or io_win32.c). path is UTF-8. */
int vdsshim_io_open_file(const char *path, int writable, struct vdsshim_io **out);

/* Why this thread's last vdsshim_io_open_file or vdsshim_io_create_file failed,
 * where the status alone does not say ("is a FIFO, not a disk image file",
 * "read-only file system"); NULL otherwise. Only regular files open:
 * anything else is VDSSHIM_E_UNKNOWN_FORMAT, without waiting. */
const char *vdsshim_io_open_reason(void);
/* The system's own code for that failure (errno, or the Win32 error), 0 if
 * there was none (the file opened, or was refused by its type). */
uint32_t vdsshim_io_open_error(void);

/* Create a new file (VDSSHIM_E_EXISTS if there is one), opened read-write. */
int vdsshim_io_create_file(const char *path, struct vdsshim_io **out);

/* Delete a file (IVdsOpenVDisk::DetachAndDelete, a failed create or conversion); diag (may be
 * NULL) gets the reason and the system error, as for every engine call. */
int vdsshim_delete_file(const char *path, struct vdsshim_diag *diag);
/* Rename from to to, durably, never replacing a file at to (VDSSHIM_E_EXISTS). */
int vdsshim_rename_file(const char *from, const char *to);

/* Cryptographic-quality random bytes from the platform (new VHDX GUIDs). */
int vdsshim_random_bytes(void *buf, size_t len);

/* An in-memory file. The initial contents are copied; data may be NULL. */
int vdsshim_io_open_mem(const void *data, size_t size, struct vdsshim_io **out);
/* The current contents of a memory file (valid until the next write or close). */
const uint8_t *vdsshim_io_mem_data(struct vdsshim_io *io, size_t *size);

static inline int vdsshim_io_read(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    return io->ops->read_at(io, buf, len, off);
}

static inline int vdsshim_io_write(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    return io->ops->write_at(io, buf, len, off);
}

static inline int vdsshim_io_flush(struct vdsshim_io *io)
{
    int st = io->ops->flush(io);

    if (!st) io->flushes++;
    return st;
}
static inline int vdsshim_io_size(struct vdsshim_io *io, uint64_t *s) { return io->ops->get_size(io, s); }
static inline int vdsshim_io_truncate(struct vdsshim_io *io, uint64_t s) { return io->ops->set_size(io, s); }
static inline int vdsshim_io_lock(struct vdsshim_io *io, int ex) { return io->ops->lock(io, ex); }
/* The optional operations, VDSSHIM_E_UNSUPPORTED where the backend has none. */
static inline int vdsshim_io_copy_range(struct vdsshim_io *io, uint64_t src, uint64_t dst, uint64_t len, int *how)
{
    return io->ops->copy_range ? io->ops->copy_range(io, src, dst, len, how) : VDSSHIM_E_UNSUPPORTED;
}
static inline int vdsshim_io_punch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    return io->ops->punch ? io->ops->punch(io, off, len) : VDSSHIM_E_UNSUPPORTED;
}
static inline int vdsshim_io_next_data(struct vdsshim_io *io, uint64_t off, uint64_t *data, uint64_t *hole)
{
    return io->ops->next_data ? io->ops->next_data(io, off, data, hole) : VDSSHIM_E_UNSUPPORTED;
}
static inline int vdsshim_io_allocated(struct vdsshim_io *io, uint64_t *bytes)
{
    return io->ops->allocated ? io->ops->allocated(io, bytes) : VDSSHIM_E_UNSUPPORTED;
}
static inline int vdsshim_io_prefetch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    return io->ops->prefetch ? io->ops->prefetch(io, off, len) : VDSSHIM_E_UNSUPPORTED;
}
static inline void vdsshim_io_close(struct vdsshim_io *io) { if (io) io->ops->close(io); }

#ifdef __cplusplus
}
#endif

#endif /* VDSSHIM_IO_H */
