/* VHD hard disk footer: decode (validating) and encode. formats.md §1.2-1.3. */
#include <string.h>

#include "vhd.h"

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t checksum_off)
{
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i < len; i++)
        if (i < checksum_off || i >= checksum_off + 4) sum += buf[i];
    return ~sum;
}

int vhd_footer_decode(const uint8_t buf[VHD_FOOTER_SIZE], struct vhd_footer *f, uint64_t at,
                      struct vdsshim_diag *diag)
{
    uint32_t sum;

    memcpy(f->cookie, buf, 8);
    f->features = get_be32(buf + 8);
    f->version = get_be32(buf + 12);
    f->data_offset = get_be64(buf + 16);
    f->timestamp = get_be32(buf + 24);
    memcpy(f->creator_app, buf + 28, 4);
    f->creator_version = get_be32(buf + 32);
    f->creator_os = get_be32(buf + 36);
    f->original_size = get_be64(buf + 40);
    f->current_size = get_be64(buf + 48);
    f->cylinders = get_be16(buf + 56);
    f->heads = buf[58];
    f->sectors = buf[59];
    f->disk_type = get_be32(buf + 60);
    f->checksum = get_be32(buf + 64);
    memcpy(f->unique_id, buf + 68, 16);
    f->saved_state = buf[84];
    memcpy(f->reserved, buf + 85, sizeof(f->reserved));

    if (memcmp(f->cookie, "conectix", 8))
        return diag_set(diag, VDSSHIM_E_UNKNOWN_FORMAT, at, "no VHD footer cookie at offset %llu",
                        (unsigned long long)at);
    sum = vhd_checksum(buf, VHD_FOOTER_SIZE, 64);
    if (sum != f->checksum)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 64,
                        "footer checksum at offset %llu is %#010x, expected %#010x",
                        (unsigned long long)(at + 64), f->checksum, sum);
    if (f->version >> 16 != 1)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, at + 12,
                        "footer format version at offset %llu is %#010x, only 1.x is known",
                        (unsigned long long)(at + 12), f->version);
    if (f->disk_type < VDSSHIM_DISK_FIXED || f->disk_type > VDSSHIM_DISK_DIFFERENCING)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, at + 60,
                        "footer disk type at offset %llu is %u (not fixed, dynamic or differencing)",
                        (unsigned long long)(at + 60), f->disk_type);
    if (f->current_size % VHD_SECTOR)
        return diag_set(diag, VDSSHIM_E_CORRUPT, at + 48,
                        "footer current size at offset %llu is %llu, not a whole number of sectors",
                        (unsigned long long)(at + 48), (unsigned long long)f->current_size);
    return VDSSHIM_OK;
}

void vhd_footer_encode(const struct vhd_footer *f, uint8_t buf[VHD_FOOTER_SIZE])
{
    memcpy(buf, f->cookie, 8);
    put_be32(buf + 8, f->features);
    put_be32(buf + 12, f->version);
    put_be64(buf + 16, f->data_offset);
    put_be32(buf + 24, f->timestamp);
    memcpy(buf + 28, f->creator_app, 4);
    put_be32(buf + 32, f->creator_version);
    put_be32(buf + 36, f->creator_os);
    put_be64(buf + 40, f->original_size);
    put_be64(buf + 48, f->current_size);
    put_be16(buf + 56, f->cylinders);
    buf[58] = f->heads;
    buf[59] = f->sectors;
    put_be32(buf + 60, f->disk_type);
    memcpy(buf + 68, f->unique_id, 16);
    buf[84] = f->saved_state;
    memcpy(buf + 85, f->reserved, sizeof(f->reserved));
    put_be32(buf + 64, vhd_checksum(buf, VHD_FOOTER_SIZE, 64));
}
