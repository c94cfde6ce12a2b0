/*
 * Growing a VHDX. A dynamic disk's new BAT entries are zeros (NOT_PRESENT);
 * a fixed disk's are FULLY_PRESENT, pointing at new blocks at the end of the
 * file, which is extended (reading as zeros) and made durable before any
 * entry points there. When the BAT region has room the entries are logged
 * in place; otherwise a larger BAT is written at the end of the file first,
 * and one log entry then switches both region tables to it together with
 * the new Virtual Disk Size, so the image has the old or the new size at
 * every point (region table updates go through the log: formats.md §2.4).
 * Entries past the old size are read by no one until the size changes.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "progress.h"
#include "vhdx.h"

/* The 4 KiB sector at off as the file reads it, for patching into the log. */
static int load_sector(struct vdsshim_image *img, struct vhdx *v, uint64_t off, uint8_t **out,
                       struct vdsshim_diag *diag)
{
    int st;

    if (!(*out = malloc(VHDX_LOG_SECTOR))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if ((st = vhdx_file_read(img, v, *out, VHDX_LOG_SECTOR, off, "cannot read metadata", diag)))
    {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* Both region tables with the BAT at (offset, length): their first sectors. */
static int region_sectors(struct vdsshim_image *img, struct vhdx *v, uint64_t offset, uint32_t length,
                          uint8_t *sectors[2], struct vdsshim_diag *diag)
{
    struct vhdx_region_table *t = malloc(sizeof(*t));
    uint8_t *buf = malloc(VHDX_REGION_SIZE);
    uint32_t i;
    int st;

    if (!t || !buf)
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    if ((st = vhdx_file_read(img, v, buf, VHDX_REGION_SIZE, VHDX_REGION1_OFFSET, "cannot read the region table", diag))
        || (st = vhdx_region_table_decode(buf, t, VHDX_REGION1_OFFSET, diag)))
    {
        /* The first copy may be the damaged one; the open took the second. */
        if ((st = vhdx_file_read(img, v, buf, VHDX_REGION_SIZE, VHDX_REGION2_OFFSET, "cannot read the region table", diag))
            || (st = vhdx_region_table_decode(buf, t, VHDX_REGION2_OFFSET, diag)))
            goto done;
    }
    for (i = 0; i < t->entry_count; i++)
        if (!memcmp(t->entries[i].guid.b, vhdx_region_bat, 16))
        {
            t->entries[i].offset = offset;
            t->entries[i].length = length;
        }
    /* Entries and checksum live in the first 4 KiB; the rest is zeros either way. */
    vhdx_region_table_encode(t, buf);
    for (i = 0; i < 2; i++)
    {
        if (!(sectors[i] = malloc(VHDX_LOG_SECTOR)))
        {
            st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            goto done;
        }
        memcpy(sectors[i], buf, VHDX_LOG_SECTOR);
    }
    for (i = VHDX_LOG_SECTOR; i < VHDX_REGION_SIZE; i++)
        if (buf[i])
        {
            st = diag_set(diag, VDSSHIM_E_UNSUPPORTED, VHDX_REGION1_OFFSET,
                          "the region table has more entries than its first 4 KiB hold");
            break;
        }
done:
    free(t);
    free(buf);
    return st;
}

/* Where something new goes: the first MiB past the file's data and its structures. */
static uint64_t past_everything(const struct vhdx *v)
{
    return vhdx_round_up_mib(v->file_size > vhdx_structure_end(v) ? v->file_size : vhdx_structure_end(v));
}

/* A fixed disk's blocks [v->payload_blocks, npb), at the end of the file from
 * at on: the entries set in memory, the file extended (reading as zeros). */
static int allocate_fixed_blocks(struct vdsshim_image *img, struct vhdx *v, uint64_t npb, uint64_t at,
                                 struct vdsshim_diag *diag)
{
    uint64_t end = at + (npb - v->payload_blocks) * v->meta.block_size, b;
    int st;

    for (b = v->payload_blocks; b < npb; b++)
        if (vhdx_bat_set(&v->bat, vhdx_payload_index_ratio(v->chunk_ratio, b),
                         VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, at + (b - v->payload_blocks) * v->meta.block_size)))
            return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    /* No flush of its own: the new BAT's flush, or the log entry's, comes
     * before anything points there (and replay grows the file anyway). */
    if ((st = vdsshim_io_truncate(img->io, end)))
        return diag_io(diag, img->io, st, end, "cannot allocate the new blocks");
    v->file_size = img->info.file_size = end;
    return VDSSHIM_OK;
}

/* A larger BAT of len bytes at bat_offset, its first need entries from
 * memory, durable before anything points at it. */
static int write_new_bat(struct vdsshim_image *img, struct vhdx *v, uint64_t need, uint64_t bat_offset, uint64_t len,
                         struct vdsshim_diag *diag)
{
    uint64_t done;
    uint8_t *raw;
    int st = VDSSHIM_OK;

    if (!(raw = io_buffer_alloc(ENGINE_IO_CHUNK))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (done = 0; done < len && !st; done += ENGINE_IO_CHUNK)
    {
        size_t chunk = len - done < ENGINE_IO_CHUNK ? (size_t)(len - done) : ENGINE_IO_CHUNK;

        memset(raw, 0, chunk);
        if (done / 8 < need)
            vhdx_bat_store(&v->bat, done / 8, raw, need - done / 8 < chunk / 8 ? (size_t)(need - done / 8) : chunk / 8);
        if ((st = vdsshim_io_write(img->io, raw, chunk, bat_offset + done)))
            st = diag_io(diag, img->io, st, bat_offset + done, "cannot write the new BAT");
    }
    io_buffer_free(raw);
    if (st) return st;
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, 0, "cannot flush");
    if (bat_offset + len > v->file_size) v->file_size = img->info.file_size = bat_offset + len;
    return VDSSHIM_OK;
}

/* Room in the region: entries [old, need), zeros, written in place. The
 * region's bytes past the old entries are not part of the disk yet, so
 * logging them ahead of the size change is invisible. */
static int extend_bat_in_place(struct vdsshim_image *img, struct vhdx *v, uint64_t old, uint64_t need,
                               struct vdsshim_diag *diag)
{
    uint64_t nsec = (need * 8 + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR, i;
    uint8_t *dirty = calloc((size_t)nsec, 1);
    int st;

    if (!dirty) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (i = old * 8 / VHDX_LOG_SECTOR; i < nsec; i++) dirty[i] = 1;
    st = vhdx_write_bat(img, v, dirty, v->file_size, diag);
    free(dirty);
    return st;
}

int vhdx_expand(struct vdsshim_image *img, uint64_t new_size, struct progress *progress, struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    uint64_t npb = (new_size + v->meta.block_size - 1) / v->meta.block_size;
    uint64_t nsb = (npb + v->chunk_ratio - 1) / v->chunk_ratio;
    uint64_t need = npb + (npb - 1) / v->chunk_ratio, old = v->bat.entries, i;
    uint64_t bat_offset = v->bat_region.offset, meta_sector;
    uint32_t bat_length = v->bat_region.length;
    uint64_t offsets[3], len = 0;
    uint8_t *sectors[3] = { NULL, NULL, NULL };
    int relocate;
    size_t n = 0;
    int st = VDSSHIM_OK;

    if (need < old) need = old;
    /* The new entries read 0 until they are set; any failure below puts
     * the table back at its old length. */
    if (vhdx_bat_resize(&v->bat, need)) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    relocate = need * 8 > v->bat_region.length;
    if (relocate)
    {
        len = vhdx_round_up_mib(nsb * (v->chunk_ratio + 1) * 8);
        if (len > 0xffffffffull - MiB)
        {
            st = diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the BAT for %llu bytes would exceed a region's 4 GiB",
                          (unsigned long long)new_size);
            goto done;
        }
        bat_offset = past_everything(v);
        bat_length = (uint32_t)len;
    }
    /* A fixed disk's new blocks go past everything, the new BAT included. */
    if (img->info.type == VDSSHIM_DISK_FIXED && npb > v->payload_blocks
        && (st = allocate_fixed_blocks(img, v, npb, relocate ? bat_offset + len : past_everything(v), diag)))
        goto done;
    if (relocate)
    {
        if ((st = write_new_bat(img, v, need, bat_offset, len, diag))
            || (st = region_sectors(img, v, bat_offset, bat_length, sectors, diag)))
            goto done;
        offsets[n++] = VHDX_REGION1_OFFSET;
        offsets[n++] = VHDX_REGION2_OFFSET;
    }
    else if (need > old && (st = extend_bat_in_place(img, v, old, need, diag))) goto done;
    if ((st = progress_report(progress, 0, 80, 1, 1))) goto done;

    /* The Virtual Disk Size item, with the region tables if the BAT moved. */
    meta_sector = v->meta_region.offset + v->meta.disk_size_at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    if ((st = load_sector(img, v, meta_sector, &sectors[n], diag))) goto done;
    put_le64(sectors[n] + v->meta.disk_size_at % VHDX_LOG_SECTOR, new_size);
    offsets[n++] = meta_sector;
    if ((st = vhdx_log_commit(img, v, offsets, sectors, n, v->file_size,
                              v->file_size > vhdx_structure_end(v) ? v->file_size : vhdx_structure_end(v), diag)))
        goto done;

    v->bat_region.offset = bat_offset;
    v->bat_region.length = bat_length;
    v->meta.virtual_size = new_size;
    v->payload_blocks = npb;
    v->sb_blocks = nsb;
    img->info.virtual_size = new_size;
    img->info.block_count = npb;
done:
    for (i = 0; i < 3; i++) free(sectors[i]);
    if (st) vhdx_bat_resize(&v->bat, old);     /* shrinking: cannot fail */
    return st;
}
