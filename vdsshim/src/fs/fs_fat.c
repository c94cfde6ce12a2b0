/*
 * FAT12/16/32 free space (formats.md §6): the BPB gives the data area and
 * the cluster count; clusters whose FAT entry is 0 are free. The volume
 * falls back when the BPB is not sane, when the FAT copies differ, or when
 * FAT16/32's "clean shutdown" or "no error" bits in entry 1 are clear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

static uint32_t fat_entry(const uint8_t *fat, unsigned bits, uint32_t n)
{
    if (bits == 12)
    {
        uint32_t v = get_le16(fat + n + n / 2);
        return n & 1 ? v >> 4 : v & 0xfff;
    }
    return bits == 16 ? get_le16(fat + 2 * n) : get_le32(fat + 4 * n) & 0x0fffffffu;
}

int fs_fat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t bs[512], *fat = NULL, *copy = NULL;
    uint32_t bps, spc, rsvd, nfats, root_ent, fat_sz, root_secs, clusters, n, e1;
    uint64_t tot, data_sec, data_off, fat_bytes;
    unsigned bits, k;
    int st;

    if ((st = fs_read(vol, 0, bs, sizeof(bs), &diag))) return st == VDSSHIM_E_CORRUPT ? VDSSHIM_E_UNKNOWN_FORMAT : st;
    if (bs[510] != 0x55 || bs[511] != 0xaa || (bs[0] != 0xeb && bs[0] != 0xe9)) return VDSSHIM_E_UNKNOWN_FORMAT;
    if (memcmp(bs + 54, "FAT", 3) && memcmp(bs + 82, "FAT32", 5))
    {
        return VDSSHIM_E_UNKNOWN_FORMAT;
    }
    bps = get_le16(bs + 11);
    spc = bs[13];
    rsvd = get_le16(bs + 14);
    nfats = bs[16];
    root_ent = get_le16(bs + 17);
    tot = get_le16(bs + 19) ? get_le16(bs + 19) : get_le32(bs + 32);
    fat_sz = get_le16(bs + 22) ? get_le16(bs + 22) : get_le32(bs + 36);
    strcpy(r->fs, "FAT");
    if ((bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) || !spc || (spc & (spc - 1)) || !rsvd
        || !nfats || nfats > 4 || !fat_sz || tot * bps > vol->size)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the boot sector's BPB is not sane");
    root_secs = (root_ent * 32 + bps - 1) / bps;
    if ((uint64_t)rsvd + (uint64_t)nfats * fat_sz + root_secs >= tot)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the BPB leaves no data area");
    data_sec = tot - rsvd - (uint64_t)nfats * fat_sz - root_secs;
    clusters = (uint32_t)(data_sec / spc);
    bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
    snprintf(r->fs, sizeof(r->fs), "FAT%u", bits);
    fat_bytes = (uint64_t)fat_sz * bps;
    if ((uint64_t)(clusters + 2) * bits / 8 + 2 > fat_bytes || fat_bytes > (256u << 20))
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the FAT (%llu bytes) cannot hold %u clusters",
                         (unsigned long long)fat_bytes, clusters);
    data_off = ((uint64_t)rsvd + (uint64_t)nfats * fat_sz + root_secs) * bps;

    fat = malloc((size_t)fat_bytes);
    copy = malloc((size_t)fat_bytes);
    if (!fat || !copy)
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    if ((st = fs_read(vol, (uint64_t)rsvd * bps, fat, (size_t)fat_bytes, &diag)))
    {
        st = fs_fall_back(r, st, "the FAT: %s", diag.msg);
        goto done;
    }
    for (k = 1; k < nfats; k++)
    {
        if ((st = fs_read(vol, ((uint64_t)rsvd + (uint64_t)k * fat_sz) * bps, copy, (size_t)fat_bytes, &diag)))
        {
            st = fs_fall_back(r, st, "FAT copy %u: %s", k + 1, diag.msg);
            goto done;
        }
        if (memcmp(fat, copy, (size_t)fat_bytes))
        {
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "FAT copy %u differs from the first: run fsck first", k + 1);
            goto done;
        }
    }
    e1 = fat_entry(fat, bits, 1);
    if ((bits == 16 && (e1 & 0xc000) != 0xc000) || (bits == 32 && (e1 & 0x0c000000) != 0x0c000000))
    {
        st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the volume is marked dirty or with errors (FAT[1] = %#x): run fsck first", e1);
        goto done;
    }
    for (n = 2; n < clusters + 2 && !st;)
    {
        uint32_t run = 0;

        while (n + run < clusters + 2 && fat_entry(fat, bits, n + run) == 0) run++;
        if (run)
        {
            st = fsmap_add_free(map, vol, data_off + (uint64_t)(n - 2) * spc * bps, (uint64_t)run * spc * bps, r);
            if (st == VDSSHIM_E_CORRUPT) st = fs_fall_back(r, st, "free clusters past the volume's end");
            n += run;
        }
        else
            n++;
    }
done:
    free(fat);
    free(copy);
    return st;
}
