/*
 * The free-space map of a virtual disk: partitions, then each volume's file
 * system. Free ranges are virtual-disk byte ranges, sorted and merged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

int fs_read(const struct fs_volume *vol, uint64_t off, void *buf, size_t len, struct vdsshim_diag *diag)
{
    if (off > vol->size || len > vol->size - off)
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "a structure at volume offset %llu lies past the volume's end",
                        (unsigned long long)off);
    return vdsshim_read(vol->img, vol->offset + off, buf, len, diag);
}

int fsmap_add_free(struct fsmap *map, const struct fs_volume *vol, uint64_t off, uint64_t len,
                   struct vdsshim_fs_report *r)
{
    struct fs_extent *e;

    if (!len) return VDSSHIM_OK;
    if (off > vol->size || len > vol->size - off) return VDSSHIM_E_CORRUPT;
    /* Appends are in volume order; merge with the previous one when adjacent. */
    if (map->n && map->ext[map->n - 1].start + map->ext[map->n - 1].len == vol->offset + off)
    {
        map->ext[map->n - 1].len += len;
        r->free_bytes += len;
        return VDSSHIM_OK;
    }
    if (map->n == map->cap)
    {
        size_t cap = map->cap ? map->cap * 2 : 256;
        if (!(e = realloc(map->ext, cap * sizeof(*e)))) return VDSSHIM_E_NOMEM;
        map->ext = e;
        map->cap = cap;
    }
    map->ext[map->n].start = vol->offset + off;
    map->ext[map->n].len = len;
    map->n++;
    r->free_bytes += len;
    return VDSSHIM_OK;
}

static int cmp_extent(const void *a, const void *b)
{
    const struct fs_extent *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int build(struct vdsshim_image *img, struct fsmap *map, struct vdsshim_diag *diag)
{
    struct partition parts[VDSSHIM_MAX_FS_REPORTS];
    char reason[120] = "";
    unsigned nparts = 0, i;
    size_t k, out;
    int st;

    memset(map, 0, sizeof(*map));
    if ((st = partitions_find(img, parts, VDSSHIM_MAX_FS_REPORTS, &nparts, reason, sizeof(reason), diag)))
        return st;
    if (!nparts && reason[0])
    {
        struct vdsshim_fs_report *r = &map->reports[map->nreports++];
        strcpy(r->volume, "whole disk");
        strcpy(r->fs, "unknown");
        r->size = img->info.virtual_size;
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
    }
    for (i = 0; i < nparts; i++)
    {
        struct vdsshim_fs_report *r = &map->reports[map->nreports++];
        struct fs_volume vol = { img, parts[i].offset, parts[i].size, img->info.logical_sector_size };
        size_t before = map->n;

        memcpy(r->volume, parts[i].name, sizeof(r->volume));
        r->offset = parts[i].offset;
        r->size = parts[i].size;
        strcpy(r->fs, "unknown");
        /* Each recogniser says "not mine" (UNKNOWN_FORMAT) or takes the volume. */
        st = fs_ext_map(&vol, map, r);
        if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_ntfs_map(&vol, map, r);
        if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_exfat_map(&vol, map, r);
        if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_fat_map(&vol, map, r);
        if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_swap_map(&vol, map, r);
        if (st == VDSSHIM_OK)
        {
            r->used = 1;
            continue;
        }
        /* Fall back for this volume: none of its ranges count. */
        map->n = before;
        r->free_bytes = 0;
        if (st == VDSSHIM_E_NOMEM) return diag_set(diag, st, 0, "out of memory for the free-space map");
        if (st == VDSSHIM_E_IO) return diag_set(diag, st, 0, "reading %s: %s", r->volume, r->reason);
        if (st == VDSSHIM_E_UNKNOWN_FORMAT && !r->reason[0])
            snprintf(r->reason, sizeof(r->reason), "no file system vdsshim maps (NTFS, FAT12/16/32, exFAT, ext2/3/4, swap)");
    }
    if (map->n) qsort(map->ext, map->n, sizeof(*map->ext), cmp_extent);     /* (found by fuzz_fs_maps) */
    for (k = 0, out = 0; k < map->n; k++)
    {
        if (out && map->ext[out - 1].start + map->ext[out - 1].len >= map->ext[k].start)
        {
            uint64_t end = map->ext[k].start + map->ext[k].len;
            if (end > map->ext[out - 1].start + map->ext[out - 1].len)
                map->ext[out - 1].len = end - map->ext[out - 1].start;
        }
        else
            map->ext[out++] = map->ext[k];
    }
    map->n = out;
    return VDSSHIM_OK;
}

int fs_fall_back(struct vdsshim_fs_report *r, int st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    return st;
}

int fsmap_build(struct vdsshim_image *img, struct fsmap *map, struct vdsshim_diag *diag)
{
    int st = build(img, map, diag);

    if (st) fsmap_free(map);
    return st;
}

void fsmap_free(struct fsmap *map)
{
    free(map->ext);
    memset(map, 0, sizeof(*map));
}

/* Index of the last extent starting at or before off, or -1. */
static long find(const struct fsmap *map, uint64_t off)
{
    size_t lo = 0, hi = map->n;

    while (lo < hi)
    {
        size_t mid = (lo + hi) / 2;
        if (map->ext[mid].start <= off) lo = mid + 1;
        else hi = mid;
    }
    return (long)lo - 1;
}

int fsmap_range_free(const struct fsmap *map, uint64_t off, uint64_t len)
{
    long i = find(map, off);

    return i >= 0 && map->ext[i].start + map->ext[i].len >= off + len;
}

void fsmap_mask(const struct fsmap *map, uint64_t off, uint8_t *buf, size_t len)
{
    long i = find(map, off);
    size_t k = i < 0 ? 0 : (size_t)i;

    for (; k < map->n && map->ext[k].start < off + len; k++)
    {
        uint64_t a = map->ext[k].start > off ? map->ext[k].start : off;
        uint64_t b = map->ext[k].start + map->ext[k].len < off + len ? map->ext[k].start + map->ext[k].len : off + len;
        if (a < b) memset(buf + (a - off), 0, (size_t)(b - a));
    }
}

void fsmap_account(struct fsmap *map, uint64_t off, uint64_t len)
{
    unsigned i;

    for (i = 0; i < map->nreports; i++)
    {
        struct vdsshim_fs_report *r = &map->reports[i];
        uint64_t a = r->offset > off ? r->offset : off;
        uint64_t b = r->offset + r->size < off + len ? r->offset + r->size : off + len;
        if (r->used && a < b) r->reclaimed += b - a;
    }
}

void vdsshim_fs_report_text(const struct vdsshim_fs_report *r, char *buf, size_t len)
{
    if (r->used)
        snprintf(buf, len, "%s: %s, %llu bytes free, %llu reclaimed", r->volume, r->fs,
                 (unsigned long long)r->free_bytes, (unsigned long long)r->reclaimed);
    else
        snprintf(buf, len, "%s: %s, offline mode: %s", r->volume, r->fs, r->reason);
}
