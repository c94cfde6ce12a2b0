/* Progress reporting (progress.h). */
#include "progress.h"

int progress_report(struct progress *p, unsigned lo, unsigned hi, uint64_t done, uint64_t total)
{
    unsigned pct = total ? lo + (unsigned)((double)(hi - lo) * (double)done / (double)total) : hi;

    if (pct > hi) pct = hi;
    if (pct < p->last) pct = p->last;   /* never backwards */
    p->last = pct;
    if (p->fn && p->fn(p->ctx, pct)) return VDSSHIM_E_CANCELLED;
    return VDSSHIM_OK;
}
