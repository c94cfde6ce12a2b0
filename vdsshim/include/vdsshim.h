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

#define VDSSHIM_VERSION_STRING "0.1.0"      /* equals project(VERSION): CMake refuses to configure otherwise */

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
    X(E_CANCELLED, "operation cancelled")                                      \
    X(E_EXISTS, "file already exists")

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
/* With VDSSHIM_OPEN_WRITE: also open the first n parents read-write (n <= 255),
 * as VDS's ReadWriteDepth n + 1 does. Merge writes into a parent. */
#define VDSSHIM_OPEN_PARENTS_WRITE(n) (((unsigned)(n) & 0xffu) << 8)
#define VDSSHIM_OPEN_PARENTS_WRITE_DEPTH(flags) (((flags) >> 8) & 0xffu)

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
 * On Linux both also take qemu's lock bytes (io_posix_qemu_lock.c), so a
 * qemu process using the image and vdsshim refuse each other. Only regular
 * files open (VDSSHIM_E_UNKNOWN_FORMAT at once for a FIFO, device or directory).
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
/* The parent the image opened (owned by img), or NULL: none, or VDSSHIM_OPEN_NO_PARENTS. */
struct vdsshim_image *vdsshim_parent(struct vdsshim_image *img);

/* Read len bytes of the virtual disk at offset, through BAT, bitmaps and parents. */
int vdsshim_read(struct vdsshim_image *img, uint64_t offset, void *buf, size_t len,
                 struct vdsshim_diag *diag);

/* Progress in percent (0..100, never decreasing). Return non-zero to cancel. */
typedef int (*vdsshim_progress_fn)(void *ctx, unsigned percent);

/* Compaction flags; values mirror virtdisk's COMPACT_VIRTUAL_DISK_FLAG_*. */
#define VDSSHIM_COMPACT_NO_ZERO_SCAN   0x1u  /* reclaim only structurally unused blocks */
#define VDSSHIM_COMPACT_NO_BLOCK_MOVES 0x2u  /* reclaim by BAT only: no relocation, no truncation */
/* Also reclaim blocks that hold only space the guest's file systems mark free
 * (NTFS, FAT12/16/32, exFAT, ext2/3/4; in MBR or GPT partitions or a
 * whole-disk volume).
 * What the guest reads there may change from stale data to zeros (or the
 * parent's stale data); every file and all file-system metadata read the same. */
#define VDSSHIM_COMPACT_FS_AWARE       0x4u
/* Write nothing (the image may be open read-only): scan, map and plan as a
 * real run would, and fill the result with what it would do: size_after,
 * blocks dropped and moved, and each volume's reclaimed bytes equal a real
 * run's on the same image; bytes_written is 0. */
#define VDSSHIM_COMPACT_DRY_RUN        0x8u

#define VDSSHIM_MAX_FS_REPORTS 16

/* One volume looked at by a file-system-aware compaction. */
struct vdsshim_fs_report
{
    char volume[32];                /* "MBR 1", "GPT 2", "whole disk" */
    char fs[16];                    /* "ext4", "FAT32", ... or "unknown" */
    uint64_t offset, size;          /* in the virtual disk */
    uint64_t free_bytes;            /* free space the file system reports, as mapped */
    uint64_t reclaimed;             /* bytes of dropped blocks inside this volume */
    int used;                       /* 0: fell back to the offline mode for this volume */
    char reason[120];               /* why it fell back */
};

/* One line for a report: "MBR 1: ext4, N bytes free, M reclaimed", or
 * "MBR 1: NTFS, offline mode: REASON". */
void vdsshim_fs_report_text(const struct vdsshim_fs_report *r, char *buf, size_t len);

struct vdsshim_compact_options
{
    unsigned flags;
    vdsshim_progress_fn progress;
    void *progress_ctx;
    /* Added after 0.1. At most this many bytes of block moves between two
     * durable steps (a flush, then the BAT that points at the moved blocks);
     * 0: 256 MiB. Smaller means more flushes and less work redone after a cut. */
    uint64_t move_batch_bytes;
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
    unsigned fs_report_count;       /* VDSSHIM_COMPACT_FS_AWARE: the volumes found */
    struct vdsshim_fs_report fs_reports[VDSSHIM_MAX_FS_REPORTS];
    /* Added after 0.1 (callers must be rebuilt; the struct is not size-versioned before 1.0). */
    uint64_t bytes_copied;          /* block moves the kernel copied (copy_file_range): not in bytes_read/written */
    uint64_t bytes_cloned;          /* block moves done by sharing extents (reflink): nothing copied */
    uint64_t bytes_punched;         /* holes of moved blocks kept as holes at their new place */
    uint64_t flushes;               /* durable steps (flushes) the run took */
    uint64_t host_allocated_before; /* bytes the host file system held for the file, before */
    uint64_t host_allocated_after;  /* and after; both 0 where the backend cannot say */
};

/*
 * Compact an image opened with VDSSHIM_OPEN_WRITE, in place. What the guest
 * reads never changes. Every prefix of the write sequence leaves a valid
 * image; an interrupted run is finished by running again. Fixed disks give
 * VDSSHIM_E_WRONG_TYPE, a cancelled run VDSSHIM_E_CANCELLED.
 */
int vdsshim_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts,
                    struct vdsshim_compact_result *result, struct vdsshim_diag *diag);

/* Options of the long-running operations other than compaction. */
struct vdsshim_op_options
{
    vdsshim_progress_fn progress;
    void *progress_ctx;
};

/*
 * Make a dynamic VHDX smaller (ResizeVirtualDisk to a smaller size): the
 * blocks wholly past new_size are released, the size changes atomically
 * through the log, and a metadata-only compaction gives the space back.
 * What lies past new_size is lost: check vdsshim_smallest_safe_size first
 * unless the user allows it. new_size: whole logical sectors, above 0 and
 * below the virtual size (else VDSSHIM_E_INVALID_ARG). A VHD:
 * VDSSHIM_E_UNSUPPORTED (its BAT and footer sizes would change apart); a
 * fixed or differencing disk: VDSSHIM_E_WRONG_TYPE.
 */
int vdsshim_shrink(struct vdsshim_image *img, uint64_t new_size, const struct vdsshim_op_options *opts,
                   struct vdsshim_diag *diag);

/* What vdsshim_create makes. Zero fields take the documented defaults. */
struct vdsshim_create_params
{
    enum vdsshim_format format;         /* VHD or VHDX */
    enum vdsshim_disk_type type;        /* FIXED, DYNAMIC or DIFFERENCING (needs parent_path) */
    uint64_t virtual_size;              /* bytes; 0 for a child: the parent's size */
    uint32_t block_size;                /* 0: 2 MiB (VHD), 32 MiB (VHDX dynamic and fixed), 2 MiB (VHDX child) */
    uint32_t logical_sector_size;       /* VHDX: 512 or 4096 (0: 512, a child: the parent's); VHD: 512 */
    uint32_t physical_sector_size;      /* VHDX: 512 or 4096 (0: 4096); VHD: 512 */
    const char *parent_path;            /* UTF-8; locators get it relative and absolute */
    const uint8_t *unique_id;           /* 16 bytes as stored (VHD unique id, VHDX disk id); NULL: random */
};

/*
 * Create an image file. The file must not exist. The file becomes a valid
 * image with its last write (the VHD footer or the VHDX file identifier), so
 * an interrupted create leaves no file that opens. Fixed images are allocated
 * by extending the file (zeros, sparse where the file system allows).
 */
int vdsshim_create(const char *path, const struct vdsshim_create_params *params, struct vdsshim_diag *diag);
/* The same over a caller-supplied empty I/O object (tests); io is closed. */
int vdsshim_create_io(struct vdsshim_io *io, const char *path, const struct vdsshim_create_params *params,
                      struct vdsshim_diag *diag);

/*
 * Grow the virtual size of a dynamic image opened with VDSSHIM_OPEN_WRITE to
 * new_size bytes (a whole number of logical sectors). What the guest reads
 * below the old size never changes; the new space reads zeros. Crash-safe:
 * every prefix of the writes leaves an image of the old or the new size.
 * Fixed and differencing disks give VDSSHIM_E_WRONG_TYPE; shrinking gives
 * VDSSHIM_E_INVALID_ARG.
 */
int vdsshim_expand(struct vdsshim_image *img, uint64_t new_size, const struct vdsshim_op_options *opts,
                   struct vdsshim_diag *diag);

struct vdsshim_merge_result
{
    uint64_t bytes_merged;              /* guest bytes copied into the target */
    uint64_t blocks_allocated;          /* blocks the target had to allocate */
};

/*
 * Merge a differencing image and its first depth - 1 parents into parent
 * number depth (1: the direct parent), which must have been opened
 * read-write (VDSSHIM_OPEN_PARENTS_WRITE(depth) or more). Only sectors the
 * merged images hold are written into the target, and only with what the
 * child reads there, so every prefix of the writes leaves the chain reading
 * the same content through the child. The child and the parents in between
 * are not changed; afterwards the target alone reads as the child did.
 */
int vdsshim_merge(struct vdsshim_image *img, unsigned depth, const struct vdsshim_op_options *opts,
                  struct vdsshim_merge_result *result, struct vdsshim_diag *diag);

/* Who an image is (identity.c). Ids in Microsoft's GUID layout. */
struct vdsshim_identity
{
    uint8_t id[16];                 /* what a child's link names: VHD unique id, VHDX DataWriteGuid */
    uint8_t disk_id[16];            /* VHD unique id, VHDX VirtualDiskId */
    int has_parent;                 /* a differencing disk whose link the engine read */
    uint8_t parent_id[16];          /* the parent's id as this child names it */
    int has_parent_timestamp;       /* VHD only */
    uint32_t parent_timestamp;      /* the parent's time stamp when linked: seconds since 2000-01-01 UTC */
};
int vdsshim_get_identity(const struct vdsshim_image *img, struct vdsshim_identity *out);

/*
 * The percentage (0..100) of the blocks holding file space that do not start
 * where the block before them in virtual order ends (fragmentation.c; 0 for
 * a fixed disk): virtdisk's FRAGMENTATION.
 */
int vdsshim_fragmentation(const struct vdsshim_image *img, unsigned *percent);

/*
 * The smallest virtual size that keeps every partition whole (and, for GPT,
 * room for its backup entries and header after the last one); the virtual
 * size itself for a file system on the whole disk. VDSSHIM_E_UNSUPPORTED
 * when the disk has no partition table the engine reads.
 */
int vdsshim_smallest_safe_size(struct vdsshim_image *img, uint64_t *size, struct vdsshim_diag *diag);

/*
 * VHDX user metadata items (metadata.c). list fills up to max ids
 * (ids may be NULL) and gives the number of items; get copies an item into
 * buf only when cap holds it, and always gives its size. A VHD has none:
 * VDSSHIM_E_WRONG_TYPE; an unknown id VDSSHIM_E_NOT_FOUND.
 */
int vdsshim_metadata_list(const struct vdsshim_image *img, uint8_t (*ids)[16], unsigned max, unsigned *count);
int vdsshim_metadata_get(struct vdsshim_image *img, const uint8_t id[16], void *buf, uint32_t cap, uint32_t *size,
                         struct vdsshim_diag *diag);
/*
 * Add or replace a user item (size at most 1 MiB, 0 allowed), or delete
 * one, in an image opened with VDSSHIM_OPEN_WRITE; crash-safe: a power cut
 * leaves the old item or the new one. An all-zero id, or the id of one of
 * the file's own items, is VDSSHIM_E_INVALID_ARG; a full table or region
 * VDSSHIM_E_NOSPC; deleting an unknown id VDSSHIM_E_NOT_FOUND.
 */
int vdsshim_metadata_set(struct vdsshim_image *img, const uint8_t id[16], const void *data, uint32_t size,
                         struct vdsshim_diag *diag);
int vdsshim_metadata_delete(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag);
/*
 * A VHDX's virtual disk id (its Page 83 Data, 16 bytes as stored) and its
 * physical sector size (512 or 4096), changed in place, crash-safely. A VHD
 * has neither item: VDSSHIM_E_WRONG_TYPE.
 */
int vdsshim_set_virtual_disk_id(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag);
/*
 * Point a differencing disk at another parent file (SetVirtualDiskInformation
 * PARENT_PATH). The parent must open with its chain and be of the child's
 * format, size and logical sector size; the child then names it (a VHDX:
 * its DataWriteGuid, relative and absolute paths in the parent locator; a
 * VHD: its unique id, time stamp and paths in the dynamic header), switched
 * atomically. A chain that was open follows the new parent. No parent:
 * VDSSHIM_E_WRONG_TYPE; a missing parent: VDSSHIM_E_PARENT_NOT_FOUND; a VHD
 * with a Xen batmap: VDSSHIM_E_UNSUPPORTED.
 */
int vdsshim_set_parent(struct vdsshim_image *img, const char *parent_path, struct vdsshim_diag *diag);
/* The same with a given linkage id (the parent's DataWriteGuid, or a VHD
 * parent's unique id, in GUID form) and path, the parent not opened
 * (PARENT_LOCATOR; a VHD keeps its parent time stamp); an open chain is
 * closed: its parent-backed reads fail until the image is opened again. */
int vdsshim_set_parent_locator(struct vdsshim_image *img, const uint8_t linkage_id[16], const char *parent_path,
                               struct vdsshim_diag *diag);
/*
 * A disk's identifier (what children link to: a VHDX's DataWriteGuid, a
 * VHD's unique id), changed atomically (SetVirtualDiskInformation
 * IDENTIFIER): a power cut leaves the old one or the new one. Children made
 * from the disk no longer match it until vdsshim_set_parent relinks them.
 * id is in the form vdsshim_get_identity gives it.
 */
int vdsshim_set_identifier(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag);
int vdsshim_set_physical_sector_size(struct vdsshim_image *img, uint32_t size, struct vdsshim_diag *diag);

/*
 * Make dst_path a new image of params' format and type (fixed or dynamic)
 * that reads as src_path's guest does (its parents included): VHD <-> VHDX,
 * dynamic <-> fixed. virtual_size 0 keeps the source's (a larger one reads
 * zeros past it); the logical sector size must stay the source's. dst_path
 * must not exist (VDSSHIM_E_EXISTS); it appears, complete and flushed, with
 * the last step, a rename, so an interrupted conversion leaves none.
 */
int vdsshim_convert(const char *src_path, const char *dst_path, const struct vdsshim_create_params *params,
                    const struct vdsshim_op_options *opts, struct vdsshim_diag *diag);

#ifdef __cplusplus
}
#endif

#endif /* VDSSHIM_H */
