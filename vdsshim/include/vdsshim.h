/*
 * vdsshim: in-place, crash-safe compaction of VHD and VHDX files.
 *
 * Public API of the portable engine. Plain C11, no platform headers: file
 * access goes through struct vdsshim_io (vdsshim_io.h), which has POSIX and
 * Win32 backends plus a fault-injecting one for tests.
 *
 * Every function returns a vdsshim status (0 = VDSSHIM_OK). Where a
 * struct vdsshim_diag is passed, a failure fills it with a one-line reason
 * naming the field, its file offset and its value.
 */
#ifndef VDSSHIM_H
#define VDSSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses: one list, expanded into the enum, names and messages (status.c). */
#define VDSSHIM_STATUS_MAP(X)                                                   \
    X(OK, "success")                                                            \
    X(E_INVALID_ARG, "invalid argument")                                        \
    X(E_NOMEM, "out of memory")                                                 \
    X(E_IO, "I/O error")                                                        \
    X(E_NOSPC, "no space left on device")                                       \
    X(E_NOT_FOUND, "file not found")                                            \
    X(E_ACCESS, "permission denied")                                            \
    X(E_UNKNOWN_FORMAT, "not a VHD or VHDX file")                               \
    X(E_CORRUPT, "image is corrupt")                                            \
    X(E_UNSUPPORTED, "image uses an unsupported feature")                       \
    X(E_WRONG_TYPE, "operation not possible on this type of virtual disk")      \
    X(E_PARENT_NOT_FOUND, "parent of the differencing disk not found")          \
    X(E_PARENT_MISMATCH, "parent does not match the differencing disk")         \
    X(E_IN_USE, "file is in use by another process")                            \
    X(E_READONLY, "image is opened read-only")                                  \
    X(E_CANCELLED, "operation cancelled")

enum vdsshim_status
{
#define VDSSHIM_STATUS_ENUM(name, msg) VDSSHIM_##name,
    VDSSHIM_STATUS_MAP(VDSSHIM_STATUS_ENUM)
#undef VDSSHIM_STATUS_ENUM
    VDSSHIM_STATUS_COUNT
};

const char *vdsshim_status_name(int status);   /* "E_CORRUPT" */
const char *vdsshim_strerror(int status);      /* "image is corrupt" */

/* Failure detail, filled at the failure site. */
struct vdsshim_diag
{
    char msg[200];          /* one line, no trailing newline */
    uint64_t file_offset;   /* where the offending field or I/O was; 0 if none */
    uint32_t sys_error;     /* raw errno or Win32 error for I/O failures, else 0 */
};

enum vdsshim_format
{
    VDSSHIM_FORMAT_VHD = 1,
    VDSSHIM_FORMAT_VHDX = 2,
};

enum vdsshim_disk_type
{
    VDSSHIM_DISK_FIXED = 2,         /* same values as the VHD footer's disk type */
    VDSSHIM_DISK_DYNAMIC = 3,
    VDSSHIM_DISK_DIFFERENCING = 4,
};

/* vdsshim_open flags. */
#define VDSSHIM_OPEN_WRITE       0x1u  /* read-write, exclusive lock; trims unreferenced trailing space */
#define VDSSHIM_OPEN_NO_PARENTS  0x2u  /* do not open the parent chain (parent-backed reads fail) */

struct vdsshim_image;
struct vdsshim_io;

struct vdsshim_info
{
    enum vdsshim_format format;
    enum vdsshim_disk_type type;
    uint64_t virtual_size;          /* bytes the guest sees */
    uint64_t file_size;             /* bytes the file holds */
    uint32_t block_size;            /* bytes of payload per block (0 for fixed VHD) */
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    uint64_t block_count;           /* blocks the disk is divided into */
    uint64_t blocks_allocated;      /* blocks that hold file space */
    uint8_t unique_id[16];          /* VHD unique id / VHDX virtual disk id, as stored */
    char creator[64];               /* creator application, printable */
    int has_parent;
    int parent_open;                /* the chain was opened (not VDSSHIM_OPEN_NO_PARENTS) */
    char parent_path[1024];         /* resolved path, or the best locator entry if not opened */
    unsigned chain_depth;           /* 1 for a disk with no parent */
};

/*
 * Open an image file. The path is UTF-8 on every platform. A differencing
 * disk opens its parent chain read-only unless VDSSHIM_OPEN_NO_PARENTS.
 * A read-write open takes an exclusive advisory lock (VDSSHIM_E_IN_USE at
 * once if another process holds one); read-only opens take a shared lock.
 */
int vdsshim_open(const char *path, unsigned flags, struct vdsshim_image **out,
                 struct vdsshim_diag *diag);

/*
 * Open an image over a caller-supplied I/O object (tests, fuzzing). The image
 * takes ownership of io and closes it. path is used only to resolve parent
 * locators and may be NULL with VDSSHIM_OPEN_NO_PARENTS.
 */
int vdsshim_open_io(struct vdsshim_io *io, const char *path, unsigned flags,
                    struct vdsshim_image **out, struct vdsshim_diag *diag);

void vdsshim_close(struct vdsshim_image *img);

int vdsshim_get_info(const struct vdsshim_image *img, struct vdsshim_info *info);

/* Read len bytes of the virtual disk at offset, through BAT, bitmaps and parents. */
int vdsshim_read(struct vdsshim_image *img, uint64_t offset, void *buf, size_t len,
                 struct vdsshim_diag *diag);

/* Progress in percent (0..100, never decreasing). Return non-zero to cancel. */
typedef int (*vdsshim_progress_fn)(void *ctx, unsigned percent);

/* Compaction flags; values mirror virtdisk's COMPACT_VIRTUAL_DISK_FLAG_*. */
#define VDSSHIM_COMPACT_NO_ZERO_SCAN   0x1u  /* reclaim only structurally unused blocks */
#define VDSSHIM_COMPACT_NO_BLOCK_MOVES 0x2u  /* reclaim by BAT only: no relocation, no truncation */

struct vdsshim_compact_options
{
    unsigned flags;
    vdsshim_progress_fn progress;
    void *progress_ctx;
};

struct vdsshim_compact_result
{
    uint64_t size_before;
    uint64_t size_after;
    uint64_t blocks_scanned;        /* allocated blocks looked at */
    uint64_t blocks_dropped;        /* allocated blocks given back */
    uint64_t blocks_moved;          /* live blocks relocated to lower offsets */
    uint64_t bytes_read;            /* from the image file */
    uint64_t bytes_written;         /* to the image file */
};

/*
 * Compact an image opened with VDSSHIM_OPEN_WRITE, in place. What the guest
 * reads never changes. Every prefix of the write sequence leaves a valid
 * image; an interrupted run is finished by running again. Fixed disks give
 * VDSSHIM_E_WRONG_TYPE, a cancelled run VDSSHIM_E_CANCELLED.
 */
int vdsshim_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts,
                    struct vdsshim_compact_result *result, struct vdsshim_diag *diag);

#ifdef __cplusplus
}
#endif

#endif /* VDSSHIM_H */
