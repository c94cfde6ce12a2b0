/*
 * Merging a differencing chain into an ancestor. Block by block of the
 * target, the units any merged image holds are read through the child (what
 * the guest sees) and written into the target. The child still covers every
 * unit written, so the chain reads the same after every write; once done,
 * the target alone reads as the child did.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "diag.h"
#include "image.h"
#include "progress.h"

#define UNIT 512u
#define FIXED_STEP (2u << 20)       /* blocks of a fixed target, which has none */

int vdsshim_merge(struct vdsshim_image *img, unsigned depth, const struct vdsshim_op_options *opts,
                  struct vdsshim_merge_result *result, struct vdsshim_diag *diag)
{
    struct vdsshim_merge_result dummy;
    struct progress progress = { 0 };
    struct vdsshim_image *target = img, *s;
    uint64_t size, step, off, allocated;
    uint8_t *units = NULL, *buf = NULL, *tmp = NULL;
    unsigned d;
    int st;

    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (!result) result = &dummy;
    memset(result, 0, sizeof(*result));
    if (opts)
    {
        progress.fn = opts->progress;
        progress.ctx = opts->progress_ctx;
    }
    if (!depth) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "merge depth must be at least 1");
    if (!img->info.has_parent)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "only a differencing disk can be merged into its parent");
    for (d = 0; d < depth; d++)
    {
        if (!target->info.has_parent)
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "merge depth %u, but the chain has only %u parents",
                            depth, d);
        if (!target->parent)
            return diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0, "merging needs the parent chain open");
        target = target->parent;
    }
    if (!(target->flags & VDSSHIM_OPEN_WRITE))
        return diag_set(diag, VDSSHIM_E_READONLY, 0,
                        "the merge target (parent %u) is open read-only: open its child with writable parents", depth);
    size = img->info.virtual_size;
    if (target->info.virtual_size < size)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, 0, "the target (%llu bytes) is smaller than the child (%llu)",
                        (unsigned long long)target->info.virtual_size, (unsigned long long)size);
    step = target->info.block_size ? target->info.block_size : FIXED_STEP;
    units = malloc((size_t)(step / UNIT));
    tmp = malloc((size_t)(step / UNIT));
    buf = io_buffer_alloc((size_t)step);
    if (!units || !tmp || !buf)
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    allocated = target->info.blocks_allocated;
    if ((st = progress_report(&progress, 0, 0, 0, 1))) goto done;
    for (off = 0; off < size; off += step)
    {
        size_t len = size - off < step ? (size_t)(size - off) : (size_t)step, n = len / UNIT, i, any = 0;

        memset(units, 0, n);
        for (s = img; s != target && !st; s = s->parent)
        {
            if ((st = s->ops->present(s, off, len, tmp, diag))) break;
            for (i = 0; i < n; i++) units[i] |= tmp[i];
        }
        if (st) break;
        for (i = 0; i < n; i++) any += units[i];
        if (any)
        {
            if ((st = vdsshim_read(img, off, buf, len, diag))
                || (st = target->ops->write_units(target, off, buf, len, units, diag)))
                break;
            result->bytes_merged += (uint64_t)any * UNIT;
        }
        if ((st = progress_report(&progress, 0, 99, off + len, size))) break;
    }
    /* Durable before success is reported: writes into allocated blocks are
     * not flushed one by one (vhd_write.c, vhdx_write.c). */
    if (!st && (st = vdsshim_io_flush(target->io))) st = diag_io(diag, target->io, st, 0, "cannot flush the merge target");
    if (!st) st = progress_report(&progress, 100, 100, 1, 1);
    if (st == VDSSHIM_E_CANCELLED && off >= size) st = VDSSHIM_OK;
    if (st == VDSSHIM_E_CANCELLED)
        diag_set(diag, st, 0, "merge cancelled; the chain reads as before and a new merge finishes the job");
    result->blocks_allocated = target->info.blocks_allocated - allocated;
    if (target->ops->settle)
    {
        struct vdsshim_diag sd = { .msg = { 0 } };
        int sst = target->ops->settle(target, st ? &sd : diag);
        if (!st) st = sst;
    }
done:
    free(units);
    free(tmp);
    io_buffer_free(buf);
    return st;
}
