/*
 * A differencing VHD pointed at another parent (SetVirtualDiskInformation
 * PARENT_PATH and PARENT_LOCATOR, `vdsshim set-parent`), crash-safely.
 *
 * The parent's id, time stamp and name sit in the dynamic header, two
 * sectors under one checksum, and its paths in locator sectors that the
 * header points at: no single write changes them, and a torn header fails
 * its checksum. So the change goes through a second, shadow header:
 *   1. the footer moves past the end of the file, durably (the old one stays
 *      the file's last 512 bytes until then, as vhd_write.c grows a file);
 *   2. where it was: the new locator data, then the shadow header naming
 *      the new parent and pointing at that data; flushed;
 *   3. both footers point at the shadow: the copy at offset 0, then the one
 *      at the end, which is the switch; flushed;
 *   4. the header in its old place is rewritten for the new parent, with its
 *      locators in their old space when the new paths fit there, else at
 *      the data of step 2; flushed;
 *   5. both footers point back at it: the end one, then the copy; flushed;
 *   6. the file is cut after what the header now references (vhd_set_end).
 * A power cut leaves the footer at the end naming a header that is whole
 * and durable: the old one until step 3's second write, the new parent's
 * after it. Between the two footer writes of step 3 or 5 the footers
 * disagree; vhd.c reads a copy whose data offset differs, but names a valid
 * header, as that stop: the end footer holds, and the next read-write open
 * repairs the copy. The orders above make a stale copy always name the
 * shadow, which lies past every block and goes only by a truncation (step 6,
 * or the trim of that open) after a flush that makes the repair durable:
 * nothing ever overwrites a header that a durable footer names.
 * Whether Windows moves the header, and which footer it writes first, is
 * [U]: readers follow the footers' data offset wherever it points (qemu's
 * block/vpc.c reads the copy's [V]).
 *
 * The new header keeps two locators: W2ku (the absolute path) and W2ru (the
 * relative one, when there is one). Other platforms' entries (Wi2k, Mac)
 * would still name the old parent, so they are cleared. When both paths fit
 * the space the old W2ku and W2ru entries reserve (Windows reserves 4 KiB
 * and 64 KiB; vdsshim create only what its paths need), they go there and
 * the file ends as before; otherwise they stay at the end of the file, after
 * the blocks: a valid layout, which compaction keeps in place.
 */
#include <stdlib.h>
#include <string.h>

#include "vhd.h"

struct relink
{
    uint8_t *data[2];           /* W2ku, W2ru payloads (UTF-16LE); data[1] NULL if no relative path */
    uint32_t len[2];
    uint64_t space[2];          /* each rounded up to whole sectors */
    int slot[2];                /* the entry each goes in, in place; -1 if none fits */
    uint64_t shadow_at;         /* the new data, then the shadow header */
    struct vhd_dynhdr shadow, final;
};

static const uint32_t codes[2] = { VHD_PLAT_W2KU, VHD_PLAT_W2RU };

static uint64_t round_up_sector(uint64_t v)
{
    return (v + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

/* The bytes locator slot i keeps for itself (widened as vhd.c reserves them), or 0. */
static uint64_t slot_capacity(const struct vhd *vhd, int i)
{
    unsigned j;

    for (j = 0; j < vhd->nreserved; j++)
        if (vhd->reserved[j].locator == i) return vhd->reserved[j].end - vhd->reserved[j].start;
    return 0;
}

/* Both headers: the shadow's locators at shadow_at, the final one's in place if both fit. */
static void plan_headers(const struct vhd *vhd, struct relink *r, const uint8_t parent_uid[16], uint32_t timestamp,
                         const char *absolute)
{
    struct vhd_dynhdr h = vhd->hdr;
    uint64_t at = r->shadow_at;
    int fits = 1, k;
    unsigned i;

    memcpy(h.parent_uid, parent_uid, 16);
    h.parent_timestamp = timestamp;
    vhd_set_parent_name(&h, absolute);
    r->final = h;
    memset(h.loc, 0, sizeof(h.loc));
    for (k = 0; k < 2; k++)
    {
        if (!r->data[k]) continue;
        h.loc[k].code = codes[k];
        h.loc[k].data_space = (uint32_t)r->space[k];
        h.loc[k].data_length = r->len[k];
        h.loc[k].data_offset = at;
        at += r->space[k];
    }
    r->shadow = h;

    r->slot[0] = r->slot[1] = -1;
    for (i = 0; i < VHD_LOCATOR_COUNT; i++)
    {
        struct vhd_locator *loc = &r->final.loc[i];

        k = loc->code == VHD_PLAT_W2KU ? 0 : loc->code == VHD_PLAT_W2RU ? 1 : -1;
        if (k >= 0 && r->data[k] && r->slot[k] < 0 && slot_capacity(vhd, (int)i) >= r->space[k])
        {
            r->slot[k] = (int)i;
            loc->data_length = r->len[k];
        }
        else memset(loc, 0, sizeof(*loc));
    }
    for (k = 0; k < 2; k++)
        if (r->data[k] && r->slot[k] < 0) fits = 0;
    if (!fits)
    {
        memcpy(r->final.loc, r->shadow.loc, sizeof(r->final.loc));
        r->slot[0] = r->slot[1] = -1;
    }
}

static int write_at(struct vdsshim_image *img, const void *buf, size_t len, uint64_t off, const char *what,
                    struct vdsshim_diag *diag)
{
    int st = vdsshim_io_write(img->io, buf, len, off);

    return st ? diag_io(diag, img->io, st, off, what) : VDSSHIM_OK;
}

static int flush(struct vdsshim_image *img, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_flush(img->io);

    return st ? diag_io(diag, img->io, st, 0, "cannot flush") : VDSSHIM_OK;
}

/* Both footers with data offset `to`, in the given order, then a flush. */
static int point_footers(struct vdsshim_image *img, uint64_t to, int end_first, struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    struct vhd_footer f = vhd->footer;
    uint8_t raw[VHD_FOOTER_SIZE];
    uint64_t end = vhd->file_size - VHD_FOOTER_SIZE, first = end_first ? end : 0, second = end_first ? 0 : end;
    int st;

    f.data_offset = to;
    vhd_footer_encode(&f, raw);
    if ((st = write_at(img, raw, VHD_FOOTER_SIZE, first, "cannot write a footer", diag))
        || (st = write_at(img, raw, VHD_FOOTER_SIZE, second, "cannot write a footer", diag))
        || (st = flush(img, diag)))
        return st;
    vhd->footer = f;
    memcpy(vhd->footer_raw, raw, VHD_FOOTER_SIZE);
    return VDSSHIM_OK;
}

/* Steps 1 and 2: the footer moved on, the new data and the shadow header where it was. */
static int write_shadow(struct vdsshim_image *img, struct relink *r, struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    uint64_t data = r->space[0] + r->space[1], end = r->shadow_at + data + VHD_DYNHDR_SIZE;
    uint8_t *buf;
    int st;

    if ((st = write_at(img, vhd->footer_raw, VHD_FOOTER_SIZE, end, "cannot write the footer", diag))
        || (st = flush(img, diag)))
        return st;
    vhd->file_size = img->info.file_size = end + VHD_FOOTER_SIZE;
    if (!(buf = calloc(1, (size_t)(data + VHD_DYNHDR_SIZE)))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    memcpy(buf, r->data[0], r->len[0]);
    if (r->data[1]) memcpy(buf + r->space[0], r->data[1], r->len[1]);
    vhd_dynhdr_encode(&r->shadow, buf + data);
    st = write_at(img, buf, (size_t)(data + VHD_DYNHDR_SIZE), r->shadow_at, "cannot write the new parent's header", diag);
    free(buf);
    return st ? st : flush(img, diag);
}

/* Step 4: the header in its place, its locators in their old space when they fit. */
static int rewrite_header(struct vdsshim_image *img, const struct relink *r, uint64_t header_at,
                          struct vdsshim_diag *diag)
{
    const struct vhd *vhd = img->fmt;
    uint8_t hdr[VHD_DYNHDR_SIZE];
    int k, st;

    for (k = 0; k < 2; k++)
    {
        const struct vhd_locator *old;
        uint64_t len;
        uint8_t *buf;

        if (r->slot[k] < 0) continue;
        /* Over the old path too, so no stale bytes follow the new one. */
        old = &vhd->hdr.loc[r->slot[k]];
        len = round_up_sector(old->data_length) > r->space[k] ? round_up_sector(old->data_length) : r->space[k];
        if (len > slot_capacity(vhd, r->slot[k])) len = r->space[k];
        if (!(buf = calloc(1, (size_t)len))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        memcpy(buf, r->data[k], r->len[k]);
        st = write_at(img, buf, (size_t)len, old->data_offset, "cannot write a parent locator", diag);
        free(buf);
        if (st) return st;
    }
    vhd_dynhdr_encode(&r->final, hdr);
    if ((st = write_at(img, hdr, VHD_DYNHDR_SIZE, header_at, "cannot write the dynamic header", diag))) return st;
    return flush(img, diag);
}

int vhd_set_parent(struct vdsshim_image *img, const uint8_t parent_uid[16], uint32_t parent_timestamp,
                   const char *absolute, const char *relative, struct vdsshim_diag *diag)
{
    struct vhd *vhd = img->fmt;
    struct relink r;
    uint64_t header_at = vhd->footer.data_offset;
    int k, st;

    memset(&r, 0, sizeof(r));
    if (vhd->batmap.present)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, vhd->batmap.header_offset,
                        "changing the parent of a VHD with a batmap (XenServer) is not supported");
    r.data[0] = vhd_locator_data(absolute, &r.len[0]);
    r.data[1] = relative ? vhd_locator_data(relative, &r.len[1]) : NULL;
    if (!r.data[0] || (relative && !r.data[1]))
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    for (k = 0; k < 2; k++) r.space[k] = r.data[k] ? round_up_sector(r.len[k] ? r.len[k] : 1) : 0;
    r.shadow_at = vhd->file_size - VHD_FOOTER_SIZE;
    plan_headers(vhd, &r, parent_uid, parent_timestamp, absolute);

    if ((st = write_shadow(img, &r, diag))
        || (st = point_footers(img, r.shadow_at + r.space[0] + r.space[1], 0, diag))
        || (st = rewrite_header(img, &r, header_at, diag))
        || (st = point_footers(img, header_at, 1, diag))
        || (st = vhd_reload(img, diag)))
        goto done;
    st = vhd_set_end(img, vhd_structure_end(img->fmt), diag);

done:
    free(r.data[0]);
    free(r.data[1]);
    return st;
}
