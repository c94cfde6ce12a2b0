/*
 * New VHDX files, laid out as Windows lays them out (formats.md §2.1):
 * header section, log at 1 MiB (1 MiB), metadata at 2 MiB (1 MiB), BAT at
 * 3 MiB, payload after it. The file identifier is written last, so an
 * interrupted create leaves a file no reader takes for a VHDX.
 */
#include <stdlib.h>
#include <string.h>

#include "create.h"
#include "paths.h"
#include "vhdx.h"

#define LOG_AT   (1 * MiB)
#define LOG_LEN  (1 * MiB)
#define META_AT  (2 * MiB)
#define META_LEN (1 * MiB)
#define BAT_AT   (3 * MiB)
#define ITEMS_AT (64 * KiB)     /* first metadata item, after the table */


/* Append one UTF-16LE key/value pair to a parent locator item under construction. */
static void meta_entry(uint8_t *table, unsigned i, const uint8_t id[16], uint32_t off, uint32_t len, uint32_t flags)
{
    uint8_t *e = table + 32 + 32 * i;

    memcpy(e, id, 16);
    put_le32(e + 16, off);
    put_le32(e + 20, len);
    put_le32(e + 24, flags);
}

/* The whole metadata region: table and items. */
static int build_metadata(const struct create_spec *s, uint8_t *m, struct vdsshim_diag *diag)
{
    const uint32_t req = VHDX_META_IS_REQUIRED, vreq = VHDX_META_IS_VIRTUAL | VHDX_META_IS_REQUIRED;
    uint32_t at = ITEMS_AT;
    unsigned n = 0;

    memcpy(m, "metadata", 8);
    put_le32(m + at, s->p.block_size);
    put_le32(m + at + 4, (s->p.type == VDSSHIM_DISK_FIXED ? 1u : 0u) | (s->parent ? 2u : 0u));
    meta_entry(m, n++, vhdx_meta_file_params, at, 8, req);
    at += 8;
    put_le64(m + at, s->p.virtual_size);
    meta_entry(m, n++, vhdx_meta_disk_size, at, 8, vreq);
    at += 8;
    memcpy(m + at, s->unique_id, 16);
    meta_entry(m, n++, vhdx_meta_page83, at, 16, vreq);
    at += 16;
    put_le32(m + at, s->p.logical_sector_size);
    meta_entry(m, n++, vhdx_meta_logical_ss, at, 4, vreq);
    at += 4;
    put_le32(m + at, s->p.physical_sector_size);
    meta_entry(m, n++, vhdx_meta_physical_ss, at, 4, vreq);
    at += 4;

    if (s->parent)
    {
        uint32_t used;

        if (vhdx_parent_locator_encode(m + at, (uint32_t)(META_LEN - at), s->parent->linkage_id, s->parent_relative,
                                       s->parent_absolute, &used))
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the parent's path does not fit a parent locator");
        meta_entry(m, n++, vhdx_meta_parent_loc, at, used, req);
    }
    put_le16(m + 10, (uint16_t)n);
    return VDSSHIM_OK;
}

/* The BAT is built and written this much at a time. */
#define BAT_CHUNK (1u << 20)

/* Where a new disk's blocks go: its BAT's geometry (MS-VHDX 2.5). */
struct new_layout
{
    uint64_t chunk_ratio;       /* payload blocks per sector bitmap block */
    uint64_t npb;               /* payload blocks */
    uint64_t bat_len;           /* the BAT region's length, whole MiB */
};

/* The BAT, a chunk at a time: a fixed disk's entries name every block, after
 * the BAT; a dynamic disk's are zeros, left as holes in a file that was empty. */
static int write_bat(struct vdsshim_io *io, const struct create_spec *s, const struct new_layout *l, uint64_t was_size,
                     struct vdsshim_diag *diag)
{
    uint8_t *bat = malloc(BAT_CHUNK);
    uint64_t done;
    int st = VDSSHIM_OK;

    if (!bat) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (done = 0; done < l->bat_len && !st; done += BAT_CHUNK)
    {
        size_t len = l->bat_len - done < BAT_CHUNK ? (size_t)(l->bat_len - done) : BAT_CHUNK;
        int any = 0;
        uint64_t k;

        memset(bat, 0, len);
        for (k = 0; k < len / 8 && s->p.type == VDSSHIM_DISK_FIXED; k++)
        {
            uint64_t idx = done / 8 + k, block = idx - idx / (l->chunk_ratio + 1);
            if (idx % (l->chunk_ratio + 1) == l->chunk_ratio || block >= l->npb) continue;
            put_le64(bat + 8 * k,
                     VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, BAT_AT + l->bat_len + block * s->p.block_size));
            any = 1;
        }
        if ((any || was_size) && (st = vdsshim_io_write(io, bat, len, BAT_AT + done)))
            st = diag_io(diag, io, st, BAT_AT + done, "cannot write the new image");
    }
    free(bat);
    return st;
}

/* Both region tables: the BAT and the metadata region. buf: VHDX_REGION_SIZE bytes. */
static int write_regions(struct vdsshim_io *io, uint64_t bat_len, uint8_t *buf, struct vdsshim_diag *diag)
{
    struct vhdx_region_table t;
    int st;

    memset(&t, 0, sizeof(t));
    t.entry_count = 2;
    memcpy(t.entries[0].guid.b, vhdx_region_bat, 16);
    t.entries[0].offset = BAT_AT;
    t.entries[0].length = (uint32_t)bat_len;
    t.entries[0].required = 1;
    memcpy(t.entries[1].guid.b, vhdx_region_meta, 16);
    t.entries[1].offset = META_AT;
    t.entries[1].length = META_LEN;
    t.entries[1].required = 1;
    vhdx_region_table_encode(&t, buf);
    if ((st = vdsshim_io_write(io, buf, VHDX_REGION_SIZE, VHDX_REGION1_OFFSET))
        || (st = vdsshim_io_write(io, buf, VHDX_REGION_SIZE, VHDX_REGION2_OFFSET)))
        return diag_io(diag, io, st, VHDX_REGION1_OFFSET, "cannot write the new image");
    return VDSSHIM_OK;
}

/* Both headers, new GUIDs, an empty log; then everything so far durable. */
static int write_headers(struct vdsshim_io *io, uint8_t *buf, struct vdsshim_diag *diag)
{
    struct vhdx_header h;
    int st, i;

    memset(&h, 0, sizeof(h));
    if ((st = vdsshim_random_bytes(h.file_write_guid.b, 16)) || (st = vdsshim_random_bytes(h.data_write_guid.b, 16)))
        return diag_set(diag, st, 0, "no random source for the new image's GUIDs");
    h.version = 1;
    h.log_length = LOG_LEN;
    h.log_offset = LOG_AT;
    for (i = 0; i < 2; i++)
    {
        h.sequence = (uint64_t)i + 1;
        vhdx_header_encode(&h, buf);
        if ((st = vdsshim_io_write(io, buf, VHDX_HEADER_SIZE, i ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET)))
            return diag_io(diag, io, st, VHDX_HEADER1_OFFSET, "cannot write the new image");
    }
    if ((st = vdsshim_io_flush(io))) return diag_io(diag, io, st, 0, "cannot flush the new image");
    return VDSSHIM_OK;
}

/* Last: the file type identifier that makes it a VHDX, durable. */
static int write_identifier(struct vdsshim_io *io, uint8_t *buf, struct vdsshim_diag *diag)
{
    uint16_t *creator;
    size_t n, i;
    int st;

    memset(buf, 0, VHDX_HEADER_SIZE);
    memcpy(buf, "vhdxfile", 8);
    if ((creator = utf8_to_utf16("vdsshim " VDSSHIM_VERSION_STRING, &n)))
    {
        for (i = 0; i < n && i < 255; i++) put_le16(buf + 8 + 2 * i, creator[i]);
        free(creator);
    }
    if ((st = vdsshim_io_write(io, buf, VHDX_HEADER_SIZE, 0)) || (st = vdsshim_io_flush(io)))
        return diag_io(diag, io, st, 0, "cannot write the new image");
    return VDSSHIM_OK;
}

int vhdx_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag)
{
    struct new_layout l;
    uint64_t nsb, end, was_size;
    uint8_t *meta = NULL, *buf = NULL;
    int st;

    l.chunk_ratio = ((1ull << 23) * s->p.logical_sector_size) / s->p.block_size;
    l.npb = (s->p.virtual_size + s->p.block_size - 1) / s->p.block_size;
    nsb = (l.npb + l.chunk_ratio - 1) / l.chunk_ratio;
    l.bat_len = vhdx_round_up_mib(nsb * (l.chunk_ratio + 1) * 8);
    if (l.bat_len > 0xffffffffull - MiB)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the BAT for this size would exceed a region's 4 GiB");
    end = BAT_AT + l.bat_len + (s->p.type == VDSSHIM_DISK_FIXED ? l.npb * s->p.block_size : 0);
    meta = calloc(1, META_LEN);
    buf = calloc(1, VHDX_REGION_SIZE);
    if (!meta || !buf)
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    if ((st = build_metadata(s, meta, diag))) goto done;

    /* Zeros everywhere first (log, gaps, a fixed disk's payload). In a file
     * that was empty they are holes: a BAT chunk of zeros is not written,
     * so a dynamic disk occupies what it holds, not its BAT's length. */
    if ((st = vdsshim_io_size(io, &was_size))) st = diag_io(diag, io, st, 0, "cannot get the file size");
    else if ((st = vdsshim_io_truncate(io, end))) st = diag_io(diag, io, st, end, "cannot allocate the new image");
    else if (!(st = write_bat(io, s, &l, was_size, diag))
             && (st = vdsshim_io_write(io, meta, META_LEN, META_AT)))
        st = diag_io(diag, io, st, META_AT, "cannot write the new image");
    if (!st) st = write_regions(io, l.bat_len, buf, diag);
    if (!st) st = write_headers(io, buf, diag);
    if (!st) st = write_identifier(io, buf, diag);
done:
    free(meta);
    free(buf);
    return st;
}
