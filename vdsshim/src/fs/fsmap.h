/*
 * Filesystem-aware compaction: where the guest's file systems have free
 * space, read through the virtual disk (the merged view of a chain).
 * formats.md §6. Anything not understood is left out of the map, with the
 * reason reported: the map only ever under-states free space.
 */
#ifndef VDSSHIM_FSMAP_H
#define VDSSHIM_FSMAP_H

#include "../diag.h"
#include "../endian.h"
#include "../image.h"

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
    /* Where report i's reclaimed bytes are counted: NULL for its contiguous
     * [offset, offset + size); an LVM2 LV's extents or a PV's free ones else. */
    struct fs_extent *report_ranges[VDSSHIM_MAX_FS_REPORTS];
    size_t report_nranges[VDSSHIM_MAX_FS_REPORTS];
};

/* A piece of a volume that is not one contiguous range of the disk (an LVM2
 * logical volume's segments): volume bytes [vol_off, vol_off + len) are the
 * disk's bytes from disk_off. */
struct fs_segment
{
    uint64_t vol_off, disk_off, len;
};

/* A volume to look at: one partition, the whole disk, or an LVM2 LV. */
struct fs_volume
{
    struct vdsshim_image *img;
    uint64_t offset, size;          /* bytes of the virtual disk (offset: of the first segment) */
    uint32_t sector;                /* the disk's logical sector size */
    const struct fs_segment *seg;   /* NULL: the volume is [offset, offset + size) of the disk */
    size_t nseg;                    /* sorted by vol_off, covering [0, size) without gaps */
};

/* Read inside the volume; VDSSHIM_E_CORRUPT if the range leaves it. */
int fs_read(const struct fs_volume *vol, uint64_t off, void *buf, size_t len, struct vdsshim_diag *diag);

/* A new report named volume at [offset, offset + size), fs "unknown"; NULL
 * when VDSSHIM_MAX_FS_REPORTS are taken. */
struct vdsshim_fs_report *fsmap_new_report(struct fsmap *map, const char *volume, uint64_t offset, uint64_t size);
/* Count report r's reclaimed bytes only inside these disk ranges (copied). */
int fsmap_report_ranges(struct fsmap *map, const struct vdsshim_fs_report *r, const struct fs_extent *ranges,
                        size_t n);
/* Give vol to the file-system recognisers: its free ranges go into the map,
 * or none of them and the reason into r. VDSSHIM_OK unless memory or I/O
 * failed (the whole map then fails). */
int fsmap_map_volume(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);

/* LVM2 (fs_lvm.c): every physical volume among parts (is_pv[i] set by
 * lvm_find_label), their volume groups' logical volumes mapped through
 * fsmap_map_volume, and the PVs' unallocated extents free. */
int lvm_find_label(const struct fs_volume *vol, int *found, struct vdsshim_diag *diag);

/* Each recogniser: VDSSHIM_OK with free ranges added (volume-relative offsets
 * through fsmap_add_free), or a status and a reason for falling back. */
int fs_ext_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_fat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_exfat_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_ntfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_swap_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
int fs_xfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r);
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
int lvm_map_all(struct vdsshim_image *img, const struct partition *parts, const int *is_pv, unsigned nparts,
                struct fsmap *map, struct vdsshim_diag *diag);
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
