/*
 * Writing guest data into a VHDX (merge targets). Present blocks are written
 * in place; any other block gets a new fully present block at the end of the
 * file holding what it read before plus the new data, and its BAT entry goes
 * through the log after the data is durable. Partially present blocks get
 * their data, then their sector bitmap bits.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "file_ranges.h"
#include "vhdx.h"

#define UNIT 512u

static int flush(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_flush(img->io);

    return st ? diag_io(diag, img->io, st, 0, "cannot flush") : VDSSHIM_OK;
}

/* Byte offset and bit width of block's sector bitmap inside its SB block. */
static uint64_t bitmap_at(const struct vhdx *v, uint64_t block)
{
    uint64_t sb = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, vhdx_sb_index(v, block / v->chunk_ratio)));

    return sb + (block % v->chunk_ratio) * (v->meta.block_size / v->meta.logical_sector_size / 8);
}

int vhdx_present(struct vdsshim_image *img, uint64_t off, size_t len, uint8_t *units, struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    uint32_t lss = v->meta.logical_sector_size, bs = v->meta.block_size;
    uint8_t *bits = NULL;
    size_t i, n = len / UNIT;
    int st;

    if (!v->meta.has_parent)
    {
        memset(units, 1, n);
        return VDSSHIM_OK;
    }
    for (i = 0; i < n;)
    {
        uint64_t at = off + i * UNIT, block = at / bs;
        size_t run = (size_t)((block + 1) * bs - at) / UNIT, k;
        unsigned state = VHDX_BAT_STATE(vhdx_bat_get(&v->bat, vhdx_payload_index(v, block)));

        if (run > n - i) run = n - i;
        if (state == VHDX_PAYLOAD_PARTIALLY_PRESENT)
        {
            uint32_t bytes = bs / lss / 8;

            if (!bits && !(bits = malloc(bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            if ((st = vhdx_file_read(img, v, bits, bytes, bitmap_at(v, block), "cannot read a sector bitmap", diag)))
            {
                free(bits);
                return st;
            }
            for (k = 0; k < run; k++)
            {
                uint64_t sector = (at + k * UNIT) % bs / lss;
                units[i + k] = (uint8_t)((bits[sector >> 3] >> (sector & 7)) & 1);
            }
        }
        else
            memset(units + i, state != VHDX_PAYLOAD_NOT_PRESENT && state != VHDX_PAYLOAD_UNDEFINED, run);
        i += run;
    }
    free(bits);
    return VDSSHIM_OK;
}

/* A new fully present block: what the block read before, with the new units. */
static int allocate_block(struct vdsshim_image *img, struct vhdx *v, uint64_t block, uint32_t in,
                          const uint8_t *buf, size_t n, const uint8_t *units, struct vdsshim_diag *diag)
{
    uint32_t bs = v->meta.block_size;
    uint64_t at = vhdx_round_up_mib(v->file_size), idx = vhdx_payload_index(v, block), done, old = vhdx_bat_get(&v->bat, idx);
    uint64_t vsize = v->meta.virtual_size, nsec = (v->bat.entries * 8 + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR;
    uint8_t *chunk, *dirty;
    int st = VDSSHIM_OK;

    if (at < vhdx_structure_end(v)) at = vhdx_structure_end(v);
    if (!(chunk = io_buffer_alloc(ENGINE_IO_CHUNK))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (done = 0; done < bs && !st; done += ENGINE_IO_CHUNK)
    {
        uint64_t voff = block * bs + done, k;
        size_t len = bs - done < ENGINE_IO_CHUNK ? (size_t)(bs - done) : ENGINE_IO_CHUNK;
        size_t inside = voff >= vsize ? 0 : vsize - voff < len ? (size_t)(vsize - voff) : len;

        memset(chunk, 0, len);
        if (inside && (st = img->ops->read(img, voff, chunk, inside, diag))) break;
        for (k = 0; k < n; k++)
        {
            uint64_t u = in + k * UNIT;     /* offset of unit k inside the block */
            if (units[k] && u >= done && u < done + len) memcpy(chunk + (u - done), buf + k * UNIT, UNIT);
        }
        if ((st = vdsshim_io_write(img->io, chunk, len, at + done)))
            st = diag_io(diag, img->io, st, at + done, "cannot write a new block");
    }
    io_buffer_free(chunk);
    if (st || (st = flush(img, diag))) return st;
    v->file_size = img->info.file_size = at + bs;

    if (!(dirty = calloc((size_t)nsec, 1))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    dirty[idx * 8 / VHDX_LOG_SECTOR] = 1;
    if (vhdx_bat_set(&v->bat, idx, VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, at)))
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
    else st = vhdx_write_bat(img, v, dirty, v->file_size, diag);
    free(dirty);
    if (st)
    {
        vhdx_bat_set(&v->bat, idx, old);   /* the page is held now: cannot fail */
        return st;
    }
    img->info.blocks_allocated++;
    return VDSSHIM_OK;
}

int vhdx_write_units(struct vdsshim_image *img, uint64_t off, const uint8_t *buf, size_t len, const uint8_t *units,
                     struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    uint32_t bs = v->meta.block_size, lss = v->meta.logical_sector_size, in = (uint32_t)(off % bs);
    uint64_t block = off / bs, e = vhdx_bat_get(&v->bat, vhdx_payload_index(v, block)), at;
    size_t n = len / UNIT, k;
    uint8_t *bits;
    uint32_t bytes;
    int st;

    /* A new FileWriteGuid before the first write of this session (§2.2.2). */
    if (!v->header_updated && (st = vhdx_update_headers(img, v, &v->header.log_guid, diag))) return st;
    if (VHDX_BAT_STATE(e) != VHDX_PAYLOAD_FULLY_PRESENT && VHDX_BAT_STATE(e) != VHDX_PAYLOAD_PARTIALLY_PRESENT)
        return allocate_block(img, v, block, in, buf, n, units, diag);

    /* In an allocated block no flush orders data and bits: until the merge
     * ends the chain reads these sectors from the merged child, whatever
     * landed here; the merge's closing flush makes both durable. */
    if ((st = file_write_marked(img->io, VHDX_BAT_OFFSET(e) + in, buf, n, units, diag))) return st;
    if (VHDX_BAT_STATE(e) == VHDX_PAYLOAD_FULLY_PRESENT) return VDSSHIM_OK;

    /* Partially present: the bits of the sectors written, after their data. */
    bytes = bs / lss / 8;
    at = bitmap_at(v, block);
    if (!(bits = malloc(bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if (!(st = vhdx_file_read(img, v, bits, bytes, at, "cannot read a sector bitmap", diag)))
    {
        for (k = 0; k < n; k++)
            if (units[k])
            {
                uint64_t sector = (in + k * UNIT) / lss;
                bits[sector >> 3] |= (uint8_t)(1u << (sector & 7));
            }
        v->cached_sb = 0;
        if ((st = vdsshim_io_write(img->io, bits, bytes, at)))
            st = diag_io(diag, img->io, st, at, "cannot write a sector bitmap");
    }
    free(bits);
    return st;
}
