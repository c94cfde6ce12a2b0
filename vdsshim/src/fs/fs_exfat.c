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
    uint32_t bps;               /* bytes per sector */
    uint32_t cluster;           /* bytes per cluster */
    uint32_t fat_off;           /* FAT offset, in sectors */
    uint32_t heap_off;          /* cluster heap offset, in sectors */
    uint32_t count;             /* clusters in the heap */
    uint32_t root;              /* the root directory's first cluster */
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

/* The boot sector's geometry, checked against the volume, and the boot
 * region's checksum (sectors 0-10, skipping VolumeFlags and PercentInUse,
 * against every word of sector 11). Not an exFAT: VDSSHIM_E_UNKNOWN_FORMAT. */
static int read_boot_region(const struct fs_volume *vol, struct vdsshim_fs_report *r, struct exfat *x)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *boot;
    uint32_t sum = 0, i;
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
    x->vol = vol;
    x->bps = 1u << boot[108];
    x->cluster = x->bps << boot[109];
    x->fat_off = get_le32(boot + 80);
    x->heap_off = get_le32(boot + 88);
    x->count = get_le32(boot + 92);
    x->root = get_le32(boot + 96);
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
    if ((uint64_t)x->heap_off * x->bps + (uint64_t)x->count * x->cluster > vol->size || x->count < 1
        || (uint64_t)x->fat_off * x->bps + 4ull * (x->count + 2) > (uint64_t)x->heap_off * x->bps)
    {
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "the boot sector's layout does not fit the volume");
        goto done;
    }
    if ((st = fs_read(vol, 0, boot, 12 * x->bps, &diag)))
    {
        st = fs_fall_back(r, st, "boot region: %s", diag.msg);
        goto done;
    }
    for (i = 0; i < 11 * x->bps; i++)
        if (i != 106 && i != 107 && i != 112) sum = (sum >> 1 | sum << 31) + boot[i];
    for (i = 0; i < x->bps / 4; i++)
        if (get_le32(boot + 11 * x->bps + 4 * i) != sum)
        {
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "boot region checksum mismatch");
            goto done;
        }
done:
    free(boot);
    return st;
}

/* The Allocation Bitmap entry (type 0x81, first bitmap) in the root
 * directory's chain: its first cluster and length in bytes. */
static int find_bitmap_entry(const struct exfat *x, struct vdsshim_fs_report *r, uint32_t *first, uint64_t *len)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *dir;
    uint32_t c, i, hops;
    int st = 0;

    *first = 0;
    if (!(dir = malloc(x->cluster))) return VDSSHIM_E_NOMEM;
    for (c = x->root, hops = 0; c >= 2 && c < x->count + 2 && !*first && hops < MAX_CHAIN; hops++)
    {
        if ((st = fs_read(x->vol, cluster_at(x, c), dir, x->cluster, &diag))) break;
        for (i = 0; i < x->cluster; i += 32)
            if (dir[i] == 0x81 && !(dir[i + 1] & 1))
            {
                *first = get_le32(dir + i + 20);
                *len = get_le64(dir + i + 24);
                break;
            }
        if (!*first && (st = next_cluster(x, c, &c, &diag))) break;
    }
    free(dir);
    if (st) return fs_fall_back(r, st, "root directory: %s", diag.msg);
    if (!*first || *len < (x->count + 7) / 8 || *len > 64u << 20)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "no usable Allocation Bitmap entry in the root directory");
    return 0;
}

/* The bitmap's bytes, cluster by cluster along its FAT chain. */
static int read_bitmap(const struct exfat *x, struct vdsshim_fs_report *r, uint32_t first, uint64_t len,
                       uint8_t *bitmap)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint32_t c, hops;
    uint64_t done;
    int st;

    for (done = 0, c = first, hops = 0; done < len; done += x->cluster, hops++)
    {
        if (c < 2 || c >= x->count + 2 || hops >= MAX_CHAIN)
            return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the Allocation Bitmap's cluster chain breaks at cluster %u", c);
        if ((st = fs_read(x->vol, cluster_at(x, c), bitmap + done, x->cluster, &diag))
            || (st = next_cluster(x, c, &c, &diag)))
            return fs_fall_back(r, st, "Allocation Bitmap: %s", diag.msg);
    }
    return 0;
}

/* Each run of clear bits is a run of free clusters. */
static int add_free_runs(const struct exfat *x, const uint8_t *bitmap, struct fsmap *map, struct vdsshim_fs_report *r)
{
    uint32_t i, run;
    int st = 0;

    for (i = 0; i < x->count && !st;)
    {
        run = 0;
        while (i + run < x->count && !(bitmap[(i + run) >> 3] & (1u << ((i + run) & 7)))) run++;
        if (run)
        {
            st = fsmap_add_free(map, x->vol, cluster_at(x, i + 2), (uint64_t)run * x->cluster, r);
            i += run;
        }
        else
            i++;
    }
    return st;
}

int fs_exfat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct exfat x = { 0 };
    uint8_t *bitmap;
    uint32_t first;
    uint64_t len = 0;
    int st;

    if ((st = read_boot_region(vol, r, &x)) || (st = find_bitmap_entry(&x, r, &first, &len))) return st;
    /* One cluster of slack: the chain is read whole clusters at a time. */
    if (!(bitmap = malloc((size_t)len + x.cluster))) return VDSSHIM_E_NOMEM;
    if (!(st = read_bitmap(&x, r, first, len, bitmap))) st = add_free_runs(&x, bitmap, map, r);
    free(bitmap);
    return st;
}
