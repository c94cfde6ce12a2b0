/* The in-memory VHDX BAT: uniform pages as one value (vhdx_bat.h). */
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

static uint64_t page_len(const struct vhdx_bat *b, uint64_t p)
{
    uint64_t first = p * VHDX_BAT_PAGE_ENTRIES;

    return b->entries - first < VHDX_BAT_PAGE_ENTRIES ? b->entries - first : VHDX_BAT_PAGE_ENTRIES;
}

int vhdx_bat_init(struct vhdx_bat *b, uint64_t entries)
{
    memset(b, 0, sizeof(*b));
    return vhdx_bat_resize(b, entries);
}

void vhdx_bat_free(struct vhdx_bat *b)
{
    uint64_t p;

    for (p = 0; p < b->npages; p++) free(b->page[p]);
    free(b->page);
    free(b->fill);
    memset(b, 0, sizeof(*b));
}

int vhdx_bat_resize(struct vhdx_bat *b, uint64_t entries)
{
    uint64_t npages = (entries + VHDX_BAT_PAGE_ENTRIES - 1) / VHDX_BAT_PAGE_ENTRIES, p, i;
    uint64_t **page;
    uint64_t *fill;

    if (npages > SIZE_MAX / sizeof(*page)) return VDSSHIM_E_NOMEM;
    /* A shrinking table first clears what it drops from its last page, so a
     * later growth reads those entries as 0, as a new BAT region has them. */
    for (i = entries; i < b->entries && i % VHDX_BAT_PAGE_ENTRIES; i++)
        if (vhdx_bat_set(b, i, 0)) return VDSSHIM_E_NOMEM;
    for (p = npages; p < b->npages; p++) free(b->page[p]);
    if (npages > b->npages)
    {
        /* The old last page's entries past its end are 0 already (above, or
         * never written); a uniform one must split to stay uniform-correct. */
        if (b->npages && !b->page[b->npages - 1] && b->fill[b->npages - 1] && page_len(b, b->npages - 1) < VHDX_BAT_PAGE_ENTRIES)
        {
            uint64_t last = b->npages - 1, f = b->fill[last], k, n = page_len(b, last);
            if (!(b->page[last] = calloc(VHDX_BAT_PAGE_ENTRIES, 8))) return VDSSHIM_E_NOMEM;
            for (k = 0; k < n; k++) b->page[last][k] = f;
            b->fill[last] = 0;
        }
        if (!(page = realloc(b->page, (size_t)npages * sizeof(*page)))) return VDSSHIM_E_NOMEM;
        b->page = page;
        if (!(fill = realloc(b->fill, (size_t)npages * sizeof(*fill)))) return VDSSHIM_E_NOMEM;
        b->fill = fill;
        for (p = b->npages; p < npages; p++)
        {
            b->page[p] = NULL;
            b->fill[p] = 0;
        }
    }
    b->npages = npages;
    b->entries = entries;
    return VDSSHIM_OK;
}

int vhdx_bat_set(struct vhdx_bat *b, uint64_t i, uint64_t entry)
{
    uint64_t p = i / VHDX_BAT_PAGE_ENTRIES, k;

    if (!b->page[p])
    {
        if (b->fill[p] == entry) return VDSSHIM_OK;
        if (!(b->page[p] = malloc(VHDX_BAT_PAGE_ENTRIES * 8))) return VDSSHIM_E_NOMEM;
        /* Past the table's end a page holds 0, as the BAT region does. */
        for (k = 0; k < VHDX_BAT_PAGE_ENTRIES; k++) b->page[p][k] = k < page_len(b, p) ? b->fill[p] : 0;
    }
    b->page[p][i % VHDX_BAT_PAGE_ENTRIES] = entry;
    return VDSSHIM_OK;
}

int vhdx_bat_load(struct vhdx_bat *b, uint64_t first, const uint8_t *raw, size_t n)
{
    uint64_t p = first / VHDX_BAT_PAGE_ENTRIES, e0 = get_le64(raw);
    size_t k;
    int st = VDSSHIM_OK;

    if (first % VHDX_BAT_PAGE_ENTRIES == 0 && n == page_len(b, p) && !b->page[p])
    {
        for (k = 1; k < n && get_le64(raw + 8 * k) == e0; k++)
            ;
        if (k == n)
        {
            b->fill[p] = e0;
            return VDSSHIM_OK;
        }
    }
    for (k = 0; k < n && !st; k++) st = vhdx_bat_set(b, first + k, get_le64(raw + 8 * k));
    return st;
}

void vhdx_bat_store(const struct vhdx_bat *b, uint64_t first, uint8_t *raw, size_t n)
{
    size_t k;

    for (k = 0; k < n; k++) put_le64(raw + 8 * k, vhdx_bat_get(b, first + k));
}

uint64_t vhdx_bat_next_placed(const struct vhdx_bat *b, uint64_t i)
{
    uint64_t p;

    for (p = i / VHDX_BAT_PAGE_ENTRIES; i < b->entries; p++, i = p * VHDX_BAT_PAGE_ENTRIES)
        if (b->page[p] || VHDX_BAT_OFFSET(b->fill[p])) return i;
    return b->entries;
}

uint64_t vhdx_bat_pages_held(const struct vhdx_bat *b)
{
    uint64_t p, n = 0;

    for (p = 0; p < b->npages; p++) n += !!b->page[p];
    return n;
}
