/* The shared operation layer (operation.h). */
#include <stdio.h>
#include <windows.h>

#include "debug.h"
#include "operation.h"

static const char *const names[] = { "compaction", "merge", "expansion", "shrink" };

int vd_operation_run(struct vdsshim_image *img, const struct vd_operation *op, vdsshim_progress_fn fn, void *ctx,
                     struct vdsshim_diag *diag)
{
    struct vdsshim_op_options opts = { fn, ctx };
    int st;

    if (op->kind == VD_OPERATION_COMPACT)
    {
        struct vdsshim_compact_options copts = { .flags = op->compact_flags, .progress = fn, .progress_ctx = ctx };
        struct vdsshim_compact_result res;

        if (!(st = vdsshim_compact(img, &copts, &res, diag)))
        {
            char line[256];
            unsigned i;

            TRACE("compaction: %llu -> %llu bytes, %llu flushes\n", (unsigned long long)res.size_before,
                  (unsigned long long)res.size_after, (unsigned long long)res.flushes);
            /* Neither API has a channel for it: the per-volume report goes to the debug log. */
            for (i = 0; i < res.fs_report_count; i++)
            {
                vdsshim_fs_report_text(&res.fs_reports[i], line, sizeof(line));
                TRACE("%s\n", line);
            }
        }
    }
    else if (op->kind == VD_OPERATION_MERGE)
    {
        struct vdsshim_merge_result res;
        struct vdsshim_image *source = img;
        unsigned i;

        /* A source below the leaf: its parent chain, as the leaf opened it. */
        for (i = 0; i < op->source && source; i++) source = vdsshim_parent(source);
        if (!source)
        {
            st = VDSSHIM_E_INVALID_ARG;
            snprintf(diag->msg, sizeof(diag->msg), "the chain has no disk at depth %u", op->source + 1);
        }
        else if (!(st = vdsshim_merge(source, op->depth, &opts, &res, diag)))
            TRACE("merge: %llu bytes into parent %u\n", (unsigned long long)res.bytes_merged, op->depth);
    }
    else if (op->kind == VD_OPERATION_SHRINK) st = vdsshim_shrink(img, op->size, &opts, diag);
    else st = vdsshim_expand(img, op->size, &opts, diag);
    if (st) WARN("%s: %s: %s\n", names[op->kind], vdsshim_status_name(st), diag->msg);
    return st;
}
