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

/* Largest buffer the engine streams through at once. */
#define ENGINE_IO_CHUNK (4u << 20)

/* Fill diag (if given) and return status. */
int diag_set(struct vdsshim_diag *diag, int status, uint64_t file_offset, const char *fmt, ...)
    ENGINE_PRINTF(4, 5);
/* An I/O failure of io at file_offset while doing what. */
int diag_io(struct vdsshim_diag *diag, struct vdsshim_io *io, int status, uint64_t file_offset,
            const char *what);

struct image_ops
{
    int (*read)(struct vdsshim_image *img, uint64_t off, void *buf, size_t len,
                struct vdsshim_diag *diag);
    int (*compact)(struct vdsshim_image *img, const struct vdsshim_compact_options *opts,
                   struct vdsshim_compact_result *res, struct vdsshim_diag *diag);
    void (*destroy)(struct vdsshim_image *img);
};

/* What a parent lookup has seen so far, to refuse loops. */
struct chain_ctx
{
    unsigned depth;                         /* 0 for the image the user opened */
    uint8_t ids[ENGINE_MAX_CHAIN][16];      /* unique ids of the images below */
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
    void *fmt;                      /* format state */
};

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

/* Turn a UTF-16 locator path into a UTF-8 path usable on this platform,
 * resolved against the child's directory if relative. NULL if unusable. */
char *locator_path_resolve(const char *child_path, const uint16_t *wpath, size_t wlen);

/* The same for a UTF-8 path. NULL if unusable here (a drive-letter path off Windows). */
char *path_resolve_utf8(const char *child_path, const char *path);

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

/* Buffers the engine streams file data through: page aligned, because the
 * kernel copies into an aligned buffer several times faster (measured: a 2 GiB
 * scan from page cache, 0.53 s -> 0.12 s). Free with io_buffer_free. */
void *io_buffer_alloc(size_t size);
void io_buffer_free(void *p);

#endif /* VDSSHIM_ENGINE_H */
