/* Format probe, dispatch, parent chains: the public image API. */
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "paths.h"
#include "progress.h"
#include "fs/fsmap.h"

static char *dup_string(const char *s)
{
    char *d = malloc(strlen(s) + 1);

    if (d) strcpy(d, s);
    return d;
}

static void image_free(struct vdsshim_image *img)
{
    if (!img) return;
    if (img->ops) img->ops->destroy(img);
    vdsshim_close(img->parent);
    vdsshim_io_close(img->io);
    free(img->path);
    free(img);
}

/* Probe the format of the opened io and hand over to the format module. */
static int image_open_io(struct vdsshim_io *io, const char *path, unsigned flags,
                         const struct chain_ctx *chain, struct vdsshim_image **out,
                         struct vdsshim_diag *diag)
{
    struct vdsshim_image *img;
    uint8_t magic[8] = { 0 };
    uint64_t size;
    int st;

    *out = NULL;
    if (!(img = calloc(1, sizeof(*img))))
    {
        vdsshim_io_close(io);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    img->io = io;
    img->flags = flags;
    if (path && !(img->path = dup_string(path)))
    {
        image_free(img);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }

    if ((st = vdsshim_io_size(io, &size))) goto io_fail;
    if (size >= 8 && (st = vdsshim_io_read(io, magic, 8, 0))) goto io_fail;

    if (!memcmp(magic, "vhdxfile", 8))
        st = vhdx_open(img, chain, diag);
    else
        st = vhd_open(img, chain, diag);   /* VHD has its cookie at 0 or at the end */
    if (st)
    {
        image_free(img);
        return st;
    }
    *out = img;
    return VDSSHIM_OK;

io_fail:
    st = diag_io(diag, io, st, 0, "cannot read the file");
    image_free(img);
    return st;
}

_Thread_local int (*image_open_file_hook)(const char *path, int writable, struct vdsshim_io **out);

int image_open(const char *path, unsigned flags, const struct chain_ctx *chain,
               struct vdsshim_image **out, struct vdsshim_diag *diag)
{
    struct vdsshim_io *io;
    int st;

    *out = NULL;
    if ((st = (image_open_file_hook ? image_open_file_hook : vdsshim_io_open_file)(path, !!(flags & VDSSHIM_OPEN_WRITE), &io)))
    {
        const char *why = image_open_file_hook ? NULL : vdsshim_io_open_reason();
        diag_set(diag, st, 0, "cannot open: %s", why ? why : vdsshim_strerror(st));
        if (diag && !image_open_file_hook) diag->sys_error = vdsshim_io_open_error();
        return st;
    }
    if ((st = vdsshim_io_lock(io, !!(flags & VDSSHIM_OPEN_WRITE))))
    {
        if (diag) diag->sys_error = io->last_error;
        if (st == VDSSHIM_E_IN_USE)
            diag_set(diag, st, 0, "in use by another process (%s)", io->lock_holder ? io->lock_holder : "unknown");
        else
            diag_set(diag, st, 0, "cannot lock: %s", vdsshim_strerror(st));
        vdsshim_io_close(io);
        return st;
    }
    return image_open_io(io, path, flags, chain, out, diag);
}

static int open_flags_valid(unsigned flags)
{
    if (flags & ~(VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS | VDSSHIM_OPEN_PARENTS_WRITE(0xff))) return 0;
    /* Writable parents only under a writable child that opens its parents. */
    return !VDSSHIM_OPEN_PARENTS_WRITE_DEPTH(flags)
        || ((flags & VDSSHIM_OPEN_WRITE) && !(flags & VDSSHIM_OPEN_NO_PARENTS));
}

int vdsshim_open(const char *path, unsigned flags, struct vdsshim_image **out,
                 struct vdsshim_diag *diag)
{
    struct chain_ctx chain = { 0 };

    if (!out) return VDSSHIM_E_INVALID_ARG;
    *out = NULL;
    if (!path || !open_flags_valid(flags))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "invalid arguments to vdsshim_open");
    return image_open(path, flags, &chain, out, diag);
}

int vdsshim_open_io(struct vdsshim_io *io, const char *path, unsigned flags,
                    struct vdsshim_image **out, struct vdsshim_diag *diag)
{
    struct chain_ctx chain = { 0 };

    if (!out) return VDSSHIM_E_INVALID_ARG;
    *out = NULL;
    if (!io || !open_flags_valid(flags))
    {
        vdsshim_io_close(io);
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "invalid arguments to vdsshim_open_io");
    }
    return image_open_io(io, path, flags, &chain, out, diag);
}

void vdsshim_close(struct vdsshim_image *img)
{
    image_free(img);
}

int vdsshim_get_info(const struct vdsshim_image *img, struct vdsshim_info *info)
{
    if (!img || !info) return VDSSHIM_E_INVALID_ARG;
    *info = img->info;
    return VDSSHIM_OK;
}

struct vdsshim_image *vdsshim_parent(struct vdsshim_image *img)
{
    return img ? img->parent : NULL;
}

int vdsshim_read(struct vdsshim_image *img, uint64_t offset, void *buf, size_t len,
                 struct vdsshim_diag *diag)
{
    if (!img || (!buf && len)) return VDSSHIM_E_INVALID_ARG;
    if (offset > img->info.virtual_size || len > img->info.virtual_size - offset)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                        "read of %zu bytes at %llu is past the virtual size %llu", len,
                        (unsigned long long)offset, (unsigned long long)img->info.virtual_size);
    if (!len) return VDSSHIM_OK;
    return img->ops->read(img, offset, buf, len, diag);
}

/* The format's compaction, with the guest's file-system map where asked. */
static int compact_with_map(struct vdsshim_image *img, const struct vdsshim_compact_options *opts,
                            struct vdsshim_compact_result *result, struct vdsshim_diag *diag)
{
    if (opts->flags & VDSSHIM_COMPACT_FS_AWARE)
    {
        struct fsmap map;
        int st;

        /* The map comes from the guest's view (a chain's merged one). */
        if ((st = fsmap_build(img, &map, diag))) return st;
        st = img->ops->compact(img, opts, &map, result, diag);
        result->fs_report_count = map.nreports;
        memcpy(result->fs_reports, map.reports, sizeof(map.reports));
        fsmap_free(&map);
        return st;
    }
    return img->ops->compact(img, opts, NULL, result, diag);
}

int vdsshim_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts,
                    struct vdsshim_compact_result *result, struct vdsshim_diag *diag)
{
    static const struct vdsshim_compact_options defaults;
    struct vdsshim_compact_result dummy;

    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (!opts) opts = &defaults;
    if (opts->flags & ~(VDSSHIM_COMPACT_NO_ZERO_SCAN | VDSSHIM_COMPACT_NO_BLOCK_MOVES | VDSSHIM_COMPACT_FS_AWARE
                        | VDSSHIM_COMPACT_DRY_RUN))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "unknown compaction flags %#x", opts->flags);
    if (!result) result = &dummy;
    memset(result, 0, sizeof(*result));
    result->size_before = result->size_after = img->info.file_size;
    if (img->open_trim.size_before > result->size_before)
    {
        /* The open trimmed the tail: this compaction's result says so. */
        result->size_before = img->open_trim.size_before;
        result->bytes_written = img->open_trim.bytes_written;
        memset(&img->open_trim, 0, sizeof(img->open_trim));
    }
    if (img->info.type == VDSSHIM_DISK_FIXED)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "fixed disks cannot be compacted");
    if (!(img->flags & VDSSHIM_OPEN_WRITE) && !(opts->flags & VDSSHIM_COMPACT_DRY_RUN))
        return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    if (img->info.has_parent && !img->parent)
        return diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0,
                        "compacting a differencing disk needs its parent chain");
    {
        uint64_t flushes = img->io->flushes;
        int st;

        if (vdsshim_io_allocated(img->io, &result->host_allocated_before)) result->host_allocated_before = 0;
        st = compact_with_map(img, opts, result, diag);
        result->flushes = img->io->flushes - flushes;
        if (!result->host_allocated_before || vdsshim_io_allocated(img->io, &result->host_allocated_after))
            result->host_allocated_before = result->host_allocated_after = 0;
        return st;
    }
}

int vdsshim_expand(struct vdsshim_image *img, uint64_t new_size, const struct vdsshim_op_options *opts,
                   struct vdsshim_diag *diag)
{
    struct progress progress = { 0 };
    int st;

    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (opts)
    {
        progress.fn = opts->progress;
        progress.ctx = opts->progress_ctx;
    }
    /* Fixed and dynamic disks grow, as ExpandVirtualDisk's and IVdsOpenVDisk::Expand's
     * pages say; a differencing one cannot: its parent's size is its own (<147>). */
    if (img->info.type == VDSSHIM_DISK_DIFFERENCING)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "a differencing disk cannot be expanded: its size is its parent's");
    if (!(img->flags & VDSSHIM_OPEN_WRITE))
        return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    if (new_size < img->info.virtual_size || new_size % img->info.logical_sector_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                        "new size %llu is smaller than %llu or not whole %u-byte sectors",
                        (unsigned long long)new_size, (unsigned long long)img->info.virtual_size,
                        img->info.logical_sector_size);
    if (img->info.format == VDSSHIM_FORMAT_VHD ? new_size > (2040ull << 30) : new_size > (64ull << 40))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "new size %llu is above the format's limit",
                        (unsigned long long)new_size);
    if ((st = progress_report(&progress, 0, 0, 0, 1))) return st;
    if (new_size > img->info.virtual_size)
    {
        st = img->ops->expand(img, new_size, &progress, diag);
        if (img->ops->settle)
        {
            struct vdsshim_diag sd = { .msg = { 0 } };
            int sst = img->ops->settle(img, st ? &sd : diag);
            if (!st) st = sst;
        }
        if (st) return st;
    }
    st = progress_report(&progress, 100, 100, 1, 1);
    return st == VDSSHIM_E_CANCELLED ? VDSSHIM_OK : st;     /* done: too late to cancel */
}

int vdsshim_shrink(struct vdsshim_image *img, uint64_t new_size, const struct vdsshim_op_options *opts,
                   struct vdsshim_diag *diag)
{
    struct vdsshim_compact_options copts = { 0 };
    struct vdsshim_compact_result res;
    int st;

    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (!img->ops->shrink)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, 0,
                        "a VHD cannot shrink crash-safely: its footer, its copy and its BAT's size would change apart");
    if (img->info.type != VDSSHIM_DISK_DYNAMIC)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "only a dynamic disk shrinks (%s)",
                        img->info.type == VDSSHIM_DISK_FIXED ? "a fixed one keeps every block"
                                                             : "a differencing one has its parent's size");
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    if (!new_size || new_size >= img->info.virtual_size || new_size % img->info.logical_sector_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                        "new size %llu is not above 0, below %llu and whole %u-byte sectors",
                        (unsigned long long)new_size, (unsigned long long)img->info.virtual_size,
                        img->info.logical_sector_size);
    if (opts)
    {
        copts.progress = opts->progress;
        copts.progress_ctx = opts->progress_ctx;
    }
    if ((st = img->ops->shrink(img, new_size, diag))) return st;
    /* The released blocks' space: only metadata is read, blocks move, the file is cut. */
    copts.flags = VDSSHIM_COMPACT_NO_ZERO_SCAN;
    return vdsshim_compact(img, &copts, &res, diag);
}

int image_read_parent(struct vdsshim_image *img, uint64_t off, void *out, size_t len, struct vdsshim_diag *diag)
{
    uint8_t *buf = out;
    uint64_t psize;
    size_t n;

    if (!img->parent)
        return diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0,
                        "reading offset %llu needs the parent, which is not open", (unsigned long long)off);
    psize = img->parent->info.virtual_size;
    n = off >= psize ? 0 : (psize - off < len ? (size_t)(psize - off) : len);
    memset(buf + n, 0, len - n);    /* a parent smaller than the child reads as zeros past its end */
    return n ? vdsshim_read(img->parent, off, buf, n, diag) : VDSSHIM_OK;
}

static unsigned parent_flags(unsigned flags)
{
    unsigned depth = VDSSHIM_OPEN_PARENTS_WRITE_DEPTH(flags);

    return depth ? VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(depth - 1) : 0;
}

int image_open_parent(struct vdsshim_image *img, const struct parent_candidate *cands, size_t n,
                      const struct chain_ctx *chain,
                      int (*matches)(const struct vdsshim_image *child,
                                     const struct vdsshim_image *parent),
                      struct vdsshim_diag *diag)
{
    struct chain_ctx up;
    int st = VDSSHIM_E_PARENT_NOT_FOUND;
    size_t i;
    unsigned d;

    /* What info shows even when the chain is not opened: the first usable locator. */
    for (i = 0; i < n && !img->info.parent_path[0]; i++)
        if (cands[i].path) strncpy(img->info.parent_path, cands[i].path, sizeof(img->info.parent_path) - 1);
    if (img->flags & VDSSHIM_OPEN_NO_PARENTS) return VDSSHIM_OK;

    /* Refuse a loop before opening anything more: this image already appears
     * below itself in the chain. */
    for (d = 0; d < chain->depth; d++)
        if (!memcmp(chain->ids[d], img->info.unique_id, 16))
            return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "parent chain loops back to %s",
                            img->path ? img->path : "an image already in the chain");
    if (chain->depth + 1 >= ENGINE_MAX_CHAIN)
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "parent chain deeper than %d images (a loop?)",
                        ENGINE_MAX_CHAIN);
    up = *chain;
    memcpy(up.ids[up.depth], img->info.unique_id, 16);
    up.paths[up.depth] = img->path;
    up.depth++;

    diag_set(diag, st, 0, "parent not found: no locator names a file that exists");
    for (i = 0; i < n; i++)
    {
        struct vdsshim_image *parent;
        struct vdsshim_diag pd = { .msg = { 0 } };
        int pst;

        if (!cands[i].path) continue;
        /* A locator naming a file already in the chain (the child itself, a
         * link to it): a loop, refused before the file is opened twice. */
        for (d = 0; d < up.depth; d++)
            if (up.paths[d] && platform_same_file(cands[i].path, up.paths[d]))
                return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "parent %s: parent chain loops back to %s",
                                cands[i].path, up.paths[d]);
        /* Parents are read-only with shared locks, but for the first
         * VDSSHIM_OPEN_PARENTS_WRITE ones (merge targets). */
        pst = image_open(cands[i].path, parent_flags(img->flags), &up, &parent, &pd);
        if (pst == VDSSHIM_E_NOT_FOUND)
        {
            /* Not there; but a symlink loop says more than "not found". */
            if (strstr(pd.msg, "symbolic links"))
                diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0, "parent %s: %s", cands[i].path, pd.msg);
            continue;
        }
        if (pst)
        {
            st = pst;
            diag_set(diag, st, pd.file_offset, "parent %s: %s", cands[i].path, pd.msg);
            /* A broken chain further up is final; a bad candidate file is not. */
            if (pst == VDSSHIM_E_PARENT_NOT_FOUND || pst == VDSSHIM_E_PARENT_MISMATCH
                || pst == VDSSHIM_E_CORRUPT)
                break;
            continue;
        }
        if (!matches(img, parent))
        {
            vdsshim_close(parent);
            st = diag_set(diag, VDSSHIM_E_PARENT_MISMATCH, 0,
                          "%s is not the parent this disk was made from (identifier differs)",
                          cands[i].path);
            continue;
        }
        img->parent = parent;
        img->info.parent_open = 1;
        img->info.chain_depth = parent->info.chain_depth + 1;
        strncpy(img->info.parent_path, cands[i].path, sizeof(img->info.parent_path) - 1);
        return VDSSHIM_OK;
    }
    return st;
}
