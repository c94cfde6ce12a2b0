/* Progress reporting that never goes backwards and asks for cancellation (progress.c). Not installed. */
#ifndef VDSSHIM_PROGRESS_H
#define VDSSHIM_PROGRESS_H

#include <stdint.h>

#include "vdsshim.h"

struct progress
{
    vdsshim_progress_fn fn;
    void *ctx;
    unsigned last;
};
/* Report done/total scaled into [lo, hi]; VDSSHIM_E_CANCELLED if the callback asks. */
int progress_report(struct progress *p, unsigned lo, unsigned hi, uint64_t done, uint64_t total);

#endif /* VDSSHIM_PROGRESS_H */
