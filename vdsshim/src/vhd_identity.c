/*
 * A VHD's identifier (SetVirtualDiskInformation IDENTIFIER): its footer's
 * unique id, which a child's dynamic header names as its parent's. A fixed
 * disk has one footer, rewritten in place: one sector, so it lands whole or
 * not at all. A dynamic or differencing disk also keeps the footer's copy at
 * offset 0: the footer at the end is rewritten, then the copy, then both are
 * flushed. A power cut can keep either write without the other (the crash
 * model reorders them); the copy alone differing in its unique id is read as
 * that change cut short: the footer at the end holds, the copy is stale, and
 * the next read-write open rewrites it (vhd.c). So the disk reads with the
 * old id or the new one, never as corrupt. Which footer Windows writes first
 * is [U]; every reader we know takes the end one (formats.md §1).
 */
#include <string.h>

#include "vhd.h"

int vhd_set_unique_id(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    struct vhd_footer f = vhd->footer;
    uint8_t raw[VHD_FOOTER_SIZE];
    uint64_t end = vhd->file_size - VHD_FOOTER_SIZE;
    int st;

    memcpy(f.unique_id, id, 16);
    vhd_footer_encode(&f, raw);
    if ((st = vdsshim_io_write(img->io, raw, VHD_FOOTER_SIZE, end)))
        return diag_io(diag, img->io, st, end, "cannot write the footer");
    /* From here the disk has the new id, whatever becomes of the copy. */
    vhd->footer = f;
    memcpy(vhd->footer_raw, raw, VHD_FOOTER_SIZE);
    memcpy(img->info.unique_id, id, 16);
    if (f.disk_type != VDSSHIM_DISK_FIXED)
    {
        vhd->copy_stale = 1;
        if ((st = vdsshim_io_write(img->io, raw, VHD_FOOTER_SIZE, 0)))
            return diag_io(diag, img->io, st, 0, "cannot write the footer copy");
        vhd->copy_stale = 0;
    }
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, 0, "cannot flush the footers");
    return VDSSHIM_OK;
}
