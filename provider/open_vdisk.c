/*
 * IVdsOpenVDisk: an open handle on a VDisk. It holds the engine image (the
 * file open and locked, read-write when the access mask allows metadata
 * operations) and drives the VDisk's state machine: attach and detach are
 * logical, the shim surfaces no block device. Compact runs the engine on an
 * async worker: detached -> offline mode; attached read-only -> the
 * file-system-aware mode (ext2/3/4 and FAT free space too).
 *
 * Codes where Windows' exact choice is unverified ([U], vds-reference.md §8):
 *   Compact, Merge, Expand without VIRTUAL_DISK_ACCESS_METAOPS  E_ACCESSDENIED
 *   Compact while attached read-write                 VDS_E_VD_NOT_ATTACHED_READONLY
 *   the same operation while it runs                  VDS_E_VD_ALREADY_COMPACTING / _ALREADY_MERGING /
 *                                                     _DISK_ALREADY_EXPANDING
 *   another operation while one runs                  VDS_E_VD_DISK_IS_COMPACTING / _IS_MERGING / _IS_EXPANDING
 *   Compact of a fixed disk, Expand of a fixed or     ERROR_VHD_INVALID_TYPE 0xC03A001B (task result)
 *   differencing one, Merge of a disk with no parent
 *   Merge or Expand while attached                    VDS_E_VD_IS_ATTACHED (<147>: Expand needs a detached disk)
 *   Merge with MergeDepth 0, or ReadWriteDepth below  E_INVALIDARG (the spec's example opens with
 *   MergeDepth + 1                                    ReadWriteDepth 2 for MergeDepth 1; note <146> says >=)
 *   Expand to a smaller size                          E_INVALIDARG
 *   Attach/Detach/DetachAndDelete while busy          VDS_E_VDISK_INVALID_OP_STATE
 *   DetachAndDelete without METAOPS or DETACH access  E_ACCESSDENIED
 *   DetachAndDelete of a detached disk                deletes it (the goal state is "detached, gone")
 *   any call on a handle after DetachAndDelete        VDS_E_OBJECT_DELETED
 *   Attach without the attach access it needs         E_ACCESSDENIED
 *   Releasing the last handle of an attached disk     detaches it (no PERMANENT_LIFETIME in VDS)
 * NULL out-pointers give E_POINTER, bad flags E_INVALIDARG (§5.1: "vendor-specific").
 */
#include <stdlib.h>

#include "provider_private.h"

struct open_vdisk
{
    IVdsOpenVDisk IVdsOpenVDisk_iface;
    LONG refcount;
    IVdsVDisk *vdisk;
    VIRTUAL_DISK_ACCESS_MASK access;
    ULONG rw_depth;
    struct vdsshim_image *img;      /* NULL once DetachAndDelete removed the file */
};

/* The answer to starting an operation while another one runs. */
static HRESULT busy_error(enum busy_op running, enum busy_op wanted)
{
    switch (running)
    {
    case BUSY_COMPACTING: return wanted == BUSY_COMPACTING ? VDS_E_VD_ALREADY_COMPACTING : VDS_E_VD_DISK_IS_COMPACTING;
    case BUSY_MERGING: return wanted == BUSY_MERGING ? VDS_E_VD_ALREADY_MERGING : VDS_E_VD_DISK_IS_MERGING;
    case BUSY_EXPANDING: return wanted == BUSY_EXPANDING ? VDS_E_VD_DISK_ALREADY_EXPANDING : VDS_E_VD_DISK_IS_EXPANDING;
    case BUSY_NONE: break;
    }
    return S_OK;
}

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
        struct vdisk_state s;

        vdsshim_close(o->img);                  /* releasing the handle closes the file */
        vdisk_get_state(o->vdisk, &s);
        s.open = FALSE;
        s.attached = ATTACH_NONE;
        s.have_info = FALSE;
        vdisk_set_state(o->vdisk, &s);
        IVdsVDisk_Release(o->vdisk);
        free(o);
        provider_unref();
    }
    return ref;
}

/* Attach completes at once: nothing is surfaced, only the state changes. */
static HRESULT done_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    (void)job;
    (void)progress;
    (void)ctx;
    return S_OK;
}

static void done_destroy(struct async_job *job)
{
    free(job);
}

static HRESULT WINAPI open_vdisk_Attach(IVdsOpenVDisk *iface, LPWSTR sd, ATTACH_VIRTUAL_DISK_FLAG flags,
                                        ULONG provider_flags, ULONG timeout, IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    BOOL read_only = !!(flags & ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY);
    struct async_job *job;
    struct vdisk_state s;
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
    vdisk_get_state(o->vdisk, &s);
    if (s.busy) return VDS_E_VDISK_INVALID_OP_STATE;
    if (s.attached) return VDS_E_VD_ALREADY_ATTACHED;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->run = done_run;
    job->destroy = done_destroy;
    if (FAILED(hr = async_create(VDS_ASYNCOUT_ATTACH_VDISK, job, async)))
    {
        free(job);
        return hr;
    }
    s.attached = read_only ? ATTACH_RO : ATTACH_RW;
    vdisk_set_state(o->vdisk, &s);
    return S_OK;
}

static HRESULT WINAPI open_vdisk_Detach(IVdsOpenVDisk *iface, DETACH_VIRTUAL_DISK_FLAG flags, ULONG provider_flags)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct vdisk_state s;

    TRACE("iface %p, flags %#x, provider_flags %#lx.\n", iface, flags, provider_flags);
    if (flags || provider_flags) return E_INVALIDARG;   /* only DETACH_VIRTUAL_DISK_FLAG_NONE exists */
    if (!o->img) return VDS_E_OBJECT_DELETED;
    vdisk_get_state(o->vdisk, &s);
    if (s.busy) return VDS_E_VDISK_INVALID_OP_STATE;
    if (!s.attached) return VDS_E_VD_ALREADY_DETACHED;
    s.attached = ATTACH_NONE;
    vdisk_set_state(o->vdisk, &s);
    return S_OK;
}

/* Detach if attached, close the file, delete it. The handle stays, but can
 * do nothing more; the VDisk reports VDS_VST_DELETED. */
static HRESULT WINAPI open_vdisk_DetachAndDelete(IVdsOpenVDisk *iface, DETACH_VIRTUAL_DISK_FLAG flags,
                                                 ULONG provider_flags)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdisk_state s;
    char *path;
    int st;

    TRACE("iface %p, flags %#x, provider_flags %#lx.\n", iface, flags, provider_flags);
    if (flags || provider_flags) return E_INVALIDARG;
    if (!o->img) return VDS_E_OBJECT_DELETED;
    if (!(o->access & (VIRTUAL_DISK_ACCESS_METAOPS | VIRTUAL_DISK_ACCESS_DETACH))) return E_ACCESSDENIED;
    vdisk_get_state(o->vdisk, &s);
    if (s.busy) return VDS_E_VDISK_INVALID_OP_STATE;
    if (!(path = utf8_from_wide(vdisk_path(o->vdisk)))) return E_OUTOFMEMORY;
    /* Our own handle is the one that holds the file open and locked. */
    vdsshim_close(o->img);
    o->img = NULL;
    st = vdsshim_delete_file(path);
    free(path);
    s.attached = ATTACH_NONE;
    s.have_info = FALSE;
    if (st)
    {
        /* The handle is closed either way: the file stays, but is no longer ours. */
        WARN("cannot delete %s: %s\n", debugstr_w(vdisk_path(o->vdisk)), vdsshim_strerror(st));
        s.open = FALSE;
        vdisk_set_state(o->vdisk, &s);
        return hr_from_status(st, &diag);
    }
    s.deleted = TRUE;
    vdisk_set_state(o->vdisk, &s);
    return S_OK;
}

struct compact_job
{
    struct async_job job;
    struct open_vdisk *open;
    BOOL fs_aware;              /* the disk was attached read-only when Compact was called */
};

static HRESULT compact_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct compact_job *cj = CONTAINING_RECORD(job, struct compact_job, job);
    struct open_vdisk *o = cj->open;
    struct vdsshim_compact_options opts = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_result res;
    struct vdisk_state s;
    int st;

    opts.progress = progress;
    opts.progress_ctx = ctx;
    /* Attached read-only is Windows' file-system-aware mode (§5.5): also the
     * space the guest's file systems mark free goes. */
    opts.flags = cj->fs_aware ? VDSSHIM_COMPACT_FS_AWARE : 0;
    st = vdsshim_compact(o->img, &opts, &res, &diag);
    if (st) WARN("compaction: %s: %s\n", vdsshim_status_name(st), diag.msg);
    else
    {
        char line[256];
        unsigned i;

        TRACE("compaction: %llu -> %llu bytes\n", (unsigned long long)res.size_before,
              (unsigned long long)res.size_after);
        /* VDS has no channel for it: the per-volume report goes to the debug log. */
        for (i = 0; i < res.fs_report_count; i++)
        {
            vdsshim_fs_report_text(&res.fs_reports[i], line, sizeof(line));
            TRACE("%s\n", line);
        }
    }
    vdisk_get_state(o->vdisk, &s);
    s.busy = BUSY_NONE;
    vdsshim_get_info(o->img, &s.info);
    vdisk_set_state(o->vdisk, &s);
    return hr_from_status(st, &diag);
}

static void compact_finish(struct async_job *job)
{
    struct compact_job *cj = CONTAINING_RECORD(job, struct compact_job, job);

    IVdsOpenVDisk_Release(&cj->open->IVdsOpenVDisk_iface);
    cj->open = NULL;
}

static void compact_destroy(struct async_job *job)
{
    struct compact_job *cj = CONTAINING_RECORD(job, struct compact_job, job);

    if (cj->open) compact_finish(job);  /* the job never ran */
    free(cj);
}

static HRESULT WINAPI open_vdisk_Compact(IVdsOpenVDisk *iface, COMPACT_VIRTUAL_DISK_FLAG flags, ULONG reserved,
                                         IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct compact_job *job;
    struct vdisk_state s;
    HRESULT hr;

    TRACE("iface %p, flags %#x, reserved %#lx, async %p.\n", iface, flags, reserved, async);
    if (flags != COMPACT_VIRTUAL_DISK_FLAG_NONE) return E_INVALIDARG;  /* the only value (§3.7) */
    if (!async) return E_POINTER;
    *async = NULL;                                                      /* Reserved is ignored (§5.1) */
    if (!o->img) return VDS_E_OBJECT_DELETED;
    if (!(o->access & VIRTUAL_DISK_ACCESS_METAOPS)) return E_ACCESSDENIED;
    vdisk_get_state(o->vdisk, &s);
    if (s.busy) return busy_error(s.busy, BUSY_COMPACTING);
    if (s.attached == ATTACH_RW) return VDS_E_VD_NOT_ATTACHED_READONLY;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->job.run = compact_run;
    job->job.destroy = compact_destroy;
    job->job.finish = compact_finish;
    job->open = o;
    job->fs_aware = s.attached == ATTACH_RO;
    IVdsOpenVDisk_AddRef(iface);        /* the job keeps the handle, and the file, alive */
    s.busy = BUSY_COMPACTING;
    vdisk_set_state(o->vdisk, &s);
    if (FAILED(hr = async_create(VDS_ASYNCOUT_COMPACT_VDISK, &job->job, async)))
    {
        s.busy = BUSY_NONE;
        vdisk_set_state(o->vdisk, &s);
        compact_destroy(&job->job);
    }
    return hr;
}

/* Merge and Expand: an engine call on the job's worker, like Compact. */
struct image_job
{
    struct async_job job;
    struct open_vdisk *open;
    ULONG depth;
    ULONGLONG size;
};

static void image_job_done(struct open_vdisk *o)
{
    struct vdisk_state s;

    vdisk_get_state(o->vdisk, &s);
    s.busy = BUSY_NONE;
    vdsshim_get_info(o->img, &s.info);
    vdisk_set_state(o->vdisk, &s);
}

static HRESULT merge_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct image_job *ij = CONTAINING_RECORD(job, struct image_job, job);
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_merge_result res;
    int st;

    opts.progress = progress;
    opts.progress_ctx = ctx;
    st = vdsshim_merge(ij->open->img, ij->depth, &opts, &res, &diag);
    if (st) WARN("merge: %s: %s\n", vdsshim_status_name(st), diag.msg);
    else TRACE("merge: %llu bytes into parent %lu\n", (unsigned long long)res.bytes_merged, ij->depth);
    image_job_done(ij->open);
    return hr_from_status(st, &diag);
}

static HRESULT expand_run(struct async_job *job, int (*progress)(void *, unsigned), void *ctx)
{
    struct image_job *ij = CONTAINING_RECORD(job, struct image_job, job);
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    int st;

    opts.progress = progress;
    opts.progress_ctx = ctx;
    st = vdsshim_expand(ij->open->img, ij->size, &opts, &diag);
    if (st) WARN("expand: %s: %s\n", vdsshim_status_name(st), diag.msg);
    image_job_done(ij->open);
    return hr_from_status(st, &diag);
}

static void image_job_finish(struct async_job *job)
{
    struct image_job *ij = CONTAINING_RECORD(job, struct image_job, job);

    IVdsOpenVDisk_Release(&ij->open->IVdsOpenVDisk_iface);
    ij->open = NULL;
}

static void image_job_destroy(struct async_job *job)
{
    struct image_job *ij = CONTAINING_RECORD(job, struct image_job, job);

    if (ij->open) image_job_finish(job);    /* the job never ran */
    free(ij);
}

/* The checks Merge and Expand share, then the job. */
static HRESULT start_image_job(struct open_vdisk *o, enum busy_op op, ULONG depth, ULONGLONG size, IVdsAsync **async)
{
    struct image_job *job;
    struct vdisk_state s;
    HRESULT hr;

    if (!o->img) return VDS_E_OBJECT_DELETED;
    if (!(o->access & VIRTUAL_DISK_ACCESS_METAOPS)) return E_ACCESSDENIED;
    vdisk_get_state(o->vdisk, &s);
    if (s.busy) return busy_error(s.busy, op);
    if (s.attached) return VDS_E_VD_IS_ATTACHED;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->job.run = op == BUSY_MERGING ? merge_run : expand_run;
    job->job.destroy = image_job_destroy;
    job->job.finish = image_job_finish;
    job->open = o;
    job->depth = depth;
    job->size = size;
    IVdsOpenVDisk_AddRef(&o->IVdsOpenVDisk_iface);
    s.busy = op;
    vdisk_set_state(o->vdisk, &s);
    if (FAILED(hr = async_create(op == BUSY_MERGING ? VDS_ASYNCOUT_MERGE_VDISK : VDS_ASYNCOUT_EXPAND_VDISK,
                                 &job->job, async)))
    {
        s.busy = BUSY_NONE;
        vdisk_set_state(o->vdisk, &s);
        image_job_destroy(&job->job);
    }
    return hr;
}

static HRESULT WINAPI open_vdisk_Merge(IVdsOpenVDisk *iface, MERGE_VIRTUAL_DISK_FLAG flags, ULONG depth,
                                       IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);

    TRACE("iface %p, flags %#x, depth %lu, async %p.\n", iface, flags, depth, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags || !depth) return E_INVALIDARG;
    /* The target, MergeDepth files above the child, must be open read-write. */
    if (o->img && o->rw_depth < depth + 1) return E_INVALIDARG;
    return start_image_job(o, BUSY_MERGING, depth, 0, async);
}

static HRESULT WINAPI open_vdisk_Expand(IVdsOpenVDisk *iface, EXPAND_VIRTUAL_DISK_FLAG flags, ULONGLONG size,
                                        IVdsAsync **async)
{
    struct open_vdisk *o = impl_from_IVdsOpenVDisk(iface);
    struct vdsshim_info info;

    TRACE("iface %p, flags %#x, size %llu, async %p.\n", iface, flags, (unsigned long long)size, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags) return E_INVALIDARG;
    if (o->img && (vdsshim_get_info(o->img, &info), size < info.virtual_size)) return E_INVALIDARG;
    return start_image_job(o, BUSY_EXPANDING, 0, size, async);
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
    struct open_vdisk *o;
    struct vdisk_state s;
    unsigned open_flags = 0;
    char *path;
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
    st = vdsshim_open(path, open_flags, &o->img, &diag);
    free(path);
    if (st)
    {
        WARN("%s: %s\n", debugstr_w(vdisk_path(vdisk)), diag.msg);
        free(o);
        return hr_from_status(st, &diag);
    }
    o->IVdsOpenVDisk_iface.lpVtbl = &open_vdisk_vtbl;
    o->refcount = 1;
    o->access = access;
    o->rw_depth = rw_depth;
    o->vdisk = vdisk;
    IVdsVDisk_AddRef(vdisk);
    vdisk_get_state(vdisk, &s);
    s.open = TRUE;
    s.have_info = TRUE;
    vdsshim_get_info(o->img, &s.info);
    vdisk_set_state(vdisk, &s);
    provider_ref();
    *out = &o->IVdsOpenVDisk_iface;
    return S_OK;
}
