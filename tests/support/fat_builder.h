/*
 * A guest disk with a file system whose deleted files left data behind, for
 * the file-system-aware compaction tests of the PE suites (no mkfs under
 * wine): an MBR with one FAT16 partition at 1 MiB, 48 MiB, 2 KiB clusters,
 * its data area on a 1 MiB boundary; files KEEP1, GONE1, KEEP2 and GONE2 of
 * 4 MiB random data each, contiguous, GONE1 and GONE2 deleted as DOS does it
 * (the entry's first byte 0xE5, the chain freed, the data left).
 */
#ifndef VDSSHIM_TEST_FAT_BUILDER_H
#define VDSSHIM_TEST_FAT_BUILDER_H

#include <stdint.h>

#define FAT_DISK_SIZE (50u << 20)
#define FAT_PART_OFFSET (1u << 20)
#define FAT_PART_SIZE (48u << 20)
#define FAT_FILE_SIZE (4u << 20)

/* Writes the disk into out (FAT_DISK_SIZE bytes). */
void fat_disk_build(uint8_t *out);

#endif
