/*
 * Partition tables (formats.md §6): GPT (header and entry array checked by
 * their CRC-32s), MBR with extended/logical chains, or no table at all when
 * the disk starts with a file system (a "superfloppy"). A table that does not
 * check out gives no partitions, with the reason: nothing is then mapped free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"

#define MAX_EBR_CHAIN 128

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), as GPT uses. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++)
    {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = c >> 1 ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static int add(struct partition *parts, unsigned max, unsigned *count, uint64_t offset, uint64_t size,
               uint64_t disk, const char *fmt, unsigned number)
{
    if (!size || offset >= disk || size > disk - offset || *count >= max) return 0;
    parts[*count].offset = offset;
    parts[*count].size = size;
    snprintf(parts[*count].name, sizeof(parts[*count].name), fmt, number);
    (*count)++;
    return 1;
}

/* A boot sector of a file system, not an MBR: FAT, exFAT or NTFS at sector 0. */
static int is_fs_boot_sector(const uint8_t *s)
{
    return (s[0] == 0xeb || s[0] == 0xe9)
        && (!memcmp(s + 3, "NTFS    ", 8) || !memcmp(s + 3, "EXFAT   ", 8) || !memcmp(s + 54, "FAT", 3)
            || !memcmp(s + 82, "FAT32", 5));
}

static int gpt(struct vdsshim_image *img, uint32_t ss, struct partition *parts, unsigned max, unsigned *count,
               char *reason, size_t rlen, struct vdsshim_diag *diag)
{
    uint64_t disk = img->info.virtual_size, lba, first_usable, last_usable, i;
    uint8_t hdr[512], *entries;
    uint32_t hsize, nentries, esize, crc;
    int st;

    /* Too small to hold the header (found by fuzz_fs_maps: reads past the disk fail the whole map). */
    if (disk < (uint64_t)ss + sizeof(hdr))
    {
        snprintf(reason, rlen, "protective MBR but no room for a GPT header");
        return VDSSHIM_OK;
    }
    if ((st = vdsshim_read(img, ss, hdr, sizeof(hdr), diag))) return st;
    if (memcmp(hdr, "EFI PART", 8))
    {
        snprintf(reason, rlen, "protective MBR but no GPT header at LBA 1");
        return VDSSHIM_OK;
    }
    hsize = get_le32(hdr + 12);
    if (hsize < 92 || hsize > sizeof(hdr))
    {
        snprintf(reason, rlen, "GPT header size %u is invalid", hsize);
        return VDSSHIM_OK;
    }
    crc = get_le32(hdr + 16);
    memset(hdr + 16, 0, 4);
    if (crc32_ieee(hdr, hsize) != crc)
    {
        snprintf(reason, rlen, "GPT header checksum mismatch");
        return VDSSHIM_OK;
    }
    first_usable = get_le64(hdr + 40);
    last_usable = get_le64(hdr + 48);
    lba = get_le64(hdr + 72);
    nentries = get_le32(hdr + 80);
    esize = get_le32(hdr + 84);
    if (esize < 128 || esize % 8 || nentries > 4096 || lba > disk / ss || (uint64_t)nentries * esize > (1u << 20)
        || (uint64_t)nentries * esize > disk - lba * ss)
    {
        snprintf(reason, rlen, "GPT entry array (%u entries of %u bytes at LBA %llu) is invalid", nentries, esize,
                 (unsigned long long)lba);
        return VDSSHIM_OK;
    }
    if (!(entries = malloc((size_t)nentries * esize + 1))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if ((st = vdsshim_read(img, lba * ss, entries, (size_t)nentries * esize, diag)))
    {
        free(entries);
        return st;
    }
    if (crc32_ieee(entries, (size_t)nentries * esize) != get_le32(hdr + 88))
    {
        free(entries);
        snprintf(reason, rlen, "GPT partition entry array checksum mismatch");
        return VDSSHIM_OK;
    }
    for (i = 0; i < nentries; i++)
    {
        static const uint8_t unused[16];
        const uint8_t *e = entries + i * esize;
        uint64_t a = get_le64(e + 32), b = get_le64(e + 40);

        if (!memcmp(e, unused, 16)) continue;
        if (a < first_usable || b > last_usable || b < a) continue;     /* outside the usable area: ignored */
        add(parts, max, count, a * ss, (b - a + 1) * ss, disk, "GPT %u", (unsigned)i + 1);
    }
    free(entries);
    return VDSSHIM_OK;
}

static int mbr(struct vdsshim_image *img, const uint8_t *s0, uint32_t ss, struct partition *parts, unsigned max,
               unsigned *count, char *reason, size_t rlen, struct vdsshim_diag *diag)
{
    uint64_t disk = img->info.virtual_size;
    unsigned i, logical = 5;
    int st;

    for (i = 0; i < 4; i++)
    {
        const uint8_t *e = s0 + 446 + 16 * i;
        uint8_t type = e[4];
        uint64_t start = get_le32(e + 8), n = get_le32(e + 12);

        if (e[0] != 0 && e[0] != 0x80)
        {
            snprintf(reason, rlen, "MBR entry %u has boot flag %#x: not a partition table", i + 1, e[0]);
            *count = 0;
            return VDSSHIM_OK;
        }
        if (!type || !n) continue;
        if (type == 0x05 || type == 0x0f || type == 0x85)
        {
            /* The extended partition: a chain of EBRs, each one logical partition. */
            uint64_t ebr = start, hops;
            for (hops = 0; hops < MAX_EBR_CHAIN; hops++)
            {
                uint8_t b[512];
                uint64_t ls, ln, next;

                if (ebr * ss >= disk) break;
                if ((st = vdsshim_read(img, ebr * ss, b, sizeof(b), diag))) return st;
                if (b[510] != 0x55 || b[511] != 0xaa) break;
                ls = get_le32(b + 446 + 8);
                ln = get_le32(b + 446 + 12);
                if (b[446 + 4] && ln) add(parts, max, count, (ebr + ls) * ss, ln * ss, disk, "MBR %u", logical++);
                next = get_le32(b + 462 + 8);
                if (!b[462 + 4] || !next) break;
                ebr = start + next;
            }
            continue;
        }
        add(parts, max, count, start * ss, n * ss, disk, "MBR %u", i + 1);
    }
    return VDSSHIM_OK;
}

int partitions_find(struct vdsshim_image *img, struct partition *parts, unsigned max, unsigned *count,
                    char *reason, size_t reason_len, struct vdsshim_diag *diag)
{
    uint32_t ss = img->info.logical_sector_size;
    uint8_t s0[512], sb[2], swap[10];
    struct fs_volume disk = { img, 0, img->info.virtual_size, ss, NULL, 0 };
    int st, pv;

    *count = 0;
    if (img->info.virtual_size < 4096) return VDSSHIM_OK;
    if ((st = vdsshim_read(img, 0, s0, sizeof(s0), diag))) return st;
    if ((st = vdsshim_read(img, 1024 + 56, sb, 2, diag))) return st;
    if ((st = vdsshim_read(img, 4096 - sizeof(swap), swap, sizeof(swap), diag))) return st;
    if ((st = lvm_find_label(&disk, &pv, diag))) return st;
    /* A whole-disk ext* (superblock magic 0xEF53), XFS ("XFSB"), FAT/exFAT/NTFS
     * volume, swap area (4 KiB pages: its signature, or a hibernation
     * image's), or LVM2 physical volume (a label in sector 0, or in sectors
     * 1 to 3 of a disk without an MBR's boot signature: pvcreate refuses a
     * partitioned disk). */
    if ((sb[0] == 0x53 && sb[1] == 0xef) || !memcmp(s0, "XFSB", 4) || is_fs_boot_sector(s0)
        || !memcmp(swap, "SWAPSPACE2", 10) || !memcmp(swap + 1, "SUSPEND", 7) || !memcmp(swap, "LINHIB0001", 10)
        || pv == 1 || (pv && (s0[510] != 0x55 || s0[511] != 0xaa)))
    {
        add(parts, max, count, 0, img->info.virtual_size, img->info.virtual_size, "whole disk", 0);
        return VDSSHIM_OK;
    }
    if (s0[510] != 0x55 || s0[511] != 0xaa)
    {
        snprintf(reason, reason_len, "no partition table and no file system at the start of the disk");
        return VDSSHIM_OK;
    }
    if (s0[446 + 4] == 0xee) return gpt(img, ss, parts, max, count, reason, reason_len, diag);
    return mbr(img, s0, ss, parts, max, count, reason, reason_len, diag);
}
