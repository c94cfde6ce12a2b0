/*
 * Shrinking a dynamic or differencing VHDX (ResizeVirtualDisk to a smaller
 * size, vdsshim shrink). Two steps, each through the log:
 *   1. the BAT entries of blocks wholly past the new size (and, in a child,
 *      the bitmap entries of chunks wholly past it) become NOT_PRESENT, so
 *      the blocks are referenced by nothing; as many entries as the log
 *      takes at a time;
 *   2. one entry with the new Virtual Disk Size.
 * A crash in step 1 leaves the old size with zeros past the new one (data
 * the caller asked to discard); a re-run finishes. Step 2 is atomic. No
 * entry past the new size is ever left pointing at a block, so a later
 * growth (ours or another tool's) never revives stale space. The file
 * itself shrinks by the compaction that follows (image.c).
 */
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

int vhdx_shrink(struct vdsshim_image *img, uint64_t new_size, struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    uint64_t npb = (new_size + v->meta.block_size - 1) / v->meta.block_size;
    uint64_t nsb = (npb + v->chunk_ratio - 1) / v->chunk_ratio;
    uint64_t nsec = (v->bat.entries * 8 + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR, b, c, sector, n = 0;
    uint8_t *dirty, *meta_sector = NULL;
    int st = VDSSHIM_OK;

    if (!(dirty = calloc((size_t)(nsec ? nsec : 1), 1))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if (!v->header_updated && (st = vhdx_update_headers(img, v, &v->header.log_guid, diag))) goto done;

    /* Step 1: nothing past the new size keeps a block. */
    for (b = npb; b < v->payload_blocks && !st; b++)
    {
        uint64_t i = vhdx_payload_index(v, b);
        if (!vhdx_bat_get(&v->bat, i)) continue;
        if (vhdx_bat_set(&v->bat, i, 0)) st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
        dirty[i * 8 / VHDX_LOG_SECTOR] = 1;
        n++;
    }
    for (c = nsb; v->meta.has_parent && c < v->sb_blocks && !st; c++)
    {
        uint64_t i = vhdx_sb_index(v, c);
        if (i >= v->bat.entries || !vhdx_bat_get(&v->bat, i)) continue;
        if (vhdx_bat_set(&v->bat, i, 0)) st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
        dirty[i * 8 / VHDX_LOG_SECTOR] = 1;
        n++;
    }
    if (!st && n) st = vhdx_write_bat(img, v, dirty, v->file_size, diag);
    if (st) goto done;

    /* Step 2: the size, alone, atomically. */
    sector = v->meta_region.offset + v->meta.disk_size_at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    if (!(meta_sector = malloc(VHDX_LOG_SECTOR)))
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    if ((st = vhdx_file_read(img, v, meta_sector, VHDX_LOG_SECTOR, sector, "cannot read metadata", diag))) goto done;
    put_le64(meta_sector + v->meta.disk_size_at % VHDX_LOG_SECTOR, new_size);
    {
        uint64_t end = vhdx_structure_end(v);
        if ((st = vhdx_log_commit(img, v, &sector, &meta_sector, 1, v->file_size, v->file_size > end ? v->file_size : end,
                                  diag)))
            goto done;
    }
    v->meta.virtual_size = new_size;
    /* The table an open of the new size reads (all past it is 0 now). */
    vhdx_bat_resize(&v->bat, v->meta.has_parent ? nsb * (v->chunk_ratio + 1) : npb + (npb - 1) / v->chunk_ratio);
    v->payload_blocks = npb;
    v->sb_blocks = nsb;
    img->info.virtual_size = new_size;
    img->info.block_count = npb;
    img->info.blocks_allocated = 0;
    for (b = vhdx_bat_next_placed(&v->bat, 0); b < v->bat.entries; b = vhdx_bat_next_placed(&v->bat, b + 1))
        img->info.blocks_allocated += !vhdx_is_sb_entry(v, b) && VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, b));

done:
    free(dirty);
    free(meta_sector);
    return st;
}
