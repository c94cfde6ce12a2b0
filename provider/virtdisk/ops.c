/*
 * The long operations (Compact, Merge, Expand, Resize), their asynchronous
 * form and progress, and the logical attach (virtdisk-reference.md §3.3-3.10,
 * §4.1).
 *
 * Without an OVERLAPPED a call runs to its end and returns the result. With
 * one it returns ERROR_IO_PENDING at once and runs on a thread-pool worker:
 * Internal is STATUS_PENDING meanwhile; at the end Internal holds the result
 * as an NTSTATUS GetOverlappedResult turns back into it (0xC007xxxx: the
 * Win32 code in the low word; the 32-bit ERROR_VHD_* codes do not fit and
 * read as 317 there [V S6], so their exact value is OperationStatus's),
 * then the event is set. GetVirtualDiskOperationProgress finds the
 * operation by (handle, OVERLAPPED) and reports ERROR_IO_PENDING while it
 * runs, then its result; CurrentValue/CompletionValue are percent of 100.
 * Cancellation: CancelIoEx goes to wineserver and never reaches a DLL (the
 * reference, §4.2), so an operation runs to its end; the engine's writes
 * are crash-safe, so a process killed meanwhile leaves a valid image.
 * VDSSHIM_TEST_HOOKS=1 holds workers running while the named event
 * "vdsshim-test-hold-jobs" exists, as in the VDS provider, so that tests see
 * progress of a running operation without timing.
 * Choices where the reference is silent [U]: a second operation while one
 * runs ERROR_BUSY; an operation without write access ERROR_ACCESS_DENIED;
 * Attach when attached, Detach or GetVirtualDiskPhysicalPath when not,
 * ERROR_INVALID_STATE; the path of a logical attach ERROR_NOT_SUPPORTED
 * (no device is surfaced); PERMANENT_LIFETIME ERROR_NOT_SUPPORTED; an
 * OVERLAPPED the handle never started ERROR_INVALID_PARAMETER.
 */
#include <stdlib.h>

#include "virtdisk_private.h"
#include "test_hooks.h"

enum op_kind { OP_COMPACT, OP_MERGE, OP_EXPAND };

struct vd_op
{
    struct vd_op *next;
    OVERLAPPED *overlapped;
    struct vd_disk *disk;
    enum op_kind kind;
    unsigned flags;             /* compact */
    unsigned depth;             /* merge */
    ULONGLONG size;             /* expand */
    volatile LONG percent;
    volatile LONG running;
    DWORD status;
};

void vd_ops_free(struct vd_op *ops)
{
    while (ops)
    {
        struct vd_op *next = ops->next;
        free(ops);
        ops = next;
    }
}

static int op_progress(void *ctx, unsigned pct)
{
    struct vd_op *op = ctx;

    if ((LONG)pct > op->percent) InterlockedExchange(&op->percent, (LONG)pct);
    return 0;
}

/* Merge writes into parents: reopen with them read-write if the handle did not. */
static DWORD reopen_for_merge(struct vd_disk *disk, unsigned depth)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    char *utf8;
    int st;

    if (!disk->v2 && disk->rw_depth > depth) return ERROR_SUCCESS;
    if (!(utf8 = vd_utf8(disk->path))) return ERROR_NOT_ENOUGH_MEMORY;
    vdsshim_close(disk->img);
    disk->img = NULL;
    st = vdsshim_open(utf8, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(depth), &img, &diag);
    if (st)
    {
        /* Back as it was, or the handle has no image (its calls then fail). */
        WARN("reopening %s for the merge: %s\n", debugstr_w(disk->path), diag.msg);
        if (vdsshim_open(utf8, VDSSHIM_OPEN_WRITE, &disk->img, &diag)) disk->img = NULL;
        free(utf8);
        return win32_from_status(st, &diag);
    }
    free(utf8);
    disk->img = img;
    return ERROR_SUCCESS;
}

static DWORD op_run(struct vd_op *op)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vd_disk *disk = op->disk;
    int st;

    if (!disk->img) return ERROR_INVALID_HANDLE;
    if (op->kind == OP_COMPACT)
    {
        struct vdsshim_compact_options opts = { op->flags, op_progress, op };
        struct vdsshim_compact_result res;

        /* Attached read-only is Windows' file-system-aware mode (§3.3). */
        if (disk->attached && disk->attached_ro) opts.flags |= VDSSHIM_COMPACT_FS_AWARE;
        st = vdsshim_compact(disk->img, &opts, &res, &diag);
    }
    else
    {
        struct vdsshim_op_options opts = { op_progress, op };

        if (op->kind == OP_MERGE)
        {
            struct vdsshim_merge_result res;
            DWORD err = reopen_for_merge(disk, op->depth);

            if (err) return err;
            st = vdsshim_merge(disk->img, op->depth, &opts, &res, &diag);
        }
        else st = vdsshim_expand(disk->img, op->size, &opts, &diag);
    }
    if (st) WARN("%s: %s: %s\n", debugstr_w(disk->path), vdsshim_status_name(st), diag.msg);
    return win32_from_status(st, &diag);
}

static void op_end(struct vd_op *op, DWORD status)
{
    struct vd_disk *disk = op->disk;

    EnterCriticalSection(&disk->cs);
    op->status = status;
    if (!status) op->percent = 100;
    op->running = FALSE;
    disk->busy = FALSE;
    LeaveCriticalSection(&disk->cs);
}

static void CALLBACK op_worker(PTP_CALLBACK_INSTANCE instance, void *ctx)
{
    struct vd_op *op = ctx;
    OVERLAPPED *ov = op->overlapped;
    struct vd_disk *disk = op->disk;
    DWORD status;

    (void)instance;
    test_hold_job(NULL);
    status = op_run(op);
    op_end(op, status);
    ov->InternalHigh = 0;
    ov->Internal = status ? (ULONG_PTR)(0xC0070000u | (status & 0xffff)) : 0;
    if (ov->hEvent) SetEvent(ov->hEvent);
    vd_disk_release(disk);      /* the worker's reference */
}

/* The record for overlapped on disk, made or reused; under disk->cs. */
static struct vd_op *op_record(struct vd_disk *disk, OVERLAPPED *overlapped)
{
    struct vd_op *op;

    for (op = disk->ops; op; op = op->next)
        if (op->overlapped == overlapped) return op;
    if (!(op = calloc(1, sizeof(*op)))) return NULL;
    op->overlapped = overlapped;
    op->next = disk->ops;
    disk->ops = op;
    return op;
}

/* Start (or run) an operation the caller has validated. */
static DWORD op_start(struct vd_disk *disk, OVERLAPPED *overlapped, enum op_kind kind, unsigned flags,
                      unsigned depth, ULONGLONG size)
{
    struct vd_op local = { 0 }, *op = &local;
    DWORD status;

    if (!vd_disk_can_metaops(disk)) return ERROR_ACCESS_DENIED;
    EnterCriticalSection(&disk->cs);
    if (disk->busy)
    {
        LeaveCriticalSection(&disk->cs);
        return ERROR_BUSY;
    }
    if (overlapped && !(op = op_record(disk, overlapped)))
    {
        LeaveCriticalSection(&disk->cs);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    disk->busy = TRUE;
    op->disk = disk;
    op->kind = kind;
    op->flags = flags;
    op->depth = depth;
    op->size = size;
    op->percent = 0;
    op->running = TRUE;
    op->status = ERROR_IO_PENDING;
    LeaveCriticalSection(&disk->cs);
    if (!overlapped)
    {
        status = op_run(op);
        op_end(op, status);
        return status;
    }
    overlapped->Internal = 0x103;   /* STATUS_PENDING */
    overlapped->InternalHigh = 0;
    if (overlapped->hEvent) ResetEvent(overlapped->hEvent);
    InterlockedIncrement(&disk->refcount);
    if (!TrySubmitThreadpoolCallback(op_worker, op, NULL))
    {
        status = GetLastError();
        op_end(op, status);
        vd_disk_release(disk);
        return status;
    }
    return ERROR_IO_PENDING;
}

/* Every handle-taking entry point: the disk, or the error to return. */
#define GET_DISK(handle, disk) \
    do { if (!((disk) = vd_handle_get(handle))) return ERROR_INVALID_HANDLE; } while (0)

DWORD WINAPI CompactVirtualDisk(HANDLE handle, COMPACT_VIRTUAL_DISK_FLAG flags, PCOMPACT_VIRTUAL_DISK_PARAMETERS params,
                                LPOVERLAPPED overlapped)
{
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, flags %#x, params %p, overlapped %p\n", handle, flags, params, overlapped);
    GET_DISK(handle, disk);
    if ((flags & ~(COMPACT_VIRTUAL_DISK_FLAG_NO_ZERO_SCAN | COMPACT_VIRTUAL_DISK_FLAG_NO_BLOCK_MOVES))
        || (params && params->Version != COMPACT_VIRTUAL_DISK_VERSION_1))
        err = ERROR_INVALID_PARAMETER;
    else
        err = op_start(disk, overlapped, OP_COMPACT, flags, 0, 0);
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI MergeVirtualDisk(HANDLE handle, MERGE_VIRTUAL_DISK_FLAG flags, PMERGE_VIRTUAL_DISK_PARAMETERS params,
                              LPOVERLAPPED overlapped)
{
    struct vd_disk *disk;
    unsigned depth = 0;
    DWORD err = ERROR_SUCCESS;

    TRACE("handle %p, flags %#x, params %p, overlapped %p\n", handle, flags, params, overlapped);
    GET_DISK(handle, disk);
    if (flags || !params) err = ERROR_INVALID_PARAMETER;
    else if (params->Version == MERGE_VIRTUAL_DISK_VERSION_1)
    {
        /* RWDepth must exceed MergeDepth: the stricter of the two sources (§3.4). */
        depth = params->Version1.MergeDepth;
        if (!depth || (!disk->v2 && disk->rw_depth <= depth)) err = ERROR_INVALID_PARAMETER;
    }
    else if (params->Version == MERGE_VIRTUAL_DISK_VERSION_2)
    {
        /* Leaf = depth 1; merging from deeper than the leaf would change no reader. */
        if (params->Version2.MergeSourceDepth != 1) err = params->Version2.MergeSourceDepth ? ERROR_NOT_SUPPORTED
                                                                                           : ERROR_INVALID_PARAMETER;
        else if (params->Version2.MergeTargetDepth <= 1) err = ERROR_INVALID_PARAMETER;
        else depth = params->Version2.MergeTargetDepth - 1;
    }
    else err = ERROR_INVALID_PARAMETER;
    if (!err) err = op_start(disk, overlapped, OP_MERGE, 0, depth, 0);
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI ExpandVirtualDisk(HANDLE handle, EXPAND_VIRTUAL_DISK_FLAG flags, PEXPAND_VIRTUAL_DISK_PARAMETERS params,
                               LPOVERLAPPED overlapped)
{
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, flags %#x, params %p, overlapped %p\n", handle, flags, params, overlapped);
    GET_DISK(handle, disk);
    if (flags || !params || params->Version != EXPAND_VIRTUAL_DISK_VERSION_1) err = ERROR_INVALID_PARAMETER;
    else if (disk->attached) err = ERROR_INVALID_STATE;    /* "a detached disk" (§3.5) */
    else err = op_start(disk, overlapped, OP_EXPAND, 0, 0, params->Version1.NewSize);
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI ResizeVirtualDisk(HANDLE handle, RESIZE_VIRTUAL_DISK_FLAG flags, PRESIZE_VIRTUAL_DISK_PARAMETERS params,
                               LPOVERLAPPED overlapped)
{
    struct vdsshim_info info;
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, flags %#x, params %p, overlapped %p\n", handle, flags, params, overlapped);
    GET_DISK(handle, disk);
    if ((flags & ~(RESIZE_VIRTUAL_DISK_FLAG_ALLOW_UNSAFE_VIRTUAL_SIZE
                   | RESIZE_VIRTUAL_DISK_FLAG_RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE))
        || !params || params->Version != RESIZE_VIRTUAL_DISK_VERSION_1)
        err = ERROR_INVALID_PARAMETER;
    else if (!disk->img) err = ERROR_INVALID_HANDLE;
    else if (vdsshim_get_info(disk->img, &info), flags || params->Version1.NewSize < info.virtual_size)
    {
        /* Shrinking needs the smallest safe size (partitions, file systems): not yet. */
        WARN("shrinking (flags %#x, %llu -> %llu bytes) is not supported yet\n", flags,
             (unsigned long long)info.virtual_size, (unsigned long long)params->Version1.NewSize);
        err = ERROR_NOT_SUPPORTED;
    }
    else err = op_start(disk, overlapped, OP_EXPAND, 0, 0, params->Version1.NewSize);
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI GetVirtualDiskOperationProgress(HANDLE handle, LPOVERLAPPED overlapped, PVIRTUAL_DISK_PROGRESS progress)
{
    struct vd_disk *disk;
    struct vd_op *op;
    DWORD err = ERROR_INVALID_PARAMETER;

    TRACE("handle %p, overlapped %p, progress %p\n", handle, overlapped, progress);
    GET_DISK(handle, disk);
    if (overlapped && progress)
    {
        EnterCriticalSection(&disk->cs);
        for (op = disk->ops; op; op = op->next)
            if (op->overlapped == overlapped)
            {
                progress->OperationStatus = op->running ? ERROR_IO_PENDING : op->status;
                progress->CurrentValue = (ULONGLONG)op->percent;
                progress->CompletionValue = 100;
                err = ERROR_SUCCESS;
                break;
            }
        LeaveCriticalSection(&disk->cs);
    }
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI AttachVirtualDisk(HANDLE handle, PSECURITY_DESCRIPTOR sd, ATTACH_VIRTUAL_DISK_FLAG flags,
                               ULONG provider_flags, PATTACH_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped)
{
    BOOL ro = !!(flags & ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY);
    struct vd_disk *disk;
    DWORD err = ERROR_SUCCESS;

    TRACE("handle %p, sd %p, flags %#x, provider_flags %#lx, params %p, overlapped %p\n", handle, sd, flags,
          provider_flags, params, overlapped);
    GET_DISK(handle, disk);
    if ((flags & ~0x3ffu) || provider_flags
        || (params && params->Version != ATTACH_VIRTUAL_DISK_VERSION_1 && params->Version != ATTACH_VIRTUAL_DISK_VERSION_2))
        err = ERROR_INVALID_PARAMETER;
    else if (flags & ATTACH_VIRTUAL_DISK_FLAG_PERMANENT_LIFETIME)
    {
        WARN("a permanent attach outlives the process: not supported\n");
        err = ERROR_NOT_SUPPORTED;
    }
    else if (disk->info_only
             || (!disk->v2 && !(disk->mask & (ro ? VIRTUAL_DISK_ACCESS_ATTACH_RO | VIRTUAL_DISK_ACCESS_ATTACH_RW
                                                  : VIRTUAL_DISK_ACCESS_ATTACH_RW)))
             || (disk->v2 && disk->read_only && !ro))
        err = ERROR_ACCESS_DENIED;
    else
    {
        EnterCriticalSection(&disk->cs);
        if (disk->attached) err = ERROR_INVALID_STATE;
        else if (disk->busy) err = ERROR_BUSY;
        else
        {
            disk->attached = TRUE;
            disk->attached_ro = ro;
        }
        LeaveCriticalSection(&disk->cs);
    }
    if (overlapped && !err)
    {
        overlapped->Internal = overlapped->InternalHigh = 0;
        if (overlapped->hEvent) SetEvent(overlapped->hEvent);
    }
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI DetachVirtualDisk(HANDLE handle, DETACH_VIRTUAL_DISK_FLAG flags, ULONG provider_flags)
{
    struct vd_disk *disk;
    DWORD err = ERROR_SUCCESS;

    TRACE("handle %p, flags %#x, provider_flags %#lx\n", handle, flags, provider_flags);
    GET_DISK(handle, disk);
    if (flags || provider_flags) err = ERROR_INVALID_PARAMETER;
    else
    {
        EnterCriticalSection(&disk->cs);
        if (!disk->attached) err = ERROR_INVALID_STATE;
        else if (disk->busy) err = ERROR_BUSY;
        else disk->attached = FALSE;
        LeaveCriticalSection(&disk->cs);
    }
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI GetVirtualDiskPhysicalPath(HANDLE handle, PULONG size, PWSTR path)
{
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, size %p, path %p\n", handle, size, path);
    GET_DISK(handle, disk);
    if (!size) err = ERROR_INVALID_PARAMETER;
    else if (!disk->attached) err = ERROR_INVALID_STATE;
    else
    {
        WARN("a logical attach surfaces no physical drive\n");
        err = ERROR_NOT_SUPPORTED;
    }
    (void)path;
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI GetAllAttachedVirtualDiskPhysicalPaths(PULONG size, PWSTR paths)
{
    TRACE("size %p, paths %p\n", size, paths);
    if (!size) return ERROR_INVALID_PARAMETER;
    /* No attach surfaces a drive: the empty MULTI_SZ, one NUL (§3.10). */
    if (*size < sizeof(WCHAR) || !paths)
    {
        *size = sizeof(WCHAR);
        return ERROR_INSUFFICIENT_BUFFER;
    }
    paths[0] = 0;
    *size = sizeof(WCHAR);
    return ERROR_SUCCESS;
}
