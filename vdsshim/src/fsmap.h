/*
 * Filesystem-aware compaction: where the guest's file systems have free
 * space, read through the virtual disk (the merged view of a chain).
 * formats.md §6. Anything not understood is left out of the map, with the
 * reason reported: the map only ever under-states free space.
 */
#ifndef VDSSHIM_FSMAP_H
#define VDSSHIM_FSMAP_H

#include "engine.h"

struct fs_extent
{
    uint64_t start, len;            /* virtual-disk bytes */
};

struct fsmap
{
    struct fs_extent *ext;          /* sorted, disjoint, merged */
    size_t n, cap;
    struct vdsshim_fs_report reports[VDSSHIM_MAX_FS_REPORTS];
    unsigned nreports;
};

/* A volume to look at: one partition, or the whole disk. */
struct fs_volume
{
    struct vdsshim_image *img;
    uint64_t offset, size;          /* bytes of the virtual disk */
    uint32_t sector;                /* the disk's logical sector size */
};

/* Read inside the volume; VDSSHIM_E_CORRUPT if the range leaves it. */
int fs_read(const struct fs_volume *vol, uint64_t off, void *buf, size_t len, struct vdsshim_diag *diag);

/* Each recogniser: VDSSHIM_OK with free ranges added (volume-relative offsets
 * through fsmap_add_free), or a status and a reason for falling back. */
int fs_ext_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_fat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_exfat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_ntfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_swap_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fsmap_add_free(struct fsmap *map, const struct fs_volume *vol, uint64_t off, uint64_t len,
                   struct vdsshim_fs_report *r);
/* A recogniser's refusal: the reason into the report, st returned. */
int fs_fall_back(struct vdsshim_fs_report *r, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The partitions of the disk (partitions.c): MBR with extended chains, GPT
 * with its checksums, or the whole disk when it holds a file system itself. */
struct partition
{
    uint64_t offset, size;
    char name[32];                  /* "MBR 1", "MBR 5", "GPT 2", "whole disk" */
};
int partitions_find(struct vdsshim_image *img, struct partition *parts, unsigned max, unsigned *count,
                    char *reason, size_t reason_len, struct vdsshim_diag *diag);

int fsmap_build(struct vdsshim_image *img, struct fsmap *map, struct vdsshim_diag *diag);
void fsmap_free(struct fsmap *map);
/* Is [off, off + len) entirely free? */
int fsmap_range_free(const struct fsmap *map, uint64_t off, uint64_t len);
/* Zero the free parts of buf, which holds [off, off + len) of the disk. */
void fsmap_mask(const struct fsmap *map, uint64_t off, uint8_t *buf, size_t len);
/* A block [off, off + len) was given back: credit the partitions it lies in. */
void fsmap_account(struct fsmap *map, uint64_t off, uint64_t len);

#endif /* VDSSHIM_FSMAP_H */
