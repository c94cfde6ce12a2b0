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

int fs_ext_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t sb[1024], *gdt = NULL, *bitmap = NULL;
    uint32_t incompat, ro_compat, log_bs, bs, cluster_bits, cpg, desc_size, first, groups, g;
    uint32_t csum_seed = 0;
    uint64_t blocks, cluster;
    int st, csum;

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
    bs = 1024u << log_bs;
    cluster_bits = (ro_compat & RO_COMPAT_BIGALLOC) ? get_le32(sb + 28) - log_bs : 0;
    if (cluster_bits > 16) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "cluster size 2^%u blocks", cluster_bits);
    cpg = (ro_compat & RO_COMPAT_BIGALLOC) ? get_le32(sb + 36) : get_le32(sb + 32);
    blocks = get_le32(sb + 4) | ((incompat & INCOMPAT_64BIT) ? (uint64_t)get_le32(sb + 336) << 32 : 0);
    first = get_le32(sb + 20);
    desc_size = (incompat & INCOMPAT_64BIT) ? get_le16(sb + 254) : 32;
    if (!cpg || cpg > 8u * bs || first >= blocks || blocks > vol->size / bs
        || desc_size < 32 || desc_size > bs || (desc_size & (desc_size - 1)))
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "superblock geometry is inconsistent (%llu blocks of %u bytes, %u per group)",
                         (unsigned long long)blocks, bs, cpg);
    /* metadata_csum: crc32c as the kernel computes it (seeded, not inverted),
     * from the UUID at 0x68 or the stored seed at 0x270. The engine's crc32c
     * inverts on entry and exit: raw(s, d) == ~crc32c_update(~s, d). */
    csum = !!(ro_compat & RO_COMPAT_METADATA_CSUM);
    if (csum) csum_seed = (incompat & INCOMPAT_CSUM_SEED) ? get_le32(sb + 0x270) : ~crc32c(sb + 0x68, 16);
    cluster = (uint64_t)bs << cluster_bits;
    groups = (uint32_t)(((blocks - first + ((uint64_t)cpg << cluster_bits) - 1) >> cluster_bits) / cpg);
    if (!groups || (uint64_t)groups * desc_size > 64ull << 20)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%u block groups", groups);

    /* The descriptors follow the superblock's block. */
    gdt = malloc((size_t)groups * desc_size);
    bitmap = malloc(bs);
    if (!gdt || !bitmap)
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    if ((st = fs_read(vol, (uint64_t)(first + 1) * bs, gdt, (size_t)groups * desc_size, &diag)))
    {
        st = fs_fall_back(r, st == VDSSHIM_E_IO ? st : VDSSHIM_E_CORRUPT, "group descriptors: %s", diag.msg);
        goto done;
    }
    for (g = 0; g < groups && !st; g++)
    {
        const uint8_t *d = gdt + (size_t)g * desc_size;
        uint64_t bitmap_block = get_le32(d) | (desc_size >= 64 ? (uint64_t)get_le32(d + 32) << 32 : 0);
        uint32_t free_count = get_le16(d + 12) | (desc_size >= 64 ? (uint32_t)get_le16(d + 44) << 16 : 0);
        uint32_t counted = 0, i;
        uint64_t base = (uint64_t)g * cpg;      /* first cluster of the group, from first_data_block */

        if (get_le16(d + 18) & BG_BLOCK_UNINIT) continue;       /* no bitmap to trust: nothing free */
        if (!bitmap_block || bitmap_block >= blocks)
        {
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u's block bitmap is at block %llu", g,
                           (unsigned long long)bitmap_block);
            break;
        }
        if ((st = fs_read(vol, bitmap_block * bs, bitmap, bs, &diag)))
        {
            st = fs_fall_back(r, st, "group %u's bitmap: %s", g, diag.msg);
            break;
        }
        if (csum)
        {
            uint32_t want = get_le16(d + 24) | (desc_size >= 64 ? (uint32_t)get_le16(d + 56) << 16 : 0);
            uint32_t got = ~crc32c_update(~csum_seed, bitmap, cpg / 8);

            if (desc_size < 64) got &= 0xffff;
            if (got != want)
            {
                st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u's block bitmap fails its checksum", g);
                break;
            }
        }
        for (i = 0; i < cpg && !st; i++)
        {
            uint64_t block = first + ((base + i) << cluster_bits);
            uint32_t run = 0;

            if (block >= blocks) break;
            /* A run of clear bits: free clusters, whole ones inside the volume only. */
            while (i + run < cpg && !(bitmap[(i + run) >> 3] & (1u << ((i + run) & 7)))
                   && first + ((base + i + run + 1) << cluster_bits) <= blocks)
                run++;
            if (run)
            {
                counted += run;
                st = fsmap_add_free(map, vol, block * bs, (uint64_t)run * cluster, r);
                i += run - 1;
            }
        }
        if (!st && counted != free_count)
            st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "group %u: the bitmap has %u free clusters, its descriptor says %u",
                           g, counted, free_count);
    }
done:
    free(gdt);
    free(bitmap);
    return st;
}
