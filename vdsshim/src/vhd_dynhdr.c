/* VHD dynamic disk header and parent locators: decode and encode. formats.md §1.5. */
#include <string.h>

#include "vhd.h"

int vhd_dynhdr_decode(const uint8_t buf[VHD_DYNHDR_SIZE], struct vhd_dynhdr *h, uint64_t at,
                      struct vdsshim_diag *diag)
{
    uint32_t sum;
    unsigned i;

    memcpy(h->cookie, buf, 8);
    h->data_offset = get_be64(buf + 8);
    h->table_offset = get_be64(buf + 16);
    h->version = get_be32(buf + 24);
    h->max_entries = get_be32(buf + 28);
    h->block_size = get_be32(buf + 32);
    h->checksum = get_be32(buf + 36);
    memcpy(h->parent_uid, buf + 40, 16);
    h->parent_timestamp = get_be32(buf + 56);
    h->reserved0 = get_be32(buf + 60);
    memcpy(h->parent_name, buf + 64, 512);
    for (i = 0; i < VHD_LOCATOR_COUNT; i++)
    {
        const uint8_t *e = buf + 576 + 24 * i;
        h->loc[i].code = get_be32(e);
        h->loc[i].data_space = get_be32(e + 4);
        h->loc[i].data_length = get_be32(e + 8);
        h->loc[i].reserved = get_be32(e + 12);
        h->loc[i].data_offset = get_be64(e + 16);
    }
    memcpy(h->reserved1, buf + 768, 256);

    if (memcmp(h->cookie, "cxsparse", 8))
        return diag_set(diag, VDSSHIM_E_CORRUPT, at, "no dynamic header cookie at offset %llu",
                        (unsigned long long)at);
    sum = vhd_checksum(buf, VHD_DYNHDR_SIZE, 36);
    if (sum != h->checksum)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 36,
                        "dynamic header checksum at offset %llu is %#010x, expected %#010x",
                        (unsigned long long)(at + 36), h->checksum, sum);
    if (h->version >> 16 != 1)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, at + 24,
                        "dynamic header version at offset %llu is %#010x, only 1.x is known",
                        (unsigned long long)(at + 24), h->version);
    if (h->block_size < VHD_MIN_BLOCK_SIZE || h->block_size > VHD_MAX_BLOCK_SIZE
        || (h->block_size & (h->block_size - 1)))
        return diag_set(diag, h->block_size & (h->block_size - 1) ? VDSSHIM_E_CORRUPT : VDSSHIM_E_UNSUPPORTED,
                        at + 32, "block size at offset %llu is %u (need a power of two from %u to %u)",
                        (unsigned long long)(at + 32), h->block_size, VHD_MIN_BLOCK_SIZE, VHD_MAX_BLOCK_SIZE);
    if (h->table_offset % VHD_SECTOR)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 16,
                        "BAT offset at offset %llu is %llu, not sector aligned",
                        (unsigned long long)(at + 16), (unsigned long long)h->table_offset);
    return VDSSHIM_OK;
}

void vhd_dynhdr_encode(const struct vhd_dynhdr *h, uint8_t buf[VHD_DYNHDR_SIZE])
{
    unsigned i;

    memcpy(buf, h->cookie, 8);
    put_be64(buf + 8, h->data_offset);
    put_be64(buf + 16, h->table_offset);
    put_be32(buf + 24, h->version);
    put_be32(buf + 28, h->max_entries);
    put_be32(buf + 32, h->block_size);
    memcpy(buf + 40, h->parent_uid, 16);
    put_be32(buf + 56, h->parent_timestamp);
    put_be32(buf + 60, h->reserved0);
    memcpy(buf + 64, h->parent_name, 512);
    for (i = 0; i < VHD_LOCATOR_COUNT; i++)
    {
        uint8_t *e = buf + 576 + 24 * i;
        put_be32(e, h->loc[i].code);
        put_be32(e + 4, h->loc[i].data_space);
        put_be32(e + 8, h->loc[i].data_length);
        put_be32(e + 12, h->loc[i].reserved);
        put_be64(e + 16, h->loc[i].data_offset);
    }
    memcpy(buf + 768, h->reserved1, 256);
    put_be32(buf + 36, vhd_checksum(buf, VHD_DYNHDR_SIZE, 36));
}
