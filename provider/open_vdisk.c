/*
 * IVdsOpenVDisk: an open handle on a VDisk. It holds the engine image (the
 * file open and locked, read-write when the access mask allows metadata
 * operations) and drives the VDisk's state machine (vdisk.c): attach and
 * detach are logical, the shim surfaces no block device. Compact runs the
 * engine on an async worker: detached -> offline mode; attached read-only ->
 * the file-system-aware mode (ext2/3/4 and FAT free space too).
 *
 * Where each answer comes from. MS-VDS §3.4.5.2.41.4-.6 validate only Flags
 * and ppAsync in the method, then create the async object and hand the rest
 * to the OS; so what the OS decides (access, depths, sizes) is the task's
 * result, through pHrResult, and the state of the VDisk the method's:
 *   method: Flags not a valid OR, ppAsync NULL     E_INVALIDARG, E_POINTER (§5.1: "vendor-specific")
 *   method: the same operation while it runs       VDS_E_VD_ALREADY_COMPACTING / _ALREADY_MERGING /
 *                                                  _DISK_ALREADY_EXPANDING (§2.2.3) [V]
 *   method: another operation, an Attach, Detach   VDS_E_VD_DISK_IS_COMPACTING / _IS_MERGING /
 *           or DetachAndDelete while one runs      _IS_EXPANDING (§2.2.3 texts) [V]
 *   method: Compact while attached read-write      VDS_E_VD_NOT_ATTACHED_READONLY (the SDK Compact page) [V]
 *   method: Merge or Expand while attached         VDS_E_VD_IS_ATTACHED (<147>) [V]
 *   method: any call after DetachAndDelete         VDS_E_OBJECT_DELETED [U]
 *   task:   Compact, Merge, Expand without METAOPS E_ACCESSDENIED (CompactVirtualDisk needs METAOPS) [U code]
 *   task:   Merge with MergeDepth 0, or with       E_INVALIDARG (ERROR_INVALID_PARAMETER as HRESULT;
 *           ReadWriteDepth below MergeDepth + 1    the spec's example opens with ReadWriteDepth 2 for
 *                                                  MergeDepth 1; note <146> says >=) [U]
 *   task:   Expand to a smaller size               E_INVALIDARG (ExpandVirtualDisk's ERROR_INVALID_PARAMETER) [U]
 *   task:   Compact of a fixed disk, Merge of a    ERROR_VHD_INVALID_TYPE 0xC03A001B [U]
 *           disk with no parent, Expand of a
 *           differencing one
 *   DetachAndDelete of a detached disk             VDS_E_VD_ALREADY_DETACHED, the file kept: its
 *                                                  first step, the detach, fails (§3.4.5.2.41.3 "in
 *                                                  sequence"; deleting after a failed step would
 *                                                  destroy a file on a refused call) [U]
 *   DetachAndDelete without METAOPS or DETACH      E_ACCESSDENIED [U]
 *   Attach without the attach access it needs      E_ACCESSDENIED [U]
 *   Releasing the last handle of an attached disk  the disk stays attached, VDS_VST_ATTACHED_NOT_OPEN,
 *                                                  until Detach or the service ends (§2.2.2.19.1.1) [V]
 * Expand applies to fixed and dynamic disks (the SDK Expand page) [V].
 */
#include <stdlib.h>

#include "provider_private.h"
#include "operation.h"

struct open_vdisk
{
    IVdsOpenVDisk IVdsOpenVDisk_iface;
    LONG refcount;
    struct client_link link;
    IVdsVDisk *vdisk;           /* the opening client's object for the VDisk */
    VIRTUAL_DISK_ACCESS_MASK access;
    ULONG rw_depth;
    struct vdsshim_image *img;      /* NULL once DetachAndDelete removed the file */
};

static struct open_vdisk *impl_from_IVdsOpenVDisk(IVdsOpenVDisk *iface)
{
    return CONTAINING_RECORD(iface, struct open_vdisk, IVdsOpenVDisk_iface);
}

static HRESULT WINAPI open_vdisk_QueryInterface(IVdsOpenVDisk *iface, REFIID riid, void **out)
{
    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsOpenVDisk))
    {
        *out = iface;
        IVdsOpenVDisk_AddRef(iface);
        return S_OK;
    }
    WARN("no interface %s.\n", debugstr_guid(riid));
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI open_vdisk_AddRef(IVdsOpenVDisk *iface)
{
    return InterlockedIncrement(&impl_from_IVdsOpenVDisk(iface)->refcount);
}

static ULONG WINAPI open_vdisk_Release(IVdsOpenVDisk *iface)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    ULONG ref = InterlockedDecrement(&o->refcount);

    if (!ref)
    {
        /* Releasing the handle closes the file; an attachment stays. A handle
         * that DetachAndDelete closed has given the VDisk up already. */
        if (o->img)
        {
            vdsshim_close(o->img);
            vdisk_close(o->vdisk);
        }
        client_untrack(&o->link);
        IVdsVDisk_Release(o->vdisk);
        free(o);
        provider_unref();
    }
    return ref;
}

/* Attach completes at once: nothing is surfaced, only the state changes. */
static HRESULT attach_job_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    (void)job;
    (void)progress;
    (void)ctx;
    return S_OK;
}

static void attach_job_destroy(struct async_job *job)
{
    free(job);
}

static HRESULT WINAPI open_vdisk_Attach(IVdsOpenVDisk *iface, LPWSTR sd, ATTACH_VIRTUAL_DISK_FLAG flags,
                                        ULONG provider_flags, ULONG timeout, IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    BOOL read_only = !!(flags & ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY);
    struct async_job *job;
    HRESULT hr;

    TRACE("iface %p, sd %s, flags %#x, provider_flags %#lx, timeout %lu, async %p.\n", iface, debugstr_w(sd),
          flags, provider_flags, timeout, async);
    if (!async) return E_POINTER;
    *async = NULL;
    /* PERMANENT_LIFETIME "MUST NOT be used" by VDS clients; provider flags 0 or 1, 1 without an SD (<141>). */
    if (flags & ~(ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY | ATTACH_VIRTUAL_DISK_FLAG_NO_DRIVE_LETTER
                  | ATTACH_VIRTUAL_DISK_FLAG_NO_LOCAL_HOST))
        return E_INVALIDARG;
    if (provider_flags > 1 || (provider_flags == 1 && sd)) return E_INVALIDARG;
    if (!o->img) return VDS_E_OBJECT_DELETED;
    if (!(o->access & (read_only ? VIRTUAL_DISK_ACCESS_ATTACH_RO | VIRTUAL_DISK_ACCESS_ATTACH_RW
                                 : VIRTUAL_DISK_ACCESS_ATTACH_RW)))
        return E_ACCESSDENIED;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->run = attach_job_run;
    job->destroy = attach_job_destroy;
    if (FAILED(hr = vdisk_attach(o->vdisk, &o->img, read_only ? ATTACH_RO : ATTACH_RW)))
    {
        free(job);
        return hr;
    }
    if (FAILED(hr = async_create(o->link.client, VDS_ASYNCOUT_ATTACH_VDISK, job, async)))
    {
        free(job);
        vdisk_detach(o->vdisk, &o->img);
    }
    return hr;
}

static HRESULT WINAPI open_vdisk_Detach(IVdsOpenVDisk *iface, DETACH_VIRTUAL_DISK_FLAG flags, ULONG provider_flags)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);

    TRACE("iface %p, flags %#x, provider_flags %#lx.\n", iface, flags, provider_flags);
    if (flags || provider_flags) return E_INVALIDARG;   /* only DETACH_VIRTUAL_DISK_FLAG_NONE exists */
    return vdisk_detach(o->vdisk, &o->img);
}

/* Detach, close the file, delete it. The handle stays, but can do nothing
 * more; the VDisk reports VDS_VST_DELETED. */
static HRESULT WINAPI open_vdisk_DetachAndDelete(IVdsOpenVDisk *iface, DETACH_VIRTUAL_DISK_FLAG flags,
                                                 ULONG provider_flags)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct vdsshim_diag diag = { .msg = { 0 } };
    enum attach_state attached;
    char *path;
    HRESULT hr;
    int st;

    TRACE("iface %p, flags %#x, provider_flags %#lx.\n", iface, flags, provider_flags);
    if (flags || provider_flags) return E_INVALIDARG;
    if (!o->img) return VDS_E_OBJECT_DELETED;
    if (!(o->access & (VIRTUAL_DISK_ACCESS_METAOPS | VIRTUAL_DISK_ACCESS_DETACH))) return E_ACCESSDENIED;
    if (!(path = utf8_from_wide(vdisk_path(o->vdisk)))) return E_OUTOFMEMORY;
    if (FAILED(hr = vdisk_op_begin(o->vdisk, &o->img, BUSY_DELETING, &attached)))
    {
        free(path);
        return hr;
    }
    /* Our own handle is the one that holds the file open and locked. */
    vdsshim_close(o->img);
    st = vdsshim_delete_file(path, &diag);
    free(path);
    /* The handle is closed either way: if the file stays, it is no longer ours. */
    vdisk_delete_end(o->vdisk, &o->img, !st);
    if (!st) return S_OK;
    WARN("%s\n", diag.msg);
    return hr_from_status(st, &diag);
}

/* Compact, Merge and Expand: a job that runs an engine operation on its worker. */
struct engine_job
{
    struct async_job job;
    struct open_vdisk *open;
    BOOL fs_aware;              /* Compact: the disk was attached read-only when called */
    ULONG depth;                /* Merge */
    ULONGLONG size;             /* Expand */
};

/* Each runs on the job's worker through the operation layer virtdisk.dll
 * uses too (shared/operation.c). */
static HRESULT engine_job_run(struct engine_job *ij, const struct vd_operation *rq, int (*progress)(void *, unsigned),
                             void *ctx)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    int st = vd_operation_run(ij->open->img, rq, progress, ctx, &diag);

    return hr_from_status(st, &diag);
}

static HRESULT compact_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct engine_job *ij = CONTAINING_RECORD(job, struct engine_job, job);
    /* Attached read-only is Windows' file-system-aware mode (§5.5): also the
     * space the guest's file systems mark free goes. */
    struct vd_operation rq = { .kind = VD_OPERATION_COMPACT,
                               .compact_flags = ij->fs_aware ? VDSSHIM_COMPACT_FS_AWARE : 0 };

    return engine_job_run(ij, &rq, progress, ctx);
}

static HRESULT merge_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct engine_job *ij = CONTAINING_RECORD(job, struct engine_job, job);
    struct vd_operation rq = { .kind = VD_OPERATION_MERGE, .depth = ij->depth };

    return engine_job_run(ij, &rq, progress, ctx);
}

static HRESULT expand_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct engine_job *ij = CONTAINING_RECORD(job, struct engine_job, job);
    struct vd_operation rq = { .kind = VD_OPERATION_EXPAND, .size = ij->size };

    return engine_job_run(ij, &rq, progress, ctx);
}

/* On the worker once run has returned: the VDisk leaves its busy state with
 * the image's new info, and the job lets go of the handle, so that a client
 * that releases its own references after Wait finds the file closed. */
static void engine_job_finish(struct async_job *job)
{
    struct engine_job *ij = CONTAINING_RECORD(job, struct engine_job, job);
    struct vdsshim_info info;

    vdsshim_get_info(ij->open->img, &info);
    vdisk_op_end(ij->open->vdisk, &info);
    IVdsOpenVDisk_Release(&ij->open->IVdsOpenVDisk_iface);
    ij->open = NULL;
}

static void engine_job_destroy(struct async_job *job)
{
    struct engine_job *ij = CONTAINING_RECORD(job, struct engine_job, job);

    if (ij->open) engine_job_finish(job);    /* the job never ran */
    free(ij);
}

/* The VDisk enters op's busy state, then the job runs; or the task fails
 * with task_error (what the OS would refuse: the access, a depth, a size). */
static HRESULT start_engine_job(struct open_vdisk *o, enum busy_op op, HRESULT task_error, ULONG depth, ULONGLONG size,
                               IVdsAsync **async)
{
    static const VDS_ASYNC_OUTPUT_TYPE types[] =
    {
        [BUSY_COMPACTING] = VDS_ASYNCOUT_COMPACT_VDISK,
        [BUSY_MERGING] = VDS_ASYNCOUT_MERGE_VDISK,
        [BUSY_EXPANDING] = VDS_ASYNCOUT_EXPAND_VDISK,
    };
    struct engine_job *job;
    enum attach_state attached;
    HRESULT hr;

    if (!(o->access & VIRTUAL_DISK_ACCESS_METAOPS)) task_error = E_ACCESSDENIED;
    if (FAILED(task_error))
    {
        if (FAILED(hr = vdisk_op_check(o->vdisk, &o->img, op))) return hr;
        return async_create_failed(o->link.client, types[op], task_error, async);
    }
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    if (FAILED(hr = vdisk_op_begin(o->vdisk, &o->img, op, &attached)))
    {
        free(job);
        return hr;
    }
    job->job.cancellable = TRUE;
    job->job.run = op == BUSY_COMPACTING ? compact_run : op == BUSY_MERGING ? merge_run : expand_run;
    job->job.destroy = engine_job_destroy;
    job->job.finish = engine_job_finish;
    job->open = o;
    job->fs_aware = attached == ATTACH_RO;
    job->depth = depth;
    job->size = size;
    IVdsOpenVDisk_AddRef(&o->IVdsOpenVDisk_iface);      /* the job keeps the handle, and the file, alive */
    if (FAILED(hr = async_create(o->link.client, types[op], &job->job, async))) engine_job_destroy(&job->job);
    return hr;
}

static HRESULT WINAPI open_vdisk_Compact(IVdsOpenVDisk *iface, COMPACT_VIRTUAL_DISK_FLAG flags, ULONG reserved,
                                         IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);

    TRACE("iface %p, flags %#x, reserved %#lx, async %p.\n", iface, flags, reserved, async);
    if (!async) return E_POINTER;
    *async = NULL;                                                      /* on every early return */
    if (flags != COMPACT_VIRTUAL_DISK_FLAG_NONE) return E_INVALIDARG;  /* the only value (§3.7) */
    /* Reserved is ignored (§5.1). */
    return start_engine_job(o, BUSY_COMPACTING, S_OK, 0, 0, async);
}

static HRESULT WINAPI open_vdisk_Merge(IVdsOpenVDisk *iface, MERGE_VIRTUAL_DISK_FLAG flags, ULONG depth,
                                       IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);

    TRACE("iface %p, flags %#x, depth %lu, async %p.\n", iface, flags, depth, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags) return E_INVALIDARG;
    /* The target, MergeDepth files above the child, must be open read-write. */
    return start_engine_job(o, BUSY_MERGING, !depth || o->rw_depth < depth + 1 ? E_INVALIDARG : S_OK, depth, 0, async);
}

static HRESULT WINAPI open_vdisk_Expand(IVdsOpenVDisk *iface, EXPAND_VIRTUAL_DISK_FLAG flags, ULONGLONG size,
                                        IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct vdisk_state s;

    TRACE("iface %p, flags %#x, size %llu, async %p.\n", iface, flags, (unsigned long long)size, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags) return E_INVALIDARG;
    /* The engine refuses a smaller size too; the table's code is decided here. */
    vdisk_snapshot(o->vdisk, &s);
    return start_engine_job(o, BUSY_EXPANDING, s.have_info && size < s.info.virtual_size ? E_INVALIDARG : S_OK, 0,
                           size, async);
}

static const IVdsOpenVDiskVtbl open_vdisk_vtbl =
{
    /* IUnknown methods */
    open_vdisk_QueryInterface,
    open_vdisk_AddRef,
    open_vdisk_Release,
    /* IVdsOpenVDisk methods */
    open_vdisk_Attach,
    open_vdisk_Detach,
    open_vdisk_DetachAndDelete,
    open_vdisk_Compact,
    open_vdisk_Merge,
    open_vdisk_Expand,
};

HRESULT open_vdisk_create(IVdsVDisk *vdisk, VIRTUAL_DISK_ACCESS_MASK access, OPEN_VIRTUAL_DISK_FLAG flags,
                          ULONG rw_depth, IVdsOpenVDisk **out)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    const VIRTUAL_STORAGE_TYPE *type = vdisk_type(vdisk);
    struct vdsshim_info info;
    struct open_vdisk *o;
    unsigned open_flags = 0;
    char *path;
    HRESULT hr;
    int st;

    *out = NULL;
    /* Metadata operations and read-write attach write the file; the chain
     * above the child is always read-only (ReadWriteDepth counts from the child). */
    if ((access & (VIRTUAL_DISK_ACCESS_METAOPS | VIRTUAL_DISK_ACCESS_ATTACH_RW)) && rw_depth)
        open_flags |= VDSSHIM_OPEN_WRITE;
    if (flags & OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS) open_flags |= VDSSHIM_OPEN_NO_PARENTS;
    /* Deeper than 1: that many files of the chain read-write (Merge's targets). */
    else if ((open_flags & VDSSHIM_OPEN_WRITE) && rw_depth > 1)
        open_flags |= VDSSHIM_OPEN_PARENTS_WRITE(rw_depth - 1 > 255 ? 255 : rw_depth - 1);
    if (!(o = calloc(1, sizeof(*o)))) return E_OUTOFMEMORY;
    if (!(path = utf8_from_wide(vdisk_path(vdisk))))
    {
        free(o);
        return E_OUTOFMEMORY;
    }
    vdisk_file_lock(vdisk, TRUE);
    if (FAILED(hr = vdisk_open_begin(vdisk, access)))
    {
        vdisk_file_lock(vdisk, FALSE);
        free(path);
        free(o);
        return hr;
    }
    st = vdsshim_open(path, open_flags, &o->img, &diag);
    vdisk_file_lock(vdisk, FALSE);
    free(path);
    if (st)
    {
        WARN("%s: %s\n", debugstr_w(vdisk_path(vdisk)), diag.msg);
        hr = hr_from_status(st, &diag);
    }
    else if (vdsshim_get_info(o->img, &info), !vdisk_type_matches(type, info.format))
    {
        /* A file of another format than the type the VDisk was added with. */
        WARN("%s is not a %s file\n", debugstr_w(vdisk_path(vdisk)),
             type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHD ? "VHD" : "VHDX");
        vdsshim_close(o->img);
        hr = VDSSHIM_ERROR_VHD_FORMAT_UNKNOWN;
    }
    if (FAILED(hr))
    {
        vdisk_open_end(vdisk, NULL);
        free(o);
        return hr;
    }
    o->IVdsOpenVDisk_iface.lpVtbl = &open_vdisk_vtbl;
    o->refcount = 1;
    o->access = access;
    o->rw_depth = rw_depth;
    o->vdisk = vdisk;
    IVdsVDisk_AddRef(vdisk);
    vdisk_open_end(vdisk, &info);
    client_track(vdisk_client(vdisk), &o->link, (IUnknown *)&o->IVdsOpenVDisk_iface, &o->refcount, NULL);
    provider_ref();
    *out = &o->IVdsOpenVDisk_iface;
    return S_OK;
}
