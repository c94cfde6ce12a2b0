/*
 * VHDX images: open (headers, log, region table, metadata, BAT, in that
 * order), validate every object before use, find the parent chain, read the
 * virtual disk. formats.md §2.
 */
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "vhdx.h"

/* How much of the BAT is read at once when an image opens. */
#define BAT_READ_CHUNK (256u << 10)


static struct vhdx *vhdx_from_image(struct vdsshim_image *img)
{
    return img->fmt;
}

/* Headers: the valid one with the higher sequence; equal ones must be identical (Disk2vhd). */
static int vhdx_load_headers(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    static const uint64_t at[2] = { VHDX_HEADER1_OFFSET, VHDX_HEADER2_OFFSET };
    uint8_t buf[2][VHDX_HEADER_SIZE];
    struct vhdx_header h[2];
    struct vdsshim_diag d[2] = { { .msg = { 0 } }, { .msg = { 0 } } };
    int ok[2], i, st;

    for (i = 0; i < 2; i++)
    {
        if ((st = vdsshim_io_read(img->io, buf[i], VHDX_HEADER_SIZE, at[i])))
            return diag_io(diag, img->io, st, at[i], "cannot read a header");
        ok[i] = !vhdx_header_decode(buf[i], &h[i], at[i], &d[i]);
    }
    if (!ok[0] && !ok[1])
    {
        if (diag) *diag = d[0];
        return diag_set(diag, VDSSHIM_E_CORRUPT, at[0], "neither header is valid: %s", d[0].msg);
    }
    if (ok[0] && ok[1] && h[0].sequence == h[1].sequence && memcmp(buf[0], buf[1], VHDX_HEADER_SIZE))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at[1], "both headers have sequence number %llu but differ",
                        (unsigned long long)h[0].sequence);
    v->current = ok[0] && (!ok[1] || h[0].sequence >= h[1].sequence) ? 0 : 1;
    v->header = h[v->current];
    return VDSSHIM_OK;
}

int vhdx_update_headers(struct vdsshim_image *img, struct vhdx *v, const struct vhdx_guid *log_guid,
                        struct vdsshim_diag *diag)
{
    static const uint64_t at[2] = { VHDX_HEADER1_OFFSET, VHDX_HEADER2_OFFSET };
    struct vhdx_header h = v->header;
    uint8_t buf[VHDX_HEADER_SIZE];
    int i, st;

    if (!v->header_updated && (st = vdsshim_random_bytes(h.file_write_guid.b, 16)))
        return diag_set(diag, st, 0, "no random source for a FileWriteGuid");
    h.log_guid = *log_guid;
    /* The non-current copy first; once it is durable, the other one (§2.2.2.1).
     * DataWriteGuid is never touched here: children link to it. */
    for (i = 0; i < 2; i++)
    {
        int slot = !v->current;
        h.sequence++;
        vhdx_header_encode(&h, buf);
        if ((st = vdsshim_io_write(img->io, buf, VHDX_HEADER_SIZE, at[slot])))
            return diag_io(diag, img->io, st, at[slot], "cannot write a header");
        if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, at[slot], "cannot flush");
        v->current = slot;
        v->header = h;
    }
    v->header_updated = 1;
    return VDSSHIM_OK;
}

static int vhdx_load_regions(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    static const uint64_t at[2] = { VHDX_REGION1_OFFSET, VHDX_REGION2_OFFSET };
    struct vhdx_region_table *t;
    uint8_t *buf;
    int st = VDSSHIM_OK, i;
    uint32_t e;

    t = malloc(sizeof(*t));
    buf = malloc(VHDX_REGION_SIZE);
    if (!t || !buf)
    {
        free(t);
        free(buf);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    for (i = 0; i < 2; i++)
    {
        if ((st = vhdx_file_read(img, v, buf, VHDX_REGION_SIZE, at[i], "cannot read a region table", diag))) break;
        if (!(st = vhdx_region_table_decode(buf, t, at[i], diag))) break;
    }
    for (e = 0; !st && e < t->entry_count; e++)
    {
        const struct vhdx_region *r = &t->entries[e];
        if (!memcmp(r->guid.b, vhdx_region_bat, 16)) v->bat_region = *r;
        else if (!memcmp(r->guid.b, vhdx_region_meta, 16)) v->meta_region = *r;
        else if (r->required)
            st = diag_set(diag, VDSSHIM_E_UNSUPPORTED, at[i] + 16 + 32 * e,
                          "region %u is an unknown required region", e);
    }
    if (!st && (!v->bat_region.length || !v->meta_region.length))
        st = diag_set(diag, VDSSHIM_E_CORRUPT, at[i], "the region table lacks the BAT or the metadata region");
    free(t);
    free(buf);
    return st;
}

static int vhdx_load_meta(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    uint8_t *buf;
    int st;

    if (v->meta_region.offset > v->file_size || v->meta_region.length > v->file_size - v->meta_region.offset)
        return diag_set(diag, VDSSHIM_E_CORRUPT, v->meta_region.offset, "metadata region at %llu+%u lies outside the file",
                        (unsigned long long)v->meta_region.offset, v->meta_region.length);
    if (!(buf = malloc(v->meta_region.length))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    st = vhdx_file_read(img, v, buf, v->meta_region.length, v->meta_region.offset, "cannot read the metadata", diag);
    if (!st) st = vhdx_meta_decode(buf, v->meta_region.length, v->meta_region.offset, &v->meta, diag);
    free(buf);
    return st;
}

struct extent
{
    uint64_t start, end;
    uint64_t entry;         /* BAT index, or ~0 for a fixed object */
    const char *what;
};

static int cmp_extent(const void *a, const void *b)
{
    const struct extent *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

int vhdx_read_bat(struct vdsshim_image *img, struct vhdx *v, struct vhdx_bat *b, struct vdsshim_diag *diag)
{
    uint64_t i;
    uint8_t *raw;
    int st = VDSSHIM_OK;

    if (!(raw = malloc(BAT_READ_CHUNK))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
    for (i = 0; i < b->entries && !st; )
    {
        uint64_t n = b->entries - i < BAT_READ_CHUNK / 8 ? b->entries - i : BAT_READ_CHUNK / 8, k;

        if ((st = vhdx_file_read(img, v, raw, (size_t)n * 8, v->bat_region.offset + 8 * i, "cannot read the BAT", diag)))
            break;
        for (k = 0; k < n && !st; k += VHDX_BAT_PAGE_ENTRIES)
        {
            size_t len = n - k < VHDX_BAT_PAGE_ENTRIES ? (size_t)(n - k) : VHDX_BAT_PAGE_ENTRIES;
            if (vhdx_bat_load(b, i + k, raw + 8 * k, len))
                st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
        }
        i += n;
    }
    free(raw);
    return st;
}

/* One entry's reserved bits, state and offset, as they may be at index i. */
static int check_entry(const struct vhdx *v, uint64_t i, uint64_t e, struct vdsshim_diag *diag)
{
    uint64_t off = VHDX_BAT_OFFSET(e), at = v->bat_region.offset + 8 * i;
    unsigned state = VHDX_BAT_STATE(e);
    int is_sb = vhdx_is_sb_entry(v, i);
    uint64_t size = is_sb ? MiB : v->meta.block_size;

    if (VHDX_BAT_RESERVED(e))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "BAT entry %llu (at offset %llu) has reserved bits set: %#llx",
                        (unsigned long long)i, (unsigned long long)at, (unsigned long long)e);
    if (is_sb ? (state != VHDX_SB_NOT_PRESENT && state != VHDX_SB_PRESENT)
              : (state == VHDX_PAYLOAD_UNDEFINED_4 || (state == VHDX_PAYLOAD_PARTIALLY_PRESENT && !v->meta.has_parent)))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "BAT entry %llu (at offset %llu) has state %u, invalid here",
                        (unsigned long long)i, (unsigned long long)at, state);
    if (!off && (state == VHDX_PAYLOAD_FULLY_PRESENT || state == VHDX_PAYLOAD_PARTIALLY_PRESENT))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "BAT entry %llu (at offset %llu) is present but has no offset",
                        (unsigned long long)i, (unsigned long long)at);
    if (off && (off > v->file_size || size > v->file_size - off))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "BAT entry %llu (at offset %llu) puts its block at %llu, past the end of the file",
                        (unsigned long long)i, (unsigned long long)at, (unsigned long long)off);
    if (!is_sb && state == VHDX_PAYLOAD_PARTIALLY_PRESENT)
    {
        uint64_t sb = vhdx_sb_index(v, vhdx_block_of_entry(v, i) / v->chunk_ratio);
        if (sb >= v->bat.entries || VHDX_BAT_STATE(vhdx_bat_get(&v->bat, sb)) != VHDX_SB_PRESENT)
            return diag_set(diag, VDSSHIM_E_CORRUPT, at, "block %llu is partially present but its sector bitmap block is not",
                            (unsigned long long)vhdx_block_of_entry(v, i));
    }
    return VDSSHIM_OK;
}

static int add_extent(struct extent **ext, uint64_t *n, uint64_t *cap, struct extent e)
{
    if (*n == *cap)
    {
        uint64_t ncap = *cap ? *cap * 2 : 64;
        struct extent *p = ncap <= SIZE_MAX / sizeof(*p) ? realloc(*ext, (size_t)ncap * sizeof(*p)) : NULL;
        if (!p) return VDSSHIM_E_NOMEM;
        *ext = p;
        *cap = ncap;
    }
    (*ext)[(*n)++] = e;
    return VDSSHIM_OK;
}

static int vhdx_load_bat(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    const struct vhdx_meta *m = &v->meta;
    uint64_t i, need, nblocks = 0, nextents = 0, cap = 0;
    struct extent *ext = NULL;
    int st = VDSSHIM_OK;

    v->chunk_ratio = ((1ull << 23) * m->logical_sector_size) / m->block_size;
    v->payload_blocks = (m->virtual_size + m->block_size - 1) / m->block_size;
    v->sb_blocks = (v->payload_blocks + v->chunk_ratio - 1) / v->chunk_ratio;
    need = v->payload_blocks + (v->payload_blocks - 1) / v->chunk_ratio;    /* up to the last payload entry */
    if (m->has_parent) need = v->sb_blocks * (v->chunk_ratio + 1);          /* with every chunk's bitmap entry */
    if (v->bat_region.offset > v->file_size || v->bat_region.length > v->file_size - v->bat_region.offset)
        return diag_set(diag, VDSSHIM_E_CORRUPT, v->bat_region.offset, "BAT region at %llu+%u lies outside the file",
                        (unsigned long long)v->bat_region.offset, v->bat_region.length);
    if (need * 8 > v->bat_region.length)
    {
        /* A differencing BAT may stop short of the last chunk's bitmap entry (formats.md §2.6). */
        if (m->has_parent && (v->payload_blocks + (v->payload_blocks - 1) / v->chunk_ratio) * 8 <= v->bat_region.length)
            need = v->bat_region.length / 8;
        else
            return diag_set(diag, VDSSHIM_E_CORRUPT, v->bat_region.offset,
                            "BAT region of %u bytes is too small for %llu entries", v->bat_region.length,
                            (unsigned long long)need);
    }
    if (vhdx_bat_init(&v->bat, need)) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
    if ((st = vhdx_read_bat(img, v, &v->bat, diag))) return st;

    /* Every object: aligned, inside the file, overlapping nothing. */
    st = add_extent(&ext, &nextents, &cap, (struct extent){ 0, VHDX_HEADER_SECTION, ~0ull, "header section" });
    if (!st) st = add_extent(&ext, &nextents, &cap, (struct extent){ v->header.log_offset, v->header.log_offset + v->header.log_length, ~0ull, "log" });
    if (!st) st = add_extent(&ext, &nextents, &cap, (struct extent){ v->bat_region.offset, v->bat_region.offset + v->bat_region.length, ~0ull, "BAT region" });
    if (!st) st = add_extent(&ext, &nextents, &cap, (struct extent){ v->meta_region.offset, v->meta_region.offset + v->meta_region.length, ~0ull,
                                       "metadata region" });
    if (st) st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (i = 0; i < need && !st; i++)
    {
        uint64_t p = i / VHDX_BAT_PAGE_ENTRIES, e;
        int is_sb;

        if (i % VHDX_BAT_PAGE_ENTRIES == 0 && !v->bat.page[p] && !v->bat.few[p] && !VHDX_BAT_OFFSET(v->bat.fill[p]))
        {
            /* A page of one offset-less entry: valid where it is a payload
             * entry and where it is a bitmap entry, or not at all. */
            uint64_t last = (p + 1) * VHDX_BAT_PAGE_ENTRIES < need ? (p + 1) * VHDX_BAT_PAGE_ENTRIES : need;
            uint64_t sb = i + (v->chunk_ratio - i % (v->chunk_ratio + 1));

            if (!(st = check_entry(v, i == sb ? i + 1 < last ? i + 1 : i : i, v->bat.fill[p], diag)) && sb < last)
                st = check_entry(v, sb, v->bat.fill[p], diag);
            i = last - 1;
            continue;
        }
        e = vhdx_bat_get(&v->bat, i);
        is_sb = vhdx_is_sb_entry(v, i);
        if ((st = check_entry(v, i, e, diag))) break;
        if (VHDX_BAT_OFFSET(e))
        {
            if (add_extent(&ext, &nextents, &cap, (struct extent){ VHDX_BAT_OFFSET(e), VHDX_BAT_OFFSET(e) + (is_sb ? MiB : m->block_size),
                                                                   i, is_sb ? "sector bitmap block" : "payload block" }))
                st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            if (!is_sb) nblocks++;
        }
    }
    if (!st)
    {
        qsort(ext, (size_t)nextents, sizeof(*ext), cmp_extent);
        for (i = 0; i < nextents; i++)
        {
            if (ext[i].end > v->file_size && ext[i].entry == ~0ull)
            {
                st = diag_set(diag, VDSSHIM_E_CORRUPT, ext[i].start, "the %s at offset %llu runs past the end of the file",
                              ext[i].what, (unsigned long long)ext[i].start);
                break;
            }
            if (i && ext[i].start < ext[i - 1].end)
            {
                uint64_t at = ext[i].entry != ~0ull ? v->bat_region.offset + 8 * ext[i].entry
                            : ext[i - 1].entry != ~0ull ? v->bat_region.offset + 8 * ext[i - 1].entry : ext[i].start;
                st = diag_set(diag, VDSSHIM_E_CORRUPT, at, "the %s at offset %llu overlaps the %s at offset %llu",
                              ext[i].what, (unsigned long long)ext[i].start, ext[i - 1].what,
                              (unsigned long long)ext[i - 1].start);
                break;
            }
        }
    }
    free(ext);
    img->info.blocks_allocated = nblocks;
    return st;
}

uint64_t vhdx_structure_end(const struct vhdx *v)
{
    uint64_t end = VHDX_HEADER_SECTION, i;

#define MAX_END(x) do { if ((x) > end) end = (x); } while (0)
    MAX_END(v->header.log_offset + v->header.log_length);
    MAX_END(v->bat_region.offset + v->bat_region.length);
    MAX_END(v->meta_region.offset + v->meta_region.length);
    for (i = vhdx_bat_next_placed(&v->bat, 0); i < v->bat.entries; i = vhdx_bat_next_placed(&v->bat, i + 1))
        if (VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, i)))
            MAX_END(VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, i)) + (vhdx_is_sb_entry(v, i) ? MiB : v->meta.block_size));
#undef MAX_END
    return vhdx_round_up_mib(end);
}

int vhdx_write_bat(struct vdsshim_image *img, struct vhdx *v, const uint8_t *dirty, uint64_t flushed_size,
                   struct vdsshim_diag *diag)
{
    uint64_t nsec = (v->bat.entries * 8 + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR, s = 0;
    size_t max = vhdx_log_max_sectors(v), n, k;
    uint64_t *offsets;
    uint8_t **sectors;
    int st = VDSSHIM_OK;

    offsets = malloc(max * sizeof(*offsets));
    sectors = calloc(max, sizeof(*sectors));
    if (!offsets || !sectors)
    {
        free(offsets);
        free(sectors);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    /* Dirty 4 KiB BAT sectors, as many per log entry as fit. Bytes past the
     * last entry we keep come from the file (the region may be longer). */
    while (s < nsec && !st)
    {
        for (n = 0; s < nsec && n < max && !st; s++)
        {
            uint64_t e, first = s * (VHDX_LOG_SECTOR / 8), off = v->bat_region.offset + s * VHDX_LOG_SECTOR;
            if (!dirty[s]) continue;
            if (!sectors[n] && !(sectors[n] = malloc(VHDX_LOG_SECTOR)))
            {
                st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
                break;
            }
            if ((st = vhdx_file_read(img, v, sectors[n], VHDX_LOG_SECTOR, off, "cannot read the BAT", diag))) break;
            e = v->bat.entries - first < VHDX_LOG_SECTOR / 8 ? v->bat.entries - first : VHDX_LOG_SECTOR / 8;
            vhdx_bat_store(&v->bat, first, sectors[n], (size_t)e);
            offsets[n++] = off;
        }
        if (!st && n)
            st = vhdx_log_commit(img, v, offsets, sectors, n, flushed_size, vhdx_structure_end(v), diag);
    }
    for (k = 0; k < max; k++) free(sectors[k]);
    free(sectors);
    free(offsets);
    return st;
}

/* Sector bitmap bits of one payload block (LSB first; 1 = in this file). */
static int vhdx_block_bitmap(struct vdsshim_image *img, struct vhdx *v, uint64_t block, const uint8_t **bits,
                             struct vdsshim_diag *diag)
{
    uint64_t sb_off = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, vhdx_sb_index(v, block / v->chunk_ratio)));
    uint32_t bytes = (uint32_t)(v->meta.block_size / v->meta.logical_sector_size / 8);
    uint64_t at = sb_off + (block % v->chunk_ratio) * bytes;
    int st;

    if (v->cached_sb != at)
    {
        v->cached_sb = 0;
        if ((st = vhdx_file_read(img, v, v->sb_cache, bytes, at, "cannot read a sector bitmap", diag))) return st;
        v->cached_sb = at;
    }
    *bits = v->sb_cache;
    return VDSSHIM_OK;
}

/* Bytes from below: the parent for a differencing disk, else zeros. */
static int vhdx_read_below(struct vdsshim_image *img, uint64_t off, uint8_t *buf, size_t len, int parent,
                           struct vdsshim_diag *diag)
{
    if (parent) return image_read_parent(img, off, buf, len, diag);
    memset(buf, 0, len);
    return VDSSHIM_OK;
}

static int vhdx_read(struct vdsshim_image *img, uint64_t off, void *out, size_t len, struct vdsshim_diag *diag)
{
    struct vhdx *v = vhdx_from_image(img);
    uint32_t bs = v->meta.block_size, lss = v->meta.logical_sector_size;
    int diff = v->meta.has_parent;
    uint8_t *buf = out;
    int st;

    while (len)
    {
        uint64_t block = off / bs, e = vhdx_bat_get(&v->bat, vhdx_payload_index(v, block));
        uint32_t in = (uint32_t)(off % bs);
        size_t n = bs - in < len ? bs - in : len;

        switch (VHDX_BAT_STATE(e))
        {
        case VHDX_PAYLOAD_FULLY_PRESENT:
            st = vhdx_file_read(img, v, buf, n, VHDX_BAT_OFFSET(e) + in, "cannot read disk data", diag);
            break;
        case VHDX_PAYLOAD_PARTIALLY_PRESENT:
        {
            const uint8_t *bits;
            size_t done = 0;
            if ((st = vhdx_block_bitmap(img, v, block, &bits, diag))) break;
            while (done < n && !st)
            {
                uint32_t sector = (in + (uint32_t)done) / lss;
                int present = bits[sector / 8] >> (sector % 8) & 1;
                size_t run = (size_t)(sector + 1) * lss - (in + done);
                while (done + run < n && (bits[(sector + 1) / 8] >> ((sector + 1) % 8) & 1) == present)
                {
                    sector++;
                    run += lss;
                }
                if (run > n - done) run = n - done;
                st = present ? vhdx_file_read(img, v, buf + done, run, VHDX_BAT_OFFSET(e) + in + done,
                                              "cannot read disk data", diag)
                             : vhdx_read_below(img, off + done, buf + done, run, 1, diag);
                done += run;
            }
            break;
        }
        case VHDX_PAYLOAD_ZERO:
        case VHDX_PAYLOAD_UNMAPPED:
        case VHDX_PAYLOAD_UNMAPPED_V095:
            st = vhdx_read_below(img, off, buf, n, 0, diag);
            break;
        default:    /* NOT_PRESENT, UNDEFINED: see the table in vhdx.h */
            st = vhdx_read_below(img, off, buf, n, diff, diag);
            break;
        }
        if (st) return st;
        buf += n;
        off += n;
        len -= n;
    }
    return VDSSHIM_OK;
}

static int vhdx_parent_matches(const struct vdsshim_image *child, const struct vdsshim_image *parent)
{
    const struct vhdx *v = child->fmt;
    struct vhdx_guid want;

    return parent->info.format == VDSSHIM_FORMAT_VHDX
        && vhdx_guid_parse(v->meta.locator.parent_linkage, &want)
        && !memcmp(parent->linkage_id, want.b, 16);
}

static int vhdx_open_parent(struct vdsshim_image *img, const struct chain_ctx *chain, struct vdsshim_diag *diag)
{
    struct vhdx *v = vhdx_from_image(img);
    const struct vhdx_parent_locator *loc = &v->meta.locator;
    const char *paths[3] = { loc->relative_path, loc->volume_path, loc->absolute_win32_path };
    struct parent_candidate cands[3];
    size_t i, n = 0;
    int st;

    /* Relative first, then the volume and absolute Win32 paths (usable on Windows). */
    for (i = 0; i < 3; i++)
        if (paths[i]) cands[n++].path = path_resolve_utf8(img->path, paths[i]);
    /* A path unusable here (a drive letter off Windows) is still worth showing. */
    if (loc->relative_path) strncpy(img->info.parent_path, loc->relative_path, sizeof(img->info.parent_path) - 1);
    st = image_open_parent(img, cands, n, chain, vhdx_parent_matches, diag);
    for (i = 0; i < n; i++) free(cands[i].path);
    return st;
}

int vhdx_settle(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    struct vhdx *v = vhdx_from_image(img);

    /* Every logged entry is applied and flushed: the log can be marked empty. */
    if (vhdx_guid_is_zero(&v->header.log_guid)) return VDSSHIM_OK;
    return vhdx_update_headers(img, v, &vhdx_no_log, diag);
}

static void vhdx_destroy(struct vdsshim_image *img)
{
    struct vhdx *v = vhdx_from_image(img);

    if (!v) return;
    vhdx_meta_free(&v->meta);
    vhdx_log_free(&v->log);
    vhdx_bat_free(&v->bat);
    free(v->sb_cache);
    free(v);
    img->fmt = NULL;
}

static const struct image_ops vhdx_ops =
{
    vhdx_read,
    vhdx_compact,
    vhdx_destroy,
    vhdx_expand,
    vhdx_present,
    vhdx_write_units,
    vhdx_settle,
    vhdx_shrink,
};

static void vhdx_fill_info(struct vdsshim_image *img, struct vhdx *v, const uint8_t *creator)
{
    struct vdsshim_info *info = &img->info;
    uint16_t w[64];
    char *s;
    int i;

    info->format = VDSSHIM_FORMAT_VHDX;
    info->type = v->meta.has_parent ? VDSSHIM_DISK_DIFFERENCING
               : v->meta.leave_blocks_allocated ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    info->virtual_size = v->meta.virtual_size;
    info->file_size = v->file_size;
    info->block_size = v->meta.block_size;
    info->logical_sector_size = v->meta.logical_sector_size;
    info->physical_sector_size = v->meta.physical_sector_size;
    info->block_count = v->payload_blocks;
    memcpy(info->unique_id, v->meta.disk_id.b, 16);
    memcpy(img->linkage_id, v->header.data_write_guid.b, 16);
    for (i = 0; i < 63; i++) w[i] = get_le16(creator + 2 * i);
    w[63] = 0;
    for (i = 0; i < 63 && w[i]; i++) {}
    if ((s = utf16_to_utf8(w, (size_t)i)))
    {
        strncpy(info->creator, s, sizeof(info->creator) - 1);
        free(s);
    }
    info->has_parent = v->meta.has_parent;
    info->chain_depth = 1;
}

int vhdx_open(struct vdsshim_image *img, const struct chain_ctx *chain, struct vdsshim_diag *diag)
{
    uint8_t ident[8 + 128];
    struct vhdx *v;
    uint64_t size;
    int st;

    if (!(v = calloc(1, sizeof(*v)))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    img->fmt = v;
    img->ops = &vhdx_ops;
    if ((st = vdsshim_io_size(img->io, &size))) return diag_io(diag, img->io, st, 0, "cannot get the file size");
    if (size < VHDX_HEADER_SECTION)
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "VHDX file of %llu bytes is shorter than its header section",
                        (unsigned long long)size);
    if ((st = vdsshim_io_read(img->io, ident, sizeof(ident), 0))) return diag_io(diag, img->io, st, 0, "cannot read");
    if ((st = vhdx_load_headers(img, v, diag))) return st;

    /* The log first: region table, metadata and BAT are read as replayed. */
    if ((st = vhdx_log_load(img, v, diag))) return st;
    v->file_size = v->log.replayed && v->log.extend_to > size ? v->log.extend_to : size;
    if ((st = vhdx_load_regions(img, v, diag))) return st;
    if ((st = vhdx_load_meta(img, v, diag))) return st;
    if ((st = vhdx_load_bat(img, v, diag))) return st;
    if (!(v->sb_cache = malloc(v->meta.block_size / v->meta.logical_sector_size / 8)))
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    vhdx_fill_info(img, v, ident + 8);

    if (img->info.has_parent && (st = vhdx_open_parent(img, chain, diag))) return st;
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return VDSSHIM_OK;

    /* Read-write: FileWriteGuid first, then replay on disk, then a clean log. */
    if (!vhdx_guid_is_zero(&v->header.log_guid))
    {
        if ((st = vhdx_update_headers(img, v, &v->header.log_guid, diag))) return st;
        if (v->log.replayed && (st = vhdx_log_replay_on_disk(img, v, diag))) return st;
        if ((st = vhdx_update_headers(img, v, &vhdx_no_log, diag))) return st;
    }
    /* "The file size may be reduced when opened": trailing space nothing references goes. */
    if (v->file_size > vhdx_structure_end(v))
    {
        uint64_t end = vhdx_structure_end(v);
        if (!v->header_updated && (st = vhdx_update_headers(img, v, &v->header.log_guid, diag))) return st;
        /* No flush of its own: a truncate that does not land leaves only
         * the unreferenced tail, which the next read-write open trims again;
         * the next operation's first flush makes it durable. */
        if ((st = vdsshim_io_truncate(img->io, end)))
            return diag_io(diag, img->io, st, end, "cannot truncate the file");
        v->file_size = img->info.file_size = end;
    }
    return VDSSHIM_OK;
}
