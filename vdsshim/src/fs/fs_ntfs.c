/*
 * NTFS free space (formats.md §6): the boot sector, MFT record 6 ($Bitmap)
 * with its update-sequence fixups, the runlist of its unnamed $DATA
 * attribute, and the bitmap (a clear bit is a free cluster). Record 3
 * ($Volume) must not say "dirty", and record 2 ($LogFile) must say the
 * volume was closed cleanly: Windows does not set the dirty flag when it
 * crashes or hibernates (fast startup), only its journal tells, and a
 * journal still to be replayed may allocate clusters the bitmap calls free.
 * An $ATTRIBUTE_LIST on $Bitmap, a sparse run, a torn record or anything out
 * of range falls back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

#define ATTR_LIST 0x20u
#define ATTR_VOLUME_INFO 0x70u
#define ATTR_DATA 0x80u
#define ATTR_END 0xffffffffu
/* Update sequences protect every 512 bytes of a record or log page, whatever
 * the sector size (NTFS_BLOCK_SIZE; a 4096-byte record has 8 strides). */
#define USA_STRIDE 512u
/* $LogFile restart area: no client, or the clean flag, means nothing to replay. */
#define LOG_NO_CLIENT 0xffffu
#define LOG_VOLUME_IS_CLEAN 0x2u

struct ntfs
{
    const struct fs_volume *vol;
    uint32_t bps, cluster, record;
    uint64_t mft, clusters;
};

/* Undo the update-sequence fixups of a multi-sector structure of len bytes. */
static int apply_fixups(uint8_t *p, uint32_t len)
{
    uint32_t usa = get_le16(p + 4), count = get_le16(p + 6), i;

    if (count < 2 || usa + 2 * count > len || (count - 1) * USA_STRIDE != len) return -1;
    for (i = 1; i < count; i++)
    {
        uint8_t *end = p + i * USA_STRIDE - 2;
        if (memcmp(end, p + usa, 2)) return (int)i;
        memcpy(end, p + usa + 2 * i, 2);
    }
    return 0;
}

/* Read MFT record n (in the MFT's first extent) and undo its fixups. */
static int read_record(const struct ntfs *n, uint32_t index, uint8_t *rec, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    int st, bad;

    if ((st = fs_read(n->vol, n->mft * n->cluster + (uint64_t)index * n->record, rec, n->record, &diag)))
        return fs_fall_back(r, st, "MFT record %u: %s", index, diag.msg);
    if (memcmp(rec, "FILE", 4)) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u has no FILE signature", index);
    if ((bad = apply_fixups(rec, n->record)) < 0)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u's update sequence is invalid", index);
    if (bad) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u is torn (stride %d)", index, bad - 1);
    if (!(get_le16(rec + 22) & 1)) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "MFT record %u is not in use", index);
    return VDSSHIM_OK;
}

/* The first attribute of a type (unnamed), or NULL; an attribute list is reported. */
static const uint8_t *find_attr(const struct ntfs *n, const uint8_t *rec, uint32_t type, int *has_list)
{
    uint32_t off = get_le16(rec + 20);

    *has_list = 0;
    while (off + 16 <= n->record)
    {
        uint32_t t = get_le32(rec + off), len = get_le32(rec + off + 4);

        /* len against what is left: off + len wraps for a length near 4 GiB, and
         * the walk never ended (found by fuzz_fs_maps). */
        if (t == ATTR_END || len < 16 || len > n->record - off) break;
        if (t == ATTR_LIST) *has_list = 1;
        if (t == type && !rec[off + 9]) return rec + off;
        off += len;
    }
    return NULL;
}

/*
 * Read the first len bytes of a non-resident attribute's data through its
 * runlist (header nibbles: length bytes low, offset bytes high; the offset is
 * a signed delta from the previous run's cluster). A sparse run falls back.
 */
static int read_runs(const struct ntfs *n, const uint8_t *a, uint8_t *buf, uint64_t len, const char *what,
                     struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    const uint8_t *run = a + get_le16(a + 32), *end = a + get_le32(a + 4);
    uint64_t lcn = 0, done = 0;
    int st;

    if (run >= end) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%s's runlist lies outside its attribute", what);
    while (done < len && run < end && *run)
    {
        unsigned lb = *run & 15, ob = *run >> 4, k;
        uint64_t count = 0, bytes;
        int64_t delta = 0;

        if (!lb || lb > 8 || ob > 8 || run + 1 + lb + ob > end)
            return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%s's runlist is malformed", what);
        if (!ob) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "%s has a sparse run", what);
        for (k = 0; k < lb; k++) count |= (uint64_t)run[1 + k] << (8 * k);
        for (k = 0; k < ob; k++) delta |= (int64_t)((uint64_t)run[1 + lb + k] << (8 * k));
        if (run[lb + ob] & 0x80 && ob < 8) delta -= (int64_t)1 << (8 * ob);     /* sign-extend */
        lcn += (uint64_t)delta;
        if (!count || lcn >= n->clusters || count > n->clusters - lcn)
            return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%s's run at cluster %llu leaves the volume", what,
                             (unsigned long long)lcn);
        bytes = count * n->cluster < len - done ? count * n->cluster : len - done;
        if ((st = fs_read(n->vol, lcn * n->cluster, buf + done, (size_t)bytes, &diag)))
            return fs_fall_back(r, st, "%s: %s", what, diag.msg);
        done += bytes;
        run += 1 + lb + ob;
    }
    if (done < len)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%s's runs cover %llu of the %llu bytes needed", what,
                         (unsigned long long)done, (unsigned long long)len);
    return VDSSHIM_OK;
}

/* The unnamed $DATA of a system file: non-resident, in its base record alone. */
static int find_data(const struct ntfs *n, const uint8_t *rec, const char *what, const uint8_t **attr,
                     struct vdsshim_fs_report *r)
{
    int list;

    *attr = find_attr(n, rec, ATTR_DATA, &list);
    if (list) return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "%s has an $ATTRIBUTE_LIST", what);
    if (!*attr || !(*attr)[8] || get_le32(*attr + 4) < 64)
        return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "%s's data is missing or resident", what);
    return VDSSHIM_OK;
}

/*
 * Is there nothing in $LogFile to replay? Its two restart pages ("RSTR", the
 * newer one by current LSN counts) say so with no client in use or the
 * clean flag, the way ntfs-3g decides whether it may mount. A log wiped to
 * 0xff (mkntfs, ntfs-3g after a clean unmount) has nothing either. Anything
 * else, "CHKD" included, is not understood and falls back.
 */
static int check_logfile(const struct ntfs *n, uint8_t *rec, struct vdsshim_fs_report *r)
{
    const uint32_t max_page = 65536;
    const uint8_t *a;
    uint8_t *log = NULL;
    uint64_t best_lsn = 0, size;
    uint32_t page = 4096, k;
    int st, found = 0, clean = 0, blank = 1;

    if ((st = read_record(n, 2, rec, r))) return st;
    if ((st = find_data(n, rec, "$LogFile", &a, r))) return st;
    size = get_le64(a + 48);
    if (size < 2 * 4096) return fs_fall_back(r, VDSSHIM_E_CORRUPT, "$LogFile is only %llu bytes", (unsigned long long)size);
    if (!(log = malloc(2 * max_page))) return VDSSHIM_E_NOMEM;
    /* Both restart pages, 4 KiB each unless the first says they are larger. */
    if ((st = read_runs(n, a, log, 2 * 4096, "$LogFile", r))) goto done;
    if (!memcmp(log, "RSTR", 4) && get_le32(log + 16) != 4096)
    {
        page = get_le32(log + 16);
        if (page < 4096 || page > max_page || (page & (page - 1)) || 2ull * page > size)
        {
            st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "$LogFile's restart page size %u is not understood", page);
            goto done;
        }
        if ((st = read_runs(n, a, log, 2ull * page, "$LogFile", r))) goto done;
    }
    for (k = 0; k < 2 * page; k++)
        if (log[k] != 0xff) blank = 0;
    for (k = 0; k < 2 && !blank; k++)
    {
        uint8_t *p = log + (size_t)k * page;
        uint32_t ra;

        if (!memcmp(p, "CHKD", 4))
        {
            st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "$LogFile was marked by chkdsk: run chkdsk on Windows first");
            goto done;
        }
        if (memcmp(p, "RSTR", 4) || get_le32(p + 16) != page || apply_fixups(p, page)) continue;
        ra = get_le16(p + 24);
        if (ra < 30 || ra + 48 > page) continue;
        if (!found || get_le64(p + ra) > best_lsn)
        {
            best_lsn = get_le64(p + ra);
            clean = get_le16(p + ra + 12) == LOG_NO_CLIENT || (get_le16(p + ra + 14) & LOG_VOLUME_IS_CLEAN);
        }
        found = 1;
    }
    if (blank) st = VDSSHIM_OK;
    else if (!found) st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "$LogFile has no valid restart page");
    else if (!clean)
        st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED,
                       "$LogFile needs replaying (not shut down cleanly, or hibernated): boot Windows or run chkdsk");
done:
    free(log);
    return st;
}

int fs_ntfs_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct ntfs n = { vol, 0, 0, 0, 0, 0 };
    uint8_t bs[512], *rec = NULL, *bitmap = NULL;
    const uint8_t *a;
    uint64_t size, i, wide;
    int8_t cpr;
    int list, st;

    if ((st = fs_read(vol, 0, bs, sizeof(bs), &diag)) || memcmp(bs + 3, "NTFS    ", 8))
        return st && st != VDSSHIM_E_CORRUPT ? st : VDSSHIM_E_UNKNOWN_FORMAT;
    strcpy(r->fs, "NTFS");
    n.bps = get_le16(bs + 11);
    if (n.bps < 256 || n.bps > 4096 || (n.bps & (n.bps - 1)))
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "%u bytes per sector", n.bps);
    /* Above 0x80 the byte is a negative power of two of *sectors* (0xf4: 2^12
     * sectors, 2 MiB with 512-byte sectors), for clusters over 64 KiB. */
    wide = bs[13] <= 0x80 ? (uint64_t)n.bps * bs[13] : 256 - bs[13] <= 21 ? (uint64_t)n.bps << (256 - bs[13]) : 0;
    n.cluster = wide <= (2u << 20) ? (uint32_t)wide : 0;
    if (!n.cluster || n.cluster < n.bps)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "cluster size byte 0x%02x", bs[13]);
    cpr = (int8_t)bs[64];
    n.record = cpr > 0 ? (uint32_t)cpr * n.cluster : cpr < 0 && cpr > -32 ? 1u << -cpr : 0;
    n.mft = get_le64(bs + 48);
    n.clusters = get_le64(bs + 40) * n.bps / n.cluster;
    if (n.record < 512 || n.record > 65536 || n.clusters * n.cluster > vol->size || n.mft >= n.clusters)
        return fs_fall_back(r, VDSSHIM_E_CORRUPT, "the boot sector's geometry does not fit the volume");
    if (!(rec = malloc(n.record))) return VDSSHIM_E_NOMEM;

    /* $Volume: a dirty volume is not mapped. */
    if ((st = read_record(&n, 3, rec, r))) goto done;
    /* Resident value: offset and length inside the attribute (found by fuzz_fs_maps). */
    if ((a = find_attr(&n, rec, ATTR_VOLUME_INFO, &list)) && !a[8] && get_le32(a + 4) >= 24 && get_le32(a + 16) >= 12
        && (uint32_t)get_le16(a + 20) + 12 <= get_le32(a + 4) && (get_le16(a + get_le16(a + 20) + 10) & 1))
    {
        st = fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the volume is marked dirty: run chkdsk first");
        goto done;
    }
    if ((st = check_logfile(&n, rec, r))) goto done;

    if ((st = read_record(&n, 6, rec, r))) goto done;
    if ((st = find_data(&n, rec, "$Bitmap", &a, r))) goto done;
    size = get_le64(a + 48);
    if (size < (n.clusters + 7) / 8 || size > 256u << 20)
    {
        st = fs_fall_back(r, VDSSHIM_E_CORRUPT, "$Bitmap is %llu bytes for %llu clusters", (unsigned long long)size,
                       (unsigned long long)n.clusters);
        goto done;
    }
    if (!(bitmap = malloc((size_t)size)))
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    if ((st = read_runs(&n, a, bitmap, size, "$Bitmap", r))) goto done;
    for (i = 0; i < n.clusters && !st;)
    {
        uint64_t len = 0;

        while (i + len < n.clusters && !(bitmap[(i + len) >> 3] & (1u << ((i + len) & 7)))) len++;
        if (len)
        {
            st = fsmap_add_free(map, vol, i * n.cluster, len * n.cluster, r);
            i += len;
        }
        else
            i++;
    }
done:
    free(rec);
    free(bitmap);
    return st;
}
