/*
 * The on-disk layout of one VHDX log entry (MS-VHDX §2.3.1, formats.md §2.7):
 * a 64-byte header, then 32-byte descriptors filling whole 4 KiB sectors,
 * then one 4 KiB data sector per data descriptor. vhdx_log.c reads entries
 * and writes them with the one decode/encode pair here.
 *
 *   entry:  [header | descriptor 0 .. 125]  [descriptor 126 .. 253] ...  [data 0] [data 1] ...
 *
 * A data descriptor and its data sector together hold one 4 KiB sector of the
 * file: its first 8 bytes sit in the descriptor (LeadingBytes), its last 4
 * too (TrailingBytes), and the 4084 between them in the data sector, whose
 * own first 8 and last 4 bytes carry the signature and the sequence number
 * (so a torn entry shows in every sector).
 */
#ifndef VDSSHIM_VHDX_LOG_ENTRY_H
#define VDSSHIM_VHDX_LOG_ENTRY_H

#include "vhdx.h"

/* Entry header (§2.3.1.1), at the start of an entry. */
#define VHDX_LOGE_SIGNATURE             0   /* "loge" */
#define VHDX_LOGE_CHECKSUM              4   /* CRC-32C of the whole entry, this field taken as zero */
#define VHDX_LOGE_ENTRY_LENGTH          8   /* bytes, a multiple of 4 KiB */
#define VHDX_LOGE_TAIL                  12  /* log offset of the oldest entry replay still needs */
#define VHDX_LOGE_SEQUENCE_NUMBER       16  /* nonzero; consecutive along the active sequence */
#define VHDX_LOGE_DESCRIPTOR_COUNT      24
#define VHDX_LOGE_RESERVED              28  /* 4 bytes, zero */
#define VHDX_LOGE_LOG_GUID              32  /* must equal the header's LogGuid */
#define VHDX_LOGE_FLUSHED_FILE_OFFSET   48  /* file size known durable when written */
#define VHDX_LOGE_LAST_FILE_OFFSET      56  /* file size the entry's writes need */
#define VHDX_LOG_ENTRY_HEADER_SIZE      64u

/* Descriptors (§2.3.1.2 zero, §2.3.1.3 data), after the header. */
#define VHDX_LOG_DESC_SIGNATURE         0   /* "zero" or "desc" */
#define VHDX_LOG_DESC_TRAILING_BYTES    4   /* data: the sector's last 4 bytes; zero: reserved */
#define VHDX_LOG_DESC_LEADING_BYTES     8   /* data: the sector's first 8 bytes */
#define VHDX_LOG_DESC_ZERO_LENGTH       8   /* zero: bytes to zero, a multiple of 4 KiB */
#define VHDX_LOG_DESC_FILE_OFFSET       16  /* where in the file, 4 KiB aligned */
#define VHDX_LOG_DESC_SEQUENCE_NUMBER   24  /* the entry's */
#define VHDX_LOG_DESC_SIZE              32u
/* The header takes the first two descriptor slots of the first sector. */
#define VHDX_LOG_DESCS_FIRST_SECTOR     ((VHDX_LOG_SECTOR - VHDX_LOG_ENTRY_HEADER_SIZE) / VHDX_LOG_DESC_SIZE)
#define VHDX_LOG_DESCS_PER_SECTOR       (VHDX_LOG_SECTOR / VHDX_LOG_DESC_SIZE)

/* Data sector (§2.3.1.4). */
#define VHDX_LOG_DATA_SIGNATURE         0   /* "data" */
#define VHDX_LOG_DATA_SEQUENCE_HIGH     4   /* the entry's sequence number, high 32 bits */
#define VHDX_LOG_DATA_PAYLOAD           8   /* the file sector's bytes 8 .. 4091 */
#define VHDX_LOG_DATA_SEQUENCE_LOW      4092
#define VHDX_LOG_DATA_PAYLOAD_SIZE      (VHDX_LOG_DATA_SEQUENCE_LOW - VHDX_LOG_DATA_PAYLOAD)

struct vhdx_log_header
{
    uint32_t checksum;
    uint32_t entry_length;
    uint32_t tail;
    uint64_t sequence;
    uint32_t desc_count;
    struct vhdx_guid log_guid;
    uint64_t flushed_file_offset;
    uint64_t last_file_offset;
};

struct vhdx_log_desc
{
    int is_zero;                /* a zero descriptor; else a data descriptor */
    uint64_t zero_length;       /* zero */
    uint8_t leading[8];         /* data */
    uint8_t trailing[4];        /* data */
    uint64_t file_offset;
    uint64_t sequence;
};

/* 0 when buf does not start with "loge". */
int vhdx_log_header_decode(const uint8_t *buf, struct vhdx_log_header *h);
/* The header into buf's first 64 bytes (the checksum as given). */
void vhdx_log_header_encode(const struct vhdx_log_header *h, uint8_t *buf);

/* 0 when the signature is neither "zero" nor "desc". */
int vhdx_log_desc_decode(const uint8_t *buf, struct vhdx_log_desc *d);
void vhdx_log_desc_encode(const struct vhdx_log_desc *d, uint8_t *buf);

/* A 4 KiB file sector as a data descriptor (its file offset and sequence
 * left to the caller) and data sector of the entry with sequence number seq. */
void vhdx_log_data_encode(const uint8_t *sector, uint64_t seq, struct vhdx_log_desc *d, uint8_t *data_sector);
/* Whether a data sector belongs to the entry with sequence number seq. */
int vhdx_log_data_matches(const uint8_t *data_sector, uint64_t seq);
/* The file sector a data descriptor and its data sector hold. */
void vhdx_log_data_decode(const struct vhdx_log_desc *d, const uint8_t *data_sector, uint8_t *sector);

/* Descriptor sectors for count descriptors, and the bytes of an entry with
 * nsectors data descriptors. */
uint32_t vhdx_log_desc_sectors(uint32_t count);
size_t vhdx_log_entry_bytes(size_t nsectors);

#endif /* VDSSHIM_VHDX_LOG_ENTRY_H */
