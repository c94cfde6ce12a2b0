/*
 * VHD images: open, validate every structure before use, find the parent
 * chain, and read the virtual disk. formats.md §1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "vhd.h"

/* Locator data longer than this is not a path. */
#define VHD_MAX_LOCATOR_BYTES (64u << 10)

static struct vhd *vhd_from_image(struct vdsshim_image *img)
{
    return img->fmt;
}

static uint64_t round_up_sector(uint64_t v)
{
    return (v + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

static int read_at(struct vdsshim_image *img, void *buf, size_t len, uint64_t off, const char *what,
                   struct vdsshim_diag *diag)
{
    int st = vdsshim_io_read(img->io, buf, len, off);

    return st ? diag_io(diag, img->io, st, off, what) : VDSSHIM_OK;
}

uint64_t vhd_structure_end(const struct vhd *vhd)
{
    uint64_t end = 0;
    uint32_t i;

    for (i = 0; i < vhd->nreserved; i++)
        if (vhd->reserved[i].end > end) end = vhd->reserved[i].end;
    for (i = 0; i < vhd->hdr.max_entries; i++)
        if (vhd->bat[i] != VHD_BAT_UNUSED && (uint64_t)vhd->bat[i] * VHD_SECTOR + vhd->block_span > end)
            end = (uint64_t)vhd->bat[i] * VHD_SECTOR + vhd->block_span;
    return end;
}

/* Whether a dynamic header that passes its checks is at off. */
static int copy_header_valid(struct vdsshim_image *img, const struct vhd *vhd, uint64_t off)
{
    uint8_t buf[VHD_DYNHDR_SIZE];
    struct vhd_dynhdr h;

    if (off % VHD_SECTOR || off < VHD_FOOTER_SIZE || off > vhd->file_size - VHD_FOOTER_SIZE
        || VHD_DYNHDR_SIZE > vhd->file_size - VHD_FOOTER_SIZE - off)
        return 0;
    return !vdsshim_io_read(img->io, buf, VHD_DYNHDR_SIZE, off) && !vhd_dynhdr_decode(buf, &h, off, NULL);
}

/* The footer at the end, checked against the copy at offset 0. */
static int vhd_load_footer(struct vdsshim_image *img, struct vhd *vhd, struct vdsshim_diag *diag)
{
    uint8_t buf[VHD_FOOTER_SIZE];
    struct vhd_footer copy;
    uint64_t at;
    int st;

    if (vhd->file_size < VHD_FOOTER_SIZE)
        return diag_set(diag, VDSSHIM_E_UNKNOWN_FORMAT, 0,
                        "file is %llu bytes, too small for any virtual disk",
                        (unsigned long long)vhd->file_size);
    at = vhd->file_size - VHD_FOOTER_SIZE;
    if ((st = read_at(img, vhd->footer_raw, VHD_FOOTER_SIZE, at, "cannot read the footer", diag)))
        return st;
    st = vhd_footer_decode(vhd->footer_raw, &vhd->footer, at, diag);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT)
    {
        if ((st = read_at(img, buf, VHD_FOOTER_SIZE, 0, "cannot read the file", diag))) return st;
        if (!memcmp(buf, "conectix", 8))
            return diag_set(diag, VDSSHIM_E_CORRUPT, at,
                            "the footer at the end of the file (offset %llu) is missing, only the copy "
                            "at offset 0 is there: truncated file?", (unsigned long long)at);
        return diag_set(diag, VDSSHIM_E_UNKNOWN_FORMAT, 0,
                        "not a VHD or VHDX file (no \"conectix\" or \"vhdxfile\" signature)");
    }
    if (st) return st;

    if (vhd->footer.disk_type == VDSSHIM_DISK_FIXED)
    {
        if (vhd->footer.current_size > at)
            return diag_set(diag, VDSSHIM_E_CORRUPT, at + 48,
                            "fixed disk of %llu bytes in a file of %llu bytes",
                            (unsigned long long)vhd->footer.current_size,
                            (unsigned long long)vhd->file_size);
        return VDSSHIM_OK;
    }

    /* Dynamic and differencing disks keep a copy at offset 0 (qemu reads that one). */
    if ((st = read_at(img, buf, VHD_FOOTER_SIZE, 0, "cannot read the footer copy", diag))) return st;
    if ((st = vhd_footer_decode(buf, &copy, 0, diag)))
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "footer copy at offset 0: %s",
                        diag ? diag->msg : "invalid");
    if (copy.disk_type != vhd->footer.disk_type
        || (copy.data_offset != vhd->footer.data_offset && !copy_header_valid(img, vhd, copy.data_offset)))
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0,
                        "footer copy at offset 0 disagrees with the footer at offset %llu",
                        (unsigned long long)at);
    /* Another data offset, at a valid dynamic header: a parent change
     * stopped between the two footer writes (vhd_set_parent.c). The end one
     * holds. */
    if (copy.data_offset != vhd->footer.data_offset) vhd->copy_stale = 1;
    /* Another unique id, in a copy whose checksum holds: an id change
     * stopped between the two footer writes (vhd_identity.c). The end one
     * holds. */
    if (memcmp(copy.unique_id, vhd->footer.unique_id, 16)) vhd->copy_stale = 1;
    /* Only a larger size at the end: an expansion stopped between the two
     * footer writes (vhd_expand.c writes the end first). The end one holds. */
    if (copy.current_size != vhd->footer.current_size)
    {
        if (copy.current_size > vhd->footer.current_size)
            return diag_set(diag, VDSSHIM_E_CORRUPT, 48,
                            "footer copy at offset 0 says %llu bytes, the footer at offset %llu says %llu",
                            (unsigned long long)copy.current_size, (unsigned long long)at,
                            (unsigned long long)vhd->footer.current_size);
        vhd->copy_stale = 1;
    }
    return VDSSHIM_OK;
}

static int add_reserved(struct vhd *vhd, uint64_t start, uint64_t end, const char *what, int locator)
{
    struct vhd_extent *r;

    if (vhd->nreserved == VHD_MAX_RESERVED) return VDSSHIM_E_CORRUPT;
    r = &vhd->reserved[vhd->nreserved++];
    r->start = start;
    r->end = round_up_sector(end);
    r->what = what;
    r->locator = locator;
    return VDSSHIM_OK;
}

static int cmp_block_ref(const void *a, const void *b)
{
    const struct vhd_block_ref *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

int vhd_sorted_blocks(const struct vhd *vhd, struct vhd_block_ref **out, uint32_t *count)
{
    struct vhd_block_ref *refs;
    uint32_t i, n = 0;

    for (i = 0; i < vhd->hdr.max_entries; i++)
        if (vhd->bat[i] != VHD_BAT_UNUSED) n++;
    if (!(refs = malloc((n ? n : 1) * sizeof(*refs)))) return VDSSHIM_E_NOMEM;
    for (i = 0, n = 0; i < vhd->hdr.max_entries; i++)
        if (vhd->bat[i] != VHD_BAT_UNUSED)
        {
            refs[n].start = (uint64_t)vhd->bat[i] * VHD_SECTOR;
            refs[n].index = i;
            n++;
        }
    qsort(refs, n, sizeof(*refs), cmp_block_ref);
    *out = refs;
    *count = n;
    return VDSSHIM_OK;
}

/* Is [start, end) clear of every reserved extent but skip, and of every block? */
static int range_is_free(const struct vhd *vhd, const struct vhd_block_ref *blocks, uint32_t nblocks,
                         uint64_t start, uint64_t end, unsigned skip)
{
    uint32_t i;

    if (end > vhd->file_size - VHD_FOOTER_SIZE) return 0;
    for (i = 0; i < vhd->nreserved; i++)
        if (i != skip && start < vhd->reserved[i].end && vhd->reserved[i].start < end) return 0;
    for (i = 0; i < nblocks; i++)
        if (start < blocks[i].start + vhd->block_span && blocks[i].start < end) return 0;
    return 1;
}

static int vhd_load_batmap(struct vdsshim_image *img, struct vhd *vhd, const struct vhd_block_ref *blocks,
                           uint32_t nblocks, struct vdsshim_diag *diag)
{
    uint64_t at = vhd->hdr.table_offset + vhd->bat_bytes;
    uint8_t hdr[VHD_SECTOR];
    uint8_t *map;
    uint32_t sum = 0;
    uint64_t i, bytes;
    int st;

    if (!range_is_free(vhd, blocks, nblocks, at, at + VHD_SECTOR, ~0u)) return VDSSHIM_OK;
    if ((st = read_at(img, hdr, sizeof(hdr), at, "cannot read the batmap header", diag))) return st;
    if (memcmp(hdr, VHD_BATMAP_COOKIE, 8)) return VDSSHIM_OK;

    vhd->batmap.present = 1;
    vhd->batmap.header_offset = at;
    vhd->batmap.offset = get_be64(hdr + 8);
    vhd->batmap.size_sectors = get_be32(hdr + 16);
    vhd->batmap.version = get_be32(hdr + 20);
    vhd->batmap.checksum = get_be32(hdr + 24);
    bytes = (uint64_t)vhd->batmap.size_sectors * VHD_SECTOR;
    if (vhd->batmap.offset % VHD_SECTOR || bytes < ((uint64_t)vhd->hdr.max_entries + 7) / 8
        || !range_is_free(vhd, blocks, nblocks, vhd->batmap.offset, vhd->batmap.offset + bytes, ~0u))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 8,
                        "batmap at offset %llu (%u sectors) is misplaced or too small",
                        (unsigned long long)vhd->batmap.offset, vhd->batmap.size_sectors);
    if (!(map = malloc((size_t)bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    st = read_at(img, map, (size_t)bytes, vhd->batmap.offset, "cannot read the batmap", diag);
    for (i = 0; !st && i < bytes; i++) sum += map[i];
    free(map);
    if (st) return st;
    vhd->batmap.stale = ~sum != vhd->batmap.checksum;
    if ((st = add_reserved(vhd, at, at + VHD_SECTOR, "batmap header", -1))) return st;
    return add_reserved(vhd, vhd->batmap.offset, vhd->batmap.offset + bytes, "batmap", -1);
}

/* Check that no block and no reserved extent overlaps another or the footers. */
static int vhd_check_layout(struct vhd *vhd, const struct vhd_block_ref *blocks, uint32_t nblocks,
                            struct vdsshim_diag *diag)
{
    uint64_t limit = vhd->file_size - VHD_FOOTER_SIZE;
    uint32_t i, j;

    for (i = 0; i < vhd->nreserved; i++)
    {
        const struct vhd_extent *r = &vhd->reserved[i];
        if (r->end > limit)
            return diag_set(diag, VDSSHIM_E_CORRUPT, r->start,
                            "%s at offset %llu runs past the end of the file",
                            r->what, (unsigned long long)r->start);
        for (j = 0; j < i; j++)
            if (r->start < vhd->reserved[j].end && vhd->reserved[j].start < r->end)
                return diag_set(diag, VDSSHIM_E_CORRUPT, r->start,
                                "%s at offset %llu overlaps the %s at offset %llu", r->what,
                                (unsigned long long)r->start, vhd->reserved[j].what,
                                (unsigned long long)vhd->reserved[j].start);
    }
    for (i = 0; i < nblocks; i++)
    {
        uint64_t start = blocks[i].start, end = start + vhd->block_span;
        uint64_t entry_at = vhd->hdr.table_offset + 4ull * blocks[i].index;

        if (end > limit)
            return diag_set(diag, VDSSHIM_E_CORRUPT, entry_at,
                            "BAT entry %u (at offset %llu) puts its block at %llu, past the end of the file",
                            blocks[i].index, (unsigned long long)entry_at, (unsigned long long)start);
        /* Spare BAT entries past the disk are allowed, but a block there holds
         * data no guest could have written: the size or the BAT is wrong, and
         * which one is a guess (found by fuzz_image_read). */
        if ((uint64_t)blocks[i].index * vhd->hdr.block_size >= vhd->footer.current_size)
            return diag_set(diag, VDSSHIM_E_CORRUPT, entry_at,
                            "BAT entry %u (at offset %llu) is allocated, but its block lies past the virtual size %llu",
                            blocks[i].index, (unsigned long long)entry_at,
                            (unsigned long long)vhd->footer.current_size);
        if (i && start < blocks[i - 1].start + vhd->block_span)
            return diag_set(diag, VDSSHIM_E_CORRUPT, entry_at,
                            "BAT entries %u and %u point at overlapping blocks (offsets %llu and %llu)",
                            blocks[i - 1].index, blocks[i].index,
                            (unsigned long long)blocks[i - 1].start, (unsigned long long)start);
        for (j = 0; j < vhd->nreserved; j++)
            if (start < vhd->reserved[j].end && vhd->reserved[j].start < end)
                return diag_set(diag, VDSSHIM_E_CORRUPT, entry_at,
                                "BAT entry %u (at offset %llu) puts its block at %llu, over the %s",
                                blocks[i].index, (unsigned long long)entry_at,
                                (unsigned long long)start, vhd->reserved[j].what);
    }
    return VDSSHIM_OK;
}

/*
 * The spec counts a locator's data space in sectors; some writers store
 * bytes. Reserve the larger reading when it collides with nothing, so the
 * compactor never puts a block where a tool may later rewrite the path.
 */
static void vhd_widen_locators(struct vhd *vhd, const struct vhd_block_ref *blocks, uint32_t nblocks)
{
    unsigned i;

    for (i = 0; i < vhd->nreserved; i++)
    {
        struct vhd_extent *r = &vhd->reserved[i];
        const struct vhd_locator *loc;
        uint64_t as_sectors, as_bytes;

        if (r->locator < 0) continue;
        loc = &vhd->hdr.loc[r->locator];
        as_sectors = round_up_sector(loc->data_offset + (uint64_t)loc->data_space * VHD_SECTOR);
        as_bytes = round_up_sector(loc->data_offset + loc->data_space);
        if (as_sectors > r->end && range_is_free(vhd, blocks, nblocks, r->start, as_sectors, i))
            r->end = as_sectors;
        else if (as_bytes > r->end && range_is_free(vhd, blocks, nblocks, r->start, as_bytes, i))
            r->end = as_bytes;
    }
}

static int vhd_load_bat(struct vdsshim_image *img, struct vhd *vhd, struct vdsshim_diag *diag)
{
    static const char *const loc_names[VHD_LOCATOR_COUNT] =
    {
        "parent locator 0", "parent locator 1", "parent locator 2", "parent locator 3",
        "parent locator 4", "parent locator 5", "parent locator 6", "parent locator 7",
    };
    const struct vhd_dynhdr *h = &vhd->hdr;
    uint64_t hdr_at = vhd->footer.data_offset, limit = vhd->file_size - VHD_FOOTER_SIZE;
    struct vhd_block_ref *blocks = NULL;
    uint32_t i, nblocks = 0;
    int st;

    if ((uint64_t)h->max_entries * h->block_size < vhd->footer.current_size)
        return diag_set(diag, VDSSHIM_E_CORRUPT, hdr_at + 28,
                        "max table entries at offset %llu is %u: %u-byte blocks cannot cover %llu bytes",
                        (unsigned long long)(hdr_at + 28), h->max_entries, h->block_size,
                        (unsigned long long)vhd->footer.current_size);
    vhd->bat_bytes = round_up_sector(4ull * h->max_entries);
    if (h->table_offset < VHD_FOOTER_SIZE || h->table_offset > limit || vhd->bat_bytes > limit - h->table_offset)
        return diag_set(diag, VDSSHIM_E_CORRUPT, hdr_at + 16,
                        "BAT at offset %llu (%u entries) does not fit in the file of %llu bytes",
                        (unsigned long long)h->table_offset, h->max_entries,
                        (unsigned long long)vhd->file_size);
    vhd->bitmap_size = vhd_bitmap_size(h->block_size);
    vhd->block_span = (uint64_t)vhd->bitmap_size + h->block_size;

    /* Sized by max_entries, which now is known to fit inside the file. */
    if (!(vhd->bat_raw = malloc((size_t)vhd->bat_bytes))
        || !(vhd->bat = malloc(((size_t)h->max_entries ? h->max_entries : 1) * sizeof(uint32_t)))
        || !(vhd->bitmap = malloc(vhd->bitmap_size)))
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
    vhd->cached_block = VHD_BAT_UNUSED;
    if ((st = read_at(img, vhd->bat_raw, (size_t)vhd->bat_bytes, h->table_offset, "cannot read the BAT", diag)))
        return st;
    for (i = 0; i < h->max_entries; i++)
        vhd->bat[i] = get_be32(vhd->bat_raw + 4ull * i);

    if ((st = add_reserved(vhd, 0, VHD_FOOTER_SIZE, "footer copy", -1))
        || (st = add_reserved(vhd, hdr_at, hdr_at + VHD_DYNHDR_SIZE, "dynamic header", -1))
        || (st = add_reserved(vhd, h->table_offset, h->table_offset + vhd->bat_bytes, "BAT", -1)))
        return st;
    for (i = 0; i < VHD_LOCATOR_COUNT; i++)
    {
        const struct vhd_locator *loc = &h->loc[i];
        uint64_t at = hdr_at + 576 + 24 * i;

        if (loc->code == VHD_PLAT_NONE || (!loc->data_length && !loc->data_space)) continue;
        if (loc->data_offset % VHD_SECTOR || loc->data_offset < VHD_FOOTER_SIZE
            || loc->data_offset > limit || loc->data_length > limit - loc->data_offset)
            return diag_set(diag, VDSSHIM_E_CORRUPT, at + 16,
                            "parent locator %u (at offset %llu) points at %llu+%u, outside the file",
                            i, (unsigned long long)at, (unsigned long long)loc->data_offset, loc->data_length);
        if ((st = add_reserved(vhd, loc->data_offset, loc->data_offset + (loc->data_length ? loc->data_length : 1),
                               loc_names[i], (int)i)))
            return st;
    }

    if ((st = vhd_sorted_blocks(vhd, &blocks, &nblocks)))
        return diag_set(diag, st, 0, "out of memory");
    if (!(st = vhd_check_layout(vhd, blocks, nblocks, diag))
        && !(st = vhd_load_batmap(img, vhd, blocks, nblocks, diag)))
        vhd_widen_locators(vhd, blocks, nblocks);
    free(blocks);
    img->info.blocks_allocated = nblocks;
    return st;
}

/* Read a locator's UTF-16LE path and resolve it against the child. */
static char *vhd_locator_path(struct vdsshim_image *img, const struct vhd_locator *loc)
{
    uint16_t *w;
    uint8_t *raw;
    char *path = NULL;
    uint32_t i, len = loc->data_length;

    if (!len || len > VHD_MAX_LOCATOR_BYTES || len % 2) return NULL;
    raw = malloc(len);
    w = malloc(len);
    if (raw && w && !vdsshim_io_read(img->io, raw, len, loc->data_offset))
    {
        for (i = 0; i < len / 2; i++) w[i] = get_le16(raw + 2 * i);
        path = locator_path_resolve(img->path, w, len / 2);
    }
    free(raw);
    free(w);
    return path;
}

static int vhd_parent_matches(const struct vdsshim_image *child, const struct vdsshim_image *parent)
{
    const struct vhd *vhd = child->fmt;

    return parent->info.format == VDSSHIM_FORMAT_VHD
        && !memcmp(parent->info.unique_id, vhd->hdr.parent_uid, 16);
}

/* Relative locator first, then absolute, then the parent's name beside the child. */
static int vhd_open_parent(struct vdsshim_image *img, const struct chain_ctx *chain,
                           struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);
    struct parent_candidate cands[VHD_LOCATOR_COUNT + 1];
    uint16_t name[256];
    size_t n = 0, i;
    unsigned pass;
    int st;

    for (pass = 0; pass < 2; pass++)
        for (i = 0; i < VHD_LOCATOR_COUNT; i++)
            if (vhd->hdr.loc[i].code == (pass ? VHD_PLAT_W2KU : VHD_PLAT_W2RU))
                cands[n++].path = vhd_locator_path(img, &vhd->hdr.loc[i]);
    for (i = 0; i < 256; i++) name[i] = get_be16(vhd->hdr.parent_name + 2 * i);
    for (i = 0; i < 256 && name[i]; i++) {}
    {
        /* Only the file name: a directory part would repeat a locator. */
        size_t start = i;
        while (start && name[start - 1] != '\\' && name[start - 1] != '/') start--;
        cands[n++].path = i > start ? locator_path_resolve(img->path, name + start, i - start) : NULL;
    }

    st = image_open_parent(img, cands, n, chain, vhd_parent_matches, diag);
    for (i = 0; i < n; i++) free(cands[i].path);
    return st;
}

int vhd_read_bitmap(struct vdsshim_image *img, uint32_t block, uint8_t *buf, struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);

    return read_at(img, buf, vhd->bitmap_size, (uint64_t)vhd->bat[block] * VHD_SECTOR,
                   "cannot read a sector bitmap", diag);
}

/* Bytes the guest sees where this disk has no data: zeros, or the parent's. */
static int vhd_read_below(struct vdsshim_image *img, uint64_t off, uint8_t *buf, size_t len,
                          struct vdsshim_diag *diag)
{
    if (img->info.type == VDSSHIM_DISK_DIFFERENCING) return image_read_parent(img, off, buf, len, diag);
    memset(buf, 0, len);
    return VDSSHIM_OK;
}

static int vhd_read(struct vdsshim_image *img, uint64_t off, void *out, size_t len,
                    struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);
    uint8_t *buf = out;
    uint32_t bs = vhd->hdr.block_size;
    int st;

    if (img->info.type == VDSSHIM_DISK_FIXED)
        return read_at(img, buf, len, off, "cannot read disk data", diag);

    while (len)
    {
        uint32_t block = (uint32_t)(off / bs), in = (uint32_t)(off % bs);
        size_t n = bs - in < len ? bs - in : len;
        uint64_t data_at;

        if (vhd->bat[block] == VHD_BAT_UNUSED)
        {
            if ((st = vhd_read_below(img, off, buf, n, diag))) return st;
        }
        else
        {
            size_t done = 0;

            if (vhd->cached_block != block)
            {
                vhd->cached_block = VHD_BAT_UNUSED;
                if ((st = vhd_read_bitmap(img, block, vhd->bitmap, diag))) return st;
                vhd->cached_block = block;
            }
            data_at = (uint64_t)vhd->bat[block] * VHD_SECTOR + vhd->bitmap_size;
            /* Runs of sectors that are all present, or all absent, in this file. */
            while (done < n)
            {
                uint32_t sector = (in + (uint32_t)done) / VHD_SECTOR;
                int present = !!vhd_bitmap_test(vhd->bitmap, sector);
                size_t run = (size_t)(sector + 1) * VHD_SECTOR - (in + done);

                while (done + run < n && !!vhd_bitmap_test(vhd->bitmap, ++sector) == present)
                    run += VHD_SECTOR;
                if (run > n - done) run = n - done;
                st = present ? read_at(img, buf + done, run, data_at + in + done, "cannot read disk data", diag)
                             : vhd_read_below(img, off + done, buf + done, run, diag);
                if (st) return st;
                done += run;
            }
        }
        buf += n;
        off += n;
        len -= n;
    }
    return VDSSHIM_OK;
}

int vhd_write_bat(struct vdsshim_image *img, uint32_t first, uint32_t last, struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);
    uint64_t from = 4ull * first / VHD_SECTOR * VHD_SECTOR;
    uint64_t to = round_up_sector(4ull * last + 4);
    uint32_t i;
    int st;

    for (i = first; i <= last; i++) put_be32(vhd->bat_raw + 4ull * i, vhd->bat[i]);
    if ((st = vdsshim_io_write(img->io, vhd->bat_raw + from, (size_t)(to - from), vhd->hdr.table_offset + from)))
        return diag_io(diag, img->io, st, vhd->hdr.table_offset + from, "cannot write the BAT");
    return VDSSHIM_OK;
}

int vhd_set_end(struct vdsshim_image *img, uint64_t end, struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);
    int st;

    if (end + VHD_FOOTER_SIZE >= vhd->file_size) return VDSSHIM_OK;
    /* The old footer stays valid at the old end until the truncate lands. */
    if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, end)))
        return diag_io(diag, img->io, st, end, "cannot write the footer");
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, end, "cannot flush");
    if ((st = vdsshim_io_truncate(img->io, end + VHD_FOOTER_SIZE)))
        return diag_io(diag, img->io, st, end + VHD_FOOTER_SIZE, "cannot truncate the file");
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, end, "cannot flush");
    vhd->file_size = img->info.file_size = end + VHD_FOOTER_SIZE;
    return VDSSHIM_OK;
}

static void vhd_destroy(struct vdsshim_image *img)
{
    struct vhd *vhd = vhd_from_image(img);

    if (!vhd) return;
    free(vhd->bat);
    free(vhd->bat_raw);
    free(vhd->bitmap);
    free(vhd);
    img->fmt = NULL;
}

static const struct image_ops vhd_ops =
{
    vhd_read,
    vhd_compact,
    vhd_destroy,
    vhd_expand,
    vhd_present,
    vhd_write_units,
    NULL,
    NULL,       /* shrink: footer, its copy and the BAT's size would change apart */
};

static void vhd_fill_info(struct vdsshim_image *img, const struct vhd *vhd)
{
    struct vdsshim_info *info = &img->info;
    char app[5];
    unsigned i;

    info->format = VDSSHIM_FORMAT_VHD;
    info->type = (enum vdsshim_disk_type)vhd->footer.disk_type;
    info->virtual_size = vhd->footer.current_size;
    if (vhd_sized_by_chs(vhd->footer.creator_app))
    {
        uint64_t chs = (uint64_t)vhd->footer.cylinders * vhd->footer.heads * vhd->footer.sectors * VHD_SECTOR;
        if (chs && chs < info->virtual_size) info->virtual_size = chs;
    }
    info->file_size = vhd->file_size;
    info->logical_sector_size = info->physical_sector_size = VHD_SECTOR;
    memcpy(info->unique_id, vhd->footer.unique_id, 16);
    for (i = 0; i < 4; i++)
    {
        uint8_t c = vhd->footer.creator_app[i];
        app[i] = c >= 0x20 && c < 0x7f ? (char)c : c ? '?' : ' ';
    }
    app[4] = 0;
    snprintf(info->creator, sizeof(info->creator), "%s %u.%u", app,
             vhd->footer.creator_version >> 16, vhd->footer.creator_version & 0xffff);
    info->chain_depth = 1;
    if (info->type != VDSSHIM_DISK_FIXED)
    {
        info->block_size = vhd->hdr.block_size;
        info->block_count = (vhd->footer.current_size + vhd->hdr.block_size - 1) / vhd->hdr.block_size;
        info->has_parent = info->type == VDSSHIM_DISK_DIFFERENCING;
    }
}

/* The footers, the dynamic header and the BAT, checked; the info they give. */
static int vhd_load(struct vdsshim_image *img, struct vhd *vhd, struct vdsshim_diag *diag)
{
    uint8_t buf[VHD_DYNHDR_SIZE];
    uint64_t at;
    int st;

    if ((st = vdsshim_io_size(img->io, &vhd->file_size)))
        return diag_io(diag, img->io, st, 0, "cannot get the file size");
    if ((st = vhd_load_footer(img, vhd, diag))) return st;

    if (vhd->footer.disk_type != VDSSHIM_DISK_FIXED)
    {
        at = vhd->footer.data_offset;
        if (at % VHD_SECTOR || at < VHD_FOOTER_SIZE || at > vhd->file_size - VHD_FOOTER_SIZE
            || VHD_DYNHDR_SIZE > vhd->file_size - VHD_FOOTER_SIZE - at)
            return diag_set(diag, VDSSHIM_E_CORRUPT, vhd->file_size - VHD_FOOTER_SIZE + 16,
                            "footer data offset %llu does not point at a dynamic header inside the file",
                            (unsigned long long)at);
        if ((st = read_at(img, buf, VHD_DYNHDR_SIZE, at, "cannot read the dynamic header", diag))) return st;
        if ((st = vhd_dynhdr_decode(buf, &vhd->hdr, at, diag))) return st;
        if ((st = vhd_load_bat(img, vhd, diag))) return st;
    }
    vhd_fill_info(img, vhd);
    return VDSSHIM_OK;
}

int vhd_reload(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    struct vhd *vhd = vhd_from_image(img);
    struct vdsshim_info was = img->info;
    int st;

    free(vhd->bat);
    free(vhd->bat_raw);
    free(vhd->bitmap);
    memset(vhd, 0, sizeof(*vhd));
    if ((st = vhd_load(img, vhd, diag))) return st;
    img->info.parent_open = was.parent_open;
    img->info.chain_depth = was.chain_depth;
    memcpy(img->info.parent_path, was.parent_path, sizeof(was.parent_path));
    return VDSSHIM_OK;
}

int vhd_open(struct vdsshim_image *img, const struct chain_ctx *chain, struct vdsshim_diag *diag)
{
    struct vhd *vhd;
    int st;

    if (!(vhd = calloc(1, sizeof(*vhd)))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    img->fmt = vhd;
    img->ops = &vhd_ops;
    if ((st = vhd_load(img, vhd, diag))) return st;

    if (img->info.has_parent && (st = vhd_open_parent(img, chain, diag))) return st;

    if (!(img->flags & VDSSHIM_OPEN_WRITE) || vhd->footer.disk_type == VDSSHIM_DISK_FIXED) return VDSSHIM_OK;
    if (vhd->copy_stale)
    {
        /* Finish the interrupted expansion or id change: the copy takes the end footer.
         * No flush of its own: if it does not land, the copy is just stale
         * again and the next read-write open repeats this; the next flush
         * of any operation makes it durable. */
        if ((st = vdsshim_io_write(img->io, vhd->footer_raw, VHD_FOOTER_SIZE, 0)))
            return diag_io(diag, img->io, st, 0, "cannot write the footer copy");
        vhd->copy_stale = 0;
    }
    /* "The file size may be reduced when opened": trailing space nothing
     * references goes. The next compaction reports it as its own work. */
    {
        uint64_t was = vhd->file_size;
        if ((st = vhd_set_end(img, vhd_structure_end(vhd), diag))) return st;
        if (vhd->file_size < was)
        {
            img->open_trim.size_before = was;
            img->open_trim.bytes_written = VHD_FOOTER_SIZE;
        }
    }
    return VDSSHIM_OK;
}
