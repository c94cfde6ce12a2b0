/* Engine internals shared by the format modules. Not installed. */
#ifndef VDSSHIM_ENGINE_H
#define VDSSHIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "endian.h"
#include "vdsshim.h"
#include "vdsshim_io.h"

#if defined(__MINGW32__)
#define ENGINE_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define ENGINE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ENGINE_PRINTF(f, a)
#endif

/* Deepest parent chain accepted; deeper is reported as a loop or corruption. */
#define ENGINE_MAX_CHAIN 64

/* The Win32 backend's lock byte, far past any real data: Windows byte-range
 * locks are mandatory, so locking real data would block other readers. The
 * POSIX backend tests it too, to see a vdsshim running under Wine. */
#define WIN32_LOCK_OFFSET (1ull << 62)

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

/* Largest buffer the engine streams through at once. */
#define ENGINE_IO_CHUNK (4u << 20)
/* How far the zero scan reads ahead of the block it checks: deep enough that
 * a cold disk always has requests queued (one block ahead left it idle
 * between reads: 1.88x the floor on the bench's VHDX). */
#define ENGINE_READ_AHEAD (32u << 20)

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

struct progress;
struct fsmap;

struct image_ops
{
    int (*read)(struct vdsshim_image *img, uint64_t off, void *buf, size_t len,
                struct vdsshim_diag *diag);
    /* fsmap: the guest's free space for a file-system-aware run, else NULL. */
    int (*compact)(struct vdsshim_image *img, const struct vdsshim_compact_options *opts, struct fsmap *fsmap,
                   struct vdsshim_compact_result *res, struct vdsshim_diag *diag);
    void (*destroy)(struct vdsshim_image *img);
    /* Grow the virtual size (dynamic disks; the caller has checked the type and size). */
    int (*expand)(struct vdsshim_image *img, uint64_t new_size, struct progress *progress,
                  struct vdsshim_diag *diag);
    /* Which 512-byte units of [off, off + len) this file defines itself (1) rather
     * than leaving to its parent (0); off and len are 512-byte multiples. */
    int (*present)(struct vdsshim_image *img, uint64_t off, size_t len, uint8_t *units,
                   struct vdsshim_diag *diag);
    /* Write the 512-byte units of buf marked in units into [off, off + len), which
     * lies inside one block; allocates the block if needed. Data is durable
     * before any metadata that makes it visible. */
    int (*write_units)(struct vdsshim_image *img, uint64_t off, const uint8_t *buf, size_t len,
                       const uint8_t *units, struct vdsshim_diag *diag);
    /* After a series of writes: leave the file clean for other readers (a VHDX
     * log marked empty, so read-only readers need not replay it). May be NULL. */
    int (*settle)(struct vdsshim_image *img, struct vdsshim_diag *diag);
    /* Make the virtual size smaller (blocks past it released); NULL where the
     * format cannot do it crash-safely. */
    int (*shrink)(struct vdsshim_image *img, uint64_t new_size, struct vdsshim_diag *diag);
};

/* What a parent lookup has seen so far, to refuse loops. */
struct chain_ctx
{
    unsigned depth;                         /* 0 for the image the user opened */
    uint8_t ids[ENGINE_MAX_CHAIN][16];      /* unique ids of the images below */
    const char *paths[ENGINE_MAX_CHAIN];    /* and their paths (NULL if opened over an io) */
};

struct vdsshim_image
{
    const struct image_ops *ops;
    struct vdsshim_io *io;
    char *path;                     /* as given; for resolving relative parent paths */
    unsigned flags;
    struct vdsshim_info info;
    struct vdsshim_image *parent;   /* NULL unless a differencing disk with parents open */
    uint8_t linkage_id[16];         /* what a child's parent link names: VHDX DataWriteGuid */
    /* What a read-write open already reclaimed (a VHD's unreferenced tail),
     * counted by the next compaction: its size before and the bytes written. */
    struct { uint64_t size_before, bytes_written; } open_trim;
    void *fmt;                      /* format state */
};

/* Test seam: when set, image_open gets its files here (crash tests of merges,
 * whose target is a parent the engine opens by path). */
extern _Thread_local int (*image_open_file_hook)(const char *path, int writable, struct vdsshim_io **out);

/* Open a file as an image (format probe included); used for parents too. */
int image_open(const char *path, unsigned flags, const struct chain_ctx *chain,
               struct vdsshim_image **out, struct vdsshim_diag *diag);

/* What vdsshim_create works from: the caller's parameters with defaults
 * applied, and what the parent dictates for a child. */
struct create_spec
{
    struct vdsshim_create_params p;     /* sizes final; parent_path as given */
    uint8_t unique_id[16];              /* VHD unique id / VHDX virtual disk id */
    /* Differencing only. */
    const struct vdsshim_image *parent;
    char *parent_absolute;              /* UTF-8, this platform's absolute form */
    char *parent_relative;              /* UTF-8, Windows form from the child's directory: .\name */
};

int vhd_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag);
int vhdx_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag);
/* The timestamp a VHD child records for this parent (its footer's). */
uint32_t vhd_parent_timestamp(const struct vdsshim_image *parent);

/* UTF-8 to UTF-16 code units (host order); *n gets the count. NULL on bad UTF-8. */
uint16_t *utf8_to_utf16(const char *s, size_t *n);

/* Format entry points: take over img->io; fill info, ops, fmt, parent. */
int vhd_open(struct vdsshim_image *img, const struct chain_ctx *chain, struct vdsshim_diag *diag);
int vhdx_open(struct vdsshim_image *img, const struct chain_ctx *chain, struct vdsshim_diag *diag);

/* Parent candidates are tried in order; the first that opens and matches wins. */
struct parent_candidate
{
    char *path;     /* UTF-8, resolved against the child's directory */
};

/*
 * Open the parent of img from candidate paths (NULL entries are skipped).
 * matches() checks the parent's identity (unique id / DataWriteGuid). On
 * success img->parent is set. info.parent_path gets the first usable
 * candidate either way; with VDSSHIM_OPEN_NO_PARENTS nothing is opened.
 */
int image_open_parent(struct vdsshim_image *img, const struct parent_candidate *cands, size_t n,
                      const struct chain_ctx *chain,
                      int (*matches)(const struct vdsshim_image *child,
                                     const struct vdsshim_image *parent),
                      struct vdsshim_diag *diag);

/* What the parent chain shows at [off, off + len): zeros past the parent's end;
 * VDSSHIM_E_PARENT_NOT_FOUND if the chain was not opened. */
int image_read_parent(struct vdsshim_image *img, uint64_t off, void *buf, size_t len, struct vdsshim_diag *diag);

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

/* UTF-16 (host order code units) to UTF-8; invalid units become U+FFFD. */
char *utf16_to_utf8(const uint16_t *s, size_t n);

/* Progress reporting that never goes backwards and asks for cancellation. */
struct progress
{
    vdsshim_progress_fn fn;
    void *ctx;
    unsigned last;
};
/* Report done/total scaled into [lo, hi]; VDSSHIM_E_CANCELLED if the callback asks. */
int progress_report(struct progress *p, unsigned lo, unsigned hi, uint64_t done, uint64_t total);

int buffer_is_zero(const uint8_t *buf, size_t len);

/* How many bytes of block moves go between two durable steps (a flush and
 * the BAT commit) when the options leave it 0: fewer flushes, each later. */
#define ENGINE_MOVE_BATCH_BYTES (256ull << 20)
static inline uint64_t move_batch_bytes(const struct vdsshim_compact_options *opts)
{
    return opts->move_batch_bytes ? opts->move_batch_bytes : ENGINE_MOVE_BATCH_BYTES;
}

/* The copy at the heart of a conversion (convert.c): what src's guest reads,
 * written into dst (a new, empty image opened for writing, of the same
 * virtual size or larger), durable when it returns VDSSHIM_OK. */
int convert_copy(struct vdsshim_image *src, struct vdsshim_image *dst, struct progress *progress,
                 struct vdsshim_diag *diag);

/* File data by extents (file_ranges.c). What a block move did, by path. */
struct move_stats
{
    uint64_t bytes_read, bytes_written;     /* through user space */
    uint64_t bytes_copied;                  /* by the kernel (copy_file_range) */
    uint64_t bytes_cloned;                  /* extents shared, nothing copied (reflink) */
    uint64_t bytes_punched;                 /* holes the source had, made holes at the target */
    int no_copy_range, no_punch;            /* the backend refused once: not asked again */
};
/* len bytes at off, the host file's holes as zeros without reading them;
 * *bytes_read grows by what was read. */
int file_read_data(struct vdsshim_io *io, void *buf, size_t len, uint64_t off, uint64_t *bytes_read);
/* [from, from + len) to to (ranges apart): the data extents copied (in the
 * kernel where the backend can), holes punched (or written as zeros). On
 * failure *fail_at is the offset concerned. Durable only after a flush. */
int file_move_range(struct vdsshim_io *io, uint64_t from, uint64_t to, uint64_t len, uint8_t *buf, size_t buflen,
                    struct move_stats *s, uint64_t *fail_at);

/* Buffers the engine streams file data through: page aligned, because the
 * kernel copies into an aligned buffer several times faster (measured: a 2 GiB
 * scan from page cache, 0.53 s -> 0.12 s). Free with io_buffer_free. */
void *io_buffer_alloc(size_t size);
void io_buffer_free(void *p);

#endif /* VDSSHIM_ENGINE_H */
