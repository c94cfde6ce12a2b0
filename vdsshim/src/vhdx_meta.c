/* VHDX metadata region: table, known items, parent locator. formats.md §2.5. */
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "vhdx.h"

const uint8_t vhdx_meta_file_params[16] = {
    0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
const uint8_t vhdx_meta_disk_size[16] = {
    0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
const uint8_t vhdx_meta_page83[16] = {
    0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45, 0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
const uint8_t vhdx_meta_logical_ss[16] = {
    0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47, 0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
const uint8_t vhdx_meta_physical_ss[16] = {
    0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44, 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
const uint8_t vhdx_meta_parent_loc[16] = {
    0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
const uint8_t vhdx_parent_loc_type[16] = {
    0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13 };

void vhdx_meta_free(struct vhdx_meta *m)
{
    free(m->locator.parent_linkage);
    free(m->locator.relative_path);
    free(m->locator.volume_path);
    free(m->locator.absolute_win32_path);
    memset(&m->locator, 0, sizeof(m->locator));
    free(m->user);
    m->user = NULL;
    m->user_count = 0;
}

static int add_user_item(struct vhdx_meta *m, const uint8_t *entry, uint32_t off, uint32_t len,
                         struct vdsshim_diag *diag)
{
    struct vhdx_user_item *more = realloc(m->user, (m->user_count + 1) * sizeof(*more));

    if (!more) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    m->user = more;
    memcpy(more[m->user_count].id, entry, 16);
    more[m->user_count].offset = off;
    more[m->user_count].length = len;
    m->user_count++;
    return VDSSHIM_OK;
}

static char *utf16le_string(const uint8_t *p, uint32_t bytes)
{
    uint16_t *w = malloc(bytes ? bytes : 2);
    char *s;
    uint32_t i;

    if (!w) return NULL;
    for (i = 0; i < bytes / 2; i++) w[i] = get_le16(p + 2 * i);
    s = utf16_to_utf8(w, bytes / 2);
    free(w);
    return s;
}

static int decode_locator(const uint8_t *item, uint32_t len, uint64_t at, struct vhdx_meta *m,
                          struct vdsshim_diag *diag)
{
    uint16_t count, i;

    if (len < 20 || memcmp(item, vhdx_parent_loc_type, 16))
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, at, "parent locator at offset %llu is not of the VHDX type",
                        (unsigned long long)at);
    count = get_le16(item + 18);
    if (20 + 12ull * count > len)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 18, "parent locator at offset %llu claims %u entries in %u bytes",
                        (unsigned long long)at, count, len);
    for (i = 0; i < count; i++)
    {
        const uint8_t *e = item + 20 + 12 * i;
        uint32_t koff = get_le32(e), voff = get_le32(e + 4);
        uint16_t klen = get_le16(e + 8), vlen = get_le16(e + 10);
        char *key, *value, **slot = NULL;

        if (koff > len || klen > len - koff || voff > len || vlen > len - voff || klen % 2 || vlen % 2)
            return diag_set(diag, VDSSHIM_E_CORRUPT, at + 20 + 12 * i,
                            "parent locator entry %u at offset %llu points outside the item", i,
                            (unsigned long long)(at + 20 + 12 * i));
        key = utf16le_string(item + koff, klen);
        value = utf16le_string(item + voff, vlen);
        if (!key || !value)
        {
            free(key);
            free(value);
            return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        }
        if (!strcmp(key, "parent_linkage")) slot = &m->locator.parent_linkage;
        else if (!strcmp(key, "relative_path")) slot = &m->locator.relative_path;
        else if (!strcmp(key, "volume_path")) slot = &m->locator.volume_path;
        else if (!strcmp(key, "absolute_win32_path")) slot = &m->locator.absolute_win32_path;
        free(key);
        if (slot && !*slot) *slot = value;
        else free(value);
    }
    if (!m->locator.parent_linkage)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "parent locator at offset %llu has no parent_linkage",
                        (unsigned long long)at);
    return VDSSHIM_OK;
}

struct item_span
{
    uint32_t offset, length;
    uint16_t index;
};

static int by_offset(const void *a, const void *b)
{
    const struct item_span *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* MS-VHDX 2.6.1.2: an item "MUST fall entirely within the metadata region
 * without overlapping any other item". Overlapping items are refused, not
 * merely read: writing one (the Virtual Disk Size on expand, a user item)
 * would silently rewrite the other (found by fuzz_image_expand: a disk size
 * laid over the file parameters turned the new size into the block size). */
static int check_no_overlap(const uint8_t *region, uint16_t count, uint64_t at, struct vdsshim_diag *diag)
{
    struct item_span *spans = malloc((count ? count : 1) * sizeof(*spans));
    uint16_t i, n = 0;
    int st = VDSSHIM_OK;

    if (!spans) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (i = 0; i < count; i++)
    {
        const uint8_t *e = region + 32 + 32 * i;

        if (!get_le32(e + 20)) continue;    /* present but empty: occupies nothing */
        spans[n].offset = get_le32(e + 16);
        spans[n].length = get_le32(e + 20);
        spans[n++].index = i;
    }
    qsort(spans, n, sizeof(*spans), by_offset);
    for (i = 1; i < n && !st; i++)
        if (spans[i].offset - spans[i - 1].offset < spans[i - 1].length)
            st = diag_set(diag, VDSSHIM_E_CORRUPT, at + 32 + 32 * spans[i].index + 16,
                          "metadata items %u and %u of the table at offset %llu overlap", spans[i - 1].index,
                          spans[i].index, (unsigned long long)at);
    free(spans);
    return st;
}

static int decode_items(const uint8_t *region, uint32_t len, uint64_t at, struct vhdx_meta *m,
                        struct vdsshim_diag *diag)
{
    unsigned seen = 0;
    uint16_t count, i;
    int st;

    if (len < VHDX_META_TABLE_SIZE || memcmp(region, "metadata", 8))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "no metadata table signature at offset %llu",
                        (unsigned long long)at);
    count = get_le16(region + 10);
    if (count > VHDX_MAX_ENTRIES)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 10, "metadata table at offset %llu claims %u entries",
                        (unsigned long long)at, count);
    for (i = 0; i < count; i++)
    {
        const uint8_t *e = region + 32 + 32 * i;
        uint64_t eat = at + 32 + 32 * i;
        uint32_t off = get_le32(e + 16), ilen = get_le32(e + 20), flags = get_le32(e + 24);
        const uint8_t *item = region + off;
        unsigned bit;

        if (ilen && (off < VHDX_META_TABLE_SIZE || off > len || ilen > len - off || ilen > MiB))
            return diag_set(diag, VDSSHIM_E_CORRUPT, eat + 16,
                            "metadata entry %u at offset %llu points at %u+%u, outside its region",
                            i, (unsigned long long)eat, off, ilen);
        if (!memcmp(e, vhdx_meta_file_params, 16)) bit = 1;
        else if (!memcmp(e, vhdx_meta_disk_size, 16)) bit = 2;
        else if (!memcmp(e, vhdx_meta_page83, 16)) bit = 4;
        else if (!memcmp(e, vhdx_meta_logical_ss, 16)) bit = 8;
        else if (!memcmp(e, vhdx_meta_physical_ss, 16)) bit = 16;
        else if (!memcmp(e, vhdx_meta_parent_loc, 16)) bit = 32;
        else if (flags & VHDX_META_IS_REQUIRED)
            return diag_set(diag, VDSSHIM_E_UNSUPPORTED, eat, "metadata entry %u at offset %llu is an unknown required item",
                            i, (unsigned long long)eat);
        else if (flags & VHDX_META_IS_USER)
        {
            if ((st = add_user_item(m, e, off, ilen, diag))) return st;
            continue;
        }
        else
            continue;
        if (seen & bit)
            return diag_set(diag, VDSSHIM_E_CORRUPT, eat, "metadata entry %u at offset %llu repeats an item",
                            i, (unsigned long long)eat);
        seen |= bit;
        if ((bit == 1 && ilen < 8) || (bit == 2 && ilen < 8) || (bit == 4 && ilen < 16) || ((bit == 8 || bit == 16) && ilen < 4))
            return diag_set(diag, VDSSHIM_E_CORRUPT, eat + 20, "metadata item %u at offset %llu is too short (%u bytes)",
                            i, (unsigned long long)eat, ilen);
        switch (bit)
        {
        case 1:
            m->block_size = get_le32(item);
            m->leave_blocks_allocated = get_le32(item + 4) & 1;
            m->has_parent = !!(get_le32(item + 4) & 2);
            break;
        case 2: m->virtual_size = get_le64(item); m->disk_size_at = off; break;
        case 4: memcpy(m->disk_id.b, item, 16); break;
        case 8: m->logical_sector_size = get_le32(item); break;
        case 16: m->physical_sector_size = get_le32(item); break;
        case 32:
            if ((st = decode_locator(item, ilen, at + off, m, diag))) return st;
            break;
        }
    }
    if ((st = check_no_overlap(region, count, at, diag))) return st;
    if ((seen & 31) != 31)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "metadata table at offset %llu lacks a required item (mask %#x)",
                        (unsigned long long)at, seen);
    if (m->block_size < MiB || m->block_size > 256 * MiB || (m->block_size & (m->block_size - 1)))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "block size %u is not a power of two from 1 MiB to 256 MiB",
                        m->block_size);
    if ((m->logical_sector_size != 512 && m->logical_sector_size != 4096)
        || (m->physical_sector_size != 512 && m->physical_sector_size != 4096))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "sector sizes %u/%u (logical/physical) are not 512 or 4096",
                        m->logical_sector_size, m->physical_sector_size);
    if (!m->virtual_size || m->virtual_size > VHDX_MAX_VIRTUAL_SIZE || m->virtual_size % m->logical_sector_size)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "virtual size %llu is zero, too large or not whole sectors",
                        (unsigned long long)m->virtual_size);
    if (m->has_parent && !(seen & 32))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "differencing disk without a parent locator");
    return VDSSHIM_OK;
}

int vhdx_meta_decode(const uint8_t *region, uint32_t len, uint64_t at, struct vhdx_meta *m,
                     struct vdsshim_diag *diag)
{
    int st;

    memset(m, 0, sizeof(*m));
    /* A refusal after the locator was read must not leak its strings (found by fuzz_vhdx_structs). */
    if ((st = decode_items(region, len, at, m, diag))) vhdx_meta_free(m);
    return st;
}

static int locator_add(uint8_t *item, uint32_t cap, uint32_t *used, uint16_t index, const char *key,
                       const char *value)
{
    const char *text[2] = { key, value };
    uint8_t *e = item + 20 + 12 * index;
    int k;

    for (k = 0; k < 2; k++)
    {
        size_t n, i;
        uint16_t *w = utf8_to_utf16(text[k], &n);

        if (!w) return VDSSHIM_E_INVALID_ARG;
        if (n * 2 > 0xffff || *used + n * 2 > cap)
        {
            free(w);
            return VDSSHIM_E_INVALID_ARG;
        }
        put_le32(e + 4 * k, *used);
        put_le16(e + 8 + 2 * k, (uint16_t)(n * 2));
        for (i = 0; i < n; i++) put_le16(item + *used + 2 * i, w[i]);
        *used += (uint32_t)(n * 2);
        free(w);
    }
    return VDSSHIM_OK;
}

int vhdx_parent_locator_encode(uint8_t *item, uint32_t cap, const uint8_t linkage_id[16], const char *relative,
                               const char *absolute, uint32_t *len)
{
    uint16_t count = 0, i;
    uint32_t used = 20 + 12 * 3;     /* header and room for three entries */
    char linkage[39];
    int st;

    if (cap < used) return VDSSHIM_E_INVALID_ARG;
    memset(item, 0, used);
    /* parent_linkage names the parent's DataWriteGuid; then the paths. */
    vhdx_guid_format((const struct vhdx_guid *)linkage_id, linkage);
    memcpy(item, vhdx_parent_loc_type, 16);
    st = locator_add(item, cap, &used, count++, "parent_linkage", linkage);
    if (!st && relative) st = locator_add(item, cap, &used, count++, "relative_path", relative);
    if (!st) st = locator_add(item, cap, &used, count++, "absolute_win32_path", absolute);
    if (st) return st;
    if (count < 3)      /* entries were reserved for three: close the gap */
    {
        memmove(item + 20 + 12 * count, item + 20 + 12 * 3, used - (20 + 12 * 3));
        for (i = 0; i < count; i++)
        {
            uint8_t *e = item + 20 + 12 * i;
            put_le32(e, get_le32(e) - 12u * (3 - count));
            put_le32(e + 4, get_le32(e + 4) - 12u * (3 - count));
        }
        used -= 12u * (3 - count);
    }
    put_le16(item + 18, count);
    *len = used;
    return VDSSHIM_OK;
}
