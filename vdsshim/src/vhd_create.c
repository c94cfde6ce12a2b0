/*
 * New VHD files: fixed (data, then the footer), dynamic and differencing
 * (footer copy, dynamic header, BAT, parent locators, footer). formats.md §1.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "create.h"
#include "paths.h"
#include "vhd.h"

#define VHD_EPOCH 946684800     /* 2000-01-01 00:00:00 UTC in Unix time */

/* CHS from the spec's algorithm (formats.md §1.4). */
void vhd_geometry(uint64_t size, struct vhd_footer *f)
{
    uint64_t ts = size / VHD_SECTOR, cth;
    uint32_t spt, heads;

    if (ts > 65535ull * 16 * 255) ts = 65535ull * 16 * 255;
    if (ts >= 65535ull * 16 * 63)
    {
        spt = 255;
        heads = 16;
        cth = ts / spt;
    }
    else
    {
        spt = 17;
        cth = ts / spt;
        heads = (uint32_t)((cth + 1023) / 1024);
        if (heads < 4) heads = 4;
        if (cth >= heads * 1024ull || heads > 16)
        {
            spt = 31;
            heads = 16;
            cth = ts / spt;
        }
        if (cth >= heads * 1024ull)
        {
            spt = 63;
            heads = 16;
            cth = ts / spt;
        }
    }
    f->cylinders = (uint16_t)(cth / heads);
    f->heads = (uint8_t)heads;
    f->sectors = (uint8_t)spt;
}

static uint64_t round_up_sector(uint64_t v)
{
    return (v + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

uint8_t *vhd_locator_data(const char *path, uint32_t *len)
{
    uint16_t *w;
    uint8_t *out;
    size_t n, i;

    if (!path || !(w = utf8_to_utf16(path, &n))) return NULL;
    if ((out = malloc(n ? n * 2 : 1)))
        for (i = 0; i < n; i++) put_le16(out + 2 * i, w[i]);
    free(w);
    *len = (uint32_t)(n * 2);
    return out;
}

static int write_at(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_write(io, buf, len, off);

    return st ? diag_io(diag, io, st, off, "cannot write the new image") : VDSSHIM_OK;
}

void vhd_set_parent_name(struct vhd_dynhdr *h, const char *absolute)
{
    uint16_t *w;
    size_t n, k;

    memset(h->parent_name, 0, sizeof(h->parent_name));
    if (!(w = utf8_to_utf16(absolute, &n))) return;
    for (k = 0; k < n && k < 256; k++) put_be16(h->parent_name + 2 * k, w[k]);
    free(w);
}

uint32_t vhd_parent_timestamp(const struct vdsshim_image *parent)
{
    const struct vhd *vhd = parent->fmt;

    return vhd->footer.timestamp;
}

/* The footer of a new disk: a Windows-made one, so every reader takes it. */
static void new_footer(const struct create_spec *s, struct vhd_footer *f)
{
    time_t now = time(NULL);

    memset(f, 0, sizeof(*f));
    memcpy(f->cookie, "conectix", 8);
    f->features = 2;                          /* "reserved", always set */
    f->version = VHD_VERSION_1;
    f->timestamp = now > VHD_EPOCH ? (uint32_t)(now - VHD_EPOCH) : 0;
    /* Creator "win ": readers take Current Size as the virtual size for it
     * (qemu uses C*H*S for unknown creators, which is smaller). */
    memcpy(f->creator_app, "win ", 4);
    f->creator_version = 0x000a0000;
    f->creator_os = 0x5769326b;               /* "Wi2k" */
    f->original_size = f->current_size = s->p.virtual_size;
    vhd_geometry(s->p.virtual_size, f);
    f->disk_type = s->p.type;
    memcpy(f->unique_id, s->unique_id, 16);
    f->data_offset = s->p.type == VDSSHIM_DISK_FIXED ? VHD_NO_DATA_OFFSET : VHD_FOOTER_SIZE;
}

static int create_fixed(struct vdsshim_io *io, const struct create_spec *s, const struct vhd_footer *f,
                        struct vdsshim_diag *diag)
{
    uint8_t footer[VHD_FOOTER_SIZE];
    int st;

    vhd_footer_encode(f, footer);
    /* The data area reads as zeros: extend, then the footer makes it a disk. */
    if ((st = vdsshim_io_truncate(io, s->p.virtual_size)))
        return diag_io(diag, io, st, s->p.virtual_size, "cannot allocate the fixed disk");
    if ((st = write_at(io, footer, VHD_FOOTER_SIZE, s->p.virtual_size, diag))) return st;
    st = vdsshim_io_flush(io);
    return st ? diag_io(diag, io, st, 0, "cannot flush the new image") : VDSSHIM_OK;
}

/* A child's parent: its id, timestamp and name in the header, and its
 * locators' data (loc, loc_len) placed from *end on, which moves past them. */
static int add_parent(const struct create_spec *s, struct vhd_dynhdr *h, uint8_t *loc[2], uint32_t loc_len[2],
                      uint64_t *end, struct vdsshim_diag *diag)
{
    /* As Windows writes them: the absolute path (W2ku), then the relative
     * one (W2ru), each in its own whole sectors after the BAT. Data space
     * is stored in bytes, rounded to sectors; readers take sectors or
     * bytes (formats.md §1, question 3, [U]). The parent name is the
     * absolute path, UTF-16BE. */
    static const uint32_t codes[2] = { VHD_PLAT_W2KU, VHD_PLAT_W2RU };
    const char *paths[2] = { s->parent_absolute, s->parent_relative };
    int i;

    memcpy(h->parent_uid, s->parent->info.unique_id, 16);
    h->parent_timestamp = vhd_parent_timestamp(s->parent);
    vhd_set_parent_name(h, s->parent_absolute);
    for (i = 0; i < 2; i++)
    {
        if (!paths[i]) continue;
        if (!(loc[i] = vhd_locator_data(paths[i], &loc_len[i]))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        h->loc[i].code = codes[i];
        h->loc[i].data_length = loc_len[i];
        h->loc[i].data_space = (uint32_t)round_up_sector(loc_len[i]);
        h->loc[i].data_offset = *end;
        *end += round_up_sector(loc_len[i]);
    }
    return VDSSHIM_OK;
}

/* Everything but the footer at the end, durable; then that footer. */
static int write_dynamic(struct vdsshim_io *io, const struct vhd_footer *f, const struct vhd_dynhdr *h,
                         uint64_t bat_bytes, uint8_t *const loc[2], const uint32_t loc_len[2], uint64_t end,
                         struct vdsshim_diag *diag)
{
    static const uint8_t pad[VHD_SECTOR];
    uint8_t footer[VHD_FOOTER_SIZE], header[VHD_DYNHDR_SIZE], *bat;
    int st, i;

    vhd_footer_encode(f, footer);
    vhd_dynhdr_encode(h, header);
    if (!(bat = malloc((size_t)bat_bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    memset(bat, 0xff, (size_t)bat_bytes);
    st = write_at(io, footer, VHD_FOOTER_SIZE, 0, diag);
    if (!st) st = write_at(io, header, VHD_DYNHDR_SIZE, VHD_FOOTER_SIZE, diag);
    if (!st) st = write_at(io, bat, (size_t)bat_bytes, h->table_offset, diag);
    free(bat);
    for (i = 0; i < 2 && !st; i++)
    {
        uint32_t tail = (uint32_t)(round_up_sector(loc_len[i]) - loc_len[i]);

        if (!loc[i]) continue;
        if ((st = write_at(io, loc[i], loc_len[i], h->loc[i].data_offset, diag))) break;
        if (tail) st = write_at(io, pad, tail, h->loc[i].data_offset + loc_len[i], diag);
    }
    if (st) return st;
    if ((st = vdsshim_io_flush(io))
        || (st = vdsshim_io_write(io, footer, VHD_FOOTER_SIZE, end))
        || (st = vdsshim_io_flush(io)))
        return diag_io(diag, io, st, end, "cannot write the new image");
    return VDSSHIM_OK;
}

int vhd_create(struct vdsshim_io *io, const struct create_spec *s, struct vdsshim_diag *diag)
{
    struct vhd_footer f;
    struct vhd_dynhdr h;
    uint8_t *loc[2] = { NULL, NULL };
    uint32_t loc_len[2] = { 0, 0 };
    uint64_t end, bat_bytes;
    int st = VDSSHIM_OK;

    new_footer(s, &f);
    if (s->p.type == VDSSHIM_DISK_FIXED) return create_fixed(io, s, &f, diag);

    memset(&h, 0, sizeof(h));
    memcpy(h.cookie, "cxsparse", 8);
    h.data_offset = VHD_NO_DATA_OFFSET;
    h.table_offset = VHD_FOOTER_SIZE + VHD_DYNHDR_SIZE;
    h.version = VHD_VERSION_1;
    h.max_entries = (uint32_t)((s->p.virtual_size + s->p.block_size - 1) / s->p.block_size);
    h.block_size = s->p.block_size;
    bat_bytes = round_up_sector(4ull * h.max_entries);
    end = h.table_offset + bat_bytes;
    if (s->p.type == VDSSHIM_DISK_DIFFERENCING) st = add_parent(s, &h, loc, loc_len, &end, diag);
    if (!st) st = write_dynamic(io, &f, &h, bat_bytes, loc, loc_len, end, diag);
    free(loc[0]);
    free(loc[1]);
    return st;
}
