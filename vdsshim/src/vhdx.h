/* VHDX on-disk layout (little-endian, CRC-32C, 1 MiB alignment). formats.md §2. */
#ifndef VDSSHIM_VHDX_H
#define VDSSHIM_VHDX_H

#include "diag.h"
#include "endian.h"
#include "image.h"
#include "progress.h"
#include "vhdx_bat.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

#define VHDX_HEADER1_OFFSET     (64 * KiB)
#define VHDX_HEADER2_OFFSET     (128 * KiB)
#define VHDX_REGION1_OFFSET     (192 * KiB)
#define VHDX_REGION2_OFFSET     (256 * KiB)
#define VHDX_HEADER_SIZE        (4 * KiB)
#define VHDX_REGION_SIZE        (64 * KiB)
#define VHDX_HEADER_SECTION     MiB         /* nothing is ever placed below this */
#define VHDX_LOG_SECTOR         4096u
/* How far past an entry's LastFileOffset a log descriptor may reach: more
 * than the largest region a writer could log past the size it recorded (a
 * BAT of 64 TiB in 1 MiB blocks is 512 MiB). MS-VHDX sets no bound [U]. */
#define VHDX_LOG_MAX_PAST_END   (1ull << 30)
#define VHDX_MAX_ENTRIES        2047u       /* region table and metadata table */
#define VHDX_META_TABLE_SIZE    (64 * KiB)
#define VHDX_MAX_LOG            (64 * MiB)  /* a larger log is refused (memory bound) */
#define VHDX_MAX_VIRTUAL_SIZE   (64ull << 40)

/* BAT entry states. Payload: 0-3, 6, 7 (5 = UNMAPPED in spec v0.95: read, never written). */
#define VHDX_PAYLOAD_NOT_PRESENT        0u
#define VHDX_PAYLOAD_UNDEFINED          1u
#define VHDX_PAYLOAD_ZERO               2u
#define VHDX_PAYLOAD_UNMAPPED           3u
#define VHDX_PAYLOAD_UNDEFINED_4        4u      /* no meaning in MS-VHDX: corrupt */
#define VHDX_PAYLOAD_UNMAPPED_V095      5u
#define VHDX_PAYLOAD_FULLY_PRESENT      6u
#define VHDX_PAYLOAD_PARTIALLY_PRESENT  7u
#define VHDX_SB_NOT_PRESENT             0u
#define VHDX_SB_PRESENT                 6u

#define VHDX_BAT_STATE(e)   ((unsigned)((e) & 7))
#define VHDX_BAT_OFFSET(e)  ((e) & ~0xfffffull)
#define VHDX_BAT_RESERVED(e) ((e) & 0xffff8ull)
#define VHDX_BAT_ENTRY(state, off) ((uint64_t)(off) | (state))

/*
 * What a guest reads from a payload block in each state (one table, used by
 * the reader and by the compactor's choice of state for a dropped block):
 *
 *   state              dynamic          differencing
 *   NOT_PRESENT        zeros [U]        parent            [V spec §2.5.1.1]
 *   UNDEFINED          zeros            parent [U]
 *   ZERO               zeros            zeros             [V: reads MUST return zeros]
 *   UNMAPPED (3 or 5)  zeros [U]        zeros [U]
 *   FULLY_PRESENT      file             file
 *   PARTIALLY_PRESENT  (invalid)        file or parent, per sector bitmap
 *
 * [U] rows: the spec allows "undefined" or "pre-unmap" content; qemu and, per
 * the WSL compaction measurements (formats.md §3a), Windows return zeros.
 * Compaction never produces UNDEFINED and never depends on the [U] rows: a
 * dropped dynamic block becomes ZERO, a dropped differencing block ZERO (its
 * content is zeros) or NOT_PRESENT (its content equals the parent's).
 */

struct vhdx_guid
{
    uint8_t b[16];          /* as stored (Microsoft layout: first three fields little-endian) */
};

struct vhdx_header
{
    uint32_t signature;     /* "head" */
    uint32_t checksum;
    uint64_t sequence;
    struct vhdx_guid file_write_guid;
    struct vhdx_guid data_write_guid;
    struct vhdx_guid log_guid;
    uint16_t log_version;   /* 0 */
    uint16_t version;       /* 1 */
    uint32_t log_length;
    uint64_t log_offset;
    uint8_t reserved[4016]; /* kept verbatim */
};


/* The region table's two known regions (MS-VHDX 2.2.2; vhdx_header.c). */
extern const uint8_t vhdx_region_bat[16];
extern const uint8_t vhdx_region_meta[16];

struct vhdx_region
{
    struct vhdx_guid guid;
    uint64_t offset;
    uint32_t length;
    uint32_t required;
};

struct vhdx_region_table
{
    uint32_t entry_count;
    struct vhdx_region entries[VHDX_MAX_ENTRIES];
};

/* Metadata item ids (MS-VHDX 2.6.2) and the parent locator's type (2.6.2.6); vhdx_meta.c. */
extern const uint8_t vhdx_meta_file_params[16];
extern const uint8_t vhdx_meta_disk_size[16];
extern const uint8_t vhdx_meta_page83[16];
extern const uint8_t vhdx_meta_logical_ss[16];
extern const uint8_t vhdx_meta_physical_ss[16];
extern const uint8_t vhdx_meta_parent_loc[16];
extern const uint8_t vhdx_parent_loc_type[16];

#define VHDX_META_IS_USER        0x1u
#define VHDX_META_IS_VIRTUAL     0x2u
#define VHDX_META_IS_REQUIRED    0x4u

/* The parent locator's keys, as UTF-8 once decoded. */
struct vhdx_parent_locator
{
    char *parent_linkage;       /* "{guid}" of the parent's DataWriteGuid */
    char *relative_path;
    char *volume_path;
    char *absolute_win32_path;
};

struct vhdx_meta
{
    uint32_t block_size;
    int leave_blocks_allocated;
    int has_parent;
    uint64_t virtual_size;
    uint32_t disk_size_at;          /* offset of the Virtual Disk Size item in the region */
    struct vhdx_guid disk_id;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    struct vhdx_parent_locator locator;
    /* User metadata items (IsUser), as the table lists them: virtdisk's
     * Enumerate/GetVirtualDiskMetadata read them (metadata.c). */
    struct vhdx_user_item { uint8_t id[16]; uint32_t offset, length; } *user;
    unsigned user_count;
};

/* Log replay overlay: sectors (and zeroed ranges) that a read-only open sees
 * in place of the file's own bytes, as if the log had been replayed. */
struct vhdx_overlay_item
{
    uint64_t offset;            /* 4 KiB aligned */
    uint64_t length;            /* 4096 for a data sector; any 4 KiB multiple for zeros */
    uint8_t *data;              /* the sector, or NULL for zeros */
};

struct vhdx_log_state
{
    struct vhdx_overlay_item *items;    /* applied in order: later ones win */
    size_t nitems;
    uint64_t extend_to;         /* the replayed file is at least this long */
    int replayed;               /* there was an active sequence */
};

struct vhdx
{
    struct vhdx_header header;          /* the current one */
    int current;                        /* 0: header 1 at 64 KiB is current; 1: header 2 */
    int header_updated;                 /* FileWriteGuid renewed since open */
    struct vhdx_region bat_region, meta_region;
    struct vhdx_meta meta;
    uint64_t file_size;                 /* logical: after replay */

    uint64_t chunk_ratio;
    uint64_t payload_blocks;
    uint64_t sb_blocks;
    struct vhdx_bat bat;                /* entries read and kept (vhdx_bat.h) */

    struct vhdx_log_state log;          /* read-only replay overlay */
    uint64_t log_write_offset;          /* where the next log entry goes */
    int log_unapplied;             /* an entry is durable in the log but not yet in place */
    uint64_t log_sequence;              /* sequence number of the next entry */

    /* read path: one cached sector-bitmap chunk region (1 MiB) */
    uint64_t cached_sb;                 /* file offset of the cached SB block, or 0 */
    uint8_t *sb_cache;
};

/* VHDX places every region and block on 1 MiB boundaries (formats.md §2). */
static inline uint64_t vhdx_round_up_mib(uint64_t v)
{
    return (v + MiB - 1) / MiB * MiB;
}

/* Index helpers. */
static inline uint64_t vhdx_payload_index_ratio(uint64_t chunk_ratio, uint64_t block)
{
    return block + block / chunk_ratio;
}
static inline uint64_t vhdx_payload_index(const struct vhdx *v, uint64_t block)
{
    return vhdx_payload_index_ratio(v->chunk_ratio, block);
}
static inline uint64_t vhdx_sb_index(const struct vhdx *v, uint64_t chunk)
{
    return chunk * (v->chunk_ratio + 1) + v->chunk_ratio;
}
/* Whether BAT entry i is a chunk's sector-bitmap entry (else a payload one). */
static inline int vhdx_is_sb_entry(const struct vhdx *v, uint64_t i)
{
    return i % (v->chunk_ratio + 1) == v->chunk_ratio;
}
/* The payload block of payload entry i (the inverse of vhdx_payload_index). */
static inline uint64_t vhdx_block_of_entry(const struct vhdx *v, uint64_t i)
{
    return i - i / (v->chunk_ratio + 1);
}

int vhdx_guid_is_zero(const struct vhdx_guid *g);
/* The LogGuid of a header whose log is empty: no reader replays anything. */
extern const struct vhdx_guid vhdx_no_log;
/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (braces optional) to a stored GUID. */
int vhdx_guid_parse(const char *s, struct vhdx_guid *out);

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", lower case, as Windows writes parent_linkage. */
void vhdx_guid_format(const struct vhdx_guid *g, char out[39]);

/* vhdx_header.c: decode validates; encode fills the checksum. */
int vhdx_header_decode(const uint8_t buf[VHDX_HEADER_SIZE], struct vhdx_header *h, uint64_t at,
                       struct vdsshim_diag *diag);
void vhdx_header_encode(const struct vhdx_header *h, uint8_t buf[VHDX_HEADER_SIZE]);
int vhdx_region_table_decode(const uint8_t buf[VHDX_REGION_SIZE], struct vhdx_region_table *t, uint64_t at,
                             struct vdsshim_diag *diag);
void vhdx_region_table_encode(const struct vhdx_region_table *t, uint8_t buf[VHDX_REGION_SIZE]);

/* vhdx_meta.c: parse the metadata region (raw bytes of the whole region). */
int vhdx_meta_decode(const uint8_t *region, uint32_t len, uint64_t at, struct vhdx_meta *m,
                     struct vdsshim_diag *diag);
void vhdx_meta_free(struct vhdx_meta *m);
/* A parent locator item (formats.md §2.5): parent_linkage from the parent's
 * DataWriteGuid, then relative_path (if any) and absolute_win32_path, UTF-16.
 * *len gets its length; VDSSHIM_E_INVALID_ARG if it does not fit cap. */
/* A system metadata item (one the file has) given a new value: written in
 * free space, flushed, then the table through the log (metadata.c). */
int vhdx_replace_system_item(struct vdsshim_image *img, const uint8_t id[16], const void *data, uint32_t size,
                             struct vdsshim_diag *diag);
int vhdx_parent_locator_encode(uint8_t *item, uint32_t cap, const uint8_t linkage_id[16], const char *relative,
                               const char *absolute, uint32_t *len);

/* vhdx_log.c */
/* Find the active sequence of the log at header's LogOffset; fill the overlay. */
int vhdx_log_load(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag);
/* Write the overlay to disk (read-write open), flush; empties the overlay. */
int vhdx_log_replay_on_disk(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag);
void vhdx_log_free(struct vhdx_log_state *log);
/* Read file bytes as the replayed log shows them. */
int vhdx_file_read(struct vdsshim_image *img, struct vhdx *v, void *buf, size_t len, uint64_t off,
                   const char *what, struct vdsshim_diag *diag);
/*
 * Commit 4 KiB-aligned metadata sectors through the log: entry -> flush ->
 * write in place -> flush. flushed_size is what the file length is known to
 * be (the target size before a shrink). nsectors may be 0 (a pure size entry).
 */
int vhdx_log_commit(struct vdsshim_image *img, struct vhdx *v, const uint64_t *offsets,
                    uint8_t *const *sectors, size_t nsectors, uint64_t flushed_size,
                    uint64_t last_size, struct vdsshim_diag *diag);
/* Start the log over under a fresh LogGuid (header update): earlier entries become invalid. */
int vhdx_log_restart(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag);
/* How many data sectors fit in one log entry. */
size_t vhdx_log_max_sectors(const struct vhdx *v);

/* vhdx.c */
/* Renew FileWriteGuid (once per open) and set log_guid; both header copies, flushed. */
int vhdx_update_headers(struct vdsshim_image *img, struct vhdx *v, const struct vhdx_guid *log_guid,
                        struct vdsshim_diag *diag);
uint64_t vhdx_structure_end(const struct vhdx *v);
/* A dynamic or differencing VHDX made smaller (vhdx_shrink.c): blocks past
 * new_size released, then the size; the file is not truncated here. */
int vhdx_shrink(struct vdsshim_image *img, uint64_t new_size, struct vdsshim_diag *diag);
/* The file's first b->entries BAT entries into b (sized by the caller), a chunk at a time. */
int vhdx_read_bat(struct vdsshim_image *img, struct vhdx *v, struct vhdx_bat *b, struct vdsshim_diag *diag);
/* vhdx_write.c */
int vhdx_present(struct vdsshim_image *img, uint64_t off, size_t len, uint8_t *units, struct vdsshim_diag *diag);
int vhdx_write_units(struct vdsshim_image *img, uint64_t off, const uint8_t *buf, size_t len, const uint8_t *units,
                     struct vdsshim_diag *diag);
/* vhdx.c: after writes whose log entries are all applied and flushed, the log marked empty. */
int vhdx_settle(struct vdsshim_image *img, struct vdsshim_diag *diag);
/* vhdx_expand.c */
int vhdx_expand(struct vdsshim_image *img, uint64_t new_size, struct progress *progress, struct vdsshim_diag *diag);

int vhdx_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts, struct fsmap *fsmap,
                 struct vdsshim_compact_result *res, struct vdsshim_diag *diag);
/* The BAT's 4 KiB sectors marked in dirty_sectors (one byte per sector, nonzero =
 * changed), written through the log, as many per log entry as the log holds. */
int vhdx_write_bat(struct vdsshim_image *img, struct vhdx *v, const uint8_t *dirty_sectors,
                   uint64_t flushed_size, struct vdsshim_diag *diag);

#endif /* VDSSHIM_VHDX_H */
