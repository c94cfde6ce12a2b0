/*
 * The operation layer both DLLs run their long operations through, as
 * Windows' VDS virtual-disk provider runs its own through virtdisk: one
 * place that turns a request (compact, merge, expand, shrink) into the
 * engine call, with progress and cancellation through the engine's progress
 * callback and the outcome traced the same way. Threads, OVERLAPPED and
 * IVdsAsync stay with each API (virtdisk/ops.c, open_vdisk.c and async.c).
 */
#ifndef VDSSHIM_OPERATION_H
#define VDSSHIM_OPERATION_H

#include <stdint.h>

#include "vdsshim.h"

enum vd_operation_kind { VD_OPERATION_COMPACT, VD_OPERATION_MERGE, VD_OPERATION_EXPAND, VD_OPERATION_SHRINK };

struct vd_operation
{
    enum vd_operation_kind kind;
    unsigned compact_flags;     /* compact: VDSSHIM_COMPACT_* */
    unsigned depth;             /* merge: levels, from the source */
    unsigned source;            /* merge: the source's parents above the leaf (0: the leaf) */
    uint64_t size;              /* expand, shrink: the new virtual size */
};

/* Runs op on img, on the caller's (worker) thread; fn gets the percentage
 * and returns non-zero to cancel. The engine's status; diag says why. */
int vd_operation_run(struct vdsshim_image *img, const struct vd_operation *op, vdsshim_progress_fn fn, void *ctx,
                     struct vdsshim_diag *diag);

#endif
