/* One VHDX log entry's fields to and from their bytes (vhdx_log_entry.h). */
#include <string.h>

#include "vhdx_log_entry.h"

int vhdx_log_header_decode(const uint8_t *buf, struct vhdx_log_header *h)
{
    if (memcmp(buf + VHDX_LOGE_SIGNATURE, "loge", 4)) return 0;
    h->checksum = get_le32(buf + VHDX_LOGE_CHECKSUM);
    h->entry_length = get_le32(buf + VHDX_LOGE_ENTRY_LENGTH);
    h->tail = get_le32(buf + VHDX_LOGE_TAIL);
    h->sequence = get_le64(buf + VHDX_LOGE_SEQUENCE_NUMBER);
    h->desc_count = get_le32(buf + VHDX_LOGE_DESCRIPTOR_COUNT);
    memcpy(h->log_guid.b, buf + VHDX_LOGE_LOG_GUID, 16);
    h->flushed_file_offset = get_le64(buf + VHDX_LOGE_FLUSHED_FILE_OFFSET);
    h->last_file_offset = get_le64(buf + VHDX_LOGE_LAST_FILE_OFFSET);
    return 1;
}

void vhdx_log_header_encode(const struct vhdx_log_header *h, uint8_t *buf)
{
    memset(buf, 0, VHDX_LOG_ENTRY_HEADER_SIZE);
    memcpy(buf + VHDX_LOGE_SIGNATURE, "loge", 4);
    put_le32(buf + VHDX_LOGE_CHECKSUM, h->checksum);
    put_le32(buf + VHDX_LOGE_ENTRY_LENGTH, h->entry_length);
    put_le32(buf + VHDX_LOGE_TAIL, h->tail);
    put_le64(buf + VHDX_LOGE_SEQUENCE_NUMBER, h->sequence);
    put_le32(buf + VHDX_LOGE_DESCRIPTOR_COUNT, h->desc_count);
    memcpy(buf + VHDX_LOGE_LOG_GUID, h->log_guid.b, 16);
    put_le64(buf + VHDX_LOGE_FLUSHED_FILE_OFFSET, h->flushed_file_offset);
    put_le64(buf + VHDX_LOGE_LAST_FILE_OFFSET, h->last_file_offset);
}

int vhdx_log_desc_decode(const uint8_t *buf, struct vhdx_log_desc *d)
{
    memset(d, 0, sizeof(*d));
    if (!memcmp(buf + VHDX_LOG_DESC_SIGNATURE, "zero", 4))
    {
        d->is_zero = 1;
        d->zero_length = get_le64(buf + VHDX_LOG_DESC_ZERO_LENGTH);
    }
    else if (!memcmp(buf + VHDX_LOG_DESC_SIGNATURE, "desc", 4))
    {
        memcpy(d->trailing, buf + VHDX_LOG_DESC_TRAILING_BYTES, 4);
        memcpy(d->leading, buf + VHDX_LOG_DESC_LEADING_BYTES, 8);
    }
    else
        return 0;
    d->file_offset = get_le64(buf + VHDX_LOG_DESC_FILE_OFFSET);
    d->sequence = get_le64(buf + VHDX_LOG_DESC_SEQUENCE_NUMBER);
    return 1;
}

void vhdx_log_desc_encode(const struct vhdx_log_desc *d, uint8_t *buf)
{
    memset(buf, 0, VHDX_LOG_DESC_SIZE);
    if (d->is_zero)
    {
        memcpy(buf + VHDX_LOG_DESC_SIGNATURE, "zero", 4);
        put_le64(buf + VHDX_LOG_DESC_ZERO_LENGTH, d->zero_length);
    }
    else
    {
        memcpy(buf + VHDX_LOG_DESC_SIGNATURE, "desc", 4);
        memcpy(buf + VHDX_LOG_DESC_TRAILING_BYTES, d->trailing, 4);
        memcpy(buf + VHDX_LOG_DESC_LEADING_BYTES, d->leading, 8);
    }
    put_le64(buf + VHDX_LOG_DESC_FILE_OFFSET, d->file_offset);
    put_le64(buf + VHDX_LOG_DESC_SEQUENCE_NUMBER, d->sequence);
}

void vhdx_log_data_encode(const uint8_t *sector, uint64_t seq, struct vhdx_log_desc *d, uint8_t *data_sector)
{
    d->is_zero = 0;
    memcpy(d->leading, sector, 8);
    memcpy(d->trailing, sector + VHDX_LOG_DATA_SEQUENCE_LOW, 4);
    memcpy(data_sector + VHDX_LOG_DATA_SIGNATURE, "data", 4);
    put_le32(data_sector + VHDX_LOG_DATA_SEQUENCE_HIGH, (uint32_t)(seq >> 32));
    memcpy(data_sector + VHDX_LOG_DATA_PAYLOAD, sector + VHDX_LOG_DATA_PAYLOAD, VHDX_LOG_DATA_PAYLOAD_SIZE);
    put_le32(data_sector + VHDX_LOG_DATA_SEQUENCE_LOW, (uint32_t)seq);
}

int vhdx_log_data_matches(const uint8_t *data_sector, uint64_t seq)
{
    return !memcmp(data_sector + VHDX_LOG_DATA_SIGNATURE, "data", 4)
        && get_le32(data_sector + VHDX_LOG_DATA_SEQUENCE_HIGH) == (uint32_t)(seq >> 32)
        && get_le32(data_sector + VHDX_LOG_DATA_SEQUENCE_LOW) == (uint32_t)seq;
}

void vhdx_log_data_decode(const struct vhdx_log_desc *d, const uint8_t *data_sector, uint8_t *sector)
{
    memcpy(sector, d->leading, 8);
    memcpy(sector + VHDX_LOG_DATA_PAYLOAD, data_sector + VHDX_LOG_DATA_PAYLOAD, VHDX_LOG_DATA_PAYLOAD_SIZE);
    memcpy(sector + VHDX_LOG_DATA_SEQUENCE_LOW, d->trailing, 4);
}

uint32_t vhdx_log_desc_sectors(uint32_t count)
{
    /* The header fills the first sector's first slots. */
    const uint32_t header_slots = VHDX_LOG_DESCS_PER_SECTOR - VHDX_LOG_DESCS_FIRST_SECTOR;

    return (count + header_slots + VHDX_LOG_DESCS_PER_SECTOR - 1) / VHDX_LOG_DESCS_PER_SECTOR;
}

size_t vhdx_log_entry_bytes(size_t nsectors)
{
    return ((size_t)vhdx_log_desc_sectors((uint32_t)nsectors) + nsectors) * VHDX_LOG_SECTOR;
}
