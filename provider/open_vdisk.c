/*
 * IVdsOpenVDisk: an open handle on a VDisk. It holds the engine image (the
 * file open and locked, read-write when the access mask allows metadata
 * operations) and drives the VDisk's state machine: attach and detach are
 * logical, the shim surfaces no block device. Compact runs the engine on an
 * async worker: detached -> offline mode; attached read-only -> the
 * maximum-reclaim mode (offline until filesystem-aware mode lands).
 *
 * Codes where Windows' exact choice is unverified ([U], vds-reference.md §8):
 *   Compact without VIRTUAL_DISK_ACCESS_METAOPS       E_ACCESSDENIED
 *   Compact while attached read-write                 VDS_E_VD_NOT_ATTACHED_READONLY
 *   Compact while a compaction runs                   VDS_E_VD_ALREADY_COMPACTING
 *   Compact of a fixed disk (task result)             ERROR_VHD_INVALID_TYPE 0xC03A001B
 *   Attach/Detach while compacting                    VDS_E_VDISK_INVALID_OP_STATE
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
    struct vdsshim_image *img;
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
    if (!(o->access & (read_only ? VIRTUAL_DISK_ACCESS_ATTACH_RO | VIRTUAL_DISK_ACCESS_ATTACH_RW
                                 : VIRTUAL_DISK_ACCESS_ATTACH_RW)))
        return E_ACCESSDENIED;
    vdisk_get_state(o->vdisk, &s);
    if (s.compacting) return VDS_E_VDISK_INVALID_OP_STATE;
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
    vdisk_get_state(o->vdisk, &s);
    if (s.compacting) return VDS_E_VDISK_INVALID_OP_STATE;
    if (!s.attached) return VDS_E_VD_ALREADY_DETACHED;
    s.attached = ATTACH_NONE;
    vdisk_set_state(o->vdisk, &s);
    return S_OK;
}

/* Deleting, merging and expanding come with the Merge/Expand work: the
 * arguments are checked, and the answer until then is "not supported". */
static HRESULT WINAPI open_vdisk_DetachAndDelete(IVdsOpenVDisk *iface, DETACH_VIRTUAL_DISK_FLAG flags,
                                                 ULONG provider_flags)
{
    TRACE("iface %p, flags %#x, provider_flags %#lx.\n", iface, flags, provider_flags);
    if (flags || provider_flags) return E_INVALIDARG;
    return VDS_E_NOT_SUPPORTED;
}

struct compact_job
{
    struct async_job job;
    struct open_vdisk *open;
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
    st = vdsshim_compact(o->img, &opts, &res, &diag);
    if (st) WARN("compaction: %s: %s\n", vdsshim_status_name(st), diag.msg);
    else TRACE("compaction: %llu -> %llu bytes\n", (unsigned long long)res.size_before,
               (unsigned long long)res.size_after);
    vdisk_get_state(o->vdisk, &s);
    s.compacting = FALSE;
    vdsshim_get_info(o->img, &s.info);
    vdisk_set_state(o->vdisk, &s);
    return hr_from_status(st, &diag);
}

static void compact_destroy(struct async_job *job)
{
    struct compact_job *cj = CONTAINING_RECORD(job, struct compact_job, job);

    IVdsOpenVDisk_Release(&cj->open->IVdsOpenVDisk_iface);
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
    if (!(o->access & VIRTUAL_DISK_ACCESS_METAOPS)) return E_ACCESSDENIED;
    vdisk_get_state(o->vdisk, &s);
    if (s.compacting) return VDS_E_VD_ALREADY_COMPACTING;
    if (s.attached == ATTACH_RW) return VDS_E_VD_NOT_ATTACHED_READONLY;
    if (!(job = calloc(1, sizeof(*job)))) return E_OUTOFMEMORY;
    job->job.run = compact_run;
    job->job.destroy = compact_destroy;
    job->open = o;
    IVdsOpenVDisk_AddRef(iface);        /* the job keeps the handle, and the file, alive */
    s.compacting = TRUE;
    vdisk_set_state(o->vdisk, &s);
    if (FAILED(hr = async_create(VDS_ASYNCOUT_COMPACT_VDISK, &job->job, async)))
    {
        s.compacting = FALSE;
        vdisk_set_state(o->vdisk, &s);
        compact_destroy(&job->job);
    }
    return hr;
}

static HRESULT WINAPI open_vdisk_Merge(IVdsOpenVDisk *iface, MERGE_VIRTUAL_DISK_FLAG flags, ULONG depth,
                                       IVdsAsync **async)
{
    TRACE("iface %p, flags %#x, depth %lu, async %p.\n", iface, flags, depth, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags) return E_INVALIDARG;
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI open_vdisk_Expand(IVdsOpenVDisk *iface, EXPAND_VIRTUAL_DISK_FLAG flags, ULONGLONG size,
                                        IVdsAsync **async)
{
    TRACE("iface %p, flags %#x, size %llu, async %p.\n", iface, flags, (unsigned long long)size, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (flags) return E_INVALIDARG;
    return VDS_E_NOT_SUPPORTED;
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
