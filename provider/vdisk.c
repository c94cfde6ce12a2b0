/*
 * IVdsVDisk: a virtual disk file the provider knows, and its state. The
 * state is one shared record per file (struct vdisk, in the provider's
 * list), so every client sees the same VDisk: one client's attach is the
 * other's ATTACHED_NOT_OPEN. Each client holds it through its own COM
 * object (struct vdisk_object), the same one while it lives, so that a
 * client's death can disconnect what it held and nothing else (client.c).
 */
#include <stdlib.h>
#include <stdio.h>

#include "provider_private.h"

struct vdisk
{
    LONG refcount;              /* the provider's list, and one per object */
    VDS_OBJECT_ID id;
    VIRTUAL_STORAGE_TYPE type;
    WCHAR *path;
    CRITICAL_SECTION cs;
    /* Orders the service's own opens of the file: GetProperties' short look
     * and a handle's open would otherwise collide (the file's sharing). */
    CRITICAL_SECTION file_cs;
    struct vdisk_state state;
};

struct vdisk_object
{
    IVdsVDisk IVdsVDisk_iface;
    LONG refcount;
    struct client_link link;
    struct vdisk *v;
};

static struct vdisk_object *object_from_IVdsVDisk(IVdsVDisk *iface)
{
    return CONTAINING_RECORD(iface, struct vdisk_object, IVdsVDisk_iface);
}

static struct vdisk *impl_from_IVdsVDisk(IVdsVDisk *iface)
{
    return object_from_IVdsVDisk(iface)->v;
}

struct client *vdisk_client(IVdsVDisk *iface)
{
    return object_from_IVdsVDisk(iface)->link.client;
}

const WCHAR *vdisk_record_path(const struct vdisk *v)
{
    return v->path;
}

BOOL vdisk_record_type_agrees(const struct vdisk *v, const VIRTUAL_STORAGE_TYPE *type)
{
    BOOL agrees;

    if (type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN) return TRUE;
    if (v->type.DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN) return v->type.DeviceId == type->DeviceId;
    EnterCriticalSection((CRITICAL_SECTION *)&v->cs);
    agrees = !v->state.have_info || vdisk_type_matches(type, v->state.info.format);
    LeaveCriticalSection((CRITICAL_SECTION *)&v->cs);
    return agrees;
}

const WCHAR *vdisk_path(IVdsVDisk *iface)
{
    return impl_from_IVdsVDisk(iface)->path;
}

const VIRTUAL_STORAGE_TYPE *vdisk_type(IVdsVDisk *iface)
{
    return &impl_from_IVdsVDisk(iface)->type;
}

void vdisk_file_lock(IVdsVDisk *iface, BOOL lock)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    if (lock) EnterCriticalSection(&v->file_cs);
    else LeaveCriticalSection(&v->file_cs);
}

void vdisk_snapshot(IVdsVDisk *iface, struct vdisk_state *state)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    *state = v->state;
    LeaveCriticalSection(&v->cs);
}

/* The answer to a call while an operation runs (MS-VDS §2.2.3's texts): the
 * same operation again is "already", anything else "the disk is ...". */
static HRESULT busy_error(enum busy_op running, enum busy_op wanted)
{
    switch (running)
    {
    case BUSY_COMPACTING: return wanted == BUSY_COMPACTING ? VDS_E_VD_ALREADY_COMPACTING : VDS_E_VD_DISK_IS_COMPACTING;
    case BUSY_MERGING: return wanted == BUSY_MERGING ? VDS_E_VD_ALREADY_MERGING : VDS_E_VD_DISK_IS_MERGING;
    case BUSY_EXPANDING: return wanted == BUSY_EXPANDING ? VDS_E_VD_DISK_ALREADY_EXPANDING : VDS_E_VD_DISK_IS_EXPANDING;
    case BUSY_DELETING: return VDS_E_OBJECT_DELETED;     /* DetachAndDelete is closing the file */
    case BUSY_NONE: break;
    }
    return S_OK;
}

/* What every call on a handle checks first, under the lock. */
static HRESULT handle_check(const struct vdisk *v, struct vdsshim_image *const *img, enum busy_op wanted)
{
    if (v->state.deleted || !*img) return VDS_E_OBJECT_DELETED;
    return busy_error(v->state.busy, wanted);
}

/* Handles that only look or detach (GET_INFO, DETACH) share the VDisk;
 * any other access wants it alone. MS-VDS §2.2.2.19.1.4: an attach handle
 * opens only if every other handle is limited to DETACH or GET_INFO, and
 * METAOPS holds the file exclusively [V]; the refusal is §2.2.3's
 * VDS_E_VD_DISK_ALREADY_OPEN, "cannot be opened a second time" [V]. That a
 * look-only handle cannot join an exclusive one is the file's sharing [U]. */
static BOOL is_shared_access(VIRTUAL_DISK_ACCESS_MASK access)
{
    return !(access & ~(VIRTUAL_DISK_ACCESS_GET_INFO | VIRTUAL_DISK_ACCESS_DETACH));
}

HRESULT vdisk_open_begin(IVdsVDisk *iface, VIRTUAL_DISK_ACCESS_MASK access)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    BOOL shared = is_shared_access(access);
    HRESULT hr = S_OK;

    EnterCriticalSection(&v->cs);
    if (v->state.deleted) hr = VDS_E_OBJECT_DELETED;
    else if (v->state.handles && (!shared || v->state.exclusive)) hr = VDS_E_VD_DISK_ALREADY_OPEN;
    else
    {
        v->state.handles++;                                 /* reserved until open_end */
        v->state.exclusive = !shared;
    }
    LeaveCriticalSection(&v->cs);
    return hr;
}

/* One handle fewer; the last one takes the handle-held state with it. */
static void handle_gone(struct vdisk *v)
{
    if (--v->state.handles) return;
    v->state.exclusive = FALSE;
    v->state.have_info = FALSE;
}

void vdisk_open_end(IVdsVDisk *iface, const struct vdsshim_info *info)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    if (!info) handle_gone(v);
    else
    {
        v->state.have_info = TRUE;
        v->state.info = *info;
    }
    LeaveCriticalSection(&v->cs);
}

void vdisk_close(IVdsVDisk *iface)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    handle_gone(v);
    LeaveCriticalSection(&v->cs);
}

HRESULT vdisk_attach(IVdsVDisk *iface, struct vdsshim_image *const *img, enum attach_state how)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    HRESULT hr;

    EnterCriticalSection(&v->cs);
    if (SUCCEEDED(hr = handle_check(v, img, BUSY_NONE)))
    {
        if (v->state.attached) hr = VDS_E_VD_ALREADY_ATTACHED;
        else v->state.attached = how;
    }
    LeaveCriticalSection(&v->cs);
    if (SUCCEEDED(hr)) vd_provider_hold(TRUE);
    return hr;
}

HRESULT vdisk_detach(IVdsVDisk *iface, struct vdsshim_image *const *img)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    HRESULT hr;

    EnterCriticalSection(&v->cs);
    if (SUCCEEDED(hr = handle_check(v, img, BUSY_NONE)))
    {
        if (!v->state.attached) hr = VDS_E_VD_ALREADY_DETACHED;
        else v->state.attached = ATTACH_NONE;
    }
    LeaveCriticalSection(&v->cs);
    if (SUCCEEDED(hr)) vd_provider_hold(FALSE);
    return hr;
}

/*
 * The state each operation needs ([U] choices in open_vdisk.c's table):
 *   Compact          detached or attached read-only (the SDK's Compact page)
 *   Merge, Expand    detached (<147>)
 *   DetachAndDelete  attached: its first step, the detach, fails otherwise (§3.4.5.2.41.3)
 */
static HRESULT op_rules(const struct vdisk *v, struct vdsshim_image *const *img, enum busy_op op)
{
    HRESULT hr = handle_check(v, img, op);

    if (FAILED(hr)) return hr;
    if (op == BUSY_COMPACTING && v->state.attached == ATTACH_RW) return VDS_E_VD_NOT_ATTACHED_READONLY;
    if ((op == BUSY_MERGING || op == BUSY_EXPANDING) && v->state.attached) return VDS_E_VD_IS_ATTACHED;
    if (op == BUSY_DELETING && !v->state.attached) return VDS_E_VD_ALREADY_DETACHED;
    return S_OK;
}

HRESULT vdisk_op_begin(IVdsVDisk *iface, struct vdsshim_image *const *img, enum busy_op op, enum attach_state *attached)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    HRESULT hr;

    EnterCriticalSection(&v->cs);
    if (attached) *attached = v->state.attached;
    if (SUCCEEDED(hr = op_rules(v, img, op))) v->state.busy = op;
    LeaveCriticalSection(&v->cs);
    return hr;
}

HRESULT vdisk_op_check(IVdsVDisk *iface, struct vdsshim_image *const *img, enum busy_op op)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    HRESULT hr;

    EnterCriticalSection(&v->cs);
    hr = op_rules(v, img, op);
    LeaveCriticalSection(&v->cs);
    return hr;
}

int vdisk_peek(const char *path, struct vdsshim_info *info, struct vdsshim_diag *diag)
{
    struct vdsshim_image *img;
    int st;

    if ((st = vdsshim_open(path, VDSSHIM_OPEN_NO_PARENTS, &img, diag))) return st;
    vdsshim_get_info(img, info);
    vdsshim_close(img);
    return VDSSHIM_OK;
}

BOOL vdisk_type_matches(const VIRTUAL_STORAGE_TYPE *type, enum vdsshim_format format)
{
    switch (type->DeviceId)
    {
    case VIRTUAL_STORAGE_TYPE_DEVICE_VHD: return format == VDSSHIM_FORMAT_VHD;
    case VIRTUAL_STORAGE_TYPE_DEVICE_VHDX: return format == VDSSHIM_FORMAT_VHDX;
    }
    return TRUE;    /* UNKNOWN: whatever the file is */
}

void vdisk_op_end(IVdsVDisk *iface, const struct vdsshim_info *info)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    v->state.busy = BUSY_NONE;
    if (info) v->state.info = *info;
    LeaveCriticalSection(&v->cs);
}

void vdisk_delete_end(IVdsVDisk *iface, struct vdsshim_image **img, BOOL deleted)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    BOOL was_attached;

    EnterCriticalSection(&v->cs);
    *img = NULL;
    was_attached = v->state.attached != ATTACH_NONE;
    v->state.busy = BUSY_NONE;
    v->state.attached = ATTACH_NONE;
    handle_gone(v);                 /* the handle lets go of the file either way */
    v->state.have_info = FALSE;
    v->state.deleted = deleted;
    LeaveCriticalSection(&v->cs);
    if (was_attached) vd_provider_hold(FALSE);
}

static VDS_VDISK_STATE state_value(const struct vdisk_state *s)
{
    if (s->deleted) return VDS_VST_DELETED;
    if (s->busy == BUSY_COMPACTING) return VDS_VST_COMPACTING;
    if (s->busy == BUSY_MERGING) return VDS_VST_MERGING;
    if (s->busy == BUSY_EXPANDING) return VDS_VST_EXPANDING;
    if (s->attached) return s->handles ? VDS_VST_ATTACHED : VDS_VST_ATTACHED_NOT_OPEN;
    return s->handles ? VDS_VST_OPEN : VDS_VST_ADDED;
}

static HRESULT WINAPI vdisk_QueryInterface(IVdsVDisk *iface, REFIID riid, void **out)
{
    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsVDisk))
    {
        *out = iface;
        IVdsVDisk_AddRef(iface);
        return S_OK;
    }
    WARN("no interface %s.\n", debugstr_guid(riid));
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI vdisk_AddRef(IVdsVDisk *iface)
{
    return InterlockedIncrement(&object_from_IVdsVDisk(iface)->refcount);
}

static ULONG WINAPI vdisk_Release(IVdsVDisk *iface)
{
    struct vdisk_object *o = object_from_IVdsVDisk(iface);
    ULONG ref = InterlockedDecrement(&o->refcount);

    if (!ref)
    {
        client_untrack(&o->link);
        vdisk_record_release(o->v);
        vd_provider_hold(FALSE);
        free(o);
        provider_unref();
    }
    return ref;
}

static HRESULT WINAPI vdisk_Open(IVdsVDisk *iface, VIRTUAL_DISK_ACCESS_MASK access, OPEN_VIRTUAL_DISK_FLAG flags,
                                 ULONG rw_depth, IVdsOpenVDisk **out)
{
    TRACE("iface %p, access %#x, flags %#x, rw_depth %lu, out %p.\n", iface, access, flags, rw_depth, out);
    if (!out) return E_POINTER;
    *out = NULL;
    /* OpenVirtualDisk's own checks (§5.3); BOOT_DRIVE "MUST not be used" by VDS. */
    if (access & ~VIRTUAL_DISK_ACCESS_ALL) return E_INVALIDARG;
    if (flags & ~(OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS | OPEN_VIRTUAL_DISK_FLAG_BLANK_FILE)) return E_INVALIDARG;
    return open_vdisk_create(iface, access, flags, rw_depth, out);
}

/* The name GetDeviceName and GetProperties give while the disk is attached:
 * logical attach surfaces no Win32 device, so a stable name made from the
 * VDisk's id stands for it, and AddVDisk takes it back to the VDisk
 * (vd_provider.c) [U: vds-reference.md §5.4 has the real device's name;
 * CreateFile on this one fails with ERROR_FILE_NOT_FOUND]. */
static void format_device_name(const struct vdisk *v, WCHAR name[64])
{
    swprintf(name, 64, L"\\\\?\\VdsshimVDisk{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
             (unsigned long)v->id.Data1, v->id.Data2, v->id.Data3, v->id.Data4[0], v->id.Data4[1], v->id.Data4[2],
             v->id.Data4[3], v->id.Data4[4], v->id.Data4[5], v->id.Data4[6], v->id.Data4[7]);
}

static WCHAR *device_name(const struct vdisk *v)
{
    WCHAR *name = CoTaskMemAlloc(64 * sizeof(WCHAR));

    if (name) format_device_name(v, name);
    return name;
}

BOOL vdisk_record_is_device(struct vdisk *v, const WCHAR *name)
{
    enum attach_state attached;
    WCHAR mine[64];

    EnterCriticalSection(&v->cs);
    attached = v->state.attached;
    LeaveCriticalSection(&v->cs);
    if (!attached) return FALSE;
    format_device_name(v, mine);
    return !_wcsicmp(mine, name);
}

static HRESULT WINAPI vdisk_GetProperties(IVdsVDisk *iface, VDS_VDISK_PROPERTIES *props)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    struct vdisk_state state;
    struct vdsshim_info info;
    WCHAR *parent = NULL;

    TRACE("iface %p, props %p.\n", iface, props);
    if (!props) return E_POINTER;
    EnterCriticalSection(&v->file_cs);
    vdisk_snapshot(iface, &state);
    if (state.have_info)
        info = state.info;
    else if (state.deleted)
        memset(&info, 0, sizeof(info));     /* the file is gone: identity and state only */
    else
    {
        /* Not open: a short read-only look, parents not needed for sizes. */
        struct vdsshim_diag diag = { .msg = { 0 } };
        char *path = utf8_from_wide(v->path);
        int st;

        if (!path)
        {
            LeaveCriticalSection(&v->file_cs);
            return E_OUTOFMEMORY;
        }
        st = vdisk_peek(path, &info, &diag);
        free(path);
        if (st)
        {
            LeaveCriticalSection(&v->file_cs);
            return hr_from_status(st, &diag);
        }
    }
    LeaveCriticalSection(&v->file_cs);
    memset(props, 0, sizeof(*props));
    props->Id = v->id;
    props->State = state_value(&state);
    props->VirtualDeviceType = v->type;
    if (props->VirtualDeviceType.DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN)
    {
        props->VirtualDeviceType.DeviceId = info.format == VDSSHIM_FORMAT_VHDX ? VIRTUAL_STORAGE_TYPE_DEVICE_VHDX
                                                                            : VIRTUAL_STORAGE_TYPE_DEVICE_VHD;
        props->VirtualDeviceType.VendorId = VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT;
    }
    props->VirtualSize = info.virtual_size;
    props->PhysicalSize = info.file_size;
    props->DiskFlag = info.type == VDSSHIM_DISK_FIXED ? DEPENDENT_DISK_FLAG_FULLY_ALLOCATED : DEPENDENT_DISK_FLAG_NONE;
    props->bIsChild = info.has_parent;
    if (!(props->pPath = co_strdupW(v->path))) return E_OUTOFMEMORY;
    if (state.attached && !(props->pDeviceName = device_name(v)))
    {
        CoTaskMemFree(props->pPath);
        props->pPath = NULL;
        return E_OUTOFMEMORY;
    }
    if (info.has_parent && info.parent_path[0])
    {
        int n = MultiByteToWideChar(CP_UTF8, 0, info.parent_path, -1, NULL, 0);
        if (n > 0 && (parent = CoTaskMemAlloc((size_t)n * sizeof(WCHAR))))
            MultiByteToWideChar(CP_UTF8, 0, info.parent_path, -1, parent, n);
        if (!parent)
        {
            CoTaskMemFree(props->pPath);
            CoTaskMemFree(props->pDeviceName);
            props->pPath = props->pDeviceName = NULL;
            return E_OUTOFMEMORY;
        }
    }
    props->pParentPath = parent;
    return S_OK;
}

static HRESULT WINAPI vdisk_GetHostVolume(IVdsVDisk *iface, IVdsVolume **volume)
{
    TRACE("iface %p, volume %p.\n", iface, volume);
    if (!volume) return E_POINTER;
    *volume = NULL;
    return VDS_E_OBJECT_NOT_FOUND;     /* Windows does not implement it either (<139>) */
}

static HRESULT WINAPI vdisk_GetDeviceName(IVdsVDisk *iface, LPWSTR *name)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    struct vdisk_state state;

    TRACE("iface %p, name %p.\n", iface, name);
    if (!name) return E_POINTER;
    /* Not attached: NULL, and success (§5.4). Attached: the device's name. */
    vdisk_snapshot(iface, &state);
    if (!state.attached)
    {
        *name = NULL;
        return S_OK;
    }
    return (*name = device_name(v)) ? S_OK : E_OUTOFMEMORY;
}

static const IVdsVDiskVtbl vdisk_vtbl =
{
    /* IUnknown methods */
    vdisk_QueryInterface,
    vdisk_AddRef,
    vdisk_Release,
    /* IVdsVDisk methods */
    vdisk_Open,
    vdisk_GetProperties,
    vdisk_GetHostVolume,
    vdisk_GetDeviceName,
};

struct vdisk *vdisk_record_create(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path)
{
    struct vdisk *v;

    if (!(v = calloc(1, sizeof(*v))) || !(v->path = _wcsdup(path)))
    {
        free(v);
        return NULL;
    }
    v->refcount = 1;
    v->type = *type;
    CoCreateGuid(&v->id);
    named_cs_init(&v->cs, __FILE__ ": vdisk.cs");
    named_cs_init(&v->file_cs, __FILE__ ": vdisk.file_cs");
    provider_ref();
    return v;
}

void vdisk_record_release(struct vdisk *v)
{
    if (InterlockedDecrement(&v->refcount)) return;
    named_cs_delete(&v->file_cs);
    named_cs_delete(&v->cs);
    free(v->path);
    free(v);
    provider_unref();
}

HRESULT vdisk_object(struct client *client, struct vdisk *v, IVdsVDisk **out)
{
    struct vdisk_object *o;
    IUnknown *mine;

    if ((mine = client_lookup(client, v)))
    {
        *out = (IVdsVDisk *)mine;
        return S_OK;
    }
    *out = NULL;
    if (!(o = calloc(1, sizeof(*o)))) return E_OUTOFMEMORY;
    o->IVdsVDisk_iface.lpVtbl = &vdisk_vtbl;
    o->refcount = 1;
    o->v = v;
    InterlockedIncrement(&v->refcount);
    vd_provider_hold(TRUE);     /* from a provider method: it lives */
    client_track(client, &o->link, (IUnknown *)&o->IVdsVDisk_iface, &o->refcount, v);
    provider_ref();
    *out = &o->IVdsVDisk_iface;
    return S_OK;
}
