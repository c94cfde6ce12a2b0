/*
 * Growing a VHD.
 *
 * Dynamic: the BAT grows in place; blocks that sit where it grows move to
 * the end first, one at a time (copy, flush, BAT entry, flush). Then the new
 * entries, the dynamic header's entry count, the footer at the end and last
 * its copy at offset 0: until that copy lands, readers see the old size, and
 * ours take the footer at the end (vhd.c).
 *
 * Fixed: the data is the file's first Current Size bytes and the footer the
 * last 512, so the old footer becomes guest data that must read as zeros.
 * Every reader takes the footer at the end, so that one must always be valid:
 * (1) the unchanged footer is written at the new end (the file now reads as
 * before: bytes between the data and the last sector are not the disk's),
 * (2) the old data end up to the new size is zeroed, (3) the footer with the
 * new size replaces (1), one sector. A cut anywhere leaves the old size or
 * the new one, and zeros past the old data.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "progress.h"
#include "vhd.h"

static uint64_t round_up_sector(uint64_t v)
{
    return (v + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

static int flush(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_flush(img->io);

    return st ? diag_io(diag, img->io, st, 0, "cannot flush") : VDSSHIM_OK;
}

/* Move one block to the end of the file (past limit), crash-safe. */
static int move_block_to_end(struct vdsshim_image *img, struct vhd *vhd, uint32_t index, uint64_t limit,
                             uint8_t *buf, struct vdsshim_diag *diag)
{
    uint64_t from = (uint64_t)vhd->bat[index] * VHD_SECTOR, end = vhd->file_size - VHD_FOOTER_SIZE, done;
    uint64_t to = end > limit ? end : limit;
    int st;

    /* The footer first moves past where the block goes, durably: until then
     * the old one must stay the last 512 bytes of the file. */
    if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, to + vhd->block_span)))
        return diag_io(diag, img->io, st, to + vhd->block_span, "cannot write the footer");
    if ((st = flush(img, diag))) return st;
    vhd->file_size = img->info.file_size = to + vhd->block_span + VHD_FOOTER_SIZE;
    for (done = 0; done < vhd->block_span; done += ENGINE_IO_CHUNK)
    {
        size_t n = vhd->block_span - done < ENGINE_IO_CHUNK ? (size_t)(vhd->block_span - done) : ENGINE_IO_CHUNK;

        if ((st = vdsshim_io_read(img->io, buf, n, from + done)))
            return diag_io(diag, img->io, st, from + done, "cannot read a block");
        if ((st = vdsshim_io_write(img->io, buf, n, to + done)))
            return diag_io(diag, img->io, st, to + done, "cannot write a block");
    }
    if ((st = flush(img, diag))) return st;
    vhd->bat[index] = (uint32_t)(to / VHD_SECTOR);
    if (vhd->cached_block == index) vhd->cached_block = VHD_BAT_UNUSED;
    if ((st = vhd_write_bat(img, index, index, diag))) return st;
    return flush(img, diag);
}

/* Make [start, end) free of blocks; anything else there cannot move. */
static int clear_range(struct vdsshim_image *img, struct vhd *vhd, uint64_t start, uint64_t end,
                       struct progress *progress, struct vdsshim_diag *diag)
{
    uint8_t *buf = NULL;
    uint32_t i;
    int st = VDSSHIM_OK;

    for (i = 0; i < vhd->nreserved; i++)
    {
        const struct vhd_extent *r = &vhd->reserved[i];

        if (r->start != vhd->hdr.table_offset && r->start < end && start < r->end)
            return diag_set(diag, VDSSHIM_E_UNSUPPORTED, r->start,
                            "the BAT cannot grow: the %s at offset %llu follows it", r->what,
                            (unsigned long long)r->start);
    }
    for (i = 0; i < vhd->hdr.max_entries && !st; i++)
    {
        uint64_t at = (uint64_t)vhd->bat[i] * VHD_SECTOR;

        if (vhd->bat[i] == VHD_BAT_UNUSED || at >= end || at + vhd->block_span <= start) continue;
        if (!buf && !(buf = io_buffer_alloc(ENGINE_IO_CHUNK))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        if (!(st = move_block_to_end(img, vhd, i, end, buf, diag)))
            st = progress_report(progress, 0, 80, i + 1, vhd->hdr.max_entries);
    }
    io_buffer_free(buf);
    return st;
}

/* The footer for new_size, encoded. A "vpc " or "qemu" disk is sized by
 * C*H*S (vhd_sized_by_chs), which rarely equals the new size; as "win "
 * every reader takes Current Size, as for the disks we create. */
static void footer_for_size(const struct vhd *vhd, uint64_t new_size, struct vhd_footer *f, uint8_t *raw)
{
    *f = vhd->footer;
    f->current_size = new_size;
    vhd_geometry(new_size, f);
    if (vhd_sized_by_chs(f->creator_app)) memcpy(f->creator_app, "win ", 4);
    vhd_footer_encode(f, raw);
}

static int expand_fixed(struct vdsshim_image *img, struct vhd *vhd, uint64_t new_size, struct progress *progress,
                        struct vdsshim_diag *diag)
{
    uint64_t old = vhd->footer.current_size, prev_end = vhd->file_size, zero_end, at;
    uint8_t footer[VHD_FOOTER_SIZE], *zeros;
    struct vhd_footer f;
    int st;

    /* (1) The same footer at the new end; a longer file (an earlier run that
     * aimed higher) is cut to it once that footer is durable. The cut needs
     * no flush of its own: until it lands the old end still holds a footer
     * of the old size, and nothing below writes there. */
    if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, new_size)))
        return diag_io(diag, img->io, st, new_size, "cannot write the footer");
    if ((st = flush(img, diag))) return st;
    if (prev_end > new_size + VHD_FOOTER_SIZE && (st = vdsshim_io_truncate(img->io, new_size + VHD_FOOTER_SIZE)))
        return diag_io(diag, img->io, st, new_size, "cannot set the file size");
    vhd->file_size = img->info.file_size = new_size + VHD_FOOTER_SIZE;
    if ((st = progress_report(progress, 0, 30, 1, 1))) return st;

    /* (2) Zeros from the old data's end: the old footer, and anything an
     * earlier run or another tool left before the old end of the file. */
    zero_end = prev_end < new_size ? prev_end : new_size;
    if (zero_end > old)
    {
        /* Usually just the old footer's sector: no bigger buffer than needed. */
        size_t chunk = zero_end - old < ENGINE_IO_CHUNK ? (size_t)(zero_end - old) : ENGINE_IO_CHUNK;

        if (!(zeros = io_buffer_alloc(chunk))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        memset(zeros, 0, chunk);
        for (at = old, st = VDSSHIM_OK; at < zero_end && !st; at += chunk)
        {
            size_t n = zero_end - at < chunk ? (size_t)(zero_end - at) : chunk;
            if ((st = vdsshim_io_write(img->io, zeros, n, at))) st = diag_io(diag, img->io, st, at, "cannot zero the new space");
        }
        io_buffer_free(zeros);
        if (st || (st = flush(img, diag))) return st;
    }
    if ((st = progress_report(progress, 30, 90, 1, 1))) return st;

    /* (3) The new size, in the one sector every reader takes. */
    footer_for_size(vhd, new_size, &f, footer);
    if ((st = vdsshim_io_write(img->io, footer, VHD_FOOTER_SIZE, new_size)))
        return diag_io(diag, img->io, st, new_size, "cannot write the footer");
    if ((st = flush(img, diag))) return st;
    vhd->footer = f;
    memcpy(vhd->footer_raw, footer, VHD_FOOTER_SIZE);
    img->info.virtual_size = new_size;
    return VDSSHIM_OK;
}

int vhd_expand(struct vdsshim_image *img, uint64_t new_size, struct progress *progress, struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    uint32_t old = vhd->hdr.max_entries, i;
    uint64_t need;
    uint8_t sector[VHD_DYNHDR_SIZE], footer[VHD_FOOTER_SIZE];
    struct vhd_footer f;
    int st;

    if (vhd->footer.disk_type == VDSSHIM_DISK_FIXED) return expand_fixed(img, vhd, new_size, progress, diag);
    need = (new_size + vhd->hdr.block_size - 1) / vhd->hdr.block_size;
    if (need > 0xffffffffu - 1)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%llu bytes need more BAT entries than a VHD holds",
                        (unsigned long long)new_size);
    if (need > old)
    {
        uint64_t bytes = round_up_sector(4 * need), from = vhd->hdr.table_offset + vhd->bat_bytes;
        uint64_t end = vhd->hdr.table_offset + bytes, first_sector = 4ull * old / VHD_SECTOR * VHD_SECTOR;
        uint32_t *bat;
        uint8_t *raw;

        if ((st = clear_range(img, vhd, from, end, progress, diag))) return st;
        if (!(bat = realloc(vhd->bat, (size_t)need * sizeof(*bat)))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        vhd->bat = bat;
        if (!(raw = realloc(vhd->bat_raw, (size_t)bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        vhd->bat_raw = raw;
        memset(raw + 4ull * old, 0xff, (size_t)(bytes - 4ull * old));
        for (i = old; i < need; i++) bat[i] = VHD_BAT_UNUSED;

        /* The footer first moves past the new BAT if the file ends inside it. */
        if (vhd->file_size - VHD_FOOTER_SIZE < end)
        {
            if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, end)))
                return diag_io(diag, img->io, st, end, "cannot write the footer");
            if ((st = flush(img, diag))) return st;
            vhd->file_size = img->info.file_size = end + VHD_FOOTER_SIZE;
        }
        /* New entries, in space nothing references yet. */
        if ((st = vdsshim_io_write(img->io, raw + first_sector, (size_t)(bytes - first_sector),
                                   vhd->hdr.table_offset + first_sector)))
            return diag_io(diag, img->io, st, vhd->hdr.table_offset + first_sector, "cannot write the BAT");
        if ((st = flush(img, diag))) return st;

        /* Entry count and checksum share the header's first sector: one atomic write. */
        vhd->hdr.max_entries = (uint32_t)need;
        vhd_dynhdr_encode(&vhd->hdr, sector);
        if ((st = vdsshim_io_write(img->io, sector, VHD_SECTOR, vhd->footer.data_offset)))
            return diag_io(diag, img->io, st, vhd->footer.data_offset, "cannot write the dynamic header");
        if ((st = flush(img, diag))) return st;
        vhd->bat_bytes = bytes;
        for (i = 0; i < vhd->nreserved; i++)
            if (vhd->reserved[i].start == vhd->hdr.table_offset) vhd->reserved[i].end = end;
    }
    if ((st = progress_report(progress, 80, 90, 1, 1))) return st;

    footer_for_size(vhd, new_size, &f, footer);
    if ((st = vdsshim_io_write(img->io, footer, VHD_FOOTER_SIZE, vhd->file_size - VHD_FOOTER_SIZE)))
        return diag_io(diag, img->io, st, vhd->file_size - VHD_FOOTER_SIZE, "cannot write the footer");
    if ((st = flush(img, diag))) return st;
    vhd->footer = f;
    memcpy(vhd->footer_raw, footer, VHD_FOOTER_SIZE);
    img->info.virtual_size = new_size;
    img->info.block_count = need;
    if ((st = vdsshim_io_write(img->io, footer, VHD_FOOTER_SIZE, 0)))
        return diag_io(diag, img->io, st, 0, "cannot write the footer copy");
    return flush(img, diag);
}
