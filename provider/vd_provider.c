/*
 * IVdsProvider and IVdsVdProvider: the virtual-disk provider. It caches the
 * VDisks it knows: adding the same path twice returns the same VDisk (§5.4,
 * AddVDisk). There is one provider per process, shared by every client and
 * every service object LoadService makes, as one vds.exe serves every
 * client on Windows; each client holds it through its own COM object (its
 * "view", client.c), the same one every time it asks. While any of its
 * disks is attached the provider keeps itself alive, so an attachment
 * outlives the handles and clients that made it (MS-VDS §2.2.2.19.1.1:
 * ATTACHED_NOT_OPEN until Detach).
 */
#include <stdlib.h>

#include "provider_private.h"

/* Fixed identities of this provider (its VDS_OBJECT_ID and version GUID). */
static const GUID provider_id = { 0x5d3a1c0e, 0x7b2f, 0x4c61, { 0x9a, 0x3e, 0x61, 0x76, 0x64, 0x73, 0x73, 0x68 } };
static const GUID provider_version = { 0x5d3a1c0e, 0x7b2f, 0x4c61, { 0x9a, 0x3e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 } };

/* The shared provider: one per process. */
struct vd_provider
{
    LONG refcount;              /* one per view of it or of a VDisk, one per attachment */
    CRITICAL_SECTION cs;
    struct vdisk **vdisks;
    ULONG count, capacity;
};

/* A client's COM object for the provider. */
struct provider_view
{
    IVdsProvider IVdsProvider_iface;
    IVdsVdProvider IVdsVdProvider_iface;
    LONG refcount;
    struct client_link link;
    struct vd_provider *p;
};

/* The process's provider, if one lives; the lock orders its end against a new LoadService. */
static struct vd_provider *the_provider;
static SRWLOCK the_provider_lock = SRWLOCK_INIT;

static struct provider_view *impl_from_IVdsProvider(IVdsProvider *iface)
{
    return CONTAINING_RECORD(iface, struct provider_view, IVdsProvider_iface);
}

static struct provider_view *impl_from_IVdsVdProvider(IVdsVdProvider *iface)
{
    return CONTAINING_RECORD(iface, struct provider_view, IVdsVdProvider_iface);
}

static void shared_provider_release(struct vd_provider *p)
{
    ULONG ref, i;

    AcquireSRWLockExclusive(&the_provider_lock);
    if (!(ref = InterlockedDecrement(&p->refcount))) the_provider = NULL;
    ReleaseSRWLockExclusive(&the_provider_lock);
    if (ref) return;
    for (i = 0; i < p->count; i++) vdisk_record_release(p->vdisks[i]);
    free(p->vdisks);
    named_cs_delete(&p->cs);
    free(p);
    provider_unref();
}

/* The process's provider, made if there is none, with a reference. */
static struct vd_provider *shared_provider(void)
{
    struct vd_provider *p;

    AcquireSRWLockExclusive(&the_provider_lock);
    if ((p = the_provider)) InterlockedIncrement(&p->refcount);
    else if ((p = calloc(1, sizeof(*p))))
    {
        p->refcount = 1;
        named_cs_init(&p->cs, __FILE__ ": vd_provider.cs");
        provider_ref();
        the_provider = p;
    }
    ReleaseSRWLockExclusive(&the_provider_lock);
    return p;
}

struct client *vd_provider_client(IVdsVdProvider *iface)
{
    return impl_from_IVdsVdProvider(iface)->link.client;
}

static HRESULT WINAPI provider_QueryInterface(IVdsProvider *iface, REFIID riid, void **out)
{
    struct provider_view *p = impl_from_IVdsProvider(iface);

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
    struct provider_view *view = impl_from_IVdsProvider(iface);
    ULONG ref = InterlockedDecrement(&view->refcount);

    if (!ref)
    {
        client_untrack(&view->link);
        shared_provider_release(view->p);
        free(view);
        provider_unref();
    }
    return ref;
}

void vd_provider_hold(BOOL hold)
{
    struct vd_provider *p;

    /* Only a VDisk holds the provider, and it got it from a live one. */
    AcquireSRWLockShared(&the_provider_lock);
    p = the_provider;
    ReleaseSRWLockShared(&the_provider_lock);
    if (!p) return;
    if (hold) InterlockedIncrement(&p->refcount);
    else shared_provider_release(p);
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
    struct provider_view *view = impl_from_IVdsVdProvider(iface);
    struct vd_provider *p = view->p;
    IUnknown **objects;
    HRESULT hr = S_OK;
    ULONG i, n = 0;

    TRACE("iface %p, out %p.\n", iface, out);
    if (!out) return E_POINTER;
    *out = NULL;
    EnterCriticalSection(&p->cs);
    if (!(objects = calloc(p->count ? p->count : 1, sizeof(*objects)))) hr = E_OUTOFMEMORY;
    /* The caller's own objects for the shared VDisks. */
    for (i = 0; SUCCEEDED(hr) && i < p->count; i++)
        if (SUCCEEDED(hr = vdisk_object(view->link.client, p->vdisks[i], (IVdsVDisk **)&objects[n]))) n++;
    LeaveCriticalSection(&p->cs);
    if (SUCCEEDED(hr)) hr = enum_create(view->link.client, objects, n, out);
    for (i = 0; i < n; i++) IUnknown_Release(objects[i]);
    free(objects);
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

/*
 * AddVDisk names the type "of virtual hard disk to open" (SDK, MS-VDS
 * §3.4.5.2.17.3). A file of the other format is refused rather than
 * reported as what it is not: ERROR_VHD_FORMAT_UNKNOWN, as
 * virtdisk-reference.md §2.1 suggests for a signature that does not match
 * [U]. A file that cannot be read now (missing, in use) is added as today:
 * Open reports its state, and checks the type again. Only a file the
 * provider does not know yet is looked at: a known one may be open, by
 * another client too, and a look would collide with that open (the file's
 * sharing); its type is the one it was added with.
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

HRESULT vd_provider_vdisk(IVdsVdProvider *iface, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path,
                          IVdsVDisk **out)
{
    struct provider_view *view = impl_from_IVdsVdProvider(iface);
    struct vd_provider *p = view->p;
    struct vdisk *v;
    HRESULT hr = S_OK;
    ULONG i;

    *out = NULL;
    EnterCriticalSection(&p->cs);
    for (i = 0; i < p->count; i++)
        if (!_wcsicmp(vdisk_record_path(p->vdisks[i]), path))
        {
            if (!vdisk_record_type_agrees(p->vdisks[i], type)) hr = VDSSHIM_ERROR_VHD_FORMAT_UNKNOWN;
            else hr = vdisk_object(view->link.client, p->vdisks[i], out);
            goto done;
        }
    /* New: a look at the file, under the lock, so no client opens it meanwhile. */
    if (FAILED(hr = check_type(type, path))) goto done;
    if (p->count == p->capacity)
    {
        ULONG cap = p->capacity ? p->capacity * 2 : 4;
        struct vdisk **more = realloc(p->vdisks, cap * sizeof(*more));
        if (!more)
        {
            hr = E_OUTOFMEMORY;
            goto done;
        }
        p->vdisks = more;
        p->capacity = cap;
    }
    if (!(v = vdisk_record_create(type, path))) hr = E_OUTOFMEMORY;
    else if (SUCCEEDED(hr = vdisk_object(view->link.client, v, out))) p->vdisks[p->count++] = v;
    else vdisk_record_release(v);
done:
    LeaveCriticalSection(&p->cs);
    return hr;
}

/* AddVDisk given what GetDeviceName returned: the attached VDisk of that
 * name, or VDS_E_OBJECT_NOT_FOUND (no such device, or detached since) [U]. */
static HRESULT find_device(IVdsVdProvider *iface, const WCHAR *name, IVdsVDisk **out)
{
    struct provider_view *view = impl_from_IVdsVdProvider(iface);
    struct vd_provider *p = view->p;
    HRESULT hr = VDS_E_OBJECT_NOT_FOUND;
    ULONG i;

    EnterCriticalSection(&p->cs);
    for (i = 0; i < p->count; i++)
        if (vdisk_record_is_device(p->vdisks[i], name))
        {
            hr = vdisk_object(view->link.client, p->vdisks[i], out);
            break;
        }
    LeaveCriticalSection(&p->cs);
    return hr;
}

static HRESULT WINAPI vdprov_AddVDisk(IVdsVdProvider *iface, VIRTUAL_STORAGE_TYPE *type, LPWSTR path,
                                      IVdsVDisk **out)
{
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

HRESULT vd_provider_create(struct client *client, IVdsVdProvider **out)
{
    struct provider_view *view;
    struct vd_provider *p;
    IUnknown *mine;

    *out = NULL;
    /* The client's view, if it holds one: one identity per client. */
    if ((mine = client_lookup(client, &the_provider)))
    {
        *out = &impl_from_IVdsProvider((IVdsProvider *)mine)->IVdsVdProvider_iface;
        return S_OK;
    }
    if (!(view = calloc(1, sizeof(*view)))) return E_OUTOFMEMORY;
    if (!(view->p = p = shared_provider()))
    {
        free(view);
        return E_OUTOFMEMORY;
    }
    view->IVdsProvider_iface.lpVtbl = &provider_vtbl;
    view->IVdsVdProvider_iface.lpVtbl = &vdprov_vtbl;
    view->refcount = 1;
    client_track(client, &view->link, (IUnknown *)&view->IVdsProvider_iface, &view->refcount, &the_provider);
    provider_ref();
    *out = &view->IVdsVdProvider_iface;
    return S_OK;
}
