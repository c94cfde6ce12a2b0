/* VHD on-disk layout (big-endian; 512-byte sectors). formats.md §1. */
#ifndef VDSSHIM_VHD_H
#define VDSSHIM_VHD_H

#include <string.h>

#include "diag.h"
#include "endian.h"
#include "image.h"
#include "progress.h"

#define VHD_SECTOR           512u
#define VHD_FOOTER_SIZE      512u
#define VHD_DYNHDR_SIZE      1024u
#define VHD_LOCATOR_COUNT    8u
#define VHD_BAT_UNUSED       0xffffffffu
#define VHD_VERSION_1        0x00010000u
#define VHD_NO_DATA_OFFSET   0xffffffffffffffffull
/* Block sizes accepted: the bitmap must fill whole bits, memory stays bounded. */
#define VHD_MIN_BLOCK_SIZE   (VHD_SECTOR * 8u)
#define VHD_MAX_BLOCK_SIZE   (256u << 20)

#define VHD_PLAT_NONE        0u
#define VHD_PLAT_W2KU        0x57326b75u    /* absolute Windows path, UTF-16LE */
#define VHD_PLAT_W2RU        0x57327275u    /* relative Windows path, UTF-16LE */

struct vhd_footer
{
    uint8_t cookie[8];          /* "conectix" */
    uint32_t features;
    uint32_t version;
    uint64_t data_offset;       /* dynamic header; all ones for fixed disks */
    uint32_t timestamp;         /* seconds since 2000-01-01 UTC */
    uint8_t creator_app[4];
    uint32_t creator_version;
    uint32_t creator_os;
    uint64_t original_size;
    uint64_t current_size;      /* the virtual size */
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint32_t disk_type;         /* 2 fixed, 3 dynamic, 4 differencing */
    uint32_t checksum;
    uint8_t unique_id[16];
    uint8_t saved_state;
    uint8_t reserved[427];      /* kept verbatim: blktap uses byte 0 as "hidden" */
};

struct vhd_locator
{
    uint32_t code;              /* VHD_PLAT_* */
    uint32_t data_space;        /* sectors per spec; some writers store bytes */
    uint32_t data_length;       /* bytes */
    uint32_t reserved;
    uint64_t data_offset;       /* absolute */
};

struct vhd_dynhdr
{
    uint8_t cookie[8];          /* "cxsparse" */
    uint64_t data_offset;       /* unused, all ones */
    uint64_t table_offset;      /* absolute offset of the BAT */
    uint32_t version;
    uint32_t max_entries;       /* BAT entries */
    uint32_t block_size;        /* payload bytes per block, power of two */
    uint32_t checksum;
    uint8_t parent_uid[16];
    uint32_t parent_timestamp;
    uint32_t reserved0;
    uint8_t parent_name[512];   /* UTF-16BE */
    struct vhd_locator loc[VHD_LOCATOR_COUNT];
    uint8_t reserved1[256];
};

/* A GUID in Microsoft's layout (first three fields little-endian) to the
 * big-endian order a VHD stores ids in (formats.md §1.2), and back: one swap. */
static inline void vhd_guid_swap(const uint8_t in[16], uint8_t out[16])
{
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    int i;

    for (i = 0; i < 16; i++) out[i] = in[order[i]];
}

/* One's complement of the byte sum, with the checksum field taken as zero. */
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t checksum_off);

/* Decode and validate; at is the field's file offset for the diagnostic. */
int vhd_footer_decode(const uint8_t buf[VHD_FOOTER_SIZE], struct vhd_footer *out, uint64_t at,
                      struct vdsshim_diag *diag);
void vhd_footer_encode(const struct vhd_footer *in, uint8_t buf[VHD_FOOTER_SIZE]);   /* fills checksum */

int vhd_dynhdr_decode(const uint8_t buf[VHD_DYNHDR_SIZE], struct vhd_dynhdr *out, uint64_t at,
                      struct vdsshim_diag *diag);
void vhd_dynhdr_encode(const struct vhd_dynhdr *in, uint8_t buf[VHD_DYNHDR_SIZE]);   /* fills checksum */

/* Bytes of sector bitmap in front of each block, padded to whole sectors. */
static inline uint32_t vhd_bitmap_size(uint32_t block_size)
{
    uint32_t bytes = block_size / VHD_SECTOR / 8;

    return (bytes + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

/*
 * Which field is the disk's size depends on who made it. Virtual PC ("vpc ")
 * and old qemu ("qemu") size a disk by its geometry, C*H*S sectors, which is
 * usually below Current Size; Windows and Hyper-V ("win "), Disk2vhd
 * ("d2v "), qemu since 2.x ("qem2") and the rest by Current Size. qemu's
 * block/vpc.c decides the same way [V]; shared/images' README records both
 * kinds (virtualpc-dynamic-empty.vhd: 136,363,130,880 from CHS). Expansion
 * rewrites such a disk as "win " (vhd_expand.c).
 */
static inline int vhd_sized_by_chs(const uint8_t creator_app[4])
{
    return !memcmp(creator_app, "vpc ", 4) || !memcmp(creator_app, "qemu", 4);
}

/* The Xen blktap batmap (formats.md §1.8), found in the sector after the BAT. */
#define VHD_BATMAP_COOKIE "tdbatmap"
struct vhd_batmap
{
    int present;
    uint64_t header_offset;     /* the sector holding the batmap header */
    uint64_t offset;            /* the bitmap itself */
    uint32_t size_sectors;
    uint32_t version;
    uint32_t checksum;
    /* The checksum does not match the bits: an update of the two sectors was
     * cut off (no order of the two writes avoids that window). The bits are a
     * hint ("block fully allocated"), so the image is not corrupt; the next
     * compaction clears every bit (never wrong: blktap then reads the block's
     * own bitmap) and writes a matching checksum. */
    int stale;
};

/* A region of the file that must keep its bytes: metadata, locator data. */
struct vhd_extent
{
    uint64_t start, end;        /* [start, end), 512-aligned */
    const char *what;
    int locator;                /* its parent-locator slot, or -1 */
};

/* An allocated block: where it starts in the file, and its BAT index. */
struct vhd_block_ref
{
    uint64_t start;
    uint32_t index;
};

#define VHD_MAX_RESERVED (3 + VHD_LOCATOR_COUNT + 2)

struct vhd
{
    struct vhd_footer footer;
    uint8_t footer_raw[VHD_FOOTER_SIZE];    /* written verbatim when the end moves */
    int copy_stale;                         /* the copy at 0 is from before an expansion or an id change */
    struct vhd_dynhdr hdr;
    uint64_t file_size;

    /* dynamic and differencing only */
    uint32_t *bat;              /* host-order entries; VHD_BAT_UNUSED if none */
    uint8_t *bat_raw;           /* the BAT as on disk, padded to whole sectors */
    uint64_t bat_bytes;
    uint32_t bitmap_size;
    uint64_t block_span;        /* bitmap + payload bytes per block in the file */
    struct vhd_batmap batmap;
    struct vhd_extent reserved[VHD_MAX_RESERVED];
    unsigned nreserved;

    /* read path: the sector bitmap of one block */
    uint32_t cached_block;
    uint8_t *bitmap;
};

static inline int vhd_bitmap_test(const uint8_t *bitmap, uint32_t sector)
{
    return bitmap[sector >> 3] & (0x80 >> (sector & 7));   /* MSB first */
}

/* The allocated blocks in file order (malloc'd; *count of them). */
int vhd_sorted_blocks(const struct vhd *vhd, struct vhd_block_ref **out, uint32_t *count);
/* End of everything the image references (before the footer). */
uint64_t vhd_structure_end(const struct vhd *vhd);
/* Write the BAT sectors covering entries [first, last] from memory. */
int vhd_write_bat(struct vdsshim_image *img, uint32_t first, uint32_t last, struct vdsshim_diag *diag);
/* Move the footer to end (unreferenced space), flush, truncate, flush. */
int vhd_set_end(struct vdsshim_image *img, uint64_t end, struct vdsshim_diag *diag);
/* The footers' unique id changed (vhd_identity.c); the image open for writing. */
int vhd_set_unique_id(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag);
/* vhd_create.c: a locator's UTF-16LE payload for path (malloc'd; NULL if
 * none or out of memory); the header's parent name (the absolute path,
 * UTF-16BE, cut at 256 units); the time stamp a child records for a VHD
 * parent (its footer's). */
uint8_t *vhd_locator_data(const char *path, uint32_t *len);
void vhd_set_parent_name(struct vhd_dynhdr *h, const char *absolute);
uint32_t vhd_parent_timestamp(const struct vdsshim_image *parent);
/* Read the footers, header and BAT again after they moved (vhd_set_parent.c);
 * the parent chain's info stays. */
int vhd_reload(struct vdsshim_image *img, struct vdsshim_diag *diag);
/* Point a differencing VHD at parent_uid (stored order) with this time stamp
 * and paths (relative may be NULL), crash-safely (vhd_set_parent.c). */
int vhd_set_parent(struct vdsshim_image *img, const uint8_t parent_uid[16], uint32_t parent_timestamp,
                   const char *absolute, const char *relative, struct vdsshim_diag *diag);
/* Read the sector bitmap of block into buf (bitmap_size bytes). */
int vhd_read_bitmap(struct vdsshim_image *img, uint32_t block, uint8_t *buf, struct vdsshim_diag *diag);

/* vhd_write.c, vhd_expand.c, vhd_create.c */
int vhd_present(struct vdsshim_image *img, uint64_t off, size_t len, uint8_t *units, struct vdsshim_diag *diag);
int vhd_write_units(struct vdsshim_image *img, uint64_t off, const uint8_t *buf, size_t len, const uint8_t *units,
                    struct vdsshim_diag *diag);
int vhd_expand(struct vdsshim_image *img, uint64_t new_size, struct progress *progress, struct vdsshim_diag *diag);
void vhd_geometry(uint64_t size, struct vhd_footer *f);

int vhd_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts, struct fsmap *fsmap,
                struct vdsshim_compact_result *res, struct vdsshim_diag *diag);

#endif /* VDSSHIM_VHD_H */
