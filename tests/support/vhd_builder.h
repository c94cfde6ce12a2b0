/*
 * Builds VHD images in memory from the spec (formats.md §1), for tests:
 * dynamic and differencing disks with chosen block order, bitmaps and data.
 */
#ifndef VDSSHIM_TEST_VHD_BUILDER_H
#define VDSSHIM_TEST_VHD_BUILDER_H

#include <stddef.h>
#include <stdint.h>

struct vhd_builder
{
    uint8_t *data;
    size_t size;            /* bytes so far, excluding the trailing footer */
    size_t capacity;
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t entries;
    uint32_t disk_type;     /* 3 dynamic, 4 differencing */
    uint64_t bat_offset;
    unsigned nlocators;
    uint64_t batmap_header;     /* 0 if none */
};

/* uid and parent_uid are 16 bytes (parent_uid NULL for a dynamic disk). */
void vb_init(struct vhd_builder *b, uint64_t virtual_size, uint32_t block_size, const uint8_t uid[16],
             const uint8_t *parent_uid);
/* Add a parent locator (code 'W2ru' or 'W2ku') holding path as UTF-16LE; call before blocks. */
void vb_add_locator(struct vhd_builder *b, uint32_t code, const char *path);
/* Add a Xen blktap batmap right after the BAT (call first, before locators and
 * blocks); vb_finish sets a bit per allocated block and the checksum. */
void vb_add_batmap(struct vhd_builder *b);
/* Leave a gap of unreferenced bytes (multiple of 512) at the current end. */
void vb_add_gap(struct vhd_builder *b, size_t bytes);
/* Append block index at the current end; bitmap NULL = all sectors present; data NULL = zeros. */
void vb_add_block(struct vhd_builder *b, uint32_t index, const uint8_t *bitmap, const uint8_t *data);
/* Write the footers; the image is data[0..*size). The builder keeps ownership. */
void vb_finish(struct vhd_builder *b, size_t *size);
void vb_free(struct vhd_builder *b);

/* Deterministic bytes for test data. */
void fill_random(uint8_t *buf, size_t len, uint32_t seed);

#endif
