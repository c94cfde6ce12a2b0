/*
 * Writing guest data into a VHD (merge targets): which sectors a file holds
 * itself, and writes that allocate blocks at the end of the file. Data is
 * made durable before the BAT entry or bitmap bit that makes it visible, so
 * every prefix of the writes reads as before wherever a child covers it.
 */
#include <stdlib.h>
#include <string.h>

#include "file_ranges.h"
#include "vhd.h"

static int load_bitmap(struct vdsshim_image *img, struct vhd *vhd, uint32_t block, struct vdsshim_diag *diag)
{
    int st;

    if (vhd->cached_block == block) return VDSSHIM_OK;
    vhd->cached_block = VHD_BAT_UNUSED;
    if ((st = vhd_read_bitmap(img, block, vhd->bitmap, diag))) return st;
    vhd->cached_block = block;
    return VDSSHIM_OK;
}

int vhd_present(struct vdsshim_image *img, uint64_t off, size_t len, uint8_t *units, struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    size_t i, n = len / VHD_SECTOR;
    int st;

    /* Only a differencing disk leaves anything to a parent. */
    if (img->info.type != VDSSHIM_DISK_DIFFERENCING)
    {
        memset(units, 1, n);
        return VDSSHIM_OK;
    }
    for (i = 0; i < n; i++)
    {
        uint64_t at = off + i * VHD_SECTOR;
        uint32_t block = (uint32_t)(at / vhd->hdr.block_size);

        if (vhd->bat[block] == VHD_BAT_UNUSED)
        {
            units[i] = 0;
            continue;
        }
        if ((st = load_bitmap(img, vhd, block, diag))) return st;
        units[i] = !!vhd_bitmap_test(vhd->bitmap, (uint32_t)(at % vhd->hdr.block_size / VHD_SECTOR));
    }
    return VDSSHIM_OK;
}

static int flush(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_flush(img->io);

    return st ? diag_io(diag, img->io, st, 0, "cannot flush") : VDSSHIM_OK;
}

/* A new block at the end, where the footer was; the footer moves after it. */
static int allocate_block(struct vdsshim_image *img, struct vhd *vhd, uint32_t block, uint32_t in,
                          const uint8_t *buf, size_t n, const uint8_t *units, struct vdsshim_diag *diag)
{
    uint64_t at = vhd->file_size - VHD_FOOTER_SIZE;
    uint32_t first = in / VHD_SECTOR, s, nsec = vhd->hdr.block_size / VHD_SECTOR;
    uint8_t *b;
    size_t i;
    int st;

    if (vhd->batmap.present)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, vhd->batmap.header_offset,
                        "allocating blocks in a VHD with a batmap (XenServer) is not supported");
    if (!(b = calloc(1, (size_t)vhd->block_span))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    /* A dynamic disk defines every sector of a block it allocates (the rest
     * read zeros before and still do); a differencing one only those written. */
    for (s = 0; s < nsec; s++)
        if (img->info.type != VDSSHIM_DISK_DIFFERENCING || (s >= first && s - first < n && units[s - first]))
            b[s >> 3] |= (uint8_t)(0x80 >> (s & 7));
    for (i = 0; i < n; i++)
        if (units[i]) memcpy(b + vhd->bitmap_size + in + i * VHD_SECTOR, buf + i * VHD_SECTOR, VHD_SECTOR);
    /* The footer moves past the new block first, durably: the old one must
     * stay the file's last 512 bytes until then. */
    if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, at + vhd->block_span))
        || (st = vdsshim_io_flush(img->io)))
    {
        free(b);
        return diag_io(diag, img->io, st, at + vhd->block_span, "cannot write the footer");
    }
    vhd->file_size = img->info.file_size = at + vhd->block_span + VHD_FOOTER_SIZE;
    st = vdsshim_io_write(img->io, b, (size_t)vhd->block_span, at);
    free(b);
    if (st) return diag_io(diag, img->io, st, at, "cannot write a new block");
    if ((st = flush(img, diag))) return st;
    vhd->bat[block] = (uint32_t)(at / VHD_SECTOR);
    /* The entry needs no flush of its own: the block it points at is
     * durable, the chain reads these sectors from the child until the merge
     * ends, and the next allocation's flush or the merge's closing one
     * makes it durable. */
    if ((st = vhd_write_bat(img, block, block, diag)))
    {
        vhd->bat[block] = VHD_BAT_UNUSED;
        return st;
    }
    img->info.blocks_allocated++;
    return VDSSHIM_OK;
}

int vhd_write_units(struct vdsshim_image *img, uint64_t off, const uint8_t *buf, size_t len, const uint8_t *units,
                    struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    size_t n = len / VHD_SECTOR, i;
    uint32_t block, in, first;
    uint8_t *bm;
    int st, changed = 0;

    if (img->info.type == VDSSHIM_DISK_FIXED)
    {
        /* In place; durable with the merge's closing flush (merge.c). */
        return file_write_marked(img->io, off, buf, n, units, diag);
    }
    block = (uint32_t)(off / vhd->hdr.block_size);
    in = (uint32_t)(off % vhd->hdr.block_size);
    if (vhd->bat[block] == VHD_BAT_UNUSED) return allocate_block(img, vhd, block, in, buf, n, units, diag);

    /* Data first, durable; then the bitmap bits that make it this file's. */
    if ((st = file_write_marked(img->io, (uint64_t)vhd->bat[block] * VHD_SECTOR + vhd->bitmap_size + in, buf, n, units, diag))
        || (st = flush(img, diag)))
        return st;
    if ((st = load_bitmap(img, vhd, block, diag))) return st;
    bm = vhd->bitmap;
    for (i = 0, first = in / VHD_SECTOR; i < n; i++)
        if (units[i] && !vhd_bitmap_test(bm, first + (uint32_t)i))
        {
            bm[(first + i) >> 3] |= (uint8_t)(0x80 >> ((first + i) & 7));
            changed = 1;
        }
    if (!changed) return VDSSHIM_OK;
    /* A torn bitmap write leaves each bit old or new: both read correctly. */
    vhd->cached_block = VHD_BAT_UNUSED;
    if ((st = vdsshim_io_write(img->io, bm, vhd->bitmap_size, (uint64_t)vhd->bat[block] * VHD_SECTOR)))
        return diag_io(diag, img->io, st, (uint64_t)vhd->bat[block] * VHD_SECTOR, "cannot write a sector bitmap");
    vhd->cached_block = block;
    /* No flush: the chain reads these sectors from the merged child until the
     * merge ends, and the merge's closing flush makes them durable. */
    return VDSSHIM_OK;
}
