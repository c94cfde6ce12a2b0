/*
 * VHDX user metadata (virtdisk's Enumerate/Get/Set/DeleteVirtualDiskMetadata):
 * the IsUser items of the metadata table, read through the log replay
 * overlay like every other metadata read. A VHD has no such items
 * (VDSSHIM_E_WRONG_TYPE).
 *
 * Writing is crash-safe in two steps: an item's new data goes into 4 KiB
 * sectors of the metadata region that no entry uses (never over the old
 * data, which stays valid until the switch), flushed; then the table's
 * changed sectors go through the log in one entry (MS-VHDX §2.3), so a
 * power cut leaves the old table or the new one, each with its data intact.
 * Limits from MS-VHDX §2.6.1: an item is at most 1 MiB, at most 1024 entries
 * are user items, the table holds at most 2047 entries.
 *
 * Two of the file's own items can be changed in place (virtdisk's
 * SetVirtualDiskInformation VIRTUAL_DISK_ID and PHYSICAL_SECTOR_SIZE): the
 * Page 83 Data (the virtual disk id) and the Physical Sector Size. Their
 * sectors go through the log like the table's, so a power cut leaves the
 * old value or the new one.
 */
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

int vdsshim_metadata_list(const struct vdsshim_image *img, uint8_t (*ids)[16], unsigned max, unsigned *count)
{
    const struct vhdx *v;
    unsigned i;

    if (!img || !count) return VDSSHIM_E_INVALID_ARG;
    *count = 0;
    if (img->info.format != VDSSHIM_FORMAT_VHDX) return VDSSHIM_E_WRONG_TYPE;
    v = img->fmt;
    for (i = 0; i < v->meta.user_count && i < max && ids; i++) memcpy(ids[i], v->meta.user[i].id, 16);
    *count = v->meta.user_count;
    return VDSSHIM_OK;
}

int vdsshim_metadata_get(struct vdsshim_image *img, const uint8_t id[16], void *buf, uint32_t cap, uint32_t *size,
                         struct vdsshim_diag *diag)
{
    struct vhdx *v;
    unsigned i;

    if (!img || !id || !size) return VDSSHIM_E_INVALID_ARG;
    *size = 0;
    if (img->info.format != VDSSHIM_FORMAT_VHDX)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "a VHD has no user metadata");
    v = img->fmt;
    for (i = 0; i < v->meta.user_count; i++)
        if (!memcmp(v->meta.user[i].id, id, 16))
        {
            const struct vhdx_user_item *it = &v->meta.user[i];

            *size = it->length;
            if (!buf || cap < it->length || !it->length) return VDSSHIM_OK;
            return vhdx_file_read(img, v, buf, it->length, v->meta_region.offset + it->offset, "a user metadata item",
                                  diag);
        }
    return diag_set(diag, VDSSHIM_E_NOT_FOUND, 0, "no user metadata item with that id");
}

#define MAX_ITEM_SIZE   MiB
#define MAX_USER_ITEMS  1024u

/* Where in the region a new item of len bytes can go: whole 4 KiB sectors
 * past the table that no entry touches. 0 if none. */
static uint32_t find_space(const uint8_t *table, uint16_t count, uint32_t region_len, uint32_t len)
{
    uint32_t need = (len + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR, at = VHDX_META_TABLE_SIZE;
    uint16_t i;

    while (at + need <= region_len && at + need > at)
    {
        uint32_t next = 0;

        for (i = 0; i < count; i++)
        {
            uint32_t off = get_le32(table + 32 + 32 * i + 16), ilen = get_le32(table + 32 + 32 * i + 20);
            uint32_t end = (uint32_t)(((uint64_t)off + ilen + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR);

            if (ilen && off < at + need && end > at && end > next) next = end;
        }
        if (!next) return at;
        at = next;
    }
    return 0;
}

static int entry_index(const uint8_t *table, uint16_t count, const uint8_t id[16])
{
    uint16_t i;

    for (i = 0; i < count; i++)
        if (!memcmp(table + 32 + 32 * i, id, 16)) return i;
    return -1;
}

/* Metadata sectors through the log in one entry, then no log left to replay. */
static int commit_sectors(struct vdsshim_image *img, struct vhdx *v, const uint64_t *offsets, uint8_t *const *sectors,
                          size_t n, struct vdsshim_diag *diag)
{
    uint64_t end = vhdx_structure_end(v);
    int st;

    if ((st = vhdx_log_commit(img, v, offsets, sectors, n, v->file_size, v->file_size > end ? v->file_size : end,
                              diag)))
        return st;
    return vhdx_settle(img, diag);
}

/* Commit the table's changed 4 KiB sectors (old -> new). */
static int commit_table(struct vdsshim_image *img, struct vhdx *v, const uint8_t *old, uint8_t *table,
                        struct vdsshim_diag *diag)
{
    uint64_t offsets[VHDX_META_TABLE_SIZE / VHDX_LOG_SECTOR];
    uint8_t *sectors[VHDX_META_TABLE_SIZE / VHDX_LOG_SECTOR];
    size_t n = 0, i;

    for (i = 0; i < VHDX_META_TABLE_SIZE / VHDX_LOG_SECTOR; i++)
        if (memcmp(old + i * VHDX_LOG_SECTOR, table + i * VHDX_LOG_SECTOR, VHDX_LOG_SECTOR))
        {
            offsets[n] = v->meta_region.offset + i * VHDX_LOG_SECTOR;
            sectors[n++] = table + i * VHDX_LOG_SECTOR;
        }
    return n ? commit_sectors(img, v, offsets, sectors, n, diag) : VDSSHIM_OK;
}

/* The table as the log shows it, twice (to edit and to compare), and checks common to set and delete. */
static int load_table(struct vdsshim_image *img, const uint8_t id[16], uint8_t **old, uint8_t **table,
                      struct vdsshim_diag *diag)
{
    static const uint8_t zero[16];
    struct vhdx *v;
    int st;

    *old = *table = NULL;
    if (!img || !id) return VDSSHIM_E_INVALID_ARG;
    if (img->info.format != VDSSHIM_FORMAT_VHDX)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "a VHD has no user metadata");
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    if (!memcmp(id, zero, 16)) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a metadata item id cannot be all zeros");
    v = img->fmt;
    if (!(*old = malloc(VHDX_META_TABLE_SIZE)) || !(*table = malloc(VHDX_META_TABLE_SIZE)))
    {
        free(*old);
        *old = NULL;
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    if ((st = vhdx_file_read(img, v, *old, VHDX_META_TABLE_SIZE, v->meta_region.offset, "the metadata table", diag)))
        return st;
    memcpy(*table, *old, VHDX_META_TABLE_SIZE);
    {
        uint16_t count = get_le16(*old + 10);
        int i = entry_index(*old, count, id);

        /* The file's own items (size, locator, ...) are not the user's to change. */
        if (i >= 0 && !(get_le32(*old + 32 + 32 * i + 24) & VHDX_META_IS_USER))
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "that id names a system metadata item, not a user one");
    }
    return VDSSHIM_OK;
}

/* An item's value at region offset at, where no table entry points yet:
 * durable before any entry names it. */
static int write_item_value(struct vdsshim_image *img, struct vhdx *v, uint32_t at, const uint8_t *buf, uint32_t len,
                            struct vdsshim_diag *diag)
{
    int st = vdsshim_io_write(img->io, buf, len, v->meta_region.offset + at);

    if (st) return diag_io(diag, img->io, st, v->meta_region.offset + at, "cannot write a metadata item");
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, 0, "cannot flush");
    return VDSSHIM_OK;
}

static void user_list_set(struct vhdx_meta *m, const uint8_t id[16], uint32_t off, uint32_t len)
{
    unsigned i;

    for (i = 0; i < m->user_count; i++)
        if (!memcmp(m->user[i].id, id, 16))
        {
            m->user[i].offset = off;
            m->user[i].length = len;
            return;
        }
    /* Room was made before the commit (vdsshim_metadata_set). */
    memcpy(m->user[m->user_count].id, id, 16);
    m->user[m->user_count].offset = off;
    m->user[m->user_count].length = len;
    m->user_count++;
}

int vdsshim_metadata_set(struct vdsshim_image *img, const uint8_t id[16], const void *data, uint32_t size,
                         struct vdsshim_diag *diag)
{
    uint8_t *old, *table, *buf = NULL;
    struct vhdx *v;
    uint16_t count;
    uint32_t at = 0, users = 0, i;
    int idx, st;

    if ((st = load_table(img, id, &old, &table, diag))) goto done;
    v = img->fmt;
    if (size > MAX_ITEM_SIZE || (size && !data))
    {
        st = diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a metadata item holds at most 1 MiB (%u bytes given)", size);
        goto done;
    }
    count = get_le16(table + 10);
    for (i = 0; i < count; i++) users += !!(get_le32(table + 32 + 32 * i + 24) & VHDX_META_IS_USER);
    idx = entry_index(table, count, id);
    if (idx < 0 && (count >= VHDX_MAX_ENTRIES || users >= MAX_USER_ITEMS))
    {
        st = diag_set(diag, VDSSHIM_E_NOSPC, v->meta_region.offset, "the metadata table is full (%u entries, %u user items)",
                      count, users);
        goto done;
    }
    if (size)
    {
        uint32_t padded = (size + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;

        if (!(at = find_space(table, count, v->meta_region.length, size)))
        {
            st = diag_set(diag, VDSSHIM_E_NOSPC, v->meta_region.offset,
                          "the metadata region has no free %u bytes for the item", padded);
            goto done;
        }
        if (!(buf = calloc(1, padded)))
        {
            st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            goto done;
        }
        memcpy(buf, data, size);
        /* Step 1: the data, where nothing points yet; durable before the table names it. */
        if ((st = write_item_value(img, v, at, buf, padded, diag))) goto done;
    }
    if (idx < 0)
    {
        struct vhdx_user_item *more = realloc(v->meta.user, (v->meta.user_count + 1) * sizeof(*more));

        if (!more)
        {
            st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            goto done;
        }
        v->meta.user = more;
        idx = count;
        memcpy(table + 32 + 32 * idx, id, 16);
        put_le32(table + 32 + 32 * idx + 24, VHDX_META_IS_USER);
        put_le32(table + 32 + 32 * idx + 28, 0);
        put_le16(table + 10, (uint16_t)(count + 1));
    }
    put_le32(table + 32 + 32 * idx + 16, at);
    put_le32(table + 32 + 32 * idx + 20, size);
    /* Step 2: the table, atomically. */
    if (!(st = commit_table(img, v, old, table, diag))) user_list_set(&v->meta, id, at, size);

done:
    free(buf);
    free(old);
    free(table);
    return st;
}

int vdsshim_metadata_delete(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag)
{
    uint8_t *old, *table;
    struct vhdx *v;
    uint16_t count;
    unsigned i;
    int idx, st;

    if ((st = load_table(img, id, &old, &table, diag))) goto done;
    v = img->fmt;
    count = get_le16(table + 10);
    if ((idx = entry_index(table, count, id)) < 0)
    {
        st = diag_set(diag, VDSSHIM_E_NOT_FOUND, 0, "no user metadata item with that id");
        goto done;
    }
    /* The last entry takes the slot; the table's order means nothing. */
    memmove(table + 32 + 32 * idx, table + 32 + 32 * (count - 1), 32);
    memset(table + 32 + 32 * (count - 1), 0, 32);
    put_le16(table + 10, (uint16_t)(count - 1));
    if ((st = commit_table(img, v, old, table, diag))) goto done;
    for (i = 0; i < v->meta.user_count; i++)
        if (!memcmp(v->meta.user[i].id, id, 16))
        {
            v->meta.user[i] = v->meta.user[--v->meta.user_count];
            break;
        }

done:
    free(old);
    free(table);
    return st;
}

/* A system item's value of len bytes, rewritten in place through the log. */
static int patch_system_item(struct vdsshim_image *img, const uint8_t item_id[16], const void *value, uint32_t len,
                             struct vdsshim_diag *diag)
{
    uint8_t *table = NULL, *sectors[2] = { NULL, NULL };
    uint64_t offsets[2], first, last;
    struct vhdx *v;
    uint32_t off, ilen, i, n;
    int idx, st;

    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (img->info.format != VDSSHIM_FORMAT_VHDX)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "a VHD has no such metadata item");
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    v = img->fmt;
    if (!(table = malloc(VHDX_META_TABLE_SIZE))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if ((st = vhdx_file_read(img, v, table, VHDX_META_TABLE_SIZE, v->meta_region.offset, "the metadata table", diag)))
        goto done;
    if ((idx = entry_index(table, get_le16(table + 10), item_id)) < 0)
    {
        st = diag_set(diag, VDSSHIM_E_UNSUPPORTED, v->meta_region.offset, "the file has no such metadata item to change");
        goto done;
    }
    off = get_le32(table + 32 + 32 * idx + 16);
    ilen = get_le32(table + 32 + 32 * idx + 20);
    if (ilen < len)
    {
        st = diag_set(diag, VDSSHIM_E_CORRUPT, v->meta_region.offset + 32 + 32 * idx, "the item is %u bytes, not %u",
                      ilen, len);
        goto done;
    }
    first = (v->meta_region.offset + off) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    last = (v->meta_region.offset + off + len - 1) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    n = last > first ? 2 : 1;
    for (i = 0; i < n; i++)
    {
        offsets[i] = first + (uint64_t)i * VHDX_LOG_SECTOR;
        if (!(sectors[i] = malloc(VHDX_LOG_SECTOR)))
        {
            st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            goto done;
        }
        if ((st = vhdx_file_read(img, v, sectors[i], VHDX_LOG_SECTOR, offsets[i], "a metadata item", diag))) goto done;
    }
    for (i = 0; i < len; i++)
    {
        uint64_t at = v->meta_region.offset + off + i;
        sectors[(at - first) / VHDX_LOG_SECTOR][(at - first) % VHDX_LOG_SECTOR] = ((const uint8_t *)value)[i];
    }
    st = commit_sectors(img, v, offsets, sectors, n, diag);

done:
    free(sectors[0]);
    free(sectors[1]);
    free(table);
    return st;
}

int vhdx_replace_system_item(struct vdsshim_image *img, const uint8_t id[16], const void *data, uint32_t size,
                             struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    uint8_t *old = NULL, *table = NULL, *buf = NULL;
    uint32_t at, padded = (size + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    uint16_t count;
    int idx, st;

    if (!(old = malloc(VHDX_META_TABLE_SIZE)) || !(table = malloc(VHDX_META_TABLE_SIZE)) || !(buf = calloc(1, padded ? padded : 1)))
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    if ((st = vhdx_file_read(img, v, old, VHDX_META_TABLE_SIZE, v->meta_region.offset, "the metadata table", diag)))
        goto done;
    memcpy(table, old, VHDX_META_TABLE_SIZE);
    count = get_le16(table + 10);
    if ((idx = entry_index(table, count, id)) < 0 || (get_le32(table + 32 + 32 * idx + 24) & VHDX_META_IS_USER))
    {
        st = diag_set(diag, VDSSHIM_E_UNSUPPORTED, v->meta_region.offset, "the file has no such system metadata item");
        goto done;
    }
    if (!(at = find_space(table, count, v->meta_region.length, size)))
    {
        st = diag_set(diag, VDSSHIM_E_NOSPC, v->meta_region.offset, "the metadata region has no free %u bytes for the item",
                      padded);
        goto done;
    }
    memcpy(buf, data, size);
    /* The new value where nothing points, durable before the table names it;
     * then the table, atomically, through the log. */
    if ((st = write_item_value(img, v, at, buf, padded, diag))) goto done;
    put_le32(table + 32 + 32 * idx + 16, at);
    put_le32(table + 32 + 32 * idx + 20, size);
    st = commit_table(img, v, old, table, diag);

done:
    free(old);
    free(table);
    free(buf);
    return st;
}

int vdsshim_set_virtual_disk_id(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag)
{
    struct vhdx *v;
    int st;

    if (!id) return VDSSHIM_E_INVALID_ARG;
    if ((st = patch_system_item(img, vhdx_meta_page83, id, 16, diag))) return st;
    v = img->fmt;
    memcpy(v->meta.disk_id.b, id, 16);
    memcpy(img->info.unique_id, id, 16);
    return VDSSHIM_OK;
}

int vdsshim_set_physical_sector_size(struct vdsshim_image *img, uint32_t size, struct vdsshim_diag *diag)
{
    uint8_t le[4];
    struct vhdx *v;
    int st;

    if (size != 512 && size != 4096)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a physical sector size is 512 or 4096, not %u", size);
    put_le32(le, size);
    if ((st = patch_system_item(img, vhdx_meta_physical_ss, le, 4, diag))) return st;
    v = img->fmt;
    v->meta.physical_sector_size = size;
    img->info.physical_sector_size = size;
    return VDSSHIM_OK;
}
