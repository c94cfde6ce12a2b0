/*
 * XFS free space (formats.md §6 has none; the layout is the kernel's
 * fs/xfs/libxfs/xfs_format.h, xfs_log_format.h and xfs_da_format.h, checked
 * against volumes Debian's mkfs.xfs makes and xfs_db's "freesp -d" reads).
 * Everything is big-endian; the CRCs (v5) are crc32c with the field taken as
 * zero, stored little-endian.
 *
 * The volume is cut into allocation groups (AGs) of sb_agblocks blocks. The
 * superblock is sector 0 of AG 0; each AG's AGF (sector 1 of the AG) roots
 * the by-block B+tree of its free extents (bnobt, magic ABTB, or AB3B with a
 * CRC, the block's own address, the volume's UUID and the AG as owner). Only
 * the extents in those trees are mapped free: not the AG free list, whose
 * blocks the allocator keeps for its trees. Each AG's records must be sorted,
 * disjoint and inside the AG, and add up to the AGF's free-block count and
 * longest extent.
 *
 * A log that needs recovery would change the trees when the volume is next
 * mounted, so the internal log's head is found (the block where the cycle
 * number written in every 512-byte log block drops) and the last record
 * before it must be an unmount record; anything else falls back, as do an
 * external log, a volume mkfs left unfinished, one marked as needing repair,
 * and unknown incompatible features.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fsmap.h"

#define XFS_SB_MAGIC "XFSB"
#define XFS_AGF_MAGIC "XAGF"
#define XFS_SB_CRC_OFF 224u
#define XFS_AGF_CRC_OFF 216u
#define XFS_BTREE_SBLOCK_CRC_OFF 52u
#define XFS_BTREE_HDR_V4 16u
#define XFS_BTREE_HDR_V5 56u
#define XFS_MAX_LEVELS 9u           /* no short-form tree of an AG is deeper */
/* features_incompat of v5 that change nothing about where free space is kept. */
#define INCOMPAT_FTYPE 0x1u
#define INCOMPAT_SPINODES 0x2u
#define INCOMPAT_META_UUID 0x4u
#define INCOMPAT_BIGTIME 0x8u
#define INCOMPAT_NEEDSREPAIR 0x10u
#define INCOMPAT_NREXT64 0x20u
#define INCOMPAT_KNOWN (INCOMPAT_FTYPE | INCOMPAT_SPINODES | INCOMPAT_META_UUID | INCOMPAT_BIGTIME | INCOMPAT_NREXT64)
/* The log. */
#define XLOG_BB 512u
#define XLOG_MAGIC 0xfeedbabeu
#define XLOG_HEADER_CYCLE_SIZE 32768u
#define XLOG_VERSION_2 2u
#define XLOG_UNMOUNT_TRANS 0x20u
/* A record is at most one log buffer (256 KiB) and its header blocks. */
#define XLOG_MAX_RECORD_BBS (262144u / XLOG_BB + 8u)

struct xfs
{
    const struct fs_volume *vol;
    struct fsmap *map;
    struct vdsshim_fs_report *r;
    struct vdsshim_diag diag;
    int v5;
    uint32_t bs, sectsize, agblocks, agcount;
    uint64_t dblocks;
    uint8_t uuid[16];               /* the one metadata blocks carry (meta_uuid when set) */
    /* The AG being read: its records so far. */
    uint32_t ag, ag_len, next_free; /* next_free: the first block a record may start at */
    uint64_t free_blocks, longest, visited;
};

static int rd(struct xfs *x, uint64_t off, void *buf, size_t len)
{
    int st = fs_read(x->vol, off, buf, len, &x->diag);

    return st ? fs_fall_back(x->r, st == VDSSHIM_E_IO ? st : VDSSHIM_E_CORRUPT, "%s", x->diag.msg) : VDSSHIM_OK;
}

/* A v5 metadata block's CRC, stored little-endian at off. */
static int crc_ok(const uint8_t *p, size_t len, size_t off)
{
    return get_le32(p + off) == crc32c_with_zero_field(p, len, off);
}

/* One bnobt block at AG block agbno, expected at level, and below it. */
static int walk(struct xfs *x, uint32_t agbno, unsigned level)
{
    uint64_t daddr = (uint64_t)x->ag * x->agblocks + agbno;
    uint32_t hdr = x->v5 ? XFS_BTREE_HDR_V5 : XFS_BTREE_HDR_V4, n, i, maxrecs;
    uint8_t *b;
    int st = VDSSHIM_OK;

    if (agbno >= x->ag_len || ++x->visited > x->ag_len)
        return fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: a free-space tree block is at %u", x->ag, agbno);
    if (!(b = malloc(x->bs))) return VDSSHIM_E_NOMEM;
    if ((st = rd(x, daddr * x->bs, b, x->bs))) goto done;
    n = get_be16(b + 6);
    if (memcmp(b, x->v5 ? "AB3B" : "ABTB", 4) || get_be16(b + 4) != level)
        st = fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: block %u is not a free-space tree block of level %u", x->ag,
                          agbno, level);
    else if (x->v5 && (!crc_ok(b, x->bs, XFS_BTREE_SBLOCK_CRC_OFF) || get_be64(b + 16) != daddr * (x->bs / 512)
                       || memcmp(b + 32, x->uuid, 16) || get_be32(b + 48) != x->ag))
        st = fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: free-space tree block %u fails its checksum or owner",
                          x->ag, agbno);
    if (st) goto done;
    if (!level)
    {
        if (n > (x->bs - hdr) / 8)
        {
            st = fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: leaf %u holds %u records", x->ag, agbno, n);
            goto done;
        }
        for (i = 0; i < n && !st; i++)
        {
            uint32_t start = get_be32(b + hdr + 8 * i), len = get_be32(b + hdr + 8 * i + 4);

            if (!len || start < x->next_free || start > x->ag_len || len > x->ag_len - start)
            {
                st = fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: free extent %u+%u is out of order or outside the AG",
                                  x->ag, start, len);
                break;
            }
            x->next_free = start + len;
            x->free_blocks += len;
            if (len > x->longest) x->longest = len;
            st = fsmap_add_free(x->map, x->vol, ((uint64_t)x->ag * x->agblocks + start) * x->bs,
                                (uint64_t)len * x->bs, x->r);
        }
        goto done;
    }
    /* A node: maxrecs keys (8 bytes), then maxrecs pointers (4 bytes). */
    maxrecs = (x->bs - hdr) / 12;
    if (!n || n > maxrecs)
    {
        st = fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u: node %u holds %u pointers", x->ag, agbno, n);
        goto done;
    }
    for (i = 0; i < n && !st; i++) st = walk(x, get_be32(b + hdr + 8 * maxrecs + 4 * i), level - 1);
done:
    free(b);
    return st;
}

static int map_ag(struct xfs *x, uint32_t ag)
{
    uint8_t agf[512];
    uint32_t root, levels;
    int st;

    x->ag = ag;
    x->ag_len = ag + 1 < x->agcount ? x->agblocks : (uint32_t)(x->dblocks - (uint64_t)ag * x->agblocks);
    x->next_free = 0;
    x->free_blocks = x->longest = x->visited = 0;
    if ((st = rd(x, (uint64_t)ag * x->agblocks * x->bs + x->sectsize, agf, sizeof(agf)))) return st;
    if (memcmp(agf, XFS_AGF_MAGIC, 4) || get_be32(agf + 4) != 1 || get_be32(agf + 8) != ag
        || get_be32(agf + 12) != x->ag_len)
        return fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u's AGF is not valid", ag);
    if (x->v5)
    {
        uint8_t *s = malloc(x->sectsize);
        int ok;
        if (!s) return VDSSHIM_E_NOMEM;
        ok = !rd(x, (uint64_t)ag * x->agblocks * x->bs + x->sectsize, s, x->sectsize)
             && crc_ok(s, x->sectsize, XFS_AGF_CRC_OFF) && !memcmp(s + 64, x->uuid, 16);
        free(s);
        if (!ok) return fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u's AGF fails its checksum", ag);
    }
    root = get_be32(agf + 16);
    levels = get_be32(agf + 28);
    if (!levels || levels > XFS_MAX_LEVELS)
        return fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "AG %u's free-space tree has %u levels", ag, levels);
    if ((st = walk(x, root, levels - 1))) return st;
    if (x->free_blocks != get_be32(agf + 52) || x->longest != get_be32(agf + 56))
        return fs_fall_back(x->r, VDSSHIM_E_CORRUPT,
                            "AG %u: the free-space tree holds %llu blocks (longest %llu), the AGF says %u (%u)", ag,
                            (unsigned long long)x->free_blocks, (unsigned long long)x->longest, get_be32(agf + 52),
                            get_be32(agf + 56));
    return VDSSHIM_OK;
}

/* The cycle number of log block bb: its first word, which the log writes
 * over every block it puts down; in a record header, the word after the magic. */
static int log_cycle(struct xfs *x, uint64_t log_off, uint64_t bb, uint32_t *cycle)
{
    uint8_t w[8];
    int st = rd(x, log_off + bb * XLOG_BB, w, sizeof(w));

    *cycle = get_be32(w) == XLOG_MAGIC ? get_be32(w + 4) : get_be32(w);
    return st;
}

/* Was the volume unmounted cleanly? The last record before the head of the
 * internal log must be an unmount record. */
static int log_clean(struct xfs *x, uint64_t logstart, uint32_t logblocks)
{
    uint64_t log_off, nbb, head, lo, hi, rec = 0, k;
    uint32_t first, c, agno, agbno, agblklog = 0, hblks = 1;
    uint8_t h[XLOG_BB], op[XLOG_BB];
    int st;

    /* logstart is an fsblock number: AG << agblklog | block in the AG. */
    while ((1ull << agblklog) < x->agblocks) agblklog++;
    agno = (uint32_t)(logstart >> agblklog);
    agbno = (uint32_t)(logstart & ((1ull << agblklog) - 1));
    log_off = ((uint64_t)agno * x->agblocks + agbno) * x->bs;
    nbb = (uint64_t)logblocks * x->bs / XLOG_BB;
    if (agno >= x->agcount || agbno >= x->agblocks || log_off > x->vol->size || nbb * XLOG_BB > x->vol->size - log_off
        || nbb < 2)
        return fs_fall_back(x->r, VDSSHIM_E_CORRUPT, "the log (%u blocks at %llu) lies outside the volume", logblocks,
                            (unsigned long long)logstart);
    /* Blocks before the head carry the current cycle, those after it the one
     * before: binary search for the first block whose cycle differs. */
    if ((st = log_cycle(x, log_off, 0, &first)) || (st = log_cycle(x, log_off, nbb - 1, &c))) return st;
    if (c == first) head = nbb;     /* the whole log in one cycle: the head is at its end */
    else
    {
        for (lo = 0, hi = nbb - 1; hi - lo > 1;)
        {
            uint64_t mid = lo + (hi - lo) / 2;
            if ((st = log_cycle(x, log_off, mid, &c))) return st;
            if (c == first) lo = mid;
            else hi = mid;
        }
        head = hi;
    }
    /* The last record header before the head: at most one record back. Its
     * header blocks and data must end exactly at the head. */
    for (k = 1; k <= nbb && k <= XLOG_MAX_RECORD_BBS; k++)
    {
        rec = (head + nbb - k) % nbb;
        if ((st = rd(x, log_off + rec * XLOG_BB, h, sizeof(h)))) return st;
        if (get_be32(h) == XLOG_MAGIC) break;
    }
    if (k <= nbb && k <= XLOG_MAX_RECORD_BBS && (get_be32(h + 8) & XLOG_VERSION_2)
        && get_be32(h + 320) > XLOG_HEADER_CYCLE_SIZE)
        hblks = (get_be32(h + 320) + XLOG_HEADER_CYCLE_SIZE - 1) / XLOG_HEADER_CYCLE_SIZE;
    if (k > nbb || k > XLOG_MAX_RECORD_BBS || get_be32(h + 4) != first
        || (rec + hblks + (get_be32(h + 12) + XLOG_BB - 1) / XLOG_BB) % nbb != head % nbb)
        return fs_fall_back(x->r, VDSSHIM_E_UNSUPPORTED, "the log's last record could not be found: run xfs_repair");
    if ((st = rd(x, log_off + (rec + hblks) % nbb * XLOG_BB, op, sizeof(op)))) return st;
    /* One operation, whose header (tid, len, clientid, flags) marks the unmount. */
    if (get_be32(h + 40) != 1 || !(op[9] & XLOG_UNMOUNT_TRANS))
        return fs_fall_back(x->r, VDSSHIM_E_UNSUPPORTED, "the log needs recovery: mount the volume once, or run xfs_repair");
    return VDSSHIM_OK;
}

int fs_xfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct xfs x = { .vol = vol, .map = map, .r = r, .diag = { .msg = { 0 } } };
    uint8_t sb[512];
    uint32_t version, incompat, ag;
    int st;

    if (vol->size < sizeof(sb) || fs_read(vol, 0, sb, sizeof(sb), &x.diag) || memcmp(sb, XFS_SB_MAGIC, 4))
        return VDSSHIM_E_UNKNOWN_FORMAT;
    version = get_be16(sb + 100) & 0xf;
    x.v5 = version == 5;
    snprintf(r->fs, sizeof(r->fs), "XFS v%u", version);
    x.bs = get_be32(sb + 4);
    x.dblocks = get_be64(sb + 8);
    x.agblocks = get_be32(sb + 84);
    x.agcount = get_be32(sb + 88);
    x.sectsize = get_be16(sb + 102);
    if (version != 4 && version != 5) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "XFS version %u", version);
    if (x.bs < 512 || x.bs > 65536 || (x.bs & (x.bs - 1)) || x.sectsize < 512 || x.sectsize > x.bs
        || (x.sectsize & (x.sectsize - 1)) || !x.agblocks || !x.agcount || x.dblocks > vol->size / x.bs
        || (uint64_t)x.agblocks * (x.agcount - 1) >= x.dblocks || (uint64_t)x.agblocks * x.agcount < x.dblocks)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the superblock's geometry is inconsistent (%u AGs of %u blocks of %u)",
                            x.agcount, x.agblocks, x.bs);
    if (sb[126]) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "mkfs.xfs did not finish this volume");
    memcpy(x.uuid, sb + 32, 16);
    if (x.v5)
    {
        uint8_t *s = malloc(x.sectsize);
        int ok;

        if (!s) return VDSSHIM_E_NOMEM;
        ok = !fs_read(vol, 0, s, x.sectsize, &x.diag) && crc_ok(s, x.sectsize, XFS_SB_CRC_OFF);
        free(s);
        if (!ok) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the superblock fails its checksum");
        incompat = get_be32(sb + 216);
        if (incompat & INCOMPAT_NEEDSREPAIR) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "marked as needing xfs_repair");
        if (incompat & ~INCOMPAT_KNOWN)
            return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "unknown incompatible features %#x", incompat & ~INCOMPAT_KNOWN);
        if (get_be32(sb + 220))
            return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "log features %#x in use: the log needs recovery",
                                get_be32(sb + 220));
        if (incompat & INCOMPAT_META_UUID) memcpy(x.uuid, sb + 248, 16);
    }
    if (!get_be64(sb + 48)) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "an external log device");
    if ((st = log_clean(&x, get_be64(sb + 48), get_be32(sb + 96)))) return st;
    for (ag = 0; ag < x.agcount && !st; ag++) st = map_ag(&x, ag);
    return st;
}
