/*
 * The free-space map of a virtual disk: partitions, then each volume's file
 * system. Free ranges are virtual-disk byte ranges, sorted and merged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

/* The segment of vol holding volume offset off (segments cover the volume). */
static const struct fs_segment *segment_at(const struct fs_volume *vol, uint64_t off)
{
    size_t lo = 0, hi = vol->nseg;

    while (hi - lo > 1)
    {
        size_t mid = (lo + hi) / 2;
        if (vol->seg[mid].vol_off <= off) lo = mid;
        else hi = mid;
    }
    return &vol->seg[lo];
}

int fs_read(const struct fs_volume *vol, uint64_t off, void *buf, size_t len, struct vdsshim_diag *diag)
{
    uint8_t *p = buf;

    if (off > vol->size || len > vol->size - off)
        return diag_set(diag, VDSSHIM_E_CORRUPT, 0, "a structure at volume offset %llu lies past the volume's end",
                        (unsigned long long)off);
    if (!vol->seg) return vdsshim_read(vol->img, vol->offset + off, buf, len, diag);
    while (len)
    {
        const struct fs_segment *s = segment_at(vol, off);
        uint64_t in = off - s->vol_off;
        size_t n = s->len - in < len ? (size_t)(s->len - in) : len;
        int st = vdsshim_read(vol->img, s->disk_off + in, p, n, diag);

        if (st) return st;
        p += n;
        off += n;
        len -= n;
    }
    return VDSSHIM_OK;
}

/* Append disk range [start, start + len), merged with the last one when adjacent. */
static int add_disk_range(struct fsmap *map, uint64_t start, uint64_t len)
{
    struct fs_extent *e;

    if (map->n && map->ext[map->n - 1].start + map->ext[map->n - 1].len == start)
    {
        map->ext[map->n - 1].len += len;
        return VDSSHIM_OK;
    }
    if (map->n == map->cap)
    {
        size_t cap = map->cap ? map->cap * 2 : 256;
        if (!(e = realloc(map->ext, cap * sizeof(*e)))) return VDSSHIM_E_NOMEM;
        map->ext = e;
        map->cap = cap;
    }
    map->ext[map->n].start = start;
    map->ext[map->n].len = len;
    map->n++;
    return VDSSHIM_OK;
}

int fsmap_add_free(struct fsmap *map, const struct fs_volume *vol, uint64_t off, uint64_t len,
                   struct vdsshim_fs_report *r)
{
    uint64_t left = len;
    int st;

    if (!len) return VDSSHIM_OK;
    if (off > vol->size || len > vol->size - off) return VDSSHIM_E_CORRUPT;
    if (!vol->seg) st = add_disk_range(map, vol->offset + off, len);
    else
        for (st = VDSSHIM_OK; left && !st;)
        {
            const struct fs_segment *s = segment_at(vol, off);
            uint64_t in = off - s->vol_off, n = s->len - in < left ? s->len - in : left;

            st = add_disk_range(map, s->disk_off + in, n);
            off += n;
            left -= n;
        }
    if (!st) r->free_bytes += len;
    return st;
}

struct vdsshim_fs_report *fsmap_new_report(struct fsmap *map, const char *volume, uint64_t offset, uint64_t size)
{
    struct vdsshim_fs_report *r;

    if (map->nreports >= VDSSHIM_MAX_FS_REPORTS) return NULL;
    r = &map->reports[map->nreports++];
    memset(r, 0, sizeof(*r));
    snprintf(r->volume, sizeof(r->volume), "%s", volume);
    strcpy(r->fs, "unknown");
    r->offset = offset;
    r->size = size;
    return r;
}

int fsmap_report_ranges(struct fsmap *map, const struct vdsshim_fs_report *r, const struct fs_extent *ranges,
                        size_t n)
{
    size_t i = (size_t)(r - map->reports);

    free(map->report_ranges[i]);
    map->report_ranges[i] = NULL;
    map->report_nranges[i] = 0;
    /* An empty list still replaces the contiguous range: nothing of r counts. */
    if (!(map->report_ranges[i] = malloc((n ? n : 1) * sizeof(*ranges)))) return VDSSHIM_E_NOMEM;
    if (n) memcpy(map->report_ranges[i], ranges, n * sizeof(*ranges));
    map->report_nranges[i] = n;
    return VDSSHIM_OK;
}

int fsmap_map_volume(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    /* What to undo on a fall-back: the extents appended, and a merge into the last one. */
    size_t before = map->n;
    uint64_t last_len = map->n ? map->ext[map->n - 1].len : 0;
    int st;

    /* Each recogniser says "not mine" (UNKNOWN_FORMAT) or takes the volume. */
    st = fs_ext_map(vol, map, r);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_xfs_map(vol, map, r);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_ntfs_map(vol, map, r);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_exfat_map(vol, map, r);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_fat_map(vol, map, r);
    if (st == VDSSHIM_E_UNKNOWN_FORMAT) st = fs_swap_map(vol, map, r);
    if (st == VDSSHIM_OK)
    {
        r->used = 1;
        return VDSSHIM_OK;
    }
    /* Fall back for this volume: none of its ranges count. */
    map->n = before;
    if (before) map->ext[before - 1].len = last_len;
    r->free_bytes = 0;
    if (st == VDSSHIM_E_NOMEM || st == VDSSHIM_E_IO) return st;
    if (st == VDSSHIM_E_UNKNOWN_FORMAT && !r->reason[0])
        snprintf(r->reason, sizeof(r->reason),
                 "no file system vdsshim maps (NTFS, FAT12/16/32, exFAT, ext2/3/4, XFS, swap, LVM2)");
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
    int is_pv[VDSSHIM_MAX_FS_REPORTS] = { 0 }, lvm_done = 0;
    char reason[120] = "";
    unsigned nparts = 0, i;
    size_t k, out;
    int st;

    memset(map, 0, sizeof(*map));
    if ((st = partitions_find(img, parts, VDSSHIM_MAX_FS_REPORTS, &nparts, reason, sizeof(reason), diag)))
        return st;
    if (!nparts && reason[0])
    {
        struct vdsshim_fs_report *r = fsmap_new_report(map, "whole disk", 0, img->info.virtual_size);
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
    }
    for (i = 0; i < nparts; i++)
    {
        struct fs_volume vol = { img, parts[i].offset, parts[i].size, img->info.logical_sector_size, NULL, 0 };
        if ((st = lvm_find_label(&vol, &is_pv[i], diag))) return st;
    }
    for (i = 0; i < nparts; i++)
    {
        struct fs_volume vol = { img, parts[i].offset, parts[i].size, img->info.logical_sector_size, NULL, 0 };
        struct vdsshim_fs_report *r;

        if (is_pv[i])
        {
            /* All physical volumes at once (a volume group may span several),
             * in the place of the first. */
            if (!lvm_done++ && (st = lvm_map_all(img, parts, is_pv, nparts, map, diag))) return st;
            continue;
        }
        if (!(r = fsmap_new_report(map, parts[i].name, parts[i].offset, parts[i].size))) break;
        st = fsmap_map_volume(&vol, map, r);
        if (st == VDSSHIM_E_NOMEM) return diag_set(diag, st, 0, "out of memory for the free-space map");
        if (st == VDSSHIM_E_IO) return diag_set(diag, st, 0, "reading %s: %s", r->volume, r->reason);
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
    unsigned i;

    for (i = 0; i < VDSSHIM_MAX_FS_REPORTS; i++) free(map->report_ranges[i]);
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
        struct fs_extent whole = { r->offset, r->size };
        const struct fs_extent *e = map->report_ranges[i] ? map->report_ranges[i] : &whole;
        size_t n = map->report_ranges[i] ? map->report_nranges[i] : 1, k;

        for (k = 0; r->used && k < n; k++)
        {
            uint64_t a = e[k].start > off ? e[k].start : off;
            uint64_t b = e[k].start + e[k].len < off + len ? e[k].start + e[k].len : off + len;
            if (a < b) r->reclaimed += b - a;
        }
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
