/*
 * The long operations (Compact, Merge, Expand, Resize), their asynchronous
 * form and progress, and the logical attach (virtdisk-reference.md §3.3-3.10,
 * §4.1).
 *
 * Without an OVERLAPPED a call runs to its end and returns the result. With
 * one it returns ERROR_IO_PENDING at once and runs on a thread-pool worker;
 * GetVirtualDiskOperationProgress finds the operation by (handle,
 * OVERLAPPED) and reports ERROR_IO_PENDING while it runs, then its result;
 * CurrentValue/CompletionValue are percent of 100.
 *
 * Cancellation is CancelIoEx(handle, overlapped), as for any I/O (the
 * reference, §4.2). CancelIoEx goes to wineserver and never reaches a DLL,
 * so the operation is made a real I/O that wineserver can cancel: while it
 * runs, a one-byte read is pending on the handle's own pipe (handle.c) with
 * the client's OVERLAPPED as its status block, issued with a private event
 * (its low bit set: no completion-port packet) by this DLL's I/O thread,
 * which stays in an alertable wait so that Wine can deliver the read's
 * completion to it [V: Wine 8, probed]. Then:
 *   - CancelIoEx(handle, overlapped) finds that read and cancels it: it
 *     returns TRUE, the private event fires, the worker's next progress
 *     callback tells the engine to stop at its next safe point (the image
 *     stays valid), and the operation ends with ERROR_OPERATION_ABORTED:
 *     Internal STATUS_CANCELLED, which GetOverlappedResult gives as 995;
 *     an operation that ends before it notices ends with its own result
 *     ("too late", as the contract allows);
 *   - with nothing running CancelIoEx finds nothing: FALSE, ERROR_NOT_FOUND;
 *   - at its end the worker completes the read from the pipe's server end,
 *     one byte for success, two for a failure (the read then ends with
 *     STATUS_BUFFER_OVERFLOW: never success, even for a client that polls
 *     Internal in the instant before the final value, which may read as
 *     ERROR_MORE_DATA then), drains what is left,
 *     writes the final Internal (0, or 0xC007xxxx: the Win32 code in the low
 *     word; the 32-bit ERROR_VHD_* codes do not fit and read as 317 there
 *     [V S6], so their exact value is OperationStatus's) and sets the
 *     client's event.
 * The worker holds a duplicate of the handle while it runs, so a client
 * that closes its handle mid-run releases the disk at the operation's end.
 * CancelIo (the calling thread's I/O only) does not reach it: the read is
 * the I/O thread's.
 * VDSSHIM_TEST_HOOKS=1 holds workers running while the named event
 * "vdsshim-test-hold-jobs" exists, as in the VDS provider, so that tests see
 * progress of a running operation without timing.
 * Choices where the reference is silent [U]: a cancelled operation's
 * OperationStatus is ERROR_OPERATION_ABORTED (995, CancelIoEx's code); a
 * second operation while one runs ERROR_BUSY; an operation without write access ERROR_ACCESS_DENIED;
 * Attach when attached, Detach or GetVirtualDiskPhysicalPath when not,
 * ERROR_INVALID_STATE; the path of a logical attach ERROR_NOT_SUPPORTED
 * (no device is surfaced); PERMANENT_LIFETIME ERROR_NOT_SUPPORTED; an
 * OVERLAPPED the handle never started ERROR_INVALID_PARAMETER; a Version 2
 * merge with MergeSourceDepth 0, a target no deeper than the source, or a
 * source past the chain ERROR_INVALID_PARAMETER, and from the chain's base
 * (no parent) ERROR_VHD_INVALID_TYPE, as a Version 1 merge of a disk
 * without parent.
 */
#include <stdlib.h>

#include "virtdisk_private.h"
#include "test_hooks.h"
#include "operation.h"

enum op_kind { OP_COMPACT, OP_MERGE, OP_EXPAND, OP_SHRINK };

/* STATUS_CANCELLED, which GetOverlappedResult turns into ERROR_OPERATION_ABORTED
 * (mingw's headers define it only with the NT ones). */
#define STATUS_CANCELLED_VALUE 0xC0000120u

struct vd_op
{
    struct vd_op *next;
    OVERLAPPED *overlapped;
    struct vd_disk *disk;
    enum op_kind kind;
    unsigned flags;             /* compact */
    unsigned depth;             /* merge: the target's depth below the leaf (the levels opened writable) */
    ULONGLONG size;             /* expand, shrink */
    volatile LONG percent;
    volatile LONG running;
    DWORD status;
    /* OVERLAPPED operations: the cancellable read (see above) */
    HANDLE client;              /* a duplicate of the client's handle, while it runs */
    HANDLE read_event;          /* the read's private event: it ended (cancelled, or completed by the worker) */
    HANDLE issued;              /* the I/O thread has issued the read */
    BYTE read_byte;
    DWORD issue_error;
};

void vd_ops_free(struct vd_op *ops)
{
    while (ops)
    {
        struct vd_op *next = ops->next;
        if (ops->read_event) CloseHandle(ops->read_event);
        if (ops->issued) CloseHandle(ops->issued);
        free(ops);
        ops = next;
    }
}

/* Whether the client cancelled: the pending read ended before the worker ended it. */
static BOOL op_cancelled(const struct vd_op *op)
{
    return op->read_event && WaitForSingleObject(op->read_event, 0) == WAIT_OBJECT_0;
}

static int op_progress(void *ctx, unsigned pct)
{
    struct vd_op *op = ctx;

    if ((LONG)pct > op->percent) InterlockedExchange(&op->percent, (LONG)pct);
    return op_cancelled(op);
}

/* The I/O thread: issues the cancellable reads, and takes their completions
 * (Wine delivers them to the issuing thread, in any of its waits). It lives
 * as long as the process; the DLL is pinned so that it stays mapped. */
static HANDLE io_thread;

static DWORD WINAPI io_thread_main(void *arg)
{
    (void)arg;
    for (;;) SleepEx(INFINITE, TRUE);
    return 0;
}

static BOOL CALLBACK io_thread_start(INIT_ONCE *once, void *param, void **ctx)
{
    HMODULE self;

    (void)once; (void)param; (void)ctx;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            (const WCHAR *)io_thread_main, &self))
        return FALSE;
    return (io_thread = CreateThread(NULL, 0, io_thread_main, NULL, 0, NULL)) != NULL;
}

static void CALLBACK issue_read(ULONG_PTR arg)
{
    struct vd_op *op = (struct vd_op *)arg;
    OVERLAPPED *ov = op->overlapped;
    HANDLE event = ov->hEvent;

    /* The client's own event is set only with the final result (op_finish). */
    ov->hEvent = (HANDLE)((ULONG_PTR)op->read_event | 1);
    if (ReadFile(op->client, &op->read_byte, 1, NULL, ov)) op->issue_error = ERROR_GEN_FAILURE;  /* nothing was written */
    else op->issue_error = GetLastError() == ERROR_IO_PENDING ? ERROR_SUCCESS : GetLastError();
    ov->hEvent = event;
    SetEvent(op->issued);
}

/* Make the running operation a pending read on the client's handle. */
static DWORD op_issue_read(struct vd_op *op, HANDLE handle)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

    if (!InitOnceExecuteOnce(&once, io_thread_start, NULL, NULL)) return GetLastError();
    if ((!op->read_event && !(op->read_event = CreateEventW(NULL, TRUE, FALSE, NULL)))
        || (!op->issued && !(op->issued = CreateEventW(NULL, FALSE, FALSE, NULL))))
        return GetLastError();
    ResetEvent(op->read_event);
    if (!DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), &op->client, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
        return GetLastError();
    if (!QueueUserAPC(issue_read, io_thread, (ULONG_PTR)op)) return GetLastError();
    WaitForSingleObject(op->issued, INFINITE);
    return op->issue_error;
}

/* Read and drop the n bytes of ours the operation's read did not take, so
 * that they cannot end the next operation's read. Never blocks for long:
 * the bytes are in the pipe already. */
static void drain(HANDLE client, DWORD n)
{
    OVERLAPPED d = { 0 };
    HANDLE event = CreateEventW(NULL, TRUE, FALSE, NULL);
    BYTE rest[4];

    if (!event) return;
    d.hEvent = (HANDLE)((ULONG_PTR)event | 1);      /* no completion-port packet */
    if (!ReadFile(client, rest, n, NULL, &d) && GetLastError() == ERROR_IO_PENDING
        && WaitForSingleObject(event, 5000) != WAIT_OBJECT_0)
    {
        ERR("%lu bytes of an operation's completion stay in the pipe\n", n);
        CancelIoEx(client, &d);
        WaitForSingleObject(event, INFINITE);
    }
    CloseHandle(event);
}

/* End the pending read (unless the client cancelled it), then publish the
 * final result in the OVERLAPPED and set the client's event. */
static void op_finish(struct vd_op *op, struct vd_disk *disk, DWORD status)
{
    OVERLAPPED *ov = op->overlapped, w = { 0 };
    DWORD wrote = 0, left, got;
    BOOL pending = FALSE;

    if (!op_cancelled(op) && (w.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)))
    {
        /* The pipe has no buffer: the write completes once the message is read, all of it. */
        wrote = status ? 2 : 1;
        if (WriteFile(disk->server, "vd", wrote, NULL, &w)) pending = FALSE;
        else if (GetLastError() == ERROR_IO_PENDING) pending = TRUE;
        else
        {
            ERR("cannot complete the operation's read: error %lu\n", GetLastError());
            wrote = 0;
            CancelIoEx(op->client, ov);
        }
        /* The read ends: with our message, or cancelled by a CancelIoEx that raced it. */
        WaitForSingleObject(op->read_event, INFINITE);
    }
    /* The read took one byte of ours, or none if the cancel won. */
    left = !wrote ? 0 : ov->Internal == STATUS_CANCELLED_VALUE ? wrote : wrote - 1;
    if (left) drain(op->client, left);
    if (pending) GetOverlappedResult(disk->server, &w, &got, TRUE);
    if (w.hEvent) CloseHandle(w.hEvent);
    CloseHandle(op->client);
    op->client = NULL;
    ov->InternalHigh = 0;
    if (status == ERROR_OPERATION_ABORTED) ov->Internal = STATUS_CANCELLED_VALUE;
    else ov->Internal = status ? (ULONG_PTR)(0xC0070000u | (status & 0xffff)) : 0;
    if (ov->hEvent) SetEvent(ov->hEvent);
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
    struct vd_operation rq = { 0 };
    struct vd_disk *disk = op->disk;
    int st;

    if (!disk->img) return ERROR_INVALID_HANDLE;
    if (op->kind == OP_COMPACT)
    {
        rq.kind = VD_OPERATION_COMPACT;
        rq.compact_flags = op->flags;
        /* Attached read-only is Windows' file-system-aware mode (§3.3). */
        if (disk->attached && disk->attached_ro) rq.compact_flags |= VDSSHIM_COMPACT_FS_AWARE;
    }
    else if (op->kind == OP_MERGE)
    {
        DWORD err = reopen_for_merge(disk, op->depth);

        if (err) return err;
        rq.kind = VD_OPERATION_MERGE;
        /* flags: how many parents above the leaf the source is (V2's MergeSourceDepth - 1). */
        rq.source = op->flags;
        rq.depth = op->depth - op->flags;
    }
    else
    {
        rq.kind = op->kind == OP_SHRINK ? VD_OPERATION_SHRINK : VD_OPERATION_EXPAND;
        rq.size = op->size;
    }
    if ((st = vd_operation_run(disk->img, &rq, op_progress, op, &diag)))
        WARN("%s: %s\n", debugstr_w(disk->path), vdsshim_status_name(st));
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
    struct vd_disk *disk = op->disk;
    DWORD status;

    (void)instance;
    /* A cancel ends the test hook's hold too, as it would end a real wait. */
    test_hold_job(op->read_event);
    status = op_cancelled(op) ? ERROR_OPERATION_ABORTED : op_run(op);
    /* The engine stopped for the cancel: the contract's code, whatever the engine's. */
    if (status && op_cancelled(op)) status = ERROR_OPERATION_ABORTED;
    op_end(op, status);
    op_finish(op, disk, status);
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

/* Start (or run) an operation the caller has validated, on the client's handle. */
static DWORD op_start(struct vd_disk *disk, HANDLE handle, OVERLAPPED *overlapped, enum op_kind kind, unsigned flags,
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
    if ((status = op_issue_read(op, handle)))
    {
        WARN("cannot make the operation cancellable: error %lu\n", status);
        if (op->client) CloseHandle(op->client);
        op->client = NULL;
        op_end(op, status);
        return status;
    }
    InterlockedIncrement(&disk->refcount);
    if (!TrySubmitThreadpoolCallback(op_worker, op, NULL))
    {
        status = GetLastError();
        op_end(op, status);
        op_finish(op, disk, status);
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
        err = op_start(disk, handle, overlapped, OP_COMPACT, flags, 0, 0);
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI MergeVirtualDisk(HANDLE handle, MERGE_VIRTUAL_DISK_FLAG flags, PMERGE_VIRTUAL_DISK_PARAMETERS params,
                              LPOVERLAPPED overlapped)
{
    struct vd_disk *disk;
    unsigned depth = 0, source = 0;
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
        /* The leaf is depth 1; the source's data, and that of the disks
         * between it and the target, go into the target (§3.4). A source
         * below the leaf leaves every reader of the chain as it was. */
        source = params->Version2.MergeSourceDepth;
        if (!source || params->Version2.MergeTargetDepth <= source || params->Version2.MergeTargetDepth > 256)
            err = ERROR_INVALID_PARAMETER;
        else depth = params->Version2.MergeTargetDepth - 1;
    }
    else err = ERROR_INVALID_PARAMETER;
    if (!err) err = op_start(disk, handle, overlapped, OP_MERGE, source ? source - 1 : 0, depth, 0);
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
    else err = op_start(disk, handle, overlapped, OP_EXPAND, 0, 0, params->Version1.NewSize);
    vd_disk_release(disk);
    return err;
}

/*
 * ResizeVirtualDisk to a smaller size (virtdisk-reference.md §3.6). The
 * smallest safe size is the end of the last partition (GPT's backup
 * included; vdsshim_smallest_safe_size). Codes by their message texts [U]:
 *   RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE with a NewSize  ERROR_INVALID_PARAMETER
 *   no partition table to compute it from                0xC03A0026 COULD_NOT_COMPUTE_MINIMUM_VIRTUAL_SIZE
 *   to the smallest, already there or below              0xC03A0027 ALREADY_AT_OR_BELOW_MINIMUM_VIRTUAL_SIZE
 *   below it without ALLOW_UNSAFE_VIRTUAL_SIZE           0xC03A0025 RESIZE_WOULD_TRUNCATE_DATA
 *   a VHD (cannot shrink crash-safely)                   ERROR_NOT_SUPPORTED, with a WARN
 *   a fixed or differencing VHDX                         ERROR_VHD_INVALID_TYPE (the engine's WRONG_TYPE)
 * ALLOW_UNSAFE_VIRTUAL_SIZE shrinks without the check, as documented.
 */
static DWORD resize_down(struct vd_disk *disk, HANDLE handle, RESIZE_VIRTUAL_DISK_FLAG flags, ULONGLONG size,
                         const struct vdsshim_info *info, LPOVERLAPPED overlapped)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint64_t safe = 0;
    int st = VDSSHIM_OK;

    if ((flags & RESIZE_VIRTUAL_DISK_FLAG_RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE) && size) return ERROR_INVALID_PARAMETER;
    if (disk->attached) return ERROR_INVALID_STATE;
    if (disk->type.DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)
    {
        WARN("shrinking a VHD is not supported (its footers and BAT cannot change crash-safely)\n");
        return ERROR_NOT_SUPPORTED;
    }
    if ((flags & RESIZE_VIRTUAL_DISK_FLAG_RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE)
        || !(flags & RESIZE_VIRTUAL_DISK_FLAG_ALLOW_UNSAFE_VIRTUAL_SIZE))
        st = vdsshim_smallest_safe_size(disk->img, &safe, &diag);
    if (st)
    {
        WARN("no smallest safe size: %s\n", diag.msg);
        return st == VDSSHIM_E_UNSUPPORTED ? VDSSHIM_WIN32_VHD_COULD_NOT_COMPUTE_MINIMUM_VIRTUAL_SIZE
                                           : win32_from_status(st, &diag);
    }
    if (flags & RESIZE_VIRTUAL_DISK_FLAG_RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE)
    {
        if (safe >= info->virtual_size) return VDSSHIM_WIN32_VHD_ALREADY_AT_OR_BELOW_MINIMUM_VIRTUAL_SIZE;
        size = safe;
    }
    else if (!(flags & RESIZE_VIRTUAL_DISK_FLAG_ALLOW_UNSAFE_VIRTUAL_SIZE) && size < safe)
        return VDSSHIM_WIN32_VHD_RESIZE_WOULD_TRUNCATE_DATA;
    if (size == info->virtual_size) return op_start(disk, handle, overlapped, OP_EXPAND, 0, 0, size);
    return op_start(disk, handle, overlapped, OP_SHRINK, 0, 0, size);
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
        err = resize_down(disk, handle, flags, params->Version1.NewSize, &info, overlapped);
    else err = op_start(disk, handle, overlapped, OP_EXPAND, 0, 0, params->Version1.NewSize);
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
