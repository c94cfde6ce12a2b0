/* An open image: its format's operations, its parent chain, and how images are opened (image.c). Not installed. */
#ifndef VDSSHIM_IMAGE_H
#define VDSSHIM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vdsshim.h"
#include "vdsshim_io.h"

/* Deepest parent chain accepted; deeper is reported as a loop or corruption. */
#define ENGINE_MAX_CHAIN 64

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

/* How many bytes of block moves go between two durable steps (a flush and
 * the BAT commit) when the options leave it 0: fewer flushes, each later. */
#define ENGINE_MOVE_BATCH_BYTES (256ull << 20)
static inline uint64_t move_batch_bytes(const struct vdsshim_compact_options *opts)
{
    return opts->move_batch_bytes ? opts->move_batch_bytes : ENGINE_MOVE_BATCH_BYTES;
}

#endif /* VDSSHIM_IMAGE_H */
