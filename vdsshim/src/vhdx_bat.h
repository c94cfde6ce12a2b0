/*
 * The VHDX BAT in memory, held a page at a time so that memory follows what
 * an image uses, not its virtual size: a 64 TiB VHDX in 1 MiB blocks has a
 * BAT of 512 MiB, almost all of it one repeated entry (NOT_PRESENT, or ZERO
 * and UNMAPPED after a trim).
 *
 * A page is the 512 entries of one 4 KiB BAT sector, the unit the log writes.
 * A page whose entries are all equal is kept as that one value; the first
 * write of a different value gives it its own 4 KiB. The directory costs
 * 16 bytes per page: 2 MiB at 64 TiB in 1 MiB blocks.
 */
#ifndef VDSSHIM_VHDX_BAT_H
#define VDSSHIM_VHDX_BAT_H

#include <stddef.h>
#include <stdint.h>

#define VHDX_BAT_PAGE_ENTRIES 512u

struct vhdx_bat
{
    uint64_t entries;
    uint64_t npages;
    uint64_t **page;        /* NULL: every entry of the page is fill[p] */
    uint64_t *fill;
};

static inline uint64_t vhdx_bat_get(const struct vhdx_bat *b, uint64_t i)
{
    uint64_t p = i / VHDX_BAT_PAGE_ENTRIES;

    return b->page[p] ? b->page[p][i % VHDX_BAT_PAGE_ENTRIES] : b->fill[p];
}

/* Every entry 0 (NOT_PRESENT). VDSSHIM_OK or VDSSHIM_E_NOMEM. */
int vhdx_bat_init(struct vhdx_bat *b, uint64_t entries);
void vhdx_bat_free(struct vhdx_bat *b);
/* Grows (new entries 0) or shrinks the table. */
int vhdx_bat_resize(struct vhdx_bat *b, uint64_t entries);
/* One entry; VDSSHIM_E_NOMEM only when a uniform page must be split. */
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
/* Pages given their own memory (for tests and the bench). */
uint64_t vhdx_bat_pages_held(const struct vhdx_bat *b);

#endif
