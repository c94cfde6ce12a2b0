/*
 * How fragmented an image's blocks are (virtdisk's GET_VIRTUAL_DISK_INFO_
 * FRAGMENTATION, `vdsshim info`).
 *
 * Microsoft defines the figure only as "an approximation of the percentage
 * of virtual disk blocks that are fragmented in the virtual hard disk file"
 * (Msvm_VirtualHardDiskState.FragmentationPercentage [V]), and says a
 * storage migration, which lays the blocks out "in a linear fashion", cures
 * it (Virtual PC Guy's blog, 2015 [V]). How Windows counts is [U]; here,
 * walking the blocks that hold file space in virtual order, a block is
 * fragmented when it does not start where the one before it ends in the
 * file (for a VHD, its sector bitmap included; a VHDX's sector-bitmap blocks
 * are not counted but do break a run). The first block never is. The figure
 * is fragmented * 100 / allocated, rounded down: 0 for a fixed disk, a disk
 * with at most one block, or blocks laid out in virtual order.
 */
#include "vhd.h"
#include "vhdx.h"

struct frag_count
{
    uint64_t allocated, fragmented;
    uint64_t next;              /* where a block following the last one would start; 0 before the first */
};

static void count_block(struct frag_count *c, uint64_t start, uint64_t span)
{
    if (c->allocated++ && start != c->next) c->fragmented++;
    c->next = start + span;
}

static void count_vhd(const struct vhd *vhd, struct frag_count *c)
{
    uint32_t i;

    for (i = 0; i < vhd->hdr.max_entries; i++)
        if (vhd->bat[i] != VHD_BAT_UNUSED) count_block(c, (uint64_t)vhd->bat[i] * VHD_SECTOR, vhd->block_span);
}

static void count_vhdx(const struct vhdx *v, uint32_t block_size, struct frag_count *c)
{
    uint64_t i;

    for (i = vhdx_bat_next_placed(&v->bat, 0); i < v->bat.entries; i = vhdx_bat_next_placed(&v->bat, i + 1))
    {
        uint64_t off = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, i));

        if (off && !vhdx_is_sb_entry(v, i)) count_block(c, off, block_size);
    }
}

int vdsshim_fragmentation(const struct vdsshim_image *img, unsigned *percent)
{
    struct frag_count c = { 0, 0, 0 };

    if (!img || !percent) return VDSSHIM_E_INVALID_ARG;
    if (img->info.format == VDSSHIM_FORMAT_VHD)
    {
        if (img->info.type != VDSSHIM_DISK_FIXED) count_vhd(img->fmt, &c);
    }
    else count_vhdx(img->fmt, img->info.block_size, &c);
    *percent = c.allocated ? (unsigned)(c.fragmented * 100 / c.allocated) : 0;
    return VDSSHIM_OK;
}
