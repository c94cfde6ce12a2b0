/*
 * NTFS free space (formats.md §6): the boot sector, MFT record 6 ($Bitmap)
 * with its update-sequence fixups, the runlist of its unnamed $DATA
 * attribute, and the bitmap (a clear bit is a free cluster). Record 3
 * ($Volume) must not say "dirty". An $ATTRIBUTE_LIST on $Bitmap, a sparse
 * run, a torn record or anything out of range falls back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

#define ATTR_LIST 0x20u
#define ATTR_VOLUME_INFO 0x70u
#define ATTR_DATA 0x80u
#define ATTR_END 0xffffffffu

static int fall_back(struct vdsshim_fs_report *r, int st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    return st;
}

struct ntfs
{
    const struct fs_volume *vol;
    uint32_t bps, cluster, record;
    uint64_t mft, clusters;
};

/* Read MFT record n (in the MFT's first extent) and undo its fixups. */
static int read_record(const struct ntfs *n, uint32_t index, uint8_t *rec, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint32_t usa, count, i;
    int st;

    if ((st = fs_read(n->vol, n->mft * n->cluster + (uint64_t)index * n->record, rec, n->record, &diag)))
        return fall_back(r, st, "MFT record %u: %s", index, diag.msg);
    if (memcmp(rec, "FILE", 4)) return fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u has no FILE signature", index);
    usa = get_le16(rec + 4);
    count = get_le16(rec + 6);
    if (count < 2 || usa + 2 * count > n->record || (count - 1) * n->bps != n->record)
        return fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u's update sequence is invalid", index);
    for (i = 1; i < count; i++)
    {
        uint8_t *end = rec + i * n->bps - 2;
        if (memcmp(end, rec + usa, 2))
            return fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u is torn (sector %u)", index, i - 1);
        memcpy(end, rec + usa + 2 * i, 2);
    }
    if (!(get_le16(rec + 22) & 1)) return fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u is not in use", index);
    return VDSSHIM_OK;
}

/* The first attribute of a type (unnamed), or NULL; an attribute list is reported. */
static const uint8_t *find_attr(const struct ntfs *n, const uint8_t *rec, uint32_t type, int *has_list)
{
    uint32_t off = get_le16(rec + 20);

    *has_list = 0;
    while (off + 16 <= n->record)
    {
        uint32_t t = get_le32(rec + off), len = get_le32(rec + off + 4);

        if (t == ATTR_END || len < 16 || off + len > n->record) break;
        if (t == ATTR_LIST) *has_list = 1;
        if (t == type && !rec[off + 9]) return rec + off;
        off += len;
    }
    return NULL;
}

int fs_ntfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct ntfs n = { vol, 0, 0, 0, 0, 0 };
    uint8_t bs[512], *rec = NULL, *bitmap = NULL;
    const uint8_t *a, *run, *end;
    uint64_t size, lcn = 0, done = 0, i;
    int8_t cpr;
    int list, st;

    if ((st = fs_read(vol, 0, bs, sizeof(bs), &diag)) || memcmp(bs + 3, "NTFS    ", 8))
        return st && st != VDSSHIM_E_CORRUPT ? st : VDSSHIM_E_UNKNOWN_FORMAT;
    strcpy(r->fs, "NTFS");
    n.bps = get_le16(bs + 11);
    if (n.bps < 256 || n.bps > 4096 || (n.bps & (n.bps - 1)))
        return fall_back(r, VDSSHIM_E_CORRUPT, "%u bytes per sector", n.bps);
    /* Above 0x80 the byte is a negative power of two (clusters over 64 KiB). */
    n.cluster = bs[13] <= 0x80 ? n.bps * bs[13] : 256 - bs[13] <= 21 ? 1u << (256 - bs[13]) : 0;
    if (!n.cluster || n.cluster > (2u << 20) || n.cluster < n.bps)
        return fall_back(r, VDSSHIM_E_CORRUPT, "cluster size %u", n.cluster);
    cpr = (int8_t)bs[64];
    n.record = cpr > 0 ? (uint32_t)cpr * n.cluster : cpr < 0 && cpr > -32 ? 1u << -cpr : 0;
    n.mft = get_le64(bs + 48);
    n.clusters = get_le64(bs + 40) * n.bps / n.cluster;
    if (n.record < 512 || n.record > 65536 || n.clusters * n.cluster > vol->size || n.mft >= n.clusters)
        return fall_back(r, VDSSHIM_E_CORRUPT, "the boot sector's geometry does not fit the volume");
    if (!(rec = malloc(n.record))) return VDSSHIM_E_NOMEM;

    /* $Volume: a dirty volume is not mapped. */
    if ((st = read_record(&n, 3, rec, r))) goto done;
    /* Resident value: offset and length inside the attribute (found by fuzz_fs_maps). */
    if ((a = find_attr(&n, rec, ATTR_VOLUME_INFO, &list)) && !a[8] && get_le32(a + 4) >= 24 && get_le32(a + 16) >= 12
        && (uint32_t)get_le16(a + 20) + 12 <= get_le32(a + 4) && (get_le16(a + get_le16(a + 20) + 10) & 1))
    {
        st = fall_back(r, VDSSHIM_E_UNSUPPORTED, "the volume is marked dirty: run chkdsk first");
        goto done;
    }

    /* $Bitmap's unnamed $DATA, non-resident, in this record alone. */
    if ((st = read_record(&n, 6, rec, r))) goto done;
    a = find_attr(&n, rec, ATTR_DATA, &list);
    if (list)
    {
        st = fall_back(r, VDSSHIM_E_UNSUPPORTED, "$Bitmap has an $ATTRIBUTE_LIST");
        goto done;
    }
    if (!a || !a[8] || get_le32(a + 4) < 64)
    {
        st = fall_back(r, VDSSHIM_E_UNSUPPORTED, "$Bitmap's data is missing or resident");
        goto done;
    }
    size = get_le64(a + 48);
    if (size < (n.clusters + 7) / 8 || size > 256u << 20)
    {
        st = fall_back(r, VDSSHIM_E_CORRUPT, "$Bitmap is %llu bytes for %llu clusters", (unsigned long long)size,
                       (unsigned long long)n.clusters);
        goto done;
    }
    if (!(bitmap = malloc((size_t)size)))
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    run = a + get_le16(a + 32);
    end = a + get_le32(a + 4);
    while (done < size && run < end && *run)
    {
        unsigned lb = *run & 15, ob = *run >> 4, k;
        uint64_t len = 0;
        int64_t delta = 0;

        if (!lb || lb > 8 || ob > 8 || run + 1 + lb + ob > end)
        {
            st = fall_back(r, VDSSHIM_E_CORRUPT, "$Bitmap's runlist is malformed");
            goto done;
        }
        if (!ob)
        {
            st = fall_back(r, VDSSHIM_E_UNSUPPORTED, "$Bitmap has a sparse run");
            goto done;
        }
        for (k = 0; k < lb; k++) len |= (uint64_t)run[1 + k] << (8 * k);
        for (k = 0; k < ob; k++) delta |= (int64_t)((uint64_t)run[1 + lb + k] << (8 * k));
        if (run[lb + ob] & 0x80 && ob < 8) delta -= (int64_t)1 << (8 * ob);     /* sign-extend */
        lcn += (uint64_t)delta;
        if (!len || lcn >= n.clusters || len > n.clusters - lcn)
        {
            st = fall_back(r, VDSSHIM_E_CORRUPT, "$Bitmap's run at cluster %llu leaves the volume", (unsigned long long)lcn);
            goto done;
        }
        {
            uint64_t bytes = len * n.cluster < size - done ? len * n.cluster : size - done;
            if ((st = fs_read(vol, lcn * n.cluster, bitmap + done, (size_t)bytes, &diag)))
            {
                st = fall_back(r, st, "$Bitmap: %s", diag.msg);
                goto done;
            }
            done += bytes;
        }
        run += 1 + lb + ob;
    }
    if (done < size)
    {
        st = fall_back(r, VDSSHIM_E_CORRUPT, "$Bitmap's runs cover %llu of its %llu bytes", (unsigned long long)done,
                       (unsigned long long)size);
        goto done;
    }
    for (i = 0; i < n.clusters && !st;)
    {
        uint64_t len = 0;

        while (i + len < n.clusters && !(bitmap[(i + len) >> 3] & (1u << ((i + len) & 7)))) len++;
        if (len)
        {
            st = fsmap_add_free(map, vol, i * n.cluster, len * n.cluster, r);
            i += len;
        }
        else
            i++;
    }
done:
    free(rec);
    free(bitmap);
    return st;
}
