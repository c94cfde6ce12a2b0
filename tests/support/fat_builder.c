/* A FAT16 guest disk with deleted files (fat_builder.h), from the FAT spec. */
#include <string.h>

#include "fat_builder.h"
#include "vhd_builder.h"

#define SECTOR 512u
#define PER_CLUSTER 4u                      /* 2 KiB clusters */
#define FATS 2u
#define FAT_SECTORS 97u                     /* 2 bytes for each of 24576 clusters + 2 */
#define ROOT_ENTRIES 512u
#define ROOT_SECTORS (ROOT_ENTRIES * 32 / SECTOR)
#define PART_SECTORS (FAT_PART_SIZE / SECTOR)
/* Reserved sectors such that the data area starts 1 MiB into the partition. */
#define RESERVED (2048u - FATS * FAT_SECTORS - ROOT_SECTORS)
#define DATA_START (RESERVED + FATS * FAT_SECTORS + ROOT_SECTORS)
#define CLUSTERS ((PART_SECTORS - DATA_START) / PER_CLUSTER)
#define FILE_CLUSTERS (FAT_FILE_SIZE / (SECTOR * PER_CLUSTER))

static void le16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { le16(p, v); le16(p + 2, v >> 16); }

static void boot_sector(uint8_t *b)
{
    memcpy(b, "\xeb\x3c\x90" "MSWIN4.1", 11);
    le16(b + 11, SECTOR);
    b[13] = PER_CLUSTER;
    le16(b + 14, RESERVED);
    b[16] = FATS;
    le16(b + 17, ROOT_ENTRIES);
    le16(b + 19, 0);                        /* total sectors: in the 32-bit field */
    b[21] = 0xf8;                           /* media: fixed disk */
    le16(b + 22, FAT_SECTORS);
    le16(b + 24, 63);                       /* sectors per track */
    le16(b + 26, 255);                      /* heads */
    le32(b + 28, FAT_PART_OFFSET / SECTOR); /* hidden sectors */
    le32(b + 32, PART_SECTORS);
    b[36] = 0x80;                           /* drive number */
    b[38] = 0x29;                           /* extended boot signature */
    le32(b + 39, 0x5d5e1a2bu);              /* volume serial */
    memcpy(b + 43, "VDSSHIM    FAT16   ", 19);
    b[510] = 0x55;
    b[511] = 0xaa;
}

static void dir_entry(uint8_t *e, const char *name83, uint32_t first, uint32_t size, int deleted)
{
    memcpy(e, name83, 11);
    e[11] = 0x20;                           /* archive */
    le16(e + 22, 0);                        /* 00:00:00 */
    le16(e + 24, (46u << 9) | (1u << 5) | 1u);   /* 2026-01-01 */
    le16(e + 26, first);
    le32(e + 28, size);
    if (deleted) e[0] = 0xe5;
}

void fat_disk_build(uint8_t *out)
{
    static const char *const names[4] = { "KEEP1      ", "GONE1      ", "KEEP2      ", "GONE2      " };
    uint8_t *part = out + FAT_PART_OFFSET, *fat = part + RESERVED * SECTOR, *root = fat + FATS * FAT_SECTORS * SECTOR;
    uint32_t f, c, first;

    memset(out, 0, FAT_DISK_SIZE);
    /* The MBR: one partition, type 0x06 (FAT16 over 32 MiB). */
    out[446 + 4] = 0x06;
    le32(out + 446 + 8, FAT_PART_OFFSET / SECTOR);
    le32(out + 446 + 12, PART_SECTORS);
    le32(out + 440, 0x0a5e5d1bu);
    out[510] = 0x55;
    out[511] = 0xaa;
    boot_sector(part);
    /* Entry 0 the media byte, entry 1 end-of-chain with "clean" and "no error" set. */
    le16(fat, 0xfff8);
    le16(fat + 2, 0xffff);
    memcpy(root, "VDSSHIM    ", 11);
    root[11] = 0x08;                        /* the volume label */
    for (f = 0; f < 4; f++)
    {
        int deleted = f % 2;

        first = 2 + f * FILE_CLUSTERS;
        dir_entry(root + 32 * (f + 1), names[f], first, FAT_FILE_SIZE, deleted);
        fill_random(part + DATA_START * SECTOR + (first - 2) * PER_CLUSTER * SECTOR, FAT_FILE_SIZE, 700 + f);
        if (deleted) continue;
        for (c = first; c < first + FILE_CLUSTERS; c++) le16(fat + 2 * c, c + 1 < first + FILE_CLUSTERS ? c + 1 : 0xffff);
    }
    memcpy(fat + FAT_SECTORS * SECTOR, fat, FAT_SECTORS * SECTOR);
}
