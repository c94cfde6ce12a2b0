/*
 * The VHDX BAT in memory, held a page at a time so that memory follows what
 * an image uses, not its virtual size: a 64 TiB VHDX in 1 MiB blocks has a
 * BAT of 512 MiB, almost all of it one repeated entry (NOT_PRESENT, or ZERO
 * and UNMAPPED after a trim).
 *
 * A page is the 512 entries of one 4 KiB BAT sector, the unit the log writes.
 * Most of a page is one repeated entry (fill), because blocks are unique and
 * the entries without one repeat: a page keeps its fill and up to
 * VHDX_BAT_FEW entries that differ (index, value; 68 bytes plus 8 per
 * entry), and only a denser page gets all its 4 KiB. An ext4 on 1 TiB puts
 * a metadata block every 2 GiB, one in every BAT page: this is what keeps
 * its cost near the 256 GiB one's. The directory costs 24 bytes per page:
 * 3 MiB at 64 TiB in 1 MiB blocks.
 */
#ifndef VDSSHIM_VHDX_BAT_H
#define VDSSHIM_VHDX_BAT_H

#include <stddef.h>
#include <stdint.h>

#define VHDX_BAT_PAGE_ENTRIES 512u
#define VHDX_BAT_FEW 32u

/* A page's entries that differ from its fill, sorted by index in the page. */
struct vhdx_bat_few
{
    uint16_t n, cap;
    uint16_t at[VHDX_BAT_FEW];
    uint64_t val[];         /* cap of them */
};

struct vhdx_bat
{
    uint64_t entries;
    uint64_t npages;
    uint64_t **page;        /* all 512 entries, or NULL */
    struct vhdx_bat_few **few; /* else the entries that differ from fill, or NULL */
    uint64_t *fill;
};

uint64_t vhdx_bat_few_get(const struct vhdx_bat_few *f, unsigned k, uint64_t fill);

static inline uint64_t vhdx_bat_get(const struct vhdx_bat *b, uint64_t i)
{
    uint64_t p = i / VHDX_BAT_PAGE_ENTRIES;

    if (b->page[p]) return b->page[p][i % VHDX_BAT_PAGE_ENTRIES];
    return b->few[p] ? vhdx_bat_few_get(b->few[p], (unsigned)(i % VHDX_BAT_PAGE_ENTRIES), b->fill[p]) : b->fill[p];
}

/* Every entry 0 (NOT_PRESENT). VDSSHIM_OK or VDSSHIM_E_NOMEM. */
int vhdx_bat_init(struct vhdx_bat *b, uint64_t entries);
void vhdx_bat_free(struct vhdx_bat *b);
/* Grows (new entries 0) or shrinks the table. */
int vhdx_bat_resize(struct vhdx_bat *b, uint64_t entries);
/* One entry; VDSSHIM_E_NOMEM only when a page must grow. */
int vhdx_bat_set(struct vhdx_bat *b, uint64_t i, uint64_t entry);
/* Entries [first, first + n) of one page, from their little-endian bytes. */
int vhdx_bat_load(struct vhdx_bat *b, uint64_t first, const uint8_t *raw, size_t n);
/* Entries [first, first + n) as little-endian bytes. */
void vhdx_bat_store(const struct vhdx_bat *b, uint64_t first, uint8_t *raw, size_t n);
/*
 * The first index >= i that may hold a block: uniform pages whose entry
 * has no file offset are skipped whole. b->entries when there is none.
 */
uint64_t vhdx_bat_next_placed(const struct vhdx_bat *b, uint64_t i);
/* Pages given their own memory: whole (all 512 entries) and few (for tests). */
uint64_t vhdx_bat_pages_held(const struct vhdx_bat *b);
uint64_t vhdx_bat_pages_whole(const struct vhdx_bat *b);

#endif
