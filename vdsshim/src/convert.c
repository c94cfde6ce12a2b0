/*
 * Converting an image into a new one of another format or type (VHD <->
 * VHDX, dynamic <-> fixed): the new file gets what the source's guest reads
 * (through its parent chain), and nothing else. It is built under a
 * temporary name beside the destination, "DST.vdsshim-partial", flushed, and
 * only then renamed to DST without replacing anything: an interrupted
 * conversion leaves no DST at all, as an interrupted create leaves no file
 * that opens, and the next conversion removes the stale partial file first.
 * Zero runs are not written: a dynamic target stays sparse, a fixed one
 * already reads zeros there.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "create.h"
#include "diag.h"
#include "image.h"
#include "progress.h"

#define UNIT 512u
#define STEP (1u << 20)             /* divides every block size of both formats but 512 KiB */
#define PARTIAL_SUFFIX ".vdsshim-partial"

/* The new image's parameters: the source's size and sector size unless given. */
static int target_params(const struct vdsshim_info *src, const struct vdsshim_create_params *in,
                         struct vdsshim_create_params *out, struct vdsshim_diag *diag)
{
    *out = *in;
    if (in->type == VDSSHIM_DISK_DIFFERENCING || in->parent_path)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a conversion makes a fixed or dynamic disk, not a child");
    if (!out->virtual_size) out->virtual_size = src->virtual_size;
    if (out->virtual_size < src->virtual_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the new size (%llu bytes) is smaller than the source (%llu)",
                        (unsigned long long)out->virtual_size, (unsigned long long)src->virtual_size);
    if (!out->logical_sector_size) out->logical_sector_size = src->logical_sector_size;
    /* The guest addresses its disk in sectors: a different size would move every partition. */
    if (out->logical_sector_size != src->logical_sector_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the source has %u-byte sectors; the new disk would have %u",
                        src->logical_sector_size, out->logical_sector_size);
    if (out->format == VDSSHIM_FORMAT_VHD && out->logical_sector_size != UNIT)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a VHD has 512-byte sectors; the source has %u",
                        out->logical_sector_size);
    if (!out->physical_sector_size && out->format == VDSSHIM_FORMAT_VHDX && src->format == VDSSHIM_FORMAT_VHDX)
        out->physical_sector_size = src->physical_sector_size;
    return VDSSHIM_OK;
}

/* Copy what the guest reads, run by run, skipping zeros. */
static int copy_content(struct vdsshim_image *src, struct vdsshim_image *dst, struct progress *progress,
                        struct vdsshim_diag *diag)
{
    uint64_t size = src->info.virtual_size, off, step = STEP;
    uint8_t *buf, *units;
    int st = VDSSHIM_OK;

    if (dst->info.block_size && dst->info.block_size < step) step = dst->info.block_size;
    buf = io_buffer_alloc((size_t)step);
    units = malloc((size_t)(step / UNIT));
    if (!buf || !units)
    {
        io_buffer_free(buf);
        free(units);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    memset(units, 1, (size_t)(step / UNIT));
    for (off = 0; off < size && !st; off += step)
    {
        size_t len = size - off < step ? (size_t)(size - off) : (size_t)step;

        if ((st = vdsshim_read(src, off, buf, len, diag))) break;
        if (!buffer_is_zero(buf, len) && (st = dst->ops->write_units(dst, off, buf, len, units, diag))) break;
        st = progress_report(progress, 0, 98, off + len, size);
    }
    io_buffer_free(buf);
    free(units);
    return st;
}

int convert_copy(struct vdsshim_image *src, struct vdsshim_image *dst, struct progress *progress,
                 struct vdsshim_diag *diag)
{
    int st = copy_content(src, dst, progress, diag);

    /* Before the rename makes DST appear: a fixed target's data went in
     * place, unflushed, and a dynamic one's last writes may be pending too. */
    if (!st && (st = vdsshim_io_flush(dst->io))) st = diag_io(diag, dst->io, st, 0, "cannot flush the converted image");
    if (!st && dst->ops->settle) st = dst->ops->settle(dst, diag);
    return st;
}

int vdsshim_convert(const char *src_path, const char *dst_path, const struct vdsshim_create_params *params,
                    const struct vdsshim_op_options *opts, struct vdsshim_diag *diag)
{
    struct vdsshim_create_params p;
    struct progress progress = { 0 };
    struct vdsshim_image *src = NULL, *dst = NULL;
    struct vdsshim_io *probe;
    char *partial = NULL;
    int st;

    if (!src_path || !dst_path || !params) return VDSSHIM_E_INVALID_ARG;
    if (opts)
    {
        progress.fn = opts->progress;
        progress.ctx = opts->progress_ctx;
    }
    if (!vdsshim_io_open_file(dst_path, 0, &probe))
    {
        vdsshim_io_close(probe);
        return diag_set(diag, VDSSHIM_E_EXISTS, 0, "exists: a conversion makes a new file");
    }
    if ((st = vdsshim_open(src_path, 0, &src, diag))) return st;
    if ((st = target_params(&src->info, params, &p, diag))) goto done;
    if (!(partial = malloc(strlen(dst_path) + sizeof(PARTIAL_SUFFIX))))
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    strcpy(partial, dst_path);
    strcat(partial, PARTIAL_SUFFIX);
    vdsshim_delete_file(partial, NULL);   /* a stale one of an interrupted run; none is fine too */
    if ((st = progress_report(&progress, 0, 0, 0, 1))
        || (st = vdsshim_create(partial, &p, diag))
        || (st = vdsshim_open(partial, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &dst, diag)))
        goto done;
    st = convert_copy(src, dst, &progress, diag);
    vdsshim_close(dst);
    dst = NULL;
    if (!st && (st = vdsshim_rename_file(partial, dst_path)))
        diag_set(diag, st, 0, "cannot rename %s to %s", partial, dst_path);
    if (!st) st = progress_report(&progress, 100, 100, 1, 1);
    if (st == VDSSHIM_E_CANCELLED) diag_set(diag, st, 0, "conversion cancelled; %s was not made", dst_path);
done:
    if (dst) vdsshim_close(dst);
    if (st && partial) vdsshim_delete_file(partial, NULL);
    vdsshim_close(src);
    free(partial);
    return st;
}
