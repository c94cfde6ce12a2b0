/* The in-memory VHDX BAT: a page is its fill, few exceptions, or whole (vhdx_bat.h). */
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

static uint64_t page_len(const struct vhdx_bat *b, uint64_t p)
{
    uint64_t first = p * VHDX_BAT_PAGE_ENTRIES;

    return b->entries - first < VHDX_BAT_PAGE_ENTRIES ? b->entries - first : VHDX_BAT_PAGE_ENTRIES;
}

/* Where k is in f, or where it would go. */
static unsigned few_find(const struct vhdx_bat_few *f, unsigned k)
{
    unsigned lo = 0, hi = f->n;

    while (lo < hi)
    {
        unsigned mid = (lo + hi) / 2;
        if (f->at[mid] < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

uint64_t vhdx_bat_few_get(const struct vhdx_bat_few *f, unsigned k, uint64_t fill)
{
    unsigned j = few_find(f, k);

    return j < f->n && f->at[j] == k ? f->val[j] : fill;
}

/* Page p with all its entries in memory; past the table's end they are 0,
 * as the BAT region has them. */
static int make_whole(struct vhdx_bat *b, uint64_t p)
{
    uint64_t *e, k, n = page_len(b, p);
    struct vhdx_bat_few *f = b->few[p];

    if (b->page[p]) return VDSSHIM_OK;
    if (!(e = malloc(VHDX_BAT_PAGE_ENTRIES * 8))) return VDSSHIM_E_NOMEM;
    for (k = 0; k < VHDX_BAT_PAGE_ENTRIES; k++) e[k] = k < n ? b->fill[p] : 0;
    for (k = 0; f && k < f->n; k++) e[f->at[k]] = f->val[k];
    free(f);
    b->few[p] = NULL;
    b->fill[p] = 0;
    b->page[p] = e;
    return VDSSHIM_OK;
}

int vhdx_bat_init(struct vhdx_bat *b, uint64_t entries)
{
    memset(b, 0, sizeof(*b));
    return vhdx_bat_resize(b, entries);
}

void vhdx_bat_free(struct vhdx_bat *b)
{
    uint64_t p;

    for (p = 0; p < b->npages; p++)
    {
        free(b->page[p]);
        free(b->few[p]);
    }
    free(b->page);
    free(b->few);
    free(b->fill);
    memset(b, 0, sizeof(*b));
}

int vhdx_bat_resize(struct vhdx_bat *b, uint64_t entries)
{
    uint64_t npages = (entries + VHDX_BAT_PAGE_ENTRIES - 1) / VHDX_BAT_PAGE_ENTRIES, p, k;
    void *np;

    if (npages > SIZE_MAX / sizeof(*b->page)) return VDSSHIM_E_NOMEM;
    if (entries < b->entries)
    {
        /* What the new last page drops is cleared, so a later growth reads
         * those entries as 0, as a new BAT region has them. */
        for (p = npages; p < b->npages; p++)
        {
            free(b->page[p]);
            free(b->few[p]);
            b->page[p] = NULL;
            b->few[p] = NULL;
        }
        if (entries % VHDX_BAT_PAGE_ENTRIES)
        {
            p = entries / VHDX_BAT_PAGE_ENTRIES;
            if (make_whole(b, p)) return VDSSHIM_E_NOMEM;
            for (k = entries % VHDX_BAT_PAGE_ENTRIES; k < VHDX_BAT_PAGE_ENTRIES; k++) b->page[p][k] = 0;
        }
    }
    else if (npages > b->npages)
    {
        /* An old short last page: its entries past the old end must read 0. */
        if (b->npages && b->fill[b->npages - 1] && page_len(b, b->npages - 1) < VHDX_BAT_PAGE_ENTRIES
            && make_whole(b, b->npages - 1))
            return VDSSHIM_E_NOMEM;
        if (!(np = realloc(b->page, (size_t)npages * sizeof(*b->page)))) return VDSSHIM_E_NOMEM;
        b->page = np;
        if (!(np = realloc(b->few, (size_t)npages * sizeof(*b->few)))) return VDSSHIM_E_NOMEM;
        b->few = np;
        if (!(np = realloc(b->fill, (size_t)npages * sizeof(*b->fill)))) return VDSSHIM_E_NOMEM;
        b->fill = np;
        for (p = b->npages; p < npages; p++)
        {
            b->page[p] = NULL;
            b->few[p] = NULL;
            b->fill[p] = 0;
        }
    }
    else if (b->npages && b->fill[b->npages - 1] && page_len(b, b->npages - 1) < VHDX_BAT_PAGE_ENTRIES
             && entries > b->entries && make_whole(b, b->npages - 1))
        return VDSSHIM_E_NOMEM;     /* growing inside the last page */
    b->npages = npages;
    b->entries = entries;
    return VDSSHIM_OK;
}

int vhdx_bat_set(struct vhdx_bat *b, uint64_t i, uint64_t entry)
{
    uint64_t p = i / VHDX_BAT_PAGE_ENTRIES;
    unsigned k = (unsigned)(i % VHDX_BAT_PAGE_ENTRIES), j;
    struct vhdx_bat_few *f;

    if (b->page[p])
    {
        b->page[p][k] = entry;
        return VDSSHIM_OK;
    }
    f = b->few[p];
    j = f ? few_find(f, k) : 0;
    if (f && j < f->n && f->at[j] == k)
    {
        f->val[j] = entry;      /* kept even when it equals fill again: cheap, and correct */
        return VDSSHIM_OK;
    }
    if (entry == b->fill[p]) return VDSSHIM_OK;
    if (f && f->n == VHDX_BAT_FEW)
    {
        if (make_whole(b, p)) return VDSSHIM_E_NOMEM;
        b->page[p][k] = entry;
        return VDSSHIM_OK;
    }
    if (!f || f->n == f->cap)
    {
        unsigned cap = f ? f->cap * 2u : 2u;
        struct vhdx_bat_few *g = realloc(f, sizeof(*g) + cap * sizeof(g->val[0]));
        if (!g) return VDSSHIM_E_NOMEM;
        if (!f) g->n = 0;
        g->cap = (uint16_t)cap;
        b->few[p] = f = g;
    }
    memmove(f->at + j + 1, f->at + j, (f->n - j) * sizeof(f->at[0]));
    memmove(f->val + j + 1, f->val + j, (f->n - j) * sizeof(f->val[0]));
    f->at[j] = (uint16_t)k;
    f->val[j] = entry;
    f->n++;
    return VDSSHIM_OK;
}

int vhdx_bat_load(struct vhdx_bat *b, uint64_t first, const uint8_t *raw, size_t n)
{
    uint64_t p = first / VHDX_BAT_PAGE_ENTRIES, fill;
    size_t k, differ = 0;
    int st = VDSSHIM_OK;

    if (first % VHDX_BAT_PAGE_ENTRIES == 0 && n == page_len(b, p) && !b->page[p] && !b->few[p])
    {
        /* The fill: the first entry without a block (those are the ones that
         * repeat; every entry with a block is unique). */
        for (k = 0; k < n && VHDX_BAT_OFFSET(get_le64(raw + 8 * k)); k++)
            ;
        fill = get_le64(raw + 8 * (k < n ? k : 0));
        for (k = 0; k < n; k++) differ += get_le64(raw + 8 * k) != fill;
        if (differ > VHDX_BAT_FEW)
        {
            if (make_whole(b, p)) return VDSSHIM_E_NOMEM;
            for (k = 0; k < n; k++) b->page[p][k] = get_le64(raw + 8 * k);
            return VDSSHIM_OK;
        }
        b->fill[p] = fill;
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
        if (b->page[p] || b->few[p] || VHDX_BAT_OFFSET(b->fill[p])) return i;
    return b->entries;
}

uint64_t vhdx_bat_pages_held(const struct vhdx_bat *b)
{
    uint64_t p, n = 0;

    for (p = 0; p < b->npages; p++) n += b->page[p] || b->few[p];
    return n;
}

uint64_t vhdx_bat_pages_whole(const struct vhdx_bat *b)
{
    uint64_t p, n = 0;

    for (p = 0; p < b->npages; p++) n += !!b->page[p];
    return n;
}
