/*
 * Builds VHDX images in memory from the spec (formats.md §2), for tests:
 * dynamic and differencing disks, 512 or 4096-byte logical sectors, every
 * block state, partially present blocks with sector bitmaps.
 */
#ifndef VDSSHIM_TEST_VHDX_BUILDER_H
#define VDSSHIM_TEST_VHDX_BUILDER_H

#include <stddef.h>
#include <stdint.h>

struct vhdx_builder
{
    uint8_t *data;
    size_t size, capacity;
    uint64_t virtual_size;
    uint32_t block_size, lss;
    int has_parent;
    uint64_t chunk_ratio, payload_blocks, sb_blocks, bat_entries;
    uint64_t bat_offset, bat_length;
    uint8_t data_write_guid[16];
    uint8_t *locator;       /* parent locator item, or NULL */
    size_t locator_len;
};

/* parent_linkage "{guid}" and parent_path (relative) NULL for a dynamic disk. */
void xb_init(struct vhdx_builder *b, uint64_t virtual_size, uint32_t block_size, uint32_t lss,
             const uint8_t data_write_guid[16], const char *parent_linkage, const char *parent_path);
/* Give block a payload block at the end of the file (1 MiB aligned) in state
 * (FULLY_PRESENT 6, PARTIALLY_PRESENT 7 with bitmap = one bit per sector, LSB
 * first, or a non-present state that still holds space); data NULL = zeros. */
void xb_add_block(struct vhdx_builder *b, uint64_t block, unsigned state, const uint8_t *data,
                  const uint8_t *bitmap);
/* Set a state with no file space. */
void xb_set_state(struct vhdx_builder *b, uint64_t block, unsigned state);
/* Unreferenced space at the end of the file (1 MiB multiples). */
void xb_add_gap(struct vhdx_builder *b, uint64_t bytes);
void xb_finish(struct vhdx_builder *b, size_t *size);
void xb_free(struct vhdx_builder *b);
/* "{...}" text of a stored GUID. */
void xb_guid_text(const uint8_t g[16], char out[39]);

#endif
