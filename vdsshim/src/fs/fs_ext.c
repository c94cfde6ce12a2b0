/*
 * ext2/3/4 free space (formats.md §6): the superblock, the group descriptors
 * (32 or 64 bytes, 64-bit block numbers), and each group's block bitmap.
 * Clusters (bigalloc) are the bitmap's unit. Conservative everywhere: a group
 * whose bitmap is uninitialised (BLOCK_UNINIT) contributes nothing, and a
 * journal that needs recovery, an unclean or erroneous volume, META_BG, an
 * unknown incompatible feature, a bitmap that fails its checksum
 * (metadata_csum) or whose free count disagrees with its descriptor makes
 * the whole volume fall back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fsmap.h"

#define EXT_MAGIC 0xef53u
#define INCOMPAT_RECOVER 0x4u
#define INCOMPAT_JOURNAL_DEV 0x8u
#define INCOMPAT_META_BG 0x10u
#define INCOMPAT_64BIT 0x80u
#define INCOMPAT_EXTENTS 0x40u
#define INCOMPAT_FLEX_BG 0x200u
#define INCOMPAT_CSUM_SEED 0x2000u
/* Features that change nothing about where free blocks are. */
#define INCOMPAT_KNOWN (0x1u | 0x2u | INCOMPAT_EXTENTS | INCOMPAT_64BIT | 0x100u /* MMP */ | INCOMPAT_FLEX_BG \
                        | 0x400u /* EA_INODE */ | 0x1000u | INCOMPAT_CSUM_SEED | 0x4000u | 0x8000u | 0x10000u | 0x20000u)
#define RO_COMPAT_BIGALLOC 0x200u
#define RO_COMPAT_METADATA_CSUM 0x400u
#define BG_BLOCK_UNINIT 0x2u

/* What the superblock says about where blocks are and how they are counted. */
struct ext_geometry
{
    uint32_t bs;                /* block size */
    uint32_t cluster_bits;      /* log2 blocks per cluster (bigalloc), else 0 */
    uint32_t cpg;               /* clusters per group */
    uint32_t desc_size;         /* group descriptor size */
    uint32_t first;             /* first data block */
    uint32_t groups;
    uint64_t blocks;            /* blocks in the volume */
    uint64_t cluster;           /* cluster size in bytes */
    int csum;                   /* metadata_csum: bitmaps carry checksums */
    uint32_t csum_seed;
};

/* The superblock, checked: anything not understood falls back (with the
 * reason in r), anything not an ext2/3/4 is VDSSHIM_E_UNKNOWN_FORMAT. */
static int read_superblock(const struct fs_volume *vol, struct vdsshim_fs_report *r, struct ext_geometry *g)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t sb[1024];
    uint32_t incompat, ro_compat, log_bs;
    int st;

    if (vol->size < 2048) return VDSSHIM_E_UNKNOWN_FORMAT;
    if ((st = fs_read(vol, 1024, sb, sizeof(sb), &diag))) return st == VDSSHIM_E_CORRUPT ? VDSSHIM_E_UNKNOWN_FORMAT : st;
    if (get_le16(sb + 56) != EXT_MAGIC) return VDSSHIM_E_UNKNOWN_FORMAT;

    incompat = get_le32(sb + 96);
    ro_compat = get_le32(sb + 100);
    snprintf(r->fs, sizeof(r->fs), "%s", (incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG)) ? "ext4"
                                         : (get_le32(sb + 92) & 0x4u) ? "ext3" : "ext2");
    if (incompat & INCOMPAT_RECOVER) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the journal needs recovery");
    if (incompat & INCOMPAT_JOURNAL_DEV) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "an external journal device");
    if (incompat & INCOMPAT_META_BG) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "META_BG group descriptors");
    if (incompat & ~INCOMPAT_KNOWN)
        return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "unknown incompatible features %#x", incompat & ~INCOMPAT_KNOWN);
    if (!(get_le16(sb + 58) & 1) || (get_le16(sb + 58) & 2))
        return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the volume is not clean (state %#x): run fsck first",
                         get_le16(sb + 58));

    log_bs = get_le32(sb + 24);
    if (log_bs > 6) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "block size 2^%u KiB", log_bs);
    g->bs = 1024u << log_bs;
    g->cluster_bits = (ro_compat & RO_COMPAT_BIGALLOC) ? get_le32(sb + 28) - log_bs : 0;
    if (g->cluster_bits > 16) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "cluster size 2^%u blocks", g->cluster_bits);
    g->cpg = (ro_compat & RO_COMPAT_BIGALLOC) ? get_le32(sb + 36) : get_le32(sb + 32);
    g->blocks = get_le32(sb + 4) | ((incompat & INCOMPAT_64BIT) ? (uint64_t)get_le32(sb + 336) << 32 : 0);
    g->first = get_le32(sb + 20);
    g->desc_size = (incompat & INCOMPAT_64BIT) ? get_le16(sb + 254) : 32;
    if (!g->cpg || g->cpg > 8u * g->bs || g->first >= g->blocks || g->blocks > vol->size / g->bs
        || g->desc_size < 32 || g->desc_size > g->bs || (g->desc_size & (g->desc_size - 1)))
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "superblock geometry is inconsistent (%llu blocks of %u bytes, %u per group)",
                         (unsigned long long)g->blocks, g->bs, g->cpg);
    /* metadata_csum: crc32c as the kernel computes it (seeded, not inverted),
     * from the UUID at 0x68 or the stored seed at 0x270. The engine's crc32c
     * inverts on entry and exit: raw(s, d) == ~crc32c_update(~s, d). */
    g->csum = !!(ro_compat & RO_COMPAT_METADATA_CSUM);
    g->csum_seed = !g->csum ? 0 : (incompat & INCOMPAT_CSUM_SEED) ? get_le32(sb + 0x270) : ~crc32c(sb + 0x68, 16);
    g->cluster = (uint64_t)g->bs << g->cluster_bits;
    g->groups = (uint32_t)(((g->blocks - g->first + ((uint64_t)g->cpg << g->cluster_bits) - 1) >> g->cluster_bits)
                           / g->cpg);
    if (!g->groups || (uint64_t)g->groups * g->desc_size > 64ull << 20)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%u block groups", g->groups);
    return VDSSHIM_OK;
}

/* Group gi's free clusters, from its block bitmap (read into bitmap, g->bs
 * bytes), checked against its checksum and its descriptor d's free count. */
static int map_group(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r,
                     const struct ext_geometry *g, uint32_t gi, const uint8_t *d, uint8_t *bitmap)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint64_t bitmap_block = get_le32(d) | (g->desc_size >= 64 ? (uint64_t)get_le32(d + 32) << 32 : 0);
    uint32_t free_count = get_le16(d + 12) | (g->desc_size >= 64 ? (uint32_t)get_le16(d + 44) << 16 : 0);
    uint32_t counted = 0, i;
    uint64_t base = (uint64_t)gi * g->cpg;      /* first cluster of the group, from first_data_block */
    int st = VDSSHIM_OK;

    if (get_le16(d + 18) & BG_BLOCK_UNINIT) return VDSSHIM_OK;      /* no bitmap to trust: nothing free */
    if (!bitmap_block || bitmap_block >= g->blocks)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u's block bitmap is at block %llu", gi,
                            (unsigned long long)bitmap_block);
    if ((st = fs_read(vol, bitmap_block * g->bs, bitmap, g->bs, &diag)))
        return fs_fall_back(r, st, "group %u's bitmap: %s", gi, diag.msg);
    if (g->csum)
    {
        uint32_t want = get_le16(d + 24) | (g->desc_size >= 64 ? (uint32_t)get_le16(d + 56) << 16 : 0);
        uint32_t got = ~crc32c_update(~g->csum_seed, bitmap, g->cpg / 8);

        if (g->desc_size < 64) got &= 0xffff;
        if (got != want) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u's block bitmap fails its checksum", gi);
    }
    for (i = 0; i < g->cpg && !st; i++)
    {
        uint64_t block = g->first + ((base + i) << g->cluster_bits);
        uint32_t run = 0;

        if (block >= g->blocks) break;
        /* A run of clear bits: free clusters, whole ones inside the volume only. */
        while (i + run < g->cpg && !(bitmap[(i + run) >> 3] & (1u << ((i + run) & 7)))
               && g->first + ((base + i + run + 1) << g->cluster_bits) <= g->blocks)
            run++;
        if (run)
        {
            counted += run;
            st = fsmap_add_free(map, vol, block * g->bs, (uint64_t)run * g->cluster, r);
            i += run - 1;
        }
    }
    if (!st && counted != free_count)
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u: the bitmap has %u free clusters, its descriptor says %u",
                          gi, counted, free_count);
    return st;
}

int fs_ext_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct ext_geometry g = { 0 };
    uint8_t *gdt = NULL, *bitmap = NULL;
    uint32_t gi;
    int st;

    if ((st = read_superblock(vol, r, &g))) return st;
    /* The descriptors follow the superblock's block. */
    gdt = malloc((size_t)g.groups * g.desc_size);
    bitmap = malloc(g.bs);
    if (!gdt || !bitmap) st = VDSSHIM_E_NOMEM;
    else if ((st = fs_read(vol, (uint64_t)(g.first + 1) * g.bs, gdt, (size_t)g.groups * g.desc_size, &diag)))
        st = fs_fall_back(r, st == VDSSHIM_E_IO ? st : VDSSHIM_E_CORRUPT, "group descriptors: %s", diag.msg);
    for (gi = 0; gi < g.groups && !st; gi++)
        st = map_group(vol, map, r, &g, gi, gdt + (size_t)gi * g.desc_size, bitmap);
    free(gdt);
    free(bitmap);
    return st;
}
