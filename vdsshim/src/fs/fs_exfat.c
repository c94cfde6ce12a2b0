/*
 * exFAT free space (formats.md §6): the main boot region (its checksum
 * checked), the root directory's Allocation Bitmap entry, and the bitmap
 * itself, found through the FAT. A clear bit is a free cluster. A dirty
 * volume, a bad checksum or a broken chain falls back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

#define MAX_CHAIN (1u << 22)

struct exfat
{
    const struct fs_volume *vol;
    uint32_t bps, cluster, fat_off, heap_off, count;
};

static uint64_t cluster_at(const struct exfat *x, uint32_t n)
{
    return (uint64_t)x->heap_off * x->bps + (uint64_t)(n - 2) * x->cluster;
}

static int next_cluster(const struct exfat *x, uint32_t n, uint32_t *next, struct vdsshim_diag *diag)
{
    uint8_t e[4];
    int st = fs_read(x->vol, (uint64_t)x->fat_off * x->bps + 4ull * n, e, 4, diag);

    *next = get_le32(e);
    return st;
}

int fs_exfat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct exfat x = { vol, 0, 0, 0, 0, 0 };
    uint8_t *boot = NULL, *dir = NULL, *bitmap = NULL;
    uint32_t sum = 0, i, c, bm_first = 0, hops;
    uint64_t bm_len = 0, done;
    int st;

    if (!(boot = malloc(12 * 4096))) return VDSSHIM_E_NOMEM;
    if ((st = fs_read(vol, 0, boot, 512, &diag)) || memcmp(boot + 3, "EXFAT   ", 8))
    {
        free(boot);
        return st && st != VDSSHIM_E_CORRUPT ? st : VDSSHIM_E_UNKNOWN_FORMAT;
    }
    strcpy(r->fs, "exFAT");
    if (boot[108] < 9 || boot[108] > 12 || boot[109] > 25 - boot[108])
    {
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "sector or cluster shift out of range");
        goto done;
    }
    x.bps = 1u << boot[108];
    x.cluster = x.bps << boot[109];
    x.fat_off = get_le32(boot + 80);
    x.heap_off = get_le32(boot + 88);
    x.count = get_le32(boot + 92);
    if (get_le16(boot + 106) & 0x6)
    {
        st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the volume is marked dirty or failing (flags %#x): run fsck first",
                       get_le16(boot + 106));
        goto done;
    }
    if (boot[110] != 1)
    {
        st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "%u FATs (TexFAT)", boot[110]);
        goto done;
    }
    if ((uint64_t)x.heap_off * x.bps + (uint64_t)x.count * x.cluster > vol->size || x.count < 1
        || (uint64_t)x.fat_off * x.bps + 4ull * (x.count + 2) > (uint64_t)x.heap_off * x.bps)
    {
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "the boot sector's layout does not fit the volume");
        goto done;
    }
    /* The boot region checksum: sectors 0-10, skipping VolumeFlags and PercentInUse. */
    if ((st = fs_read(vol, 0, boot, 12 * x.bps, &diag)))
    {
        st = fs_fall_back(r, st, "boot region: %s", diag.msg);
        goto done;
    }
    for (i = 0; i < 11 * x.bps; i++)
        if (i != 106 && i != 107 && i != 112) sum = (sum >> 1 | sum << 31) + boot[i];
    for (i = 0; i < x.bps / 4; i++)
        if (get_le32(boot + 11 * x.bps + 4 * i) != sum)
        {
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "boot region checksum mismatch");
            goto done;
        }

    /* The Allocation Bitmap entry (type 0x81) in the root directory's chain. */
    if (!(dir = malloc(x.cluster)))
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    for (c = get_le32(boot + 96), hops = 0; c >= 2 && c < x.count + 2 && !bm_first && hops < MAX_CHAIN; hops++)
    {
        if ((st = fs_read(vol, cluster_at(&x, c), dir, x.cluster, &diag))) break;
        for (i = 0; i < x.cluster; i += 32)
            if (dir[i] == 0x81 && !(dir[i + 1] & 1))
            {
                bm_first = get_le32(dir + i + 20);
                bm_len = get_le64(dir + i + 24);
                break;
            }
        if (!bm_first && (st = next_cluster(&x, c, &c, &diag))) break;
    }
    if (st)
    {
        st = fs_fall_back(r, st, "root directory: %s", diag.msg);
        goto done;
    }
    if (!bm_first || bm_len < (x.count + 7) / 8 || bm_len > 64u << 20)
    {
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "no usable Allocation Bitmap entry in the root directory");
        goto done;
    }
    if (!(bitmap = malloc((size_t)bm_len + x.cluster)))
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    for (done = 0, c = bm_first, hops = 0; done < bm_len; done += x.cluster, hops++)
    {
        if (c < 2 || c >= x.count + 2 || hops >= MAX_CHAIN)
        {
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "the Allocation Bitmap's cluster chain breaks at cluster %u", c);
            goto done;
        }
        if ((st = fs_read(vol, cluster_at(&x, c), bitmap + done, x.cluster, &diag))
            || (st = next_cluster(&x, c, &c, &diag)))
        {
            st = fs_fall_back(r, st, "Allocation Bitmap: %s", diag.msg);
            goto done;
        }
    }
    for (i = 0; i < x.count && !st;)
    {
        uint32_t run = 0;

        while (i + run < x.count && !(bitmap[(i + run) >> 3] & (1u << ((i + run) & 7)))) run++;
        if (run)
        {
            st = fsmap_add_free(map, vol, cluster_at(&x, i + 2), (uint64_t)run * x.cluster, r);
            i += run;
        }
        else
            i++;
    }
done:
    free(boot);
    free(dir);
    free(bitmap);
    return st;
}
