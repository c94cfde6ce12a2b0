/*
 * IVdsProvider and IVdsVdProvider: the virtual-disk provider. It caches the
 * VDisk objects it hands out: adding the same path twice returns the same
 * object (§5.4, AddVDisk). There is one provider per process, shared by
 * every service object LoadService makes, as one vds.exe serves every
 * client on Windows; while any of its disks is attached it keeps itself
 * alive, so an attachment outlives the handles and clients that made it
 * (MS-VDS §2.2.2.19.1.1: ATTACHED_NOT_OPEN until Detach).
 */
#include <stdlib.h>

#include "provider_private.h"

/* Fixed identities of this provider (its VDS_OBJECT_ID and version GUID). */
static const GUID provider_id = { 0x5d3a1c0e, 0x7b2f, 0x4c61, { 0x9a, 0x3e, 0x61, 0x76, 0x64, 0x73, 0x73, 0x68 } };
static const GUID provider_version = { 0x5d3a1c0e, 0x7b2f, 0x4c61, { 0x9a, 0x3e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 } };

struct vd_provider
{
    IVdsProvider IVdsProvider_iface;
    IVdsVdProvider IVdsVdProvider_iface;
    LONG refcount;
    CRITICAL_SECTION cs;
    IVdsVDisk **vdisks;
    ULONG count, capacity;
    LONG attached;              /* disks attached: one reference held while > 0 */
};

/* The process's provider, if one lives; the lock orders its end against a new LoadService. */
static struct vd_provider *the_provider;
static SRWLOCK the_provider_lock = SRWLOCK_INIT;

static struct vd_provider *impl_from_IVdsProvider(IVdsProvider *iface)
{
    return CONTAINING_RECORD(iface, struct vd_provider, IVdsProvider_iface);
}

static struct vd_provider *impl_from_IVdsVdProvider(IVdsVdProvider *iface)
{
    return CONTAINING_RECORD(iface, struct vd_provider, IVdsVdProvider_iface);
}

static HRESULT WINAPI provider_QueryInterface(IVdsProvider *iface, REFIID riid, void **out)
{
    struct vd_provider *p = impl_from_IVdsProvider(iface);

    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsProvider)) *out = &p->IVdsProvider_iface;
    else if (IsEqualGUID(riid, &IID_IVdsVdProvider)) *out = &p->IVdsVdProvider_iface;
    else
    {
        WARN("no interface %s.\n", debugstr_guid(riid));
        *out = NULL;
        return E_NOINTERFACE;
    }
    IUnknown_AddRef((IUnknown *)*out);
    return S_OK;
}

static ULONG WINAPI provider_AddRef(IVdsProvider *iface)
{
    return InterlockedIncrement(&impl_from_IVdsProvider(iface)->refcount);
}

static ULONG WINAPI provider_Release(IVdsProvider *iface)
{
    struct vd_provider *p = impl_from_IVdsProvider(iface);
    ULONG ref, i;

    AcquireSRWLockExclusive(&the_provider_lock);
    if (!(ref = InterlockedDecrement(&p->refcount))) the_provider = NULL;
    ReleaseSRWLockExclusive(&the_provider_lock);
    if (!ref)
    {
        for (i = 0; i < p->count; i++) IVdsVDisk_Release(p->vdisks[i]);
        free(p->vdisks);
        named_cs_delete(&p->cs);
        free(p);
        provider_unref();
    }
    return ref;
}

void vd_provider_attachment(BOOL attached)
{
    struct vd_provider *p;

    /* A VDisk lives only in its provider's list: the provider exists. */
    AcquireSRWLockShared(&the_provider_lock);
    p = the_provider;
    ReleaseSRWLockShared(&the_provider_lock);
    if (!p) return;
    if (attached)
    {
        if (InterlockedIncrement(&p->attached) == 1) provider_AddRef(&p->IVdsProvider_iface);
    }
    else if (!InterlockedDecrement(&p->attached))
        provider_Release(&p->IVdsProvider_iface);
}

static HRESULT WINAPI provider_GetProperties(IVdsProvider *iface, VDS_PROVIDER_PROP *prop)
{
    TRACE("iface %p, prop %p.\n", iface, prop);
    if (!prop) return E_POINTER;
    memset(prop, 0, sizeof(*prop));
    prop->id = provider_id;
    prop->guidVersionId = provider_version;
    prop->type = VDS_PT_VIRTUALDISK;
    prop->pwszName = co_strdupW(L"vdsshim Virtual Disk Provider");
    prop->pwszVersion = co_strdupW(L"1.0");     /* "major.minor" (§3.8) */
    if (!prop->pwszName || !prop->pwszVersion)
    {
        CoTaskMemFree(prop->pwszName);
        CoTaskMemFree(prop->pwszVersion);
        prop->pwszName = prop->pwszVersion = NULL;
        return E_OUTOFMEMORY;
    }
    return S_OK;
}

static const IVdsProviderVtbl provider_vtbl =
{
    /* IUnknown methods */
    provider_QueryInterface,
    provider_AddRef,
    provider_Release,
    /* IVdsProvider methods */
    provider_GetProperties,
};

static HRESULT WINAPI vdprov_QueryInterface(IVdsVdProvider *iface, REFIID riid, void **out)
{
    return provider_QueryInterface(&impl_from_IVdsVdProvider(iface)->IVdsProvider_iface, riid, out);
}

static ULONG WINAPI vdprov_AddRef(IVdsVdProvider *iface)
{
    return provider_AddRef(&impl_from_IVdsVdProvider(iface)->IVdsProvider_iface);
}

static ULONG WINAPI vdprov_Release(IVdsVdProvider *iface)
{
    return provider_Release(&impl_from_IVdsVdProvider(iface)->IVdsProvider_iface);
}

static HRESULT WINAPI vdprov_QueryVDisks(IVdsVdProvider *iface, IEnumVdsObject **out)
{
    struct vd_provider *p = impl_from_IVdsVdProvider(iface);
    HRESULT hr;

    TRACE("iface %p, out %p.\n", iface, out);
    if (!out) return E_POINTER;
    EnterCriticalSection(&p->cs);
    hr = enum_create((IUnknown **)p->vdisks, p->count, out);
    LeaveCriticalSection(&p->cs);
    return hr;
}

/* "C:\..." or "\\server\share\...": VDS wants fully qualified paths (§5.4). */
static BOOL is_fully_qualified(const WCHAR *p)
{
    return ((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z' && p[1] == ':' && p[2] == '\\')
        || (p[0] == '\\' && p[1] == '\\' && p[2] && p[2] != '\\');
}

static BOOL is_microsoft_type(const VIRTUAL_STORAGE_TYPE *type)
{
    return IsEqualGUID(&type->VendorId, &VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT);
}

/*
 * A NULL security descriptor means the caller's token is used (SDK
 * nf-vds-ivdsvdprovider-createvdisk.md, MS-VDS §3.4.5.2.17.2's parameter
 * text and its [unique] IDL; its validation list says "not NULL", which the
 * parameter text and the IDL contradict: the two agree, we follow them) [V].
 * An SD's content is not applied: Wine's files carry no ACLs.
 * [U] choices (vds-reference.md §5.4): the type must name VHD or VHDX
 * (UNKNOWN is for opening); ProviderSpecificFlags must be 0;
 * FULL_PHYSICAL_ALLOCATION makes a fixed disk and excludes a parent;
 * initialising from pSourcePath is VDS_E_NOT_SUPPORTED. An existing file:
 * create_vdisk.c.
 */
static HRESULT WINAPI vdprov_CreateVDisk(IVdsVdProvider *iface, VIRTUAL_STORAGE_TYPE *type, LPWSTR path,
                                         LPWSTR sd, CREATE_VIRTUAL_DISK_FLAG flags, ULONG provider_flags,
                                         ULONG reserved, VDS_CREATE_VDISK_PARAMETERS *params, IVdsAsync **async)
{
    BOOL fixed = !!(flags & CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION);

    TRACE("iface %p, type %p, path %s, sd %s, flags %#x, provider_flags %#lx, reserved %#lx, params %p, async %p.\n",
          iface, type, debugstr_w(path), debugstr_w(sd), flags, provider_flags, reserved, params, async);
    if (!async) return E_POINTER;
    *async = NULL;
    if (!type || !path || !params) return E_POINTER;
    if (!is_fully_qualified(path)) return VDS_E_VDISK_PATHNAME_INVALID;
    if ((type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHD && type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)
        || !is_microsoft_type(type))
        return E_INVALIDARG;
    if ((flags & ~CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION) || provider_flags) return E_INVALIDARG;
    if (fixed && params->pParentPath) return E_INVALIDARG;
    if (params->pParentPath && !is_fully_qualified(params->pParentPath)) return VDS_E_VDISK_PATHNAME_INVALID;
    if (params->pSourcePath) return VDS_E_NOT_SUPPORTED;
    return create_vdisk_start(iface, type, path, fixed, params, async);
}

HRESULT vd_provider_vdisk(IVdsVdProvider *iface, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path,
                          IVdsVDisk **out)
{
    struct vd_provider *p = impl_from_IVdsVdProvider(iface);
    HRESULT hr = S_OK;
    ULONG i;

    *out = NULL;
    EnterCriticalSection(&p->cs);
    for (i = 0; i < p->count; i++)
        if (!_wcsicmp(vdisk_path(p->vdisks[i]), path))
        {
            *out = p->vdisks[i];
            IVdsVDisk_AddRef(*out);
            goto done;
        }
    if (p->count == p->capacity)
    {
        ULONG cap = p->capacity ? p->capacity * 2 : 4;
        IVdsVDisk **v = realloc(p->vdisks, cap * sizeof(*v));
        if (!v)
        {
            hr = E_OUTOFMEMORY;
            goto done;
        }
        p->vdisks = v;
        p->capacity = cap;
    }
    if (SUCCEEDED(hr = vdisk_create(type, path, &p->vdisks[p->count])))
    {
        *out = p->vdisks[p->count];
        IVdsVDisk_AddRef(*out);
        p->count++;
    }
done:
    LeaveCriticalSection(&p->cs);
    return hr;
}

/*
 * AddVDisk names the type "of virtual hard disk to open" (SDK, MS-VDS
 * §3.4.5.2.17.3). A file of the other format is refused rather than
 * reported as what it is not: ERROR_VHD_FORMAT_UNKNOWN, as
 * virtdisk-reference.md §2.1 suggests for a signature that does not match
 * [U]. A file that cannot be read now (missing, in use) is added as today:
 * Open reports its state, and checks the type again.
 */
static HRESULT check_type(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    char *utf8;
    int st;

    if (type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN) return S_OK;
    if (!(utf8 = utf8_from_wide(path))) return E_OUTOFMEMORY;
    st = vdisk_peek(utf8, &info, &diag);
    free(utf8);
    if (st) return S_OK;
    return vdisk_type_matches(type, info.format) ? S_OK : VDSSHIM_ERROR_VHD_FORMAT_UNKNOWN;
}

/* AddVDisk given what GetDeviceName returned: the attached VDisk of that
 * name, or VDS_E_OBJECT_NOT_FOUND (no such device, or detached since) [U]. */
static HRESULT find_device(IVdsVdProvider *iface, const WCHAR *name, IVdsVDisk **out)
{
    struct vd_provider *p = impl_from_IVdsVdProvider(iface);
    ULONG i;

    EnterCriticalSection(&p->cs);
    for (i = 0; i < p->count && !*out; i++)
        if (vdisk_is_device(p->vdisks[i], name))
        {
            *out = p->vdisks[i];
            IVdsVDisk_AddRef(*out);
        }
    LeaveCriticalSection(&p->cs);
    return *out ? S_OK : VDS_E_OBJECT_NOT_FOUND;
}

static HRESULT WINAPI vdprov_AddVDisk(IVdsVdProvider *iface, VIRTUAL_STORAGE_TYPE *type, LPWSTR path,
                                      IVdsVDisk **out)
{
    HRESULT hr;

    TRACE("iface %p, type %p, path %s, out %p.\n", iface, type, debugstr_w(path), out);
    if (!type || !path || !out) return E_POINTER;
    *out = NULL;
    if (!is_fully_qualified(path)) return VDS_E_VDISK_PATHNAME_INVALID;
    if (type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN && type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHD
        && type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)
        return E_INVALIDARG;
    if (type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN && !is_microsoft_type(type))
        return E_INVALIDARG;
    /* The device name an attached VDisk reports names that VDisk (vdisk.c). */
    if (!_wcsnicmp(path, VDISK_DEVICE_PREFIX, wcslen(VDISK_DEVICE_PREFIX))) return find_device(iface, path, out);
    if (FAILED(hr = check_type(type, path))) return hr;
    return vd_provider_vdisk(iface, type, path, out);
}

/* The shim surfaces no host disks: nothing to map either way (§5.4). */
static HRESULT WINAPI vdprov_GetDiskFromVDisk(IVdsVdProvider *iface, IVdsVDisk *vdisk, IVdsDisk **disk)
{
    TRACE("iface %p, vdisk %p, disk %p.\n", iface, vdisk, disk);
    if (!vdisk || !disk) return E_POINTER;
    *disk = NULL;
    return VDS_E_OBJECT_NOT_FOUND;
}

static HRESULT WINAPI vdprov_GetVDiskFromDisk(IVdsVdProvider *iface, IVdsDisk *disk, IVdsVDisk **vdisk)
{
    TRACE("iface %p, disk %p, vdisk %p.\n", iface, disk, vdisk);
    if (!disk || !vdisk) return E_POINTER;
    *vdisk = NULL;
    return VDS_E_OBJECT_NOT_FOUND;
}

static const IVdsVdProviderVtbl vdprov_vtbl =
{
    /* IUnknown methods */
    vdprov_QueryInterface,
    vdprov_AddRef,
    vdprov_Release,
    /* IVdsVdProvider methods */
    vdprov_QueryVDisks,
    vdprov_CreateVDisk,
    vdprov_AddVDisk,
    vdprov_GetDiskFromVDisk,
    vdprov_GetVDiskFromDisk,
};

HRESULT vd_provider_create(IVdsVdProvider **out)
{
    struct vd_provider *p;
    HRESULT hr = S_OK;

    *out = NULL;
    AcquireSRWLockExclusive(&the_provider_lock);
    if ((p = the_provider)) InterlockedIncrement(&p->refcount);
    else if ((p = calloc(1, sizeof(*p))))
    {
        p->IVdsProvider_iface.lpVtbl = &provider_vtbl;
        p->IVdsVdProvider_iface.lpVtbl = &vdprov_vtbl;
        p->refcount = 1;
        named_cs_init(&p->cs, __FILE__ ": vd_provider.cs");
        provider_ref();
        the_provider = p;
    }
    else hr = E_OUTOFMEMORY;
    ReleaseSRWLockExclusive(&the_provider_lock);
    if (p) *out = &p->IVdsVdProvider_iface;
    return hr;
}
