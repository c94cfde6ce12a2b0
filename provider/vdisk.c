/* IVdsVDisk: a virtual disk file the provider knows, and its state. */
#include <stdlib.h>

#include "provider_private.h"

struct vdisk
{
    IVdsVDisk IVdsVDisk_iface;
    LONG refcount;
    VDS_OBJECT_ID id;
    VIRTUAL_STORAGE_TYPE type;
    WCHAR *path;
    CRITICAL_SECTION cs;
    struct vdisk_state state;
};

static struct vdisk *impl_from_IVdsVDisk(IVdsVDisk *iface)
{
    return CONTAINING_RECORD(iface, struct vdisk, IVdsVDisk_iface);
}

const WCHAR *vdisk_path(IVdsVDisk *iface)
{
    return impl_from_IVdsVDisk(iface)->path;
}

void vdisk_get_state(IVdsVDisk *iface, struct vdisk_state *state)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    *state = v->state;
    LeaveCriticalSection(&v->cs);
}

void vdisk_set_state(IVdsVDisk *iface, const struct vdisk_state *state)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);

    EnterCriticalSection(&v->cs);
    v->state = *state;
    LeaveCriticalSection(&v->cs);
}

static VDS_VDISK_STATE state_value(const struct vdisk_state *s)
{
    if (s->deleted) return VDS_VST_DELETED;
    if (s->busy == BUSY_COMPACTING) return VDS_VST_COMPACTING;
    if (s->busy == BUSY_MERGING) return VDS_VST_MERGING;
    if (s->busy == BUSY_EXPANDING) return VDS_VST_EXPANDING;
    if (s->attached) return s->open ? VDS_VST_ATTACHED : VDS_VST_ATTACHED_NOT_OPEN;
    return s->open ? VDS_VST_OPEN : VDS_VST_ADDED;
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
    return InterlockedIncrement(&impl_from_IVdsVDisk(iface)->refcount);
}

static ULONG WINAPI vdisk_Release(IVdsVDisk *iface)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    ULONG ref = InterlockedDecrement(&v->refcount);

    if (!ref)
    {
        DeleteCriticalSection(&v->cs);
        free(v->path);
        free(v);
        provider_unref();
    }
    return ref;
}

static HRESULT WINAPI vdisk_Open(IVdsVDisk *iface, VIRTUAL_DISK_ACCESS_MASK access, OPEN_VIRTUAL_DISK_FLAG flags,
                                 ULONG rw_depth, IVdsOpenVDisk **out)
{
    struct vdisk_state state;

    TRACE("iface %p, access %#x, flags %#x, rw_depth %lu, out %p.\n", iface, access, flags, rw_depth, out);
    if (!out) return E_POINTER;
    *out = NULL;
    /* OpenVirtualDisk's own checks (§5.3); BOOT_DRIVE "MUST not be used" by VDS. */
    if (access & ~VIRTUAL_DISK_ACCESS_ALL) return E_INVALIDARG;
    if (flags & ~(OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS | OPEN_VIRTUAL_DISK_FLAG_BLANK_FILE)) return E_INVALIDARG;
    vdisk_get_state(iface, &state);
    if (state.open) return VDS_E_VD_DISK_ALREADY_OPEN;     /* [U] §5.3 */
    return open_vdisk_create(iface, access, flags, rw_depth, out);
}

static HRESULT WINAPI vdisk_GetProperties(IVdsVDisk *iface, VDS_VDISK_PROPERTIES *props)
{
    struct vdisk *v = impl_from_IVdsVDisk(iface);
    struct vdisk_state state;
    struct vdsshim_info info;
    WCHAR *parent = NULL;

    TRACE("iface %p, props %p.\n", iface, props);
    if (!props) return E_POINTER;
    vdisk_get_state(iface, &state);
    if (state.have_info)
        info = state.info;
    else if (state.deleted)
        memset(&info, 0, sizeof(info));     /* the file is gone: identity and state only */
    else
    {
        /* Not open: a short read-only look, parents not needed for sizes. */
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_image *img;
        char *path = utf8_from_wide(v->path);
        int st;

        if (!path) return E_OUTOFMEMORY;
        st = vdsshim_open(path, VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
        free(path);
        if (st) return hr_from_status(st, &diag);
        vdsshim_get_info(img, &info);
        vdsshim_close(img);
    }
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
    /* No block device is surfaced: pDeviceName stays NULL, as GetDeviceName says. */
    if (!(props->pPath = co_strdupW(v->path))) return E_OUTOFMEMORY;
    if (info.has_parent && info.parent_path[0])
    {
        int n = MultiByteToWideChar(CP_UTF8, 0, info.parent_path, -1, NULL, 0);
        if (n > 0 && (parent = CoTaskMemAlloc((size_t)n * sizeof(WCHAR))))
            MultiByteToWideChar(CP_UTF8, 0, info.parent_path, -1, parent, n);
        if (!parent)
        {
            CoTaskMemFree(props->pPath);
            props->pPath = NULL;
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
    TRACE("iface %p, name %p.\n", iface, name);
    if (!name) return E_POINTER;
    /* Not attached, or attached without a surfaced device: NULL, and success (§5.4). */
    *name = NULL;
    return S_OK;
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

HRESULT vdisk_create(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, IVdsVDisk **out)
{
    struct vdisk *v;

    *out = NULL;
    if (!(v = calloc(1, sizeof(*v))) || !(v->path = _wcsdup(path)))
    {
        free(v);
        return E_OUTOFMEMORY;
    }
    v->IVdsVDisk_iface.lpVtbl = &vdisk_vtbl;
    v->refcount = 1;
    v->type = *type;
    CoCreateGuid(&v->id);
    InitializeCriticalSection(&v->cs);
    provider_ref();
    *out = &v->IVdsVDisk_iface;
    return S_OK;
}
